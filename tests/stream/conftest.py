"""The streaming job, run by the prediction_stream DAG on the real scheduler, serving a model
trained for these tests by the training DAGs; helpers to send requests and read every sink."""
from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Callable

import pytest

from embedded.startup import stream_drivers  # noqa: F401 (the tests' helper too)
from flightdelay.config import NAMES

DAG_ID = "prediction_stream"
MONTHS = ["2013-01", "2013-02", "2013-03"]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 1.0):
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def flight(**overrides) -> dict[str, Any]:
    """A valid request message (fresh UUID); `overrides` replace or add fields."""
    request = {"UUID": str(uuid.uuid4()), "Origin": "JFK", "Dest": "LAX", "Carrier": "AA",
               "FlightDate": "2013-03-14", "DepDelay": 12.0, "FlightNum": "1", "CRSDepTime": "08:30"}
    request.update(overrides)
    return request


def varied_flights(n: int) -> list[dict[str, Any]]:
    """`n` valid requests over several routes and delays."""
    return [flight(DepDelay=float(i * 5 - 20), Origin=("EWR", "JFK", "LGA")[i % 3], Dest=("ORD", "ATL")[i % 2])
            for i in range(n)]


class Kafka:
    """Produce requests; read the response and dead-letter topics from the moment it was created."""

    def __init__(self, bootstrap: str) -> None:
        from confluent_kafka import Consumer, Producer, TopicPartition

        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        self.seen: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"tests-{uuid.uuid4().hex}",
                                  "enable.auto.commit": False, "isolation.level": "read_committed"})
        assignment = []
        for topic in (NAMES.response_topic, NAMES.dlq_topic):
            for partition in self.consumer.list_topics(topic, timeout=30).topics[topic].partitions:
                _, high = self.consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
                assignment.append(TopicPartition(topic, partition, high))
        self.consumer.assign(assignment)

    def send(self, messages: list[dict | str | bytes]) -> None:
        for message in messages:
            key = message.get("UUID") if isinstance(message, dict) else None
            value = json.dumps(message) if isinstance(message, dict) else message
            self.producer.produce(NAMES.request_topic, key=key, value=value)
        self.producer.flush(30)

    def drain(self, seconds: float = 0.5) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = self.consumer.poll(0.2)
            if message is None or message.error():
                continue
            try:
                record = json.loads(message.value())
            except ValueError:  # a foreign record (tests of hostile input write some)
                continue
            if isinstance(record, dict):
                self.take(message, record)

    def take(self, message, record: dict) -> None:
        """Keep one output record: responses by UUID, dead letters by their original text."""
        if message.topic() == NAMES.response_topic:
            self.seen["responses"][record.get("UUID")].append(record)
        else:
            self.seen["dead_letters"][record.get("original") or ""].append(record)

    def responses(self, uuids: list[str], timeout: float = 120) -> dict[str, list[dict]]:
        """Every response of each UUID (waits until each has at least one)."""
        def all_in():
            self.drain()
            return all(u in self.seen["responses"] for u in uuids)

        wait_until(all_in, timeout, f"responses to {len(uuids)} requests", interval=0)
        self.drain(2)  # anything that would be a duplicate of these
        return {u: self.seen["responses"][u] for u in uuids}

    def dead_letters(self, originals: list[str], timeout: float = 120) -> dict[str, list[dict]]:
        def all_in():
            self.drain()
            return all(o in self.seen["dead_letters"] for o in originals)

        wait_until(all_in, timeout, f"{len(originals)} dead letters", interval=0)
        return {o: self.seen["dead_letters"][o] for o in originals}

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture(scope="package")
def kafka(platform):
    client = Kafka(f"127.0.0.1:{platform.port('KAFKA_PORT')}")
    yield client
    client.close()


@pytest.fixture(scope="package")
def champion_model(platform) -> str:
    """A model of the tests' own (small: 3 months, 10 trees), trained and promoted by the training
    DAGs on the feature table the first start built; announce=false, so the live chain and its
    champion are left alone."""
    from dags.evaluate_model import evaluate_model_dag
    from dags.train_model import train_model_dag
    from tests.training.conftest import run_dag

    name = f"stream_rf_{uuid.uuid4().hex[:8]}"
    run_dag(train_model_dag, model_name=name, from_month=MONTHS[0], to_month=MONTHS[-1], num_trees=10, max_depth=5)
    run_dag(evaluate_model_dag, model_name=name, version="1")
    return name


def dag_run_state(api, run_id: str, dag_id: str = DAG_ID) -> str:
    return api.get(f"{api.base}/api/v2/dags/{dag_id}/dagRuns/{run_id}", timeout=30).json()["state"]


def task_tries(api, run_id: str, task_id: str = "run_stream") -> int:
    response = api.get(f"{api.base}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}", timeout=30)
    return response.json().get("try_number", 0) if response.status_code == 200 else 0


def fail_active_runs(api, keep: str | None = None, dag_id: str = DAG_ID) -> None:
    runs = api.get(f"{api.base}/api/v2/dags/{dag_id}/dagRuns", params={"state": ["running", "queued"]},
                   timeout=30).json()["dag_runs"]
    for run in runs:
        if run["dag_run_id"] != keep:
            api.patch(f"{api.base}/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}", json={"state": "failed"},
                      timeout=30).raise_for_status()


def trigger_alone(api, dag_id: str, conf: dict | None = None) -> str:
    """Unpause `dag_id`, trigger a run with `conf` and return its id once it has left the queue.

    One active run at a time: unpausing makes the scheduler create its latest scheduled run, at
    a moment of its own choosing (before or after the trigger), and a run triggered behind it
    would wait. So every other active run is failed until the triggered one is running.
    """
    api.patch(f"{api.base}/api/v2/dags/{dag_id}", json={"is_paused": False}, timeout=30).raise_for_status()
    response = api.post(f"{api.base}/api/v2/dags/{dag_id}/dagRuns", timeout=30,
                        json={"logical_date": None, "conf": conf or {}})
    assert response.status_code == 200, response.text
    run_id = response.json()["dag_run_id"]

    def started() -> bool:
        fail_active_runs(api, keep=run_id, dag_id=dag_id)
        return dag_run_state(api, run_id, dag_id) != "queued"

    wait_until(started, 120, f"{dag_id} run {run_id} to leave the queue", interval=2)
    return run_id


STREAM_CONF = {"lease_minutes": 60, "model_poll_seconds": 2, "archive_trigger": "5 seconds"}


def start_stream_run(api, kafka: Kafka, conf: dict) -> str:
    """Trigger a prediction_stream run with `conf` through the Airflow API; return its run id once
    the job answers requests."""
    wait_until(lambda: api.get(f"{api.base}/api/v2/dags/{DAG_ID}", timeout=30).status_code == 200, 120,
               f"{DAG_ID} to be listed")
    run_id = trigger_alone(api, DAG_ID, conf)
    probes = []

    def answered() -> bool:  # a fresh probe every 30 s: one sent before the query started may wait
        if not probes or time.monotonic() - probes[-1][1] > 30:
            probes.append((flight(), time.monotonic()))
            kafka.send([probes[-1][0]])
        kafka.drain()
        return any(p["UUID"] in kafka.seen["responses"] for p, _ in probes)

    wait_until(answered, 600, "the stream to answer a probe request", interval=0)
    return run_id


def stop_stream(api, resume: bool = False) -> None:
    """Pause the DAG, fail its active runs and wait until no streaming job is left; `resume`
    unpauses it again (the live stream is resubmitted by its schedule)."""
    api.patch(f"{api.base}/api/v2/dags/{DAG_ID}", json={"is_paused": True}, timeout=30)
    fail_active_runs(api)
    try:
        wait_until(lambda: not stream_drivers(), 120, "the streaming job to stop")
    finally:
        for process in stream_drivers():
            process.kill()
        if resume:
            api.patch(f"{api.base}/api/v2/dags/{DAG_ID}", json={"is_paused": False}, timeout=30)


@contextmanager
def stream_in_mode(stream: dict, api, kafka: Kafka, mode: str, while_stopped: Callable[[], Any] | None = None):
    """The tests' stream restarted in respond mode `mode` on the same checkpoint (yields its run
    id; `while_stopped()` runs in between); restarted in the default mode after, with
    stream["run_id"] updated."""
    stop_stream(api)
    try:
        if while_stopped is not None:
            while_stopped()
        yield start_stream_run(api, kafka, {**stream["conf"], "respond_mode": mode})
    finally:
        stop_stream(api)
        stream["run_id"] = start_stream_run(api, kafka, stream["conf"])


@pytest.fixture(scope="package")
def stream(airflow_api, champion_model, kafka):
    """A prediction_stream run triggered through the Airflow API, answering requests (the DAG's
    default mode, real-time). A test that replaces it restores it and updates run_id."""
    conf = {**STREAM_CONF, "model_name": champion_model}
    state = {"model_name": champion_model, "conf": conf}
    try:
        state["run_id"] = start_stream_run(airflow_api, kafka, conf)
        yield state
    finally:
        stop_stream(airflow_api, resume=True)
