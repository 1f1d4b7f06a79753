"""Benchmark of the embedded platform: warm install check, stop, start (time until each service
is healthy), and the resident memory of the whole running stack.

    make run && .state/venv/bin/python tests/benchmarks/bench_platform.py

It restarts the platform: run it when nothing else uses it.
"""
from __future__ import annotations

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


def main() -> int:
    import psutil

    from embedded import platformctl, settings

    s = settings.load()
    install_seconds, _ = timed(["make", "install"])
    stop_seconds, _ = timed(["make", "stop"])
    start_seconds, output = timed(["make", "run"])
    print(f"make install (everything current): {install_seconds:6.1f} s")
    print(f"make stop:                         {stop_seconds:6.1f} s")
    print(f"make run (installed, data kept):   {start_seconds:6.1f} s  (includes airflow db migrate and the NiFi flow check)")
    for line in output.splitlines():
        if line.strip().startswith("ok "):
            print("   ", line.strip())
    time.sleep(30)  # let start-up work settle before reading memory
    rss = {}
    for pid in platformctl.our_processes(s):
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
