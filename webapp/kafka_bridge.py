"""The web app's link to Kafka: one producer of requests and one shared consumer of responses
per server process, routing each prediction to the socket waiting for its UUID.

The consumer joins a group of its own at the end of the response topic (it never reads the
topic from the start) and keeps the last predictions for a short while, so a page that
subscribes a moment after its answer arrived still gets it. Every server process sees every
answer, so a page's socket and its POST may be served by different processes: the UUID a socket
reserves carries a MAC made with the app's secret key, which any process can check.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

log = logging.getLogger(__name__)


def signed_uuid(secret: bytes) -> str:
    """A version-4-shaped UUID whose last 8 bytes are a MAC of its first 8 (60 random bits)."""
    head = bytearray(os.urandom(8))
    head[6] = (head[6] & 0x0F) | 0x40  # version 4
    return str(uuid.UUID(bytes=bytes(head) + _mac(secret, bytes(head))))


def has_valid_signature(request_id: str, secret: bytes) -> bool:
    try:
        raw = uuid.UUID(request_id).bytes
    except (TypeError, ValueError, AttributeError):
        return False
    return hmac.compare_digest(raw[8:], _mac(secret, raw[:8]))


def _mac(secret: bytes, head: bytes) -> bytes:
    tail = bytearray(hmac.new(secret, b"flight-delay-request:" + head, hashlib.sha256).digest()[:8])
    tail[0] = (tail[0] & 0x3F) | 0x80  # RFC 4122 variant
    return bytes(tail)


class ResponseRouter:
    """Waiters by UUID, fed by one background consumer thread."""

    def __init__(self, bootstrap_servers: str, topic: str, secret: bytes, keep_seconds: float = 300,
                 keep_max: int = 10000) -> None:
        self.bootstrap_servers, self.topic, self._secret = bootstrap_servers, topic, secret
        self.keep_seconds, self.keep_max = keep_seconds, keep_max
        self._lock = threading.Lock()
        self._waiters: dict[str, list[queue.Queue]] = {}
        self._recent: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        self._used: OrderedDict[str, None] = OrderedDict()  # a bounded ordered set: oldest dropped first
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="response-router", daemon=True)

    def start(self) -> "ResponseRouter":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    # --- subscriptions ---------------------------------------------------------------------
    def reserve(self) -> str:
        """A fresh UUID for a page's next request, signed so that the API accepts it."""
        return signed_uuid(self._secret)

    def claim(self, request_id: str) -> bool:
        """True if `request_id` was reserved by a page of this app (any of its server processes)
        and was not used yet in this process. A UUID used twice through two processes gives two
        answers with one UUID, which every sink stores once (keyed by UUID)."""
        if not has_valid_signature(request_id, self._secret):
            return False
        with self._lock:
            if request_id in self._used:
                return False
            self._used[request_id] = None
            while len(self._used) > self.keep_max:
                self._used.popitem(last=False)
        return True

    def subscribe(self, request_id: str) -> queue.Queue:
        """A queue that receives the prediction of `request_id` (at once if it already came)."""
        waiter: queue.Queue = queue.Queue(maxsize=1)
        with self._lock:
            if request_id in self._recent:
                waiter.put(self._recent[request_id][1])
            else:
                self._waiters.setdefault(request_id, []).append(waiter)
        return waiter

    def unsubscribe(self, request_id: str, waiter: queue.Queue) -> None:
        with self._lock:
            waiters = self._waiters.get(request_id, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._waiters.pop(request_id, None)

    def recent(self, request_id: str) -> dict | None:
        with self._lock:
            entry = self._recent.get(request_id)
        return entry[1] if entry else None

    def deliver(self, record: dict[str, Any]) -> int:
        """Hand a prediction to its waiters; returns how many got it."""
        request_id = record.get("UUID")
        if not isinstance(request_id, str):
            return 0
        now = time.monotonic()
        with self._lock:
            self._recent[request_id] = (now, record)
            self._recent.move_to_end(request_id)
            while self._recent and (len(self._recent) > self.keep_max
                                    or now - next(iter(self._recent.values()))[0] > self.keep_seconds):
                self._recent.popitem(last=False)
            waiters = self._waiters.pop(request_id, [])
        for waiter in waiters:
            waiter.put(record)
        return len(waiters)

    # --- the consumer thread ---------------------------------------------------------------
    def _run(self) -> None:
        from confluent_kafka import Consumer

        while not self._stop.is_set():
            consumer = Consumer({
                "bootstrap.servers": self.bootstrap_servers,
                "group.id": f"webapp-{uuid.uuid4().hex}",  # its own group: every process sees every answer
                "auto.offset.reset": "latest",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            })
            try:
                consumer.subscribe([self.topic])
                while not self._stop.is_set():
                    message = consumer.poll(0.5)
                    if message is None:
                        continue
                    if message.error():
                        log.warning("response consumer: %s", message.error())
                        continue
                    try:
                        record = json.loads(message.value())
                    except (TypeError, ValueError):
                        continue
                    if isinstance(record, dict):
                        self.deliver(record)
            except Exception:  # keep routing: reconnect after a pause
                log.exception("response consumer failed; reconnecting in 5 s")
                time.sleep(5)
            finally:
                consumer.close()


class RequestProducer:
    """Produces request messages keyed by UUID and waits for the broker's acknowledgement."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        from confluent_kafka import Producer

        self.topic = topic
        self._producer = Producer({"bootstrap.servers": bootstrap_servers, "linger.ms": 0, "acks": "all",
                                   "enable.idempotence": True, "message.timeout.ms": 10000})

    def send(self, request: dict[str, Any], timeout: float = 10) -> None:
        errors: list = []
        self._producer.produce(self.topic, key=request["UUID"], value=json.dumps(request),
                               on_delivery=lambda err, _msg: errors.append(err))
        self._producer.flush(timeout)
        if not errors or errors[0] is not None:
            raise RuntimeError(f"Kafka did not accept the request: {errors[0] if errors else 'timeout'}")
