"""The real-time prediction stream: Kafka requests -> champion model -> Kafka responses, MongoDB,
Cassandra and HDFS parquet. Three Structured Streaming queries in one application:

  respond  flight-delay-ml-request -> validate -> features -> model -> flight-delay-ml-response
           (bad messages -> flight-delay-ml-request-dlq with the reasons). The latency-critical
           path, in one of two modes (--respond-mode):
           realtime (default): Spark's real-time mode. Long-running tasks answer each request as
             it arrives, through the Kafka sink, with a checkpoint every --realtime-checkpoint.
             Only allow-listed JVM operators may run there, so the request is checked by the SQL
             statement of the contract (flightdelay.contract_sql; no Python UDF).
           microbatch: each micro-batch is checked by the Python contract and produced in one
             Kafka transaction together with a marker (query, batch id) in a compacted
             bookkeeping topic; a batch replayed after a crash finds its marker and is skipped.
           Either way each output record names the request it answers in a Kafka header, and a
           (re)started respond query skips the requests already answered since its checkpoint
           (flightdelay.replay): a crash, a model swap or a lease end answers no request twice.
  store    flight-delay-ml-response (read_committed) -> MongoDB + Cassandra, keyed by UUID.
  archive  flight-delay-ml-response (read_committed) -> parquet under /user/spark/prediction,
           partitioned by prediction date, on a longer trigger (no tiny file per request);
           Spark's file sink log makes it exactly-once.

Both modes share the respond checkpoint, so switching resumes where the other mode stopped.

The model is the registered model's `champion` version, re-resolved every --model-poll-seconds.
A new version is loaded while the old one keeps serving; then only the respond query (whose
plan holds the model) is restarted from its checkpoint, about 1.5 s in which requests wait in
Kafka: none is dropped or answered twice, and the application keeps running. The job stops by
itself after --lease-minutes (0: never) so the Airflow task that owns it is bounded; the next
run resumes from the checkpoints.

    spark-submit include/spark_jobs/prediction_stream.py --hdfs hdfs://127.0.0.1:9000 \
        --bootstrap-servers 127.0.0.1:9092 --model-name flight_delay_rf \
        --mongo-uri mongodb://127.0.0.1:27017 --cassandra-host 127.0.0.1 [--lease-minutes 60]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from datetime import datetime, timezone

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from flightdelay import contract, contract_sql, kafka_read, lake, model_cache, replay, sinks
from flightdelay.config import NAMES
from flightdelay.features import canonical_from_request
from flightdelay.serving_status import CHAMPION_ALIAS, StreamHeartbeat

log = logging.getLogger("prediction_stream")
# A store micro-batch slower than this is logged (with client timeouts, a stuck sink fails it).
SLOW_STORE_BATCH_S = 5.0

REQUEST_SCHEMA = T.StructType([
    T.StructField("UUID", T.StringType()), T.StructField("Origin", T.StringType()),
    T.StructField("Dest", T.StringType()), T.StructField("Carrier", T.StringType()),
    T.StructField("FlightDate", T.StringType()), T.StructField("DepDelay", T.DoubleType()),
    T.StructField("FlightNum", T.StringType()), T.StructField("CRSDepTime", T.StringType()),
])
COMMIT_TOPIC = "flight-delay-ml-stream-commits"


class Champion:
    """The model currently served: `alias` of `name`, re-resolved at most every `poll_seconds`.

    A version whose artifact cannot be loaded never stops serving: it gets a `rejected_reason`
    tag and the loaded model keeps answering; at a (re)start the version loaded last (the
    registered model's LAST_LOADED_TAG) is served instead, and only with none loadable does the
    job fail."""

    LAST_LOADED_TAG = "stream_last_loaded_version"

    def __init__(self, name: str, alias: str, poll_seconds: float, loader, check=None) -> None:
        from mlflow import MlflowClient

        self.name, self.alias, self.poll_seconds = name, alias, poll_seconds
        self.loader = loader  # loader(client, name, version): the version's PipelineModel
        self.check = check  # check(model, version): scores a sample request, raises if it cannot
        self.client = MlflowClient()
        self.version: str | None = None
        self.model = None
        self.checked = 0.0
        self.rejected: set[str] = set()

    def resolve(self) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version_by_alias(self.name, self.alias).version
        except MlflowException:
            return None

    def last_loaded(self) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_registered_model(self.name).tags.get(self.LAST_LOADED_TAG)
        except MlflowException:
            return None

    def wait(self, timeout: float) -> None:
        """Block until a model is loaded: the alias's version, else the version loaded last."""
        deadline = time.monotonic() + timeout
        while not self.poll(force=True) and self.model is None:
            fallback = self.last_loaded()
            if fallback and fallback not in self.rejected and self.load(fallback):
                log.error("serving %s version %s, the version loaded last: %s@%s (version %s) cannot be loaded",
                          self.name, fallback, self.name, self.alias, self.resolve())
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"no loadable version of {self.name}: alias {self.alias} "
                                 f"(version {self.resolve()}), last loaded {fallback}, rejected {sorted(self.rejected)}")
            log.warning("waiting for a loadable %s@%s", self.name, self.alias)
            time.sleep(10)

    def poll(self, force: bool = False) -> bool:
        """Re-resolve the alias (at most every poll_seconds); True if a new version was loaded."""
        if not force and time.monotonic() - self.checked < self.poll_seconds:
            return False
        self.checked = time.monotonic()
        version = self.resolve()
        if version is None or version == self.version or version in self.rejected:
            return False
        return self.load(version)

    def load(self, version: str) -> bool:
        """Load `version`; on failure tag it rejected_reason, log why and keep what is served."""
        started = time.monotonic()
        try:
            model = self.loader(self.client, self.name, version)
            if self.check is not None:
                self.check(model, version)
        except Exception as exc:  # a broken artifact must not stop serving
            self.rejected.add(version)
            reason = f"{type(exc).__name__}: {str(exc)[:500]}"
            log.error("%s version %s cannot be loaded, still serving version %s: %s", self.name, version,
                      self.version, reason)
            try:
                self.client.set_model_version_tag(self.name, version, "rejected_reason", reason)
            except Exception as tag_error:  # the registry down: the log line above says it all
                log.error("could not tag %s version %s: %s", self.name, version, tag_error)
            return False
        log.warning("loaded %s version %s (serving %s until the swap; load took %.1f s)", self.name, version,
                    self.version, time.monotonic() - started)
        self.model, self.version = model, version
        try:
            self.client.set_registered_model_tag(self.name, self.LAST_LOADED_TAG, version)
        except Exception as exc:
            log.error("could not record %s version %s as loaded: %s", self.name, version, exc)
        return True


class TransactionalResponder:
    """foreachBatch of the respond query: the batch arrives scored; its responses, dead letters and
    a marker are produced in one Kafka transaction."""

    def __init__(self, args, champion: Champion) -> None:
        from confluent_kafka import Producer

        self.args, self.champion = args, champion
        self.txn_id = f"prediction-stream-{args.query_prefix}respond"
        self.producer = Producer({"bootstrap.servers": args.bootstrap_servers, "transactional.id": self.txn_id,
                                  "linger.ms": 2, "compression.type": "lz4"})
        self.producer.init_transactions(60)  # fences a previous instance of this job
        self.query_id: str | None = None  # set by start_respond once the query has started
        self.marker_key: str | None = None
        self.last_committed: int | None = None

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        if self.marker_key is None:
            # Batch ids belong to a checkpoint: key the markers by the query id stored in it.
            while self.query_id is None:
                time.sleep(0.01)
            self.marker_key = f"{self.txn_id}/{self.query_id}"
            self.last_committed = last_committed_batch(self.args.bootstrap_servers, self.marker_key)
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
        self.producer.produce(COMMIT_TOPIC, key=self.marker_key, value=json.dumps(
            {"batch_id": batch_id, "responses": answered, "rejected": len(rows) - answered}))
        self.producer.commit_transaction(60)
        self.last_committed = batch_id
        if rows:
            log.info("respond: batch %s answered %s, rejected %s", batch_id, answered, len(rows) - answered)


PARSED_SCHEMA = T.StructType([*REQUEST_SCHEMA.fields, T.StructField("ReceivedAt", T.StringType()),
                              T.StructField("error", T.StringType())])


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


SAMPLE_REQUEST = {"UUID": "00000000-0000-4000-8000-000000000000", "Origin": "JFK", "Dest": "LAX", "Carrier": "AA",
                  "FlightDate": "2013-06-01", "DepDelay": 5, "FlightNum": "1", "CRSDepTime": "09:00",
                  "ReceivedAt": "2013-06-01T08:00:00.000Z"}


def check_model(spark: SparkSession, model, version: str, airports: DataFrame, check=python_contract) -> None:
    """Score one sample request through the respond path's validator (`check`) before a model
    serves: a version that loads but cannot score is refused like one that cannot load."""
    sample = spark.createDataFrame([(json.dumps(SAMPLE_REQUEST).encode(), NAMES.request_topic, 0, -1,
                                     datetime.now(timezone.utc))],
                                   "value binary, topic string, partition int, offset bigint, timestamp timestamp")
    row = scored_requests(sample, model, version, airports, check=check).first()
    if row is None or row.prediction is None or row.r.error is not None:
        raise ValueError(f"version {version} gave no prediction for a sample request: {row}")


def vector_to_array(column: str):
    from pyspark.ml.functions import vector_to_array as to_array

    return to_array(F.col(column))


def ensure_commit_topic(bootstrap: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    if COMMIT_TOPIC not in admin.list_topics(timeout=30).topics:
        futures = admin.create_topics([NewTopic(COMMIT_TOPIC, num_partitions=1, replication_factor=1,
                                                config={"cleanup.policy": "compact", "segment.ms": "3600000"})])
        try:
            futures[COMMIT_TOPIC].result()
        except Exception as exc:  # created meanwhile by another instance
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise


def last_committed_batch(bootstrap: str, marker_key: str) -> int | None:
    """The batch id of the last committed marker under `marker_key` (read_committed), or None."""
    from confluent_kafka import TopicPartition

    consumer = kafka_read.reader({"bootstrap.servers": bootstrap}, "prediction-stream-marker-reader")
    try:
        low, high = kafka_read.watermarks(consumer, COMMIT_TOPIC)[0]
        if high <= low:
            return None
        last = None
        for message in kafka_read.read_to_end(consumer, [TopicPartition(COMMIT_TOPIC, 0, low)],
                                              {(COMMIT_TOPIC, 0): high}, 120):
            if message.key() == marker_key.encode():
                try:
                    last = int(json.loads(message.value())["batch_id"])
                except (TypeError, ValueError, KeyError):  # not one of our markers
                    log.warning("ignored a malformed marker at offset %s of %s", message.offset(), COMMIT_TOPIC)
        return last
    finally:
        consumer.close()


def kafka_source(spark: SparkSession, args, topic: str, **options: str) -> DataFrame:
    reader = (spark.readStream.format("kafka")
              .option("kafka.bootstrap.servers", args.bootstrap_servers)
              .option("subscribe", topic)
              .option("startingOffsets", "earliest")
              .option("maxOffsetsPerTrigger", str(args.max_offsets_per_trigger)))
    for key, value in options.items():
        reader = reader.option(key, value)
    return reader.load()


def unanswered(spark: SparkSession, args, source: DataFrame) -> DataFrame:
    """The request source without the requests answered since the checkpoint's last commit
    (flightdelay.replay): a restart answers none of them a second time."""
    since = replay.last_commit_millis(spark, f"{checkpoints(args)}/respond")
    started = time.monotonic()
    answered = replay.answered_requests(args.bootstrap_servers, [NAMES.response_topic, NAMES.dlq_topic],
                                        since - replay.MARGIN_MS if since is not None else None,
                                        NAMES.request_topic)
    log.warning("respond: skipping answered request offsets %s (read in %.1f s)", answered,
                time.monotonic() - started)
    return replay.skip_answered(source, answered)


def start_respond(spark: SparkSession, args, champion: Champion, airports: DataFrame, responder) -> object:
    source = unanswered(spark, args, kafka_source(spark, args, NAMES.request_topic))
    scored = scored_requests(source, champion.model, champion.version, airports)
    scored = scored.withColumn("dead_letter", F.when(F.col("r.error").isNotNull(), contract_sql.dead_letter(
        F.col("value"), F.col("r.error"), F.col("topic"), F.col("partition"), F.col("offset"),
        contract_sql.now_iso())))
    query = (scored.writeStream
             .queryName(f"{args.query_prefix}respond")
             .foreachBatch(responder)
             .option("checkpointLocation", f"{checkpoints(args)}/respond")
             .trigger(processingTime=args.respond_trigger)
             .start())
    responder.query_id = query.id
    return query


def start_respond_realtime(spark: SparkSession, args, champion: Champion, airports: DataFrame) -> object:
    """The respond query in Spark's real-time mode: long-running tasks answer each request as it
    arrives, through the Kafka sink. Only allow-listed JVM operators may run there, so the request
    is validated by the SQL statement of the contract and the records are built in SQL. The Kafka
    sink alone is at-least-once (a restart reads again the requests since the last checkpoint);
    `unanswered` drops those already answered."""
    source = (spark.readStream.format("kafka").option("kafka.bootstrap.servers", args.bootstrap_servers)
              .option("subscribe", NAMES.request_topic).option("startingOffsets", "earliest")
              .option("kafka.fetch.max.wait.ms", "10").load())
    source = unanswered(spark, args, source)
    scored = scored_requests(source, champion.model, champion.version, airports, check=contract_sql.with_request)
    now = contract_sql.now_iso()
    bad = F.col("r.error").isNotNull()
    records = scored.select(
        F.when(bad, F.lit(NAMES.dlq_topic)).otherwise(F.lit(NAMES.response_topic)).alias("topic"),
        F.when(~bad, F.col("r.UUID")).alias("key"),
        F.when(bad, contract_sql.dead_letter(F.col("value"), F.col("r.error"), F.col("topic"), F.col("partition"),
                                             F.col("offset"), now))
        .otherwise(contract_sql.prediction(F.col("r"), F.col("Distance"), F.col("prediction"), F.col("probability"),
                                           champion.name, champion.version, now)).alias("value"),
        replay.header_column(F.col("partition"), F.col("offset")).alias("headers"))
    return (records.writeStream.queryName(f"{args.query_prefix}respond")
            .format("kafka")
            .option("kafka.bootstrap.servers", args.bootstrap_servers)
            .option("kafka.linger.ms", "5")
            .option("checkpointLocation", f"{checkpoints(args)}/respond")
            .outputMode("update")
            .trigger(realTime=args.realtime_checkpoint)
            .start())


def checkpoints(args) -> str:
    return f"{args.checkpoint_root.rstrip('/')}/{args.query_prefix or 'default'}"


def start_sinks(spark: SparkSession, args) -> list:
    mongo = {"uri": args.mongo_uri, "database": NAMES.mongo_database, "collection": NAMES.mongo_collection}
    cassandra = {"host": args.cassandra_host, "port": args.cassandra_port, "keyspace": NAMES.cassandra_keyspace}
    dead_letters = {"bootstrap": args.bootstrap_servers, "topic": NAMES.dlq_topic}

    def store(batch: DataFrame, batch_id: int) -> None:
        # One task writes both sinks, leaving the other task slots to the respond query (on our
        # 2 cores, a store task per Kafka partition held every slot and delayed the answers).
        started = time.monotonic()
        batch.coalesce(1).foreachPartition(
            lambda rows: sinks.write_partition(rows, mongo=mongo, cassandra=cassandra, dead_letters=dead_letters))
        seconds = time.monotonic() - started
        if seconds > SLOW_STORE_BATCH_S:
            log.warning("slow store batch %s: %.1f s", batch_id, seconds)

    # Every record of the topic: sinks.write_partition stores the predictions and sends the
    # others to the dead-letter topic (stage store) with the reason.
    records = (kafka_source(spark, args, NAMES.response_topic, **{"kafka.isolation.level": "read_committed"})
               .select(F.col("value").cast("string").alias("value"), "topic", "partition", "offset"))
    store_query = (records.writeStream.queryName(f"{args.query_prefix}store")
                   .foreachBatch(store)
                   .option("checkpointLocation", f"{checkpoints(args)}/store")
                   .trigger(processingTime=args.store_trigger)
                   .start())

    # The archive keeps what the store keeps (the store's dead letters name the others, "hdfs"
    # among their sinks): the contract's UUID and timestamps, a date, a prediction.
    responses = records.withColumn("p", F.from_json("value", PREDICTION_SCHEMA)).where(
        F.col("p.UUID").rlike(f"^{contract.CANONICAL_UUID}$")
        & F.col("p.PredictedAt").rlike(f"^{contract.CANONICAL_TIMESTAMP}$")
        & F.col("p.ReceivedAt").rlike(f"^{contract.CANONICAL_TIMESTAMP}$")
        & F.try_to_timestamp("p.PredictedAt").isNotNull() & F.try_to_date("p.FlightDate").isNotNull()
        & F.col("p.Prediction").isNotNull())
    parsed = responses.select("p.*").withColumn("date", F.to_date(F.try_to_timestamp("PredictedAt")))
    archive = (parsed.writeStream.queryName(f"{args.query_prefix}archive")
               .format("parquet")
               .option("path", f"{args.hdfs.rstrip('/')}{NAMES.hdfs_prediction_dir}")
               .option("checkpointLocation", f"{checkpoints(args)}/archive")
               .partitionBy("date")
               .trigger(processingTime=args.archive_trigger)
               .start())
    return [store_query, archive]


PREDICTION_SCHEMA = T.StructType([
    *REQUEST_SCHEMA.fields,
    T.StructField("ReceivedAt", T.StringType()), T.StructField("Distance", T.DoubleType()),
    T.StructField("Prediction", T.IntegerType()), T.StructField("PredictionLabel", T.StringType()),
    T.StructField("Probabilities", T.ArrayType(T.DoubleType())), T.StructField("ModelName", T.StringType()),
    T.StructField("ModelVersion", T.StringType()), T.StructField("PredictedAt", T.StringType()),
])


def session(args) -> SparkSession:
    """The application's session. Real-time mode keeps one task running per request partition for
    as long as a batch lasts, and the store and archive queries need slots beside them: on a local
    master the thread count is raised to that (the tasks mostly wait on Kafka); a cluster must
    offer as many cores."""
    from pyspark import SparkConf, SparkContext

    # UTC: contract_sql renders timestamps in the session's zone, and the contract's are UTC.
    builder = SparkSession.builder.appName("prediction_stream").config("spark.sql.session.timeZone", "UTC")
    if args.respond_mode == "realtime":
        from confluent_kafka.admin import AdminClient

        topics = AdminClient({"bootstrap.servers": args.bootstrap_servers}).list_topics(timeout=30).topics
        needed = len(topics[NAMES.request_topic].partitions) + 2
        SparkContext._ensure_initialized()  # so that SparkConf reads what spark-submit was given
        master = SparkConf().get("spark.master", "local[*]")
        local = re.fullmatch(r"local\[(\d+|\*)\]", master)
        if local and (int(local.group(1)) if local.group(1) != "*" else os.cpu_count() or 1) < needed:
            log.warning("real-time mode: %s has too few task slots, using local[%s]", master, needed)
            builder = builder.master(f"local[{needed}]")
        elif not master.startswith("local"):
            log.warning("real-time mode needs %s task slots on %s", needed, master)
    return builder.getOrCreate()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hdfs", required=True)
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--model-name", default=NAMES.model_name)
    parser.add_argument("--alias", default=CHAMPION_ALIAS)
    parser.add_argument("--mongo-uri", required=True)
    parser.add_argument("--cassandra-host", required=True)
    parser.add_argument("--cassandra-port", type=int, default=9042)
    parser.add_argument("--checkpoint-root", default="", help="default: <hdfs>/user/spark/checkpoints/prediction_stream")
    parser.add_argument("--model-cache", default="", help=f"default: <hdfs>{model_cache.MODEL_CACHE}")
    parser.add_argument("--query-prefix", default="", help="prefix of query names, checkpoints, transactional id")
    parser.add_argument("--respond-mode", choices=("realtime", "microbatch"), default="realtime",
                        help="realtime: Spark real-time mode (see start_respond_realtime); microbatch: a Kafka "
                             "transaction per micro-batch")
    parser.add_argument("--realtime-checkpoint", default="60 seconds", help="real-time mode batch (checkpoint) interval")
    parser.add_argument("--respond-trigger", default="0 seconds")
    parser.add_argument("--store-trigger", default="1 second")
    parser.add_argument("--archive-trigger", default="30 seconds")
    parser.add_argument("--max-offsets-per-trigger", type=int, default=20000)
    parser.add_argument("--model-poll-seconds", type=float, default=5.0)
    parser.add_argument("--model-wait-minutes", type=float, default=30.0)
    parser.add_argument("--lease-minutes", type=float, default=0.0, help="stop cleanly after this long; 0: never")
    args = parser.parse_args(argv)
    args.model_cache = args.model_cache or f"{args.hdfs.rstrip('/')}{model_cache.MODEL_CACHE}"
    args.checkpoint_root = args.checkpoint_root or f"{args.hdfs.rstrip('/')}/user/spark/checkpoints/prediction_stream"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)

    spark = session(args)
    spark.sparkContext.setLogLevel("WARN")
    heartbeat = StreamHeartbeat(spark, args.hdfs)
    if heartbeat.stop_requested(force=True):
        log.warning("the platform is stopping (%s exists): not starting", heartbeat.stop_path)
        spark.stop()
        return 0
    heartbeat.write("starting", model=args.model_name)
    ensure_commit_topic(args.bootstrap_servers)
    airports = spark.read.csv(f"{args.hdfs.rstrip('/')}{lake.AIRPORTS}", header=True).select(
        "faa", F.col("lat").cast("double").alias("lat"), F.col("lon").cast("double").alias("lon")).cache()
    log.warning("airports loaded: %s", airports.count())
    validator = contract_sql.with_request if args.respond_mode == "realtime" else python_contract
    def load(client, name: str, version: str):
        return model_cache.load_pipeline(spark, client, name, version, args.model_cache)

    champion = Champion(args.model_name, args.alias, args.model_poll_seconds, load,
                        check=lambda model, version: check_model(spark, model, version, airports, validator))
    champion.wait(args.model_wait_minutes * 60)

    if args.respond_mode == "realtime":
        def restart_respond():
            return start_respond_realtime(spark, args, champion, airports)
    else:
        responder = TransactionalResponder(args, champion)

        def restart_respond():
            return start_respond(spark, args, champion, airports, responder)
    respond = restart_respond()
    sink_queries = start_sinks(spark, args)
    log.warning("started queries %s; serving %s version %s", [respond.name] + [q.name for q in sink_queries],
                args.model_name, champion.version)
    deadline = time.monotonic() + args.lease_minutes * 60 if args.lease_minutes > 0 else None
    last_logged = None
    while deadline is None or time.monotonic() < deadline:
        try:
            spark.streams.awaitAnyTermination(1)
        except Exception as exc:  # a query failed: end the application so its owner resubmits it
            log.error("a query failed, stopping: %s", exc)
            for query in [respond, *sink_queries]:
                query.stop()
            heartbeat.write("stopped", model=args.model_name, version=champion.version)
            spark.stop()
            return 1
        stopped = [q.name for q in [respond, *sink_queries] if not q.isActive]
        if stopped:
            log.error("queries %s stopped unexpectedly", stopped)
            heartbeat.write("stopped", model=args.model_name, version=champion.version)
            spark.stop()
            return 1
        heartbeat.write("serving", {q.name: q.isActive for q in [respond, *sink_queries]}, args.model_name,
                        champion.version, force=False)
        progress = respond.lastProgress
        if progress and progress["numInputRows"] and progress["batchId"] != last_logged:
            last_logged = progress["batchId"]
            log.info("respond batch %s: %s rows, durations %s", progress["batchId"], progress["numInputRows"],
                     progress["durationMs"])
        if champion.poll():
            # The model is part of the respond query's plan: swap it by restarting that query from
            # its checkpoint (requests wait in Kafka meanwhile; none is dropped or answered twice).
            started = time.monotonic()
            respond.stop()
            spark.streams.resetTerminated()
            if args.respond_mode == "realtime":
                time.sleep(1)  # records the stopped tasks had handed to their producer reach Kafka
            respond = restart_respond()
            log.warning("now serving %s version %s (respond query restarted in %.2f s)", champion.name,
                        champion.version, time.monotonic() - started)
        if heartbeat.stop_requested():
            log.warning("stop requested (make stop) at %s: stopping the queries",
                        datetime.now(timezone.utc).isoformat(timespec="seconds"))
            break
    else:
        log.warning("lease of %.0f min over at %s: stopping the queries", args.lease_minutes,
                    datetime.now(timezone.utc).isoformat(timespec="seconds"))
    queries = [respond, *sink_queries]
    for query in queries:
        query.stop()
    heartbeat.write("stopped", model=args.model_name, version=champion.version)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
