"""Known airports and carriers (the feature data's reference tables in HDFS), for the form's
suggestions and the server-side check of the codes. Read over WebHDFS and kept for an hour."""
from __future__ import annotations

import csv
import io
import logging
import threading
import time

from hdfs import HdfsError, InsecureClient
from requests import RequestException

from flightdelay import lake

log = logging.getLogger(__name__)


class Reference:
    def __init__(self, webhdfs_url: str, user: str = "spark", ttl: float = 3600) -> None:
        self.client, self.ttl = InsecureClient(webhdfs_url.rstrip("/"), user=user, timeout=10), ttl
        self._lock = threading.Lock()
        self._loaded = 0.0
        self.airports: dict[str, str] = {}
        self.carriers: dict[str, str] = {}

    def _read(self, path: str, key: str) -> dict[str, str]:
        with self.client.read(path, encoding="utf-8") as reader:
            rows = csv.DictReader(io.StringIO(reader.read()))
        return {row[key].strip().upper(): (row.get("name") or "").strip() for row in rows if row.get(key)}

    def load(self) -> "Reference":
        """Refresh when older than ttl; keeps the last good tables if HDFS does not answer."""
        with self._lock:
            if self.airports and time.monotonic() - self._loaded < self.ttl:
                return self
            try:
                self.airports = self._read(lake.AIRPORTS, "faa")
                self.carriers = self._read(lake.CARRIERS, "carrier")
                self._loaded = time.monotonic()
            except (HdfsError, RequestException, KeyError) as exc:
                log.warning("reference tables not readable from HDFS (%s); codes are checked by format only", exc)
        return self
