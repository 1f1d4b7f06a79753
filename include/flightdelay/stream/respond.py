"""The respond query: Kafka requests -> checked request -> the champion's prediction -> response
topic, bad messages -> dead-letter topic. Two modes share one checkpoint:

  realtime    Spark's real-time mode, through the Kafka sink. Only allow-listed JVM operators run
              there, so requests are checked by the contract's SQL statement (contract_sql).
  microbatch  the Python contract, and one Kafka transaction per batch with a marker in the
              commit topic: a batch replayed after a crash finds its marker and is skipped.

Either way each output names its request in a header, and a (re)started query skips the
requests answered since its checkpoint (flightdelay.replay)."""
from __future__ import annotations

import json
import logging
import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from flightdelay import contract, contract_sql, replay
from flightdelay.config import NAMES
from flightdelay.features import canonical_from_request
from flightdelay.stream import topics
from flightdelay.stream.options import StreamOptions

log = logging.getLogger("prediction_stream")

_SPARK_TYPES = {"string": T.StringType(), "double": T.DoubleType(), "int": T.IntegerType(),
                "array<double>": T.ArrayType(T.DoubleType())}


def schema(fields) -> T.StructType:
    """The Spark schema of contract record fields (types from contract.FIELD_TYPES)."""
    return T.StructType([T.StructField(name, _SPARK_TYPES[contract.FIELD_TYPES.get(name, "string")])
                         for name in fields])


PARSED_SCHEMA = schema((*contract.REQUEST_FIELDS, "ReceivedAt", "error"))


@F.udf(returnType=PARSED_SCHEMA)
def parse_request(value: bytes | None):
    """The contract's validator on one Kafka message: the request, or `error` (JSON of the reasons)."""
    try:
        request = contract.parse_request(bytes(value) if value is not None else None)
        return {**{k: request.get(k) for k in PARSED_SCHEMA.fieldNames() if k != "error"}, "error": None}
    except contract.InvalidRequest as exc:
        return {"error": json.dumps(exc.errors)}
    except Exception as exc:  # a defect of ours must not stop the query: the message is isolated
        return {"error": json.dumps({"message": f"could not be checked ({type(exc).__name__})"})}


def python_contract(frame: DataFrame) -> DataFrame:
    """`frame` + `r`: the message checked by contract.parse_request (a Python UDF)."""
    return frame.withColumn("r", parse_request(F.col("value")))


def vector_to_array(column: str):
    from pyspark.ml.functions import vector_to_array as to_array

    return to_array(F.col(column))


def scored_requests(source: DataFrame, model, version: str, airports: DataFrame,
                    check=python_contract) -> DataFrame:
    """Kafka request rows -> the same rows with the checked request `r`, Distance, prediction and
    probability. Bad rows are scored on placeholder values (the model needs well-formed input)
    and their score is discarded: they go to the dead-letter topic. `check` adds `r` (default:
    the Python contract; contract_sql.with_request where no Python may run)."""
    ok = F.col("r.error").isNull()
    parsed = check(source.select("value", "topic", "partition", "offset", "timestamp"))
    parsed = parsed.withColumn("r", F.col("r").withField("ReceivedAt", F.coalesce(
        F.col("r.ReceivedAt"), F.date_format("timestamp", contract_sql.ISO_FORMAT))))
    requests = parsed.select(
        "*",
        F.when(ok, F.col("r.Origin")).otherwise("???").alias("Origin"),
        F.when(ok, F.col("r.Dest")).otherwise("???").alias("Dest"),
        F.when(ok, F.col("r.Carrier")).otherwise("??").alias("Carrier"),
        F.when(ok, F.col("r.FlightDate")).otherwise("2000-01-01").alias("FlightDate"),
        F.when(ok, F.col("r.DepDelay")).otherwise(0.0).alias("DepDelay"),
        F.col("r.FlightNum").alias("FlightNum"),
        F.when(ok, F.col("r.CRSDepTime")).alias("CRSDepTime"),
    )
    scored = model.transform(canonical_from_request(requests, airports))
    return scored.select("value", "topic", "partition", "offset", "r", "Distance",
                         F.col("prediction").cast("int").alias("prediction"),
                         vector_to_array("probability").alias("probability"),
                         F.lit(version).alias("model_version"))


def kafka_source(spark: SparkSession, options: StreamOptions, topic: str, max_offsets: int | None = None,
                 **reader_options: str) -> DataFrame:
    reader = (spark.readStream.format("kafka")
              .option("kafka.bootstrap.servers", options.bootstrap_servers)
              .option("subscribe", topic)
              .option("startingOffsets", "earliest"))
    if max_offsets:
        reader = reader.option("maxOffsetsPerTrigger", str(max_offsets))
    for key, value in reader_options.items():
        reader = reader.option(key, value)
    return reader.load()


def answered_since_commit(spark: SparkSession, options: StreamOptions) -> dict[int, list[tuple[int, int]]]:
    """The request offsets answered since the respond checkpoint's last commit (flightdelay.replay):
    a restart answers none of them a second time."""
    since = replay.last_commit_millis(spark, options.checkpoint("respond"))
    started = time.monotonic()
    answered = replay.answered_requests(options.bootstrap_servers, [NAMES.response_topic, NAMES.dlq_topic],
                                        since - replay.MARGIN_MS if since is not None else None,
                                        NAMES.request_topic)
    log.warning("respond: skipping answered request offsets %s (read in %.1f s)", answered,
                time.monotonic() - started)
    return answered


def realtime_records(source: DataFrame, champion, airports: DataFrame) -> DataFrame:
    """Kafka request rows -> the Kafka records real-time mode writes: the prediction (key UUID) to
    the response topic or the dead letter to its topic, each with its request-offset header."""
    scored = scored_requests(source, champion.model, champion.version, airports, check=contract_sql.with_request)
    now = contract_sql.now_iso()
    bad = F.col("r.error").isNotNull()
    return scored.select(
        F.when(bad, F.lit(NAMES.dlq_topic)).otherwise(F.lit(NAMES.response_topic)).alias("topic"),
        F.when(~bad, F.col("r.UUID")).alias("key"),
        F.when(bad, contract_sql.dead_letter(F.col("value"), F.col("r.error"), F.col("topic"), F.col("partition"),
                                             F.col("offset"), now))
        .otherwise(contract_sql.prediction(F.col("r"), F.col("Distance"), F.col("prediction"), F.col("probability"),
                                           champion.name, champion.version, now)).alias("value"),
        replay.header_column(F.col("partition"), F.col("offset")).alias("headers"))


# The warm-up's requests: UUIDs under this prefix, flights over the data's airports and year.
WARM_UP_UUID_PREFIX = "00000000-0000-4000-a000-"
_WARM_UP_VALUES = {"Origin": ("JFK", "LGA", "EWR"), "Dest": ("LAX", "ORD", "ATL", "SFO", "BOS", "MIA", "DFW"),
                   "Carrier": ("AA", "UA", "DL", "B6", "EV", "WN", "MQ", "US")}


def synthetic_requests(spark: SparkSession, rows: int) -> DataFrame:
    """`rows` request rows shaped as the Kafka source's, made in memory: varied valid requests, and
    every tenth one malformed so that the dead-letter path is exercised too."""
    i = F.col("id")

    def pick(values):
        return F.element_at(F.array(*map(F.lit, values)), (i % len(values) + 1).cast("int"))

    request = F.to_json(F.struct(
        F.concat(F.lit(WARM_UP_UUID_PREFIX), F.lpad(i.cast("string"), 12, "0")).alias("UUID"),
        F.when(i % 10 == 0, F.lit("??")).otherwise(pick(_WARM_UP_VALUES["Origin"])).alias("Origin"),
        pick(_WARM_UP_VALUES["Dest"]).alias("Dest"), pick(_WARM_UP_VALUES["Carrier"]).alias("Carrier"),
        F.date_format(F.date_add(F.lit("2013-01-01").cast("date"), (i % 365).cast("int")), "yyyy-MM-dd")
        .alias("FlightDate"),
        ((i % 150) - 20).cast("double").alias("DepDelay"),
        ((i * 7) % 5000 + 1).cast("string").alias("FlightNum"),
        F.format_string("%02d:%02d", (i % 17 + 6).cast("int"), (i * 13 % 60).cast("int")).alias("CRSDepTime")))
    return spark.range(rows).select(request.cast("binary").alias("value"), F.lit(NAMES.request_topic).alias("topic"),
                                    (i % 2).cast("int").alias("partition"), i.alias("offset"),
                                    F.current_timestamp().alias("timestamp"))


def warm_up(spark: SparkSession, champion, airports: DataFrame, rows: int = 4_000, seconds: float = 5.0,
            rounds: int = 3) -> None:
    """Run synthetic requests through the real-time records' plan before the query takes traffic:
    a fresh JVM compiles the checks', the model's and the JSON code on them instead of on the first
    minute's requests. Spark's no-op sink discards the output: nothing reaches a topic or a sink."""
    frame = synthetic_requests(spark, rows)
    started = time.monotonic()
    done = 0
    try:
        while done < rounds and (done == 0 or time.monotonic() - started < seconds):
            realtime_records(frame, champion, airports).write.format("noop").mode("overwrite").save()
            done += 1
    except Exception as exc:  # a speed-up only: serving starts without it (check_model vetted the model)
        log.error("warm-up stopped after %s rounds (%s: %s); serving cold", done, type(exc).__name__, str(exc)[:300])
        return
    log.warning("warm-up: %s rounds of %s synthetic requests in %.1f s (none left the job)", done, rows,
                time.monotonic() - started)


# The respond query's request fetches: the broker answers one when 16 KiB (about 60 requests) are
# there or 5 ms have passed. With the default (any byte) a fetch went out per request or two, and
# Kafka's CPU per answer is mostly per-request work; the price is at most 5 ms at low rates.
REQUEST_FETCH = {"kafka.fetch.min.bytes": "16384", "kafka.fetch.max.wait.ms": "5"}


def start_realtime(spark: SparkSession, options: StreamOptions, champion, airports: DataFrame,
                   answered: dict[int, list[tuple[int, int]]] | None = None):
    """The respond query in real-time mode: long-running tasks answer each request as it arrives.
    The Kafka sink alone is at-least-once (a restart reads the requests since the last checkpoint
    again), so the requests `answered` since then (read now unless given) are skipped."""
    if answered is None:
        answered = answered_since_commit(spark, options)
    source = replay.skip_answered(kafka_source(spark, options, NAMES.request_topic, **REQUEST_FETCH), answered)
    records = realtime_records(source, champion, airports)
    return (records.writeStream.queryName(options.query_name("respond"))
            .format("kafka")
            .option("kafka.bootstrap.servers", options.bootstrap_servers)
            .option("kafka.linger.ms", "5")
            .option("checkpointLocation", options.checkpoint("respond"))
            .outputMode("update")
            .trigger(realTime=options.realtime_checkpoint)
            .start())


class TransactionalResponder:
    """foreachBatch of the micro-batch respond query: the batch arrives scored; its responses, dead
    letters and a marker are produced in one Kafka transaction."""

    def __init__(self, options: StreamOptions, champion) -> None:
        from confluent_kafka import Producer

        self.options, self.champion = options, champion
        self.txn_id = f"prediction-stream-{options.query_name('respond')}"
        self.producer = Producer({"bootstrap.servers": options.bootstrap_servers, "transactional.id": self.txn_id,
                                  "linger.ms": 2, "compression.type": "lz4"})
        self.producer.init_transactions(60)  # fences a previous instance of this job
        self.query_id: str | None = None  # set by start_microbatch once the query has started
        self.marker_key: str | None = None
        self.last_committed: int | None = None

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        if self.marker_key is None:
            # Batch ids belong to a checkpoint: key the markers by the query id stored in it.
            while self.query_id is None:
                time.sleep(0.01)
            self.marker_key = f"{self.txn_id}/{self.query_id}"
            self.last_committed = topics.last_committed_batch(self.options.bootstrap_servers, self.marker_key)
            log.warning("respond: query %s, last committed batch %s", self.query_id, self.last_committed)
        if self.last_committed is not None and batch_id <= self.last_committed:
            log.warning("respond: batch %s was committed before a restart; skipped", batch_id)
            return
        # The rows carry no request bytes (a dead letter's bounded record is built in SQL), so
        # the driver's memory per batch is bounded by maxOffsetsPerTrigger whatever their size.
        rows = batch.drop("value").collect()
        predicted_at = contract.now_iso()
        self.producer.begin_transaction()
        answered = 0
        for row in rows:
            request = row.r.asDict()
            error = request.pop("error")
            headers = [(replay.REQUEST_HEADER, replay.header_value(row.partition, row.offset))]
            if error:
                self.producer.produce(NAMES.dlq_topic, value=row.dead_letter, headers=headers)
                continue
            record = contract.prediction(request, row.prediction, row.probability, row.Distance,
                                         self.champion.name, row.model_version, predicted_at)
            self.producer.produce(NAMES.response_topic, key=record["UUID"], value=json.dumps(record),
                                  headers=headers)
            answered += 1
        self.producer.produce(NAMES.commit_topic, key=self.marker_key,
                              value=topics.marker(batch_id, answered, len(rows) - answered))
        self.producer.commit_transaction(60)
        self.last_committed = batch_id
        if rows:
            log.info("respond: batch %s answered %s, rejected %s", batch_id, answered, len(rows) - answered)


def start_microbatch(spark: SparkSession, options: StreamOptions, champion, airports: DataFrame,
                     responder: TransactionalResponder, answered: dict[int, list[tuple[int, int]]] | None = None):
    """The respond query in micro-batch mode; `answered` as for start_realtime."""
    if answered is None:
        answered = answered_since_commit(spark, options)
    source = replay.skip_answered(kafka_source(spark, options, NAMES.request_topic, options.max_offsets_per_trigger),
                                  answered)
    scored = scored_requests(source, champion.model, champion.version, airports)
    scored = scored.withColumn("dead_letter", F.when(F.col("r.error").isNotNull(), contract_sql.dead_letter(
        F.col("value"), F.col("r.error"), F.col("topic"), F.col("partition"), F.col("offset"),
        contract_sql.now_iso())))
    query = (scored.writeStream
             .queryName(options.query_name("respond"))
             .foreachBatch(responder)
             .option("checkpointLocation", options.checkpoint("respond"))
             .trigger(processingTime=options.respond_trigger)
             .start())
    responder.query_id = query.id
    return query
