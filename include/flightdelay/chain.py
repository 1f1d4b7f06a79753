"""The `announce` switch of the training chain's DAGs: a run with announce=false does its work
but emits no asset event, so the DAGs downstream of it do not start (tests, one-off runs)."""
from __future__ import annotations

from airflow.sdk import Param

ANNOUNCE_DESCRIPTION = "emit this DAG's asset event, which starts the next DAGs of the chain (tests set false)"


def announce_param() -> Param:
    return Param(True, type="boolean", description=ANNOUNCE_DESCRIPTION)


def skip_unless_announced(params: dict, what: str) -> None:
    """Skip the announcing task (no asset event) when the run's `announce` param is false."""
    from airflow.sdk.exceptions import AirflowSkipException

    if not params.get("announce", True):
        raise AirflowSkipException(f"announce=false: {what} is not announced, the next DAGs do not start")
