"""Fixtures for the training-pipeline tests (they run DAGs with dag.test() on the platform)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _platform_running(platform):
    return platform


def run_dag(dag, **conf):
    """dag.test() with params; returns the DagRun and fails the test if it did not succeed.
    announce=false unless given: a test's run does not start the live chain's next DAGs."""
    conf.setdefault("announce", False)
    run = dag.test(run_conf=conf)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", f"{dag.dag_id} ended {run.state}: {states}"
    return run
