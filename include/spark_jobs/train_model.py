"""Train the RandomForest pipeline on the feature table with a time-based split, log everything
to MLflow and register a new model version. Writes a JSON result (run id, version, metrics).

    spark-submit include/spark_jobs/train_model.py --hdfs hdfs://127.0.0.1:9000 \
        --model-name flight_delay_rf --result-path /tmp/train.json \
        [--from-month 2013-01 --to-month 2013-12] [--holdout-months 1] \
        [--feature-set improved|seed] [--num-trees 30] [--max-depth 8] [--arrivals-hidden 0.2] \
        [--balance-classes true]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flightdelay import lake, sources
from flightdelay.features import LABEL_NAMES
from flightdelay.modeling import (
    TrainParams, build_pipeline, evaluate, feature_names, fit, majority_baseline, time_split,
    with_bins_for, with_class_weights, with_hidden_arrivals,
)

# What a request gives the model: the canonical record without the label, the scheduled arrival
# and the tail (the model finds the aircraft through the schedule: flightdelay.rotation).
INPUT_COLUMNS = [c for c in sources.CANONICAL if c not in ("ArrDelay", "CRSArrTime", "TailNum")]


def load_features(spark: SparkSession, hdfs: str, from_month: str, to_month: str) -> DataFrame:
    flights = spark.read.parquet(f"{hdfs.rstrip('/')}{lake.FEATURES}")
    if from_month:
        flights = flights.where(F.col("month") >= from_month)
    if to_month:
        flights = flights.where(F.col("month") <= to_month)
    return flights


def plot_confusion(matrix: list[list[int]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(LABEL_NAMES)), [n.split(" (")[0] for n in LABEL_NAMES], rotation=30)
    ax.set_yticks(range(len(LABEL_NAMES)), [n.split(" (")[0] for n in LABEL_NAMES])
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_importances(names: list[str], importances: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = sorted(range(len(names)), key=lambda i: importances[i])
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(names) + 1))
    ax.barh([names[i] for i in order], [importances[i] for i in order])
    ax.set_xlabel("feature importance")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def serving_requirements() -> list[str]:
    """What the logged model needs to load and predict: the platform's pinned MLflow and PySpark
    (the pipeline's own stages come from the flightdelay package the platform ships)."""
    import mlflow
    import pyspark

    return [f"mlflow=={mlflow.__version__}", f"pyspark=={pyspark.__version__}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hdfs", required=True)
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--result-path", required=True, type=Path)
    parser.add_argument("--experiment", default="flight_delay")
    parser.add_argument("--from-month", default="")
    parser.add_argument("--to-month", default="")
    parser.add_argument("--holdout-months", type=int, default=1)
    parser.add_argument("--feature-set", default="improved", choices=["seed", "improved"])
    parser.add_argument("--num-trees", type=int, default=TrainParams.num_trees)
    parser.add_argument("--max-depth", type=int, default=TrainParams.max_depth)
    parser.add_argument("--forest-max-rows", type=int, default=TrainParams.forest_max_rows,
                        help="most training rows the forest learns from (a random sample; 0 = every row)")
    parser.add_argument("--arrivals-hidden", type=float, default=TrainParams.arrivals_hidden,
                        help="share of training rows whose arrivals are hidden (improved features)")
    parser.add_argument("--max-bins", type=int, default=TrainParams.max_bins)
    parser.add_argument("--balance-classes", choices=("true", "false"), type=str.lower, default="false")
    args = parser.parse_args(argv)

    import mlflow
    from mlflow.models import infer_signature

    improved = args.feature_set == "improved"
    params = TrainParams(args.feature_set, args.num_trees, args.max_depth, args.max_bins,
                         balance_classes=args.balance_classes == "true",
                         arrivals_path=f"{args.hdfs.rstrip('/')}{lake.ARRIVALS}" if improved else "",
                         arrivals_hidden=args.arrivals_hidden, forest_max_rows=args.forest_max_rows,
                         rotation_path=f"{args.hdfs.rstrip('/')}{lake.ROTATION}" if improved else "")
    spark = SparkSession.builder.appName("train_model").getOrCreate()
    flights = load_features(spark, args.hdfs, args.from_month, args.to_month)
    train, holdout, holdout_months = time_split(flights, args.holdout_months)
    train_months = sorted(r.month for r in train.select("month").distinct().collect())
    if params.balance_classes:
        train = with_class_weights(train)
    if params.arrivals_path:
        train = with_hidden_arrivals(train, params)
    train = train.cache()
    params = with_bins_for(train, params)

    started = time.perf_counter()
    model = fit(build_pipeline(params), train, max_rows=params.forest_max_rows, seed=params.seed)
    fit_seconds = time.perf_counter() - started
    predictions = model.transform(holdout).cache()
    scores, matrix = evaluate(predictions)
    baseline = majority_baseline(train, holdout)

    mlflow.set_experiment(args.experiment)
    with mlflow.start_run(run_name=f"train-{params.feature_set}") as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.log_params({**params.__dict__, "holdout_months": ",".join(holdout_months),
                           "train_months": ",".join(train_months), "features_path": lake.FEATURES,
                           "train_rows": train.count(), "holdout_rows": sum(map(sum, matrix))})
        mlflow.log_metrics({**scores, "fit_seconds": fit_seconds,
                            **{f"baseline_{k}": v for k, v in baseline.items()}})
        plot_confusion(matrix, Path(tmp) / "confusion_matrix.png")
        importances = model.stages[-1].featureImportances.toArray().tolist()
        plot_importances(feature_names(params), importances, Path(tmp) / "feature_importance.png")
        mlflow.log_artifacts(tmp, "plots")
        mlflow.log_dict({"matrix": matrix, "labels": LABEL_NAMES}, "confusion_matrix.json")
        example = holdout.select(*INPUT_COLUMNS).limit(5).toPandas()
        signature = infer_signature(example, predictions.select("prediction").limit(5).toPandas())
        # pip_requirements given: MLflow would otherwise infer them by loading the model in a
        # subprocess with its own Spark JVM (50 s of a 190 s training run on 2 cores).
        info = mlflow.spark.log_model(model, "model", signature=signature, input_example=example,
                                      registered_model_name=args.model_name, pip_requirements=serving_requirements())
        version = info.registered_model_version
    result = {"run_id": run.info.run_id, "model_name": args.model_name, "version": str(version),
              "holdout_months": holdout_months, "train_months": train_months, "metrics": scores,
              "baseline": baseline, "fit_seconds": fit_seconds}
    args.result_path.parent.mkdir(parents=True, exist_ok=True)
    args.result_path.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
