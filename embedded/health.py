"""Health checks of the embedded platform's services: each check raises Unhealthy with what it
saw; services.py gives each service its check, supervision.py polls them."""
from __future__ import annotations

import json
import socket
import ssl
import urllib.error
import urllib.request
from typing import Callable


class Unhealthy(Exception):
    """A health check did not pass; the message says what was seen."""


def tcp_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def http_json(url: str, timeout: float = 5, headers: dict[str, str] | None = None, cafile: str | None = None) -> object:
    """The JSON (or text) at `url`; `cafile`: the certificate to trust for HTTPS (NiFi's own)."""
    request = urllib.request.Request(url, headers=headers or {})
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            body = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise Unhealthy(f"{url}: {exc}") from exc
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


def check_kafka(port: int) -> Callable[[], None]:
    def check() -> None:
        from confluent_kafka.admin import AdminClient

        # log_level 0: a refused connection while the broker boots is expected, not news.
        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "socket.timeout.ms": 3000, "log_level": 0})
        try:
            metadata = admin.list_topics(timeout=3)
        except Exception as exc:  # KafkaException carries the broker's reason
            raise Unhealthy(f"kafka metadata: {exc}") from exc
        if not metadata.brokers:
            raise Unhealthy("kafka answered without a broker")
    return check


def check_namenode(port: int) -> Callable[[], None]:
    def check() -> None:
        beans = http_json(
            f"http://127.0.0.1:{port}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState"
        )
        state = beans["beans"][0] if isinstance(beans, dict) and beans.get("beans") else {}
        if state.get("NumLiveDataNodes", 0) < 1:
            raise Unhealthy("namenode up, no live datanode yet")
        safemode = http_json(f"http://127.0.0.1:{port}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo")
        if safemode["beans"][0].get("Safemode"):
            raise Unhealthy("namenode in safe mode")
    return check


def check_datanode(port: int) -> Callable[[], None]:
    def check() -> None:
        http_json(f"http://127.0.0.1:{port}/jmx?qry=Hadoop:service=DataNode,name=DataNodeInfo")
    return check


def check_cassandra(port: int) -> Callable[[], None]:
    def check() -> None:
        if not tcp_open(port):
            raise Unhealthy(f"CQL port {port} not open yet")
        from cassandra.cluster import Cluster

        cluster = Cluster(["127.0.0.1"], port=port, connect_timeout=5)
        try:
            session = cluster.connect()
            session.execute("SELECT release_version FROM system.local").one()
        except Exception as exc:
            raise Unhealthy(f"cassandra query: {exc}") from exc
        finally:
            cluster.shutdown()
    return check


def check_mongo(port: int) -> Callable[[], None]:
    def check() -> None:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        client = MongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=2000)
        try:
            client.admin.command("ping")
        except PyMongoError as exc:
            raise Unhealthy(f"mongo ping: {exc}") from exc
        finally:
            client.close()
    return check


def check_postgres(port: int, password: str) -> Callable[[], None]:
    def check() -> None:
        import psycopg2

        try:
            psycopg2.connect(host="127.0.0.1", port=port, user="flightdelay", password=password,
                             dbname="airflow", connect_timeout=2).close()
        except psycopg2.Error as exc:
            raise Unhealthy(f"postgres: {str(exc).strip()}") from exc
    return check


def check_http(url: str, expect: Callable[[object], bool] = lambda body: True,
               cafile: str | None = None) -> Callable[[], None]:
    def check() -> None:
        body = http_json(url, cafile=cafile)
        if not expect(body):
            raise Unhealthy(f"{url} answered {str(body)[:200]}")
    return check


def airflow_component(part: str) -> Callable[[object], bool]:
    """Whether Airflow's /monitor/health reports `part` (metadatabase, scheduler, ...) healthy."""
    def healthy(body: object) -> bool:
        return isinstance(body, dict) and (body.get(part) or {}).get("status") == "healthy"
    return healthy
