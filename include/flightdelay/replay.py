"""Requests answered before a restart are not answered again: every output record names its
request in the header REQUEST_HEADER ("<partition>:<offset>"), and a restarted respond query
reads those headers back from a little before its checkpoint's last commit and skips the
requests found there, trusting a header only when its record answers that request.
(docs/design-notes.md: why one read at start suffices.)
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


def trusted_claims(claims: Iterable[tuple[int, int, bytes | None]],
                   requests: dict[tuple[int, int], bytes | None]) -> dict[int, set[int]]:
    """The claims to trust, by request partition: (partition, offset, key of the output record;
    None for a dead letter). A response is trusted when its key is the canonical UUID of the
    request at that offset, a dead letter when that request breaks the contract."""
    from flightdelay import contract

    verdicts: dict[tuple[int, int], str | None | bool] = {}
    trusted: dict[int, set[int]] = {}
    for partition, offset, key in claims:
        if (partition, offset) not in requests:
            continue  # no such request (a forged or foreign header)
        if (partition, offset) not in verdicts:
            try:
                verdicts[(partition, offset)] = contract.parse_request(requests[(partition, offset)])["UUID"]
            except contract.InvalidRequest:
                verdicts[(partition, offset)] = False
        verdict = verdicts[(partition, offset)]
        answers = verdict is False if key is None else verdict == key.decode(errors="replace")
        if answers:
            trusted.setdefault(partition, set()).add(offset)
    return trusted


def _requests_at(consumer, topic: str, wanted: dict[int, set[int]], timeout: float) -> dict[tuple[int, int], bytes]:
    """The values of `topic` at the `wanted` offsets (per partition), read from the first to the last."""
    from confluent_kafka import TopicPartition

    marks = kafka_read.watermarks(consumer, topic)
    starts, ends = [], {}
    for partition, offsets in wanted.items():
        low, high = marks.get(partition, (0, 0))
        first, last = max(min(offsets), low), min(max(offsets) + 1, high)
        if first < last:
            starts.append(TopicPartition(topic, partition, first))
            ends[(topic, partition)] = last
    found: dict[tuple[int, int], bytes] = {}
    if starts:
        for message in kafka_read.read_to_end(consumer, starts, ends, timeout):
            if message.offset() in wanted[message.partition()]:
                found[(message.partition(), message.offset())] = message.value()
    return found


def answered_requests(bootstrap: str, topics: Iterable[str], since_ms: int | None, request_topic: str,
                      timeout: float = 300) -> dict[int, list[tuple[int, int]]]:
    """Request offsets (per request partition, as ranges) named by REQUEST_HEADER on `topics`
    in records produced since `since_ms` (None: the whole topics), trusted only when the record
    answers the request at that offset of `request_topic` (trusted_claims)."""
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
        claims: list[tuple[int, int, bytes | None]] = []
        records = malformed = 0
        for message in kafka_read.read_to_end(consumer, starts, ends, timeout):
            records += 1
            named = [parse_header(value) for key, value in message.headers() or () if key == REQUEST_HEADER]
            if len(named) != 1 or named[0] is None:
                malformed += 1  # not written by the respond query: trusted for nothing
                continue
            claims.append((*named[0], message.key()))
        wanted: dict[int, set[int]] = {}
        for partition, offset, _ in claims:
            wanted.setdefault(partition, set()).add(offset)
        consumer.unassign()
        offsets = trusted_claims(claims, _requests_at(consumer, request_topic, wanted, timeout))
        untrusted = len({(p, o) for p, o, _ in claims}) - sum(map(len, offsets.values()))
        if malformed or untrusted:
            log.warning("replay guard: ignored %s output records without one well-formed %s header and %s "
                        "offsets whose record does not answer the request there", malformed, REQUEST_HEADER,
                        untrusted)
        log.warning("replay guard: %s output records since %s name %s answered requests", records, since_ms,
                    sum(map(len, offsets.values())))
        return {partition: offset_ranges(found) for partition, found in offsets.items()}
    finally:
        consumer.close()
