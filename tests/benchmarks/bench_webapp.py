"""Benchmark of the web app end to end: HTTP POST -> prediction on the page's WebSocket, with
1, 10 and 50 concurrent users (each a socket of its own, submitting one flight after another).

    make run   # then start the stream: trigger the prediction_stream DAG (a champion must exist)
    .state/venv/bin/python tests/benchmarks/bench_webapp.py [--users 1,10,50] [--requests 10]

The latency of one request runs from the POST being sent to the prediction message arriving on
the socket (what the page shows as "answered in"). Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time

import requests
from websockets.sync.client import connect

FLIGHT = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-03-14", "DepDelay": 10}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def user(base: str, count: int, latencies: list[float], failures: list[str]) -> None:
    session = requests.Session()
    with connect(base.replace("http", "ws") + "/ws/predictions", open_timeout=30) as socket:
        for i in range(count):
            ready = json.loads(socket.recv(timeout=60))
            started = time.perf_counter()
            response = session.post(f"{base}/api/predictions", json={**FLIGHT, "DepDelay": i, "UUID": ready["UUID"]},
                                    timeout=30)
            if response.status_code != 202:
                failures.append(f"POST {response.status_code}")
                return
            socket.send(json.dumps({"type": "submitted", "UUID": ready["UUID"]}))
            message = json.loads(socket.recv(timeout=120))
            if message["type"] != "prediction":
                failures.append(message["type"])
                continue
            latencies.append(1000 * (time.perf_counter() - started))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="http://127.0.0.1:5001")
    parser.add_argument("--users", default="1,10,50")
    parser.add_argument("--requests", type=int, default=10, help="requests per user")
    args = parser.parse_args()
    print(f"{'users':>6} {'answered':>8} {'failed':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>7}")
    for users in [int(u) for u in args.users.split(",")]:
        latencies: list[float] = []
        failures: list[str] = []
        threads = [threading.Thread(target=user, args=(args.base, args.requests, latencies, failures))
                   for _ in range(users)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if not latencies:
            print(f"{users:6d} no answers ({failures[:3]}): is the stream running?")
            return 1
        print(f"{users:6d} {len(latencies):8d} {len(failures):6d} {percentile(latencies, 50):8.0f} "
              f"{percentile(latencies, 95):8.0f} {percentile(latencies, 99):8.0f} {len(latencies) / elapsed:7.1f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
