"""The arrivals feed on a local SparkSession: landing instants across time zones, daylight saving
and midnight; the windows before departure; unknown days, missing departure times, hidden rows."""
from __future__ import annotations

import datetime as dt

import pytest

from flightdelay import arrivals

ZONES = [("JFK", "America/New_York"), ("LAX", "America/Los_Angeles"), ("ORD", "America/Chicago"),
         ("PHX", "America/Phoenix"), ("XXX", None)]
FLIGHT = ("FlightDate DATE, Origin STRING, Dest STRING, CRSDepTime TIMESTAMP, CRSArrTime TIMESTAMP, "
          "DepDelay DOUBLE, ArrDelay DOUBLE")


def _at(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2013, month, day, hour, minute)


@pytest.fixture
def table(local_spark):
    flights = [
        # 08:00 New York -> 11:00 Los Angeles = 14:00 New York, landed 10 min late: 14:10, slack 5
        (dt.date(2013, 3, 1), "JFK", "LAX", _at(1, 8), _at(1, 11), 5.0, 10.0),
        # red-eye: 22:00 -> 01:00 Los Angeles the next day = 04:00 New York on the 2nd, slack 0
        (dt.date(2013, 3, 1), "JFK", "LAX", _at(1, 22), _at(1, 1), 0.0, 0.0),
        # 21:00 -> 22:30 Chicago = 23:30 New York + 20 = 23:50 (also counts on the 2nd as -00:10)
        (dt.date(2013, 3, 1), "JFK", "ORD", _at(1, 21), _at(1, 22, 30), 30.0, 20.0),
        # Phoenix keeps standard time: 10:00 there is 12:00 New York before 10 March, 13:00 after
        (dt.date(2013, 3, 8), "JFK", "PHX", _at(8, 8), _at(8, 10), 0.0, 0.0),
        (dt.date(2013, 3, 11), "JFK", "PHX", _at(11, 8), _at(11, 10), 0.0, 0.0),
        # no time zone for the destination: left out; no ArrDelay: left out
        (dt.date(2013, 3, 1), "JFK", "XXX", _at(1, 9), _at(1, 10), 0.0, 0.0),
        (dt.date(2013, 3, 1), "JFK", "ORD", _at(1, 9), _at(1, 10), 0.0, None),
    ]
    frame = local_spark.createDataFrame(flights, FLIGHT)
    airports = local_spark.createDataFrame(ZONES, "faa STRING, tzone STRING")
    return arrivals.origin_day_arrivals(frame, airports)


def _landed(table) -> dict:
    """(origin, day) -> the (minute, slack) landings the cumulative arrays hold."""
    found = {}
    for r in table.collect():
        assert len(r.LandedCount) == len(r.LandedSlack) == arrivals.SPAN + 1
        found[(r.Origin, r.FlightDate.day)] = [
            (i - arrivals.EVENING, r.LandedSlack[i + 1] - r.LandedSlack[i])
            for i in range(arrivals.SPAN) if r.LandedCount[i + 1] > r.LandedCount[i]]
    return found


def test_landings_on_the_origins_clock(table):
    landed = _landed(table)
    assert landed[("JFK", 1)] == [(14 * 60 + 10, 5.0), (23 * 60 + 50, -10.0)]
    assert landed[("JFK", 2)] == [(-10, -10.0), (4 * 60, 0.0)]   # sorted; the evening before is negative
    assert landed[("JFK", 8)] == [(12 * 60, 0.0)]
    assert landed[("JFK", 11)] == [(13 * 60, 0.0)]               # daylight saving since 10 March
    assert set(landed) == {("JFK", 1), ("JFK", 2), ("JFK", 8), ("JFK", 11)}


REQUEST = "FlightDate DATE, Origin STRING, CRSDepTime TIMESTAMP, DepDelay DOUBLE, Id INT"


def _lookup(local_spark, path, rows, hidden=None):
    frame = local_spark.createDataFrame(rows, REQUEST)
    if hidden is not None:
        frame = frame.withColumn(arrivals.HIDDEN_COLUMN, frame["Id"].isin(hidden))
    out = arrivals.ArrivalsLookup(path=path).transform(frame)
    return {r.Id: (r.Landed60Slack, r.Landed60Count, r.Landed180Slack, r.Landed180Count) for r in out.collect()}


def test_lookup_counts_only_what_landed_before_the_flight_left(local_spark, table, tmp_path):
    path = f"file://{tmp_path}/arrivals"
    arrivals.write_table(table, path)
    found = _lookup(local_spark, path, [
        (dt.date(2013, 3, 1), "JFK", _at(1, 14, 30), 0.0, 1),    # 14:10 landed 20 min before
        (dt.date(2013, 3, 1), "JFK", _at(1, 14, 20), -15.0, 2),  # left early at 14:05: not yet
        (dt.date(2013, 3, 1), "JFK", _at(1, 16, 0), 60.0, 3),    # a late departure counts from 16:00
        (dt.date(2013, 3, 2), "JFK", _at(2, 0, 30), 0.0, 4),     # the evening before counts
        (dt.date(2013, 3, 1), "JFK", None, 0.0, 5),              # no scheduled departure: unknown
        (dt.date(2026, 3, 1), "JFK", _at(1, 14, 30), 0.0, 6),    # a day the feed does not cover
        (dt.date(2013, 3, 1), "JFK", _at(1, 14, 30), 0.0, 7),    # hidden (training)
    ], hidden=[7])
    assert found[1] == (5.0, 1.0, 5.0, 1.0)
    assert found[2] == (-999.0, 0.0, -999.0, 0.0)
    assert found[3] == (-999.0, 0.0, 5.0, 1.0)                   # 14:10 is within 180 min, not 60
    assert found[4] == (-10.0, 1.0, -10.0, 1.0)
    for unknown in (5, 6, 7):
        assert found[unknown] == (-999.0, 0.0, -999.0, 0.0)


def test_no_table_means_unknown_and_versions_are_kept_two_deep(local_spark, table, tmp_path):
    path = f"file://{tmp_path}/arrivals"
    request = [(dt.date(2013, 3, 1), "JFK", _at(1, 14, 30), 0.0, 1)]
    assert _lookup(local_spark, path, request)[1] == (-999.0, 0.0, -999.0, 0.0)
    written = [arrivals.write_table(table, path) for _ in range(3)]
    assert arrivals.latest_version(local_spark, path) == written[-1]
    assert sorted(p.name for p in (tmp_path / "arrivals").iterdir()) == sorted(w.rsplit("/", 1)[1]
                                                                             for w in written[1:])
    assert _lookup(local_spark, path, request)[1] == (5.0, 1.0, 5.0, 1.0)
