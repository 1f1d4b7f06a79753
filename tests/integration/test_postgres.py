"""PostgreSQL: the metadata store of Airflow and MLflow (as in docker-compose.yml), on 127.0.0.1
with a generated password, run by supervisord like every other service."""
from __future__ import annotations

import psycopg2
import pytest
from mlflow import MlflowClient

from embedded import environment, initialise


def test_airflow_and_mlflow_keep_their_metadata_in_postgres(platform, airflow_api, unique):
    env = environment.environment(platform)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg2://")

    listed = airflow_api.get(f"{airflow_api.base}/api/v2/dags", params={"limit": 100}, timeout=30).json()
    with initialise.connect_postgres(platform, "airflow") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT dag_id FROM dag")
        stored = {row[0] for row in cursor.fetchall()}
    assert {dag["dag_id"] for dag in listed["dags"]} <= stored

    name = f"platform-test-pg-{unique}"
    MlflowClient(f"http://127.0.0.1:{platform.port('MLFLOW_PORT')}").create_experiment(name)
    with initialise.connect_postgres(platform, "mlflow") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM experiments WHERE name = %s", (name,))
        assert cursor.fetchone()[0] == 1


def test_postgres_refuses_a_wrong_password(platform):
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        initialise.connect_postgres(platform, "airflow", password="not-the-generated-one")


def test_ferretdb_stores_predictions_in_postgres_with_a_uuid_lookup_index(platform, unique):
    """FerretDB's storage is the `ferretdb` database; the prediction collection's table has the
    GIN index that serves FerretDB's lookup by UUID (`_jsonb -> 'UUID' @> value`)."""
    from pymongo import MongoClient

    database, name = platform.values["MONGO_DATABASE"], platform.values["MONGO_COLLECTION"]
    with MongoClient(f"mongodb://127.0.0.1:{platform.port('MONGO_PORT')}/") as client:
        collection = client[database][name]
        collection.insert_one({"UUID": f"pg-{unique}", "Prediction": 1})
        try:
            with initialise.connect_postgres(platform, "ferretdb") as connection, connection.cursor() as cursor:
                table = initialise.ferretdb_table(cursor, database, name)
                cursor.execute(f'SELECT count(*) FROM "{database}"."{table}" WHERE _jsonb -> \'UUID\' @> %s::jsonb',
                               (f'"pg-{unique}"',))
                assert cursor.fetchone()[0] == 1
                cursor.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s "
                               "AND indexname = %s", (database, table, f"{initialise.FERRETDB_UUID_INDEX}_{table}"))
                (definition,) = cursor.fetchone()
            assert "gin" in definition and "'UUID'" in definition
            assert collection.find_one({"UUID": f"pg-{unique}"})["Prediction"] == 1
        finally:
            collection.delete_many({"UUID": f"pg-{unique}"})
