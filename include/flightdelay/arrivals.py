"""The arrivals feature: how the flights that left the same origin earlier that day have fared
(mean slack ArrDelay - DepDelay and count of those landed in the windows before this flight
left). `origin_day_arrivals` builds the per-day table; `ArrivalsLookup`, a model stage, reads
it when it scores, in training and serving alike; training hides a share of rows so that
uncovered days degrade gracefully (docs/design-notes.md).
"""
from __future__ import annotations

import logging

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from flightdelay.features import ARRIVAL_WINDOWS as WINDOWS

log = logging.getLogger(__name__)

HIDDEN_COLUMN = "ArrivalsHidden"
NO_SLACK = -999.0  # the forest cannot split on null or NaN
MINUTES_PER_DAY = 1440
EVENING = max(WINDOWS)  # minutes of the previous evening a day's table row also holds
SPAN = EVENING + MINUTES_PER_DAY
# Per origin and day, index i (0..SPAN) of LandedCount / LandedSlack: how many flights landed,
# and their total slack, before minute i - EVENING of the day (on the origin's clock).
TABLE_SCHEMA = T.StructType([T.StructField("Origin", T.StringType()), T.StructField("FlightDate", T.DateType()),
                             T.StructField("LandedCount", T.ArrayType(T.IntegerType())),
                             T.StructField("LandedSlack", T.ArrayType(T.FloatType()))])


def _minute_of_day(timestamp):
    return F.hour(timestamp) * 60 + F.minute(timestamp)


def scheduled_in_utc(flights: DataFrame, airports: DataFrame):
    """(flights whose airports both have a time zone, with `_origin_tz` and `_dest_tz`; the
    scheduled departure and arrival as UTC instants, the arrival the next day if it is not after
    the departure, as a red-eye's). Shared by the arrivals and the rotation tables."""
    zones = airports.where("tzone IS NOT NULL").select("faa", "tzone")
    joined = (flights.join(F.broadcast(zones.withColumnsRenamed({"faa": "Origin", "tzone": "_origin_tz"})), "Origin")
              .join(F.broadcast(zones.withColumnsRenamed({"faa": "Dest", "tzone": "_dest_tz"})), "Dest"))
    departure = F.to_utc_timestamp("CRSDepTime", F.col("_origin_tz"))
    arrival = F.to_utc_timestamp("CRSArrTime", F.col("_dest_tz"))
    return joined, departure, F.when(arrival <= departure, arrival + F.expr("INTERVAL 1 DAY")).otherwise(arrival)


def origin_day_arrivals(flights: DataFrame, airports: DataFrame) -> DataFrame:
    """Canonical flights (CRSDepTime local at the origin, CRSArrTime local at the destination,
    DepDelay, ArrDelay) and airports (faa, tzone) -> TABLE_SCHEMA rows.

    The landing instant is the scheduled arrival, moved to the origin's time zone (daylight
    saving included), the next day if that is not after the scheduled departure, plus ArrDelay.
    Flights whose airports have no time zone are left out. Wall-clock arithmetic: run with the
    session time zone UTC (build_features sets it) so that no shift of the session's own clock
    moves a landing.
    """
    landed, _, arrival = scheduled_in_utc(
        flights.where("ArrDelay IS NOT NULL AND DepDelay IS NOT NULL AND CRSDepTime IS NOT NULL "
                      "AND CRSArrTime IS NOT NULL"), airports)
    at = F.from_utc_timestamp(arrival + F.make_dt_interval(mins=F.round("ArrDelay").cast("int")),
                              F.col("_origin_tz"))
    landed = landed.select("Origin", F.to_date(at).alias("day"), _minute_of_day(at).alias("minute"),
                           (F.col("ArrDelay") - F.col("DepDelay")).alias("slack"))
    # A landing late in the evening also counts for the flights leaving early the next morning.
    evening = landed.where(F.col("minute") >= MINUTES_PER_DAY - EVENING).select(
        "Origin", F.date_add("day", 1).alias("day"), (F.col("minute") - MINUTES_PER_DAY).alias("minute"), "slack")
    per_minute = (landed.unionByName(evening)
                  .groupBy("Origin", "day", (F.col("minute") + EVENING).alias("i"))
                  .agg(F.count("*").cast("int").alias("n"), F.sum("slack").alias("s")))
    # Every index of every origin and day, then running totals: all in the JVM (no Python
    # worker, no per-element lambda), so the job runs on any Spark worker.
    grid = (per_minute.select("Origin", "day").distinct()
            .select("Origin", "day", F.explode(F.sequence(F.lit(0), F.lit(SPAN - 1))).alias("i"))
            .join(per_minute, ["Origin", "day", "i"], "left"))
    upto = Window.partitionBy("Origin", "day").orderBy("i").rowsBetween(Window.unboundedPreceding, 0)
    running = grid.select("Origin", "day", "i",
                          F.sum(F.coalesce("n", F.lit(0))).over(upto).cast("int").alias("n"),
                          F.sum(F.coalesce("s", F.lit(0.0))).over(upto).cast("float").alias("s"))
    days = running.groupBy("Origin", "day").agg(F.sort_array(F.collect_list(F.struct("i", "n", "s"))).alias("r"))
    return days.select("Origin", F.col("day").alias("FlightDate"),
                       F.concat(F.array(F.lit(0)), F.col("r.n")).alias("LandedCount"),
                       F.concat(F.array(F.lit(0.0).cast("float")), F.col("r.s")).alias("LandedSlack"))


def arrival_features(count, slack, departure, dep_delay, known):
    """Columns features.ARRIVAL_COLUMNS from a day's cumulative `count` and `slack` arrays (TABLE_SCHEMA),
    the scheduled departure (timestamp), DepDelay and whether the arrivals are known (boolean)."""
    left = _minute_of_day(departure) + F.least(F.floor(dep_delay).cast("int"), F.lit(0))

    def before(minute):  # index of the landings before `minute` (from the previous evening on)
        return F.least(F.greatest(minute + EVENING, F.lit(0)), F.lit(SPAN))

    end = before(left)
    columns = []
    for window in WINDOWS:
        # Array lookups by index, not lambdas over the landings: Spark evaluates array lambdas
        # element by element without code generation (one task ran over 8 minutes on a year of flights).
        start = before(left - window)
        landed = count[end] - count[start]
        total = (slack[end] - slack[start]).cast("double")
        mean = F.when(known & (landed > 0), total / landed).otherwise(F.lit(NO_SLACK))
        columns += [mean.alias(f"Landed{window}Slack"),
                    F.when(known, landed.cast("double")).otherwise(F.lit(0.0)).alias(f"Landed{window}Count")]
    return columns


def _filesystem(spark, path: str):
    """The Hadoop FileSystem of `path` and Hadoop's Path class (through the JVM gateway)."""
    hadoop_path = spark.sparkContext._jvm.org.apache.hadoop.fs.Path
    return hadoop_path(path).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path


def _versions(spark, path: str) -> list[str]:
    """Complete versions (built=..., with _SUCCESS) under `path`, oldest first."""
    fs, hadoop_path = _filesystem(spark, path)
    if not fs.exists(hadoop_path(path)):
        return []
    names = sorted(status.getPath().getName() for status in fs.listStatus(hadoop_path(path)) if status.isDirectory())
    folders = [f"{path.rstrip('/')}/{name}" for name in names if name.startswith("built=")]
    return [folder for folder in folders if fs.exists(hadoop_path(f"{folder}/_SUCCESS"))]


def latest_version(spark, path: str) -> str | None:
    versions = _versions(spark, path)
    return versions[-1] if versions else None


def read_table(spark, path: str, schema, feature: str) -> DataFrame:
    """The newest complete version of the lake table at `path`, or an empty one ('' for none, no
    version yet, or not readable): every row then gets `feature` "unknown", and a warning says why.
    A running stream keeps the files it listed; if a rebuild removed them, it reads nothing rather
    than failing, until its query restarts."""
    from pyspark.errors import AnalysisException

    empty = spark.createDataFrame([], schema)
    if not path:
        return empty
    version = latest_version(spark, path)
    if version is None:
        log.warning("no table under %s; %s unknown for every flight", path, feature)
        return empty
    try:
        return spark.read.schema(schema).option("ignoreMissingFiles", "true").parquet(version)
    except AnalysisException as exc:
        log.warning("table %s not readable (%s); %s unknown for every flight", version, exc, feature)
        return empty


def write_table(table: DataFrame, path: str, keep: int = 2) -> str:
    """Write a new version of the table under `path` and delete all but the `keep` newest: a
    stream reading the previous version keeps its files until its next restart."""
    from datetime import datetime, timezone

    spark = table.sparkSession
    version = f"{path.rstrip('/')}/built={datetime.now(timezone.utc):%Y%m%dT%H%M%S%fZ}"
    table.coalesce(1).write.mode("error").parquet(version)
    fs, hadoop_path = _filesystem(spark, path)
    for old in _versions(spark, path)[:-keep]:
        fs.delete(hadoop_path(old), True)
    return version


class LakeLookup(Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """A model stage that joins the lake table at `path` (read when the stage transforms) and
    adds features; rows marked in the subclass's HIDDEN column get them "unknown". Subclasses set
    SCHEMA, FEATURE (what a warning calls it) and HIDDEN."""

    SCHEMA: T.StructType
    FEATURE: str
    HIDDEN: str

    path = Param(Params._dummy(), "path", "the lake table (parquet, the stage's SCHEMA); '' for none",
                 typeConverter=TypeConverters.toString)

    @keyword_only
    def __init__(self, path: str = "") -> None:
        super().__init__()
        self._setDefault(path="")
        self._set(**self._input_kwargs)

    def table(self, spark) -> DataFrame:
        """The table as this stage reads it (the stream caches it: flightdelay.stream.champion)."""
        return read_table(spark, self.getOrDefault(self.path), self.SCHEMA, self.FEATURE)

    def known(self, dataset: DataFrame, found):
        """`found`, except on the rows training hides (the HIDDEN column, where there is one)."""
        if self.HIDDEN in dataset.columns:
            return found & ~F.coalesce(F.col(self.HIDDEN), F.lit(False))
        return found


class ArrivalsLookup(LakeLookup):
    """Adds features.ARRIVAL_COLUMNS from the arrivals table at `path`."""

    SCHEMA, FEATURE, HIDDEN = TABLE_SCHEMA, "arrivals", HIDDEN_COLUMN

    def _transform(self, dataset: DataFrame) -> DataFrame:
        table = self.table(dataset.sparkSession).withColumnsRenamed({"LandedCount": "_count", "LandedSlack": "_slack"})
        joined = dataset.join(F.broadcast(table), ["Origin", "FlightDate"], "left")
        known = self.known(dataset, F.col("_count").isNotNull() & F.col("CRSDepTime").isNotNull())
        return joined.select(*[c for c in joined.columns if c not in ("_count", "_slack")],
                             *arrival_features(F.col("_count"), F.col("_slack"), F.col("CRSDepTime"),
                                               F.col("DepDelay"), known))
