"""Feature code shared by training and serving: one canonical record, one derivation.

`canonical_from_request` turns request-shaped rows (what the web form sends) into the canonical
record; `DERIVE_SQL` derives the model's features from it and is the first stage of the saved
PipelineModel, so the stream cannot compute a feature differently from training.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Label buckets of ArrDelay (minutes): early 15+, slightly early, slightly late (0-30), very late.
LABEL_SPLITS = [float("-inf"), -15.0, 0.0, 30.0, float("inf")]
LABEL_NAMES = ["early (15+ min)", "slightly early (0-15 min)", "slightly late (0-30 min)", "very late (30+ min)"]

CATEGORICAL = ["Carrier", "Origin", "Dest", "Route"]
# The improved set drops the Route and Dest indexes (one category per route or airport, thousands
# and hundreds in BTS data, and the forest then needs as many bins): its route, carrier-route and
# destination-hour history encoders and the destination's landings carry them.
IMPROVED_CATEGORICAL = ["Carrier", "Origin"]
SEED_NUMERIC = ["DepDelay", "Distance", "DayOfMonth", "DayOfWeek", "DayOfYear"]
IMPROVED_NUMERIC = SEED_NUMERIC + ["DepHour", "DepMinuteOfDay"]

# The route, as the model derives it (DERIVE_SQL) and as modeling.with_bins_for counts it.
ROUTE_SQL = "concat(Origin, '-', Dest)"

# Derived features, computed inside the model (first pipeline stage). DayOfWeek follows the BTS
# convention Monday=1 .. Sunday=7 (Spark's dayofweek is Sunday=1 .. Saturday=7).
DERIVE_SQL = f"""
SELECT *,
       CAST(dayofmonth(FlightDate) AS DOUBLE) AS DayOfMonth,
       CAST(dayofyear(FlightDate) AS DOUBLE) AS DayOfYear,
       CAST(((dayofweek(FlightDate) + 5) % 7) + 1 AS DOUBLE) AS DayOfWeek,
       {ROUTE_SQL} AS Route,
       CAST(coalesce(hour(CRSDepTime), 12) AS DOUBLE) AS DepHour,
       CAST(coalesce(hour(CRSDepTime) * 60 + minute(CRSDepTime), 720) AS DOUBLE) AS DepMinuteOfDay
FROM __THIS__
""".strip()

# What flightdelay.arrivals.ArrivalsLookup adds (listed here so that importing it needs no pyspark):
# mean slack and count of the origin's flights landed in each window before departure.
ARRIVAL_WINDOWS = (60, 180)
ARRIVAL_COLUMNS = [f"Landed{w}{kind}" for w in ARRIVAL_WINDOWS for kind in ("Slack", "Count")]
# What flightdelay.rotation.RotationLookup adds: the aircraft's legs that day that had left before
# this flight, the last one's departure delay, whether this is its first leg, the scheduled turn;
# the mean slack and count of the flights on its route (4 h) and to its destination (3 h) that had
# landed when it left; its scheduled block (departure to arrival) and that block less its route's
# mean block (the schedule's padding; 0 when unknown).
ROTATION_COLUMNS = ["TailEarlierCount", "TailPrevDepDelay", "TailFirstFlight", "TailTurnMinutes",
                    "RouteLandedSlack", "RouteLandedCount", "DestLandedSlack", "DestLandedCount",
                    "ScheduledBlockMinutes", "BlockPadMinutes"]

# The expected arrival delay as explicit sums, a stage after the history encoder (it reads its
# ExpectedArrDelay, DepDelay + CarrierRouteSlack): a forest of depth 8 splits on one column at a time
# and cannot add DepDelay to a slack itself. The departure delay plus the slack of the flights that
# landed on its route (or at its destination) before it left, the history's sum where none had; and
# the history's sum less the schedule's padding (a flight scheduled longer than its route's usual
# block has time to make up).
EXPECTED_SQL = """
SELECT *,
       CASE WHEN RouteLandedCount > 0 THEN DepDelay + RouteLandedSlack ELSE ExpectedArrDelay END
           AS RouteExpectedArrDelay,
       CASE WHEN DestLandedCount > 0 THEN DepDelay + DestLandedSlack ELSE ExpectedArrDelay END
           AS DestExpectedArrDelay,
       ExpectedArrDelay - BlockPadMinutes AS PaddedExpectedArrDelay
FROM __THIS__
""".strip()
EXPECTED_COLUMNS = ["RouteExpectedArrDelay", "DestExpectedArrDelay", "PaddedExpectedArrDelay"]


def great_circle_miles(lat1, lon1, lat2, lon2):
    """Great-circle distance in statute miles between two points (Spark Column expressions)."""
    from pyspark.sql import functions as F

    radius_miles = 3958.7613
    dlat = F.radians(lat2 - lat1)
    dlon = F.radians(lon2 - lon1)
    a = F.sin(dlat / 2) ** 2 + F.cos(F.radians(lat1)) * F.cos(F.radians(lat2)) * F.sin(dlon / 2) ** 2
    return F.lit(2 * radius_miles) * F.asin(F.sqrt(a))


def with_distance(flights: "DataFrame", airports: "DataFrame") -> "DataFrame":
    """Fill Distance where missing with the great-circle distance between the airports.

    `airports` has columns faa, lat, lon (a few thousand rows: it is collected and becomes one
    constant map, so scoring a request needs no join). Unknown airports leave Distance null.
    """
    import json

    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, DoubleType, MapType, StringType

    coordinates = {r["faa"]: [float(r["lat"]), float(r["lon"])]
                   for r in airports.select("faa", "lat", "lon").collect() if r["lat"] is not None}
    where = F.from_json(F.lit(json.dumps(coordinates)), MapType(StringType(), ArrayType(DoubleType())))
    origin, dest = where[F.col("Origin")], where[F.col("Dest")]
    computed = F.round(great_circle_miles(origin[0], origin[1], dest[0], dest[1]), 0)
    distance = F.coalesce(F.col("Distance").cast("double"), computed) if "Distance" in flights.columns else computed
    return flights.withColumn("Distance", distance)


def canonical_from_request(requests: "DataFrame", airports: "DataFrame") -> "DataFrame":
    """Request-shaped rows (Origin, Dest, Carrier, FlightDate 'YYYY-MM-DD', DepDelay, optional
    FlightNum and CRSDepTime 'HH:MM') -> canonical records, Distance from airport coordinates."""
    from pyspark.sql import functions as F

    cols = set(requests.columns)
    dep_time = F.col("CRSDepTime") if "CRSDepTime" in cols else F.lit(None).cast("string")
    flight_date = F.to_date(F.col("FlightDate"))
    out = requests.select(
        "*",
        flight_date.alias("_date"),
        F.when(dep_time.isNull(), F.lit(None).cast("timestamp"))
        .otherwise(F.to_timestamp(F.concat(F.col("FlightDate").cast("string"), F.lit(" "), dep_time),
                                  "yyyy-MM-dd HH:mm")).alias("_dep"),
    )
    out = (out.drop("FlightDate", "CRSDepTime")
           .withColumnRenamed("_date", "FlightDate").withColumnRenamed("_dep", "CRSDepTime")
           .withColumn("DepDelay", F.col("DepDelay").cast("double"))
           .withColumn("Carrier", F.upper(F.col("Carrier")))
           .withColumn("Origin", F.upper(F.col("Origin")))
           .withColumn("Dest", F.upper(F.col("Dest"))))
    if "FlightNum" not in cols:
        out = out.withColumn("FlightNum", F.lit(None).cast("string"))
    if "Distance" in out.columns:
        out = out.drop("Distance")
    return with_distance(out, airports)


def with_label(flights: "DataFrame") -> "DataFrame":
    """Training only: label = ArrDelay bucketed at LABEL_SPLITS (0..3)."""
    from pyspark.ml.feature import Bucketizer

    return Bucketizer(splits=LABEL_SPLITS, inputCol="ArrDelay", outputCol="label").transform(
        flights.where("ArrDelay IS NOT NULL"))
