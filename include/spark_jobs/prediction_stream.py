"""The real-time prediction stream: Kafka requests -> the registry's champion model -> Kafka
responses, MongoDB, Cassandra and HDFS parquet, in three Structured Streaming queries (respond,
store, archive). The parts are in flightdelay.stream; this program reads its options and serves.

    spark-submit include/spark_jobs/prediction_stream.py --hdfs hdfs://127.0.0.1:9000 \\
        --bootstrap-servers 127.0.0.1:9092 --mongo-uri mongodb://127.0.0.1:27017 \\
        --cassandra-host 127.0.0.1 [--respond-mode microbatch] [--lease-minutes 60]
"""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import MISSING, fields

from flightdelay.stream.app import serve
from flightdelay.model_cache import MODEL_CACHE
from flightdelay.stream.options import CHECKPOINTS, StreamOptions

HELP = {
    "checkpoint_root": f"default: <hdfs>{CHECKPOINTS}",
    "model_cache": f"default: <hdfs>{MODEL_CACHE}",
    "model_snapshots": "default: <checkpoint-root>/model-snapshots (a model's snapshot loads in about a second)",
    "query_prefix": "prefix of query names, checkpoints and the transactional id",
    "respond_mode": "realtime: Spark's real-time mode; microbatch: a Kafka transaction per micro-batch",
    "realtime_checkpoint": "real-time mode batch (checkpoint) interval",
    "archive_max_offsets": "records per archive batch",
    "lease_minutes": "stop cleanly after this long; 0: never",
}


def parse(argv: list[str] | None = None) -> StreamOptions:
    """One --option per StreamOptions field; those without a default are required."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for field in fields(StreamOptions):
        kind = {"int": int, "float": float}.get(str(field.type), str)
        extra = {"choices": ("realtime", "microbatch")} if field.name == "respond_mode" else {}
        if field.default is MISSING:
            parser.add_argument(f"--{field.name.replace('_', '-')}", type=kind, required=True, **extra)
        else:
            parser.add_argument(f"--{field.name.replace('_', '-')}", type=kind, default=field.default,
                                help=HELP.get(field.name), **extra)
    return StreamOptions(**vars(parser.parse_args(argv)))


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    return serve(options)


if __name__ == "__main__":
    sys.exit(main())
