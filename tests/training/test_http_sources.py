"""download_flights with the BTS source, from a local HTTP server, into the real HDFS raw zone:
manifests name the URL and checksum, a re-run skips unchanged months, and a missing month fails
the run with the URL in the message."""
from __future__ import annotations

import json

import pytest

from flightdelay import lake
from tests.http_files import BTS_ROWS, bts_zip, serve_files
from tests.training.conftest import run_dag


@pytest.fixture(scope="module")
def bts_server():
    feb = BTS_ROWS.assign(FlightDate=["2015-02-02", "2015-02-03"])
    with serve_files({"/bts/2015_1.zip": (bts_zip(BTS_ROWS), None), "/bts/2015_2.zip": (bts_zip(feb), None)}) as url:
        yield url


def test_bts_months_land_in_the_raw_zone_once(webhdfs, bts_server):
    from dags.download_flights import download_flights_dag

    for month in ("2015-01", "2015-02"):
        webhdfs.delete(lake.partition(lake.RAW, "bts", month), recursive=True)
    template = f"{bts_server}/bts/{{year}}_{{month}}.zip"
    run_dag(download_flights_dag, source="bts", start_month="2015-01", end_month="2015-02", bts_url_template=template)

    manifest_path = f"{lake.partition(lake.RAW, 'bts', '2015-01')}/_manifest.json"
    with webhdfs.read(manifest_path, encoding="utf-8") as reader:
        manifest = json.load(reader)
    assert manifest["url"] == f"{bts_server}/bts/2015_1.zip" and manifest["rows"] == 2
    assert manifest["file"] == "flights.zip" and manifest["bytes"] == len(bts_zip(BTS_ROWS))
    written = webhdfs.status(manifest_path)["modificationTime"]

    run_dag(download_flights_dag, source="bts", start_month="2015-01", end_month="2015-01", bts_url_template=template)
    assert webhdfs.status(manifest_path)["modificationTime"] == written, "an unchanged month was rewritten"

    report = lake.validate_partition(webhdfs, "bts", "2015-01", max_bad_fraction=0.0)
    assert (report.rows, report.valid) == (2, 2)


def test_missing_month_fails_with_the_url(platform, webhdfs, bts_server):
    from flightdelay import sources

    with pytest.raises(sources.DownloadError, match=r"2015_3\.zip: HTTP 404"):
        lake.download(webhdfs, "bts", ["2015-03"], platform.data / "downloads",
                      bts_url_template=f"{bts_server}/bts/{{year}}_{{month}}.zip")


def test_agile_file_is_split_into_month_partitions(webhdfs):
    """The Agile Data Science file (one bz2 JSONL for the whole year) lands as one partition per month."""
    import bz2

    from dags.download_flights import download_flights_dag

    records = [
        {"FlightDate": f"2015-0{m}-0{d}", "Carrier": "AA", "FlightNum": f"{m}{d}", "Origin": "JFK", "Dest": "LAX",
         "CRSDepTime": f"2015-0{m}-0{d}T14:30:00.000-05:00", "DepDelay": 5.0, "ArrDelay": 1.0, "Distance": 2475.0}
        for m in (1, 2) for d in (1, 2, 3)
    ]
    body = bz2.compress("\n".join(json.dumps(r) for r in records).encode())
    for month in ("2015-01", "2015-02"):
        webhdfs.delete(lake.partition(lake.RAW, "agile", month), recursive=True)
    with serve_files({"/agile/simple_flight_delay_features.jsonl.bz2": (body, None)}) as url:
        run_dag(download_flights_dag, source="agile", start_month="2015-01", end_month="2015-02",
                agile_base_url=f"{url}/agile")
    for month in ("2015-01", "2015-02"):
        with webhdfs.read(f"{lake.partition(lake.RAW, 'agile', month)}/_manifest.json", encoding="utf-8") as reader:
            manifest = json.load(reader)
        assert manifest["rows"] == 3 and manifest["url"].endswith("/agile/simple_flight_delay_features.jsonl.bz2")
    report = lake.validate_partition(webhdfs, "agile", "2015-02", max_bad_fraction=0.0)
    assert (report.rows, report.valid) == (3, 3)
