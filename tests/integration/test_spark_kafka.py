"""Spark reads and writes Kafka with the connector jars fetched by Maven."""
from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient, NewTopic


@pytest.fixture
def topic(platform, unique):
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{platform.port('KAFKA_PORT')}"})
    name = f"platform-selftest-{unique}"
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])[name].result(30)
    yield name
    admin.delete_topics([name])[name].result(30)


def test_spark_batch_write_then_read(spark, platform, topic):
    bootstrap = f"127.0.0.1:{platform.port('KAFKA_PORT')}"
    rows = [(f"k{i}", f'{{"n": {i}}}') for i in range(50)]
    (spark.createDataFrame(rows, "key STRING, value STRING")
        .write.format("kafka").option("kafka.bootstrap.servers", bootstrap).option("topic", topic).save())

    back = (spark.read.format("kafka").option("kafka.bootstrap.servers", bootstrap)
            .option("subscribe", topic).option("startingOffsets", "earliest").load()
            .selectExpr("CAST(key AS STRING) AS key", "CAST(value AS STRING) AS value"))
    assert sorted(tuple(r) for r in back.collect()) == sorted(rows)


def test_spark_streaming_query_reads_kafka(spark, platform, topic, tmp_path):
    bootstrap = f"127.0.0.1:{platform.port('KAFKA_PORT')}"
    spark.createDataFrame([("a", "1"), ("b", "2")], "key STRING, value STRING") \
        .write.format("kafka").option("kafka.bootstrap.servers", bootstrap).option("topic", topic).save()
    stream = (spark.readStream.format("kafka").option("kafka.bootstrap.servers", bootstrap)
              .option("subscribe", topic).option("startingOffsets", "earliest").load()
              .selectExpr("CAST(key AS STRING) AS key"))
    query = (stream.writeStream.format("memory").queryName("kafka_keys")
             .option("checkpointLocation", str(tmp_path / "ckpt")).trigger(availableNow=True).start())
    query.awaitTermination(120)
    assert sorted(r.key for r in spark.sql("SELECT key FROM kafka_keys").collect()) == ["a", "b"]
