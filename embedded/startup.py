"""The start's trigger-and-wait: run the setup_platform DAG, follow the first-start bootstrap
through the Airflow API and the platform's status, and prove that the form answers.

Nothing here sets anything up itself: every step is a DAG run that shows in the Airflow UI.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Callable

import requests

from embedded.airflow_client import AirflowClient
from embedded.settings import Settings

SETUP_DAG = "setup_platform"
STREAM_DAG = "prediction_stream"
CHAIN = (SETUP_DAG, "download_flights", "validate_flights", "build_features", "train_model", "evaluate_model",
         STREAM_DAG)
SETUP_TIMEOUT_S = 900
SERVING_TIMEOUT_S = 3600
ANSWER_TIMEOUT_S = 300
IDLE_TIMEOUT_S = 180  # no DAG task running and not serving: something stopped the start
POLL_S = 3.0


class StageFailed(Exception):
    """A DAG run of the start failed, or a wait ran out; the message names the DAG and task and
    carries the last lines of its log."""


class Progress:
    """Prints a line when what is awaited changes, with the seconds since the start."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.last: str | None = None

    def say(self, text: str, force: bool = False) -> None:
        if force or text != self.last:
            print(f"  [{time.monotonic() - self.started:5.0f}s] {text}", flush=True)
            self.last = text


def _airflow(s: Settings, progress: Progress) -> AirflowClient:
    """A logged-in client once the API answers and the DAG processor has parsed setup_platform."""
    client = AirflowClient(s)
    deadline = time.monotonic() + SETUP_TIMEOUT_S
    while True:
        try:
            client.login()
            if client.dag(SETUP_DAG) is not None:
                return client
            progress.say(f"waiting for the DAG processor to parse {SETUP_DAG}")
        except (requests.RequestException, OSError, KeyError, ValueError) as exc:
            progress.say(f"waiting for the Airflow API ({type(exc).__name__})")
        if time.monotonic() > deadline:
            raise StageFailed(f"{SETUP_DAG} was not listed by the Airflow API within {SETUP_TIMEOUT_S} s; "
                              f"see {s.logs}/airflow-dag-processor.log")
        time.sleep(POLL_S)


def failure(client: AirflowClient, dag_id: str, run: dict) -> StageFailed:
    """A StageFailed naming the failed task of `run` with its log's last lines."""
    first = next((ti for ti in client.task_instances(dag_id, run["dag_run_id"]) if ti["state"] == "failed"), None)
    if first is None:
        return StageFailed(f"DAG {dag_id} run {run['dag_run_id']} failed (no failed task recorded)")
    log = client.task_log(dag_id, run["dag_run_id"], first["task_id"], first.get("try_number") or 1)
    return StageFailed(f"DAG {dag_id}, task {first['task_id']} failed (run {run['dag_run_id']}, try "
                       f"{first.get('try_number')}); last lines of its log:\n{log}")


class SetupRun:
    """The setup_platform run of this start: triggered at once, followed until it is done."""

    def __init__(self, client: AirflowClient, progress: Progress) -> None:
        self.client, self.progress = client, progress
        self.run_id = client.trigger(SETUP_DAG)
        self.done = False
        progress.say(f"{SETUP_DAG}: triggered ({self.run_id})", force=True)

    def check(self) -> bool:
        """True once the run succeeded; raises StageFailed if it failed."""
        if not self.done:
            run = self.client.run(SETUP_DAG, self.run_id)
            if run["state"] == "failed":
                raise failure(self.client, SETUP_DAG, run)
            if run["state"] == "success":
                self.done = True
                self.progress.say(f"{SETUP_DAG}: done", force=True)
        return self.done

    def wait(self) -> None:
        deadline = time.monotonic() + SETUP_TIMEOUT_S
        while not self.check():
            running = [ti["task_id"] for ti in self.client.task_instances(SETUP_DAG, self.run_id)
                       if ti["state"] in ("running", "up_for_retry", "up_for_reschedule")]
            self.progress.say(f"{SETUP_DAG}: running" + (f" ({', '.join(running)})" if running else ""))
            if time.monotonic() > deadline:
                raise StageFailed(f"{SETUP_DAG} run {self.run_id} not done after {SETUP_TIMEOUT_S} s")
            time.sleep(POLL_S)


def _active_tasks(client: AirflowClient) -> list[str]:
    lines = []
    for dag_id in CHAIN[1:]:
        for run in client.runs(dag_id, state=["running"]):
            tasks = [ti["task_id"] for ti in client.task_instances(dag_id, run["dag_run_id"])
                     if ti["state"] in ("running", "up_for_retry", "up_for_reschedule", "deferred")]
            if tasks:
                lines.append(f"{dag_id}: {', '.join(tasks)} running")
    return lines


class ProofRequest:
    """One request through the form's API (POST /api/predictions), followed until its answer."""

    def __init__(self, s: Settings, progress: Progress) -> None:
        from flightdelay.canary import CANARY_FIELDS

        self.base = f"http://127.0.0.1:{s.port('WEBAPP_PORT')}"
        self.started = time.monotonic()
        response = requests.post(f"{self.base}/api/predictions", json=CANARY_FIELDS, timeout=30)
        if response.status_code != 202:
            raise StageFailed(f"webapp: POST /api/predictions answered {response.status_code}: "
                              f"{response.text[:300]}")
        self.uuid = response.json()["UUID"]
        progress.say(f"webapp: request {self.uuid} sent, waiting for its prediction", force=True)

    def answer(self) -> dict | None:
        response = requests.get(f"{self.base}/api/predictions/{self.uuid}", timeout=30)
        return response.json() if response.status_code == 200 else None


def wait_serving(s: Settings, client: AirflowClient, since: str, progress: Progress, setup: SetupRun) -> bool:
    """Follow the platform's status until the form answers: a request is sent once the stream's
    job is starting (it waits in Kafka) and its answer proves serving. False if the stream DAG is
    paused. The setup run goes on meanwhile (its last tasks wait for services the stream does not need)."""
    from flightdelay.config import NAMES
    from flightdelay.serving_status import Registry, read_status

    hdfs = _webhdfs(s)
    registry = Registry(f"http://127.0.0.1:{s.port('MLFLOW_PORT')}")
    deadline = time.monotonic() + SERVING_TIMEOUT_S
    idle_since = None
    proof: ProofRequest | None = None
    while True:
        status = read_status(hdfs, registry, NAMES.model_name)
        if proof is None and status["champion"] and status["stream"]["state"] in ("starting", "serving"):
            proof = ProofRequest(s, progress)
        setup.check()
        for dag_id in CHAIN[1:]:
            # Runs that failed during this start: a run failed while queued (by a test, by hand)
            # has no start_date, which start_date_gte lets through.
            for run in client.runs(dag_id, state=["failed"], end_date_gte=since):
                raise failure(client, dag_id, run)
        if status["champion"] and (client.dag(STREAM_DAG) or {}).get("is_paused"):
            progress.say(f"{STREAM_DAG} is paused in Airflow: the form will not answer until it is unpaused",
                         force=True)
            return False
        bootstrap = status["bootstrap"]
        step = (f"step {bootstrap['step']}/{bootstrap['total']}: {bootstrap.get('detail') or bootstrap['name']}"
                if bootstrap
                else f"{STREAM_DAG}: waiting for the job to serve (heartbeat: {status['stream']['state']})")
        active = _active_tasks(client)
        progress.say("; ".join([step, *active]))
        busy = active or not setup.done or status["stream"]["state"] == "starting"
        idle_since = None if busy else idle_since or time.monotonic()
        if idle_since and time.monotonic() - idle_since > IDLE_TIMEOUT_S:
            raise StageFailed(f"nothing has run for {IDLE_TIMEOUT_S} s and the platform does not serve: "
                              f"{status['message']} (see the DAG runs in the Airflow UI)")
        if time.monotonic() > deadline:
            raise StageFailed(f"not serving after {SERVING_TIMEOUT_S} s: {status['message']}")
        polled = time.monotonic()
        while time.monotonic() - polled < POLL_S:
            answer = proof.answer() if proof else None
            if answer:
                progress.say(f"first prediction answered: {STREAM_DAG} serves {NAMES.model_name}; the request "
                             f"sent while the job started waited {time.monotonic() - proof.started:.1f} s "
                             f"({answer.get('PredictionLabel')})", force=True)
                return True
            time.sleep(0.1 if proof else POLL_S)


def prove_answer(s: Settings, progress: Progress) -> float:
    """One more request through the form's API, now that it serves; returns its milliseconds."""
    proof = ProofRequest(s, progress)
    while time.monotonic() - proof.started < ANSWER_TIMEOUT_S:
        answer = proof.answer()
        if answer:
            elapsed = (time.monotonic() - proof.started) * 1000
            progress.say(f"the form answers: one more request answered in {elapsed:.0f} ms "
                         f"({answer.get('PredictionLabel')})", force=True)
            return elapsed
        time.sleep(0.02)
    raise StageFailed(f"webapp: no prediction for {proof.uuid} within {ANSWER_TIMEOUT_S} s; see {s.logs}/webapp.log "
                      f"and the {STREAM_DAG} task log in Airflow")


def start_and_wait(s: Settings, wait: str, after_setup: Callable[[], None]) -> None:
    """Trigger setup_platform; unless `wait` is "services", wait until the platform serves and a
    request sent through the web API is answered; then wait for setup_platform to be done."""
    progress = Progress()
    since = datetime.now(timezone.utc).isoformat()
    print("First-start and serving checks (each step is a DAG run in the Airflow UI):", flush=True)
    client = _airflow(s, progress)
    clear_stop_request(s)
    setup = SetupRun(client, progress)
    if wait == "services":
        progress.say("WAIT=services: not waiting for the stream to serve", force=True)
    elif wait_serving(s, client, since, progress, setup):
        prove_answer(s, progress)
    setup.wait()
    after_setup()


def _webhdfs(s: Settings):
    from hdfs import InsecureClient

    return InsecureClient(f"http://127.0.0.1:{s.port('HDFS_HTTP_PORT')}", user="spark")


def clear_stop_request(s: Settings) -> None:
    """Remove the stop file of the last `make stop`, so that the stream may start again."""
    from flightdelay.serving_status import STREAM_STOP_FILE

    _webhdfs(s).delete(STREAM_STOP_FILE)


def stream_drivers() -> list:
    """The running streaming job's processes (spark-submit JVM and its Python driver)."""
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if any(part.endswith("prediction_stream.py") for part in cmdline):
            found.append(process)
    return found


def stop_stream(s: Settings, timeout: float = 90) -> None:
    """Ask a running streaming job to end cleanly (the stop file) and wait until its Airflow task
    has ended, so that no "running" task holds the stream DAG's single active run after a restart."""
    import psutil

    from flightdelay.serving_status import STREAM_STOP_FILE

    if stream_drivers():
        print("Stopping the prediction stream (it ends its queries; its Airflow task succeeds) ...", flush=True)
    try:
        _webhdfs(s).write(
            STREAM_STOP_FILE, data=datetime.now(timezone.utc).isoformat(), overwrite=True, encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - HDFS down: the services stop anyway
        print(f"  could not write the stop file ({exc}); the stream is stopped with the services", flush=True)
        return
    _gone, alive = psutil.wait_procs(stream_drivers(), timeout=timeout)
    if alive:
        print(f"  the stream did not stop within {timeout:.0f} s; it is stopped with the services", flush=True)
        return
    try:
        client = AirflowClient(s).login()
        deadline = time.monotonic() + 60
        while client.runs(STREAM_DAG, state=["running"]) and time.monotonic() < deadline:
            time.sleep(1)
    except (requests.RequestException, OSError, KeyError, ValueError) as exc:
        print(f"  Airflow did not answer ({exc})", flush=True)
    print("  prediction stream stopped", flush=True)
