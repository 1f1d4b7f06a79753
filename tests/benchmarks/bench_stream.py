"""Benchmark of the prediction stream: request -> response latency through Kafka at several
request rates, and the drain rate of a backlog (throughput with nothing lost).

    make run   # then start the stream: trigger the prediction_stream DAG (a champion must exist)
    .state/venv/bin/python tests/benchmarks/bench_stream.py [--rates 5,20,100,500] [--seconds 20] \
        [--backlog 20000]

Requests are produced at a steady rate for --seconds each (what is due every 5 ms); the latency
of a request is the time from its produce call to its response arriving at a read_committed
consumer. Then --backlog requests are produced as fast as possible and the time until all are
answered gives the sustained predictions/s. Prints figures; asserts nothing.

The sinks (the `store` and `archive` queries) read the response topic behind the answers, in the
same Spark application and on the same cores. Before the first rate and after each one the
benchmark waits until they have caught up (their checkpoints' last committed offsets, embedded
platform), so that a rate is not measured against the backlog an earlier one left, and prints
how far behind they were when the rate ended and how long they took to catch up.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "include")]

SINK_SLACK = 25000  # records a sink may be behind and count as caught up
FLIGHT = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-03-14", "DepDelay": 10.0,
          "CRSDepTime": "08:30"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def request() -> tuple[str, str]:
    """A fresh request: (UUID, JSON text)."""
    request_id = str(uuid.uuid4())
    return request_id, json.dumps({**FLIGHT, "UUID": request_id})


def sink_lag(bootstrap: str) -> dict[str, int] | None:
    """Response records each sink query has not stored yet: the topic's end offsets minus the
    offsets of the query's last committed batch. None when the checkpoints are not a local folder
    (docker-compose keeps them in HDFS)."""
    from flightdelay import kafka_read
    from flightdelay.config import NAMES, stream_checkpoint_root

    root = stream_checkpoint_root()
    if not root.startswith("file://"):
        return None
    consumer = kafka_read.reader({"bootstrap.servers": bootstrap}, "bench")
    try:
        ends = {p: high for p, (_, high) in kafka_read.watermarks(consumer, NAMES.response_topic).items()}
    finally:
        consumer.close()
    lags = {}
    for query in ("store", "archive"):
        folder = Path(root.removeprefix("file://")) / "default" / query
        committed = [int(f.name) for f in (folder / "commits").iterdir() if f.name.isdigit()]
        if not committed:
            return None
        offsets = json.loads((folder / "offsets" / str(max(committed))).read_text().splitlines()[-1])
        lags[query] = sum(ends[int(p)] - offset for p, offset in offsets[NAMES.response_topic].items())
    return lags


def wait_for_sinks(bootstrap: str, timeout: float = 1800) -> tuple[dict[str, int] | None, float]:
    """Wait until each sink is fewer than SINK_SLACK records behind (the archive writes every 30 s);
    returns the lags found first and the seconds waited."""
    started = time.perf_counter()
    first = lags = sink_lag(bootstrap)
    printed = 0.0
    while lags is not None and max(lags.values()) >= SINK_SLACK and time.perf_counter() - started < timeout:
        if time.perf_counter() - printed >= 30:
            print(f"  waiting for the sinks to catch up: {lags} records behind", flush=True)
            printed = time.perf_counter()
        time.sleep(5)
        lags = sink_lag(bootstrap)
    return first, time.perf_counter() - started


def report_sinks(bootstrap: str, when: str) -> None:
    lags, waited = wait_for_sinks(bootstrap)
    if lags:
        print(f"  sinks {when}: store {lags['store']}, archive {lags['archive']} records behind; "
              f"caught up (< {SINK_SLACK:,} behind) {waited:.0f} s later", flush=True)


class Client:
    def __init__(self, bootstrap: str) -> None:
        from confluent_kafka import Producer, TopicPartition

        from flightdelay import kafka_read
        from flightdelay.config import NAMES

        self.names = NAMES
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0,
                                  "queue.buffering.max.messages": 1000000})
        self.consumer = kafka_read.reader({"bootstrap.servers": bootstrap}, "bench")
        topic = NAMES.response_topic
        self.consumer.assign([TopicPartition(topic, p, high)
                              for p, (_, high) in kafka_read.watermarks(self.consumer, topic).items()])
        self.sent: dict[str, float] = {}
        self.received: dict[str, float] = {}

    def send(self, message: tuple[str, str] | None = None) -> None:
        request_id, value = message or request()
        self.sent[request_id] = time.perf_counter()
        self.producer.produce(self.names.request_topic, key=request_id, value=value)
        self.producer.poll(0)

    def drain(self, seconds: float) -> None:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            # poll() returns as soon as one message is there (consume(n, t) would wait for n or t)
            first = self.consumer.poll(max(0.0, min(0.01, deadline - time.perf_counter())))
            for message in [first, *self.consumer.consume(1000, 0)] if first is not None else []:
                if message.error():
                    continue
                key = message.key()  # the response's key is its UUID (cheaper than parsing the value)
                request_id = key.decode() if key else None
                if request_id in self.sent and request_id not in self.received:
                    self.received[request_id] = time.perf_counter()

    def wait_all(self, ids: list[str], timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            self.drain(0.5)
            if all(i in self.received for i in ids):
                return True
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--rates", default="5,20,100,500", help="requests per second, comma separated")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--backlog", type=int, default=20000)
    args = parser.parse_args()
    client = Client(args.bootstrap)

    client.send()
    client.producer.flush(10)
    if not client.wait_all(list(client.sent), 120):
        print("no response within 120 s: is the stream running (prediction_stream DAG)?")
        return 1
    report_sinks(args.bootstrap, "before the first rate")
    print(f"{'rate/s':>8} {'sent':>6} {'answered':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for rate in [float(r) for r in args.rates.split(",")]:
        client.sent.clear()
        client.received.clear()
        n, total = 0, int(rate * args.seconds)
        messages = [request() for _ in range(total)]  # made before the clock starts
        started = time.perf_counter()
        while n < total:
            # every request that is due now, then responses for 5 ms (waking up for each request
            # cost this client most of a core at 1,000/s, on the same 2 cores as the stream)
            while n < total and started + n / rate <= time.perf_counter():
                client.send(messages[n])
                n += 1
            client.drain(0.005)
        client.producer.flush(30)
        client.wait_all(list(client.sent), 120)
        latencies = [1000 * (client.received[i] - client.sent[i]) for i in client.sent if i in client.received]
        print(f"{rate:8.0f} {len(client.sent):6d} {len(latencies):8d} {percentile(latencies, 50):8.0f} "
              f"{percentile(latencies, 95):8.0f} {percentile(latencies, 99):8.0f}", flush=True)
        report_sinks(args.bootstrap, "when the last answer came")

    if not args.backlog:
        return 0
    client.sent.clear()
    client.received.clear()
    backlog = [request() for _ in range(args.backlog)]  # made before the clock starts
    started = time.perf_counter()
    for message in backlog:
        client.send(message)
    client.producer.flush(60)
    produced = time.perf_counter() - started
    complete = client.wait_all(list(client.sent), 900)
    elapsed = max(client.received.values()) - started if client.received else float("nan")
    print(f"backlog of {args.backlog} produced in {produced:.1f} s; answered {len(client.received)} "
          f"({'all' if complete else 'NOT all'}) in {elapsed:.1f} s"
          f" -> {len(client.received) / elapsed:.0f} predictions/s")
    if client.received:
        mean_latency = statistics.mean(client.received[i] - client.sent[i] for i in client.received)
        print(f"  mean time in queue during the backlog: {mean_latency:.1f} s")
        report_sinks(args.bootstrap, "when the last answer came")
    return 0


if __name__ == "__main__":
    sys.exit(main())
