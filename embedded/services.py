"""The services of the embedded platform: how each one starts, which ports it owns, and which
check (embedded/health.py) says it is ready. platformctl turns this list into a supervisord
configuration.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from embedded.environment import NIFI_USER, nifi_tls_files
from embedded.health import (airflow_component, check_cassandra, check_datanode, check_http, check_kafka, check_mongo,
                             check_namenode, check_postgres)
from embedded.settings import REPO, Settings

HADOOP_OPENS = [
    "-XX:+IgnoreUnrecognizedVMOptions",
    *(
        f"--add-opens=java.base/{pkg}=ALL-UNNAMED"
        for pkg in (
            "java.io", "java.lang", "java.lang.reflect", "java.math", "java.net", "java.text",
            "java.util", "java.util.concurrent", "java.util.zip", "sun.security.util",
            "sun.security.x509",
        )
    ),
]

# JVMs off the answer's path and light once started (NiFi, the HDFS daemons): the client compiler
# only. C2 took about 40 % of their CPU in a warm start (per-thread /proc times), while every
# service and the stream start at once on 2 cores; C1 code is fast enough for their load.
QUICK_START_JIT = ["-XX:TieredStopAtLevel=1"]

CASSANDRA_JVM17 = """
-XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1 -XX:G1HeapRegionSize=16m
-XX:G1RSetUpdatingPauseTimePercent=5 -XX:MaxGCPauseMillis=300 -XX:InitiatingHeapOccupancyPercent=70
-Djdk.attach.allowAttachSelf=true
--add-exports java.base/jdk.internal.misc=ALL-UNNAMED
--add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
--add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
--add-exports java.sql/java.sql=ALL-UNNAMED --add-exports java.base/java.lang.ref=ALL-UNNAMED
--add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
--add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
--add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
--add-opens java.base/java.lang.module=ALL-UNNAMED --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
--add-opens java.base/jdk.internal.ref=ALL-UNNAMED --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
--add-opens java.base/jdk.internal.math=ALL-UNNAMED --add-opens java.base/jdk.internal.module=ALL-UNNAMED
--add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
--add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
--add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.base/java.io=ALL-UNNAMED
--add-opens java.base/java.lang.reflect=ALL-UNNAMED --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
--add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED
-Dio.netty.tryReflectionSetAccessible=true -Dio.netty.allocator.useCacheForAllThreads=true
-Dio.netty.allocator.maxOrder=11
-ea -da:net.openhft... -Xss256k -XX:+UseThreadPriorities -XX:+PerfDisableSharedMem
-Djava.net.preferIPv4Stack=true
""".split()


@dataclass
class Service:
    """One supervised process and the check that says it is ready."""

    name: str
    command: list[str]
    ports: dict[str, int]
    check: Callable[[], None]
    url: str = ""
    timeout: int = 180
    priority: int = 100
    directory: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    user: str | None = None  # run as this user (supervisord runs as root)
    # what of the state `user` owns: what it writes, and its config and keys, rendered 0600
    # (initialise.prepare_service_user)
    owns: tuple[str, ...] = ()
    stopsignal: str = "TERM"
    # 10: a service off the answer's path and off the start's (a sink, the metadata, NiFi) yields
    # the CPU to Kafka, HDFS, Airflow, the stream and the web app, so its bursts delay neither.
    nice: int = 0
    # held back until these services are healthy; then wait_healthy starts it
    after: tuple[str, ...] = ()
    # True: setup_platform's tasks wait for it themselves, so `make run` triggers that DAG
    # without waiting for it (it is still awaited before `make run` returns)
    setup_waits: bool = False


def postgres_command(s: Settings) -> list[str]:
    """The PostgreSQL server on 127.0.0.1 only (no Unix socket: its default folder belongs to
    Debian's own cluster)."""
    return [str(s.postgres_bin / "postgres"), "-D", str(s.data / "postgres"), "-p", str(s.port("POSTGRES_PORT")),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"]


# --- the service list ----------------------------------------------------------------------

def services(s: Settings) -> list[Service]:
    """Every service of the embedded platform, in start order."""
    jars, conf, data, logs = s.jars, s.conf, s.data, s.logs
    java17 = str(s.java17)
    v = s.values
    bin_ = s.venv_bin
    airflow = str(bin_ / "airflow")
    hadoop_cp = f"{conf}/hadoop:{jars}/hadoop-webapps:{jars}/hadoop/*"
    hadoop_java = [
        java17, f"-Xmx{v['HDFS_HEAP']}", *QUICK_START_JIT, *HADOOP_OPENS, f"-Dhadoop.log.dir={logs}",
        "-Dhadoop.root.logger=INFO,console", f"-Dlog4j.configuration=file:{conf}/hadoop/log4j.properties",
        "-cp", hadoop_cp,
    ]
    user = s.service_user  # stats the folders above the state: once, not per service
    airflow_port = s.port("AIRFLOW_PORT")
    airflow_health = f"http://127.0.0.1:{airflow_port}/api/v2/monitor/health"
    # Airflow and the tasks it runs (the Spark jobs, the stream among them) as the service account:
    # its home and logs, the runs' results, the stream's checkpoints and class archive, MLflow's
    # temporary folder and NiFi's certificate (setup_platform and the canary trust it) are theirs.
    airflow_as_user = dict(
        user=user, directory=str(s.airflow_home),
        environment={"HOME": str(s.airflow_home), "USER": user, "LOGNAME": user} if user else {},
        owns=("airflow", "logs/airflow", "runs", "data/checkpoints", "data/jvm-archives", "data/mlflow/tmp",
              "secrets/nifi-cert.pem"),
    )
    # The scheduler's and triggerer's log servers bind every interface (hard-coded in Airflow);
    # with LocalExecutor the api-server reads the same log folder, so they are not started.
    return [
        Service(
            name="postgres",  # Airflow's and MLflow's metadata (as in docker-compose.yml), FerretDB's storage
            command=postgres_command(s),
            ports={"POSTGRES_PORT": s.port("POSTGRES_PORT")},
            check=check_postgres(s.port("POSTGRES_PORT"), s.secret("postgres_password")),
            url=f"postgresql://127.0.0.1:{s.port('POSTGRES_PORT')} (databases airflow, mlflow, ferretdb)",
            priority=5,
            nice=10,
            user=s.postgres_user,
            stopsignal="INT",  # fast shutdown: TERM would wait for every client to disconnect
        ),
        Service(
            name="kafka",
            command=[
                java17, "-Xms256m", f"-Xmx{v['KAFKA_HEAP']}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                "-XX:InitiatingHeapOccupancyPercent=35", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={conf}/kafka/log4j2.properties",
                f"-Dkafka.logs.dir={logs}", "-cp", f"{jars}/kafka/*", "kafka.Kafka",
                f"{conf}/kafka/server.properties",
            ],
            ports={"KAFKA_PORT": s.port("KAFKA_PORT"), "KAFKA_CONTROLLER_PORT": s.port("KAFKA_CONTROLLER_PORT")},
            check=check_kafka(s.port("KAFKA_PORT")),
            url=f"PLAINTEXT://127.0.0.1:{s.port('KAFKA_PORT')}",
            priority=10,
            user=user,
            owns=("data/kafka", "conf/kafka"),
        ),
        Service(
            name="namenode",
            command=[*hadoop_java, "org.apache.hadoop.hdfs.server.namenode.NameNode"],
            ports={"HDFS_RPC_PORT": s.port("HDFS_RPC_PORT"), "HDFS_HTTP_PORT": s.port("HDFS_HTTP_PORT")},
            check=check_namenode(s.port("HDFS_HTTP_PORT")),
            url=f"http://127.0.0.1:{s.port('HDFS_HTTP_PORT')} (hdfs://127.0.0.1:{s.port('HDFS_RPC_PORT')})",
            priority=10,
            user=user,
            owns=("data/hdfs", "data/hadoop-tmp", "conf/hadoop"),
        ),
        Service(
            name="datanode",
            command=[*hadoop_java, "org.apache.hadoop.hdfs.server.datanode.DataNode"],
            ports={
                "HDFS_DATANODE_PORT": s.port("HDFS_DATANODE_PORT"),
                "HDFS_DATANODE_HTTP_PORT": s.port("HDFS_DATANODE_HTTP_PORT"),
                "HDFS_DATANODE_IPC_PORT": s.port("HDFS_DATANODE_IPC_PORT"),
            },
            check=check_datanode(s.port("HDFS_DATANODE_HTTP_PORT")),
            priority=20,
            user=user,
            owns=("data/hdfs", "data/hadoop-tmp", "conf/hadoop"),
        ),
        Service(
            name="cassandra",
            command=[
                java17, f"-Xms{v['CASSANDRA_HEAP']}", f"-Xmx{v['CASSANDRA_HEAP']}", *CASSANDRA_JVM17,
                f"-javaagent:{_one(jars / 'cassandra', 'jamm-*.jar')}",
                f"-Dcassandra.config=file://{conf}/cassandra/cassandra.yaml",
                f"-Dcassandra.storagedir={data}/cassandra", "-Dcassandra-foreground=yes",
                f"-Dcassandra.logdir={logs}", f"-Dlogback.configurationFile={conf}/cassandra/logback.xml",
                "-Dcassandra.jmx.local.port=7199", "-Dcassandra.skip_wait_for_gossip_to_settle=0",
                "-Dcassandra.ring_delay_ms=1000",
                "-cp", f"{conf}/cassandra:{jars}/cassandra/*", "org.apache.cassandra.service.CassandraDaemon",
            ],
            ports={"CASSANDRA_PORT": s.port("CASSANDRA_PORT"),
                   "CASSANDRA_STORAGE_PORT": s.port("CASSANDRA_STORAGE_PORT")},
            check=check_cassandra(s.port("CASSANDRA_PORT")),
            url=f"cql://127.0.0.1:{s.port('CASSANDRA_PORT')}",
            timeout=240,
            priority=10,
            nice=10,
            setup_waits=True,
            user=user,
            owns=("data/cassandra", "conf/cassandra"),
        ),
        Service(
            name="mongodb",
            # Stores in PostgreSQL: FERRETDB_POSTGRESQL_URL is in the environment (platformctl).
            command=[str(s.state / "bin" / "ferretdb-launcher"), "-listen", f"127.0.0.1:{s.port('MONGO_PORT')}"],
            ports={"MONGO_PORT": s.port("MONGO_PORT")},
            check=check_mongo(s.port("MONGO_PORT")),
            url=f"mongodb://127.0.0.1:{s.port('MONGO_PORT')} (FerretDB, stored in PostgreSQL)",
            priority=10,
            nice=10,
            setup_waits=True,
            user=user,
            directory=str(data / "ferretdb"),
            owns=("data/ferretdb",),
        ),
        Service(
            name="nifi",
            command=[
                str(s.java_nifi), "-Xms256m", f"-Xmx{v['NIFI_HEAP']}", *QUICK_START_JIT,
                "-Djava.net.preferIPv4Stack=true",
                "-Djava.security.egd=file:/dev/urandom", "-Dsun.net.http.allowRestrictedHeaders=true",
                "-Djava.protocol.handler.pkgs=sun.net.www.protocol", "-Djava.awt.headless=true",
                "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
                "--enable-native-access=ALL-UNNAMED",
                f"-Dnifi.properties.file.path={conf}/nifi/nifi.properties",
                f"-Dlogback.configurationFile={conf}/nifi/logback.xml",
                "-cp", f"{conf}/nifi:{jars}/nifi/lib/*", "org.apache.nifi.NiFi",
            ],
            ports={"NIFI_PORT": s.port("NIFI_PORT")},
            # Anonymous page of the login: up, and its single-user login loaded (embedded/nifi-login).
            check=check_http(f"https://127.0.0.1:{s.port('NIFI_PORT')}/nifi-api/authentication/configuration",
                             lambda body: isinstance(body, dict)
                             and (body.get("authenticationConfiguration") or {}).get("loginSupported") is True,
                             cafile=str(nifi_tls_files(s)[2])),
            url=f"https://127.0.0.1:{s.port('NIFI_PORT')}/nifi (user {NIFI_USER}, password in "
                f"{s.secret_path('nifi_password')})",
            timeout=240,
            priority=20,
            nice=10,
            setup_waits=True,
            user=user,
            directory=str(data / "nifi"),
            # and Kafka's tools config, read by the console consumer the flow runs
            owns=("data/nifi", "data/nifi-out", "conf/nifi", "conf/kafka", "secrets/nifi-keystore.p12",
                  "secrets/nifi-truststore.p12"),
        ),
        Service(
            name="mlflow",
            command=[
                str(bin_ / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(s.port("MLFLOW_PORT")),
                "--workers", "1", "--artifacts-destination", f"{data}/mlflow/artifacts", "--serve-artifacts",
            ],
            ports={"MLFLOW_PORT": s.port("MLFLOW_PORT")},
            check=check_http(f"http://127.0.0.1:{s.port('MLFLOW_PORT')}/health"),
            url=f"http://127.0.0.1:{s.port('MLFLOW_PORT')}",
            environment={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DFS_TMP": f"{data}/mlflow/tmp"},
            priority=30,
            # not niced: setup_platform and the stream's start ask it for the champion
            user=user,
            owns=("data/mlflow/artifacts",),  # clients upload through it (--serve-artifacts)
        ),
        Service(
            name="airflow-api-server",
            command=[airflow, "api-server", "--host", "127.0.0.1", "--port", str(airflow_port), "--workers", "1"],
            ports={"AIRFLOW_PORT": airflow_port},
            check=check_http(airflow_health, airflow_component("metadatabase")),
            url=f"http://127.0.0.1:{airflow_port}",
            priority=40,
            **airflow_as_user,
            # not niced: a start waits for it (the scheduler starts after it, `make run` triggers
            # setup_platform through it), and it is nearly idle once the platform serves
        ),
        *(
            Service(
                name=f"airflow-{component.replace('_', '-')}",
                command=[airflow, *args],
                ports={},
                check=check_http(airflow_health, airflow_component(component)),
                priority=41,
                # The scheduler's and triggerer's tasks report to the api-server: started before it
                # answers, the first-parse runs' first tasks failed ("connection refused") and
                # waited out their retry delay (2 min for train_model's) on every first start.
                after=() if component == "dag_processor" else ("airflow-api-server",),
                # not the scheduler: the tasks it runs (the stream's job among them) inherit its niceness
                nice=0 if component == "scheduler" else 10,
                # the dag-processor: the start waits for setup_platform to be listed instead
                # (parsed before, on a restart); the triggerer: no task of the start defers
                setup_waits=component != "scheduler",
                **airflow_as_user,
            )
            for component, args in (
                ("scheduler", ["scheduler", "--skip-serve-logs"]),
                ("dag_processor", ["dag-processor"]),
                ("triggerer", ["triggerer", "--skip-serve-logs"]),
            )
        ),
        Service(
            name="webapp",
            command=[
                str(bin_ / "gunicorn"), "--bind", f"127.0.0.1:{s.port('WEBAPP_PORT')}",
                "--workers", s.values.get("WEBAPP_WORKERS", "2"), "--threads", "64", "--access-logfile", "-",
                "webapp:create_app()",
            ],
            ports={"WEBAPP_PORT": s.port("WEBAPP_PORT")},
            check=check_http(f"http://127.0.0.1:{s.port('WEBAPP_PORT')}/healthz"),
            url=f"http://127.0.0.1:{s.port('WEBAPP_PORT')}",
            directory=str(REPO),
            priority=50,
            user=user,
        ),
        *(spark_cluster(s) if s.spark_standalone else []),
    ]


def spark_cluster(s: Settings) -> list[Service]:
    """SPARK_CLUSTER=standalone: pyspark's own standalone master and one worker, so that the Spark
    jobs run in executors as on a cluster (spark_default points at the master). The worker offers
    more task slots than cores: a real-time stream holds one per request partition, mostly waiting
    on Kafka. Not niced: the stream's executor, on the answer's path, inherits the worker's."""
    master_ui, worker_ui = s.port("SPARK_MASTER_UI_PORT"), s.port("SPARK_WORKER_UI_PORT")
    spark_class = str(Path(s.spark_home) / "bin" / "spark-class")
    master_json = f"http://127.0.0.1:{master_ui}/json/"
    daemon = {"SPARK_DAEMON_MEMORY": "256m", "SPARK_NO_DAEMONIZE": "1"}
    return [
        Service(
            name="spark-master",
            command=[spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                     "--port", str(s.port("SPARK_MASTER_PORT")), "--webui-port", str(master_ui)],
            ports={"SPARK_MASTER_PORT": s.port("SPARK_MASTER_PORT"), "SPARK_MASTER_UI_PORT": master_ui},
            check=check_http(master_json, lambda body: isinstance(body, dict) and body.get("status") == "ALIVE"),
            url=f"{s.spark_master_url} (UI http://127.0.0.1:{master_ui})",
            priority=20,
            environment=daemon,
            user=s.service_user,
        ),
        Service(
            name="spark-worker",
            command=[spark_class, "org.apache.spark.deploy.worker.Worker", s.spark_master_url, "--host", "127.0.0.1",
                     "--cores", s.values["SPARK_WORKER_CORES"], "--memory", s.values["SPARK_WORKER_MEMORY"],
                     "--webui-port", str(worker_ui), "--work-dir", str(s.data / "spark-work")],
            ports={"SPARK_WORKER_UI_PORT": worker_ui},
            # ready once the master counts it
            check=check_http(master_json, lambda body: isinstance(body, dict) and body.get("aliveworkers", 0) >= 1),
            url=f"http://127.0.0.1:{worker_ui}",
            priority=21,
            after=("spark-master",),
            environment={**daemon, "SPARK_WORKER_OPTS": "-Dspark.worker.cleanup.enabled=true"},
            user=s.service_user,
            owns=("data/spark-work",),
        ),
    ]


def _one(folder, pattern: str) -> str:
    matches = sorted(folder.glob(pattern))
    return str(matches[-1]) if matches else str(folder / pattern)
