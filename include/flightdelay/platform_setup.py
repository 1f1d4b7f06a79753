"""Idempotent set-up of the services, run by the setup_platform DAG at every platform start:
Kafka topics, HDFS folders (and the Cassandra schema and MongoDB index through flightdelay.sinks)."""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, TypeVar

from flightdelay.config import NAMES

log = logging.getLogger(__name__)
T = TypeVar("T")

# The stream's own topic of committed respond batches (flightdelay.replay) is made by the job.
HDFS_FOLDERS = (NAMES.hdfs_prediction_dir, "/user/spark/checkpoints", "/user/spark/status", "/data")


def when_up(action: Callable[[], T], service: str, timeout_s: float = 300, interval_s: float = 3) -> T:
    """action() once `service` answers: `make run` triggers setup_platform as soon as Airflow,
    Kafka, HDFS and MLflow are healthy, and the sinks and NiFi may still be starting. Retries
    any error until `timeout_s`, then raises the last one."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return action()
        except Exception as exc:  # the service's client raises its own kinds while it boots
            if time.monotonic() > deadline:
                raise
            print(f"waiting for {service}: {type(exc).__name__}: {str(exc)[:200]}", flush=True)
            time.sleep(interval_s)


def platform_topics() -> list[str]:
    return [NAMES.request_topic, NAMES.response_topic, NAMES.dlq_topic]


def create_topics(admin: Any, topics: list[str], partitions: int | None = None) -> list[str]:
    """Create the topics that do not exist yet (confluent_kafka AdminClient); returns those made."""
    from confluent_kafka.admin import NewTopic

    partitions = partitions or int(os.environ.get("KAFKA_PARTITIONS", "2"))
    existing = set(admin.list_topics(timeout=30).topics)
    new = [NewTopic(topic, num_partitions=partitions, replication_factor=1)
           for topic in topics if topic not in existing]
    for topic, future in (admin.create_topics(new).items() if new else []):
        future.result(30)
        log.info("created Kafka topic %s (%d partitions)", topic, partitions)
    return [t.topic for t in new]


def make_hdfs_folders(client: Any, folders: tuple[str, ...] = HDFS_FOLDERS) -> list[str]:
    """mkdir -p each folder (an `hdfs` client; existing folders are left as they are)."""
    for folder in folders:
        client.makedirs(folder)
    return list(folders)
