"""Cassandra: keyspace and table create, insert, select."""
from __future__ import annotations

import uuid

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
