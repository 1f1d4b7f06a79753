"""The streaming job on the running platform, owned by the prediction_stream DAG: every request
answered exactly once in every sink, the start's warm-up in none, bad messages in the dead-letter
topic, the served prediction equal to the offline model, a promotion served without a restart, a killed job and a killed
Cassandra losing and duplicating no request, and a stop request (`make stop`) that ends the job cleanly."""
from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import pytest

from flightdelay.config import NAMES
from tests.stream.conftest import (
    dag_run_state, flight, start_stream_run, stream_drivers, task_tries, varied_flights, wait_until,
)

N = 40


@pytest.fixture(scope="module")
def mongo(platform):
    from pymongo import MongoClient

    client = MongoClient(f"mongodb://127.0.0.1:{platform.port('MONGO_PORT')}")
    yield client[NAMES.mongo_database][NAMES.mongo_collection]
    client.close()


@pytest.fixture(scope="module")
def cassandra(platform):
    from cassandra.cluster import Cluster

    cluster = Cluster(["127.0.0.1"], port=platform.port("CASSANDRA_PORT"))
    yield cluster.connect(NAMES.cassandra_keyspace)
    cluster.shutdown()


@pytest.fixture(scope="module")
def spark(platform):
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("stream-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def mongo_counts(mongo, uuids: list[str]) -> Counter:
    """One lookup by equality per UUID: FerretDB serves those from its index, while an `$in`
    filter scans the whole collection (minutes at 2 million documents)."""
    return Counter(d["UUID"] for uuid in uuids for d in mongo.find({"UUID": uuid}, {"UUID": 1}))


def cassandra_counts(cassandra, uuids: list[str]) -> Counter:
    from cassandra.query import ValueSequence

    rows = cassandra.execute("SELECT uuid FROM flight_delay_ml_response WHERE uuid IN %s", (ValueSequence(uuids),))
    return Counter(r.uuid for r in rows)


def parquet_counts(spark, uuids: list[str]) -> Counter:
    from pyspark.sql import functions as F

    path = f"{os.environ['HDFS_URL']}{NAMES.hdfs_prediction_dir}"
    rows = spark.read.parquet(path).where(F.col("UUID").isin(uuids)).select("UUID").collect()
    return Counter(r.UUID for r in rows)


def nifi_counts(settings, uuids: list[str]) -> Counter:
    wanted = set(uuids)
    counts: Counter = Counter()
    for path in Path(settings.data / "nifi-out").glob("*.txt"):
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and record.get("UUID") in wanted:
                counts[record["UUID"]] += 1
    return counts


def exactly_once(count: Callable, uuids: list[str], timeout: float, sink: str) -> None:
    """Wait until every UUID is in `sink`, then check none is there twice."""
    def complete() -> Counter | None:
        counts = count(uuids)
        return counts if set(counts) == set(uuids) else None

    counts = wait_until(complete, timeout, f"all {len(uuids)} predictions in {sink}", interval=2)
    duplicated = {u: n for u, n in counts.items() if n != 1}
    assert not duplicated, f"{sink}: predictions stored more than once: {duplicated}"


def test_every_request_reaches_every_sink_exactly_once(stream, kafka, mongo, cassandra, spark, settings):
    requests = varied_flights(N)
    uuids = [r["UUID"] for r in requests]
    kafka.send(requests)

    responses = kafka.responses(uuids)
    assert {u: len(r) for u, r in responses.items() if len(r) != 1} == {}, "answered more than once"
    for request in requests:
        response = responses[request["UUID"]][0]
        assert {k: response[k] for k in ("Origin", "Dest", "Carrier", "FlightDate")} == \
            {k: request[k] for k in ("Origin", "Dest", "Carrier", "FlightDate")}
        assert response["DepDelay"] == request["DepDelay"]
        assert response["Prediction"] in (0, 1, 2, 3)
        assert len(response["Probabilities"]) == 4 and abs(sum(response["Probabilities"]) - 1) < 1e-3
        assert response["ModelName"] == stream["model_name"] and response["ModelVersion"] == "1"
        assert response["ReceivedAt"] <= response["PredictedAt"]

    exactly_once(lambda u: mongo_counts(mongo, u), uuids, 120, "MongoDB")
    exactly_once(lambda u: cassandra_counts(cassandra, u), uuids, 120, "Cassandra")
    exactly_once(lambda u: parquet_counts(spark, u), uuids, 180, "HDFS parquet")
    exactly_once(lambda u: nifi_counts(settings, u), uuids, 120, "NiFi .txt files")
    stored = mongo.find_one({"UUID": uuids[0]}, {"_id": 0})
    assert stored == responses[uuids[0]][0]


def test_the_warm_up_reaches_no_topic_and_no_sink(stream, kafka, mongo, cassandra, spark, settings):
    """Before it takes traffic the job scores synthetic requests (respond.warm_up): its log says
    so, and none of them is in the output topics since the tests began, nor in any sink."""
    from flightdelay.stream.respond import WARM_UP_UUID_PREFIX

    folder = (settings.logs / "airflow" / "dag_id=prediction_stream" / f"run_id={stream['run_id']}"
              / "task_id=run_stream")
    # The task's log reaches its file a little after the job wrote it: wait for the line.
    wait_until(lambda: any("warm-up:" in path.read_text(errors="replace") for path in folder.glob("attempt=*.log")),
               120, "the warm-up's line in the job's log", interval=2)
    kafka.drain(2)
    assert [u for u in kafka.seen["responses"] if str(u).startswith(WARM_UP_UUID_PREFIX)] == []
    assert [o for o in kafka.seen["dead_letters"] if WARM_UP_UUID_PREFIX in o] == []
    uuids = [f"{WARM_UP_UUID_PREFIX}{i:012d}" for i in range(1, 40) if i % 10]  # valid ones: answerable
    for count, sink in ((lambda: mongo_counts(mongo, uuids), "MongoDB"),
                        (lambda: cassandra_counts(cassandra, uuids), "Cassandra"),
                        (lambda: parquet_counts(spark, uuids), "HDFS parquet"),
                        (lambda: nifi_counts(settings, uuids), "NiFi .txt files")):
        assert not count(), f"warm-up requests in {sink}"


def test_malformed_messages_go_to_the_dead_letter_topic_and_the_stream_keeps_running(stream, kafka):
    before, after = flight(), flight()
    bad = {
        "not json": "{this is not json " + before["UUID"],
        "missing Dest": json.dumps({k: v for k, v in flight().items() if k != "Dest"}),
        "DepDelay not a number": json.dumps(flight(DepDelay="soon")),
        "bad date": json.dumps(flight(FlightDate="2013-02-30")),
        "no UUID": json.dumps({k: v for k, v in flight().items() if k != "UUID"}),
    }
    kafka.send([before, *bad.values(), after])

    letters = kafka.dead_letters(list(bad.values()))
    reasons = {name: letters[original][0]["reason"] for name, original in bad.items()}
    assert "is not JSON" in reasons["not json"]
    assert "Dest: is required" in reasons["missing Dest"]
    assert "DepDelay: must be a number" in reasons["DepDelay not a number"]
    assert "FlightDate: must be a date" in reasons["bad date"]
    assert "UUID: must be a UUID" in reasons["no UUID"]
    for original, records in letters.items():
        assert records[0]["original"] == original and records[0]["source"]["topic"] == NAMES.request_topic
    kafka.responses([before["UUID"], after["UUID"]])


def test_served_prediction_equals_the_offline_model(stream, kafka, spark):
    import mlflow
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    from flightdelay import lake
    from flightdelay.features import canonical_from_request

    requests = [flight(Origin="EWR", Dest="SFO", Carrier="UA", DepDelay=-5.0, CRSDepTime="06:15"),
                # AA 359 of 2013-01-31: flights to Chicago landed in the hours before it left
                flight(Origin="LGA", Dest="ORD", Carrier="AA", DepDelay=77.0, FlightDate="2013-01-31", FlightNum="359",
                       CRSDepTime="19:20"),
                flight(Origin="JFK", Dest="BOS", Carrier="B6", DepDelay=0.0, CRSDepTime=None, FlightNum=None),
                # the aircraft N11106's second leg that day: its first (EV 4269) left 94 min late
                flight(Origin="EWR", Dest="GRR", Carrier="EV", FlightNum="4703", DepDelay=124.0, CRSDepTime="15:43")]
    kafka.send(requests)
    responses = kafka.responses([r["UUID"] for r in requests])

    model = mlflow.spark.load_model(f"models:/{stream['model_name']}/1")
    airports = spark.read.csv(f"{os.environ['HDFS_URL']}{lake.AIRPORTS}", header=True, inferSchema=True)
    frame = spark.createDataFrame(requests, "UUID string, Origin string, Dest string, Carrier string, "
                                            "FlightDate string, DepDelay double, FlightNum string, CRSDepTime string")
    offline = {r.UUID: r for r in model.transform(canonical_from_request(frame, airports)).select(
        "UUID", "Distance", "Landed180Count", "TailEarlierCount", "TailPrevDepDelay", "TailFirstFlight",
        "RouteLandedCount", "DestLandedCount", "DestLandedSlack",
        F.col("prediction").cast("int").alias("prediction"),
        vector_to_array("probability").alias("probability")).collect()}
    # The model read the arrivals feed: LaGuardia had landings before 19:20; no departure time, none.
    assert offline[requests[1]["UUID"]].Landed180Count > 10
    assert offline[requests[2]["UUID"]].Landed180Count == 0
    # The model found the aircraft through the schedule: with a flight number, its earlier leg;
    # without one, its day unknown (TailFirstFlight -1).
    second_leg, no_number = offline[requests[3]["UUID"]], offline[requests[2]["UUID"]]
    assert (second_leg.TailEarlierCount, second_leg.TailPrevDepDelay, second_leg.TailFirstFlight) == (1.0, 94.0, 0.0)
    assert (no_number.TailEarlierCount, no_number.TailFirstFlight) == (0.0, -1.0)
    # Through the schedule too, the landings before it left: on its route, and in Chicago from any
    # New York airport; without a flight number, none known.
    chicago = offline[requests[1]["UUID"]]
    assert 2 <= chicago.RouteLandedCount < chicago.DestLandedCount and chicago.DestLandedSlack != -999.0
    assert (no_number.RouteLandedCount, no_number.DestLandedCount, no_number.DestLandedSlack) == (0.0, 0.0, -999.0)
    for request in requests:
        served, expected = responses[request["UUID"]][0], offline[request["UUID"]]
        assert served["Prediction"] == expected.prediction
        assert served["Distance"] == expected.Distance
        assert served["Probabilities"] == pytest.approx(list(expected.probability), abs=1e-6)


def test_a_promotion_is_served_without_restarting_the_job(stream, kafka):
    from mlflow import MlflowClient

    client = MlflowClient()
    name = stream["model_name"]
    first = client.get_model_version(name, "1")
    drivers_before = {p.pid for p in stream_drivers()}
    second = client.create_model_version(name, first.source, run_id=first.run_id, description="test promotion")
    wait_until(lambda: client.get_model_version(name, second.version).status == "READY", 60, "version 2 ready")

    sent: list[str] = []
    promoted_at = None
    versions: dict[str, str] = {}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        request = flight(DepDelay=float(len(sent) % 60))
        kafka.send([request])
        sent.append(request["UUID"])
        if promoted_at is None and len(sent) == 10:
            client.set_registered_model_alias(name, "champion", second.version)
            promoted_at = len(sent)
        kafka.drain(0.3)
        versions = {u: kafka.seen["responses"][u][0]["ModelVersion"] for u in sent if u in kafka.seen["responses"]}
        if promoted_at and list(versions.values())[-5:] == [second.version] * 5:
            break
    responses = kafka.responses(sent)
    assert {u: len(r) for u, r in responses.items() if len(r) != 1} == {}, "answered more than once"
    served = [responses[u][0]["ModelVersion"] for u in sent]
    assert served[-1] == second.version, f"the new version was never served: {Counter(served)}"
    assert served[:10] == ["1"] * 10
    first_new = served.index(second.version)
    assert served[first_new:] == [second.version] * (len(served) - first_new), f"versions went back: {served}"
    assert {p.pid for p in stream_drivers()} == drivers_before, "the job was restarted"


def test_a_killed_job_and_a_killed_sink_lose_and_duplicate_nothing(stream, kafka, mongo, spark, settings,
                                                                    airflow_api):
    """Exactly once under faults: the job's driver JVM killed (kill -9) under load, its task
    retried; then Cassandra killed (kill -9) under load, supervisord restarting it. Every request
    is answered once and stored once in MongoDB, Cassandra, the committed parquet and NiFi's files."""
    import psutil

    from embedded import health
    from embedded.supervision import process_states

    tries_before = task_tries(airflow_api, stream["run_id"])
    first = [flight(DepDelay=float(i)) for i in range(20)]
    kafka.send(first)
    kafka.responses([r["UUID"] for r in first])
    jvm = [p for p in stream_drivers() if "java" in p.name()]
    assert jvm, "no streaming job JVM found"

    during = [flight(DepDelay=float(i)) for i in range(30)]
    kafka.send(during[:15])
    jvm[0].send_signal(signal.SIGKILL)
    kafka.send(during[15:])
    wait_until(lambda: task_tries(airflow_api, stream["run_id"]) > tries_before, 180, "the task to be retried")
    kafka.responses([r["UUID"] for r in during], timeout=420)

    cassandra_pid = process_states(settings)["cassandra"]["pid"]
    assert "java" in psutil.Process(cassandra_pid).name()
    sink_down = [flight(DepDelay=float(i)) for i in range(30)]
    kafka.send(sink_down[:15])
    os.kill(cassandra_pid, signal.SIGKILL)
    kafka.send(sink_down[15:])

    uuids = [r["UUID"] for r in first + during + sink_down]
    responses = kafka.responses(uuids, timeout=420)
    assert {u: len(r) for u, r in responses.items() if len(r) != 1} == {}, "answered more than once"
    check = health.check_cassandra(settings.port("CASSANDRA_PORT"))

    def cassandra_back() -> bool:
        try:
            check()
            return True
        except health.Unhealthy:
            return False

    wait_until(cassandra_back, 240, "Cassandra to be restarted by supervisord", interval=3)
    exactly_once(lambda u: mongo_counts(mongo, u), uuids, 240, "MongoDB")
    from cassandra.cluster import Cluster

    cluster = Cluster(["127.0.0.1"], port=settings.port("CASSANDRA_PORT"))  # the fixture's is still reconnecting
    try:
        session = cluster.connect(NAMES.cassandra_keyspace)
        exactly_once(lambda u: cassandra_counts(session, u), uuids, 240, "Cassandra")
    finally:
        cluster.shutdown()
    exactly_once(lambda u: parquet_counts(spark, u), uuids, 240, "HDFS parquet")
    exactly_once(lambda u: nifi_counts(settings, u), uuids, 120, "NiFi .txt files")


def test_a_stop_request_ends_the_job_cleanly_and_the_status_says_so(stream, kafka, airflow_api, webhdfs, platform):
    """What `make stop` does first: the stop file ends the job, its task succeeds (no "running"
    task is left to hold the DAG's single run), and GET /api/status reports the stream down."""
    import requests

    from flightdelay.serving_status import STREAM_STOP_FILE

    api, run_id = airflow_api, stream["run_id"]
    webhdfs.write(STREAM_STOP_FILE, data="test", overwrite=True, encoding="utf-8")
    try:
        wait_until(lambda: dag_run_state(api, run_id) in ("success", "failed"), 120, "the stream run to end")
        tasks = api.get(f"{api.base}/api/v2/dags/prediction_stream/dagRuns/{run_id}/taskInstances",
                        timeout=30).json()["task_instances"]
        assert {t["task_id"]: t["state"] for t in tasks}["run_stream"] == "success"
        assert dag_run_state(api, run_id) == "success"
        wait_until(lambda: not stream_drivers(), 60, "the job's processes to exit")
        status_url = f"http://127.0.0.1:{platform.port('WEBAPP_PORT')}/api/status"
        status = wait_until(lambda: (lambda s: s if not s["stream"]["running"] else None)(
            requests.get(status_url, timeout=30).json()), 30, "the status to say the stream is down")
        assert status["stream"]["state"] == "stopped" and status["champion"] is not None
        assert status["bootstrap"] is None
        assert status["message"] == "The prediction stream is not running; start prediction_stream in Airflow."
    finally:
        webhdfs.delete(STREAM_STOP_FILE)
        stream["run_id"] = start_stream_run(api, kafka, stream["conf"])

