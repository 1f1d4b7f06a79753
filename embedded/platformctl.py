"""Start, watch and stop the embedded platform: every service as a supervised local process.

    python -m embedded.platformctl start|stop|status|clean|env [--show-secrets]
(`make run`, `make stop`, `make status`, `make clean` call it after installing what is missing.)
The parts: settings (.env, secrets), environment (process environment, config files), initialise
(first-start steps), services (commands, health checks), supervision (supervisord), startup
(setup_platform, the bootstrap and the first answer).
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import xmlrpc.client

from embedded import cpu_rank, services as svc, startup
from embedded.environment import environment, exports, render_configs
from embedded.health import Unhealthy
from embedded.initialise import (
    check_installed, check_ports, initialise, prepare_ferretdb_lookup, prepare_service_user,
)
from embedded.settings import REPO, Settings, load
from embedded.supervision import (SUPERVISED_MARK, PlatformError, our_processes, process_states, supervisor,
                                  supervisord_conf, supervisord_pid, wait_healthy)

sys.path.insert(0, str(REPO / "include"))  # the flightdelay package (serving status, canary fields)


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
        prepare_service_user(s, service_list)
        _rank_off_path_services(low=False)
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
        later = {service.name for service in service_list if service.after}  # wait_healthy starts them
        for name, info in process_states(s).items():
            if info["statename"] not in ("RUNNING", "STARTING") and name not in later:
                rpc.supervisor.startProcess(name, False)
    wait = os.environ.get("WAIT", "serving")
    ready_at: dict[str, float] = {}
    failed: list[PlatformError] = []

    def watch() -> None:
        try:
            wait_healthy(s, service_list, ready_at)
        except PlatformError as exc:
            failed.append(exc)

    watcher = threading.Thread(target=watch, name="health", daemon=True)
    watcher.start()
    # setup_platform's tasks wait for the setup_waits services: trigger it without them.
    needed = {service.name for service in service_list if wait == "services" or not service.setup_waits}
    while watcher.is_alive() and not needed <= ready_at.keys():
        time.sleep(0.2)
    if failed:
        raise failed[0]
    print(f"\nServices that the start needs are healthy ({', '.join(sorted(needed))}); the others start meanwhile.")
    try:
        startup.start_and_wait(s, wait, after_setup=lambda: prepare_ferretdb_lookup(s))
    except startup.StageFailed as exc:
        raise (failed[0] if failed else PlatformError(str(exc))) from exc  # a service that failed says more
    watcher.join()
    if failed:
        raise failed[0]
    print("\nAll services healthy:")
    for service in service_list:
        if service.url:
            print(f"  {service.name:<20} {service.url}")
    print(f"  {'airflow login':<20} admin / password in {s.airflow_home}/simple_auth_manager_passwords.json.generated")
    print(f"  {'logs':<20} {s.logs}/<service>.log")
    _rank_off_path_services(low=True)
    print(f"\nThe form answers: http://127.0.0.1:{s.port('WEBAPP_PORT')}/")
    return 0


def _rank_off_path_services(low: bool) -> None:
    """The niced services' CPU group (embedded/cpu_rank.py) at its default weight for the start,
    at its low weight once the platform serves; a machine without the group keeps niceness only."""
    try:
        group = cpu_rank.set_weight(low)
    except OSError as exc:
        print(f"  the off-path services' CPU weight is unchanged ({exc})", flush=True)
        return
    if group is not None and low:
        print(f"  off-path services (the niced ones) yield the CPU to the answer's path: {group}", flush=True)


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
        except Unhealthy as exc:
            health = f"FAIL: {exc}"[:60]
        failing += health != "ok"
        print(f"{service.name:<22} {info.get('statename', '?'):<10} {info.get('pid', 0):>7}  {health:<8} {service.url}")
    names = {service.name for service in svc.services(s)}
    for name, info in states.items():  # supervisord's event listener (embedded/cpu_rank.py)
        if name not in names:
            print(f"{name:<22} {info['statename']:<10} {info['pid']:>7}  {'':<8} "
                  f"(event listener, log {s.logs}/{name}.log)")
    return 1 if failing else 0


def clean(s: Settings) -> int:
    stop(s)
    for folder in (s.data, s.logs, s.conf, s.run, s.airflow_home, s.state / "secrets"):
        shutil.rmtree(folder, ignore_errors=True)
    print(f"Removed service state under {s.state} (installed jars, venv and binaries kept).")
    return 0


def print_env(s: Settings, show_secrets: bool = False) -> int:
    print("\n".join(exports(s, show_secrets)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "status", "clean", "env"])
    parser.add_argument("--show-secrets", action="store_true", help="env: print secrets instead of ***")
    args = parser.parse_args(argv)
    settings = load()
    if not (REPO / ".env").exists():
        shutil.copy(REPO / ".env.example", REPO / ".env")
        settings = load()
    commands = {"start": start, "stop": stop, "status": status, "clean": clean,
                "env": lambda s: print_env(s, args.show_secrets)}
    try:
        return commands[args.command](settings)
    except PlatformError as exc:
        print(f"\nERROR: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
