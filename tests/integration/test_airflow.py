"""Airflow: the API requires authentication, lists the project's DAGs, and runs one."""
from __future__ import annotations

import time

import pytest
import requests

DAG_ID = "check_platform"


@pytest.fixture
def api(airflow_api):
    return airflow_api


def test_api_rejects_anonymous_requests(platform):
    response = requests.get(f"http://127.0.0.1:{platform.port('AIRFLOW_PORT')}/api/v2/dags", timeout=30)
    assert response.status_code == 401


def _wait_for_dag(api, dag_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.get(f"{api.base}/api/v2/dags/{dag_id}", timeout=30)
        if response.status_code == 200:
            return response.json()
        time.sleep(3)
    pytest.fail(f"{dag_id} not listed by the API after {timeout}s")


def test_api_lists_project_dags(api):
    from pathlib import Path

    dag_files = {p.stem for p in (Path(__file__).resolve().parents[2] / "dags").glob("*.py")}
    for dag_id in dag_files:
        _wait_for_dag(api, dag_id)
    listed = {d["dag_id"] for d in api.get(f"{api.base}/api/v2/dags", params={"limit": 100}, timeout=30).json()["dags"]}
    assert dag_files <= listed


def test_triggered_run_succeeds(api):
    """The scheduler, the LocalExecutor and every connection used by check_platform work."""
    _wait_for_dag(api, DAG_ID)
    assert not api.get(f"{api.base}/api/v2/dags/{DAG_ID}", timeout=30).json()["is_paused"], "active from the start"
    response = api.post(f"{api.base}/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None}, timeout=30)
    assert response.status_code == 200, response.text
    run_id = response.json()["dag_run_id"]
    deadline = time.monotonic() + 300
    state = "queued"
    while time.monotonic() < deadline and state not in ("success", "failed"):
        time.sleep(3)
        state = api.get(f"{api.base}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", timeout=30).json()["state"]
    tasks = api.get(f"{api.base}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", timeout=30).json()
    states = {t["task_id"]: t["state"] for t in tasks["task_instances"]}
    assert state == "success", f"run ended {state}: {states}"
    assert set(states) == {"wait_for_setup", "check_kafka", "check_hdfs", "check_mongo", "check_cassandra",
                           "check_mlflow"}
