"""
### build_features
Spark job `include/spark_jobs/build_features.py`: validated canonical flights -> feature table
(Distance from airport coordinates where missing, label), parquet partitioned by month in
HDFS `/data/features/flights`. Runs when validate_flights updates the validated zone.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import dag

from flightdelay.assets import FEATURES, VALIDATED_FLIGHTS
from flightdelay.config import SPARK_CONN_ID, hdfs_url

SPARK_JOBS = Path(__file__).resolve().parents[1] / "include" / "spark_jobs"


@dag(
    dag_id="build_features",
    doc_md=__doc__,
    schedule=[VALIDATED_FLIGHTS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["training", "spark"],
    default_args={"owner": "ml-platform", "retries": 1, "retry_delay": timedelta(minutes=2)},
)
def build_features():
    SparkSubmitOperator(
        task_id="build_feature_table",
        conn_id=SPARK_CONN_ID,
        application=str(SPARK_JOBS / "build_features.py"),
        application_args=["--hdfs", hdfs_url()],
        name="build_features",
        driver_memory="2g",
        conf={"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false"},
        outlets=[FEATURES],
    )


build_features_dag = build_features()

if __name__ == "__main__":
    build_features_dag.test()
