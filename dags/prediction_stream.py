"""
### prediction_stream
Owns the long-running streaming job `include/spark_jobs/prediction_stream.py` (Kafka requests ->
champion model -> Kafka responses, MongoDB, Cassandra, HDFS parquet). Each run applies the sink
schemas (include/sql/*.cql, the MongoDB UUID index), waits until the model has a `champion`,
then submits the job with SparkSubmitOperator on connection spark_default for a bounded lease
(`lease_minutes`): the task ends when the lease is over and the next run resumes from the
checkpoints, so no task blocks forever. If the job dies the task fails and is retried after
30 s; runs are scheduled every 5 minutes with one active at a time, so a stopped stream is
resubmitted within minutes. A promotion needs no run here: the job re-resolves the alias
itself (`model_poll_seconds`) and swaps the model in place. `respond_mode` picks how requests are
answered: `realtime` (default: Spark real-time mode, each request as it arrives) or `microbatch`
(Kafka transactions per micro-batch, about a second per answer); both answer each request once
(see the README's serving section and speed figures).
"""
from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.providers.standard.sensors.python import PythonSensor
from airflow.sdk import Param, dag, task

from flightdelay.config import (
    CASSANDRA_CONN_ID, MONGO_CONN_ID, NAMES, WEBHDFS_CONN_ID, hdfs_url, spark_jars, stream_checkpoint_root,
)
from flightdelay.spark_jobs import spark_job

MAX_LEASE_MINUTES = 720
# The Spark UI of the stream (binds SPARK_LOCAL_IP, 127.0.0.1 embedded).
STREAM_CONF = {"spark.ui.enabled": "true", "spark.ui.port": os.environ.get("SPARK_UI_PORT", "8080")}


def champion_exists(model_name: str) -> bool:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        version = MlflowClient().get_model_version_by_alias(model_name, "champion")
    except MlflowException:
        print(f"{model_name} has no champion yet (run train_model, then evaluate_model)")
        return False
    print(f"{model_name} champion: version {version.version}")
    return True


@dag(
    dag_id="prediction_stream",
    doc_md=__doc__,
    schedule="*/5 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
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
    @task
    def apply_sink_schemas() -> dict:
        from airflow.providers.apache.cassandra.hooks.cassandra import CassandraHook
        from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook
        from airflow.providers.mongo.hooks.mongo import MongoHook

        from flightdelay import sinks

        hook = CassandraHook(cassandra_conn_id=CASSANDRA_CONN_ID)
        try:
            statements = sinks.apply_cassandra_schema(hook.get_conn(), NAMES.cassandra_keyspace)
        finally:
            hook.shutdown_cluster()
        collection = MongoHook(mongo_conn_id=MONGO_CONN_ID).get_conn()[NAMES.mongo_database][NAMES.mongo_collection]
        index = sinks.ensure_mongo_index(collection)
        WebHDFSHook(webhdfs_conn_id=WEBHDFS_CONN_ID).get_conn().makedirs(NAMES.hdfs_prediction_dir)
        return {"cql_statements": len(statements), "mongo_index": index, "hdfs": NAMES.hdfs_prediction_dir}

    wait_for_champion = PythonSensor(
        task_id="wait_for_champion",
        python_callable=champion_exists,
        op_kwargs={"model_name": "{{ params.model_name }}"},
        mode="reschedule",
        poke_interval=60,
        timeout=timedelta(hours=12).total_seconds(),
    )

    stream = spark_job(
        "run_stream", "prediction_stream.py", driver_memory="2g", conf=STREAM_CONF,
        execution_timeout=timedelta(minutes=MAX_LEASE_MINUTES + 15),
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

    apply_sink_schemas() >> wait_for_champion >> stream


prediction_stream_dag = prediction_stream()

if __name__ == "__main__":
    prediction_stream_dag.test()
