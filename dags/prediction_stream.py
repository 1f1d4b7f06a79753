"""
### prediction_stream
Owns the long-running streaming job `include/spark_jobs/prediction_stream.py` (Kafka requests ->
champion model -> Kafka responses, MongoDB, Cassandra, HDFS parquet; the sinks' schemas are made
by setup_platform). A run skips when its model has no `champion` yet or another run holds the job (it never waits,
so no run queues behind the job); otherwise it submits the job with SparkSubmitOperator on
connection spark_default for a bounded lease (`lease_minutes`): the task ends when the lease is
over, or when `make stop` asks the job to stop, and the next run resumes from the checkpoints.
If the job dies the task fails and is retried after 30 s; runs are scheduled every 5 minutes, so
a stopped stream is resubmitted within minutes; a promotion (the `champion_model` asset) starts a
run at once, and setup_platform starts one at every platform start. A promotion needs no run here: the job re-resolves the alias
itself (`model_poll_seconds`) and swaps the model in place. `respond_mode` picks how requests are
answered: `realtime` (default: Spark real-time mode, each request as it arrives) or `microbatch`
(Kafka transactions per micro-batch, about a second per answer); both answer each request once
(see the README's serving section and speed figures).
"""
from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from flightdelay.assets import CHAMPION_MODEL
from flightdelay.config import NAMES, WEBHDFS_CONN_ID, hdfs_url, spark_jars, stream_checkpoint_root
from flightdelay.spark_jobs import spark_job

MAX_LEASE_MINUTES = 720
# The Spark UI of the stream (binds SPARK_LOCAL_IP, 127.0.0.1 embedded).
STREAM_CONF = {"spark.ui.enabled": "true", "spark.ui.port": os.environ.get("SPARK_UI_PORT", "8080")}


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
    default_args={"owner": "serving", "retries": 3, "retry_delay": timedelta(seconds=30)},
    params={
        "model_name": Param(NAMES.model_name, type="string"),
        "lease_minutes": Param(360, type="integer", minimum=1, maximum=MAX_LEASE_MINUTES, description="the job stops cleanly after this long"),
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
            "--bootstrap-servers", "{{ conn.kafka_default.extra_dejson['bootstrap.servers'] }}",
            "--mongo-uri", "mongodb://{{ conn.mongo_default.host }}:{{ conn.mongo_default.port }}",
            "--cassandra-host", "{{ conn.cassandra_default.host }}",
            "--cassandra-port", "{{ conn.cassandra_default.port }}",
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
