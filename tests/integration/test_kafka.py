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


def test_canary_finds_its_answer_behind_other_traffic(platform, unique):
    """The canary's Kafka check reads from the offsets taken before its request, through every
    other answer, and finds its own (the provider's trigger paused a second per other message)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    from flightdelay import canary

    config = {"bootstrap.servers": f"127.0.0.1:{platform.port('KAFKA_PORT')}"}
    topic = f"platform-selftest-canary-{unique}"
    admin = AdminClient(config)
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(30)
    try:
        producer = Producer({**config, "linger.ms": 20})
        for i in range(500):  # answered before the canary was sent: never read
            producer.produce(topic, key=f"old-{i}", value=f'{{"UUID": "{unique}", "Prediction": 0}}')
        producer.flush(30)
        starts = canary.end_offsets(config, topic)
        assert sum(starts.values()) == 500
        assert canary.find_response(config, topic, starts, unique) is None
        for i in range(20000):
            producer.produce(topic, key=f"k{i}", value=f'{{"UUID": "other-{i}", "Prediction": 1}}')
        producer.produce(topic, key=unique, value=f'{{"UUID": "{unique}", "Prediction": 3}}')
        producer.produce(topic, key="tail", value=b"not json")
        producer.flush(30)
        started = time.monotonic()
        found = canary.find_response(config, topic, starts, unique)
        elapsed = time.monotonic() - started
        assert found == {"UUID": unique, "Prediction": 3}
        print(f"found behind 20,000 other messages in {elapsed:.2f} s")
        assert canary.find_response(config, topic, starts, "no-such-uuid") is None
    finally:
        admin.delete_topics([topic])[topic].result(30)
