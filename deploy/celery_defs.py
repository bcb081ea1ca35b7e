"""The bangfu graph on Dagster's celery executor (dagster-celery, Redis broker).

Each step of a run is sent to the `dagster` queue; the celery workers (deploy/celery_worker.yaml,
docs/DEPLOY.md) reconstruct the job from this module, so it must be importable by the workers
with the same environment as the code location:

    BANGFU_DATA, BANGFU_LANDING   the lake and the landing folder (a filesystem all workers share)
    BANGFU_WAREHOUSE_URL          the PostgreSQL warehouse (SQLite is not for several workers)
    DAGSTER_HOME                  an instance with PostgreSQL storage (deploy/dagster.yaml)
    BANGFU_CELERY_BROKER          e.g. redis://redis-host:6379/0 (also the results backend)

Code location: `dagster code-server start -m deploy.celery_defs -a defs` (or the webserver's
`-m deploy.celery_defs`). Runs then need the executor config of celery_run_config().
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster_celery import celery_executor

from pipelines.definitions import build_defs

BROKER_ENV = "BANGFU_CELERY_BROKER"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"


def celery_defs() -> dg.Definitions:
    """build_defs() from the environment (as pipelines.definitions.defs), celery as executor."""
    data = os.environ.get("BANGFU_DATA", "data")
    landing = os.environ.get("BANGFU_LANDING", str(Path(data) / "landing"))
    return build_defs(landing, data, executor=celery_executor)


def celery_run_config(broker: str | None = None) -> dict:
    """The executor config of a run; it must name the broker the workers listen to."""
    broker = broker or os.environ.get(BROKER_ENV, DEFAULT_BROKER)
    return {"execution": {"config": {"broker": broker, "backend": broker}}}


# Module-level job factories: `dg.reconstructable(unit_stage_job_on_celery)` is how a run's
# steps are rebuilt in a worker process.
def unit_stage_job_on_celery() -> dg.JobDefinition:
    return celery_defs().resolve_job_def("unit_stage_job")


def year_stage_job_on_celery() -> dg.JobDefinition:
    return celery_defs().resolve_job_def("year_stage_job")


def output_stage_job_on_celery() -> dg.JobDefinition:
    return celery_defs().resolve_job_def("output_stage_job")


defs = celery_defs()
