"""The web app on the running platform (gunicorn on 127.0.0.1:5001, real Kafka and streaming
job): POST -> prediction over the WebSocket, lookup by UUID, the timeout message, one answer per
socket; then the page itself in headless Chromium (Debian's, driven by Selenium)."""
from __future__ import annotations

import json
import threading

import pytest
import requests
from websockets.sync.client import connect

from tests.browser import browser_factory, fill, open_form, wait_answer  # noqa: F401 (fixture)
from tests.stream.conftest import wait_until

FLIGHT = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-03-14", "DepDelay": 25}


@pytest.fixture(scope="module")
def base(platform) -> str:
    return f"http://127.0.0.1:{platform.port('WEBAPP_PORT')}"


def ask(base: str, flight: dict, timeout: float = 60) -> tuple[str, dict]:
    """Open a socket, POST the flight with the reserved UUID, return (uuid, socket message)."""
    with connect(base.replace("http", "ws") + "/ws/predictions", open_timeout=30) as socket:
        ready = json.loads(socket.recv(timeout=30))
        assert ready["type"] == "ready"
        response = requests.post(f"{base}/api/predictions", json={**flight, "UUID": ready["UUID"]}, timeout=30)
        assert response.status_code == 202, response.text
        assert response.json()["UUID"] == ready["UUID"]
        socket.send(json.dumps({"type": "submitted", "UUID": ready["UUID"]}))
        return ready["UUID"], json.loads(socket.recv(timeout=timeout))


def test_post_then_prediction_over_the_websocket_then_lookup(stream, base):
    request_id, message = ask(base, FLIGHT)
    assert message["type"] == "prediction"
    prediction = message["prediction"]
    assert prediction["UUID"] == request_id and prediction["Origin"] == "JFK"
    assert prediction["ModelName"] == stream["model_name"]
    stored = wait_until(lambda: (r := requests.get(f"{base}/api/predictions/{request_id}", timeout=30)).status_code
                        == 200 and r.json(), 120, "the stored prediction")
    assert stored["UUID"] == request_id and stored["Prediction"] == prediction["Prediction"]


def test_unknown_uuid_is_404_pending(base):
    response = requests.get(f"{base}/api/predictions/5f0c8f3e-8a59-4b43-9d7e-2b8f5a1f7c11", timeout=30)
    assert response.status_code == 404 and response.json()["status"] == "pending"


def test_no_answer_within_the_timeout_gets_a_clear_message(base):
    with connect(base.replace("http", "ws") + "/ws/predictions", open_timeout=30) as socket:
        ready = json.loads(socket.recv(timeout=30))
        socket.send(json.dumps({"type": "submitted", "UUID": ready["UUID"]}))  # never produced
        message = json.loads(socket.recv(timeout=60))
    assert message["type"] == "timeout" and f"/api/predictions/{ready['UUID']}" in message["message"]


def test_two_sessions_at_once_each_get_only_their_own_answer(stream, base):
    results: dict[int, tuple[str, dict]] = {}

    def session(i: int) -> None:
        results[i] = ask(base, {**FLIGHT, "DepDelay": 5 + i * 50})

    threads = [threading.Thread(target=session, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert len(results) == 2
    for i, (request_id, message) in results.items():
        assert message["type"] == "prediction" and message["prediction"]["UUID"] == request_id
        assert message["prediction"]["DepDelay"] == 5 + i * 50
    assert results[0][0] != results[1][0]


# --- the page in a real browser ------------------------------------------------------------------

def test_browser_submits_the_form_and_sees_the_prediction(stream, base, browser_factory, output_dir):
    from selenium.webdriver.common.by import By

    driver = browser_factory()
    open_form(driver, base)
    fill(driver, {**FLIGHT, "CRSDepTime": "08:30"})
    driver.find_element(By.ID, "submit").click()
    wait_answer(driver)
    band = driver.find_element(By.ID, "band").text
    assert band in ("early (15+ min)", "slightly early (0-15 min)", "slightly late (0-30 min)", "very late (30+ min)")
    assert driver.find_element(By.ID, "model").text.startswith(stream["model_name"])
    assert driver.find_element(By.ID, "elapsed").text.endswith(" ms")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#chart .row")) == 4
    driver.save_screenshot(str(output_dir / "webapp-prediction.png"))


def test_browser_shows_field_errors_for_an_invalid_form(base, browser_factory, output_dir):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser_factory()
    open_form(driver, base)
    fill(driver, {"Origin": "JFK", "Dest": "JFK", "Carrier": "ZZ", "DepDelay": "9999"})
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "Dest-error").text)
    assert driver.find_element(By.ID, "Dest-error").text == "must differ from Origin"
    assert "unknown carrier" in driver.find_element(By.ID, "Carrier-error").text
    assert driver.find_element(By.ID, "FlightDate-error").text == "is required"
    assert "between" in driver.find_element(By.ID, "DepDelay-error").text
    assert driver.find_element(By.ID, "result").get_attribute("hidden") is not None
    driver.save_screenshot(str(output_dir / "webapp-field-errors.png"))


def test_two_browser_sessions_each_see_only_their_own_answer(stream, base, browser_factory):
    from selenium.webdriver.common.by import By

    first, second = browser_factory(), browser_factory()
    for driver in (first, second):
        open_form(driver, base)
    fill(first, {**FLIGHT, "DepDelay": 0})
    fill(second, {**FLIGHT, "Origin": "EWR", "Dest": "ORD", "Carrier": "UA", "DepDelay": 120})
    first.find_element(By.ID, "submit").click()
    second.find_element(By.ID, "submit").click()
    wait_answer(first)
    wait_answer(second)
    uuids = [d.find_element(By.ID, "uuid").text for d in (first, second)]
    assert uuids[0] != uuids[1]
    for driver, request_id, origin in ((first, uuids[0], "JFK"), (second, uuids[1], "EWR")):
        stored = wait_until(lambda: (r := requests.get(f"{base}/api/predictions/{request_id}", timeout=30))
                            .status_code == 200 and r.json(), 120, "the stored prediction")
        assert stored["Origin"] == origin
