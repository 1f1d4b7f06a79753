"""Checks that each service answers through its Airflow connection (used by check_platform).

Each function raises ServiceCheckError naming the service, or returns what it saw.
"""
from __future__ import annotations

from flightdelay.config import (
    CASSANDRA_CONN_ID, KAFKA_CONN_ID, MLFLOW_CONN_ID, MONGO_CONN_ID, NAMES, WEBHDFS_CONN_ID,
)


class ServiceCheckError(RuntimeError):
    """A service did not answer as expected; the message starts with its name."""


def check_kafka(conn_id: str = KAFKA_CONN_ID) -> list[str]:
    """The platform's topics exist on the broker."""
    from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook

    from flightdelay.platform_setup import platform_topics

    topics = KafkaAdminClientHook(kafka_config_id=conn_id).get_conn.list_topics(timeout=10).topics
    wanted = platform_topics()
    missing = [t for t in wanted if t not in topics]
    if missing:
        raise ServiceCheckError(f"kafka: topics missing: {missing}")
    return wanted


def check_hdfs(conn_id: str = WEBHDFS_CONN_ID) -> str:
    """The prediction folder exists in HDFS (WebHDFS)."""
    from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook

    if not WebHDFSHook(webhdfs_conn_id=conn_id).check_for_path(NAMES.hdfs_prediction_dir):
        raise ServiceCheckError(f"hdfs: {NAMES.hdfs_prediction_dir} does not exist")
    return NAMES.hdfs_prediction_dir


def check_mongo(conn_id: str = MONGO_CONN_ID) -> str:
    """The MongoDB-compatible server answers ping and reports its version."""
    from airflow.providers.mongo.hooks.mongo import MongoHook

    client = MongoHook(mongo_conn_id=conn_id).get_conn()
    if client.admin.command("ping").get("ok") != 1:
        raise ServiceCheckError("mongodb: ping not ok")
    return client.server_info()["version"]


def check_cassandra(conn_id: str = CASSANDRA_CONN_ID) -> str:
    """Cassandra answers a CQL query."""
    from airflow.providers.apache.cassandra.hooks.cassandra import CassandraHook

    hook = CassandraHook(cassandra_conn_id=conn_id)
    try:
        row = hook.get_conn().execute("SELECT release_version FROM system.local").one()
    finally:
        hook.shutdown_cluster()
    if row is None:
        raise ServiceCheckError("cassandra: system.local is empty")
    return row.release_version


def http_base_url(conn_id: str) -> str:
    """`scheme://host:port` of an HTTP-type connection (schema holds the scheme)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    return f"{conn.schema or 'http'}://{conn.host}:{conn.port}"


def check_mlflow(conn_id: str = MLFLOW_CONN_ID) -> str:
    """The MLflow tracking server answers its health endpoint."""
    import requests

    response = requests.get(f"{http_base_url(conn_id)}/health", timeout=10)
    if response.status_code != 200 or response.text.strip() != "OK":
        raise ServiceCheckError(f"mlflow: /health answered {response.text[:100]!r}")
    return response.text.strip()
