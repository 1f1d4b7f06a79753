"""A backfill over a date range, created through the Airflow API and run by the scheduler,
downloads exactly the months of that range."""
from __future__ import annotations

import time

from flightdelay import lake

DAG_ID = "download_flights"


def test_backfill_downloads_exactly_the_range(airflow_api, webhdfs):
    api = airflow_api
    for month in ("2013-06", "2013-07", "2013-08"):
        webhdfs.delete(lake.partition(lake.RAW, "nycflights13", month), recursive=True)

    for backfill in api.get(f"{api.base}/api/v2/backfills", params={"dag_id": DAG_ID}, timeout=30).json()["backfills"]:
        if backfill["completed_at"] is None:  # an earlier, unfinished backfill blocks a new one
            api.put(f"{api.base}/api/v2/backfills/{backfill['id']}/cancel", timeout=30).raise_for_status()
    response = api.post(f"{api.base}/api/v2/backfills", timeout=30, json={
        "dag_id": DAG_ID, "from_date": "2013-06-01T00:00:00Z", "to_date": "2013-07-01T00:00:00Z",
        "max_active_runs": 2, "reprocess_behavior": "completed",
        "dag_run_conf": {"announce": False}})  # the backfill does not start the live chain
    assert response.status_code == 200, response.text
    backfill_id = response.json()["id"]
    started_ms = time.time() * 1000
    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        if api.get(f"{api.base}/api/v2/backfills/{backfill_id}", timeout=30).json()["completed_at"]:
            break
        time.sleep(5)
    runs = api.get(f"{api.base}/api/v2/dags/{DAG_ID}/dagRuns", params={"run_type": "backfill", "limit": 100},
                   timeout=30).json()["dag_runs"]
    states = {r["logical_date"][:7]: r["state"] for r in runs if r["logical_date"][:7] in ("2013-06", "2013-07")}
    assert states == {"2013-06": "success", "2013-07": "success"}, states
    for month in ("2013-06", "2013-07"):
        manifest = webhdfs.status(f"{lake.partition(lake.RAW, 'nycflights13', month)}/_manifest.json")
        assert manifest["modificationTime"] >= started_ms - 5000, f"{month} was not downloaded by the backfill"
    assert webhdfs.status(lake.partition(lake.RAW, "nycflights13", "2013-08"), strict=False) is None
    from dags.download_flights import download_flights_dag
    from tests.training.conftest import run_dag

    # the lake whole again
    run_dag(download_flights_dag, source="nycflights13", start_month="2013-08", end_month="2013-08")
