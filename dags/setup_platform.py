"""
### setup_platform
Prepares every service for serving, idempotently; `make run` triggers it at each platform start
and waits for it (active from the first parse). Creates the Kafka topics, the HDFS folders, the
Cassandra schema and the MongoDB UUID index, and deploys and starts the NiFi flow through NiFi's
REST API (`NifiHook`, connection nifi_default); `make run` triggers it before Cassandra, MongoDB
and NiFi are healthy, so their tasks wait for them (platform_setup.when_up). Then:
- a champion: once the topics and folders exist, it starts prediction_stream, unless a run of it
  is active or the DAG is paused (the other services are set up meanwhile);
- no `champion` in the registry: the first-start bootstrap, once every service is set up and no
  run of the training chain is active. It triggers download_flights over the default source's
  months; the asset events of the chain then run validate_flights, build_features, train_model
  and evaluate_model, and the promotion starts prediction_stream.
"""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task

from flightdelay.config import (
    CASSANDRA_CONN_ID, KAFKA_CONN_ID, MONGO_CONN_ID, NAMES, NIFI_CONN_ID, WEBHDFS_CONN_ID,
)
from flightdelay.serving_status import BOOTSTRAP_MONTHS, BOOTSTRAP_SOURCE

# The stream's path goes first when the DAG's task slots are taken by tasks waiting for a service.
FIRST = {"priority_weight": 100, "weight_rule": "absolute"}
CHAIN = ("download_flights", "validate_flights", "build_features", "train_model", "evaluate_model")
ACTIVE = ["queued", "running"]


@dag(
    dag_id="setup_platform",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=False,
    max_active_runs=1,
    tags=["platform", "operations"],
    default_args={"owner": "platform", "retries": 2, "retry_delay": timedelta(seconds=15)},
    params={"bootstrap": Param(True, type="boolean",
                               description="with no champion: download, train and promote the first model")},
)
def setup_platform():
    @task(**FIRST)
    def create_topics() -> list[str]:
        from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook

        from flightdelay import platform_setup

        admin = KafkaAdminClientHook(kafka_config_id=KAFKA_CONN_ID).get_conn
        return platform_setup.create_topics(admin, platform_setup.platform_topics())

    @task(**FIRST)
    def make_hdfs_folders() -> list[str]:
        from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook

        from flightdelay import platform_setup

        return platform_setup.make_hdfs_folders(WebHDFSHook(webhdfs_conn_id=WEBHDFS_CONN_ID).get_conn())

    @task
    def apply_cassandra_schema() -> int:
        from airflow.providers.apache.cassandra.hooks.cassandra import CassandraHook

        from flightdelay import sinks

        from flightdelay.platform_setup import when_up

        def connect() -> CassandraHook:
            hook = CassandraHook(cassandra_conn_id=CASSANDRA_CONN_ID)  # a failed one keeps its shut-down cluster
            try:
                hook.get_conn()
            except Exception:
                hook.shutdown_cluster()
                raise
            return hook

        hook = when_up(connect, "Cassandra")
        try:
            return len(sinks.apply_cassandra_schema(hook.get_conn(), NAMES.cassandra_keyspace))
        finally:
            hook.shutdown_cluster()

    @task
    def ensure_mongo_indexes() -> str:
        from airflow.providers.mongo.hooks.mongo import MongoHook

        from flightdelay import sinks

        from flightdelay.platform_setup import when_up

        client = MongoHook(mongo_conn_id=MONGO_CONN_ID).get_conn()
        return when_up(lambda: sinks.ensure_mongo_index(client[NAMES.mongo_database][NAMES.mongo_collection]),
                       "MongoDB")

    @task
    def deploy_nifi_flow() -> str:
        from flightdelay import nifi_flow
        from flightdelay_provider.hooks.nifi import NifiHook

        from flightdelay.platform_setup import when_up

        hook = NifiHook(nifi_conn_id=NIFI_CONN_ID)
        group_id = when_up(lambda: hook.deploy_flow(nifi_flow.platform_flow(), nifi_flow.GROUP_NAME), "NiFi")
        print(f"NiFi flow {nifi_flow.GROUP_NAME} running (process group {group_id})")
        return group_id

    @task.branch(**FIRST)
    def choose_start(params: dict) -> str | None:
        from flightdelay.serving_status import Registry

        champion = Registry().champion(NAMES.model_name)
        if champion is not None:
            print(f"{NAMES.model_name} champion: version {champion['version']}; the stream is started")
            return "stream_idle"
        if not params["bootstrap"]:
            print("no champion yet and bootstrap=false: nothing is trained")
            return None
        print(f"no champion yet: bootstrap from {BOOTSTRAP_SOURCE} {BOOTSTRAP_MONTHS[0]}..{BOOTSTRAP_MONTHS[-1]} "
              "once the training chain is idle")
        return "wait_for_chain_idle"

    # mode="poke": a reschedule-mode sensor can be failed by the scheduler between two pokes
    # (apache/airflow#71172, open in 3.3), so this one holds a worker slot while it waits.
    @task.sensor(poke_interval=5, timeout=3600, mode="poke")
    def wait_for_chain_idle(ti=None) -> bool:
        """No run of the training chain is active: a bootstrap under way (a second `make run`)
        finishes first, and the runs the first parse schedules have skipped."""
        busy = [dag_id for dag_id in CHAIN if ti.get_dr_count(dag_id, states=ACTIVE)]
        if busy:
            print(f"waiting for the active runs of {', '.join(busy)}")
        return not busy

    @task.short_circuit
    def still_without_champion() -> bool:
        """A bootstrap that was under way may have promoted a champion meanwhile: no second one."""
        from flightdelay.serving_status import Registry

        champion = Registry().champion(NAMES.model_name)
        if champion is not None:
            print(f"a champion was promoted meanwhile (version {champion['version']}): no bootstrap")
        return champion is None

    bootstrap = TriggerDagRunOperator(
        task_id="download_bootstrap_months", trigger_dag_id="download_flights", logical_date=None,
        conf={"source": BOOTSTRAP_SOURCE, "start_month": BOOTSTRAP_MONTHS[0], "end_month": BOOTSTRAP_MONTHS[-1]},
    )

    @task.short_circuit(**FIRST)
    def stream_idle(ti=None) -> bool:
        from flightdelay.serving_status import stream_task_active

        if ti.get_dag("prediction_stream").is_paused:
            print("prediction_stream is paused: not started (unpause it to serve)")
            return False
        active = stream_task_active(ti)
        print(f"prediction_stream: {active} runs hold the streaming job")
        return active == 0

    @task
    def every_service_set_up() -> str:
        """A leaf after every setup task: the run fails when one of them failed, even when the
        branch skipped the tasks after it (a run's state comes from its leaves)."""
        return "topics, folders, schema, indexes and the NiFi flow in place"

    start_stream = TriggerDagRunOperator(task_id="start_prediction_stream", trigger_dag_id="prediction_stream",
                                         logical_date=None, **FIRST)

    # With a champion the stream starts as soon as its topics and folders exist; the bootstrap
    # waits for every service and for the training chain to be idle.
    stream_needs = [create_topics(), make_hdfs_folders()]
    sinks_and_flow = [apply_cassandra_schema(), ensure_mongo_indexes(), deploy_nifi_flow()]
    choice, chain_idle, idle = choose_start(), wait_for_chain_idle(), stream_idle()
    stream_needs >> choice >> [idle, chain_idle]
    idle >> start_stream
    [*sinks_and_flow, chain_idle] >> still_without_champion() >> bootstrap
    [*stream_needs, *sinks_and_flow] >> every_service_set_up()


setup_platform_dag = setup_platform()

if __name__ == "__main__":
    setup_platform_dag.test()
