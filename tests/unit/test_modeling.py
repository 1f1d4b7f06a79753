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


def test_one_pass_scores_equal_sparks_evaluator(local_spark):
    """evaluate() gives the figures of MulticlassClassificationEvaluator (eleven passes) from one
    aggregation, including a class that is never predicted and one that never occurs."""
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator
    from pyspark.ml.functions import array_to_vector

    from flightdelay.features import LABEL_NAMES
    from flightdelay.modeling import evaluate

    n = len(LABEL_NAMES)
    rows = []
    for i, (label, prediction) in enumerate([(0, 0), (0, 1), (1, 1), (1, 1), (2, 0), (2, 2), (0, 0), (1, 2)] * 3):
        p = [0.05] * n
        p[prediction] = 1.0 - 0.05 * (n - 1) - 0.01 * (i % 3)
        p[(prediction + 1) % n] += 0.01 * (i % 3)
        rows.append((float(label), float(prediction), p))
    frame = local_spark.createDataFrame(rows, "label DOUBLE, prediction DOUBLE, p ARRAY<DOUBLE>") \
        .withColumn("probability", array_to_vector("p"))
    scores, matrix = evaluate(frame)
    evaluator = MulticlassClassificationEvaluator(labelCol="label", predictionCol="prediction")
    assert matrix[0][:3] == [6, 3, 0] and sum(map(sum, matrix)) == len(rows)
    assert scores["accuracy"] == pytest.approx(evaluator.evaluate(frame, {evaluator.metricName: "accuracy"}))
    assert scores["f1_weighted"] == pytest.approx(evaluator.evaluate(frame, {evaluator.metricName: "f1"}))
    assert scores["log_loss"] == pytest.approx(evaluator.evaluate(frame, {evaluator.metricName: "logLoss"}))
    for label in range(3):  # Spark's per-label figures refuse a label absent from the data
        for name, metric in (("precision", "precisionByLabel"), ("recall", "recallByLabel")):
            expected = evaluator.evaluate(frame, {evaluator.metricName: metric, evaluator.metricLabel: float(label)})
            assert scores[f"{name}_{label}"] == pytest.approx(expected), (name, label)
    assert all(scores[f"recall_{label}"] == 0 for label in range(3, n))
    assert 0 < scores["f1_macro"] < 1
