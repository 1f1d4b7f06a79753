"""The shared feature code on a local SparkSession: DayOfWeek, route, distance, unknown values."""
from __future__ import annotations

import datetime as dt

import pytest

from flightdelay import features
from flightdelay.modeling import TrainParams, build_pipeline

AIRPORTS = [("JFK", 40.639751, -73.778925), ("LAX", 33.942536, -118.408075), ("ORD", 41.978603, -87.904842)]


@pytest.fixture
def airports(local_spark):
    return local_spark.createDataFrame(AIRPORTS, "faa STRING, lat DOUBLE, lon DOUBLE")


def _derive(local_spark, frame):
    from pyspark.ml.feature import SQLTransformer

    return SQLTransformer(statement=features.DERIVE_SQL).transform(frame)


def test_day_of_week_is_monday_1_to_sunday_7(local_spark, airports):
    # 2024-01-01 was a Monday, 2024-01-07 a Sunday.
    rows = [{"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": f"2024-01-0{d}", "DepDelay": 0}
            for d in range(1, 8)]
    canonical = features.canonical_from_request(local_spark.createDataFrame(rows), airports)
    derived = _derive(local_spark, canonical).orderBy("FlightDate").collect()
    assert [r.DayOfWeek for r in derived] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert derived[0].DayOfYear == 1.0 and derived[6].DayOfMonth == 7.0
    assert derived[0].Route == "JFK-LAX"


def test_request_mapping_parses_time_and_computes_distance(local_spark, airports):
    rows = [{"Origin": "jfk", "Dest": "lax", "Carrier": "aa", "FlightDate": "2024-03-10", "DepDelay": "12",
             "CRSDepTime": "17:45"}]
    row = features.canonical_from_request(local_spark.createDataFrame(rows), airports).first()
    assert (row.Origin, row.Dest, row.Carrier) == ("JFK", "LAX", "AA")
    assert row.CRSDepTime == dt.datetime(2024, 3, 10, 17, 45)
    assert row.DepDelay == 12.0
    # BTS lists JFK-LAX as 2475 miles; the spherical great circle gives 2469.
    assert row.Distance == pytest.approx(2475, abs=10)
    derived = _derive(local_spark, features.canonical_from_request(local_spark.createDataFrame(rows), airports))
    assert derived.first().DepHour == 17.0


def test_unknown_airport_leaves_distance_null(local_spark, airports):
    rows = [{"Origin": "JFK", "Dest": "XXX", "Carrier": "AA", "FlightDate": "2024-03-10", "DepDelay": 1.0}]
    assert features.canonical_from_request(local_spark.createDataFrame(rows), airports).first().Distance is None


def test_the_expected_arrival_delay_sums_fall_back_to_the_history(local_spark):
    from pyspark.ml.feature import SQLTransformer

    frame = local_spark.createDataFrame([
        # landings on the route and at the destination, padded 12 min over the route's mean block
        (20.0, 3.0, -4.0, 2.0, 6.0, 15.0, 12.0),
        # none landed yet (the slack is UNKNOWN), no padding known: the carrier-route history's sum
        (20.0, 0.0, -999.0, 0.0, -999.0, 15.0, 0.0),
    ], "DepDelay DOUBLE, RouteLandedCount DOUBLE, RouteLandedSlack DOUBLE, DestLandedCount DOUBLE, "
       "DestLandedSlack DOUBLE, ExpectedArrDelay DOUBLE, BlockPadMinutes DOUBLE")
    out = SQLTransformer(statement=features.EXPECTED_SQL).transform(frame)
    assert [tuple(r[c] for c in features.EXPECTED_COLUMNS) for r in out.collect()] == [
        (16.0, 26.0, 3.0), (15.0, 15.0, 15.0)]


def test_label_buckets(local_spark):
    frame = local_spark.createDataFrame([(-30.0,), (-15.0,), (-1.0,), (0.0,), (29.0,), (30.0,), (None,)],
                                        "ArrDelay DOUBLE")
    labels = [r.label for r in features.with_label(frame).orderBy("ArrDelay").collect()]
    assert labels == [0.0, 1.0, 1.0, 2.0, 2.0, 3.0]


def _training_rows(local_spark):
    rows = []
    for i in range(120):
        delay = float((i % 12) * 10 - 30)
        rows.append((dt.date(2013, 1 + i % 2, 1 + i % 28), "AA" if i % 2 else "UA", str(i), "JFK",
                     "LAX" if i % 3 else "ORD", dt.datetime(2013, 1, 1, 8 + i % 10), delay, 2475.0, delay + 5))
    frame = local_spark.createDataFrame(rows, "FlightDate DATE, Carrier STRING, FlightNum STRING, Origin STRING, "
                                              "Dest STRING, CRSDepTime TIMESTAMP, DepDelay DOUBLE, Distance DOUBLE, "
                                              "ArrDelay DOUBLE")
    return features.with_label(frame)


@pytest.mark.parametrize("feature_set", ["seed", "improved"])
def test_pipeline_scores_unknown_categories(local_spark, feature_set):
    """A carrier, airport and route never seen in training still get a prediction (handleInvalid keep)."""
    model = build_pipeline(TrainParams(feature_set=feature_set, num_trees=3, max_depth=3, max_bins=32)).fit(
        _training_rows(local_spark))
    request = local_spark.createDataFrame(
        [(dt.date(2013, 3, 4), "ZZ", "1", "SFO", "BOS", None, 45.0, 2704.0)],
        "FlightDate DATE, Carrier STRING, FlightNum STRING, Origin STRING, Dest STRING, CRSDepTime TIMESTAMP, "
        "DepDelay DOUBLE, Distance DOUBLE")
    row = model.transform(request).first()
    assert row.prediction in (0.0, 1.0, 2.0, 3.0)
    assert sum(row.probability.toArray()) == pytest.approx(1.0)


def test_fit_with_cached_inputs_gives_the_pipelines_model(local_spark):
    """modeling.fit (the forest's input cached, narrowed) on every row yields the model Pipeline.fit
    does, stage for stage and probability for probability, and leaves nothing cached behind."""
    from flightdelay.modeling import fit

    train = _training_rows(local_spark)
    params = TrainParams(feature_set="improved", num_trees=3, max_depth=3, max_bins=32)
    persisted = local_spark.sparkContext._jsc.getPersistentRDDs().size()
    expected, model = build_pipeline(params).fit(train), fit(build_pipeline(params), train)
    assert [type(stage) for stage in model.stages] == [type(stage) for stage in expected.stages]
    assert [r.probability for r in model.transform(train).collect()] == \
        [r.probability for r in expected.transform(train).collect()]
    assert local_spark.sparkContext._jsc.getPersistentRDDs().size() == persisted


def test_the_forest_learns_from_at_most_max_rows_the_history_from_all(local_spark):
    """max_rows below the training rows: the forest's rows are a sample of about that many, while
    the indexer and the history encoder are fitted on every row (the same tables as with no cap);
    a cap above the rows, like 0, keeps every row."""
    from flightdelay.modeling import fit

    train = _training_rows(local_spark).cache()
    params = TrainParams(feature_set="improved", num_trees=3, max_depth=3, max_bins=32)
    whole, half = fit(build_pipeline(params), train), fit(build_pipeline(params), train, max_rows=60, seed=7)
    history = [i for i, stage in enumerate(whole.stages) if type(stage).__name__ == "SlackModel"]
    assert history and whole.stages[history[0]].getOrDefault("tables") == half.stages[history[0]].getOrDefault("tables")
    assert whole.stages[1].labelsArray == half.stages[1].labelsArray  # the indexer's categories
    assert whole.stages[-1].summary.predictions.count() == 120
    assert 20 < half.stages[-1].summary.predictions.count() < 100
    assert fit(build_pipeline(params), train, max_rows=500).stages[-1].summary.predictions.count() == 120
    with pytest.raises(ValueError, match="max_rows"):
        fit(build_pipeline(params), train, max_rows=-1)
    train.unpersist()


@pytest.mark.parametrize(("rows", "max_rows", "share"), [(300, 0, 1.0), (300, 300, 1.0), (300, 500, 1.0),
                                                         (300, 150, 0.5), (0, 10, 1.0)])
def test_forest_share(rows, max_rows, share):
    from flightdelay.modeling import forest_share

    assert forest_share(rows, max_rows) == share


def test_saved_pipeline_with_history_stage_round_trips(local_spark, tmp_path):
    from pyspark.ml import PipelineModel

    from flightdelay.arrivals import ArrivalsLookup

    train = _training_rows(local_spark)
    arrivals_path = f"file://{tmp_path}/arrivals"
    model = build_pipeline(TrainParams(feature_set="improved", num_trees=3, max_depth=3, max_bins=32,
                                       arrivals_path=arrivals_path)).fit(train)
    model.write().overwrite().save(f"file://{tmp_path}/model")
    loaded = PipelineModel.load(f"file://{tmp_path}/model")
    before = [r.prediction for r in model.transform(train).collect()]
    after = [r.prediction for r in loaded.transform(train).collect()]
    assert before == after
    lookup = next(stage for stage in loaded.stages if isinstance(stage, ArrivalsLookup))
    assert lookup.getOrDefault("path") == arrivals_path  # the arrivals lookup reads it when scoring


def test_model_snapshot_scores_like_the_saved_model(local_spark, tmp_path):
    """The stream's snapshot (JVM stages Java-serialized, Python stages by their params) rebuilds
    a pipeline that predicts exactly what the fitted one does, Python stages' params included."""
    import os
    import stat

    from flightdelay import model_cache
    from flightdelay.arrivals import ArrivalsLookup

    train = _training_rows(local_spark)
    arrivals_path = f"file://{tmp_path}/arrivals"
    model = build_pipeline(TrainParams(feature_set="improved", num_trees=3, max_depth=3, max_bins=32,
                                       arrivals_path=arrivals_path)).fit(train)
    snapshot = f"file://{tmp_path}/snapshots/m/1-run"
    assert model_cache.load_snapshot(local_spark, snapshot) is None  # none yet: the caller loads the saved model
    model_cache.save_snapshot(local_spark, model, snapshot)
    loaded = model_cache.load_snapshot(local_spark, snapshot)
    assert [type(stage) for stage in loaded.stages] == [type(stage) for stage in model.stages]
    assert [r.probability for r in loaded.transform(train).collect()] == \
        [r.probability for r in model.transform(train).collect()]
    lookup = next(stage for stage in loaded.stages if isinstance(stage, ArrivalsLookup))
    assert lookup.getOrDefault("path") == arrivals_path
    assert stat.S_IMODE(os.stat(tmp_path / "snapshots" / "m" / "1-run").st_mode) == 0o700


def test_model_snapshot_rebuilds_only_the_projects_python_stages():
    from flightdelay import model_cache

    with pytest.raises(ValueError, match="outside"):
        model_cache.python_stage({"module": "os", "class": "system", "uid": "x", "params": {}})


def test_bins_cover_the_largest_category_count_plus_the_unseen_bucket(local_spark):
    from flightdelay.modeling import with_bins_for

    rows = [(carrier, "JFK", "LAX") for carrier in ("AA", "B6", "DL", "UA")] + \
        [("AA", "EWR", dest) for dest in ("ORD", "SFO", "BOS", "MIA", "DEN", "SEA")]
    train = local_spark.createDataFrame(rows, "Carrier STRING, Origin STRING, Dest STRING")
    assert with_bins_for(train, TrainParams(max_bins=2)).max_bins == 5  # 4 carriers + 1
    assert with_bins_for(train, TrainParams(max_bins=64)).max_bins == 64
    # The seed set indexes the destination and the route too: 7 routes + 1.
    assert with_bins_for(train, TrainParams(feature_set="seed", max_bins=2)).max_bins == 8


def test_the_improved_set_reads_the_route_and_destination_through_history_not_an_index():
    stages = build_pipeline(TrainParams()).getStages()
    indexer = next(stage for stage in stages if type(stage).__name__ == "StringIndexer")
    assert indexer.getInputCols() == ["Carrier", "Origin"]
    seed_indexer = next(stage for stage in build_pipeline(TrainParams(feature_set="seed")).getStages()
                        if type(stage).__name__ == "StringIndexer")
    assert seed_indexer.getInputCols() == ["Carrier", "Origin", "Dest", "Route"]
