"""Benchmark of the MongoDB sink (FerretDB on PostgreSQL in the embedded platform): how fast
`sinks.write_mongo` stores batches of prediction records, and how fast a lookup by UUID is,
as the collection grows. Uses a scratch collection with the prediction collection's indexes
(unique UUID, and FerretDB's lookup index), dropped at the end.

    make run
    .state/venv/bin/python tests/benchmarks/bench_mongo.py [--batches 5] [--size 20000]

Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "include")]


def record() -> dict:
    return {"UUID": str(uuid.uuid4()), "Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-06-14",
            "DepDelay": round(random.uniform(-10, 120), 1), "FlightNum": "1", "CRSDepTime": "09:00",
            "Distance": 2475.0, "Prediction": 2, "PredictionLabel": "late (0-30 min)",
            "Probabilities": [0.1, 0.2, 0.4, 0.3], "ModelName": "flight_delay_rf", "ModelVersion": "3",
            "ReceivedAt": "2026-11-30T09:00:00.000Z", "PredictedAt": "2026-11-30T09:00:00.020Z"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--lookups", type=int, default=20)
    args = parser.parse_args()

    from pymongo import MongoClient

    from embedded import initialise
    from embedded.settings import load
    from flightdelay import sinks

    s = load()
    uri = f"mongodb://127.0.0.1:{s.port('MONGO_PORT')}/"
    database, name = "platform_bench", f"predictions_{int(time.time())}"
    client = MongoClient(uri)
    collection = client[database][name]
    sinks.ensure_mongo_index(collection)
    initialise.ferretdb_uuid_lookup_index(s, database, name)
    stored: list[str] = []
    try:
        print(f"{'documents':>10} {'batch':>6} {'seconds':>8} {'records/s':>10} {'lookup p50 ms':>14} {'p95 ms':>8}")
        for _ in range(args.batches):
            batch = [record() for _ in range(args.size)]
            started = time.perf_counter()
            sinks.write_mongo(batch, uri, database, name)
            seconds = time.perf_counter() - started
            stored += [r["UUID"] for r in batch]
            lookups = []
            for wanted in random.sample(stored, min(args.lookups, len(stored))):
                started = time.perf_counter()
                assert collection.find_one({"UUID": wanted}) is not None, wanted
                lookups.append((time.perf_counter() - started) * 1000)
            lookups.sort()
            print(f"{len(stored):>10} {args.size:>6} {seconds:>8.2f} {args.size / seconds:>10.0f} "
                  f"{statistics.median(lookups):>14.1f} {lookups[int(0.95 * (len(lookups) - 1))]:>8.1f}", flush=True)
        replay = random.sample(stored, 1000)
        started = time.perf_counter()
        new = sinks.write_mongo([{**record(), "UUID": u} for u in replay] + [record() for _ in range(1000)],
                                uri, database, name)
        print(f"a replayed batch (1,000 stored before + 1,000 new): {new} new in {time.perf_counter() - started:.2f} s")
    finally:
        collection.drop()
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
