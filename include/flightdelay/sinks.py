"""Writers of the prediction sinks (MongoDB, Cassandra) and their schemas, keyed by UUID, so a
replayed batch duplicates nothing. A record a sink refuses goes to the dead-letter topic (stage
"store") and the batch goes on; a sink that is down is retried for SINK_RETRY_S, then the batch
fails and the stream's owner restarts it from its checkpoint (docs/design-notes.md).
"""
from __future__ import annotations

import json
import logging
import re
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from flightdelay import contract

log = logging.getLogger(__name__)

CQL_FILE = Path(__file__).resolve().parents[1] / "sql" / "flight_delay_ml_response.cql"
DEFAULT_KEYSPACE = "agile_data_science"

_clients: dict[tuple, Any] = {}

# Client timeouts: a sink that stops answering fails the micro-batch (the stream application ends
# and its Airflow owner resubmits it) instead of blocking the store query indefinitely.
MONGO_TIMEOUT_MS = 60_000
CASSANDRA_TIMEOUT_S = 30.0
SINK_RETRY_S = 120.0  # how long a sink that is down is retried before the batch fails
# Rows per Cassandra batch: each row of a batch waits for its commit log group (10 ms) in turn, so
# a batch of 20 takes 0.3 s alone and 0.5-0.8 s with 128 in flight (bench_cassandra.py), inside
# the server's 2 s write timeout; 50 rows cost little less CPU and would come close to it.
CASSANDRA_BATCH_ROWS = 20


def cql_statements(text: str, keyspace: str = DEFAULT_KEYSPACE) -> list[str]:
    """The statements of a CQL file (comments dropped), with the keyspace name replaced."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,47}", keyspace):
        raise ValueError(f"not a Cassandra keyspace name: {keyspace!r}")
    body = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    body = re.sub(rf"\b{DEFAULT_KEYSPACE}\b", keyspace, body)
    return [" ".join(part.split()) for part in body.split(";") if part.strip()]


def apply_cassandra_schema(session, keyspace: str = DEFAULT_KEYSPACE) -> list[str]:
    statements = cql_statements(CQL_FILE.read_text(), keyspace)
    for statement in statements:
        session.execute(statement, timeout=60)
    return statements


def ensure_mongo_index(collection) -> str:
    """The unique UUID index every upsert relies on."""
    return collection.create_index("UUID", unique=True, name="UUID_unique")


def _timestamp(value: str | None) -> datetime | None:
    return None if not value else datetime.fromisoformat(value.replace("Z", "+00:00"))


def refusal(record: Any) -> str | None:
    """Why a record read from the response topic is not a prediction the sinks store (None: it
    is one). Respond writes the contract's normal form; anything else on the topic is refused."""
    if not isinstance(record, dict):
        return "is not a JSON object"
    if record.get("UUID") is None or contract.canonical_uuid(record["UUID"]) != record["UUID"]:
        return "UUID is not a UUID in canonical form"
    for field in ("ReceivedAt", "PredictedAt"):
        if record.get(field) is None or contract.canonical_timestamp(record[field]) != record[field]:
            return f"{field} is not a timestamp in the contract's form"
    try:
        cassandra_row(record)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"not a prediction record ({type(exc).__name__}: {str(exc)[:200]})"
    return None


def cassandra_row(p: dict[str, Any]) -> tuple:
    """A prediction record -> the values of INSERT_CQL, in its column order."""
    return (p["UUID"], p["Origin"], p["Dest"], p["Carrier"], date.fromisoformat(p["FlightDate"]),
            p.get("FlightNum"), p.get("CRSDepTime"), float(p["DepDelay"]), p.get("Distance"),
            int(p["Prediction"]), p["PredictionLabel"], [float(x) for x in p["Probabilities"]],
            p["ModelName"], str(p["ModelVersion"]), _timestamp(p.get("ReceivedAt")), _timestamp(p["PredictedAt"]))


# The columns of cassandra_row, in its order.
COLUMNS = ["uuid", "origin", "dest", "carrier", "flight_date", "flight_num", "crs_dep_time", "dep_delay", "distance",
           "prediction", "prediction_label", "probabilities", "model_name", "model_version", "received_at",
           "predicted_at"]
INSERT_CQL = (f"INSERT INTO {{ks}}.flight_delay_ml_response ({', '.join(COLUMNS)}) "
              f"VALUES ({', '.join('?' * len(COLUMNS))})")


def _mongo(uri: str):
    key = ("mongo", uri)
    if key not in _clients:
        from pymongo import MongoClient

        _clients[key] = MongoClient(uri, serverSelectionTimeoutMS=10000, connectTimeoutMS=10000,
                                    socketTimeoutMS=MONGO_TIMEOUT_MS)
    return _clients[key]


def _cassandra(host: str, port: int, keyspace: str):
    key = ("cassandra", host, port, keyspace)
    if key not in _clients:
        from cassandra.cluster import Cluster

        session = Cluster([host], port=port, connect_timeout=15).connect()
        session.default_timeout = CASSANDRA_TIMEOUT_S
        _clients[key] = (session, session.prepare(INSERT_CQL.format(ks=keyspace)))
    return _clients[key]


def write_mongo(records: list[dict[str, Any]], uri: str, database: str, collection: str,
                refused: list | None = None) -> int:
    """Insert each record unless its UUID is stored already; returns how many were new.

    One unordered insert_many: the unique UUID index refuses records stored before (a replayed
    batch, a UUID sent twice), so the first answer, the one the page showed, stays; a refused
    insert costs nothing where an update path would cost a filtered write per record. A record
    refused for another reason fails the call, or is appended to `refused` as (record, error)."""
    if not records:
        return 0
    from pymongo.errors import BulkWriteError

    target = _mongo(uri)[database][collection]
    try:
        return len(target.insert_many([dict(r) for r in records], ordered=False).inserted_ids)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        others = [e for e in errors if e.get("code") != 11000]
        if others and refused is None:
            raise
        for error in others:
            refused.append((records[error["index"]],
                            f"MongoDB error {error.get('code')}: {error.get('errmsg', '')[:300]}"))
        return exc.details.get("nInserted", len(records) - len(errors))


def write_cassandra(records: list[dict[str, Any]], host: str, port: int, keyspace: str,
                    concurrency: int = 128, refused: list | None = None, batch_rows: int = CASSANDRA_BATCH_ROWS) -> int:
    """Upserts by UUID in UNLOGGED batches of `batch_rows`, `concurrency` in flight. Cassandra
    applies a batch's rows one after another, each acknowledged once its commit log group is on
    disk (commitlog_sync group), so the rate comes from many batches in flight, and a batch costs
    both ends less than its rows one by one (docs/benchmarks.md, 2026-12-06). A batch refused as
    invalid is written again row by row: only the refused row fails the call, or, given a
    `refused` list, is appended to it."""
    if not records:
        return 0
    from cassandra.query import BatchStatement, BatchType

    session, insert = _cassandra(host, port, keyspace)
    chunks = [records[i:i + batch_rows] for i in range(0, len(records), batch_rows)]
    batches = []
    for chunk in chunks:
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for record in chunk:
            batch.add(insert, cassandra_row(record))
        batches.append(batch)
    stored = 0
    for chunk, (ok, result) in zip(chunks, _execute_all(session, [(b, ()) for b in batches], concurrency)):
        stored += len(chunk) if ok else _rows_one_by_one(session, insert, chunk, concurrency, result, refused)
    return stored


def _execute_all(session, statements: list[tuple], concurrency: int) -> list[tuple[bool, Any]]:
    from cassandra.concurrent import execute_concurrent

    return execute_concurrent(session, statements, concurrency=concurrency, raise_on_first_error=False)


def _rows_one_by_one(session, insert, records: list[dict[str, Any]], concurrency: int, failure: Exception,
                     refused: list | None) -> int:
    """The rows of a failed batch, one statement each: the refused ones are found (InvalidRequest)
    and the others stored. Any other failure of the batch is raised (with_retry retries a sink that
    is down)."""
    from cassandra import InvalidRequest

    if not isinstance(failure, InvalidRequest):
        raise failure
    stored = len(records)
    for record, (ok, result) in zip(records, _execute_all(session, [(insert, cassandra_row(r)) for r in records],
                                                          concurrency)):
        if ok:
            continue
        if not isinstance(result, InvalidRequest) or refused is None:
            raise result
        refused.append((record, f"Cassandra refused: {str(result)[:300]}"))
        stored -= 1
    return stored


def sink_is_down(exc: BaseException) -> bool:
    """A sink that cannot be reached or does not answer (retry), as opposed to a refused record."""
    from cassandra import OperationTimedOut, Unavailable, WriteTimeout
    from cassandra.cluster import NoHostAvailable
    from pymongo.errors import ConnectionFailure

    return isinstance(exc, (ConnectionFailure, NoHostAvailable, OperationTimedOut, Unavailable, WriteTimeout,
                            ConnectionError, TimeoutError))


def with_retry(write: Callable[[], Any], sink: str, budget_s: float = SINK_RETRY_S) -> Any:
    """`write()`, retried with backoff while the sink is down, for `budget_s`; then it raises."""
    deadline, pause = time.monotonic() + budget_s, 1.0
    while True:
        try:
            return write()
        except Exception as exc:
            if not sink_is_down(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning("%s is down (%s: %s); retrying in %.0f s", sink, type(exc).__name__, str(exc)[:200], pause)
            time.sleep(pause)
            pause = min(pause * 2, 15.0)


def _dead_letter_producer(bootstrap: str):
    key = ("kafka", bootstrap)
    if key not in _clients:
        from confluent_kafka import Producer

        _clients[key] = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True})
    return _clients[key]


def store_dead_letter(row, record: Any, sinks: str, error: str) -> dict[str, Any]:
    """The dead letter of a record the store stage refuses: contract.dead_letter's record (reason
    "<sinks>: <error>", the bounded original, its source) + the sink, the error and the UUID."""
    letter = contract.dead_letter((row.value or "").encode("utf-8", "replace"), contract.InvalidRequest({sinks: error}),
                                  getattr(row, "topic", None), getattr(row, "partition", None),
                                  getattr(row, "offset", None), stage="store")
    return {**letter, "sink": sinks, "error": error, "UUID": record.get("UUID") if isinstance(record, dict) else None}


def write_partition(values: Iterable, mongo: dict[str, str] | None = None,
                    cassandra: dict[str, Any] | None = None, dead_letters: dict[str, str] | None = None,
                    chunk: int = 1000) -> dict[str, int]:
    """foreachPartition body: JSON predictions (rows with `value`, and `topic`, `partition`,
    `offset`) -> MongoDB and/or Cassandra. Refused records go to dead_letters["topic"] (stage
    store); returns the counts stored and refused."""
    counts = {"stored": 0, "refused": 0}
    letters: list[dict[str, Any]] = []
    batch: list[tuple[Any, dict[str, Any]]] = []
    for row in values:
        try:
            record = json.loads(row.value)
            why = refusal(record)
        except (TypeError, ValueError) as exc:
            record, why = None, f"is not JSON ({type(exc).__name__})"
        if why:
            letters.append(store_dead_letter(row, record, "mongodb, cassandra, hdfs", why))
        else:  # the contract's fields only: nothing foreign reaches a sink
            batch.append((row, {field: record.get(field) for field in contract.PREDICTION_FIELDS}))
        if len(batch) >= chunk:
            _write(batch, mongo, cassandra, letters, counts)
            batch = []
    _write(batch, mongo, cassandra, letters, counts)
    counts["refused"] = len(letters)
    if letters:
        if dead_letters is None:
            raise ValueError(f"{len(letters)} records refused: {letters[0]['reason']}")
        producer = _dead_letter_producer(dead_letters["bootstrap"])
        for letter in letters:
            producer.produce(dead_letters["topic"], key=letter["UUID"], value=json.dumps(letter))
        if producer.flush(60):
            raise RuntimeError("dead letters of the store stage not acknowledged by Kafka within 60 s")
        log.warning("store: %s records refused, sent to %s (first: %s)", len(letters), dead_letters["topic"],
                    letters[0]["reason"])
    return counts


def _write(batch: list[tuple[Any, dict[str, Any]]], mongo: dict[str, str] | None, cassandra: dict[str, Any] | None,
           letters: list[dict[str, Any]], counts: dict[str, int]) -> None:
    if not batch:
        return
    rows = {id(record): row for row, record in batch}
    records = [record for _, record in batch]
    for sink, options, write in (("mongodb", mongo, write_mongo), ("cassandra", cassandra, write_cassandra)):
        if not options:
            continue
        refused: list = []

        def attempt(write=write, options=options, refused=refused):
            refused.clear()  # a retried write reports its refusals again
            return write(records, **options, refused=refused)

        with_retry(attempt, sink)
        letters += [store_dead_letter(rows[id(record)], record, sink, error) for record, error in refused]
    counts["stored"] += len(records)
