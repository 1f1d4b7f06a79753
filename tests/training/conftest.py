"""Fixtures for the training-pipeline tests (they run DAGs with dag.test() on the platform)."""
from __future__ import annotations

from contextlib import contextmanager

import pytest


@pytest.fixture(autouse=True)
def _platform_running(platform):
    return platform


@contextmanager
def paused(dag_id: str):
    """The DAG paused meanwhile: the platform's scheduler then leaves the runs of dag.test() to it
    (on an active DAG it queues the same task instances too, and one of the two runs fails)."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        model = session.get(DagModel, dag_id)
        was, model.is_paused = model.is_paused, True
    try:
        yield
    finally:
        with create_session() as session:
            session.get(DagModel, dag_id).is_paused = was


def run_dag(dag, **conf):
    """dag.test() with params; returns the DagRun and fails the test if it did not succeed.
    announce=false unless given: a test's run does not start the live chain's next DAGs."""
    conf.setdefault("announce", False)
    with paused(dag.dag_id):
        run = dag.test(run_conf=conf)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", f"{dag.dag_id} ended {run.state}: {states}"
    return run
