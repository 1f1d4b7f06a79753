"""How DAGs submit the Spark programs of include/spark_jobs/ (one place for the shared settings)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flightdelay.config import SPARK_CONN_ID

SPARK_JOBS = Path(__file__).resolve().parents[1] / "spark_jobs"
# spark.cores.max and the executor's memory: on a cluster (docker-compose, SPARK_CLUSTER=standalone)
# no application takes every slot, so batch jobs run beside the long-running stream (a local
# master ignores both).
SPARK_CONF = {"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false", "spark.executor.memory": "2g",
              "spark.ui.showConsoleProgress": "false", "spark.cores.max": "4"}


def class_archive_options(program: str) -> str:
    """JVM options of a class-data-sharing archive for `program`'s Spark driver, whose cold start
    (about 20k classes) it shortens by about 6 s: the first run writes it when its JVM exits and
    later runs map it. '' where FLIGHTDELAY_JVM_ARCHIVES is unset (docker-compose)."""
    folder = os.environ.get("FLIGHTDELAY_JVM_ARCHIVES")
    if not folder:
        return ""
    import pyspark

    Path(folder).mkdir(mode=0o700, parents=True, exist_ok=True)
    archive = Path(folder) / f"{program}-spark{pyspark.__version__}.jsa"  # the classes of one Spark version
    return f"-XX:SharedArchiveFile={archive}" if archive.exists() else f"-XX:ArchiveClassesAtExit={archive}"


def spark_job(task_id: str, script: str, application_args: list[str], driver_memory: str = "2g",
              conf: dict[str, str] | None = None, **kwargs: Any):
    """A SparkSubmitOperator running include/spark_jobs/`script` on connection spark_default
    (`conf` adds to or overrides SPARK_CONF)."""
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    return SparkSubmitOperator(
        task_id=task_id,
        conn_id=SPARK_CONN_ID,
        application=str(SPARK_JOBS / script),
        application_args=application_args,
        name=Path(script).stem,
        driver_memory=driver_memory,
        conf={**SPARK_CONF, **(conf or {})},
        **kwargs,
    )
