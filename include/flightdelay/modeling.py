"""The model: pipeline construction, time-based split, metrics and the promotion rule.

Pure functions over Spark DataFrames (and plain dicts for the promotion rule), used by the
training and evaluation Spark jobs and unit-tested on a small local SparkSession.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from flightdelay.features import (ARRIVAL_COLUMNS, CATEGORICAL, DERIVE_SQL, EXPECTED_COLUMNS, EXPECTED_SQL,
                                  IMPROVED_CATEGORICAL, IMPROVED_NUMERIC, LABEL_NAMES, ROTATION_COLUMNS, ROUTE_SQL,
                                  SEED_NUMERIC)

# The columns SlackEncoder adds (flightdelay.history.OUTPUT_COLUMNS); listed here so that
# importing this module does not import pyspark.
HISTORY_COLUMNS = ["RouteSlack", "CarrierSlack", "CarrierRouteSlack", "OriginHourSlack", "DestHourSlack",
                   "CarrierHourSlack", "ExpectedArrDelay"]

if TYPE_CHECKING:
    from pathlib import Path

    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.sql import DataFrame

FEATURE_SETS = {"seed": SEED_NUMERIC,
                "improved": IMPROVED_NUMERIC + HISTORY_COLUMNS + ARRIVAL_COLUMNS + ROTATION_COLUMNS
                             + EXPECTED_COLUMNS}
CATEGORICAL_SETS = {"seed": CATEGORICAL, "improved": IMPROVED_CATEGORICAL}


@dataclass(frozen=True)
class TrainParams:
    feature_set: str = "improved"
    # 15 trees: the forest alone fits in half the time of 30, and every hold-out of issue 21's
    # measure still gains 3 points or more (docs/model-experiments.md).
    num_trees: int = 15
    max_depth: int = 8
    # Raised to the largest category count + 1 by with_bins_for (the forest needs a bin per
    # category). With no Route or Dest index 64 bins are enough: the deep levels' split statistics
    # grow with the bins, and 64 fit faster than 128 with the same F1 (docs/model-experiments.md).
    max_bins: int = 64
    # Memory per pass for the forest's split statistics: 1 GB instead of Spark's 256 MB lets each
    # pass over the data grow more nodes (same trees, a third less fit time; docs/model-experiments.md).
    max_memory_mb: int = 1024
    # Each tree draws half the rows (Poisson bootstrap): each of the forest's passes aggregates half
    # as much, about a tenth off the fit with the same F1 (docs/model-experiments.md). Spark's
    # default, 1.0, for the seed baseline.
    subsampling_rate: float = 0.5
    # The most training rows the forest learns from: a random sample when there are more, drawn
    # before the lookups run (the indexer and the history encoder read every row). The lake grows
    # every night, the fit does not: 2013's first six months fit whole, the eleven before December
    # at 55 % (macro F1 0.5861 against 0.5895 with every row; docs/model-experiments.md). 0 = all.
    forest_max_rows: int = 160_000
    seed: int = 42
    balance_classes: bool = False
    # The arrivals table the model reads when it scores (flightdelay.arrivals; '' = none, every
    # flight "not covered") and the share of training rows whose arrivals are hidden.
    arrivals_path: str = ""
    arrivals_hidden: float = 0.2
    # The rotation table (flightdelay.rotation: each flight's aircraft day, found through the
    # schedule); the same share of training rows has it hidden, as a request without FlightNum.
    rotation_path: str = ""


def build_pipeline(params: TrainParams) -> "Pipeline":
    """Canonical record -> prediction: derive features, index categories (unknown kept), assemble, RF.

    The improved set adds route and carrier history: the mean time a flight makes up (or loses)
    between departure and arrival, learned from the training rows only (SlackEncoder), and the
    slack of the flights from the same origin that had landed before this one left, and the
    aircraft's earlier legs that day, read from the arrivals and rotation tables when the model
    scores (ArrivalsLookup and RotationLookup); after both, the expected arrival delay as explicit
    sums (features.EXPECTED_SQL).
    """
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import RandomForestClassifier
    from pyspark.ml.feature import SQLTransformer, StringIndexer, VectorAssembler

    from flightdelay.arrivals import ArrivalsLookup
    from flightdelay.history import SlackEncoder
    from flightdelay.rotation import RotationLookup

    numeric, categorical = FEATURE_SETS[params.feature_set], CATEGORICAL_SETS[params.feature_set]
    improved = params.feature_set == "improved"
    history = [SlackEncoder(), SQLTransformer(statement=EXPECTED_SQL)] if improved else []
    lookups = [ArrivalsLookup(path=params.arrivals_path), RotationLookup(path=params.rotation_path)] if improved else []
    # One indexer for every categorical column: one pass over the data instead of one per column.
    indexers = [StringIndexer(inputCols=categorical, outputCols=[f"{c}_index" for c in categorical],
                              handleInvalid="keep")]
    assembler = VectorAssembler(inputCols=numeric + [f"{c}_index" for c in categorical],
                                outputCol="features", handleInvalid="keep")
    forest = RandomForestClassifier(featuresCol="features", labelCol="label", numTrees=params.num_trees,
                                    maxDepth=params.max_depth, maxBins=params.max_bins, seed=params.seed,
                                    maxMemoryInMB=params.max_memory_mb, subsamplingRate=params.subsampling_rate)
    if params.balance_classes:
        forest.setWeightCol("class_weight")
    # The estimators that make one pass each (the indexer, the history encoder) come before the
    # lookups' joins, which then run once: when modeling.fit computes the forest's input.
    return Pipeline(stages=[SQLTransformer(statement=DERIVE_SQL), *indexers, *history[:1], *lookups, *history[1:],
                            assembler, forest])


def fit(pipeline: "Pipeline", train: "DataFrame", max_rows: int = 0, seed: int = 42) -> "PipelineModel":
    """Pipeline.fit, except that the last estimator (the forest) learns from at most `max_rows` rows
    of `train` (0: every row; a random sample drawn before the stages in front of it run), and its
    input is cached narrowed to the columns it reads: those stages run once, not once per pass the
    forest makes. The estimators before it (indexer, history encoder) read all of `train` in one
    pass each; the caller caches `train`."""
    from pyspark.ml import Estimator, PipelineModel

    if max_rows < 0:
        raise ValueError(f"max_rows must be 0 (every row) or more, got {max_rows}")
    stages, fitted = pipeline.getStages(), []
    last = max((i for i, stage in enumerate(stages) if isinstance(stage, Estimator)), default=-1)
    if last < 0:
        return PipelineModel(stages=list(stages))
    frame = train
    for stage in stages[:last]:
        model = stage.fit(frame) if isinstance(stage, Estimator) else stage
        fitted.append(model)
        frame = model.transform(frame)
    share = forest_share(train.count(), max_rows) if max_rows else 1.0
    if share < 1.0:
        frame = PipelineModel(stages=fitted).transform(train.sample(fraction=share, seed=seed))
    forest = stages[last]
    read = [forest.getOrDefault(p) for p in ("featuresCol", "labelCol", "weightCol")
            if forest.hasParam(p) and forest.isDefined(p) and forest.getOrDefault(p)]
    cached = (frame.select(*read) if read else frame).cache()
    try:
        fitted.append(forest.fit(cached))
    finally:
        cached.unpersist()
    return PipelineModel(stages=fitted + list(stages[last + 1:]))


def forest_share(rows: int, max_rows: int) -> float:
    """The sampling fraction that leaves about `max_rows` of `rows` (1.0 when they fit, or no cap)."""
    return 1.0 if max_rows <= 0 or rows <= max_rows else max_rows / rows


def with_bins_for(train: "DataFrame", params: TrainParams) -> TrainParams:
    """`params` with max_bins at least the largest categorical column's count of values + 1 (the
    indexers' bucket for unseen values): the forest refuses fewer bins than categories."""
    from pyspark.sql import functions as F

    columns = CATEGORICAL_SETS[params.feature_set]
    if params.feature_set == "seed":  # Route is derived inside the model from Origin and Dest
        train = train.withColumn("Route", F.expr(ROUTE_SQL))
    counts = train.agg(*[F.countDistinct(c).alias(c) for c in columns]).first()
    return replace(params, max_bins=max(params.max_bins, *(counts[c] + 1 for c in columns)))


def with_hidden_arrivals(train: "DataFrame", params: TrainParams) -> "DataFrame":
    """Training only: hide the arrivals, and apart from them the aircraft's day, of a random
    `arrivals_hidden` share of the rows each, so that the model also learns to predict for a day
    the arrivals feed does not cover and for a request without a flight number."""
    from pyspark.sql import functions as F

    from flightdelay import arrivals, rotation

    return (train.withColumn(arrivals.HIDDEN_COLUMN, F.rand(params.seed) < F.lit(params.arrivals_hidden))
            .withColumn(rotation.HIDDEN_COLUMN, F.rand(params.seed + 1) < F.lit(params.arrivals_hidden)))


def with_class_weights(train: "DataFrame") -> "DataFrame":
    """Training only: weight each row by n / (k * n_label) so every class counts the same."""
    from pyspark.sql import functions as F

    counts = {r["label"]: r["count"] for r in train.groupBy("label").count().collect()}
    total, k = sum(counts.values()), len(counts)
    weights = F.create_map(*[x for label, n in counts.items() for x in (F.lit(label), F.lit(total / (k * n)))])
    return train.withColumn("class_weight", weights[F.col("label")])


def feature_names(params: TrainParams) -> list[str]:
    return FEATURE_SETS[params.feature_set] + [f"{c}_index" for c in CATEGORICAL_SETS[params.feature_set]]


def time_split(flights: "DataFrame", holdout_months: int = 1) -> tuple["DataFrame", "DataFrame", list[str]]:
    """Train on earlier months, hold out the latest `holdout_months` months (by FlightDate)."""
    from pyspark.sql import functions as F

    months = sorted(r.m for r in flights.select(F.date_format("FlightDate", "yyyy-MM").alias("m")).distinct().collect())
    if len(months) <= holdout_months:
        raise ValueError(f"need more than {holdout_months} month(s) of data for a time split, got {months}")
    holdout = months[-holdout_months:]
    month = F.date_format("FlightDate", "yyyy-MM")
    return flights.where(~month.isin(holdout)), flights.where(month.isin(holdout)), holdout


def scores_from_counts(matrix: list[list[int]], loss_sum: float) -> dict[str, float]:
    """Accuracy, weighted and macro F1, log-loss and per-class precision/recall from a confusion
    matrix (rows: label, columns: prediction) and the summed log-loss: the figures Spark's
    MulticlassClassificationEvaluator gives, computed from one pass instead of eleven."""
    n, total = len(matrix), sum(map(sum, matrix))
    out = {"accuracy": sum(matrix[i][i] for i in range(n)) / total if total else 0.0,
           "log_loss": loss_sum / total if total else 0.0}
    f1s, weighted = [], 0.0
    for label in range(n):
        tp, actual, predicted = matrix[label][label], sum(matrix[label]), sum(row[label] for row in matrix)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        out[f"precision_{label}"], out[f"recall_{label}"] = precision, recall
        f1s.append(f1)
        weighted += f1 * actual / total if total else 0.0
    out["f1_weighted"], out["f1_macro"] = weighted, sum(f1s) / n
    return out


def evaluate(predictions: "DataFrame") -> tuple[dict[str, float], list[list[int]]]:
    """The scores (scores_from_counts) and the confusion matrix of `predictions` in one Spark job."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    n = len(LABEL_NAMES)
    p_label = F.element_at(vector_to_array("probability"), F.col("label").cast("int") + 1)
    rows = (predictions.groupBy("label", "prediction")
            .agg(F.count(F.lit(1)).alias("n"), F.sum(-F.log(F.greatest(p_label, F.lit(1e-15)))).alias("loss"))
            .collect())
    matrix = [[0] * n for _ in range(n)]
    for row in rows:
        matrix[int(row["label"])][int(row["prediction"])] += int(row["n"])
    return scores_from_counts(matrix, sum(row["loss"] for row in rows)), matrix


def metrics(predictions: "DataFrame") -> dict[str, float]:
    """Accuracy, weighted and macro F1, log-loss and per-class precision/recall of `predictions`."""
    return evaluate(predictions)[0]


def majority_baseline(train: "DataFrame", holdout: "DataFrame") -> dict[str, float]:
    """Metrics of always predicting the most frequent training label."""
    from pyspark.sql import functions as F

    majority = train.groupBy("label").count().orderBy(F.desc("count")).first()["label"]
    n = len(LABEL_NAMES)
    baseline = holdout.select("label", F.lit(float(majority)).alias("prediction"),
                              F.array(*[F.lit(1.0 if i == majority else 0.0) for i in range(n)]).alias("_p"))
    from pyspark.ml.functions import array_to_vector

    baseline = baseline.withColumn("probability", array_to_vector("_p"))
    result = metrics(baseline)
    result["majority_label"] = float(majority)
    return result


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def decide_promotion(candidate: dict[str, float], champion: dict[str, float] | None, baseline: dict[str, float],
                     metric: str = "f1_macro", margin: float = 0.0) -> Decision:
    """Promote when the candidate beats the baseline and the champion (if any) by `margin` on `metric`."""
    value = candidate[metric]
    if value <= baseline[metric]:
        return Decision(False, f"{metric} {value:.4f} does not beat the majority baseline {baseline[metric]:.4f}")
    if champion is None:
        return Decision(True, f"first model: {metric} {value:.4f} beats the baseline {baseline[metric]:.4f}")
    if value < champion[metric] + margin:
        return Decision(False, f"{metric} {value:.4f} does not beat the champion {champion[metric]:.4f} "
                               f"by the margin {margin}")
    return Decision(True, f"{metric} {value:.4f} beats the champion {champion[metric]:.4f} by >= {margin}")


def logged_scores(run_metrics: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """The candidate's hold-out scores and the majority baseline's, as its training run logged them
    (`baseline_` prefixed); fit_seconds and the like are neither."""
    baseline = {k[len("baseline_"):]: v for k, v in run_metrics.items() if k.startswith("baseline_")}
    keys = set(baseline) - {"majority_label"}
    return {k: v for k, v in run_metrics.items() if k in keys}, baseline


def record_decision(mlflow_client: Any, model_name: str, version: str, decision: Decision,
                    result_path: "Path", **details: Any) -> dict[str, Any]:
    """Move alias `champion` to `version` (tag `promotion`) or tag why not (`rejected_reason`),
    then write the JSON result that evaluate_model's later tasks read."""
    import json

    from flightdelay.config import CHAMPION_ALIAS

    if decision.promote:
        mlflow_client.set_registered_model_alias(model_name, CHAMPION_ALIAS, version)
        mlflow_client.set_model_version_tag(model_name, version, "promotion", decision.reason)
    else:
        mlflow_client.set_model_version_tag(model_name, version, "rejected_reason", decision.reason)
    result = {"model_name": model_name, "version": str(version), "promoted": decision.promote,
              "reason": decision.reason, **details}
    result_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.write_text(json.dumps(result, indent=2))
    return result
