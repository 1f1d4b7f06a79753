"""The micro-batch respond mode's commit topic: a compacted topic holding, per query, the id of
the last batch whose Kafka transaction committed, so that a batch replayed after a crash is
skipped."""
from __future__ import annotations

import json
import logging

from flightdelay import kafka_read
from flightdelay.config import NAMES

log = logging.getLogger("prediction_stream")


def ensure_commit_topic(bootstrap: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = NAMES.commit_topic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    if topic not in admin.list_topics(timeout=30).topics:
        futures = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1,
                                                config={"cleanup.policy": "compact", "segment.ms": "3600000"})])
        try:
            futures[topic].result()
        except Exception as exc:  # created meanwhile by another instance
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise


def last_committed_batch(bootstrap: str, marker_key: str) -> int | None:
    """The batch id of the last committed marker under `marker_key` (read_committed), or None."""
    from confluent_kafka import TopicPartition

    topic = NAMES.commit_topic
    consumer = kafka_read.reader({"bootstrap.servers": bootstrap}, "prediction-stream-marker-reader")
    try:
        low, high = kafka_read.watermarks(consumer, topic)[0]
        if high <= low:
            return None
        last = None
        for message in kafka_read.read_to_end(consumer, [TopicPartition(topic, 0, low)], {(topic, 0): high}, 120):
            if message.key() == marker_key.encode():
                try:
                    last = int(json.loads(message.value())["batch_id"])
                except (TypeError, ValueError, KeyError):  # not one of our markers
                    log.warning("ignored a malformed marker at offset %s of %s", message.offset(), topic)
        return last
    finally:
        consumer.close()


def marker(batch_id: int, responses: int, rejected: int) -> str:
    return json.dumps({"batch_id": batch_id, "responses": responses, "rejected": rejected})
