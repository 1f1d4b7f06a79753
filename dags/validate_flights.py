"""
### validate_flights
Validates every raw partition (schema, types, delay and distance ranges, unknown airports and
carriers, duplicate flights) into the validated zone; bad rows go to the quarantine zone with
their reason. Counts are logged; the run fails when a partition's bad-row fraction exceeds
`max_bad_fraction`. Partitions already validated from the same raw bytes are skipped.
Runs when download_flights updates the raw zone.
"""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

from flightdelay.assets import RAW_FLIGHTS, VALIDATED_FLIGHTS
from flightdelay.chain import announce_param
from flightdelay.config import WEBHDFS_CONN_ID


@dag(
    dag_id="validate_flights",
    doc_md=__doc__,
    schedule=[RAW_FLIGHTS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["training", "data"],
    default_args={"owner": "ml-platform", "retries": 1, "retry_delay": timedelta(minutes=1)},
    params={"max_bad_fraction": Param(0.1, type="number", minimum=0, maximum=1), "announce": announce_param()},
)
def validate_flights():
    @task
    def validate_partitions(params: dict) -> list[dict]:
        from dataclasses import asdict

        from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook

        from flightdelay import lake

        client = WebHDFSHook(webhdfs_conn_id=WEBHDFS_CONN_ID).get_conn()
        return [asdict(lake.validate_partition(client, source, month, float(params["max_bad_fraction"])))
                for source, month in lake.raw_partitions(client)]

    @task(outlets=[VALIDATED_FLIGHTS])
    def announce_validated_flights(reports: list[dict], params: dict) -> int:
        from flightdelay.chain import skip_unless_announced

        skip_unless_announced(params, f"{len(reports)} validated partitions")
        return len(reports)

    announce_validated_flights(validate_partitions())


validate_flights_dag = validate_flights()

if __name__ == "__main__":
    validate_flights_dag.test()
