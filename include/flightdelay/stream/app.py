"""The streaming application: its Spark session, its three queries, and the loop that watches
them: a failed query ends the job (its Airflow task resubmits it), a new champion is swapped in by
restarting the respond query from its checkpoint, and `make stop`'s stop file or the lease's end
stops the queries cleanly."""
from __future__ import annotations

import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from flightdelay import contract_sql, lake, model_cache
from flightdelay.config import NAMES
from flightdelay.serving_status import StreamHeartbeat
from flightdelay.stream import respond, sink_queries, topics
from flightdelay.stream.champion import Champion, cache_lookup_tables, check_model
from flightdelay.stream.options import StreamOptions

log = logging.getLogger("prediction_stream")


# UTC: contract_sql renders timestamps in the session's zone, and the contract's are UTC. The two
# optimizer features off took 0.4-0.7 s of the 0.7-0.9 s the respond plan's optimisation costs, and
# a real-time query optimises again at every checkpoint while requests wait. Neither can change a
# result: dynamic partition pruning found nothing to prune (no partitioned scan), and the filters
# constraint propagation infers are implied by the plan's own.
SESSION_CONF = {"spark.sql.session.timeZone": "UTC",
                "spark.sql.optimizer.dynamicPartitionPruning.enabled": "false",
                "spark.sql.constraintPropagation.enabled": "false"}


def session(options: StreamOptions) -> SparkSession:
    """Real-time mode keeps one task running per request partition for as long as a batch lasts,
    and store and archive need slots beside them: a local master is raised to that many threads
    (the tasks mostly wait on Kafka); a cluster must offer as many cores."""
    from pyspark import SparkConf, SparkContext

    builder = SparkSession.builder.appName("prediction_stream").config(map=SESSION_CONF)
    if options.respond_mode == "realtime":
        from confluent_kafka.admin import AdminClient

        found = AdminClient({"bootstrap.servers": options.bootstrap_servers}).list_topics(timeout=30).topics
        needed = len(found[NAMES.request_topic].partitions) + 2
        SparkContext._ensure_initialized()  # so that SparkConf reads what spark-submit was given
        master = SparkConf().get("spark.master", "local[*]")
        local = re.fullmatch(r"local\[(\d+|\*)\]", master)
        if local and (int(local.group(1)) if local.group(1) != "*" else os.cpu_count() or 1) < needed:
            log.warning("real-time mode: %s has too few task slots, using local[%s]", master, needed)
            builder = builder.master(f"local[{needed}]")
        elif not master.startswith("local"):
            log.warning("real-time mode needs %s task slots on %s", needed, master)
    return builder.getOrCreate()


def load_airports(spark: SparkSession, options: StreamOptions):
    """The airports' coordinates from the lake, cached (the respond query joins them for Distance)."""
    airports = spark.read.csv(f"{options.hdfs.rstrip('/')}{lake.AIRPORTS}", header=True).select(
        "faa", F.col("lat").cast("double").alias("lat"), F.col("lon").cast("double").alias("lon")).cache()
    log.warning("airports loaded: %s", airports.count())
    return airports


def serve(options: StreamOptions) -> int:
    """Run the three queries until the lease ends or `make stop` asks; 1 if a query failed."""
    spark = session(options)
    spark.sparkContext.setLogLevel("WARN")
    heartbeat = StreamHeartbeat(spark, options.hdfs)
    if heartbeat.stop_requested(force=True):
        log.warning("the platform is stopping (%s exists): not starting", heartbeat.stop_path)
        spark.stop()
        return 0
    heartbeat.write("starting", model=options.model_name)
    topics.ensure_commit_topic(options.bootstrap_servers)
    realtime = options.respond_mode == "realtime"
    # The start's three reads overlap: the requests answered since the last commit (a Kafka read
    # in Python), the airports (a first Spark job) and the champion (loaded here, then checked).
    pool = ThreadPoolExecutor(2, thread_name_prefix="start")
    answered = pool.submit(respond.answered_since_commit, spark, options)
    airports_read = pool.submit(load_airports, spark, options)
    pool.shutdown(wait=False)
    validator = contract_sql.with_request if realtime else respond.python_contract

    def load(client, name: str, version: str):
        return model_cache.load_pipeline(spark, client, name, version, options.model_cache, options.model_snapshots)

    def loaded_airports():
        try:
            return airports_read.result()
        except Exception as exc:  # not the model's fault: no version may be rejected for it
            raise SystemExit(f"the airports table {lake.AIRPORTS} is not readable: {exc}") from exc

    champion = Champion(options.model_name, options.alias, options.model_poll_seconds, load,
                        check=lambda model, version: check_model(spark, model, version, loaded_airports(), validator))
    champion.wait(options.model_wait_minutes * 60)
    airports = loaded_airports()
    cached = cache_lookup_tables(spark, champion.model, [])
    if realtime:
        respond.warm_up(spark, champion, airports)

        def start_respond(answered=None):
            return respond.start_realtime(spark, options, champion, airports, answered)
    else:
        responder = respond.TransactionalResponder(options, champion)

        def start_respond(answered=None):
            return respond.start_microbatch(spark, options, champion, airports, responder, answered)
    responding = start_respond(answered.result())
    sink_queries.wait_for_stores(options)
    others = [sink_queries.start_store(spark, options), sink_queries.start_archive(spark, options)]
    log.warning("started queries %s; serving %s version %s", [responding.name] + [q.name for q in others],
                options.model_name, champion.version)

    def stop_all(state: str) -> None:
        for query in [responding, *others]:
            query.stop()
        heartbeat.write(state, model=options.model_name, version=champion.version)
        spark.stop()

    deadline = time.monotonic() + options.lease_minutes * 60 if options.lease_minutes > 0 else None
    last_logged = None
    while deadline is None or time.monotonic() < deadline:
        try:
            spark.streams.awaitAnyTermination(1)
        except Exception as exc:  # a query failed: end the application so its owner resubmits it
            log.error("a query failed, stopping: %s", exc)
            stop_all("stopped")
            return 1
        stopped = [q.name for q in [responding, *others] if not q.isActive]
        if stopped:
            log.error("queries %s stopped unexpectedly", stopped)
            heartbeat.write("stopped", model=options.model_name, version=champion.version)
            spark.stop()
            return 1
        heartbeat.write("serving", {q.name: q.isActive for q in [responding, *others]}, options.model_name,
                        champion.version, force=False)
        progress = responding.lastProgress
        if progress and progress["numInputRows"] and progress["batchId"] != last_logged:
            last_logged = progress["batchId"]
            log.info("respond batch %s: %s rows, durations %s", progress["batchId"], progress["numInputRows"],
                     progress["durationMs"])
        if champion.poll():
            # The model is part of the respond query's plan: swap it by restarting that query from
            # its checkpoint (requests wait in Kafka meanwhile; none is dropped or answered twice).
            started = time.monotonic()
            cached = cache_lookup_tables(spark, champion.model, cached)
            responding.stop()
            spark.streams.resetTerminated()
            if realtime:
                time.sleep(1)  # records the stopped tasks had handed to their producer reach Kafka
            responding = start_respond()
            log.warning("now serving %s version %s (respond query restarted in %.2f s)", champion.name,
                        champion.version, time.monotonic() - started)
        if heartbeat.stop_requested():
            log.warning("stop requested (make stop) at %s: stopping the queries",
                        datetime.now(timezone.utc).isoformat(timespec="seconds"))
            break
    else:
        log.warning("lease of %.0f min over at %s: stopping the queries", options.lease_minutes,
                    datetime.now(timezone.utc).isoformat(timespec="seconds"))
    stop_all("stopped")
    return 0
