"""PostgreSQL: the metadata store of Airflow and MLflow (as in docker-compose.yml), on 127.0.0.1
with a generated password, run by supervisord like every other service."""
from __future__ import annotations

import psycopg2
import pytest
from mlflow import MlflowClient

from embedded import platformctl


def _connect(platform, database: str, password: str | None = None):
    return psycopg2.connect(host="127.0.0.1", port=platform.port("POSTGRES_PORT"), user="flightdelay",
                            password=password or platform.secret("postgres_password"), dbname=database,
                            connect_timeout=5)


def test_airflow_and_mlflow_keep_their_metadata_in_postgres(platform, airflow_api, unique):
    env = platformctl.environment(platform)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg2://")

    listed = airflow_api.get(f"{airflow_api.base}/api/v2/dags", params={"limit": 100}, timeout=30).json()
    with _connect(platform, "airflow") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT dag_id FROM dag")
        stored = {row[0] for row in cursor.fetchall()}
    assert {dag["dag_id"] for dag in listed["dags"]} <= stored

    name = f"platform-test-pg-{unique}"
    MlflowClient(f"http://127.0.0.1:{platform.port('MLFLOW_PORT')}").create_experiment(name)
    with _connect(platform, "mlflow") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM experiments WHERE name = %s", (name,))
        assert cursor.fetchone()[0] == 1


def test_postgres_refuses_a_wrong_password(platform):
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        _connect(platform, "airflow", password="not-the-generated-one")
