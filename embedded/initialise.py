"""What a start does before supervisord takes over: check installs and ports, format Kafka's and
HDFS's storage once, create PostgreSQL's cluster and databases, migrate Airflow's database, give
the services' unprivileged account what they own; and FerretDB's UUID lookup index in PostgreSQL
once setup_platform has made the collection."""
from __future__ import annotations

import contextlib
import importlib.metadata
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from embedded import health, services as svc
from embedded.settings import Settings
from embedded.supervision import LOG_TAIL_LINES, PlatformError


def check_installed(s: Settings) -> None:
    missing = [str(p) for p in (s.jars / "kafka", s.jars / "hadoop", s.jars / "cassandra",
                                s.jars / "spark-kafka", s.jars / "nifi" / "lib", s.state / "bin" / "ferretdb-launcher",
                                s.venv_bin / "airflow") if not p.exists()]
    if missing:
        raise PlatformError("not installed: " + ", ".join(missing) + " (run `make run` or `make install`)")


def check_ports(service_list: list[svc.Service]) -> None:
    """Fail, naming the port and the service, when another process already holds a port."""
    for service in service_list:
        for key, port in service.ports.items():
            if health.tcp_open(port):
                raise PlatformError(
                    f"port {port} ({key}) needed by {service.name} is already in use by another "
                    f"process; stop that process or set {key} in .env"
                )


def run_step(title: str, command: list[str], env: dict[str, str], log: Path) -> None:
    print(f"  - {title} ...", flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        result = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
        raise PlatformError(f"{title} failed (exit {result.returncode}); last lines of {log}:\n{tail}")


def initialise(s: Settings, env: dict[str, str]) -> None:
    """Format storage once (Kafka, HDFS) and migrate the Airflow database."""
    java17 = str(s.java17)
    kafka_meta = s.data / "kafka" / "meta.properties"
    if not kafka_meta.exists():
        cluster_id = subprocess.run(
            [java17, "-cp", f"{s.jars}/kafka/*", f"-Dlog4j2.configurationFile={s.conf}/kafka/log4j2.properties",
             "-Dlog4j2.level=WARN", "kafka.tools.StorageTool", "random-uuid"],
            capture_output=True, text=True, check=True,
        ).stdout.strip().splitlines()[-1]
        run_step("format Kafka storage (KRaft)", [
            java17, "-cp", f"{s.jars}/kafka/*", f"-Dlog4j2.configurationFile={s.conf}/kafka/log4j2.properties",
            "kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id,
            "-c", f"{s.conf}/kafka/server.properties",
        ], env, s.logs / "init.log")
    if not (s.data / "hdfs" / "name" / "current").exists():
        run_step("format HDFS NameNode", [
            java17, *svc.HADOOP_OPENS, f"-Dlog4j.configuration=file:{s.conf}/hadoop/log4j.properties",
            "-cp", f"{s.conf}/hadoop:{s.jars}/hadoop/*", "org.apache.hadoop.hdfs.server.namenode.NameNode",
            "-format", "-nonInteractive", "-force",
        ], env, s.logs / "init.log")
    for folder in ("mlflow/artifacts", "mlflow/tmp", "ferretdb", "cassandra", "checkpoints", "nifi", "nifi-out",
                   "hdfs", "hadoop-tmp", "jvm-archives", "spark-work"):
        (s.data / folder).mkdir(parents=True, exist_ok=True)
    for folder in (s.airflow_home, s.logs / "airflow", s.state / "runs"):  # Airflow's, as the service account
        folder.mkdir(parents=True, exist_ok=True)
    # PostgreSQL's databases and Airflow's schema: once per state and Airflow version (a restart
    # skips the migration, which imports Airflow and starts PostgreSQL for it).
    marker, version = s.data / "airflow-db-migrated", importlib.metadata.version("apache-airflow")
    if marker.exists() and marker.read_text().strip() == version and (s.data / "postgres" / "PG_VERSION").exists():
        return
    with postgres_running(s, env):
        run_step("migrate the Airflow database", [str(s.venv_bin / "airflow"), "db", "migrate"], env,
                 s.logs / "init.log")
    marker.write_text(version)


def prepare_service_user(s: Settings, service_list: list[svc.Service]) -> None:
    """Started by root, the services with a `user` run as that unprivileged system account: made
    here once (no login, no home), it owns what they write and their 0600 config and keys, given
    at every start (a file a root process made meanwhile is theirs again)."""
    user = s.service_user
    if user is None:
        if os.geteuid() == 0:
            print(f"  ! the services run as root: other users may not traverse {s.unreachable_folder()} "
                  "(chmod o+x it, or clone and set FLIGHTDELAY_STATE_DIR where they may)", flush=True)
        return
    try:
        pwd.getpwnam(user)
    except KeyError:
        run_step(f"create the system account {user} (the services run as it, not as root)", [
            "useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
            "--shell", "/usr/sbin/nologin", user], dict(os.environ), s.logs / "init.log")
    owned = sorted({path for service in service_list if service.user == user for path in service.owns})
    for relative in owned:
        path = s.state / relative
        if path.exists():
            subprocess.run(["chown", "-R", f"{user}:{user}", str(path)], check=True)


def as_postgres_user(s: Settings, command: list[str]) -> list[str]:
    return ["runuser", "-u", s.postgres_user, "--", *command] if s.postgres_user else command


@contextlib.contextmanager
def postgres_running(s: Settings, env: dict[str, str]):
    """PostgreSQL started for the first-start steps (its cluster made once, the databases of
    Airflow, MLflow and FerretDB created if missing), stopped after them: supervisord runs it
    from then on."""
    data, log = s.data / "postgres", s.logs / "init.log"
    if s.postgres_user and subprocess.run(as_postgres_user(s, ["test", "-x", str(s.data)])).returncode != 0:
        raise PlatformError(f"PostgreSQL refuses to run as root, so it runs as user {s.postgres_user}, who cannot "
                            f"reach {s.data}: let others traverse the folders above it (chmod o+x) or set "
                            "FLIGHTDELAY_STATE_DIR to a folder it can reach")
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        data.chmod(0o700)
        with tempfile.TemporaryDirectory() as folder:
            password_file = Path(folder) / "password"
            password_file.write_text(s.secret("postgres_password"))
            if s.postgres_user:
                for path in (data, Path(folder), password_file):
                    shutil.chown(path, s.postgres_user, s.postgres_user)
            run_step("initialise PostgreSQL (Airflow, MLflow, FerretDB)", as_postgres_user(s, [
                str(s.postgres_bin / "initdb"), "-D", str(data), "-U", "flightdelay", f"--pwfile={password_file}",
                "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale"]), env, log)
    server = " ".join(shlex.quote(part) for part in svc.postgres_command(s)[3:])  # after "postgres -D <data>"
    run_step("start PostgreSQL for the first-start steps", as_postgres_user(s, [
        str(s.postgres_bin / "pg_ctl"), "-D", str(data), "-o", server, "-w", "-t", "60", "start"]), env, log)
    try:
        connection = connect_postgres(s, "postgres")
        try:
            with connection.cursor() as cursor:
                for database in ("airflow", "mlflow", "ferretdb"):
                    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
                    if cursor.fetchone() is None:
                        cursor.execute(f"CREATE DATABASE {database}")
                        print(f"  - created PostgreSQL database {database}", flush=True)
        finally:
            connection.close()
        yield
    finally:
        run_step("stop PostgreSQL (supervisord starts it)", as_postgres_user(s, [
            str(s.postgres_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), env, log)


def prepare_ferretdb_lookup(s: Settings) -> None:
    """FerretDB's lookup index on UUID, on the collection setup_platform made (embedded only:
    compose runs MongoDB itself)."""
    database, collection = s.values["MONGO_DATABASE"], s.values["MONGO_COLLECTION"]
    table = ferretdb_uuid_lookup_index(s, database, collection)
    print(f"  - MongoDB {database}.{collection}: lookup index in FerretDB's PostgreSQL table {table}", flush=True)


def ferretdb_uuid_lookup_index(s: Settings, database: str, collection: str) -> str:
    """A GIN index on `_jsonb -> 'UUID'`, the expression FerretDB's PostgreSQL backend looks a
    field up by (the btree of a unique index cannot serve it: every lookup scanned the table).
    Without fastupdate, whose pending list every lookup would scan. Made on the table holding the
    (existing) collection; returns that table's name."""
    connection = connect_postgres(s, "ferretdb")
    try:
        with connection.cursor() as cursor:
            table = ferretdb_table(cursor, database, collection)
            cursor.execute(f'CREATE INDEX IF NOT EXISTS "{FERRETDB_UUID_INDEX}_{table}" ON "{database}"."{table}" '
                           "USING gin ((_jsonb -> 'UUID') jsonb_path_ops) WITH (fastupdate = off)")
    finally:
        connection.close()
    return table


FERRETDB_UUID_INDEX = "flightdelay_uuid_lookup"


def ferretdb_table(cursor, database: str, collection: str) -> str:
    """The PostgreSQL table (in schema `database`) where FerretDB keeps `collection`."""
    cursor.execute(f'SELECT _jsonb ->> \'table\' FROM "{database}"._ferretdb_database_metadata '
                   "WHERE _jsonb ->> '_id' = %s", (collection,))
    return cursor.fetchone()[0]


def connect_postgres(s: Settings, database: str, password: str | None = None):
    """An autocommit connection to the platform's PostgreSQL as its `flightdelay` user."""
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=s.port("POSTGRES_PORT"), user="flightdelay",
                                  password=password or s.secret("postgres_password"), dbname=database,
                                  connect_timeout=5)
    connection.autocommit = True
    return connection
