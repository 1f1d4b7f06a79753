"""docker-compose.yml, validated without a Docker engine: loaded by compose-go (the library of
`docker compose`: schema, interpolation, anchors), then checked against the embedded runtime's
ports, topics and names, which must be the same."""
from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from embedded import compose_secrets
from embedded.settings import REPO, read_env_file

COMPOSE = REPO / "docker-compose.yml"
EMBEDDED_ENV = read_env_file(REPO / ".env.example")
SECRETS = {name: make() for name, make in compose_secrets.REQUIRED.items()}
ONE_SHOT = {"kafka-libs", "airflow-init", "platform-setup"}
# compose service -> the embedded .env.example keys of the ports it publishes
PUBLISHED = {
    "kafka": ["KAFKA_PORT"], "namenode": ["HDFS_HTTP_PORT", "HDFS_RPC_PORT"], "cassandra": ["CASSANDRA_PORT"],
    "mongodb": ["MONGO_PORT"], "nifi": ["NIFI_PORT"], "mlflow": ["MLFLOW_PORT"],
    "airflow-api-server": ["AIRFLOW_PORT"], "webapp": ["WEBAPP_PORT"], "spark-master": ["SPARK_UI_PORT"],
}


def _load(settings, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [str(settings.state / "bin" / "composecheck"), "-file", str(COMPOSE)]
    for key, value in env.items():
        command += ["-env", f"{key}={value}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def project(settings) -> dict:
    result = _load(settings, SECRETS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_no_default_passwords(settings):
    result = _load(settings, {})
    assert result.returncode == 1
    assert "required variable POSTGRES_PASSWORD is missing" in result.stderr


def test_every_secret_is_required_and_the_generated_file_starts_compose(settings, tmp_path):
    """No `${SECRET:-default}`: each secret compose reads is `${NAME:?...}`, and the documented
    recipe (.env.example plus the generated compose-secrets.env) gives compose all of them."""
    text = COMPOSE.read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    defaulted = set(re.findall(r"\$\{([A-Z0-9_]*(?:PASSWORD|SECRET|KEY)[A-Z0-9_]*):-", text))
    assert not defaulted, f"secrets with a default: {defaulted}"
    assert required == set(compose_secrets.REQUIRED), required ^ set(compose_secrets.REQUIRED)
    generated = compose_secrets.write(tmp_path / "compose-secrets.env")
    assert generated.stat().st_mode & 0o777 == 0o600
    env = {**EMBEDDED_ENV, **read_env_file(generated)}
    assert all(env[name] for name in required)
    result = _load(settings, env)
    assert result.returncode == 0, result.stderr
    for name in ("AIRFLOW_FERNET_KEY", "NIFI_ADMIN_PASSWORD"):
        missing = _load(settings, {k: v for k, v in env.items() if k != name})
        assert missing.returncode == 1 and f"required variable {name} is missing" in missing.stderr


def test_every_long_running_service_has_a_healthcheck(project):
    for name, service in project["services"].items():
        if name not in ONE_SHOT:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_dependencies_wait_for_health(project):
    for name, service in project["services"].items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            wanted = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            assert spec["condition"] == wanted, f"{name} -> {dependency}: {spec['condition']}"


def test_images_are_pinned(project):
    for name, service in project["services"].items():
        image = service.get("image", "")
        assert re.search(r":[0-9][\w.\-]*$", image), f"{name}: image {image!r} is not pinned to a version"


def test_airflow_services_share_one_anchor_and_image(raw, project):
    assert "x-airflow-common" in raw
    anchor_image = raw["x-airflow-common"]["image"]
    airflow = [n for n in project["services"] if n.startswith("airflow-")]
    assert {"airflow-init", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor",
            "airflow-triggerer"} <= set(airflow)
    for name in airflow:
        assert project["services"][name]["image"] == anchor_image
    assert "requirements.txt" in raw["x-airflow-common"]["build"]["dockerfile_inline"]
    assert project["services"]["postgres"]["image"].startswith("postgres:")


def test_ports_match_the_embedded_runtime_and_bind_loopback(project):
    for name, keys in PUBLISHED.items():
        ports = project["services"][name].get("ports", [])
        published = {int(p["published"]) for p in ports}
        assert published == {int(EMBEDDED_ENV[k]) for k in keys}, f"{name}: {published}"
        assert all(p["host_ip"] == "127.0.0.1" for p in ports), f"{name} publishes beyond loopback"


def test_topics_and_names_match_the_embedded_runtime(project):
    env = project["services"]["airflow-scheduler"]["environment"]
    for key in ("REQUEST_TOPIC", "RESPONSE_TOPIC", "DLQ_TOPIC", "MONGO_DATABASE", "MONGO_COLLECTION",
                "CASSANDRA_KEYSPACE", "HDFS_PREDICTION_DIR", "KAFKA_PARTITIONS"):
        assert env[key] == EMBEDDED_ENV[key], key


def test_the_setup_dag_runs_in_compose_and_is_active_from_the_first_parse(project):
    """The same first-start DAG: mounted with dags/, triggered by the one-shot platform-setup."""
    setup = project["services"]["platform-setup"]
    assert "airflow dags trigger setup_platform" in " ".join(setup["command"])
    assert {"airflow-scheduler", "airflow-dag-processor", "nifi"} <= set(setup["depends_on"])
    scheduler = project["services"]["airflow-scheduler"]
    assert any(v["source"].endswith("/dags") and v["target"] == "/opt/airflow/dags" for v in scheduler["volumes"])
    assert (REPO / "dags" / "setup_platform.py").exists()
    assert scheduler["environment"]["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"


def test_the_nifi_connection_takes_its_https_login_from_env(project):
    nifi = json.loads(project["services"]["airflow-scheduler"]["environment"]["AIRFLOW_CONN_NIFI_DEFAULT"])
    assert nifi["schema"] == "https" and nifi["port"] == 8443
    assert nifi["login"] == project["services"]["nifi"]["environment"]["SINGLE_USER_CREDENTIALS_USERNAME"]
    assert nifi["password"] == SECRETS["NIFI_ADMIN_PASSWORD"]
    parameters = json.loads(project["services"]["airflow-scheduler"]["environment"]["FLIGHTDELAY_NIFI_FLOW_PARAMETERS"])
    mounts = {v["target"] for v in project["services"]["nifi"]["volumes"]}
    assert parameters["kafka.classpath"].removesuffix("/*") in mounts
    assert parameters["output.directory"] in mounts


def test_same_airflow_connections_in_both(project):
    embedded = {k for k in EMBEDDED_ENV if k.startswith("AIRFLOW_CONN_")}
    compose = {k for k in project["services"]["airflow-scheduler"]["environment"] if k.startswith("AIRFLOW_CONN_")}
    assert embedded == compose
    assert {"AIRFLOW_CONN_SPARK_DEFAULT", "AIRFLOW_CONN_KAFKA_DEFAULT", "AIRFLOW_CONN_MONGO_DEFAULT",
            "AIRFLOW_CONN_WEBHDFS_DEFAULT", "AIRFLOW_CONN_CASSANDRA_DEFAULT", "AIRFLOW_CONN_MLFLOW_DEFAULT"} <= embedded
    for key in embedded:
        json.loads(EMBEDDED_ENV[key])
        json.loads(project["services"]["airflow-scheduler"]["environment"][key])


def test_same_services_as_embedded_runtime(project, settings):
    from embedded import services as svc

    embedded = {s.name for s in svc.services(settings)}
    compose = set(project["services"])
    # Every embedded process has a container of the same name.
    assert embedded <= compose, embedded - compose


def test_the_same_services_yield_the_cpu_as_in_the_embedded_runtime(project, settings):
    """The embedded runtime's niced services (its low-weight CPU group) have low cpu_shares here."""
    from embedded import services as svc

    niced = {s.name for s in svc.services(settings) if s.nice}
    low = {name for name, service in project["services"].items() if service.get("cpu_shares", 1024) < 1024}
    assert low == niced


def test_the_spark_worker_runs_the_stream_and_a_batch_job_at_once(project):
    from flightdelay.spark_jobs import SPARK_CONF

    command = project["services"]["spark-worker"]["command"]
    slots = int(command[command.index("--cores") + 1])
    per_application = int(SPARK_CONF["spark.cores.max"])
    request_partitions = int(project["services"]["airflow-scheduler"]["environment"]["KAFKA_PARTITIONS"])
    # real-time mode holds a task per request partition, plus the store and archive queries
    assert per_application >= request_partitions + 2
    assert slots >= 2 * per_application, "the long-running stream would leave no slot to training"


# Where each image keeps its data, from the image's documentation and Dockerfile (the folder a
# named volume must cover): postgres PGDATA, apache/kafka's data VOLUME (log.dirs set to it),
# cassandra and mongo's data folders, apache/nifi's repositories, and apache/hadoop's /data
# (its starter makes it writable for the image's user; the name and data dirs are set under it).
DATA_HOMES = {
    "postgres": ["/var/lib/postgresql/data"],
    "kafka": ["/var/lib/kafka/data"],
    "namenode": ["/data"],
    "datanode": ["/data"],
    "cassandra": ["/var/lib/cassandra"],
    "mongodb": ["/data/db"],
    "nifi": ["/opt/nifi/nifi-current/flowfile_repository", "/opt/nifi/nifi-current/content_repository",
             "/opt/nifi/nifi-current/state"],
}


def test_named_volumes_cover_where_each_image_keeps_its_data(project):
    for service, homes in DATA_HOMES.items():
        mounts = {v["target"]: v for v in project["services"][service]["volumes"]}
        for home in homes:
            assert home in mounts, f"{service}: no volume at {home}"
            assert mounts[home]["type"] == "volume", f"{service}: {home} is not a named volume"


def test_the_services_write_their_data_into_their_volumes(project):
    def env(service: str) -> dict[str, str]:
        return project["services"][service]["environment"]

    assert env("kafka")["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"
    # The NameNode is formatted when ENSURE_NAMENODE_DIR is missing: that folder must be the
    # metadata folder itself, inside the volume, or every re-created container formats again.
    name_dir = env("namenode")["HDFS-SITE.XML_dfs.namenode.name.dir"]
    assert env("namenode")["ENSURE_NAMENODE_DIR"] == name_dir
    assert name_dir.startswith("/data/")
    assert env("datanode")["HDFS-SITE.XML_dfs.datanode.data.dir"].startswith("/data/")
