"""Benchmark of the embedded platform's start: warm install check, stop, `make run` until the
services are healthy and until the form answers, and the resident memory of the running stack.

    make run && .state/venv/bin/python tests/benchmarks/bench_platform.py [--cold]

--cold: `make clean` first (service data wiped, installs kept), so the start is a first start
with the whole bootstrap. It restarts the platform: run it when nothing else uses it.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "include")]


def timed(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, result.stdout


def timed_start() -> tuple[dict[str, float], list[str]]:
    """`make run`, streamed: seconds until the services the start needs are healthy, setup_platform
    is done, the first prediction is answered and every service is healthy; and the output's lines."""
    started = time.perf_counter()
    marks: dict[str, float] = {}
    lines = []
    with subprocess.Popen(["make", "run"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:
        for line in proc.stdout:
            lines.append(line.rstrip())
            for mark, text in (("start's services", "Services that the start needs are healthy"),
                               ("setup done", "setup_platform: done"), ("answered", "first prediction answered"),
                               ("all services", "All services healthy")):
                if text in line and mark not in marks:
                    marks[mark] = time.perf_counter() - started
    if proc.returncode != 0:
        print("\n".join(lines[-40:]))
        raise SystemExit(f"make run failed ({proc.returncode})")
    marks["make run"] = time.perf_counter() - started
    return marks, lines


def main() -> int:
    import psutil

    from embedded import settings, supervision

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", action="store_true", help="make clean first: a first start with the bootstrap")
    args = parser.parse_args()
    s = settings.load()
    install_seconds, _ = timed(["make", "install"])
    stop_seconds, _ = timed(["make", "stop"])
    if args.cold:
        timed(["make", "clean"])
    marks, output = timed_start()
    kind = "first start, data wiped" if args.cold else "restart, data kept"
    print(f"make install (everything current): {install_seconds:6.1f} s")
    print(f"make stop:                         {stop_seconds:6.1f} s")
    print(f"make run ({kind}):")
    for mark in ("start's services", "setup done", "answered", "all services", "make run"):
        print(f"    {mark:<18} {marks.get(mark, float('nan')):6.1f} s")
    if "answered" in marks:
        to_answer = marks["answered"] - marks["start's services"]
        print(f"    start's services healthy -> first prediction: {to_answer:6.1f} s")
    for line in output:
        if line.strip().startswith("ok ") or "[" in line and "s]" in line:
            print("   ", line.strip())
    time.sleep(30)  # let start-up work settle before reading memory
    rss = {}
    for pid in supervision.our_processes(s):
        try:
            proc = psutil.Process(pid)
            rss[pid] = (proc.memory_info().rss, " ".join(proc.cmdline())[:70])
        except psutil.NoSuchProcess:
            continue
    total = sum(r for r, _ in rss.values())
    print(f"RSS of the running stack: {total / 2**30:.2f} GiB in {len(rss)} processes; largest:")
    for pid, (size, cmd) in sorted(rss.items(), key=lambda kv: -kv[1][0])[:8]:
        print(f"    {size / 2**20:7.0f} MiB  {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
