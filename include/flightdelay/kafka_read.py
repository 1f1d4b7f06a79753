"""Reading Kafka topics to their current end without a consumer group's state: used by the
stream's replay guard and micro-batch marker reader, and by the canary's Kafka check. No
pyspark here: the canary runs in an Airflow task."""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any


def reader(config: dict[str, Any], name: str):
    """A read_committed consumer that commits nothing, in a group of its own (`name-<random>`)."""
    from confluent_kafka import Consumer

    return Consumer({**config, "group.id": f"{name}-{uuid.uuid4().hex}", "enable.auto.commit": False,
                     "isolation.level": "read_committed"})


def watermarks(consumer, topic: str) -> dict[int, tuple[int, int]]:
    """(low, high) offsets of each partition of `topic`, now."""
    from confluent_kafka import TopicPartition

    partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
    return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30) for p in partitions}


def read_to_end(consumer, starts: list, ends: dict[tuple[str, int], int], timeout: float) -> Iterator:
    """The messages of `consumer` (read_committed) from the `starts` offsets up to the end offsets
    `ends[(topic, partition)]`. The last offsets may be transaction control records, never
    delivered: the end is reached when the consumer's position is there."""
    consumer.assign(starts)
    deadline = time.monotonic() + timeout
    while True:
        for message in consumer.consume(10000, 0.5):
            if not message.error():
                yield message
        if all(tp.offset >= ends[(tp.topic, tp.partition)] for tp in consumer.position(starts)):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"could not read {sorted(ends)} to their end in {timeout:.0f} s")
