"""Route and carrier history as a pipeline stage: how many minutes flights on a route (and of a
carrier) make up or lose between departure and arrival, learned from training rows only.

SlackEncoder.fit reads ArrDelay - DepDelay of the training rows; the fitted SlackModel needs only
Route and Carrier, so it serves requests (no ArrDelay) exactly as it scored the hold-out.
Means are smoothed toward the global mean (weight `smoothing` rows) so rare routes stay sane.
"""
from __future__ import annotations

import json

from pyspark import keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F


class _SlackParams(Params):
    smoothing = Param(Params._dummy(), "smoothing", "rows of weight given to the global mean",
                      typeConverter=TypeConverters.toFloat)

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(smoothing=50.0)


class SlackModel(Model, _SlackParams, DefaultParamsReadable, DefaultParamsWritable):
    """Adds RouteSlack, CarrierSlack and ExpectedArrDelay = DepDelay + RouteSlack."""

    tables = Param(Params._dummy(), "tables", "JSON: global mean and per-route/per-carrier means",
                   typeConverter=TypeConverters.toString)

    @keyword_only
    def __init__(self, tables: str | None = None, smoothing: float = 50.0) -> None:
        super().__init__()
        self._set(**self._input_kwargs)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        tables = json.loads(self.getOrDefault(self.tables))
        default = float(tables["global"])

        def lookup(column: str, mapping: dict[str, float]):
            if not mapping:
                return F.lit(default)
            literal = F.create_map(*[x for k, v in mapping.items() for x in (F.lit(k), F.lit(float(v)))])
            return F.coalesce(literal[F.col(column)], F.lit(default))

        return (dataset.withColumn("RouteSlack", lookup("Route", tables["route"]))
                .withColumn("CarrierSlack", lookup("Carrier", tables["carrier"]))
                .withColumn("ExpectedArrDelay", F.col("DepDelay") + F.col("RouteSlack")))


class SlackEncoder(Estimator, _SlackParams, DefaultParamsReadable, DefaultParamsWritable):
    @keyword_only
    def __init__(self, smoothing: float = 50.0) -> None:
        super().__init__()
        self._set(**self._input_kwargs)

    def _fit(self, dataset: DataFrame) -> SlackModel:
        smoothing = self.getOrDefault(self.smoothing)
        slack = dataset.where("ArrDelay IS NOT NULL AND DepDelay IS NOT NULL").select(
            "Route", "Carrier", (F.col("ArrDelay") - F.col("DepDelay")).alias("slack"))
        global_mean = float(slack.agg(F.avg("slack")).first()[0] or 0.0)

        def smoothed(key: str) -> dict[str, float]:
            rows = slack.groupBy(key).agg(F.sum("slack").alias("s"), F.count("*").alias("n")).collect()
            return {r[key]: (r["s"] + smoothing * global_mean) / (r["n"] + smoothing) for r in rows}

        tables = {"global": global_mean, "route": smoothed("Route"), "carrier": smoothed("Carrier")}
        return SlackModel(tables=json.dumps(tables), smoothing=smoothing)
