"""The flight's day in the schedule: how the aircraft's earlier legs of the day have gone, and how
the flights on its route and to its destination that landed shortly before it leaves have fared,
and how long its schedule allows against its route's usual block. `tail_rotation` builds that per
flight of the schedule (Carrier, FlightNum, FlightDate, Origin); `RotationLookup`, a model stage,
reads the table when it scores, in training and serving alike, so a request (which carries the
carrier and flight number, not the tail) finds its aircraft through the schedule. Training hides a
share of rows so that a request without a flight number, or a flight the schedule lacks, degrades
gracefully.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from flightdelay.arrivals import LakeLookup, scheduled_in_utc

HIDDEN_COLUMN = "RotationHidden"
UNKNOWN = -999.0  # the forest cannot split on null or NaN
KEY = ["Carrier", "FlightNum", "FlightDate", "Origin"]
# Landings before a flight's scheduled departure that its landing features read (minutes): on its
# route, and at its destination from any origin (the wind aloft and the destination's queue that day).
LANDING_WINDOWS = {"Route": 240, "Dest": 180}
# A flight that left early counts only the landings more than this many minutes before its
# scheduled departure: its minutes early rounded up to the next of these (beyond the last, none).
# Fixed cut-offs keep the lookup to array indexing: a lambda over the landings doubled the fit.
LANDING_CUTOFFS = (0, 10, 30, 60)
# Per flight of the schedule: its tail (null if the source has none), and for each of the tail's
# legs scheduled earlier that day (in schedule order) the minutes from that leg's actual departure
# to this flight's scheduled one and that leg's DepDelay; the scheduled turn (minutes from the
# previous leg's scheduled arrival to this scheduled departure; null for the day's first leg); the
# scheduled block (minutes from the scheduled departure to the scheduled arrival) and its route's
# mean block over the whole schedule (a timetable is published ahead: no outcome is read); per
# LANDING_WINDOWS entry and per LANDING_CUTOFFS entry c, how many flights landed in the window
# before this scheduled departure and more than c minutes before it, and their total slack
# ArrDelay - DepDelay.
TABLE_SCHEMA = T.StructType([
    *(T.StructField(c, T.DateType() if c == "FlightDate" else T.StringType()) for c in KEY),
    T.StructField("TailNum", T.StringType()),
    T.StructField("EarlierLeft", T.ArrayType(T.IntegerType())),
    T.StructField("EarlierDelay", T.ArrayType(T.FloatType())),
    T.StructField("TurnMinutes", T.FloatType()),
    T.StructField("BlockMinutes", T.FloatType()),
    T.StructField("RouteBlockMinutes", T.FloatType()),
    *(T.StructField(f"{where}{kind}", T.ArrayType(T.IntegerType() if kind == "LandedCounts" else T.FloatType()))
      for where in LANDING_WINDOWS for kind in ("LandedCounts", "LandedSlackSums")),
])
# What RotationLookup adds (also listed in features.ROTATION_COLUMNS, importable without pyspark).
COLUMNS = ["TailEarlierCount", "TailPrevDepDelay", "TailFirstFlight", "TailTurnMinutes",
           *(f"{where}Landed{kind}" for where in LANDING_WINDOWS for kind in ("Slack", "Count")),
           "ScheduledBlockMinutes", "BlockPadMinutes"]


def flight_number(column):
    """A flight number as the table keys it: a string, trimmed, without leading zeros ("012" is
    flight 12), so a request's spelling finds the schedule's."""
    return F.regexp_replace(F.trim(column.cast("string")), "^0+", "")


def tail_rotation(flights: DataFrame, airports: DataFrame) -> DataFrame:
    """Canonical flights (TailNum, null where unknown; CRSDepTime local at the origin, CRSArrTime
    local at the destination) and airports (faa, tzone) -> TABLE_SCHEMA rows, one per flight with
    a flight number and a scheduled departure.

    Instants are compared in UTC (the legs of a day cross time zones); a flight whose airports
    have no time zone is left out. The "day" is the flight date of the schedule. Run with the
    session time zone UTC (build_features sets it).
    """
    scheduled, departure, arrival = scheduled_in_utc(
        flights.where("CRSDepTime IS NOT NULL AND FlightNum IS NOT NULL"), airports)

    def minutes(instant):
        return (F.unix_timestamp(instant) / 60).cast("long")

    scheduled = (scheduled.withColumn("FlightNum", flight_number(F.col("FlightNum"))).dropDuplicates(KEY)
                 .select(*KEY, "Dest", "TailNum", minutes(departure).alias("dep"), minutes(arrival).alias("arr"),
                         F.col("DepDelay").cast("float").alias("delay"),
                         F.col("ArrDelay").cast("float").alias("arr_delay")))
    route_block = scheduled.groupBy("Origin", "Dest").agg(
        F.avg(F.col("arr") - F.col("dep")).cast("float").alias("RouteBlockMinutes"))
    scheduled = scheduled.join(F.broadcast(route_block), ["Origin", "Dest"])
    legs = scheduled.drop("Dest", "arr_delay")
    # Each flight beside every earlier leg of its tail that day: a few legs per tail and day.
    earlier = legs.select(F.col("TailNum").alias("e_tail"), F.col("FlightDate").alias("e_date"),
                          F.col("dep").alias("e_dep"), F.col("arr").alias("e_arr"), F.col("delay").alias("e_delay"))
    paired = legs.join(earlier, (F.col("TailNum") == F.col("e_tail")) & (F.col("FlightDate") == F.col("e_date"))
                       & (F.col("e_dep") < F.col("dep")), "left")
    legs_before = F.sort_array(F.collect_list(F.when(F.col("e_dep").isNotNull(), F.struct(
        "e_dep", (F.col("dep") - F.col("e_dep") - F.coalesce(F.col("e_delay"), F.lit(0.0))).cast("int").alias("left"),
        "e_delay", "e_arr")))).alias("legs")
    grouped = paired.groupBy(*KEY, "TailNum", "dep", "arr", "RouteBlockMinutes").agg(legs_before)
    last_arrival = F.element_at(F.col("legs"), -1)["e_arr"]
    rotation = grouped.select(
        *KEY, "TailNum",
        F.col("legs.left").alias("EarlierLeft"),
        F.col("legs.e_delay").cast("array<float>").alias("EarlierDelay"),
        F.when(F.size("legs") > 0, (F.col("dep") - last_arrival).cast("float")).alias("TurnMinutes"),
        (F.col("arr") - F.col("dep")).cast("float").alias("BlockMinutes"), "RouteBlockMinutes")
    rotation = rotation.join(_landed_before(scheduled), KEY, "left")
    # A flight that saw no landing gets zeros (its landings are known: none).
    none = {"LandedCounts": F.array(*[F.lit(0)] * len(LANDING_CUTOFFS)),
            "LandedSlackSums": F.array(*[F.lit(0.0).cast("float")] * len(LANDING_CUTOFFS))}
    filled = {f"{where}{kind}": F.coalesce(F.col(f"{where}{kind}"), zeros)
              for where in LANDING_WINDOWS for kind, zeros in none.items()}
    return rotation.select(*[filled.get(f.name, F.col(f.name)).alias(f.name) for f in TABLE_SCHEMA.fields])


def _landed_before(scheduled: DataFrame) -> DataFrame:
    """Per flight of `scheduled` (KEY, Dest; dep, arr in UTC minutes; delay, arr_delay) that saw
    any, per LANDING_WINDOWS entry: `{where}LandedCounts` and `{where}LandedSlackSums`
    (TABLE_SCHEMA) of the flights that landed at its destination from any origin ("Dest") or on
    its route ("Route": from its origin) in the window before its scheduled departure. One join,
    by destination and hour of landing over the longest window: a flight meets only those hours."""
    at = F.col("arr") + F.col("arr_delay")
    landed = scheduled.where("delay IS NOT NULL AND arr_delay IS NOT NULL").select(
        F.col("Origin").alias("from"), "Dest", F.floor(at / 60).alias("hour"), at.alias("at"),
        (F.col("arr_delay") - F.col("delay")).alias("slack"))
    longest = max(LANDING_WINDOWS.values())
    hours = F.explode(F.sequence(F.floor((F.col("dep") - longest) / 60), F.floor(F.col("dep") / 60)))
    probe = scheduled.select(*KEY, "Dest", "dep", hours.alias("hour"))
    pairs = probe.join(landed, ["Dest", "hour"]).where((F.col("at") < F.col("dep"))
                                                       & (F.col("at") >= F.col("dep") - longest))
    before = F.col("dep") - F.col("at")
    aggregates = []
    for where, window in LANDING_WINDOWS.items():
        inside = (before <= window) & ((F.col("from") == F.col("Origin")) if where == "Route" else F.lit(True))
        counted = [inside & (before > cutoff) for cutoff in LANDING_CUTOFFS]
        aggregates += [F.array(*[F.count(F.when(c, 1)).cast("int") for c in counted]).alias(f"{where}LandedCounts"),
                       F.array(*[F.coalesce(F.sum(F.when(c, F.col("slack"))), F.lit(0.0)).cast("float")
                                 for c in counted]).alias(f"{where}LandedSlackSums")]
    return pairs.groupBy(*KEY).agg(*aggregates)


def _minutes_early(dep_delay):
    """How many minutes before its scheduled departure a flight left (0 if on time or late): it
    left at the earlier of its scheduled and its actual departure, as the arrivals feature reads it."""
    return F.greatest(-F.coalesce(dep_delay, F.lit(0.0)), F.lit(0.0))


def rotation_features(left, delays, turn, dep_delay, known):
    """features.ROTATION_COLUMNS from a flight's EarlierLeft and EarlierDelay arrays, its
    TurnMinutes, its DepDelay and whether the rotation is known (boolean).

    A leg counts once it had left when this flight left: this flight leaves at the earlier of its
    scheduled and its actual departure (as the arrivals feature reads it), so a leg counts if it
    left more than max(0, -DepDelay) minutes before this flight's scheduled departure.
    """
    cutoff = _minutes_early(dep_delay)
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


def landing_features(where, counts, sums, dep_delay, known):
    """`{where}LandedSlack` (mean, UNKNOWN if none) and `{where}LandedCount` from a flight's
    `{where}LandedCounts` and `{where}LandedSlackSums` (TABLE_SCHEMA): the landings that had
    happened when it left, the earlier of its scheduled and actual departure, at the first of
    LANDING_CUTOFFS not below its minutes early (none if it left earlier than the last)."""
    early = _minutes_early(dep_delay)
    index = F.lit(None).cast("int")
    for position, cutoff in reversed(list(enumerate(LANDING_CUTOFFS, start=1))):
        index = F.when(early <= cutoff, F.lit(position)).otherwise(index)
    count = F.coalesce(F.element_at(counts, index), F.lit(0))
    return [F.when(known & (count > 0), F.element_at(sums, index).cast("double") / count)
            .otherwise(F.lit(UNKNOWN)).alias(f"{where}LandedSlack"),
            F.when(known, count.cast("double")).otherwise(F.lit(0.0)).alias(f"{where}LandedCount")]


class RotationLookup(LakeLookup):
    """Adds features.ROTATION_COLUMNS from the rotation table at `path`."""

    SCHEMA, FEATURE, HIDDEN = TABLE_SCHEMA, "the flight's day", HIDDEN_COLUMN

    def _transform(self, dataset: DataFrame) -> DataFrame:
        renamed = {"FlightNum": "_flight", "TailNum": "_tail", "EarlierLeft": "_left", "EarlierDelay": "_delay",
                   "TurnMinutes": "_turn", "BlockMinutes": "_block", "RouteBlockMinutes": "_route_block",
                   **{f"{where}{kind}": f"_{where}{kind}" for where in LANDING_WINDOWS
                      for kind in ("LandedCounts", "LandedSlackSums")}}
        table = self.table(dataset.sparkSession)
        # The table keys flight numbers by flight_number (at build); the request's is put the same way.
        probe = dataset.withColumn("_flight", flight_number(F.col("FlightNum")))
        joined = probe.join(F.broadcast(table.withColumnsRenamed(renamed)),
                            [*[c for c in KEY if c != "FlightNum"], "_flight"], "left")
        scheduled = self.known(dataset, F.col("_left").isNotNull())  # the flight is in the schedule
        landings = [column for where in LANDING_WINDOWS for column in landing_features(
            where, F.col(f"_{where}LandedCounts"), F.col(f"_{where}LandedSlackSums"), F.col("DepDelay"), scheduled)]
        return joined.select(*dataset.columns,
                             *rotation_features(F.col("_left"), F.col("_delay"), F.col("_turn"), F.col("DepDelay"),
                                                self.known(dataset, F.col("_tail").isNotNull())),
                             *landings,
                             F.when(scheduled & F.col("_block").isNotNull(), F.col("_block").cast("double"))
                             .otherwise(F.lit(UNKNOWN)).alias("ScheduledBlockMinutes"),
                             # The schedule's padding against its route; 0 (none) when unknown, so
                             # that features.EXPECTED_SQL's padded sum falls back to the plain one.
                             F.coalesce(F.when(scheduled, (F.col("_block") - F.col("_route_block")).cast("double")),
                                        F.lit(0.0)).alias("BlockPadMinutes"))
