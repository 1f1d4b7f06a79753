"""Promotion rule, time split and the slack (route history) encoder."""
from __future__ import annotations

import datetime as dt

import pytest

from flightdelay.modeling import decide_promotion, time_split

BASELINE = {"f1_macro": 0.11}


def test_first_model_is_promoted_when_it_beats_the_baseline():
    decision = decide_promotion({"f1_macro": 0.5}, None, BASELINE)
    assert decision.promote and "first model" in decision.reason


def test_model_not_better_than_baseline_is_rejected_even_without_champion():
    decision = decide_promotion({"f1_macro": 0.1}, None, BASELINE)
    assert not decision.promote and "baseline" in decision.reason


def test_candidate_must_beat_champion_by_the_margin():
    assert not decide_promotion({"f1_macro": 0.52}, {"f1_macro": 0.515}, BASELINE, margin=0.01).promote
    assert decide_promotion({"f1_macro": 0.53}, {"f1_macro": 0.515}, BASELINE, margin=0.01).promote
    rejected = decide_promotion({"f1_macro": 0.50}, {"f1_macro": 0.515}, BASELINE)
    assert "does not beat the champion 0.5150" in rejected.reason


def test_time_split_holds_out_the_latest_months(local_spark):
    rows = [(dt.date(2013, m, 5),) for m in (1, 1, 2, 3, 3, 3)]
    frame = local_spark.createDataFrame(rows, "FlightDate DATE")
    train, holdout, months = time_split(frame, 1)
    assert months == ["2013-03"] and holdout.count() == 3 and train.count() == 3
    with pytest.raises(ValueError):
        time_split(frame.where("month(FlightDate) = 1"), 1)


def test_slack_encoder_learns_from_training_rows_only(local_spark):
    from flightdelay.history import SlackEncoder

    columns = "Route STRING, Carrier STRING, Origin STRING, Dest STRING, DepHour DOUBLE, DepDelay DOUBLE"
    train = local_spark.createDataFrame(
        [("JFK-LAX", "AA", "JFK", "LAX", 8.0, 10.0, 0.0), ("JFK-LAX", "AA", "JFK", "LAX", 9.0, 10.0, -20.0),
         ("JFK-ORD", "UA", "JFK", "ORD", 8.0, 0.0, 10.0)], f"{columns}, ArrDelay DOUBLE")
    model = SlackEncoder(smoothing=0.0).fit(train)
    serve = local_spark.createDataFrame([("JFK-LAX", "AA", "JFK", "LAX", 8.0, 30.0),
                                         ("SFO-BOS", "ZZ", "SFO", "BOS", 8.0, 5.0)], columns)
    rows = {r.Route: r for r in model.transform(serve).collect()}
    assert rows["JFK-LAX"].RouteSlack == pytest.approx(-20.0)      # mean of -10 and -30
    assert rows["JFK-LAX"].ExpectedArrDelay == pytest.approx(10.0)
    assert rows["SFO-BOS"].RouteSlack == pytest.approx(-10.0)      # unknown route: global mean
    assert rows["JFK-LAX"].OriginHourSlack == pytest.approx(0.0)   # JFK at 8h: -10 and +10
    assert rows["SFO-BOS"].CarrierRouteSlack == pytest.approx(-10.0)


def test_history_columns_match_the_encoder():
    from flightdelay.history import OUTPUT_COLUMNS
    from flightdelay.modeling import HISTORY_COLUMNS

    assert HISTORY_COLUMNS == OUTPUT_COLUMNS
