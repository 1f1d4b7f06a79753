"""The state `make run` leaves on a fresh platform (CI's clean clone): the form answers in a real
browser, `GET /api/status` says it serves, and every DAG run of the first start succeeded. These
run before every other test, which would change that state."""
from __future__ import annotations

import pytest
import requests

from flightdelay.config import NAMES
from tests.browser import browser_factory, fill, open_form, wait_answer  # noqa: F401 (fixture)

pytestmark = pytest.mark.first

FLIGHT = {"Origin": "LGA", "Dest": "ORD", "Carrier": "UA", "FlightDate": "2013-07-19", "DepDelay": 35,
          "CRSDepTime": "17:45"}


@pytest.fixture(scope="module")
def base(platform) -> str:
    return f"http://127.0.0.1:{platform.port('WEBAPP_PORT')}"


def test_the_form_answers_in_a_browser_right_after_make_run(base, browser_factory, output_dir):
    """No Airflow call here: only what a person does (open the page, submit the form)."""
    from selenium.webdriver.common.by import By

    driver = browser_factory()
    open_form(driver, base)
    assert not driver.find_element(By.ID, "platform-status").is_displayed()  # nothing to warn about
    fill(driver, FLIGHT)
    driver.find_element(By.ID, "submit").click()
    wait_answer(driver, timeout=30)
    assert driver.find_element(By.ID, "model").text.startswith(NAMES.model_name)
    driver.save_screenshot(str(output_dir / "first-start-prediction.png"))


def test_status_says_serving_with_the_bootstrapped_champion(base):
    status = requests.get(f"{base}/api/status", timeout=30).json()
    assert status["serving"] is True, status
    assert status["champion"]["name"] == NAMES.model_name and int(status["champion"]["version"]) >= 1
    assert status["stream"]["running"] is True and status["stream"]["since"]
    assert status["bootstrap"] is None and status["message"] == ""


def test_every_dag_run_of_the_first_start_succeeded(airflow_api):
    """Finished runs succeeded, none waits in the queue, one run holds the streaming job, and the
    first model was trained once."""
    api = airflow_api
    dags = [d["dag_id"] for d in api.get(f"{api.base}/api/v2/dags", params={"limit": 100}, timeout=30).json()["dags"]]
    assert "setup_platform" in dags
    states: dict[str, list[str]] = {}
    for dag_id in dags:
        runs = api.get(f"{api.base}/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}, timeout=30).json()["dag_runs"]
        states[dag_id] = [run["state"] for run in runs]
    bad = {dag_id: s for dag_id, s in states.items() if {"failed", "queued"} & set(s)}
    assert bad == {}, bad
    running = {dag_id: s.count("running") for dag_id, s in states.items() if "running" in s}
    assert set(running) <= {"prediction_stream", "check_platform", "prediction_canary"}, running
    streams = api.get(f"{api.base}/api/v2/dags/prediction_stream/dagRuns/~/taskInstances",
                      params={"task_id": "run_stream", "state": ["running"]}, timeout=30).json()["task_instances"]
    assert len(streams) == 1, f"{len(streams)} streaming jobs"
    for dag_id in ("setup_platform", "download_flights", "validate_flights", "build_features", "evaluate_model"):
        assert "success" in states[dag_id], (dag_id, states[dag_id])
    fits = []
    for run in api.get(f"{api.base}/api/v2/dags/train_model/dagRuns", timeout=30).json()["dag_runs"]:
        tasks = api.get(f"{api.base}/api/v2/dags/train_model/dagRuns/{run['dag_run_id']}/taskInstances",
                        timeout=30).json()["task_instances"]
        fits += [t["state"] for t in tasks if t["task_id"] == "fit_model" and t["state"] == "success"]
    assert len(fits) == 1, f"the first model was trained {len(fits)} times"


def test_status_without_a_champion_names_the_bootstrap_step(webhdfs):
    """Read through the real HDFS and MLflow for a model name that has no version yet: the lake
    is complete, so the first start would be training it (step 3 of 5)."""
    from flightdelay.serving_status import Registry, read_status

    status = read_status(webhdfs, Registry(), "no_such_model_yet")
    assert status["champion"] is None and status["serving"] is False
    assert status["bootstrap"] == {"step": 3, "total": 5, "name": "train the first model"}
    assert "step 3 of 5" in status["message"] and "queued" in status["message"]
