"""Score a candidate model version and the current `champion` on the candidate's hold-out months,
then move alias `champion` to the candidate only if it beats the majority baseline and the
champion by a margin; otherwise tag the version with why it was rejected. Writes a JSON result.

    spark-submit include/spark_jobs/evaluate_model.py --hdfs hdfs://127.0.0.1:9000 \
        --model-name flight_delay_rf --version 3 --result-path /tmp/evaluate.json \
        [--metric f1_macro] [--margin 0.005]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from flightdelay import lake
from flightdelay.modeling import decide_promotion, majority_baseline, metrics, record_decision
from flightdelay.config import CHAMPION_ALIAS as ALIAS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hdfs", required=True)
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--result-path", required=True, type=Path)
    parser.add_argument("--metric", default="f1_macro")
    parser.add_argument("--margin", type=float, default=0.0)
    args = parser.parse_args(argv)

    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    candidate_version = client.get_model_version(args.model_name, args.version)
    run = client.get_run(candidate_version.run_id)
    holdout_months = run.data.params["holdout_months"].split(",")
    train_months = run.data.params["train_months"].split(",")

    spark = SparkSession.builder.appName("evaluate_model").getOrCreate()
    flights = spark.read.parquet(f"{args.hdfs.rstrip('/')}{lake.FEATURES}")
    holdout = flights.where(F.col("month").isin(holdout_months)).cache()
    train = flights.where(F.col("month").isin(train_months))

    candidate_model = mlflow.spark.load_model(f"models:/{args.model_name}/{args.version}")
    candidate = metrics(candidate_model.transform(holdout))
    baseline = majority_baseline(train, holdout)
    try:
        champion_version = client.get_model_version_by_alias(args.model_name, ALIAS)
    except MlflowException:
        champion_version = None
    champion = None
    if champion_version is not None and champion_version.version != str(args.version):
        champion_model = mlflow.spark.load_model(f"models:/{args.model_name}@{ALIAS}")
        champion = metrics(champion_model.transform(holdout))

    decision = decide_promotion(candidate, champion, baseline, args.metric, args.margin)
    result = record_decision(client, args.model_name, str(args.version), decision, args.result_path,
                             metric=args.metric, margin=args.margin, holdout_months=holdout_months,
                             candidate=candidate, baseline=baseline, scored_by="evaluate_model Spark job",
                             champion_version=champion_version.version if champion_version else None,
                             champion=champion)
    print(json.dumps({k: result[k] for k in ("version", "promoted", "reason")}))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
