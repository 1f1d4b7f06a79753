"""
### prediction_canary
End-to-end check of the serving path: one known request to `flight-delay-ml-request`, then its
prediction awaited in each sink, one task (one sensor) per sink so that a failure names it: the
response topic, MongoDB, Cassandra, the day's HDFS partition and the record in its parquet, a
NiFi .txt file. Runs every 15 minutes; skips while nothing serves (see GET /api/status).
"""
from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.providers.apache.cassandra.sensors.record import CassandraRecordSensor
from airflow.providers.apache.hdfs.sensors.web_hdfs import WebHdfsSensor
from airflow.providers.mongo.sensors.mongo import MongoSensor
from airflow.sdk import BaseHook, dag, task
from flightdelay_provider.sensors.serving import KafkaResponseSensor, ParquetRecordSensor, TextFilesSensor

from flightdelay.config import CASSANDRA_CONN_ID, KAFKA_CONN_ID, MONGO_CONN_ID, NAMES, WEBHDFS_CONN_ID, state_dir

UUID = "{{ ti.xcom_pull(task_ids='send_canary')['UUID'] }}"
OFFSETS = "{{ ti.xcom_pull(task_ids='send_canary')['ResponseOffsets'] | tojson }}"
PARTITION = NAMES.hdfs_prediction_dir + "/date={{ ti.xcom_pull(task_ids='send_canary')['ReceivedAt'][:10] }}"
NIFI_OUTPUT = os.environ.get("NIFI_OUTPUT_DIR", str(state_dir() / "data" / "nifi-out"))
SENSOR_ARGS = {"poke_interval": 5, "timeout": 300, "mode": "poke"}


def kafka_config() -> dict:
    return BaseHook.get_connection(KAFKA_CONN_ID).extra_dejson


@dag(
    dag_id="prediction_canary",
    doc_md=__doc__,
    schedule="*/15 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["streaming", "serving", "operations"],
    default_args={"owner": "serving", "retries": 1, "retry_delay": timedelta(seconds=10)},
)
def prediction_canary():
    @task
    def send_canary() -> dict:
        import json

        from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook
        from airflow.providers.apache.kafka.hooks.produce import KafkaProducerHook
        from airflow.sdk.exceptions import AirflowSkipException

        from flightdelay.canary import canary_request, end_offsets
        from flightdelay.serving_status import Registry, read_status

        status = read_status(WebHDFSHook(webhdfs_conn_id=WEBHDFS_CONN_ID).get_conn(), Registry(), NAMES.model_name)
        if not status["serving"]:
            raise AirflowSkipException(f"nothing serves yet, no canary sent: {status['message']}")

        request = canary_request()
        response_offsets = end_offsets(kafka_config(), NAMES.response_topic)
        producer = KafkaProducerHook(kafka_config_id=KAFKA_CONN_ID).get_producer()
        producer.produce(NAMES.request_topic, key=request["UUID"], value=json.dumps(request))
        if producer.flush(30):
            raise RuntimeError("kafka: the canary request was not acknowledged")
        print(f"canary request {request['UUID']} sent; response topic offsets before it: {response_offsets}")
        return {**request, "ResponseOffsets": response_offsets}

    sent = send_canary()
    kafka_response = KafkaResponseSensor(task_id="kafka_response_topic", kafka_config_id=KAFKA_CONN_ID,
                                         topic=NAMES.response_topic, uuid=UUID, offsets=OFFSETS, **SENSOR_ARGS)
    mongodb = MongoSensor(task_id="mongodb", mongo_conn_id=MONGO_CONN_ID, mongo_db=NAMES.mongo_database,
                          collection=NAMES.mongo_collection, query={"UUID": UUID}, **SENSOR_ARGS)
    cassandra = CassandraRecordSensor(task_id="cassandra", cassandra_conn_id=CASSANDRA_CONN_ID,
                                      table=f"{NAMES.cassandra_keyspace}.flight_delay_ml_response",
                                      keys={"uuid": UUID}, **SENSOR_ARGS)
    hdfs_partition = WebHdfsSensor(task_id="hdfs_partition", webhdfs_conn_id=WEBHDFS_CONN_ID, filepath=PARTITION,
                                   **SENSOR_ARGS)
    hdfs_record = ParquetRecordSensor(task_id="hdfs_parquet_record", webhdfs_conn_id=WEBHDFS_CONN_ID,
                                      folder=PARTITION, uuid=UUID, **SENSOR_ARGS)
    nifi_file = TextFilesSensor(task_id="nifi_txt_file", folder=NIFI_OUTPUT, uuid=UUID, **SENSOR_ARGS)

    sent >> [kafka_response, mongodb, cassandra, hdfs_partition, nifi_file]
    hdfs_partition >> hdfs_record


prediction_canary_dag = prediction_canary()

if __name__ == "__main__":
    prediction_canary_dag.test()
