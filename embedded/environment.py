"""The services' environment and configuration files: one process environment for every
service, the tests and the DAG runs; the templates of embedded/conf/ rendered into .state/conf/."""
from __future__ import annotations

import json
import os
import re
import string

from embedded.settings import EMBEDDED, REPO, Settings, write_private

# What `platformctl env` prints, and which of those values are secrets (masked unless asked).
EXPORTED = ("AIRFLOW", "FLIGHTDELAY", "MLFLOW", "HADOOP", "JAVA_HOME", "PYTHONPATH", "SPARK", "PYSPARK", "PATH",
            "HDFS_URL")
SECRET_NAME = re.compile(r"SECRET|PASSWORD|FERNET|_KEY$|^AIRFLOW_CONN_")
URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def environment(s: Settings) -> dict[str, str]:
    """The process environment of the services (and of tests and DAG runs)."""
    env = dict(os.environ)
    env.update(s.values)
    home = s.airflow_home
    env.update({
        "FLIGHTDELAY_STATE_DIR": str(s.state),
        # One key for every web server process: each checks the UUIDs the others reserved.
        "FLIGHTDELAY_WEBAPP_SECRET_KEY": s.secret("webapp_secret_key"),
        "FLIGHTDELAY_SPARK_JARS": ",".join(s.spark_jars()),
        "FLIGHTDELAY_JVM_ARCHIVES": str(s.data / "jvm-archives"),  # spark_jobs.class_archive_options
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "include"), str(REPO / "plugins")]),
        "PATH": f"{s.venv_bin}{os.pathsep}{env.get('PATH', '')}",
        "JAVA_HOME": str(s.java17.parent.parent),
        "HADOOP_CONF_DIR": str(s.conf / "hadoop"),
        "HADOOP_USER_NAME": "spark",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": str(s.venv_bin / "python"),
        "PYSPARK_DRIVER_PYTHON": str(s.venv_bin / "python"),
        "SPARK_HOME": str(next((s.state / "venv" / "lib").glob("python3*/site-packages/pyspark"), "")),
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{s.port('MLFLOW_PORT')}",
        "MLFLOW_DFS_TMP": str(s.data / "mlflow" / "tmp"),
        "HDFS_URL": f"hdfs://127.0.0.1:{s.port('HDFS_RPC_PORT')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__FERNET_KEY": s.secret("airflow_fernet_key", fernet=True),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json.generated"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{s.port('AIRFLOW_PORT')}/execution/",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{s.port('AIRFLOW_PORT')}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(s.port("AIRFLOW_PORT")),
        "AIRFLOW__API__SECRET_KEY": s.secret("airflow_api_secret_key"),
        "AIRFLOW__API_AUTH__JWT_SECRET": s.secret("airflow_jwt_secret"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": s.postgres_uri("airflow"),
        "MLFLOW_BACKEND_STORE_URI": s.postgres_uri("mlflow"),  # read by `mlflow server` only
        "FERRETDB_POSTGRESQL_URL": s.postgres_uri("ferretdb", driver="postgres"),  # by ferretdb-launcher only
        "FLIGHTDELAY_NIFI_FLOW_PARAMETERS": json.dumps(nifi_flow_parameters(s)),  # setup_platform's NiFi deploy
        "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        # Each DAG file re-parsed every 5 min, not 30 s (re-parsing cost CPU the stream needs);
        # a new file is still listed within 30 s.
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(s.logs / "airflow"),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
    })
    return env


def nifi_flow_parameters(s: Settings) -> dict[str, str]:
    """Values of the NiFi flow's parameters in the embedded runtime."""
    return {
        "kafka.bootstrap.servers": f"127.0.0.1:{s.port('KAFKA_PORT')}",
        "kafka.topic": s.values["RESPONSE_TOPIC"],
        "kafka.classpath": f"{s.jars}/kafka/*",
        "kafka.log4j.config": f"{s.conf}/kafka/tools-log4j2.properties",
        "java.command": str(s.java17),
        "output.directory": str(s.data / "nifi-out"),
    }


def render_configs(s: Settings) -> None:
    """Fill the templates of embedded/conf/ into .state/conf/ (paths and ports substituted)."""
    mapping = dict(s.values, STATE=str(s.state), NIFI_SENSITIVE_PROPS_KEY=s.secret("nifi_sensitive_props_key"))
    for template in (EMBEDDED / "conf").rglob("*"):
        if template.is_dir():
            continue
        target = s.conf / template.relative_to(EMBEDDED / "conf")
        target.parent.mkdir(parents=True, exist_ok=True)
        # Created 0600 (nifi.properties holds the sensitive-properties key): replaced, not rewritten.
        target.unlink(missing_ok=True)
        write_private(target, string.Template(template.read_text()).substitute(mapping))


def masked(key: str, value: str) -> str:
    """`value` with its secret hidden: the whole value of a secret's variable, the password of a URL."""
    if SECRET_NAME.search(key):
        return "***"
    return URL_PASSWORD.sub(r"\1***@", value)


def exports(s: Settings, show_secrets: bool = False) -> list[str]:
    """`export KEY=value` lines of the platform's variables, secrets masked unless `show_secrets`."""
    from shlex import quote

    env = environment(s)
    return [f"export {key}={quote(env[key] if show_secrets else masked(key, env[key]))}"
            for key in sorted(env) if key.startswith(EXPORTED)]
