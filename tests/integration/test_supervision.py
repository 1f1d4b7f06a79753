"""Supervision: a killed service is restarted, a taken port stops the start with its name,
a service that cannot start shows its log, and `make stop` leaves no process behind."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from pymongo import MongoClient

from embedded import cpu_rank, health, services as svc, supervision
from embedded.settings import REPO, Settings
from tests.ports import free_port


def test_make_run_when_up_is_a_noop_and_status_is_healthy(platform):
    before = {name: info["pid"] for name, info in supervision.process_states(platform).items()}
    result = subprocess.run(["make", "run"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Platform already running" in result.stdout
    assert {name: info["pid"] for name, info in supervision.process_states(platform).items()} == before
    status = subprocess.run(["make", "status"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert status.returncode == 0, status.stdout
    assert all(f"{name}" in status.stdout for name in before)


def test_killed_service_is_restarted_and_logged(platform):
    before = supervision.process_states(platform)["mongodb"]["pid"]
    os.kill(before, signal.SIGKILL)
    deadline = time.monotonic() + 60
    after = before
    while time.monotonic() < deadline:
        info = supervision.process_states(platform)["mongodb"]
        if info["statename"] == "RUNNING" and info["pid"] != before:
            after = info["pid"]
            break
        time.sleep(0.5)
    assert after != before, "mongodb was not restarted"
    health.check_mongo(platform.port("MONGO_PORT"))()
    if _cpu_group_available():  # the listener moves it on supervisord's RUNNING event
        deadline = time.monotonic() + 10
        while not _in_offpath_group(after) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _in_offpath_group(after), "the restarted mongodb was not put in the off-path CPU group"
    log = (platform.logs / "supervisord.log").read_text()
    assert "exited: mongodb (terminated by SIGKILL; not expected)" in log


def _cpu_group_available() -> bool:
    group = cpu_rank.cpu_group()
    return group is not None and (group / "cgroup.procs").exists()


def _in_offpath_group(pid: int) -> bool:
    with open(f"/proc/{pid}/cgroup") as lines:
        return any(line.rstrip().endswith(f"/{cpu_rank.GROUP}") for line in lines)


def test_the_niced_services_and_only_they_run_in_the_low_weight_cpu_group(platform):
    """The sinks, NiFi, Airflow's dag-processor and triggerer yield the CPU to the answer's path as
    one group (embedded/cpu_rank.py); Kafka, HDFS, MLflow, the web app, the api-server, the
    scheduler and the stream it runs keep the default."""
    if not _cpu_group_available():
        pytest.skip(f"no writable cpu cgroup controller here: {(platform.logs / 'cpu_rank.log').read_text()[-300:]}")
    states = supervision.process_states(platform)
    assert states["cpu_rank"]["statename"] == "RUNNING"
    placed = {service.name: _in_offpath_group(states[service.name]["pid"]) for service in svc.services(platform)}
    assert placed == {service.name: bool(service.nice) for service in svc.services(platform)}
    weight = cpu_rank.weight_file(cpu_rank.cpu_group())
    assert weight.read_text().strip() == str(cpu_rank.LOW[weight.name])


def test_taken_port_names_port_and_service(tmp_path, settings):
    """A foreign process on a service's port stops `start` before anything is started."""
    env = dict(os.environ, FLIGHTDELAY_STATE_DIR=str(tmp_path / "state"))
    for key in {key for service in svc.services(settings) for key in service.ports}:
        env[key] = str(free_port())
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        env["MONGO_PORT"] = str(squatter.getsockname()[1])
        result = subprocess.run([sys.executable, "-m", "embedded.platformctl", "start"], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert f"port {env['MONGO_PORT']} (MONGO_PORT) needed by mongodb is already in use" in result.stderr
    assert not (tmp_path / "state" / "run" / "supervisord.pid").exists()


def test_failed_service_shows_last_log_lines(tmp_path, settings):
    s = Settings(state=tmp_path / "state", values=settings.values)
    for folder in (s.logs, s.run):
        folder.mkdir(parents=True)
    broken = svc.Service(name="broken", command=["/bin/sh", "-c", "echo cannot-bind-its-port; exit 3"],
                         ports={}, check=lambda: None)
    conf = tmp_path / "supervisord.conf"
    conf.write_text(supervision.supervisord_conf(s, [broken], start_retries=1))
    subprocess.run([str(settings.venv_bin / "supervisord"), "-c", str(conf)], check=True)
    try:
        with pytest.raises(supervision.PlatformError) as failure:
            supervision.wait_healthy(s, [broken])
        assert "broken failed to start" in str(failure.value)
        assert "cannot-bind-its-port" in str(failure.value)
    finally:
        supervision.supervisor(s).supervisor.shutdown()


def test_stop_leaves_a_foreign_process_in_a_stale_pidfile_alive(tmp_path):
    """A stale pidfile whose pid now belongs to another process: `stop` must not signal it."""
    state = tmp_path / "state"
    (state / "run").mkdir(parents=True)
    foreign = subprocess.Popen(["sleep", "300"])
    try:
        (state / "run" / "supervisord.pid").write_text(f"{foreign.pid}\n")
        env = dict(os.environ, FLIGHTDELAY_STATE_DIR=str(state))
        result = subprocess.run([sys.executable, "-m", "embedded.platformctl", "stop"], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        time.sleep(1)
        assert foreign.poll() is None, "the foreign process was signalled"
    finally:
        foreign.kill()
        foreign.wait()


@pytest.mark.last
def test_make_stop_leaves_nothing_and_data_survives_restart(platform, webhdfs, unique, airflow_api):
    mongo_url = f"mongodb://127.0.0.1:{platform.port('MONGO_PORT')}/"
    with MongoClient(mongo_url) as client:
        client.platform_test.restart.insert_one({"UUID": unique})
    webhdfs.write(f"/tmp/restart-{unique}.txt", data=unique, encoding="utf-8")

    api = airflow_api
    streaming = [r["dag_run_id"] for r in api.get(f"{api.base}/api/v2/dags/prediction_stream/dagRuns",
                                                  params={"state": ["running"]}, timeout=30).json()["dag_runs"]]
    subprocess.run(["make", "stop"], cwd=REPO, check=True, timeout=300)
    assert supervision.our_processes(platform) == []
    open_ports = [p for service in svc.services(platform) for p in service.ports.values() if health.tcp_open(p)]
    assert open_ports == [], f"ports still open after stop: {open_ports}"

    restart = subprocess.run(["make", "run"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert restart.returncode == 0, restart.stdout[-3000:] + restart.stderr[-3000:]
    assert "first prediction answered" in restart.stdout  # serves again, no manual step
    assert "one more request answered in" in restart.stdout
    import requests

    for run_id in streaming:  # make stop ended the stream's task cleanly: nothing left "running"
        run = api.get(f"{api.base}/api/v2/dags/prediction_stream/dagRuns/{run_id}", timeout=30).json()
        assert run["state"] == "success", run
    status = requests.get(f"http://127.0.0.1:{platform.port('WEBAPP_PORT')}/api/status", timeout=30).json()
    assert status["serving"] is True, status
    with MongoClient(mongo_url) as client:
        assert client.platform_test.restart.count_documents({"UUID": unique}) == 1
        client.platform_test.restart.delete_many({"UUID": unique})
    with webhdfs.read(f"/tmp/restart-{unique}.txt", encoding="utf-8") as reader:
        assert reader.read() == unique
    webhdfs.delete(f"/tmp/restart-{unique}.txt")
