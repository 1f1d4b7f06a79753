"""Writers of the prediction sinks (MongoDB, Cassandra) and their schemas, keyed by UUID.

Every write is an upsert of the whole record under its UUID, so replaying a micro-batch after a
crash rewrites the same rows and duplicates nothing. The partition writers run where Spark runs
them (executors); their clients are cached per Python worker, which Spark reuses across batches.
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


INSERT_CQL = ("INSERT INTO {ks}.flight_delay_ml_response (uuid, origin, dest, carrier, flight_date, flight_num, "
              "crs_dep_time, dep_delay, distance, prediction, prediction_label, probabilities, model_name, "
              "model_version, received_at, predicted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
INSERT_BY_DATE_CQL = ("INSERT INTO {ks}.flight_delay_ml_response_by_flight_date (flight_date, uuid, origin, dest, "
                      "carrier, dep_delay, prediction, model_version, predicted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _mongo(uri: str):
    key = ("mongo", uri)
    if key not in _clients:
        from pymongo import MongoClient

        _clients[key] = MongoClient(uri, serverSelectionTimeoutMS=10000)
    return _clients[key]


def _cassandra(host: str, port: int, keyspace: str):
    key = ("cassandra", host, port, keyspace)
    if key not in _clients:
        from cassandra.cluster import Cluster

        session = Cluster([host], port=port, connect_timeout=15).connect()
        _clients[key] = (session, session.prepare(INSERT_CQL.format(ks=keyspace)),
                         session.prepare(INSERT_BY_DATE_CQL.format(ks=keyspace)))
    return _clients[key]


def write_mongo(records: list[dict[str, Any]], uri: str, database: str, collection: str) -> int:
    """Upsert each record by UUID; returns how many were written.

    New UUIDs go in with one unordered insert_many (fast); those the unique index refuses were
    stored before (a replayed batch) and are replaced one by one with the same record. One
    ReplaceOne(upsert) per record would be the textbook form, but FerretDB on SQLite takes
    ~40 ms per upsert against ~0.1 ms per inserted document.
    """
    if not records:
        return 0
    from pymongo.errors import BulkWriteError

    target = _mongo(uri)[database][collection]
    try:
        target.insert_many([dict(r) for r in records], ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        other = [e for e in errors if e.get("code") != 11000]
        if other:
            raise
        for error in errors:
            record = records[error["index"]]
            target.replace_one({"UUID": record["UUID"]}, dict(record), upsert=True)
    return len(records)


def write_cassandra(records: list[dict[str, Any]], host: str, port: int, keyspace: str) -> int:
    if not records:
        return 0
    from cassandra.concurrent import execute_concurrent

    session, insert, insert_by_date = _cassandra(host, port, keyspace)
    statements = []
    for record in records:
        row = cassandra_row(record)
        statements.append((insert, row))
        statements.append((insert_by_date, (row[4], row[0], row[1], row[2], row[3], row[7], row[9], row[13],
                                            row[15])))
    for ok, result in execute_concurrent(session, statements, concurrency=32, raise_on_first_error=False):
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
