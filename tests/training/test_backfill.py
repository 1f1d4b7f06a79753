"""A backfill over a date range, created through the Airflow API and run by the scheduler,
downloads exactly the months of that range."""
from __future__ import annotations

import json
import time

import requests
from hdfs import InsecureClient

from flightdelay import lake

DAG_ID = "download_flights"


def _api(platform) -> requests.Session:
    base = f"http://127.0.0.1:{platform.port('AIRFLOW_PORT')}"
    password = json.loads((platform.airflow_home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
    token = requests.post(f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=30)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    session.base = base
    return session


def test_backfill_downloads_exactly_the_range(platform):
    api = _api(platform)
    hdfs = InsecureClient(f"http://127.0.0.1:{platform.port('HDFS_HTTP_PORT')}", user="spark")
    for month in ("2013-06", "2013-07", "2013-08"):
        hdfs.delete(lake.partition(lake.RAW, "nycflights13", month), recursive=True)

    for backfill in api.get(f"{api.base}/api/v2/backfills", params={"dag_id": DAG_ID}, timeout=30).json()["backfills"]:
        if backfill["completed_at"] is None:  # an earlier, unfinished backfill blocks a new one
            api.put(f"{api.base}/api/v2/backfills/{backfill['id']}/cancel", timeout=30).raise_for_status()
    response = api.post(f"{api.base}/api/v2/backfills", timeout=30, json={
        "dag_id": DAG_ID, "from_date": "2013-06-01T00:00:00Z", "to_date": "2013-07-01T00:00:00Z",
        "max_active_runs": 2, "reprocess_behavior": "completed", "dag_run_conf": {}})
    assert response.status_code == 200, response.text
    backfill_id = response.json()["id"]
    started_ms = time.time() * 1000
    api.patch(f"{api.base}/api/v2/dags/{DAG_ID}", json={"is_paused": False}, timeout=30).raise_for_status()
    try:
        deadline = time.monotonic() + 420
        while time.monotonic() < deadline:
            if api.get(f"{api.base}/api/v2/backfills/{backfill_id}", timeout=30).json()["completed_at"]:
                break
            time.sleep(5)
        runs = api.get(f"{api.base}/api/v2/dags/{DAG_ID}/dagRuns", params={"run_type": "backfill", "limit": 100},
                       timeout=30).json()["dag_runs"]
        states = {r["logical_date"][:7]: r["state"] for r in runs if r["logical_date"][:7] in ("2013-06", "2013-07")}
        assert states == {"2013-06": "success", "2013-07": "success"}, states
    finally:
        api.patch(f"{api.base}/api/v2/dags/{DAG_ID}", json={"is_paused": True}, timeout=30)
    for month in ("2013-06", "2013-07"):
        manifest = hdfs.status(f"{lake.partition(lake.RAW, 'nycflights13', month)}/_manifest.json")
        assert manifest["modificationTime"] >= started_ms - 5000, f"{month} was not downloaded by the backfill"
    assert hdfs.status(lake.partition(lake.RAW, "nycflights13", "2013-08"), strict=False) is None
