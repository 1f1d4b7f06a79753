"""A registered model version's Spark PipelineModel, kept in the cluster's file system after its
first load, and a snapshot of it that loads in about a second. `mlflow.spark.load_model` downloads
the artifacts and copies them to a DFS temporary folder at every load, and `PipelineModel.load`
runs a Spark job per stage (11 s idle, 20 s during a platform start); the stream loads a version
at each (re)start, so it reads the snapshot when there is one.
"""
from __future__ import annotations

import importlib
import json
import logging
import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

MODEL_CACHE = "/user/spark/models"  # under the cluster's default file system
COMPLETE = "_COMPLETE"
SPARK_FLAVOR_DATA = "sparkml"  # the spark flavor's model_data folder in an MLflow model
# Python stages rebuilt from a snapshot come from these packages only (the manifest names them).
PYTHON_STAGE_PACKAGES = ("flightdelay.",)


def cache_path(cache_root: str, name: str, version: str, run_id: str) -> str:
    """Where a version is kept: keyed by its run too, so a registry rebuilt with the same version
    numbers never reads another model's copy."""
    return f"{cache_root.rstrip('/')}/{name}/{version}-{run_id}"


def snapshot_path(snapshot_root: str, name: str, version: str, run_id: str) -> str:
    """A snapshot is keyed by the Spark version too: Java serialization holds within one."""
    import pyspark

    return f"{cache_path(snapshot_root, name, version, run_id)}-spark{pyspark.__version__}"


def _fs(spark: "SparkSession", path: str):
    jvm = spark._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark._jsc.hadoopConfiguration()), jvm.org.apache.hadoop.fs.Path


def python_stage_spec(stage) -> dict:
    """A Python stage as JSON: its class, uid and the params set on it (our stages' are strings and numbers)."""
    return {"module": type(stage).__module__, "class": type(stage).__name__, "uid": stage.uid,
            "params": {param.name: value for param, value in stage._paramMap.items()}}


def python_stage(spec: dict):
    """The stage that python_stage_spec described; only classes of PYTHON_STAGE_PACKAGES."""
    if not spec["module"].startswith(PYTHON_STAGE_PACKAGES):
        raise ValueError(f"snapshot names a stage outside {PYTHON_STAGE_PACKAGES}: {spec['module']}")
    stage = getattr(importlib.import_module(spec["module"]), spec["class"])()
    stage._resetUid(spec["uid"])
    stage._set(**spec["params"])
    return stage


def save_snapshot(spark: "SparkSession", model: "PipelineModel", path: str) -> None:
    """The JVM stages Java-serialized in one file, the Python stages in a JSON manifest written
    last (the snapshot is complete once it exists); folders 0700, for the file holds code."""
    jvm = spark._jvm
    fs, hadoop_path = _fs(spark, path)
    fs.delete(hadoop_path(path), True)
    fs.mkdirs(hadoop_path(path), jvm.org.apache.hadoop.fs.permission.FsPermission(0o700))
    java_stages = jvm.java.util.ArrayList()
    manifest = []
    for stage in model.stages:
        if getattr(stage, "_java_obj", None) is not None:
            java_stages.add(stage._java_obj)
            manifest.append({"java": java_stages.size() - 1})
        else:
            manifest.append(python_stage_spec(stage))
    out = jvm.java.io.ObjectOutputStream(fs.create(hadoop_path(f"{path}/stages.ser"), True))
    out.writeObject(java_stages)
    out.close()
    stream = fs.create(hadoop_path(f"{path}/manifest.json"), True)
    stream.write(bytearray(json.dumps({"stages": manifest}).encode()))
    stream.close()


def load_snapshot(spark: "SparkSession", path: str) -> "PipelineModel | None":
    """The PipelineModel saved by save_snapshot at `path`, or None if there is no complete one."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.wrapper import JavaParams

    jvm = spark._jvm
    fs, hadoop_path = _fs(spark, path)
    if not fs.exists(hadoop_path(f"{path}/manifest.json")):
        return None
    stream = fs.open(hadoop_path(f"{path}/manifest.json"))
    manifest = json.loads(bytes(jvm.org.apache.commons.io.IOUtils.toByteArray(stream)).decode())
    stream.close()
    objects = jvm.java.io.ObjectInputStream(fs.open(hadoop_path(f"{path}/stages.ser")))
    java_stages = objects.readObject()
    objects.close()
    return PipelineModel([JavaParams._from_java(java_stages.get(spec["java"])) if "java" in spec
                          else python_stage(spec) for spec in manifest["stages"]])


def load_pipeline(spark: "SparkSession", mlflow_client: Any, name: str, version: str,
                  cache_root: str, snapshot_root: str = "") -> "PipelineModel":
    """The PipelineModel of `name` version `version`: from its snapshot under `snapshot_root` if
    there is one; else from its copy under `cache_root` (any Hadoop file system URI), made the
    first time and complete once its marker file exists, then snapshot for the next load."""
    from pyspark.ml import PipelineModel

    run_id = mlflow_client.get_model_version(name, version).run_id
    snapshot = snapshot_path(snapshot_root, name, version, run_id) if snapshot_root else ""
    if snapshot:
        try:
            model = load_snapshot(spark, snapshot)
            if model is not None:
                return model
        except Exception as exc:  # a stale or damaged snapshot: the copy below still loads
            log.warning("model snapshot %s not loadable, loading the saved model: %s", snapshot, exc)
    path = cache_path(cache_root, name, version, run_id)
    fs, hadoop_path = _fs(spark, path)
    marker = hadoop_path(f"{path}/{COMPLETE}")
    if not fs.exists(marker):
        from mlflow.artifacts import download_artifacts

        with tempfile.TemporaryDirectory() as tmp:
            local = download_artifacts(f"models:/{name}/{version}/{SPARK_FLAVOR_DATA}", dst_path=tmp)
            fs.delete(hadoop_path(path), True)
            fs.copyFromLocalFile(False, True, hadoop_path(f"file://{local}"),
                                 hadoop_path(f"{path}/{SPARK_FLAVOR_DATA}"))
        fs.create(marker, True).close()
    model = PipelineModel.load(f"{path}/{SPARK_FLAVOR_DATA}")
    if snapshot:
        try:
            save_snapshot(spark, model, snapshot)
        except Exception as exc:  # the next start loads the slow way again
            log.warning("could not save the model snapshot %s: %s", snapshot, exc)
    return model
