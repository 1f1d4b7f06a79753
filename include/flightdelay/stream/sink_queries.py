"""The queries that copy the response topic (read_committed) into the other sinks:

  store    MongoDB and Cassandra, keyed by UUID, from one task (flightdelay.sinks)
  archive  parquet under /user/spark/prediction, partitioned by prediction date, exactly once by
           Spark's file-sink log; on a longer trigger, so no tiny file per request"""
from __future__ import annotations

import logging
import socket
import time
from urllib.parse import urlparse

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flightdelay import contract, sinks
from flightdelay.config import NAMES
from flightdelay.stream.options import StreamOptions
from flightdelay.stream.respond import kafka_source, schema

log = logging.getLogger("prediction_stream")
# A store micro-batch slower than this is logged (with client timeouts, a stuck sink fails it).
SLOW_STORE_BATCH_S = 5.0
PREDICTION_SCHEMA = schema(contract.PREDICTION_FIELDS)


def responses(spark: SparkSession, options: StreamOptions, max_offsets: int) -> DataFrame:
    """Every committed record of the response topic, as text with its position."""
    return (kafka_source(spark, options, NAMES.response_topic, max_offsets,
                         **{"kafka.isolation.level": "read_committed"})
            .select(F.col("value").cast("string").alias("value"), "topic", "partition", "offset"))


def wait_for_stores(options: StreamOptions, timeout_s: float = 600) -> None:
    """Until MongoDB and Cassandra accept connections: at a platform start the stream can be up
    before them (respond needs neither), and a store batch that cannot write fails the job."""
    mongo = urlparse(options.mongo_uri)
    deadline = time.monotonic() + timeout_s
    for name, address in (("MongoDB", (mongo.hostname or "127.0.0.1", mongo.port or 27017)),
                          ("Cassandra", (options.cassandra_host, options.cassandra_port))):
        logged = 0.0
        while True:
            try:
                socket.create_connection(address, timeout=2).close()
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise SystemExit(f"store: {name} at {address[0]}:{address[1]} unreachable for {timeout_s:.0f} s")
                if time.monotonic() - logged > 10:
                    log.warning("store: waiting for %s at %s:%s (%s)", name, *address, exc)
                    logged = time.monotonic()
                time.sleep(1)


def start_store(spark: SparkSession, options: StreamOptions):
    """sinks.write_partition stores the predictions and sends any other record to the dead-letter
    topic (stage store) with the reason."""
    mongo = {"uri": options.mongo_uri, "database": NAMES.mongo_database, "collection": NAMES.mongo_collection}
    cassandra = {"host": options.cassandra_host, "port": options.cassandra_port,
                 "keyspace": NAMES.cassandra_keyspace}
    dead_letters = {"bootstrap": options.bootstrap_servers, "topic": NAMES.dlq_topic}

    def store(batch: DataFrame, batch_id: int) -> None:
        # One task writes both sinks, leaving the other task slots to the respond query (on our
        # 2 cores, a store task per Kafka partition held every slot and delayed the answers).
        started = time.monotonic()
        batch.coalesce(1).foreachPartition(
            lambda rows: sinks.write_partition(rows, mongo=mongo, cassandra=cassandra, dead_letters=dead_letters))
        seconds = time.monotonic() - started
        if seconds > SLOW_STORE_BATCH_S:
            log.warning("slow store batch %s: %.1f s", batch_id, seconds)

    return (responses(spark, options, options.max_offsets_per_trigger).writeStream
            .queryName(options.query_name("store"))
            .foreachBatch(store)
            .option("checkpointLocation", options.checkpoint("store"))
            .trigger(processingTime=options.store_trigger)
            .start())


def start_archive(spark: SparkSession, options: StreamOptions):
    """Keeps what the store keeps (the store's dead letters name the others, "hdfs" among their
    sinks): the contract's UUID and timestamps, a date, a prediction."""
    parsed = responses(spark, options, options.archive_max_offsets).withColumn(
        "p", F.from_json("value", PREDICTION_SCHEMA))
    valid = parsed.where(
        F.col("p.UUID").rlike(f"^{contract.CANONICAL_UUID}$")
        & F.col("p.PredictedAt").rlike(f"^{contract.CANONICAL_TIMESTAMP}$")
        & F.col("p.ReceivedAt").rlike(f"^{contract.CANONICAL_TIMESTAMP}$")
        & F.try_to_timestamp("p.PredictedAt").isNotNull() & F.try_to_date("p.FlightDate").isNotNull()
        & F.col("p.Prediction").isNotNull())
    rows = valid.select("p.*").withColumn("date", F.to_date(F.try_to_timestamp("PredictedAt")))
    return (rows.writeStream.queryName(options.query_name("archive"))
            .format("parquet")
            .option("path", f"{options.hdfs.rstrip('/')}{NAMES.hdfs_prediction_dir}")
            .option("checkpointLocation", options.checkpoint("archive"))
            .partitionBy("date")
            .trigger(processingTime=options.archive_trigger)
            .start())
