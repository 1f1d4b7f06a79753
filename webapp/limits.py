"""Per-client limits of the web app, kept per server process: a token bucket for
POST /api/predictions (429 when empty) and a count of open WebSockets. A client is its peer
address plus its session cookie; the address alone gets ADDRESS_FACTOR times a client's share,
so that dropping the cookie or minting new sessions does not lift the limit."""
from __future__ import annotations

import secrets
import threading
import time

from flask import request, session

ADDRESS_FACTOR = 10


def client_keys() -> tuple[str, str]:
    """(client, address) keys of the current request; gives the session a client id if it has none."""
    if "client" not in session:
        session["client"] = secrets.token_urlsafe(12)
    address = request.remote_addr or "?"
    return f"{address}/{session['client']}", address


class RateLimiter:
    """Token buckets by key: `per_minute` requests a minute on average, bursts up to `burst`."""

    def __init__(self, per_minute: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate, self.burst, self.max_keys = per_minute / 60.0, burst, max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, scale: float = 1.0) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst * scale, now))
            tokens = min(self.burst * scale, tokens + (now - at) * self.rate * scale)
            allowed = tokens >= 1
            self._buckets[key] = (tokens - 1 if allowed else tokens, now)
            if len(self._buckets) > self.max_keys:  # forget the key seen first (insertion order)
                self._buckets.pop(next(iter(self._buckets)))
            return allowed


class SocketCounter:
    """Open WebSockets by key, at most `limit` each."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, scale: int = 1) -> bool:
        with self._lock:
            if self._open.get(key, 0) >= self.limit * scale:
                return False
            self._open[key] = self._open.get(key, 0) + 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            left = self._open.get(key, 1) - 1
            if left > 0:
                self._open[key] = left
            else:
                self._open.pop(key, None)
