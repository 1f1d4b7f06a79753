"""Writers of the prediction sinks (MongoDB, Cassandra) and their schemas, keyed by UUID.

Every write is keyed by UUID, so replaying a micro-batch after a crash duplicates nothing:
Cassandra upserts the row, MongoDB keeps the record it has (its unique UUID index refuses the
second insert). The partition writers run where Spark runs them (executors); their clients are
cached per Python worker, which Spark reuses across batches.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable

CQL_FILE = Path(__file__).resolve().parents[1] / "sql" / "flight_delay_ml_response.cql"
DEFAULT_KEYSPACE = "agile_data_science"

_clients: dict[tuple, Any] = {}

# Client timeouts: a sink that stops answering fails the micro-batch (the stream application ends
# and its Airflow owner resubmits it) instead of blocking the store query indefinitely.
MONGO_TIMEOUT_MS = 60_000
CASSANDRA_TIMEOUT_S = 30.0


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


def write_mongo(records: list[dict[str, Any]], uri: str, database: str, collection: str) -> int:
    """Insert each record unless its UUID is stored already; returns how many were new.

    One unordered insert_many: the unique UUID index refuses the records stored before (the
    store query's micro-batch replayed after a restart, or a UUID a client sent twice), and the
    stored record stays: it is the first answer, the one the page showed. No update path: a
    replayed batch replaced record by record costs a filtered write per record (on FerretDB with
    SQLite storage each one scanned the collection, 5-8 s at 200k documents), while a refused
    insert costs nothing.
    """
    if not records:
        return 0
    from pymongo.errors import BulkWriteError

    target = _mongo(uri)[database][collection]
    try:
        return len(target.insert_many([dict(r) for r in records], ordered=False).inserted_ids)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != 11000 for e in errors):
            raise
        return exc.details.get("nInserted", len(records) - len(errors))


def write_cassandra(records: list[dict[str, Any]], host: str, port: int, keyspace: str,
                    rows_per_batch: int = 50) -> int:
    """Upserts by UUID in UNLOGGED batches: grouped only to save round trips (not atomic, which
    upserts by UUID do not need)."""
    if not records:
        return 0
    from cassandra.concurrent import execute_concurrent
    from cassandra.query import BatchStatement, BatchType

    session, insert = _cassandra(host, port, keyspace)
    rows = [cassandra_row(record) for record in records]
    batches = []
    for i in range(0, len(rows), rows_per_batch):
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for values in rows[i:i + rows_per_batch]:
            batch.add(insert, values)
        batches.append((batch, ()))
    for ok, result in execute_concurrent(session, batches, concurrency=8, raise_on_first_error=False):
        if not ok:
            raise result
    return len(records)


def write_partition(values: Iterable, mongo: dict[str, str] | None = None,
                    cassandra: dict[str, Any] | None = None, chunk: int = 1000) -> None:
    """foreachPartition body: JSON predictions (rows with a `value` string) -> MongoDB and/or Cassandra."""
    batch: list[dict[str, Any]] = []
    for row in values:
        batch.append(json.loads(row.value))
        if len(batch) >= chunk:
            _write(batch, mongo, cassandra)
            batch = []
    _write(batch, mongo, cassandra)


def _write(batch: list[dict[str, Any]], mongo: dict[str, str] | None, cassandra: dict[str, Any] | None) -> None:
    if mongo:
        write_mongo(batch, **mongo)
    if cassandra:
        write_cassandra(batch, **cassandra)
