"""
### prediction_stream
Owns the long-running streaming job `include/spark_jobs/prediction_stream.py` (requests ->
champion model -> response topic, MongoDB, Cassandra, HDFS parquet). A run skips while the model
has no `champion` or another run holds the job; otherwise it submits the job for a lease of
`lease_minutes`, after which (or at `make stop`) the task ends and the next run resumes from the
checkpoints. A dead job fails the task, retried after 30 s. The job follows the alias itself, so
a promotion needs no new run. `respond_mode`: `realtime` (default) or `microbatch` (docs/serving.md).
"""
from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from flightdelay.assets import CHAMPION_MODEL
from flightdelay.config import (CASSANDRA_CONN_ID, KAFKA_CONN_ID, MONGO_CONN_ID, NAMES, WEBHDFS_CONN_ID, hdfs_url,
                                spark_jars, stream_checkpoint_root)
from flightdelay.spark_jobs import class_archive_options, spark_job

MAX_LEASE_MINUTES = 720
# The Spark UI of the stream (binds SPARK_LOCAL_IP, 127.0.0.1 embedded); the driver's class
# archive, chosen when the task runs (spark_jobs.class_archive_options).
STREAM_CONF = {"spark.ui.enabled": "true", "spark.ui.port": os.environ.get("SPARK_UI_PORT", "8080"),
               "spark.driver.extraJavaOptions": "{{ class_archive_options('prediction_stream') }}"}


def conn(conn_id: str, field: str) -> str:
    """A Jinja reference to a field of an Airflow connection, rendered when the task runs."""
    return "{{ conn.%s.%s }}" % (conn_id, field)


@dag(
    dag_id="prediction_stream",
    doc_md=__doc__,
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("*/5 * * * *", timezone="UTC"),
                                 assets=[CHAMPION_MODEL]),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    # Two: the run that holds the job and a scheduled run that sees it and skips. With one, each
    # 5-minute run waited in the queue behind the job for the length of its lease.
    max_active_runs=2,
    tags=["streaming", "spark", "serving"],
    user_defined_macros={"class_archive_options": class_archive_options},
    default_args={"owner": "serving", "retries": 3, "retry_delay": timedelta(seconds=30)},
    params={
        "model_name": Param(NAMES.model_name, type="string"),
        "lease_minutes": Param(360, type="integer", minimum=1, maximum=MAX_LEASE_MINUTES,
                               description="the job stops cleanly after this long"),
        "model_poll_seconds": Param(5, type="number", minimum=1),
        "archive_trigger": Param("30 seconds", type="string", description="trigger of the HDFS parquet query"),
        "respond_mode": Param("realtime", enum=["realtime", "microbatch"],
                              description="realtime: Spark real-time mode, each request answered as it arrives; "
                                          "microbatch: a Kafka transaction per micro-batch (about 1 s per answer)"),
    },
)
def prediction_stream():
    @task.short_circuit
    def find_champion(params: dict, ti=None) -> bool:
        from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook

        from flightdelay.serving_status import Registry, stop_requested, stream_task_active

        if stop_requested(WebHDFSHook(webhdfs_conn_id=WEBHDFS_CONN_ID).get_conn()):
            print("the platform is stopping (make stop): the stream is not started")
            return False
        if stream_task_active(ti):
            print("another run holds the streaming job: nothing to start")
            return False
        champion = Registry().champion(params["model_name"])
        if champion is None:
            print(f"{params['model_name']} has no champion yet: nothing to serve, skipped "
                  "(setup_platform starts the stream when the first model is promoted)")
            return False
        print(f"{params['model_name']} champion: version {champion['version']}")
        return True

    stream = spark_job(
        "run_stream", "prediction_stream.py", driver_memory="2g", conf=STREAM_CONF,
        execution_timeout=timedelta(minutes=MAX_LEASE_MINUTES + 15),
        max_active_tis_per_dag=1,  # one job, even if two runs passed find_champion at once
        jars=",".join(spark_jars()),
        application_args=[
            "--hdfs", hdfs_url(),
            "--bootstrap-servers", conn(KAFKA_CONN_ID, "extra_dejson['bootstrap.servers']"),
            "--mongo-uri", f"mongodb://{conn(MONGO_CONN_ID, 'host')}:{conn(MONGO_CONN_ID, 'port')}",
            "--cassandra-host", conn(CASSANDRA_CONN_ID, "host"),
            "--cassandra-port", conn(CASSANDRA_CONN_ID, "port"),
            "--checkpoint-root", stream_checkpoint_root(),
            "--model-name", "{{ params.model_name }}",
            "--lease-minutes", "{{ params.lease_minutes }}",
            "--model-poll-seconds", "{{ params.model_poll_seconds }}",
            "--archive-trigger", "{{ params.archive_trigger }}",
            "--respond-mode", "{{ params.respond_mode }}",
        ],
    )

    find_champion() >> stream


prediction_stream_dag = prediction_stream()

if __name__ == "__main__":
    prediction_stream_dag.test()
