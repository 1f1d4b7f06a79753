"""Start, watch and stop the embedded platform: every service as a supervised local process.

    python -m embedded.platformctl start|stop|status|clean|env
(`make run`, `make stop`, `make status`, `make clean` call it after installing what is missing.)
supervisord supervises the processes (restart on crash, one log per service under .state/logs).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from pathlib import Path

from embedded import services as svc, startup
from embedded.settings import EMBEDDED, REPO, Settings, load

sys.path.insert(0, str(REPO / "include"))  # the flightdelay package (serving status, canary fields)

LOG_TAIL_LINES = 40


class PlatformError(Exception):
    """A start-up problem the user must act on; the message says what and where."""


# --- environment shared by every service and the tests ---------------------------------------

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
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(s.logs / "airflow"),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
    })
    return env


# --- configuration files ---------------------------------------------------------------------

def render_configs(s: Settings) -> None:
    """Fill the templates of embedded/conf/ into .state/conf/ (paths and ports substituted)."""
    mapping = dict(s.values, STATE=str(s.state), NIFI_SENSITIVE_PROPS_KEY=s.secret("nifi_sensitive_props_key"))
    for template in (EMBEDDED / "conf").rglob("*"):
        if template.is_dir():
            continue
        target = s.conf / template.relative_to(EMBEDDED / "conf")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(string.Template(template.read_text()).substitute(mapping))


def supervisord_conf(s: Settings, service_list: list[svc.Service], start_retries: int = 10) -> str:
    """One [program] per service: autorestart, its own log, stop the whole process group."""
    lines = [
        "[unix_http_server]", f"file={s.run}/supervisor.sock", "chmod=0700", "",
        "[supervisord]", f"logfile={s.logs}/supervisord.log", "logfile_maxbytes=10MB",
        f"pidfile={s.run}/supervisord.pid", f"directory={REPO}", "loglevel=info", "minfds=4096", "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
        "[supervisorctl]", f"serverurl=unix://{s.run}/supervisor.sock", "",
    ]
    for service in service_list:
        command = " ".join(_quote(part) for part in service.command)
        lines += [
            f"[program:{service.name}]",
            f"command={command}",
            f"priority={service.priority}",
            f"directory={service.directory or s.state}",
            f"autostart={'true' if service.autostart else 'false'}", "autorestart=true", "startsecs=3",
            f"startretries={start_retries}",
            "stopasgroup=true", "killasgroup=true", "stopwaitsecs=30",
            "redirect_stderr=true", f"stdout_logfile={s.logs}/{service.name}.log",
            "stdout_logfile_maxbytes=20MB", "stdout_logfile_backups=2", f"stopsignal={service.stopsignal}",
        ]
        if service.user:
            lines.append(f"user={service.user}")
        if service.environment:
            env = ",".join(f'{k}="{v}"' for k, v in service.environment.items())
            lines.append(f"environment={env}")
        lines.append("")
    return "\n".join(lines)


def _quote(part: str) -> str:
    # supervisord splits command= with shlex; '%' must be doubled for its own expansion.
    return shlex.quote(part).replace("%", "%%")


# --- supervisord -------------------------------------------------------------------------------

def supervisor(s: Settings) -> xmlrpc.client.ServerProxy:
    from supervisor.xmlrpc import SupervisorTransport

    transport = SupervisorTransport(None, None, f"unix://{s.run}/supervisor.sock")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def supervisord_pid(s: Settings) -> int | None:
    pidfile = s.run / "supervisord.pid"
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def process_states(s: Settings) -> dict[str, dict]:
    return {info["name"]: info for info in supervisor(s).supervisor.getAllProcessInfo()}


def log_tail(s: Settings, name: str, lines: int = LOG_TAIL_LINES) -> str:
    path = s.logs / f"{name}.log"
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- one-time initialisation -------------------------------------------------------------------

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
            if svc.tcp_open(port):
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
    for folder in ("mlflow/artifacts", "mlflow/tmp", "ferretdb", "cassandra", "checkpoints", "nifi", "nifi-out"):
        (s.data / folder).mkdir(parents=True, exist_ok=True)
    with postgres_running(s, env):
        run_step("migrate the Airflow database", [str(s.venv_bin / "airflow"), "db", "migrate"], env,
                 s.logs / "init.log")


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
    """FerretDB's PostgreSQL backend looks a field up as `_jsonb -> 'UUID' @> <value>`, which the
    btree of a unique index cannot serve, so every lookup by UUID scanned the table (250 ms at
    300,000 documents); a GIN index on that expression serves it (1 ms). Without fastupdate: its
    pending list of new entries, scanned by every lookup, made them 60-130 ms after 80,000 fresh
    inserts (tests/benchmarks/bench_mongo.py). Made on the table that holds the (existing)
    collection; returns that table's name."""
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


# --- commands ----------------------------------------------------------------------------------

def wait_healthy(s: Settings, service_list: list[svc.Service]) -> dict[str, float]:
    """Wait for each service's check, printing what is awaited; fail with the log tail."""
    started = time.monotonic()
    ready_at: dict[str, float] = {}
    for service in service_list:
        deadline = time.monotonic() + service.timeout
        last_print = 0.0
        if not service.autostart:
            # The held-back services wait for the same ones (those started at once): start them together.
            states = process_states(s)
            for later in service_list[service_list.index(service):]:
                if not later.autostart and states[later.name]["statename"] in ("STOPPED", "EXITED"):
                    print(f"  starting {later.name} (the services it waits for are healthy)", flush=True)
                    supervisor(s).supervisor.startProcess(later.name, False)
        while True:
            state = process_states(s)[service.name]
            if state["statename"] in ("FATAL",):
                raise PlatformError(
                    f"{service.name} failed to start ({state['statename']}); last lines of "
                    f"{s.logs}/{service.name}.log:\n{log_tail(s, service.name)}"
                )
            reason = ""
            if state["statename"] == "RUNNING":
                try:
                    service.check()
                    break
                except svc.Unhealthy as exc:
                    reason = str(exc)
            else:
                reason = state["statename"].lower()
            now = time.monotonic()
            if now > deadline:
                raise PlatformError(
                    f"{service.name} not healthy after {service.timeout}s ({reason}); last lines of "
                    f"{s.logs}/{service.name}.log:\n{log_tail(s, service.name)}"
                )
            if now - last_print >= 10:
                print(f"  waiting for {service.name} ({reason[:120]}) ... {now - started:.0f}s", flush=True)
                last_print = now
            time.sleep(1)
        ready_at[service.name] = time.monotonic() - started
        print(f"  ok  {service.name:<22} healthy at {ready_at[service.name]:6.1f}s", flush=True)
    return ready_at


def start(s: Settings) -> int:
    service_list = svc.services(s)
    for folder in (s.logs, s.run, s.data, s.conf):
        folder.mkdir(parents=True, exist_ok=True)
    if supervisord_pid(s) is None:
        check_ports(service_list)
        check_installed(s)
        render_configs(s)
        env = environment(s)
        print("Initialising (first start only: formats storage, migrates databases)", flush=True)
        initialise(s, env)
        (s.conf / "supervisord.conf").write_text(supervisord_conf(s, service_list))
        print(f"Starting {len(service_list)} services under supervisord (logs in {s.logs})", flush=True)
        subprocess.run([str(s.venv_bin / "supervisord"), "-c", str(s.conf / "supervisord.conf")],
                       env={**env, SUPERVISED_MARK: str(s.state)}, check=True, cwd=REPO, start_new_session=True)
        for _ in range(50):
            if (s.run / "supervisor.sock").exists():
                break
            time.sleep(0.2)
    else:
        print("Platform already running; checking health", flush=True)
        rpc = supervisor(s)
        later = {service.name for service in service_list if not service.autostart}  # wait_healthy's
        for name, info in process_states(s).items():
            if info["statename"] not in ("RUNNING", "STARTING") and name not in later:
                rpc.supervisor.startProcess(name, False)
    wait_healthy(s, service_list)
    print("\nAll services healthy:")
    for service in service_list:
        if service.url:
            print(f"  {service.name:<20} {service.url}")
    print(f"  {'airflow login':<20} admin / password in {s.airflow_home}/simple_auth_manager_passwords.json.generated")
    print(f"  {'logs':<20} {s.logs}/<service>.log\n")
    try:
        startup.start_and_wait(s, os.environ.get("WAIT", "serving"), after_setup=lambda: prepare_ferretdb_lookup(s))
    except startup.StageFailed as exc:
        raise PlatformError(str(exc)) from exc
    print(f"\nThe form answers: http://127.0.0.1:{s.port('WEBAPP_PORT')}/")
    return 0


SUPERVISED_MARK = "FLIGHTDELAY_SUPERVISED"


def our_processes(s: Settings) -> list[int]:
    """PIDs of the platform's processes: supervisord and everything it started (they inherit
    FLIGHTDELAY_SUPERVISED=<state folder> from it; a test's own Spark JVM does not)."""
    import psutil

    mine = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get(SUPERVISED_MARK) == str(s.state):
                mine.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return mine


def stop(s: Settings) -> int:
    import psutil

    pid = supervisord_pid(s)
    if pid is not None:
        startup.stop_stream(s)
        print("Stopping all services (supervisord shutdown) ...", flush=True)
        try:
            supervisor(s).supervisor.shutdown()
        except (OSError, xmlrpc.client.Fault) as exc:
            print(f"  supervisord did not answer ({exc}); sending SIGTERM", flush=True)
            os.kill(pid, signal.SIGTERM)
        try:
            psutil.Process(pid).wait(timeout=90)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            print("  supervisord still running after 90 s; killing it", flush=True)
            os.kill(pid, signal.SIGKILL)
    leftovers = our_processes(s)
    for leftover in leftovers:
        try:
            proc = psutil.Process(leftover)
            print(f"  terminating leftover process {leftover}: {' '.join(proc.cmdline())[:100]}", flush=True)
            proc.terminate()
        except psutil.NoSuchProcess:
            continue
    _gone, alive = psutil.wait_procs([psutil.Process(p) for p in leftovers if psutil.pid_exists(p)], timeout=15)
    for proc in alive:
        proc.kill()
    print("Platform stopped.")
    return 0


def status(s: Settings) -> int:
    if supervisord_pid(s) is None:
        print("Platform is not running (make run starts it).")
        return 3
    states = process_states(s)
    failing = 0
    print(f"{'service':<22} {'process':<10} {'pid':>7}  {'health':<8} url")
    for service in svc.services(s):
        info = states.get(service.name, {})
        try:
            service.check() if info.get("statename") == "RUNNING" else None
            health = "ok" if info.get("statename") == "RUNNING" else "down"
        except svc.Unhealthy as exc:
            health = f"FAIL: {exc}"[:60]
        failing += health != "ok"
        print(f"{service.name:<22} {info.get('statename', '?'):<10} {info.get('pid', 0):>7}  {health:<8} {service.url}")
    return 1 if failing else 0


def clean(s: Settings) -> int:
    stop(s)
    for folder in (s.data, s.logs, s.conf, s.run, s.airflow_home, s.state / "secrets"):
        shutil.rmtree(folder, ignore_errors=True)
    print(f"Removed service state under {s.state} (installed jars, venv and binaries kept).")
    return 0


def print_env(s: Settings) -> int:
    env = environment(s)
    for key in sorted(env):
        if key.startswith(("AIRFLOW", "FLIGHTDELAY", "MLFLOW", "HADOOP", "JAVA_HOME", "PYTHONPATH", "SPARK", "PYSPARK", "PATH", "HDFS_URL")):
            print(f"export {key}={shlex.quote(env[key])}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "status", "clean", "env"])
    args = parser.parse_args(argv)
    settings = load()
    if not (REPO / ".env").exists():
        shutil.copy(REPO / ".env.example", REPO / ".env")
        settings = load()
    commands = {"start": start, "stop": stop, "status": status, "clean": clean, "env": print_env}
    try:
        return commands[args.command](settings)
    except PlatformError as exc:
        print(f"\nERROR: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
