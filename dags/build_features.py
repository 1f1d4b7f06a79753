"""
### build_features
Spark job `include/spark_jobs/build_features.py`: validated canonical flights -> feature table
(Distance from airport coordinates where missing, label), parquet partitioned by month in
HDFS `/data/features/flights`. Runs when validate_flights updates the validated zone; its
`flight_features` event starts train_model.
"""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from flightdelay.assets import FEATURES, VALIDATED_FLIGHTS
from flightdelay.chain import announce_param
from flightdelay.config import hdfs_url
from flightdelay.spark_jobs import spark_job


@dag(
    dag_id="build_features",
    doc_md=__doc__,
    schedule=[VALIDATED_FLIGHTS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["training", "spark"],
    default_args={"owner": "ml-platform", "retries": 1, "retry_delay": timedelta(minutes=2)},
    params={"announce": announce_param()},
)
def build_features():
    @task(outlets=[FEATURES])
    def announce_features(params: dict) -> None:
        from flightdelay.chain import skip_unless_announced

        skip_unless_announced(params, "the feature table")

    spark_job("build_feature_table", "build_features.py", ["--hdfs", hdfs_url()]) >> announce_features()


build_features_dag = build_features()

if __name__ == "__main__":
    build_features_dag.test()
