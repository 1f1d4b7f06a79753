"""supervisord: its configuration (one program per service), its RPC, the health wait at start,
and which processes are the platform's (marked in their environment), so that only those get a
signal."""
from __future__ import annotations

import configparser
import io
import shlex
import time
import xmlrpc.client

from embedded import health, services as svc
from embedded.settings import REPO, Settings

LOG_TAIL_LINES = 40
SUPERVISED_MARK = "FLIGHTDELAY_SUPERVISED"


class PlatformError(Exception):
    """A start-up problem the user must act on; the message says what and where."""


def supervisord_conf(s: Settings, service_list: list[svc.Service], start_retries: int = 10) -> str:
    """One [program] per service: autorestart, its own log, stop the whole process group."""
    conf = configparser.RawConfigParser()
    conf.optionxform = str  # keys as written
    conf["unix_http_server"] = {"file": f"{s.run}/supervisor.sock", "chmod": "0700"}
    conf["supervisord"] = {"logfile": f"{s.logs}/supervisord.log", "logfile_maxbytes": "10MB",
                           "pidfile": f"{s.run}/supervisord.pid", "directory": str(REPO), "loglevel": "info",
                           "minfds": "4096", "umask": "077"}
    conf["rpcinterface:supervisor"] = {
        "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"}
    conf["supervisorctl"] = {"serverurl": f"unix://{s.run}/supervisor.sock"}
    for service in service_list:
        nice = ["nice", "-n", str(service.nice)] if service.nice else []
        program = {
            "command": " ".join(_quote(part) for part in nice + service.command),
            "priority": str(service.priority),
            "directory": str(service.directory or s.state),
            "autostart": "false" if service.after else "true", "autorestart": "true", "startsecs": "3",
            "startretries": str(start_retries),
            "stopasgroup": "true", "killasgroup": "true", "stopwaitsecs": "30",
            "redirect_stderr": "true", "stdout_logfile": f"{s.logs}/{service.name}.log",
            "stdout_logfile_maxbytes": "20MB", "stdout_logfile_backups": "2", "stopsignal": service.stopsignal,
        }
        if service.user:
            program["user"] = service.user
        if service.environment:
            program["environment"] = ",".join(f'{k}="{v}"' for k, v in service.environment.items())
        conf[f"program:{service.name}"] = program
    niced = [service.name for service in service_list if service.nice]
    if niced:
        # as root (supervisord's user): moves each niced service into the low-weight CPU group at
        # every (re)start; priority 1 starts it before the services
        conf["eventlistener:cpu_rank"] = {
            "command": " ".join(_quote(part) for part in [str(s.venv_bin / "python"), "-m", "embedded.cpu_rank",
                                                         *niced]),
            "directory": str(REPO), "events": "PROCESS_STATE_RUNNING", "priority": "1", "buffer_size": "100",
            "autostart": "true", "autorestart": "true", "stopasgroup": "true",
            "stderr_logfile": f"{s.logs}/cpu_rank.log", "stderr_logfile_maxbytes": "1MB",
            "stderr_logfile_backups": "1",
        }
    text = io.StringIO()
    conf.write(text)
    return text.getvalue()


def _quote(part: str) -> str:
    # supervisord splits command= with shlex; '%' must be doubled for its own expansion.
    return shlex.quote(part).replace("%", "%%")


def supervisor(s: Settings) -> xmlrpc.client.ServerProxy:
    from supervisor.xmlrpc import SupervisorTransport

    transport = SupervisorTransport(None, None, f"unix://{s.run}/supervisor.sock")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def supervisord_pid(s: Settings) -> int | None:
    """The pid in supervisord's pidfile if that process is our supervisord: a stale pidfile's pid
    may since belong to another process, which must never get our signals."""
    try:
        pid = int((s.run / "supervisord.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if is_ours(s, pid) else None


def is_ours(s: Settings, pid: int) -> bool:
    """Whether `pid` is a process of this platform: it carries SUPERVISED_MARK=<state folder>."""
    import psutil

    try:
        return _carries_mark(s, psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False


def _carries_mark(s: Settings, proc) -> bool:
    import psutil

    try:
        return proc.environ().get(SUPERVISED_MARK) == str(s.state)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def process_states(s: Settings) -> dict[str, dict]:
    return {info["name"]: info for info in supervisor(s).supervisor.getAllProcessInfo()}


def log_tail(s: Settings, name: str, lines: int = LOG_TAIL_LINES) -> str:
    path = s.logs / f"{name}.log"
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_healthy(s: Settings, service_list: list[svc.Service],
                 ready_at: dict[str, float] | None = None) -> dict[str, float]:
    """Watch every service at once until each one's check passes, printing what is awaited; start
    a held-back service once those it waits for (`after`) are healthy; fail with the log tail.
    Fills `ready_at` (service -> seconds) as they become healthy, for a caller in another thread."""
    started = time.monotonic()
    ready_at = {} if ready_at is None else ready_at
    deadlines = {service.name: started + service.timeout for service in service_list}
    reasons: dict[str, str] = {}
    last_print = started
    while len(ready_at) < len(service_list):
        states = process_states(s)
        for service in service_list:
            if service.name in ready_at:
                continue
            state = states[service.name]
            if service.after and state["statename"] in ("STOPPED", "EXITED"):
                if all(name in ready_at for name in service.after):
                    print(f"  starting {service.name} ({', '.join(service.after)} healthy)", flush=True)
                    supervisor(s).supervisor.startProcess(service.name, False)
                    deadlines[service.name] = time.monotonic() + service.timeout
                reasons[service.name] = f"waits for {', '.join(n for n in service.after if n not in ready_at)}"
                continue
            if state["statename"] == "FATAL":
                raise PlatformError(f"{service.name} failed to start (FATAL); last lines of "
                                    f"{s.logs}/{service.name}.log:\n{log_tail(s, service.name)}")
            if state["statename"] == "RUNNING":
                try:
                    service.check()
                    ready_at[service.name] = time.monotonic() - started
                    print(f"  ok  {service.name:<22} healthy at {ready_at[service.name]:6.1f}s", flush=True)
                    continue
                except health.Unhealthy as exc:
                    reasons[service.name] = str(exc)
            else:
                reasons[service.name] = state["statename"].lower()
            if time.monotonic() > deadlines[service.name]:
                raise PlatformError(f"{service.name} not healthy after {service.timeout}s ({reasons[service.name]}); "
                                    f"last lines of {s.logs}/{service.name}.log:\n{log_tail(s, service.name)}")
        now = time.monotonic()
        if len(ready_at) < len(service_list) and now - last_print >= 10:
            waiting = [f"{service.name} ({reasons.get(service.name, 'starting')[:80]})" for service in service_list
                       if service.name not in ready_at]
            print(f"  waiting for {'; '.join(waiting)} ... {now - started:.0f}s", flush=True)
            last_print = now
        time.sleep(0.5)
    return ready_at


def our_processes(s: Settings) -> list[int]:
    """PIDs of the platform's processes: supervisord and everything it started (they inherit
    FLIGHTDELAY_SUPERVISED=<state folder> from it; a test's own Spark JVM does not)."""
    import psutil

    return [proc.pid for proc in psutil.process_iter(["pid"]) if _carries_mark(s, proc)]
