"""Fixtures for tests against the running services."""
from __future__ import annotations

import uuid

import pytest


@pytest.fixture(autouse=True)
def _platform_running(platform):
    """Every integration test needs the platform up (started once per session)."""
    return platform


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def spark(platform):
    """A local SparkSession with Kafka's connector jars passed as local files (no Ivy)."""
    from pyspark.sql import SparkSession

    from flightdelay.config import spark_jars

    jars = spark_jars()
    assert jars, "Kafka connector jars not installed (FLIGHTDELAY_SPARK_JARS is empty)"
    session = (
        SparkSession.builder.master("local[2]")
        .appName("platform-tests")
        .config("spark.jars", ",".join(jars))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.hadoop.fs.defaultFS", f"hdfs://127.0.0.1:{platform.port('HDFS_RPC_PORT')}")
        .getOrCreate()
    )
    yield session
    session.stop()
