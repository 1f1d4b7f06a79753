"""Requests answered before a restart are not answered again.

A restarted respond query resumes from its checkpoint, so it reads again the requests of the
interval after the last committed batch (a real-time batch lasts its checkpoint interval, and its
Kafka sink is at-least-once). Every record the query produces, prediction or dead letter, carries
the Kafka header REQUEST_HEADER = "<partition>:<offset>" of the request it answers. At start the
job reads those headers back from the response and dead-letter topics (read_committed, from a
little before the checkpoint's last commit) and the query skips the request offsets found there.

The read happens once, before the query starts, while no other instance runs: the previous one
was stopped (a model swap, a lease end) or died (its unsent records are lost with it, and those
requests are answered by the new instance). Airflow's one active run and the transactional id
of the micro-batch mode keep a second instance away.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from flightdelay import kafka_read

log = logging.getLogger(__name__)

REQUEST_HEADER = "request-offset"
# Read the output topics from this long before the checkpoint's last commit (clock skew between
# the checkpoint's file system and the Kafka producer, a batch that started before its commit).
MARGIN_MS = 120_000


def header_value(partition: int, offset: int) -> str:
    return f"{partition}:{offset}"


def parse_header(value: bytes | None) -> tuple[int, int] | None:
    """REQUEST_HEADER's value -> (partition, offset); None for anything else (forged, foreign)."""
    match = re.fullmatch(rb"([0-9]{1,9}):([0-9]{1,18})", value or b"")
    return (int(match.group(1)), int(match.group(2))) if match else None


def header_column(partition: Column, offset: Column) -> Column:
    """The Kafka sink's `headers` column carrying REQUEST_HEADER."""
    value = F.concat_ws(":", partition.cast("string"), offset.cast("string")).cast("binary")
    return F.array(F.struct(F.lit(REQUEST_HEADER).alias("key"), value.alias("value")))


def offset_ranges(offsets: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted runs of consecutive offsets as inclusive (first, last) pairs."""
    ranges: list[list[int]] = []
    for offset in sorted(set(offsets)):
        if ranges and offset == ranges[-1][1] + 1:
            ranges[-1][1] = offset
        else:
            ranges.append([offset, offset])
    return [(first, last) for first, last in ranges]


def skip_answered(source: DataFrame, answered: dict[int, list[tuple[int, int]]]) -> DataFrame:
    """Kafka rows of `source` whose (partition, offset) is in none of the `answered` ranges. The
    ranges are one JSON literal (a tree of thousands of ORs takes the optimizer minutes)."""
    ranges = [{"p": partition, "first": first, "last": last}
              for partition, runs in sorted(answered.items()) for first, last in runs]
    if not ranges:
        return source
    literal = F.from_json(F.lit(json.dumps(ranges)), "array<struct<p:int,first:bigint,last:bigint>>")
    hit = F.exists(literal, lambda r: (r["p"] == F.col("partition")) & F.col("offset").between(r["first"], r["last"]))
    return source.where(~hit)


def last_commit_millis(spark, checkpoint: str) -> int | None:
    """When the query at `checkpoint` last committed a batch (its newest commit file), or None."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(f"{checkpoint.rstrip('/')}/commits")
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return None
    times = [status.getModificationTime() for status in fs.listStatus(path)]
    return max(times) if times else None


def answered_requests(bootstrap: str, topics: Iterable[str], since_ms: int | None,
                      timeout: float = 300) -> dict[int, list[tuple[int, int]]]:
    """Request offsets (per request partition, as ranges) named by REQUEST_HEADER on `topics`
    in records produced since `since_ms` (None: the whole topics)."""
    from confluent_kafka import TopicPartition

    consumer = kafka_read.reader({"bootstrap.servers": bootstrap}, "prediction-stream-replay")
    try:
        starts, ends = [], {}
        for topic in topics:
            for partition, (low, high) in kafka_read.watermarks(consumer, topic).items():
                ends[(topic, partition)] = high
                starts.append(TopicPartition(topic, partition, since_ms if since_ms is not None else low))
        if since_ms is not None:  # -> the first offset produced at or after since_ms; -1: none
            starts = consumer.offsets_for_times(starts, timeout=30)
        starts = [tp for tp in starts if 0 <= tp.offset < ends[(tp.topic, tp.partition)]]
        if not starts:
            return {}
        offsets: dict[int, set[int]] = {}
        records = foreign = 0
        for message in kafka_read.read_to_end(consumer, starts, ends, timeout):
            records += 1
            named = [parse_header(value) for key, value in message.headers() or () if key == REQUEST_HEADER]
            if len(named) != 1 or named[0] is None:
                foreign += 1  # not written by the respond query: trusted for nothing
                continue
            offsets.setdefault(named[0][0], set()).add(named[0][1])
        if foreign:
            log.warning("replay guard: ignored %s output records without one well-formed %s header", foreign,
                        REQUEST_HEADER)
        log.warning("replay guard: %s output records since %s name %s answered requests", records, since_ms,
                    sum(map(len, offsets.values())))
        return {partition: offset_ranges(found) for partition, found in offsets.items()}
    finally:
        consumer.close()

