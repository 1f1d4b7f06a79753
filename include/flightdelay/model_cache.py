"""A registered model version's Spark PipelineModel, kept in the cluster's file system after its
first load. `mlflow.spark.load_model` downloads the artifacts and copies them to a DFS temporary
folder at every load; the stream loads a version at each (re)start, so it reads this copy.
"""
from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession

MODEL_CACHE = "/user/spark/models"  # under the cluster's default file system
COMPLETE = "_COMPLETE"
SPARK_FLAVOR_DATA = "sparkml"  # the spark flavor's model_data folder in an MLflow model


def cache_path(cache_root: str, name: str, version: str, run_id: str) -> str:
    """Where a version is kept: keyed by its run too, so a registry rebuilt with the same version
    numbers never reads another model's copy."""
    return f"{cache_root.rstrip('/')}/{name}/{version}-{run_id}"


def load_pipeline(spark: "SparkSession", mlflow_client: Any, name: str, version: str,
                  cache_root: str) -> "PipelineModel":
    """The PipelineModel of `name` version `version`, copied to `cache_root` (any Hadoop file
    system URI) the first time; the copy is complete once its marker file exists."""
    from pyspark.ml import PipelineModel

    run_id = mlflow_client.get_model_version(name, version).run_id
    path = cache_path(cache_root, name, version, run_id)
    hadoop_path = spark._jvm.org.apache.hadoop.fs.Path
    marker = hadoop_path(f"{path}/{COMPLETE}")
    fs = marker.getFileSystem(spark._jsc.hadoopConfiguration())
    if not fs.exists(marker):
        from mlflow.artifacts import download_artifacts

        with tempfile.TemporaryDirectory() as tmp:
            local = download_artifacts(f"models:/{name}/{version}/{SPARK_FLAVOR_DATA}", dst_path=tmp)
            fs.delete(hadoop_path(path), True)
            fs.copyFromLocalFile(False, True, hadoop_path(f"file://{local}"),
                                 hadoop_path(f"{path}/{SPARK_FLAVOR_DATA}"))
        fs.create(marker, True).close()
    return PipelineModel.load(f"{path}/{SPARK_FLAVOR_DATA}")
