"""The model served: the registered model's alias, re-resolved every poll; a new version is loaded
and checked on a sample request while the old one keeps serving. A version that cannot load or
score is tagged `rejected_reason` and never stops serving; at a (re)start the version loaded last
serves if the alias's cannot."""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from typing import Callable

from pyspark.sql import DataFrame, SparkSession

from flightdelay.config import NAMES
from flightdelay.stream.respond import python_contract, scored_requests

log = logging.getLogger("prediction_stream")

SAMPLE_REQUEST = {"UUID": "00000000-0000-4000-8000-000000000000", "Origin": "JFK", "Dest": "LAX", "Carrier": "AA",
                  "FlightDate": "2013-06-01", "DepDelay": 5, "FlightNum": "1", "CRSDepTime": "09:00",
                  "ReceivedAt": "2013-06-01T08:00:00.000Z"}


class Champion:
    """`alias` of the registered model `name`, polled at most every `poll_seconds`.
    loader(client, name, version) returns the version's PipelineModel; check(model, version)
    raises if it cannot score."""

    LAST_LOADED_TAG = "stream_last_loaded_version"

    def __init__(self, name: str, alias: str, poll_seconds: float, loader: Callable,
                 check: Callable | None = None) -> None:
        from mlflow import MlflowClient

        self.name, self.alias, self.poll_seconds = name, alias, poll_seconds
        self.loader, self.check = loader, check
        self.client = MlflowClient()
        self.version: str | None = None
        self.model = None
        self.checked = 0.0
        self.rejected: set[str] = set()

    def resolve(self) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version_by_alias(self.name, self.alias).version
        except MlflowException:
            return None

    def last_loaded(self) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_registered_model(self.name).tags.get(self.LAST_LOADED_TAG)
        except MlflowException:
            return None

    def wait(self, timeout: float) -> None:
        """Block until a model is loaded: the alias's version, else the version loaded last."""
        deadline = time.monotonic() + timeout
        while not self.poll(force=True) and self.model is None:
            fallback = self.last_loaded()
            if fallback and fallback not in self.rejected and self.load(fallback):
                log.error("serving %s version %s, the version loaded last: %s@%s (version %s) cannot be loaded",
                          self.name, fallback, self.name, self.alias, self.resolve())
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"no loadable version of {self.name}: alias {self.alias} (version "
                                 f"{self.resolve()}), last loaded {fallback}, rejected {sorted(self.rejected)}")
            log.warning("waiting for a loadable %s@%s", self.name, self.alias)
            time.sleep(10)

    def poll(self, force: bool = False) -> bool:
        """Re-resolve the alias (at most every poll_seconds); True if a new version was loaded."""
        if not force and time.monotonic() - self.checked < self.poll_seconds:
            return False
        self.checked = time.monotonic()
        version = self.resolve()
        if version is None or version == self.version or version in self.rejected:
            return False
        return self.load(version)

    def load(self, version: str) -> bool:
        """Load `version`; on failure tag it rejected_reason, log why and keep what is served."""
        started = time.monotonic()
        try:
            model = self.loader(self.client, self.name, version)
            if self.check is not None:
                self.check(model, version)
        except Exception as exc:  # a broken artifact must not stop serving
            self.rejected.add(version)
            reason = f"{type(exc).__name__}: {str(exc)[:500]}"
            log.error("%s version %s cannot be loaded, still serving version %s: %s", self.name, version,
                      self.version, reason)
            try:
                self.client.set_model_version_tag(self.name, version, "rejected_reason", reason)
            except Exception as tag_error:  # the registry down: the log line above says it all
                log.error("could not tag %s version %s: %s", self.name, version, tag_error)
            return False
        log.warning("loaded %s version %s (serving %s until the swap; load took %.1f s)", self.name, version,
                    self.version, time.monotonic() - started)
        self.model, self.version = model, version
        try:
            self.client.set_registered_model_tag(self.name, self.LAST_LOADED_TAG, version)
        except Exception as exc:
            log.error("could not record %s version %s as loaded: %s", self.name, version, exc)
        return True


def check_model(spark: SparkSession, model, version: str, airports: DataFrame, check=python_contract) -> None:
    """Score one sample request through the respond path's validator (`check`) before a model
    serves: a version that loads but cannot score is refused like one that cannot load."""
    sample = spark.createDataFrame([(json.dumps(SAMPLE_REQUEST).encode(), NAMES.request_topic, 0, -1,
                                     datetime.now(timezone.utc))],
                                   "value binary, topic string, partition int, offset bigint, timestamp timestamp")
    row = scored_requests(sample, model, version, airports, check=check).first()
    if row is None or row.prediction is None or row.r.error is not None:
        raise ValueError(f"version {version} gave no prediction for a sample request: {row}")


def cache_lookup_tables(spark: SparkSession, model, cached: list[DataFrame]) -> list[DataFrame]:
    """Keep the lake tables `model`'s lookup stages read in memory, and release `cached` (the ones
    kept for the model served before). A real-time batch plans its broadcast joins afresh at every
    checkpoint, and requests wait meanwhile: from memory the tables' read and decode drop out of
    that wait. The stages' own reads find the cache (same plan); returns what is now cached."""
    from flightdelay.arrivals import LakeLookup

    for table in cached:
        table.unpersist()
    lookups = [stage for stage in model.stages if isinstance(stage, LakeLookup)]
    tables = [stage.table(spark).cache() for stage in lookups]
    started = time.monotonic()
    try:
        rows = [table.count() for table in tables]
    except Exception as exc:  # a speed-up only: the stages read the lake themselves without it
        log.error("lookup tables not cached (%s: %s); each checkpoint reads them from the lake",
                  type(exc).__name__, str(exc)[:300])
        for table in tables:
            table.unpersist()
        return []
    log.warning("lookup tables cached in memory: %s rows (%.1f s)", rows, time.monotonic() - started)
    return tables
