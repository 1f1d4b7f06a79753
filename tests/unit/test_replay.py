"""The replay guard's pure parts: answered offsets as ranges, the filter that skips them, the
header every output record carries."""
from __future__ import annotations

from flightdelay import replay


def test_offset_ranges_are_runs_of_consecutive_offsets():
    assert replay.offset_ranges([]) == []
    assert replay.offset_ranges([7]) == [(7, 7)]
    assert replay.offset_ranges([5, 3, 4, 4, 9, 10, 12]) == [(3, 5), (9, 10), (12, 12)]


def test_skip_answered_drops_exactly_the_answered_offsets(local_spark):
    rows = [(partition, offset) for partition in (0, 1) for offset in range(10)]
    source = local_spark.createDataFrame(rows, "partition int, offset long")
    answered = {0: replay.offset_ranges([2, 3, 4, 8]), 1: replay.offset_ranges([0])}

    kept = {(r.partition, r.offset) for r in replay.skip_answered(source, answered).collect()}

    assert kept == set(rows) - {(0, 2), (0, 3), (0, 4), (0, 8), (1, 0)}
    assert replay.skip_answered(source, {}) is source


def test_skip_answered_takes_thousands_of_ranges(local_spark):
    source = local_spark.createDataFrame([(0, offset) for offset in range(6000)], "partition int, offset long")
    answered = {0: replay.offset_ranges(range(0, 6000, 2))}  # 3,000 ranges of one offset

    kept = [r.offset for r in replay.skip_answered(source, answered).collect()]

    assert kept == list(range(1, 6000, 2))


def test_header_names_the_partition_and_offset(local_spark):
    from pyspark.sql import functions as F

    frame = local_spark.createDataFrame([(1, 42)], "partition int, offset long")
    header = frame.select(replay.header_column(F.col("partition"), F.col("offset")).alias("h")).first().h

    assert [(h.key, bytes(h.value).decode()) for h in header] == [(replay.REQUEST_HEADER, replay.header_value(1, 42))]
    assert replay.header_value(1, 42) == "1:42"


def test_only_well_formed_request_headers_are_read():
    from flightdelay import replay

    assert replay.parse_header(b"3:1234") == (3, 1234)
    for forged in (b"", None, b"3", b"3:x", b"-1:5", b"3:5:7", "\u0663:5".encode(), b"1" * 30 + b":1"):
        assert replay.parse_header(forged) is None


def test_a_claim_is_trusted_only_when_its_record_answers_the_request_there():
    import json

    from flightdelay import replay

    good = {"UUID": "6f1c5a52-3d7e-4d0c-9a8e-2c6b7f0e9d11", "Origin": "JFK", "Dest": "LAX", "Carrier": "AA",
            "FlightDate": "2013-03-14", "DepDelay": 5}
    requests = {(0, 1): json.dumps(good).encode(), (0, 2): b"not json",
                (0, 3): json.dumps({**good, "UUID": good["UUID"].upper()}).encode()}
    claims = [(0, 1, good["UUID"].encode()),  # the response to request 1
              (0, 2, None),                    # the dead letter of request 2
              (0, 3, good["UUID"].encode()),   # the canonical key of request 3's upper-case UUID
              (0, 1, None),                    # a dead letter claiming a valid request: forged
              (0, 2, b"some-key"),             # a response claiming a bad message: forged
              (0, 9, None)]                    # no request there
    assert replay.trusted_claims(claims, requests) == {0: {1, 2, 3}}
    assert replay.trusted_claims([(0, 1, b"another-uuid")], requests) == {}
