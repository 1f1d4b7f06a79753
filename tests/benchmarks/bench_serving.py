"""Serving at a steady rate, as an outside client sees it: requests produced to Kafka at --rate
for --seconds, answers read from the response topic; how far behind each sink query runs, in
seconds; and where the CPU went, per process.

    make run   # the stream must be serving
    .state/venv/bin/python tests/benchmarks/bench_serving.py --rate 1000 --seconds 300

Latency: from a request's produce call to its answer at a read_committed consumer, p50/p95/p99
and max over the run and per minute (the first minute after a start, checkpoint boundaries).
The producer and the consumer run in two processes so that neither delays the other. For the
slowest seconds, the wait is split: until Kafka acknowledged the request (the way in), and until
the stream produced the answer (the answer's Kafka timestamp).
Sink lag: every second, each sink query's last committed offsets (its checkpoint, embedded
platform) against the moment the response topic had reached them; the maximum over the run.
CPU: each platform process's CPU seconds during the run, and per answered request.
Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "include")]

FLIGHTS = [{"Origin": o, "Dest": d, "Carrier": c, "FlightDate": f"2013-{m:02d}-14", "DepDelay": float(delay),
            "CRSDepTime": "08:30", "FlightNum": "1"}
           for o, d, c in (("JFK", "LAX", "AA"), ("LGA", "ORD", "UA"), ("EWR", "ATL", "DL"))
           for m in (3, 7, 11) for delay in (-5, 10, 45)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def produce(bootstrap: str, topic: str, rate: float, seconds: float, start_at: float, out) -> None:
    """Producer process: `rate` requests a second from `start_at` (time.time()) for `seconds`;
    sends (uuid, send time, time Kafka acknowledged it) triples to `out` in chunks."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "queue.buffering.max.messages": 2000000})
    total = int(rate * seconds)
    messages = []
    for i in range(total):
        request_id = str(uuid.uuid4())
        messages.append((request_id, json.dumps({**FLIGHTS[i % len(FLIGHTS)], "UUID": request_id})))
    while time.time() < start_at:
        time.sleep(0.001)
    sent, acked, n = [], {}, 0

    def delivered(error, message) -> None:
        if error is None:
            acked[message.key().decode()] = time.time()

    while n < total:
        now = time.time()
        while n < total and start_at + n / rate <= now:
            request_id, value = messages[n]
            sent.append((request_id, time.time()))
            producer.produce(topic, key=request_id, value=value, on_delivery=delivered)
            n += 1
        producer.poll(0)
        time.sleep(0.001)
    producer.flush(60)
    triples = [(request_id, at, acked.get(request_id, float("nan"))) for request_id, at in sent]
    for first in range(0, len(triples), 5000):
        out.put(triples[first:first + 5000])
    out.put(None)


def consume(bootstrap: str, topic: str, until: float, ready, out) -> None:
    """Consumer process: every answer's (uuid, receive time, the answer's Kafka timestamp: when
    the stream produced it) from the topic's current end."""
    from confluent_kafka import TopicPartition

    from flightdelay import kafka_read

    consumer = kafka_read.reader({"bootstrap.servers": bootstrap}, "bench-serving")
    consumer.assign([TopicPartition(topic, p, high) for p, (_, high) in kafka_read.watermarks(consumer, topic).items()])
    ready.set()
    received = []
    while time.time() < until:
        first = consumer.poll(0.01)  # at the first answer: consume(n, t) waits for n answers or t
        for message in ([first, *consumer.consume(999, 0)] if first is not None else []):
            if not message.error() and message.key():
                received.append((message.key().decode(), time.time(), message.timestamp()[1] / 1000))
        if len(received) >= 5000:
            out.put(received)
            received = []
    out.put(received)
    out.put(None)
    consumer.close()


def drain(queue) -> list:
    items = []
    while True:
        chunk = queue.get()
        if chunk is None:
            return items
        items += chunk


class SinkLag:
    """Seconds each sink query is behind the response topic, from its checkpoint (local folder)."""

    def __init__(self, bootstrap: str) -> None:
        from flightdelay import kafka_read
        from flightdelay.config import NAMES, stream_checkpoint_root

        self.topic = NAMES.response_topic
        self.root = Path(stream_checkpoint_root().removeprefix("file://")) / "default"
        self.consumer = kafka_read.reader({"bootstrap.servers": bootstrap}, "bench-serving-lag")
        self.watermarks = kafka_read.watermarks
        self.ends: list[tuple[float, dict[int, int]]] = []  # (time, end offset per partition)
        self.worst: dict[str, float] = {}

    def queries(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if (p / "commits").is_dir() and p.name != "respond")

    def committed(self, query: str) -> dict[int, int] | None:
        folder = self.root / query
        batches = [int(f.name) for f in (folder / "commits").iterdir() if f.name.isdigit()]
        if not batches:
            return None
        offsets = json.loads((folder / "offsets" / str(max(batches))).read_text().splitlines()[-1])
        return {int(p): o for p, o in offsets.get(self.topic, {}).items()}

    def sample(self) -> None:
        now = time.time()
        self.ends.append((now, {p: high for p, (_, high) in self.watermarks(self.consumer, self.topic).items()}))
        for query in self.queries():
            committed = self.committed(query)
            if committed is None:
                continue
            lag = 0.0
            for partition, offset in committed.items():
                if self.ends[-1][1].get(partition, 0) <= offset:
                    continue  # all of this partition stored
                # the first sample at which the topic held more than what is stored
                reached = next((t for t, ends in self.ends if ends.get(partition, 0) > offset), now)
                lag = max(lag, now - reached)
            self.worst[query] = max(self.worst.get(query, 0.0), lag)


def platform_cpu() -> dict[str, float]:
    """CPU seconds so far of each platform process, named by what it runs."""
    import psutil

    names = {"SparkSubmit": "stream (spark jvm)", "CoarseGrainedExecutorBackend": "stream (spark executor)",
             "deploy.master.Master": "spark master", "deploy.worker.Worker": "spark worker",
             "kafka.Kafka": "kafka", "NameNode": "namenode",
             "DataNode": "datanode", "CassandraDaemon": "cassandra", "org.apache.nifi": "nifi",
             "ferretdb": "ferretdb", "mlflow": "mlflow", "gunicorn": "webapp",
             "prediction_stream": "stream (python driver)", "pyspark.daemon": "stream (python workers)",
             "airflow scheduler": "airflow scheduler", "airflow dag-processor": "airflow dag-processor",
             "airflow": "airflow (other)", "postgres": "postgresql", "bench_serving": "this benchmark",
             "multiprocessing.spawn": "this benchmark"}
    cpu: dict[str, float] = {}
    for process in psutil.process_iter(["cmdline", "cpu_times", "name"]):
        line = " ".join(process.info["cmdline"] or []) or (process.info["name"] or "")
        name = next((label for key, label in names.items() if key in line), None)
        if name is None or process.info["cpu_times"] is None:
            continue
        times = process.info["cpu_times"]
        cpu[name] = cpu.get(name, 0.0) + times.user + times.system + times.children_user + times.children_system
    return cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--settle", type=float, default=60, help="seconds to wait for the last answers and sinks")
    args = parser.parse_args()
    from flightdelay.config import NAMES

    lag = SinkLag(args.bootstrap)
    ctx = mp.get_context("spawn")
    sent_q, received_q, ready = ctx.Queue(), ctx.Queue(), ctx.Event()
    start_at = time.time() + 5
    end = start_at + args.seconds
    consumer = ctx.Process(target=consume, args=(args.bootstrap, NAMES.response_topic, end + args.settle, ready,
                                                 received_q))
    consumer.start()
    ready.wait(60)
    producer = ctx.Process(target=produce, args=(args.bootstrap, NAMES.request_topic, args.rate, args.seconds, start_at,
                                                 sent_q))
    producer.start()
    cpu_before = platform_cpu()
    while time.time() < end + args.settle:
        lag.sample()
        time.sleep(1)
    cpu_after = platform_cpu()
    triples = drain(sent_q)
    sent = {request_id: at for request_id, at, _ in triples}
    acked = {request_id: ack for request_id, _, ack in triples}
    received, produced = {}, {}
    for request_id, at, answered_at in drain(received_q):
        received.setdefault(request_id, at)
        produced.setdefault(request_id, answered_at)
    producer.join()
    consumer.join()

    latencies = [(at, 1000 * (received[i] - at)) for i, at in sent.items() if i in received]
    values = [ms for _, ms in latencies]
    print(f"rate {args.rate:.0f}/s for {args.seconds:.0f} s: sent {len(sent)}, answered {len(values)}")
    print(f"  latency ms: p50 {percentile(values, 50):.0f}  p95 {percentile(values, 95):.0f}  "
          f"p99 {percentile(values, 99):.0f}  max {max(values, default=float('nan')):.0f}")
    print("  per minute (p50 / p99 / max ms):")
    for minute in range(int((args.seconds + 59) // 60)):
        window = [ms for at, ms in latencies if start_at + 60 * minute <= at < start_at + 60 * (minute + 1)]
        if window:
            print(f"    minute {minute + 1}: {percentile(window, 50):6.0f} {percentile(window, 99):6.0f} "
                  f"{max(window):7.0f}  ({len(window)} requests)")
    by_second: dict[int, list[float]] = {}
    for at, ms in latencies:
        by_second.setdefault(int(at - start_at), []).append(ms)
    def worst_per_second(reached: dict[str, float]) -> dict[int, float]:
        """Per second of the run, the longest wait from a request's send to `reached` (ms)."""
        worst: dict[int, float] = {}
        for i, at in sent.items():
            if i in reached:
                second = int(at - start_at)
                worst[second] = max(worst.get(second, 0.0), 1000 * (reached[i] - at))
        return worst

    in_kafka = worst_per_second(acked)  # Kafka acknowledged the request: the way in
    in_stream = worst_per_second(produced)  # the answer produced: the way in and the stream
    slow = sorted(((max(v), s, sum(ms > 100 for ms in v)) for s, v in by_second.items()), reverse=True)[:5]
    print("  slowest seconds (second of the run: max ms; of which until Kafka acknowledged the request,")
    print("  and until the stream produced the answer; requests over 100 ms):")
    for worst, second, over in sorted(slow, key=lambda item: item[1]):
        print(f"    {second:4d} s: {worst:6.0f} ms; {in_kafka.get(second, float('nan')):6.0f} ms, "
              f"{in_stream.get(second, float('nan')):6.0f} ms; {over} over 100 ms")
    print("  sinks, most seconds behind the answers during the run:")
    for query, seconds in sorted(lag.worst.items()):
        print(f"    {query:<10} {seconds:6.1f} s")
    answered = max(len(values), 1)
    print(f"  CPU during the run ({args.seconds + args.settle:.0f} s), seconds and microseconds per answer:")
    for name, seconds in sorted(((n, cpu_after.get(n, 0) - cpu_before.get(n, 0)) for n in cpu_after),
                                key=lambda item: -item[1]):
        if seconds > 0.5:
            print(f"    {name:<26} {seconds:7.1f} s  {1e6 * seconds / answered:6.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
