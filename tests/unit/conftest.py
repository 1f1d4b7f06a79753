"""A small local SparkSession for unit tests of pure transforms (no platform service needed)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def local_spark():
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("unit-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    yield session
