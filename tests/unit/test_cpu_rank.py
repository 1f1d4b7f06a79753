"""embedded.cpu_rank: finding the cpu controller and speaking supervisord's listener protocol."""
from __future__ import annotations

import io

from embedded import cpu_rank

V1 = """cgroup /sys/fs/cgroup/cpuset cgroup rw,nosuid,cpuset 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,nosuid,nodev,noexec,relatime,cpu 0 0
cgroup /sys/fs/cgroup/cpuacct cgroup rw,cpuacct 0 0
"""
V2 = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"


def test_the_v1_cpu_hierarchy_wins_and_v2_is_the_fallback():
    assert cpu_rank.cpu_group(V1 + V2) == cpu_rank.Path("/sys/fs/cgroup/cpu") / cpu_rank.GROUP
    assert cpu_rank.cpu_group(V2) == cpu_rank.Path("/sys/fs/cgroup") / cpu_rank.GROUP
    assert cpu_rank.cpu_group("proc /proc proc rw 0 0\n") is None


def _event(name: str, payload: str) -> str:
    return (f"ver:3.0 server:supervisor serial:1 pool:cpu_rank poolserial:1 eventname:{name} "
            f"len:{len(payload)}\n{payload}")


def test_the_listener_moves_only_the_named_services_that_started(tmp_path):
    (tmp_path / "cgroup.procs").write_text("")
    events = (_event("PROCESS_STATE_RUNNING", "processname:cassandra groupname:cassandra from_state:STARTING pid:4242")
              + _event("PROCESS_STATE_RUNNING", "processname:kafka groupname:kafka from_state:STARTING pid:77")
              + _event("PROCESS_STATE_STOPPED", "processname:nifi groupname:nifi from_state:STOPPING pid:5"))
    out, err = io.StringIO(), io.StringIO()
    cpu_rank.listen({"cassandra", "nifi"}, tmp_path, io.StringIO(events), out, err)
    assert (tmp_path / "cgroup.procs").read_text() == "4242"
    assert out.getvalue() == "READY\nRESULT 2\nOK" * 3 + "READY\n"
    assert "cassandra (pid 4242) runs in" in err.getvalue()


def test_a_failed_move_is_reported_and_the_listener_goes_on(tmp_path):
    missing = tmp_path / "no-such-group"
    out, err = io.StringIO(), io.StringIO()
    cpu_rank.listen({"cassandra"}, missing, io.StringIO(_event("PROCESS_STATE_RUNNING", "processname:cassandra pid:9")),
                    out, err)
    assert "not moved" in err.getvalue()
    assert out.getvalue().endswith("RESULT 2\nOKREADY\n")


def test_the_weight_is_the_default_for_the_start_and_low_once_serving(tmp_path):
    group = tmp_path / cpu_rank.GROUP
    assert cpu_rank.set_weight(True, group) is None  # not made yet: nothing to set
    group.mkdir()
    (group / "cpu.shares").write_text("1024")
    assert cpu_rank.set_weight(True, group) == group
    assert (group / "cpu.shares").read_text() == "128"
    cpu_rank.set_weight(False, group)
    assert (group / "cpu.shares").read_text() == "1024"
