-- Second database on the compose PostgreSQL: the MLflow backend store (Airflow uses "airflow").
CREATE DATABASE mlflow;
