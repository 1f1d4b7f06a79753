"""Route, carrier and time-of-day history as a pipeline stage: how many minutes flights make up
or lose between departure and arrival ("slack"), learned from training rows only, per route,
carrier, carrier and route, origin and hour, destination and hour, carrier and hour.

SlackEncoder.fit reads ArrDelay - DepDelay of the training rows; the fitted SlackModel needs only
the keys (Route, Carrier, Origin, Dest, DepHour), so it serves requests (no ArrDelay) exactly as
it scored the hold-out. Means are smoothed toward the global mean (weight `smoothing` rows) so
rare keys stay sane; unknown keys get the global mean.
"""
from __future__ import annotations

import json

from pyspark import keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, MapType, StringType


class _SlackParams(Params):
    smoothing = Param(Params._dummy(), "smoothing", "rows of weight given to the global mean",
                      typeConverter=TypeConverters.toFloat)

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(smoothing=50.0)


# output column -> the columns whose values form the key
KEYS = {
    "RouteSlack": ["Route"],
    "CarrierSlack": ["Carrier"],
    "CarrierRouteSlack": ["Carrier", "Route"],
    "OriginHourSlack": ["Origin", "DepHour"],
    "DestHourSlack": ["Dest", "DepHour"],
    "CarrierHourSlack": ["Carrier", "DepHour"],
}
OUTPUT_COLUMNS = [*KEYS, "ExpectedArrDelay"]


def _key(columns: list[str]):
    return F.concat_ws("|", *[F.col(c).cast("string") for c in columns])


class SlackModel(Model, _SlackParams, DefaultParamsReadable, DefaultParamsWritable):
    """Adds one column per KEYS entry and ExpectedArrDelay = DepDelay + CarrierRouteSlack."""

    tables = Param(Params._dummy(), "tables", "JSON: global mean and per-route/per-carrier means",
                   typeConverter=TypeConverters.toString)

    @keyword_only
    def __init__(self, tables: str | None = None, smoothing: float = 50.0) -> None:
        super().__init__()
        self._set(**self._input_kwargs)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        tables = json.loads(self.getOrDefault(self.tables))
        default = F.lit(float(tables["global"]))
        for output, columns in KEYS.items():
            # One JSON literal per table (constant-folded once per query): building a map of
            # thousands of literals column by column costs seconds of planning per transform.
            mapping = F.from_json(F.lit(json.dumps(tables[output])), MapType(StringType(), DoubleType()))
            dataset = dataset.withColumn(output, F.coalesce(mapping[_key(columns)], default))
        return dataset.withColumn("ExpectedArrDelay", F.col("DepDelay") + F.col("CarrierRouteSlack"))


class SlackEncoder(Estimator, _SlackParams, DefaultParamsReadable, DefaultParamsWritable):
    @keyword_only
    def __init__(self, smoothing: float = 50.0) -> None:
        super().__init__()
        self._set(**self._input_kwargs)

    def _fit(self, dataset: DataFrame) -> SlackModel:
        smoothing = self.getOrDefault(self.smoothing)
        slack = dataset.where("ArrDelay IS NOT NULL AND DepDelay IS NOT NULL").select(
            *[_key(columns).alias(output) for output, columns in KEYS.items()],
            (F.col("ArrDelay") - F.col("DepDelay")).alias("slack"))
        # All tables in one pass: one row per (table, key) with the sum and count of slack.
        entries = F.explode(F.array(*[F.struct(F.lit(output).alias("table"), F.col(output).alias("key"))
                                      for output in KEYS]))
        rows = (slack.select(entries.alias("e"), "slack")
                .groupBy("e.table", "e.key").agg(F.sum("slack").alias("s"), F.count("*").alias("n")).collect())
        total_sum = sum(r["s"] for r in rows if r["table"] == "RouteSlack")
        total_n = sum(r["n"] for r in rows if r["table"] == "RouteSlack")
        global_mean = total_sum / total_n if total_n else 0.0
        tables: dict = {"global": global_mean, **{output: {} for output in KEYS}}
        for r in rows:
            tables[r["table"]][r["key"]] = (r["s"] + smoothing * global_mean) / (r["n"] + smoothing)
        return SlackModel(tables=json.dumps(tables), smoothing=smoothing)
