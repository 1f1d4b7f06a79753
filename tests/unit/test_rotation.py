"""The flight's day on a local SparkSession: the aircraft's legs across time zones, the legs that
had left before a flight (early and late departures), the day's first leg, the scheduled turn,
the landings on its route and at its destination before it left, the schedule's padding against
its route, and a request the schedule does not know (no flight number, unknown flight, hidden row)."""
from __future__ import annotations

import datetime as dt

import pytest

from flightdelay import arrivals, rotation

ZONES = [("JFK", "America/New_York"), ("ORD", "America/Chicago"), ("LAX", "America/Los_Angeles")]
FLIGHT = ("FlightDate DATE, Carrier STRING, FlightNum STRING, Origin STRING, Dest STRING, TailNum STRING, "
          "CRSDepTime TIMESTAMP, CRSArrTime TIMESTAMP, DepDelay DOUBLE, ArrDelay DOUBLE")
DAY = dt.date(2013, 3, 1)  # New York UTC-5, Chicago UTC-6


def _at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2013, 3, 1, hour, minute)


@pytest.fixture
def path(local_spark, tmp_path):
    flights = [
        # N1: 06:00 New York (11:00 UTC), left 11:20; due 07:30 Chicago (13:30 UTC), landed 14:00 UTC
        (DAY, "AA", "10", "JFK", "ORD", "N1", _at(6), _at(7, 30), 20.0, 30.0),
        # N1: 09:00 Chicago (15:00 UTC), left 15:45; due 12:00 New York (17:00 UTC)
        (DAY, "AA", "11", "ORD", "JFK", "N1", _at(9), _at(12), 45.0, 40.0),
        # N1: 13:00 New York (18:00 UTC)
        (DAY, "AA", "12", "JFK", "LAX", "N1", _at(13), _at(16), 5.0, 0.0),
        # another aircraft (left 2 h late, landed 16:35 UTC, slack 5), and a flight with no tail (landed
        # 15:40, slack 10)
        (DAY, "AA", "20", "JFK", "ORD", "N2", _at(7), _at(8, 30), 120.0, 125.0),
        (DAY, "AA", "30", "JFK", "ORD", None, _at(8), _at(9, 30), 0.0, 10.0),
        # to Chicago from Los Angeles: 05:00 there (13:00 UTC), landed 10:55 Chicago (16:55 UTC), slack 15
        (DAY, "UA", "40", "LAX", "ORD", "N4", _at(5), _at(10, 30), 10.0, 25.0),
        # no tail, 12:00 New York (17:00 UTC): 3 landings on its route in the 4 h before, 4 in Chicago in 3 h
        (DAY, "AA", "50", "JFK", "ORD", None, _at(12), _at(13, 30), 0.0, 0.0),
        # the evening's JFK-ORD is scheduled 190 min, 40 more than the others: the route's mean is 158
        (DAY, "AA", "60", "JFK", "ORD", None, _at(14), _at(16, 10), 0.0, 0.0),
    ]
    frame = local_spark.createDataFrame(flights, FLIGHT)
    airports = local_spark.createDataFrame(ZONES, "faa STRING, tzone STRING")
    location = f"file://{tmp_path}/rotation"
    arrivals.write_table(rotation.tail_rotation(frame, airports), location)
    return location


def test_the_table_holds_each_legs_earlier_legs_in_utc(local_spark, path):
    rows = {r.FlightNum: r for r in local_spark.read.parquet(arrivals.latest_version(local_spark, path)).collect()}
    assert set(rows) == {"10", "11", "12", "20", "30", "40", "50", "60"}  # every scheduled flight, with a tail or not
    assert (rows["10"].EarlierLeft, rows["10"].TurnMinutes) == ([], None)
    assert (rows["30"].TailNum, rows["30"].EarlierLeft) == (None, [])
    # leg 11 leaves 15:00 UTC: leg 10 left 11:20 UTC (220 min before) and landed 13:30 (turn 90)
    assert (rows["11"].EarlierLeft, rows["11"].EarlierDelay, rows["11"].TurnMinutes) == ([220], [20.0], 90.0)
    # leg 12 leaves 18:00 UTC: legs left 11:20 and 15:45; the previous landed 17:00 (turn 60)
    assert (rows["12"].EarlierLeft, rows["12"].EarlierDelay, rows["12"].TurnMinutes) == ([400, 135], [20.0, 45.0],
                                                                                        60.0)
    assert rows["12"].TailNum == "N1"
    # the scheduled block, across time zones: 18:00 to 00:00 UTC, and 15:00 to 17:00 UTC
    assert (rows["12"].BlockMinutes, rows["11"].BlockMinutes) == (360.0, 120.0)
    # the route's mean block over the schedule: JFK-ORD 150 four times and 190 once; JFK-LAX alone
    assert (rows["50"].RouteBlockMinutes, rows["60"].RouteBlockMinutes, rows["12"].RouteBlockMinutes) == (
        158.0, 158.0, 360.0)


def _request(flight_num, dep_delay, origin="JFK", hidden=None):
    return (DAY, "AA", flight_num, origin, dep_delay, hidden)


def _score(local_spark, path, requests):
    frame = local_spark.createDataFrame(
        requests, f"FlightDate DATE, Carrier STRING, FlightNum STRING, Origin STRING, DepDelay DOUBLE, "
                  f"{rotation.HIDDEN_COLUMN} BOOLEAN")
    out = rotation.RotationLookup(path=path).transform(frame)
    assert out.count() == len(requests)  # one row per request, never more
    return [tuple(r[c] for c in rotation.COLUMNS) for r in out.collect()]


TAIL, LANDINGS, BLOCK, PAD = slice(0, 4), slice(4, 8), 8, 9


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
    assert [row[TAIL] for row in scored] == [
        (2.0, 45.0, 0.0, 60.0),
        (2.0, 45.0, 0.0, 60.0),
        (1.0, 20.0, 0.0, 60.0),
        (0.0, rotation.UNKNOWN, 1.0, rotation.UNKNOWN),
        unknown, unknown, unknown, unknown,
    ]


def test_the_table_holds_the_landings_before_each_departure(local_spark, path):
    rows = {r.FlightNum: r for r in local_spark.read.parquet(arrivals.latest_version(local_spark, path)).collect()}
    assert rotation.LANDING_CUTOFFS == (0, 10, 30, 60)
    # flight 50 leaves 17:00 UTC: on its route, landings 180 (inside the 4 h), 80 and 25 min before
    assert (rows["50"].RouteLandedCounts, rows["50"].RouteLandedSlackSums) == ([3, 3, 2, 2], [25.0, 25.0, 20.0, 20.0])
    # in Chicago within 3 h, also the flight from Los Angeles 5 min before; not flight 11 (leaves Chicago)
    assert (rows["50"].DestLandedCounts, rows["50"].DestLandedSlackSums) == ([4, 3, 2, 2], [40.0, 25.0, 20.0, 20.0])
    assert (rows["10"].RouteLandedCounts, rows["10"].DestLandedCounts) == ([0] * 4, [0] * 4)  # the morning's first


def test_only_landings_before_the_flight_left_count(local_spark, path):
    none = (rotation.UNKNOWN, 0.0, rotation.UNKNOWN, 0.0)
    scored = _score(local_spark, path, [
        _request("50", 0.0),          # all: route (10 + 5 + 10) / 3, Chicago (15 + 5 + 10 + 10) / 4
        _request("50", 30.0),         # a late departure: the landings before its schedule, the same
        _request("50", -5.0),         # left 5 min early: those more than 10 min before (not Los Angeles's)
        _request("50", -45.0),        # 45 min early: those more than 60 min before
        _request("50", -100.0),       # earlier than the last cut-off: none
        _request("10", 0.0),          # the morning's first: none landed yet
        _request("99", 0.0),          # a flight the schedule does not have
        _request("50", 0.0, hidden=True),  # training hides it
    ])
    assert [row[LANDINGS] for row in scored] == [
        pytest.approx((25 / 3, 3.0, 10.0, 4.0)), pytest.approx((25 / 3, 3.0, 10.0, 4.0)),
        pytest.approx((25 / 3, 3.0, 25 / 3, 3.0)), (10.0, 2.0, 10.0, 2.0),
        none, none, none, none]
    # flight 50 has no tail: the aircraft's day is unknown, its landings and its block are not
    assert scored[0][TAIL] == (0.0, rotation.UNKNOWN, -1.0, rotation.UNKNOWN)
    assert [row[BLOCK] for row in scored] == [150.0] * 6 + [rotation.UNKNOWN, rotation.UNKNOWN]
    # the padding against the route's mean block; none (0) where the schedule is not read
    assert [row[PAD] for row in scored] == [-8.0] * 6 + [0.0, 0.0]


def test_the_padding_is_the_block_less_the_routes_mean(local_spark, path):
    scored = _score(local_spark, path, [_request("60", 0.0), _request("12", 0.0), _request(None, 0.0)])
    assert [row[PAD] for row in scored] == [32.0, 0.0, 0.0]


def test_no_table_means_unknown(local_spark, tmp_path):
    scored = _score(local_spark, f"file://{tmp_path}/none", [_request("12", 0.0)])
    assert scored == [(0.0, rotation.UNKNOWN, -1.0, rotation.UNKNOWN, rotation.UNKNOWN, 0.0, rotation.UNKNOWN, 0.0,
                       rotation.UNKNOWN, 0.0)]
