"""
### check_platform
Operations check of the platform: each service answers through its Airflow connection
(Kafka topics, HDFS prediction folder, MongoDB, Cassandra, MLflow). A failed task names the
service. Runs every 30 minutes, each run after setup_platform has succeeded once (a run created
at the first parse waits for the first start's setup instead of failing on missing topics).
"""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from flightdelay.config import (
    CASSANDRA_CONN_ID, KAFKA_CONN_ID, MLFLOW_CONN_ID, MONGO_CONN_ID, WEBHDFS_CONN_ID,
)


@dag(
    dag_id="check_platform",
    doc_md=__doc__,
    schedule="*/30 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["platform", "operations"],
    default_args={"owner": "platform", "retries": 1, "retry_delay": timedelta(seconds=30)},
)
def check_platform():
    # poke, not reschedule: see setup_platform.wait_for_chain_idle (apache/airflow#71172)
    @task.sensor(poke_interval=15, timeout=900, mode="poke")
    def wait_for_setup(ti=None) -> bool:
        return ti.get_dr_count("setup_platform", states=["success"]) > 0

    @task
    def check_kafka() -> list[str]:
        from flightdelay import platform_checks

        return platform_checks.check_kafka(KAFKA_CONN_ID)

    @task
    def check_hdfs() -> str:
        from flightdelay import platform_checks

        return platform_checks.check_hdfs(WEBHDFS_CONN_ID)

    @task
    def check_mongo() -> str:
        from flightdelay import platform_checks

        return platform_checks.check_mongo(MONGO_CONN_ID)

    @task
    def check_cassandra() -> str:
        from flightdelay import platform_checks

        return platform_checks.check_cassandra(CASSANDRA_CONN_ID)

    @task
    def check_mlflow() -> str:
        from flightdelay import platform_checks

        return platform_checks.check_mlflow(MLFLOW_CONN_ID)

    wait_for_setup() >> [check_kafka(), check_hdfs(), check_mongo(), check_cassandra(), check_mlflow()]


check_platform_dag = check_platform()

if __name__ == "__main__":
    check_platform_dag.test()
