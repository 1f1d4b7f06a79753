"""The single use of a reserved UUID, shared by every server process and kept across restarts: a
unique insert in MongoDB (the key is the UUID), so a second claim, from any process, fails."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

COLLECTION = "reserved_uuid_claims"
PRUNE_EVERY_S = 600


class MongoClaims:
    """claims(request_id) -> True the first time only. Claims older than twice the reservation's
    lifetime are pruned now and then: their UUIDs have expired and are refused before this."""

    def __init__(self, collection, reservation_s: float) -> None:
        self.collection, self.reservation_s = collection, reservation_s
        self._pruned = 0.0
        self._lock = threading.Lock()

    def __call__(self, request_id: str) -> bool:
        from pymongo.errors import DuplicateKeyError

        self._prune()
        try:
            self.collection.insert_one({"_id": request_id, "at": datetime.now(timezone.utc)})
        except DuplicateKeyError:
            return False
        return True

    def _prune(self) -> None:
        with self._lock:
            if time.monotonic() - self._pruned < PRUNE_EVERY_S:
                return
            self._pruned = time.monotonic()
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=2 * self.reservation_s)
        self.collection.delete_many({"at": {"$lt": cutoff}})
