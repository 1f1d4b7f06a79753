"""A second, unprivileged local user on the platform's machine: it reads no secret and cannot use
NiFi's or Airflow's API without credentials (issue: no local user becomes root through the
platform). The probe user is a real system account, made here once; its checks run in one
process started with runuser, so the kernel, not a model of permissions, decides."""
from __future__ import annotations

import json
import os
import pwd
import subprocess
from pathlib import Path

import pytest

PROBE = "flightdelay-probe"
# Too large to scan and never written with a secret: the install, the services' own stores.
SKIPPED = ("venv", "jars", "bin", "data/hdfs", "data/kafka", "data/cassandra", "data/postgres",
           "data/checkpoints", "data/downloads", "data/nifi-out", "data/jvm-archives")

PROBE_SCRIPT = r"""
import json, ssl, sys, urllib.error, urllib.request
paths, ports = json.load(sys.stdin)
readable = []
for path in paths:
    try:
        with open(path, "rb") as f:
            f.read(1)
        readable.append(path)
    except OSError:
        pass
insecure = ssl.create_default_context()
insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
answers = {}
for name, url, data in [
    ("nifi_flow", f"https://127.0.0.1:{ports['nifi']}/nifi-api/flow/process-groups/root", None),
    ("nifi_login_guess", f"https://127.0.0.1:{ports['nifi']}/nifi-api/access/token",
     b"username=flightdelay&password=flightdelay"),
    ("airflow_dags", f"http://127.0.0.1:{ports['airflow']}/api/v2/dags", None),
]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=20, context=insecure) as r:
            answers[name] = r.status
    except urllib.error.HTTPError as e:
        answers[name] = e.code
    except OSError as e:
        answers[name] = str(e)
try:  # plain HTTP on NiFi's port: refused or not understood, never served
    with urllib.request.urlopen(f"http://127.0.0.1:{ports['nifi']}/nifi-api/flow/about", timeout=20) as r:
        answers["nifi_plain_http"] = r.status
except urllib.error.HTTPError as e:
    answers["nifi_plain_http"] = e.code
except Exception as e:  # a TLS alert read as HTTP: BadStatusLine
    answers["nifi_plain_http"] = "refused: " + type(e).__name__
print(json.dumps({"readable": readable, "answers": answers}))
"""


@pytest.fixture(scope="module")
def probe_user() -> str:
    if os.geteuid() != 0:
        pytest.fail("the local-user test makes a system account and must run as root, as make test does")
    try:
        pwd.getpwnam(PROBE)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PROBE],
                       check=True)
    return PROBE


def secret_values(s) -> list[str]:
    """Every generated secret and the Airflow admin password (at least 16 characters each)."""
    values = [p.read_text().strip() for p in (s.state / "secrets").iterdir() if p.is_file() and p.suffix == ""]
    passwords = json.loads((s.airflow_home / "simple_auth_manager_passwords.json.generated").read_text())
    values += list(passwords.values())
    return [v for v in values if len(v) >= 16]


def files_with_secrets(s) -> list[Path]:
    """Files of the state folder and the repository's .env that hold a secret, read as root."""
    values = [v.encode() for v in secret_values(s)]
    found = [p for p in (s.state / "secrets").iterdir() if p.is_file()]  # keystores hold keys in binary
    for path in [*s.state.rglob("*"), Path(s.state).parent / ".env"]:
        relative = path.relative_to(s.state).as_posix() if path.is_relative_to(s.state) else path.name
        if any(relative == skip or relative.startswith(skip + "/") for skip in SKIPPED):
            continue
        if not path.is_file() or path.is_symlink() or path.stat().st_size > 20_000_000 or path in found:
            continue
        try:
            content = path.read_bytes()
        except OSError:
            continue
        if any(v in content for v in values):
            found.append(path)
    return found


def run_probe(user: str, paths: list[Path], s) -> dict:
    ports = {"nifi": s.port("NIFI_PORT"), "airflow": s.port("AIRFLOW_PORT")}
    done = subprocess.run(["runuser", "-u", user, "--", "/usr/bin/python3", "-c", PROBE_SCRIPT],
                          input=json.dumps([[str(p) for p in paths], ports]), capture_output=True, text=True,
                          timeout=120, cwd="/")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_a_second_user_reads_no_secret_and_reaches_no_api_without_credentials(platform, probe_user):
    paths = files_with_secrets(platform)
    names = {p.name for p in paths}
    # The scan sees the secrets it must: the generated ones, NiFi's keys and its login.
    assert {"nifi_password", "nifi-keystore.p12", "nifi.properties",
            "simple_auth_manager_passwords.json.generated"} <= names, names
    seen = run_probe(probe_user, paths, platform)
    assert seen["readable"] == [], f"{probe_user} can read secrets in: {seen['readable']}"
    answers = seen["answers"]
    assert answers["nifi_flow"] in (401, 403), answers
    assert answers["nifi_login_guess"] in (400, 401, 403, 409), answers
    assert answers["airflow_dags"] in (401, 403), answers
    assert answers["nifi_plain_http"] != 200, answers


def test_nifi_refuses_a_wrong_password_and_accepts_the_generated_one(platform):
    import requests

    from embedded.environment import NIFI_USER, nifi_tls_files

    url = f"https://127.0.0.1:{platform.port('NIFI_PORT')}/nifi-api/access/token"
    cert = str(nifi_tls_files(platform)[2])
    wrong = requests.post(url, data={"username": NIFI_USER, "password": "not-the-password"}, verify=cert, timeout=30)
    assert wrong.status_code in (400, 401, 403, 409), wrong.status_code
    other = requests.post(url, data={"username": "admin", "password": platform.secret("nifi_password")},
                          verify=cert, timeout=30)
    assert other.status_code in (400, 401, 403, 409), other.status_code
    right = requests.post(url, data={"username": NIFI_USER, "password": platform.secret("nifi_password")},
                          verify=cert, timeout=30)
    assert right.status_code == 201, right.text[:300]
    flow = requests.get(f"https://127.0.0.1:{platform.port('NIFI_PORT')}/nifi-api/flow/about", verify=cert,
                        headers={"Authorization": f"Bearer {right.text.strip()}"}, timeout=30)
    assert flow.status_code == 200 and flow.json()["about"]["version"].startswith("2.")


def test_the_services_run_as_the_unprivileged_account(platform):
    """Started by root, every service but PostgreSQL (Debian's `postgres`) runs as the service
    account: the data services, NiFi (whose processors can run commands), MLflow, the web app and
    Airflow; NiFi's children and the tasks Airflow runs (the stream's driver) too."""
    from embedded import services as svc
    from embedded.startup import stream_drivers
    from embedded.supervision import process_states

    if platform.service_user is None:
        pytest.skip(f"the services run as root here: others may not traverse {platform.unreachable_folder()}")

    def owner(pid: int) -> str:
        return pwd.getpwuid(os.stat(f"/proc/{pid}").st_uid).pw_name

    states = process_states(platform)
    owners = {service.name: owner(states[service.name]["pid"]) for service in svc.services(platform)}
    expected = {name: "postgres" if name == "postgres" else platform.service_user for name in owners}
    assert owners == expected
    nifi_children = subprocess.run(["pgrep", "-P", str(states["nifi"]["pid"])], capture_output=True, text=True)
    for pid in nifi_children.stdout.split():
        assert owner(int(pid)) == platform.service_user
    drivers = stream_drivers()  # started by an Airflow task
    assert drivers, "no stream driver is running"
    assert {process.username() for process in drivers} == {platform.service_user}
