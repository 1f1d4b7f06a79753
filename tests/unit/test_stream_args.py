"""The streaming job's defaults: each sink query may read at least the answers' target rate.

A Kafka source reads at most its cap per batch, so a query keeps up only with cap / trigger
records per second. The archive once shared the store's 20,000 a batch at its 30 s trigger (667
records/s): under a steady load HDFS fell further behind every minute.
"""
from __future__ import annotations

import re

import pytest

from spark_jobs import prediction_stream

TARGET_PER_SECOND = 5000
REQUIRED = ["--hdfs", "hdfs://h:9000", "--bootstrap-servers", "k:9092", "--mongo-uri", "mongodb://m",
            "--cassandra-host", "c"]


def seconds(trigger: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?) (second|seconds|minute|minutes)", trigger).groups()
    return float(number) * (60 if unit.startswith("minute") else 1)


@pytest.mark.parametrize("cap, trigger", [("max_offsets_per_trigger", "store_trigger"),
                                          ("archive_max_offsets", "archive_trigger")])
def test_each_sink_query_can_read_the_target_rate_at_its_default_trigger(cap, trigger):
    args = prediction_stream.parse_args(REQUIRED)

    assert getattr(args, cap) / seconds(getattr(args, trigger)) >= TARGET_PER_SECOND


def test_the_archive_cap_is_its_own():
    args = prediction_stream.parse_args([*REQUIRED, "--max-offsets-per-trigger", "100", "--archive-max-offsets", "7"])

    assert (args.max_offsets_per_trigger, args.archive_max_offsets) == (100, 7)
    assert args.checkpoint_root == "hdfs://h:9000/user/spark/checkpoints/prediction_stream"
