"""The off-path services' CPU group: a supervisord event listener (it runs as root) that moves each
niced service into one cgroup of low CPU weight whenever supervisord (re)starts it.

Niceness is per thread, and a sink with hundreds of threads (Cassandra) still took half a core
from the stream at a checkpoint boundary, where requests wait on the driver's planning. A group's
weight counts once for all its threads. It only matters when the CPU is short: idle cores are
still the group's. Without a writable cpu controller the listener says so once and moves nothing.

    [eventlistener:cpu_rank] command=python -m embedded.cpu_rank postgres cassandra ...
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

GROUP = "flightdelay-offpath"
# The group's weight by file (cgroup v1 cpu.shares, v2 cpu.weight): low once the platform serves
# (the root's tasks have 1024 shares each; v2's 12 is the same ratio to its default 100).
LOW = {"cpu.shares": 128, "cpu.weight": 12}
DEFAULT = {"cpu.shares": 1024, "cpu.weight": 100}


def cpu_group(mounts: str | None = None) -> Path | None:
    """This machine's cpu controller folder for GROUP (v1 `cpu` hierarchy, else the v2 unified
    one), or None where there is none."""
    if mounts is None:
        try:
            mounts = Path("/proc/self/mounts").read_text()
        except OSError:
            return None
    v2 = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        if fields[2] == "cgroup" and "cpu" in fields[3].split(","):
            return Path(fields[1]) / GROUP
        if fields[2] == "cgroup2":
            v2 = Path(fields[1]) / GROUP
    return v2


def prepare(group: Path) -> None:
    """Create the group (v2: after enabling the cpu controller for children); its weight stays."""
    if (group.parent / "cgroup.controllers").exists():
        (group.parent / "cgroup.subtree_control").write_text("+cpu")
    group.mkdir(exist_ok=True)


def set_weight(low: bool, group: Path | None = None) -> Path | None:
    """The group's weight: default while `make run` starts the platform (a low one slowed the
    start's JVMs by 25 s), low once it serves. The group, or None where there is none."""
    group = group or cpu_group()
    if group is None or not group.is_dir():
        return None
    path = weight_file(group)
    path.write_text(str((LOW if low else DEFAULT)[path.name]))
    return group


def weight_file(group: Path) -> Path:
    """The file that holds `group`'s weight: cpu.shares (v1) or cpu.weight (v2)."""
    return group / "cpu.shares" if (group / "cpu.shares").exists() else group / "cpu.weight"


def tokens(text: str) -> dict[str, str]:
    """The `key:value` tokens of a supervisord event's header or payload (`eventname`, `len`, `pid`...)."""
    return dict(token.split(":", 1) for token in text.split() if ":" in token)


def move(group: Path, name: str, pid: int | str, stderr=sys.stderr) -> None:
    """Put process `pid` (all its threads, and the children it starts later) into `group`."""
    try:
        (group / "cgroup.procs").write_text(str(pid))
        stderr.write(f"{name} (pid {pid}) runs in {group}\n")
    except OSError as exc:  # the process may have exited already; it is ranked at its next start
        stderr.write(f"{name} (pid {pid}) not moved to {group}: {exc}\n")
    stderr.flush()


def listen(names: set[str], group: Path | None, stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr) -> None:
    """supervisord's listener protocol: READY, one event (header line, then `len` bytes), RESULT."""
    while True:
        stdout.write("READY\n")
        stdout.flush()
        header = stdin.readline()
        if not header:
            return
        head = tokens(header)
        body = tokens(stdin.read(int(head.get("len", "0"))))
        if group is not None and head.get("eventname") == "PROCESS_STATE_RUNNING" and body.get("processname") in names:
            move(group, body["processname"], body.get("pid", ""), stderr)
        stdout.write("RESULT 2\nOK")
        stdout.flush()


def main(argv: list[str]) -> int:
    group = cpu_group()
    try:
        if group is None:
            raise OSError("no cpu cgroup controller is mounted")
        prepare(group)
        sys.stderr.write(f"off-path services ({', '.join(argv)}) run in {group}\n")
    except OSError as exc:
        sys.stderr.write(f"no CPU group for the off-path services ({exc}); they run at their niceness only\n")
        group = None
    sys.stderr.flush()
    if group is not None:  # those already running: their events may have come before this listener
        from supervisor import childutils

        for info in childutils.getRPCInterface(os.environ).supervisor.getAllProcessInfo():
            if info["name"] in argv and info["pid"]:
                move(group, info["name"], info["pid"])
    listen(set(argv), group)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
