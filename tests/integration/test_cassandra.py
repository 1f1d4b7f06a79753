"""Cassandra: keyspace and table create, insert, select."""
from __future__ import annotations

import uuid

import pytest
from cassandra.cluster import Cluster


def test_keyspace_table_insert_select(platform, unique):
    cluster = Cluster(["127.0.0.1"], port=platform.port("CASSANDRA_PORT"))
    session = cluster.connect()
    keyspace = f"test_{unique}"
    try:
        session.execute(
            f"CREATE KEYSPACE {keyspace} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
        )
        session.execute(f"CREATE TABLE {keyspace}.predictions (uuid uuid PRIMARY KEY, origin text, prediction int)")
        key = uuid.uuid4()
        insert = session.prepare(f"INSERT INTO {keyspace}.predictions (uuid, origin, prediction) VALUES (?, ?, ?)")
        session.execute(insert, (key, "JFK", 2))
        session.execute(insert, (key, "JFK", 3))  # same key: an upsert, not a second row
        rows = list(session.execute(f"SELECT uuid, origin, prediction FROM {keyspace}.predictions"))
        assert [(r.uuid, r.origin, r.prediction) for r in rows] == [(key, "JFK", 3)]
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
        cluster.shutdown()


@pytest.fixture
def sink_keyspace(platform, unique):
    """A scratch keyspace with the sink's schema, and a session on it; dropped afterwards."""
    from flightdelay import sinks

    keyspace = f"test_{unique}"
    cluster = Cluster(["127.0.0.1"], port=platform.port("CASSANDRA_PORT"))
    session = cluster.connect()
    session.execute(f"CREATE KEYSPACE {keyspace} WITH replication = {{'class': 'SimpleStrategy', "
                    "'replication_factor': 1}")
    try:
        sinks.apply_cassandra_schema(session, keyspace)
        yield session, keyspace
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
        cluster.shutdown()


def prediction(**fields) -> dict:
    """A prediction record as the store receives it, with a new UUID; `fields` override."""
    return {"UUID": str(uuid.uuid4()), "Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-03-14",
            "FlightNum": None, "CRSDepTime": None, "DepDelay": 1.0, "Distance": 2475.0, "Prediction": 1,
            "PredictionLabel": "x", "Probabilities": [0.25] * 4, "ModelName": "m", "ModelVersion": "1",
            "ReceivedAt": "2026-11-30T10:00:00.000Z", "PredictedAt": "2026-11-30T10:00:00.120Z", **fields}


def test_sink_writer_batches_rows_a_replay_changes_nothing_and_the_date_index_finds_them(platform, sink_keyspace):
    from flightdelay import sinks

    session, keyspace = sink_keyspace
    dates = ["2013-03-14", "2013-03-15", "2013-12-24"]
    records = [prediction(FlightDate=dates[i % 3], DepDelay=float(i), Prediction=i % 4)
               for i in range(130)]  # several batches per table
    for _ in range(2):  # the second write is a replayed micro-batch
        assert sinks.write_cassandra(records, "127.0.0.1", platform.port("CASSANDRA_PORT"), keyspace) == 130
    stored = {str(r.uuid): r.dep_delay for r in session.execute(
        f"SELECT uuid, dep_delay FROM {keyspace}.flight_delay_ml_response")}
    assert stored == {r["UUID"]: r["DepDelay"] for r in records}
    for day in dates:  # the flight_date index answers "what did we predict for day D"
        on_day = {str(r.uuid) for r in session.execute(
            f"SELECT uuid FROM {keyspace}.flight_delay_ml_response WHERE flight_date = %s", (day,))}
        assert on_day == {r["UUID"] for r in records if r["FlightDate"] == day}, day


def test_a_batch_the_server_refuses_is_written_row_by_row(platform, sink_keyspace):
    """Twenty rows of 15 KiB make a batch over the server's 256 KiB limit (InvalidRequest): the
    writer stores them one by one instead of failing the store's micro-batch."""
    from flightdelay import sinks

    session, keyspace = sink_keyspace
    records = [prediction(FlightNum="9" * 15_000) for _ in range(sinks.CASSANDRA_BATCH_ROWS)]
    refused: list = []
    assert sinks.write_cassandra(records, "127.0.0.1", platform.port("CASSANDRA_PORT"), keyspace,
                                 refused=refused) == len(records)
    assert refused == []
    stored = {r.uuid for r in session.execute(f"SELECT uuid FROM {keyspace}.flight_delay_ml_response")}
    assert stored == {r["UUID"] for r in records}
