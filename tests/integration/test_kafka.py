"""Kafka: produce and consume on each of the platform's topics."""
from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from flightdelay.config import NAMES


def _consume_from_end(bootstrap: str, topic: str) -> Consumer:
    """A consumer assigned at the current end of every partition (reads only new messages)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{time.time_ns()}",
                         "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    assignment = []
    for p in partitions:
        _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        assignment.append(TopicPartition(topic, p, high))
    consumer.assign(assignment)
    return consumer


@pytest.mark.parametrize("topic", [NAMES.request_topic, NAMES.response_topic, NAMES.dlq_topic])
def test_produce_and_consume(platform, topic, unique):
    bootstrap = f"127.0.0.1:{platform.port('KAFKA_PORT')}"
    consumer = _consume_from_end(bootstrap, topic)
    try:
        producer = Producer({"bootstrap.servers": bootstrap})
        payload = f'{{"platform_selftest": "{unique}"}}'.encode()
        producer.produce(topic, key=unique.encode(), value=payload)
        assert producer.flush(10) == 0, "message not delivered"

        deadline = time.monotonic() + 30
        received = None
        while time.monotonic() < deadline and received is None:
            message = consumer.poll(1)
            if message is not None and message.error() is None and message.key() == unique.encode():
                received = message
        assert received is not None, f"message {unique} not consumed from {topic}"
        assert received.value() == payload
    finally:
        consumer.close()


def test_topics_have_configured_partitions(platform):
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{platform.port('KAFKA_PORT')}"})
    topics = admin.list_topics(timeout=10).topics
    for topic in (NAMES.request_topic, NAMES.response_topic, NAMES.dlq_topic):
        assert len(topics[topic].partitions) == int(platform.values["KAFKA_PARTITIONS"])
