"""The services' environment and configuration files: one process environment for every
service, the tests and the DAG runs; the templates of embedded/conf/ rendered into .state/conf/."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import string
import subprocess
from pathlib import Path

from embedded.settings import EMBEDDED, REPO, Settings, write_private

# What `platformctl env` prints, and which of those values are secrets (masked unless asked).
EXPORTED = ("AIRFLOW", "FLIGHTDELAY", "MLFLOW", "HADOOP", "JAVA_HOME", "PYTHONPATH", "SPARK", "PYSPARK", "PATH",
            "HDFS_URL")
SECRET_NAME = re.compile(r"SECRET|PASSWORD|FERNET|_KEY$|^AIRFLOW_CONN_")
URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
NIFI_USER = "flightdelay"  # NiFi's one login; its password is .state/secrets/nifi_password


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
        "SPARK_HOME": s.spark_home,
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
        "AIRFLOW_CONN_NIFI_DEFAULT": nifi_connection(s, env.get("AIRFLOW_CONN_NIFI_DEFAULT")),
        "AIRFLOW_CONN_SPARK_DEFAULT": spark_connection(s, env.get("AIRFLOW_CONN_SPARK_DEFAULT")),
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


def nifi_tls_files(s: Settings) -> tuple[Path, Path, Path]:
    """NiFi's keystore, its truststore, and its certificate in PEM for the clients that trust it."""
    return s.secret_path("nifi-keystore.p12"), s.secret_path("nifi-truststore.p12"), s.secret_path("nifi-cert.pem")


def spark_connection(s: Settings, configured: str | None) -> str:
    """The Spark connection: .env's (local[2]), or the embedded master with SPARK_CLUSTER=standalone."""
    if not s.spark_standalone:
        return configured or json.dumps({"conn_type": "spark", "host": "local[2]"})
    conn = json.loads(configured) if configured else {"conn_type": "spark"}
    conn.update(host=s.spark_master_url)
    conn.pop("port", None)
    return json.dumps(conn)


def nifi_connection(s: Settings, configured: str | None) -> str:
    """The NiFi connection (.env's host and port) with HTTPS, the login and the certificate to trust."""
    conn = json.loads(configured) if configured else {"conn_type": "http", "host": "127.0.0.1",
                                                       "port": s.port("NIFI_PORT")}
    conn.update(schema="https", login=NIFI_USER, password=s.secret("nifi_password"))
    conn["extra"] = dict(conn.get("extra") or {}, verify=str(nifi_tls_files(s)[2]))
    return json.dumps(conn)


def password_hash(password: str, iterations: int = 210_000) -> str:
    """`pbkdf2-sha256$iterations$salt$hash` (base64), the form embedded/nifi-login checks."""
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    encode = base64.b64encode
    return f"pbkdf2-sha256${iterations}${encode(salt).decode()}${encode(digest).decode()}"


def ensure_nifi_certificate(s: Settings) -> None:
    """NiFi's self-signed certificate for 127.0.0.1, made once by keytool: every file 0600 from
    the start (umask 077), the store password a generated secret passed through the environment."""
    keystore, truststore, cert = nifi_tls_files(s)
    if keystore.exists() and truststore.exists() and cert.exists():
        return
    for path in (keystore, truststore, cert):
        path.unlink(missing_ok=True)
    keytool = str(s.java17.parent / "keytool")
    env = dict(os.environ, NIFI_STORE_PASSWORD=s.secret("nifi_store_password"))
    store = ["-storetype", "PKCS12", "-storepass:env", "NIFI_STORE_PASSWORD"]
    for step in (
        ["-genkeypair", "-alias", "nifi", "-keyalg", "RSA", "-keysize", "2048", "-validity", "3650",
         "-dname", "CN=127.0.0.1, OU=flightdelay embedded NiFi", "-ext", "SAN=ip:127.0.0.1,dns:localhost",
         "-keystore", str(keystore), *store],
        ["-exportcert", "-rfc", "-alias", "nifi", "-keystore", str(keystore), *store, "-file", str(cert)],
        ["-importcert", "-noprompt", "-alias", "nifi", "-file", str(cert), "-keystore", str(truststore), *store],
    ):
        done = subprocess.run([keytool, *step], env=env, capture_output=True, text=True,
                              preexec_fn=lambda: os.umask(0o077))
        if done.returncode != 0:
            raise RuntimeError(f"keytool {step[0]} for NiFi's certificate failed: {done.stdout}{done.stderr}")


def render_configs(s: Settings) -> None:
    """Fill the templates of embedded/conf/ into .state/conf/ (paths, ports and NiFi's login and
    keystores substituted); NiFi's certificate is made first if missing."""
    ensure_nifi_certificate(s)
    keystore, truststore, _ = nifi_tls_files(s)
    mapping = dict(
        s.values, STATE=str(s.state), NIFI_SENSITIVE_PROPS_KEY=s.secret("nifi_sensitive_props_key"),
        NIFI_USERNAME=NIFI_USER, NIFI_PASSWORD_HASH=password_hash(s.secret("nifi_password")),
        NIFI_KEYSTORE=str(keystore), NIFI_TRUSTSTORE=str(truststore),
        NIFI_STORE_PASSWORD=s.secret("nifi_store_password"),
    )
    for template in (EMBEDDED / "conf").rglob("*"):
        if template.is_dir():
            continue
        target = s.conf / template.relative_to(EMBEDDED / "conf")
        target.parent.mkdir(parents=True, exist_ok=True)
        # Created 0600 (nifi.properties holds NiFi's keys): replaced, not rewritten.
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
