"""The aircraft's own day: how the tail's earlier legs of the day have gone when this flight
leaves. `tail_rotation` builds, per flight of the schedule (Carrier, FlightNum, FlightDate,
Origin), the tail's legs scheduled before it; `RotationLookup`, a model stage, reads that table
when it scores, in training and serving alike, so a request (which carries the carrier and flight
number, not the tail) finds its aircraft through the schedule. Training hides a share of rows so
that a request without a flight number, or a flight the schedule lacks, degrades gracefully.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from flightdelay.arrivals import LakeLookup, scheduled_in_utc

HIDDEN_COLUMN = "RotationHidden"
UNKNOWN = -999.0  # the forest cannot split on null or NaN
KEY = ["Carrier", "FlightNum", "FlightDate", "Origin"]
# Per flight of the schedule: its tail, and for each of the tail's legs scheduled earlier that day
# (in schedule order) the minutes from that leg's actual departure to this flight's scheduled one
# and that leg's DepDelay; the scheduled turn (minutes from the previous leg's scheduled arrival
# to this scheduled departure; null for the day's first leg).
TABLE_SCHEMA = T.StructType([
    *(T.StructField(c, T.DateType() if c == "FlightDate" else T.StringType()) for c in KEY),
    T.StructField("TailNum", T.StringType()),
    T.StructField("EarlierLeft", T.ArrayType(T.IntegerType())),
    T.StructField("EarlierDelay", T.ArrayType(T.FloatType())),
    T.StructField("TurnMinutes", T.FloatType()),
])
# What RotationLookup adds (also listed in features.ROTATION_COLUMNS, importable without pyspark).
COLUMNS = ["TailEarlierCount", "TailPrevDepDelay", "TailFirstFlight", "TailTurnMinutes"]


def flight_number(column):
    """A flight number as the table keys it: a string, trimmed, without leading zeros ("012" is
    flight 12), so a request's spelling finds the schedule's."""
    return F.regexp_replace(F.trim(column.cast("string")), "^0+", "")


def tail_rotation(flights: DataFrame, airports: DataFrame) -> DataFrame:
    """Canonical flights (with TailNum; CRSDepTime local at the origin, CRSArrTime local at the
    destination) and airports (faa, tzone) -> TABLE_SCHEMA rows, one per flight with a tail.

    Instants are compared in UTC (the legs of a day cross time zones); a leg whose airports have
    no time zone is left out. The "day" is the flight date of the schedule. Run with the session
    time zone UTC (build_features sets it).
    """
    legs, departure, arrival = scheduled_in_utc(
        flights.where("TailNum IS NOT NULL AND CRSDepTime IS NOT NULL AND FlightNum IS NOT NULL"), airports)

    def minutes(instant):
        return (F.unix_timestamp(instant) / 60).cast("long")

    legs = (legs.withColumn("FlightNum", flight_number(F.col("FlightNum"))).dropDuplicates(KEY)
            .select(*KEY, "TailNum", minutes(departure).alias("dep"), minutes(arrival).alias("arr"),
                    F.col("DepDelay").cast("float").alias("delay")))
    # Each flight beside every earlier leg of its tail that day: a few legs per tail and day.
    earlier = legs.select(F.col("TailNum").alias("e_tail"), F.col("FlightDate").alias("e_date"),
                          F.col("dep").alias("e_dep"), F.col("arr").alias("e_arr"), F.col("delay").alias("e_delay"))
    paired = legs.join(earlier, (F.col("TailNum") == F.col("e_tail")) & (F.col("FlightDate") == F.col("e_date"))
                       & (F.col("e_dep") < F.col("dep")), "left")
    legs_before = F.sort_array(F.collect_list(F.when(F.col("e_dep").isNotNull(), F.struct(
        "e_dep", (F.col("dep") - F.col("e_dep") - F.coalesce(F.col("e_delay"), F.lit(0.0))).cast("int").alias("left"),
        "e_delay", "e_arr")))).alias("legs")
    grouped = paired.groupBy(*KEY, "TailNum", "dep").agg(legs_before)
    last_arrival = F.element_at(F.col("legs"), -1)["e_arr"]
    return grouped.select(
        *KEY, "TailNum",
        F.col("legs.left").alias("EarlierLeft"),
        F.col("legs.e_delay").cast("array<float>").alias("EarlierDelay"),
        F.when(F.size("legs") > 0, (F.col("dep") - last_arrival).cast("float")).alias("TurnMinutes"))


def rotation_features(left, delays, turn, dep_delay, known):
    """features.ROTATION_COLUMNS from a flight's EarlierLeft and EarlierDelay arrays, its
    TurnMinutes, its DepDelay and whether the rotation is known (boolean).

    A leg counts once it had left when this flight left: this flight leaves at the earlier of its
    scheduled and its actual departure (as the arrivals feature reads it), so a leg counts if it
    left more than max(0, -DepDelay) minutes before this flight's scheduled departure.
    """
    cutoff = F.greatest(-F.coalesce(dep_delay, F.lit(0.0)), F.lit(0.0))
    departed = F.filter(F.arrays_zip(left.alias("left"), delays.alias("delay")), lambda leg: leg["left"] > cutoff)
    count = F.size(departed)
    last_delay = F.when(count > 0, F.element_at(departed, -1)["delay"].cast("double"))
    first = F.size(left) == 0
    return [
        F.when(known, count.cast("double")).otherwise(F.lit(0.0)).alias("TailEarlierCount"),
        F.when(known & (count > 0), F.coalesce(last_delay, F.lit(UNKNOWN))).otherwise(F.lit(UNKNOWN))
        .alias("TailPrevDepDelay"),
        F.when(known, F.when(first, 1.0).otherwise(0.0)).otherwise(F.lit(-1.0)).alias("TailFirstFlight"),
        F.when(known & turn.isNotNull(), turn.cast("double")).otherwise(F.lit(UNKNOWN)).alias("TailTurnMinutes"),
    ]


class RotationLookup(LakeLookup):
    """Adds features.ROTATION_COLUMNS from the rotation table at `path`."""

    SCHEMA, FEATURE, HIDDEN = TABLE_SCHEMA, "the aircraft's day", HIDDEN_COLUMN

    def _transform(self, dataset: DataFrame) -> DataFrame:
        renamed = {"FlightNum": "_flight", "TailNum": "_tail", "EarlierLeft": "_left", "EarlierDelay": "_delay",
                   "TurnMinutes": "_turn"}
        table = self.table(dataset.sparkSession)
        # The table keys flight numbers by flight_number (at build); the request's is put the same way.
        probe = dataset.withColumn("_flight", flight_number(F.col("FlightNum")))
        joined = probe.join(F.broadcast(table.withColumnsRenamed(renamed)),
                            [*[c for c in KEY if c != "FlightNum"], "_flight"], "left")
        known = self.known(dataset, F.col("_tail").isNotNull())
        return joined.select(*dataset.columns,
                             *rotation_features(F.col("_left"), F.col("_delay"), F.col("_turn"),
                                                F.col("DepDelay"), known))
