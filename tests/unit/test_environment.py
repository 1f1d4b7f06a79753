"""`platformctl env` masks secrets: whole values of secret variables, passwords inside URLs."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path

import pytest

from embedded import services as svc
from embedded.environment import exports, masked, password_hash, spark_connection
from embedded.settings import Settings, load


@pytest.mark.parametrize("key, value, expected", [
    ("AIRFLOW__CORE__FERNET_KEY", "abc=", "***"),
    ("AIRFLOW__API_AUTH__JWT_SECRET", "s3cret", "***"),
    ("FLIGHTDELAY_WEBAPP_SECRET_KEY", "k", "***"),
    ("AIRFLOW_CONN_MONGO_DEFAULT", "mongo://u:p@127.0.0.1:27017", "***"),
    ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql+psycopg2://flightdelay:pw@127.0.0.1:5433/airflow",
     "postgresql+psycopg2://flightdelay:***@127.0.0.1:5433/airflow"),
    ("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("PATH", "/usr/bin:/bin", "/usr/bin:/bin"),
])
def test_masked(key, value, expected):
    assert masked(key, value) == expected


def test_exports_show_no_generated_secret_unless_asked():
    s = load()
    secrets_dir = s.state / "secrets"
    if not secrets_dir.exists():
        pytest.skip("no generated secrets yet (make run makes them)")
    generated = [p for p in secrets_dir.iterdir() if p.suffix == ""]  # not NiFi's keystores
    text = "\n".join(exports(s))
    for path in generated:
        value = path.read_text().strip()
        assert value not in text, f"secret {path.name} printed"
    assert any(path.read_text().strip() in "\n".join(exports(s, show_secrets=True)) for path in generated)


def test_password_hash_is_salted_pbkdf2_in_the_form_the_nifi_login_reads():
    first, second = password_hash("correct horse", iterations=1000), password_hash("correct horse", iterations=1000)
    assert first != second  # a new salt each time
    scheme, iterations, salt, digest = first.split("$")
    assert (scheme, iterations) == ("pbkdf2-sha256", "1000")
    expected = hashlib.pbkdf2_hmac("sha256", b"correct horse", base64.b64decode(salt), 1000)
    assert base64.b64decode(digest) == expected
    assert "correct horse" not in first


def test_a_state_behind_a_closed_folder_is_named_and_keeps_the_services_as_root(tmp_path):
    """The service account must traverse every folder above the state: a 0700 one is named, and
    (as root) the services then stay root instead of failing to start."""
    closed = tmp_path / "closed"
    (closed / "state").mkdir(parents=True)
    closed.chmod(0o700)
    s = Settings(state=closed / "state", values={})
    assert s.unreachable_folder() in (closed, *closed.parents)
    assert s.service_user is None
    here = load()
    if here.unreachable_folder() is None:  # the code, the state and the venv are reachable here
        with tempfile.TemporaryDirectory(dir=here.state) as opened:
            Path(opened).chmod(0o755)
            s = Settings(state=Path(opened), values={})
            assert s.unreachable_folder() is None
            assert s.service_user == (os.environ.get("FLIGHTDELAY_SERVICE_USER", "flightdelay")
                                      if os.geteuid() == 0 else None)


def test_the_spark_services_and_connection_follow_spark_cluster(settings):
    """standalone: a master and a worker that waits for it, and spark_default at the master with
    .env's other fields kept; local: neither service, and .env's connection as it is."""
    standalone = dataclasses.replace(settings, values={**settings.values, "SPARK_CLUSTER": "standalone",
                                                       "SPARK_MASTER_PORT": "7177"})
    local = dataclasses.replace(settings, values={**settings.values, "SPARK_CLUSTER": "local"})
    assert not {"spark-master", "spark-worker"} & {service.name for service in svc.services(local)}
    cluster = {service.name: service for service in svc.services(standalone)}
    assert cluster["spark-worker"].after == ("spark-master",)
    assert "spark://127.0.0.1:7177" in cluster["spark-worker"].command
    assert "--port 7177" in " ".join(cluster["spark-master"].command)
    configured = '{"conn_type": "spark", "host": "local[2]", "extra": {"deploy-mode": "client"}}'
    assert json.loads(spark_connection(standalone, configured)) == {
        "conn_type": "spark", "host": "spark://127.0.0.1:7177", "extra": {"deploy-mode": "client"}}
    assert spark_connection(local, configured) == configured
