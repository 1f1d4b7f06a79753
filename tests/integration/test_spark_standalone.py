"""SPARK_CLUSTER=standalone: the embedded master and worker, started with their services' own
commands on free ports, run a job in an executor that reads Kafka with the connector jars and
imports the project's code."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from embedded import services as svc
from embedded.environment import environment
from embedded.health import Unhealthy
from tests.ports import free_port

JOB = """
import json, sys
from pyspark.sql import SparkSession, functions as F

topic, bootstrap = sys.argv[1], sys.argv[2]
spark = SparkSession.builder.appName("standalone-selftest").getOrCreate()
rows = [(f"k{i}", str(i)) for i in range(20)]
spark.createDataFrame(rows, "key STRING, value STRING").write.format("kafka") \\
    .option("kafka.bootstrap.servers", bootstrap).option("topic", topic).save()


@F.udf("string")
def request_topic(key):
    from flightdelay.config import NAMES  # the project's code, on the executor's Python path
    return NAMES.request_topic


back = (spark.read.format("kafka").option("kafka.bootstrap.servers", bootstrap).option("subscribe", topic)
        .option("startingOffsets", "earliest").load().selectExpr("CAST(key AS STRING) AS key")
        .select("key", request_topic("key").alias("topic")))
found = back.collect()
executors = spark.sparkContext._jsc.sc().statusTracker().getExecutorInfos()
print("RESULT " + json.dumps({"master": spark.sparkContext.master, "keys": sorted(r.key for r in found),
                              "topics": sorted({r.topic for r in found}), "executors": len(executors)}))
spark.stop()
"""


@pytest.fixture
def standalone(settings):
    values = {**settings.values, "SPARK_CLUSTER": "standalone", "SPARK_WORKER_CORES": "2", "SPARK_WORKER_MEMORY": "2g"}
    for key in ("SPARK_MASTER_PORT", "SPARK_MASTER_UI_PORT", "SPARK_WORKER_UI_PORT"):
        values[key] = str(free_port())
    return dataclasses.replace(settings, values=values)


@pytest.fixture
def topic(platform):
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{platform.port('KAFKA_PORT')}"})
    name = f"standalone-selftest-{int(time.time() * 1000)}"
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])[name].result(30)
    yield name
    admin.delete_topics([name])[name].result(30)


def test_a_job_runs_in_the_standalone_workers_executor(standalone, platform, topic, tmp_path):
    cluster = {service.name: service for service in svc.services(standalone)}
    env = environment(standalone)
    started = []
    try:
        for name in ("spark-master", "spark-worker"):
            service = cluster[name]
            command = [str(tmp_path / "work") if part == str(standalone.data / "spark-work") else part
                       for part in service.command]
            log = open(tmp_path / f"{name}.log", "w")
            started.append(subprocess.Popen(command, env={**env, **service.environment}, stdout=log,
                                            stderr=subprocess.STDOUT))
            deadline = time.monotonic() + 120
            while True:
                try:
                    service.check()
                    break
                except Unhealthy as exc:
                    last = (tmp_path / f"{name}.log").read_text()[-2000:]
                    assert time.monotonic() < deadline, f"{name} not ready: {exc}\n{last}"
                    time.sleep(1)
        (tmp_path / "job.py").write_text(JOB)
        bootstrap = f"127.0.0.1:{platform.port('KAFKA_PORT')}"
        result = subprocess.run(
            [str(standalone.venv_bin / "spark-submit"), "--master", standalone.spark_master_url,
             "--jars", env["FLIGHTDELAY_SPARK_JARS"], "--conf", "spark.ui.enabled=false",
             "--conf", "spark.executor.memory=1g", str(tmp_path / "job.py"), topic, bootstrap],
            env=env, capture_output=True, text=True, timeout=300)
        line = next((ln for ln in result.stdout.splitlines() if ln.startswith("RESULT ")), None)
        assert line, result.stderr[-3000:]
        found = json.loads(line[len("RESULT "):])
        assert found["master"] == standalone.spark_master_url
        assert found["executors"] >= 2  # the driver and the worker's executor
        assert found["keys"] == sorted(f"k{i}" for i in range(20))
        assert found["topics"] == [standalone.values["REQUEST_TOPIC"]]
    finally:
        for process in reversed(started):
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
