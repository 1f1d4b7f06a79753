"""Benchmark of the Cassandra sink: how fast `sinks.write_cassandra` stores batches of prediction
records and what each record costs the Cassandra server in CPU, with the schema's flight_date
index and, for comparison, on the same table without it; then a lookup of one flight date
through the index. Uses two scratch keyspaces, dropped at the end.

    make run
    .state/venv/bin/python tests/benchmarks/bench_cassandra.py [--batches 4] [--size 20000]

The Cassandra CPU is read from /proc for the CassandraDaemon process (Linux), so it includes
whatever else the server does meanwhile (flushes, compactions). Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "include"), str(REPO / "tests" / "benchmarks")]

from bench_mongo import record  # noqa: E402  (same record shape as the MongoDB benchmark)


def server_cpu_seconds() -> float:
    """User + system CPU seconds of the Cassandra server process so far."""
    pid = subprocess.check_output(["pgrep", "-f", "CassandraDaemon"], text=True).split()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--size", type=int, default=20000)
    args = parser.parse_args()

    from cassandra.cluster import Cluster

    from embedded.settings import load
    from flightdelay import sinks

    port = load().port("CASSANDRA_PORT")
    cluster = Cluster(["127.0.0.1"], port=port)
    session = cluster.connect()
    suffix = uuid.uuid4().hex[:8]
    indexed, plain = f"bench_indexed_{suffix}", f"bench_plain_{suffix}"
    try:
        sinks.apply_cassandra_schema(session, indexed)
        for statement in sinks.cql_statements(sinks.CQL_FILE.read_text(), plain):
            if not statement.upper().startswith("CREATE INDEX"):
                session.execute(statement, timeout=60)
        print(f"{'table':>14} {'rows':>8} {'seconds':>8} {'records/s':>10} {'client CPU s':>13} "
              f"{'server CPU µs/record':>21}")
        day = "2013-06-14"
        for _ in range(args.batches):
            for keyspace in (indexed, plain):
                batch = [record() for _ in range(args.size)]  # record() flights are all on `day`
                cpu, client, started = server_cpu_seconds(), time.process_time(), time.perf_counter()
                sinks.write_cassandra(batch, "127.0.0.1", port, keyspace)
                seconds = time.perf_counter() - started
                server = server_cpu_seconds() - cpu
                print(f"{'indexed' if keyspace == indexed else 'no index':>14} {args.size:>8} {seconds:>8.2f} "
                      f"{args.size / seconds:>10.0f} {time.process_time() - client:>13.2f} "
                      f"{1e6 * server / args.size:>21.0f}", flush=True)
        started = time.perf_counter()
        found = sum(1 for _ in session.execute(
            f"SELECT uuid FROM {indexed}.flight_delay_ml_response WHERE flight_date = %s", (day,)))
        print(f"flight_date = {day} through the index: {found} rows in {time.perf_counter() - started:.2f} s")
    finally:
        for keyspace in (indexed, plain):
            session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=60)
        cluster.shutdown()
        for client in sinks._clients.values():  # the writer's own session, so that none outlives main
            if isinstance(client, tuple):
                client[0].cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
