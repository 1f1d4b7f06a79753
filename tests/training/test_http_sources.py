"""download_flights with the BTS source, from a local HTTP server, into the real HDFS raw zone:
manifests name the URL and checksum, a re-run skips unchanged months, and a missing month fails
the run with the URL in the message."""
from __future__ import annotations

import json

import pytest
from hdfs import InsecureClient

from flightdelay import lake
from tests.http_files import BTS_ROWS, bts_zip, serve_files
from tests.training.conftest import run_dag


@pytest.fixture(scope="module")
def bts_server():
    feb = BTS_ROWS.assign(FlightDate=["2015-02-02", "2015-02-03"])
    with serve_files({"/bts/2015_1.zip": (bts_zip(BTS_ROWS), None), "/bts/2015_2.zip": (bts_zip(feb), None)}) as url:
        yield url


def test_bts_months_land_in_the_raw_zone_once(platform, bts_server):
    from dags.download_flights import download_flights_dag

    hdfs = InsecureClient(f"http://127.0.0.1:{platform.port('HDFS_HTTP_PORT')}", user="spark")
    for month in ("2015-01", "2015-02"):
        hdfs.delete(lake.partition(lake.RAW, "bts", month), recursive=True)
    template = f"{bts_server}/bts/{{year}}_{{month}}.zip"
    run_dag(download_flights_dag, source="bts", start_month="2015-01", end_month="2015-02", bts_url_template=template)

    manifest_path = f"{lake.partition(lake.RAW, 'bts', '2015-01')}/_manifest.json"
    with hdfs.read(manifest_path, encoding="utf-8") as reader:
        manifest = json.load(reader)
    assert manifest["url"] == f"{bts_server}/bts/2015_1.zip" and manifest["rows"] == 2
    assert manifest["file"] == "flights.zip" and manifest["bytes"] == len(bts_zip(BTS_ROWS))
    written = hdfs.status(manifest_path)["modificationTime"]

    run_dag(download_flights_dag, source="bts", start_month="2015-01", end_month="2015-01", bts_url_template=template)
    assert hdfs.status(manifest_path)["modificationTime"] == written, "an unchanged month was rewritten"

    report = lake.validate_partition(hdfs, "bts", "2015-01", max_bad_fraction=0.0)
    assert (report.rows, report.valid) == (2, 2)


def test_missing_month_fails_with_the_url(platform, bts_server):
    from flightdelay import sources

    hdfs = InsecureClient(f"http://127.0.0.1:{platform.port('HDFS_HTTP_PORT')}", user="spark")
    with pytest.raises(sources.DownloadError, match=r"2015_3\.zip: HTTP 404"):
        lake.download(hdfs, "bts", ["2015-03"], platform.data / "downloads", bts_url_template=f"{bts_server}/bts/{{year}}_{{month}}.zip")
