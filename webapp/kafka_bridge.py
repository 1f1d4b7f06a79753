"""The web app's link to Kafka: one producer of requests and one shared consumer of responses
per server process, routing each prediction to the socket waiting for its UUID.

The consumer joins a group of its own at the end of the response topic (it never reads the
topic from the start) and keeps the last predictions for a short while, so a page that
subscribes a moment after its answer arrived still gets it. Every process reads every answer,
and most are for other processes' pages, so an answer is parsed only when a page asks for it.
A page's socket and its POST may be served by different processes: the UUID a socket reserves
carries its minute of issue and a MAC made with the app's secret key, which any process checks;
its single use is claimed in a store the processes share.
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


MINUTES = 1 << 24  # the issue minute is kept in 3 bytes (it wraps after 31 years)


def _minute(now: float | None) -> int:
    return int((time.time() if now is None else now) // 60) % MINUTES


def signed_uuid(secret: bytes, now: float | None = None) -> str:
    """A version-4-shaped UUID: 3 bytes of its minute of issue, 36 random bits, and a MAC of those
    first 8 bytes in the last 8."""
    head = bytearray(os.urandom(8))
    head[0:3] = _minute(now).to_bytes(3, "big")
    head[6] = (head[6] & 0x0F) | 0x40  # version 4
    return str(uuid.UUID(bytes=bytes(head) + _mac(secret, bytes(head))))


def has_valid_signature(request_id: str, secret: bytes, max_age_s: float | None = None,
                        now: float | None = None) -> bool:
    """The MAC is ours, and (given `max_age_s`) the UUID was issued at most that long ago."""
    try:
        raw = uuid.UUID(request_id).bytes
    except (TypeError, ValueError, AttributeError):
        return False
    if not hmac.compare_digest(raw[8:], _mac(secret, raw[:8])):
        return False
    if max_age_s is None:
        return True
    age_minutes = (_minute(now) - int.from_bytes(raw[0:3], "big")) % MINUTES
    return age_minutes <= max_age_s / 60 + 1


def _mac(secret: bytes, head: bytes) -> bytes:
    tail = bytearray(hmac.new(secret, b"flight-delay-request:" + head, hashlib.sha256).digest()[:8])
    tail[0] = (tail[0] & 0x3F) | 0x80  # RFC 4122 variant
    return bytes(tail)


class ResponseRouter:
    """Waiters by UUID, fed by one background consumer thread."""

    def __init__(self, bootstrap_servers: str, topic: str, secret: bytes, keep_seconds: float = 300,
                 keep_max: int = 10000, reservation_s: float = 3600, claims=None) -> None:
        self.bootstrap_servers, self.topic, self._secret = bootstrap_servers, topic, secret
        self.keep_seconds, self.keep_max, self.reservation_s = keep_seconds, keep_max, reservation_s
        self.claims = claims  # claims(request_id) -> True once per UUID across processes; None: this process
        self._lock = threading.Lock()
        self._waiters: dict[str, list[queue.Queue]] = {}
        self._recent: OrderedDict[str, tuple[float, bytes | dict]] = OrderedDict()  # raw until asked for
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
        within `reservation_s` and was not used yet: checked in the shared `claims` store, so
        that one UUID is one request across processes and restarts."""
        if not has_valid_signature(request_id, self._secret, self.reservation_s):
            return False
        if self.claims is not None:
            return self.claims(request_id)
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
            entry = self._recent.get(request_id)
            record = _prediction(request_id, entry[1]) if entry else None
            if record is not None:
                waiter.put(record)
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
        return _prediction(request_id, entry[1]) if entry else None

    def deliver(self, request_id: str, value: bytes | dict[str, Any]) -> int:
        """Keep the answer to `request_id` (its Kafka key; the raw message or the parsed record)
        and hand it to its waiters; returns how many got it."""
        now = time.monotonic()
        with self._lock:
            self._recent[request_id] = (now, value)
            self._recent.move_to_end(request_id)
            while self._recent and (len(self._recent) > self.keep_max
                                    or now - next(iter(self._recent.values()))[0] > self.keep_seconds):
                self._recent.popitem(last=False)
            waiters = self._waiters.pop(request_id, [])
        record = _prediction(request_id, value) if waiters else None
        if record is None:
            return 0
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
                    # poll returns at the first answer; consume(n, t) would wait for n answers or t.
                    first = consumer.poll(0.5)
                    for message in ([first, *consumer.consume(499, 0)] if first is not None else []):
                        if message.error():
                            log.warning("response consumer: %s", message.error())
                        elif message.key() and message.value():
                            self.deliver(message.key().decode("utf-8", "replace"), message.value())
            except Exception:  # keep routing: reconnect after a pause
                log.exception("response consumer failed; reconnecting in 5 s")
                time.sleep(5)
            finally:
                consumer.close()


def _prediction(request_id: str, value: bytes | dict[str, Any]) -> dict[str, Any] | None:
    """The prediction record in `value` if it answers `request_id` (its UUID is the key)."""
    if isinstance(value, bytes):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) and value.get("UUID") == request_id else None


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
