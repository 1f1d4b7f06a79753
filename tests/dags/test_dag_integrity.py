"""Every DAG imports without errors and follows the policy of STYLE.md."""
from __future__ import annotations

from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}, dagbag.import_errors


def test_every_dag_file_defines_one_dag(dagbag):
    files = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
    assert files, "no DAG files found"
    for path in files:
        dags = [d for d in dagbag.dags.values() if Path(d.fileloc) == path]
        assert len(dags) == 1, f"{path.name} defines {len(dags)} DAGs"
        assert dags[0].dag_id == path.stem, f"{path.name}: dag_id {dags[0].dag_id} differs from file name"


def test_dag_policy(dagbag):
    assert dagbag.dags
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert dag.start_date is not None and dag.start_date.tzinfo is not None, f"{dag_id}: naive start_date"
        assert dag.catchup is not None
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id}: owner not set"
            assert task.retries >= 1, f"{dag_id}.{task.task_id}: no retries"


def test_dag_files_do_no_heavy_imports_at_parse_time():
    heavy = ("import pyspark", "from pyspark", "import mlflow", "from mlflow", "import pandas")
    for path in DAGS_DIR.glob("*.py"):
        top_level = [line for line in path.read_text().splitlines() if not line.startswith((" ", "\t"))]
        offending = [line for line in top_level if line.startswith(heavy)]
        assert not offending, f"{path.name} imports at parse time: {offending}"


def test_a_failed_setup_task_fails_the_setup_run(dagbag):
    """A run's state comes from its leaves: every setup task has a leaf below it that needs it to
    succeed, so a failed NiFi deploy is not hidden by the branch skipping the bootstrap."""
    dag = dagbag.dags["setup_platform"]
    leaf = dag.get_task("every_service_set_up")
    assert not leaf.downstream_task_ids and leaf.trigger_rule == "all_success"
    assert {"create_topics", "make_hdfs_folders", "apply_cassandra_schema", "ensure_mongo_indexes",
            "deploy_nifi_flow"} <= leaf.upstream_task_ids
