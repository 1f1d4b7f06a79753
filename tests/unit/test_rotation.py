"""The aircraft's day on a local SparkSession: legs across time zones, the legs that had left
before a flight (early and late departures), the day's first leg, the scheduled turn, and a
request the schedule does not know (no flight number, unknown flight, hidden row)."""
from __future__ import annotations

import datetime as dt

import pytest

from flightdelay import arrivals, rotation

ZONES = [("JFK", "America/New_York"), ("ORD", "America/Chicago"), ("LAX", "America/Los_Angeles")]
FLIGHT = ("FlightDate DATE, Carrier STRING, FlightNum STRING, Origin STRING, Dest STRING, TailNum STRING, "
          "CRSDepTime TIMESTAMP, CRSArrTime TIMESTAMP, DepDelay DOUBLE")
DAY = dt.date(2013, 3, 1)  # New York UTC-5, Chicago UTC-6


def _at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2013, 3, 1, hour, minute)


@pytest.fixture
def path(local_spark, tmp_path):
    flights = [
        # N1: 06:00 New York (11:00 UTC), left 11:20; lands 07:30 Chicago (13:30 UTC)
        (DAY, "AA", "10", "JFK", "ORD", "N1", _at(6), _at(7, 30), 20.0),
        # N1: 09:00 Chicago (15:00 UTC), left 15:45; lands 12:00 New York (17:00 UTC)
        (DAY, "AA", "11", "ORD", "JFK", "N1", _at(9), _at(12), 45.0),
        # N1: 13:00 New York (18:00 UTC)
        (DAY, "AA", "12", "JFK", "LAX", "N1", _at(13), _at(16), 5.0),
        # another aircraft, and a flight with no tail (left out of the table)
        (DAY, "AA", "20", "JFK", "ORD", "N2", _at(7), _at(8, 30), 0.0),
        (DAY, "AA", "30", "JFK", "ORD", None, _at(8), _at(9, 30), 0.0),
    ]
    frame = local_spark.createDataFrame(flights, FLIGHT)
    airports = local_spark.createDataFrame(ZONES, "faa STRING, tzone STRING")
    location = f"file://{tmp_path}/rotation"
    arrivals.write_table(rotation.tail_rotation(frame, airports), location)
    return location


def test_the_table_holds_each_legs_earlier_legs_in_utc(local_spark, path):
    rows = {r.FlightNum: r for r in local_spark.read.parquet(arrivals.latest_version(local_spark, path)).collect()}
    assert set(rows) == {"10", "11", "12", "20"}
    assert (rows["10"].EarlierLeft, rows["10"].TurnMinutes) == ([], None)
    # leg 11 leaves 15:00 UTC: leg 10 left 11:20 UTC (220 min before) and landed 13:30 (turn 90)
    assert (rows["11"].EarlierLeft, rows["11"].EarlierDelay, rows["11"].TurnMinutes) == ([220], [20.0], 90.0)
    # leg 12 leaves 18:00 UTC: legs left 11:20 and 15:45; the previous landed 17:00 (turn 60)
    assert (rows["12"].EarlierLeft, rows["12"].EarlierDelay, rows["12"].TurnMinutes) == ([400, 135], [20.0, 45.0],
                                                                                        60.0)
    assert rows["12"].TailNum == "N1"


def _request(flight_num, dep_delay, origin="JFK", hidden=None):
    return (DAY, "AA", flight_num, origin, dep_delay, hidden)


def _score(local_spark, path, requests):
    frame = local_spark.createDataFrame(
        requests, f"FlightDate DATE, Carrier STRING, FlightNum STRING, Origin STRING, DepDelay DOUBLE, "
                  f"{rotation.HIDDEN_COLUMN} BOOLEAN")
    out = rotation.RotationLookup(path=path).transform(frame)
    assert out.count() == len(requests)  # one row per request, never more
    return [tuple(r[c] for c in rotation.COLUMNS) for r in out.collect()]


def test_only_legs_that_had_left_count(local_spark, path):
    unknown = (0.0, rotation.UNKNOWN, -1.0, rotation.UNKNOWN)
    scored = _score(local_spark, path, [
        _request("12", 0.0),          # both earlier legs had left: the last one's delay, turn 60
        _request("012", 10.0),        # a late departure leaves at its schedule: the same; "012" is flight 12
        _request("12", -150.0),       # left 150 min early: only the leg that left 400 min before counts
        _request("10", 0.0),          # the aircraft's first leg of the day
        _request(None, 0.0),          # no flight number
        _request("99", 0.0),          # a flight the schedule does not have
        _request("12", 0.0, origin="ORD"),  # flight 12 does not leave from ORD
        _request("12", 0.0, hidden=True),   # training hides it
    ])
    assert scored == [
        (2.0, 45.0, 0.0, 60.0),
        (2.0, 45.0, 0.0, 60.0),
        (1.0, 20.0, 0.0, 60.0),
        (0.0, rotation.UNKNOWN, 1.0, rotation.UNKNOWN),
        unknown, unknown, unknown, unknown,
    ]


def test_no_table_means_unknown(local_spark, tmp_path):
    scored = _score(local_spark, f"file://{tmp_path}/none", [_request("12", 0.0)])
    assert scored == [(0.0, rotation.UNKNOWN, -1.0, rotation.UNKNOWN)]
