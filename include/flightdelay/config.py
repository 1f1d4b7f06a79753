"""Names and addresses shared by DAGs, Spark jobs, the web app and the tests.

Values come from the environment (`.env`, written from `.env.example`, or the compose file);
the defaults are the names kept from the system this project grew out of.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Names:
    request_topic: str = _env("REQUEST_TOPIC", "flight-delay-ml-request")
    response_topic: str = _env("RESPONSE_TOPIC", "flight-delay-ml-response")
    dlq_topic: str = _env("DLQ_TOPIC", "flight-delay-ml-request-dlq")
    # compacted: the microbatch respond query's markers (query, batch id), one per transaction
    commit_topic: str = _env("COMMIT_TOPIC", "flight-delay-ml-stream-commits")
    mongo_database: str = _env("MONGO_DATABASE", "agile_data_science")
    mongo_collection: str = _env("MONGO_COLLECTION", "flight_delay_ml_response")
    cassandra_keyspace: str = _env("CASSANDRA_KEYSPACE", "agile_data_science")
    hdfs_prediction_dir: str = _env("HDFS_PREDICTION_DIR", "/user/spark/prediction")
    model_name: str = _env("MLFLOW_MODEL_NAME", "flight_delay_rf")


NAMES = Names()
# The registry alias of the model served; evaluate_model moves it, the stream follows it.
CHAMPION_ALIAS = "champion"

# Airflow connection ids, one per service (AIRFLOW_CONN_* in .env.example / docker-compose.yml).
SPARK_CONN_ID = "spark_default"
KAFKA_CONN_ID = "kafka_default"
MONGO_CONN_ID = "mongo_default"
WEBHDFS_CONN_ID = "webhdfs_default"
CASSANDRA_CONN_ID = "cassandra_default"
MLFLOW_CONN_ID = "mlflow_default"
NIFI_CONN_ID = "nifi_default"


def hdfs_url() -> str:
    """hdfs://host:port of the NameNode, for Spark jobs."""
    return _env("HDFS_URL", "hdfs://127.0.0.1:9000")


def state_dir() -> Path:
    """The platform's state folder (checkpoints, NiFi output, MLflow temp files)."""
    return Path(_env("FLIGHTDELAY_STATE_DIR", str(Path(__file__).resolve().parents[2] / ".state")))


def stream_checkpoint_root() -> str:
    """Where the streaming job keeps its checkpoints: the state folder embedded (fast local
    commits), an HDFS folder in docker-compose (set STREAM_CHECKPOINT_ROOT)."""
    return _env("STREAM_CHECKPOINT_ROOT", f"file://{state_dir() / 'data' / 'checkpoints' / 'prediction_stream'}")


def spark_jars() -> list[str]:
    """Local jar paths of Spark's Kafka connector (fetched by Maven at install time)."""
    return [j for j in _env("FLIGHTDELAY_SPARK_JARS", "").split(",") if j]
