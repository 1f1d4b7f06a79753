"""The canary DAG, run by the scheduler while the stream runs: its known request reaches every
sink, each checked by its own sensor task."""
from __future__ import annotations

import time

from tests.stream.conftest import dag_run_state, trigger_alone, wait_until

DAG_ID = "prediction_canary"
SINK_TASKS = {"kafka_response_topic", "mongodb", "cassandra", "hdfs_partition", "hdfs_parquet_record", "nifi_txt_file"}


def test_canary_finds_its_prediction_in_every_sink(stream, airflow_api):
    api = airflow_api
    wait_until(lambda: api.get(f"{api.base}/api/v2/dags/{DAG_ID}", timeout=30).status_code == 200, 120,
               f"{DAG_ID} to be listed")
    run_id = trigger_alone(api, DAG_ID)  # the run under test is the one triggered here
    deadline = time.monotonic() + 600
    state = "queued"
    while time.monotonic() < deadline and state not in ("success", "failed"):
        time.sleep(5)
        state = dag_run_state(api, run_id, DAG_ID)
    tasks = api.get(f"{api.base}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", timeout=30).json()
    states = {t["task_id"]: t["state"] for t in tasks["task_instances"]}
    assert state == "success", f"canary run ended {state}: {states}"
    assert {task: states[task] for task in SINK_TASKS} == dict.fromkeys(SINK_TASKS, "success")
