"""Definitions in one place: assets, checks, jobs, schedule, sensor and resources.

`dagster dev` (workspace.yaml) loads `defs`, configured from the environment:
BANGFU_LANDING (default ./data/landing), BANGFU_DATA (default ./data) and BANGFU_WAREHOUSE_URL
(default: the SQLite file of the data folder). The `bangfu` CLI
builds the same graph with `build_defs(landing, data)`.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from assets import (
    findings,
    ingest,
    metrics,
    outputs_inputs,
    overview,
    reference,
    reviews,
    validation,
    workbooks,
)
from assets.catalog import with_column_schemas
from pipelines.automation import automation_sensor, landing_sensor, nightly_schedule
from pipelines.jobs import JOBS, STAGE_JOBS, YEAR_JOBS
from resources import AuditSettingsResource, DataResource, LandingResource, WarehouseResource
from warehouse.store import WAREHOUSE_URL_ENV

ASSET_MODULES = [reference, ingest, validation, findings, metrics, overview, reviews, workbooks]

__all__ = ["STAGE_JOBS", "build_defs", "defs", "is_year_job"]


def is_year_job(name: str) -> bool:
    return name in YEAR_JOBS


def warehouse_resource(data: str) -> WarehouseResource:
    """The warehouse of ``data``: BANGFU_WAREHOUSE_URL through ``EnvVar`` (resolved when a run
    starts, never shown) when it is set, else the SQLite file of the data folder."""
    url = dg.EnvVar(WAREHOUSE_URL_ENV) if os.environ.get(WAREHOUSE_URL_ENV) else None
    return WarehouseResource(data_path=data, url=url)


def build_defs(
    landing: str | Path, data: str | Path, executor: dg.ExecutorDefinition | None = None
) -> dg.Definitions:
    """The one place the graph is put together (``defs`` below, `bangfu run`, the tests).

    Runs the daemon or the UI launches execute their steps in the run's own process, as `bangfu
    run` does (``executor``, default in-process; deploy/celery_defs.py passes celery's). Dagster's
    own default would start a process per step, each importing the code location again, and the
    stages parallelise their work themselves (the ingestion's worker pool)."""
    data = str(Path(data).resolve())
    return dg.Definitions(
        executor=executor or dg.in_process_executor,
        assets=with_column_schemas(
            # the external spec that the year stage reports on (load_assets_from_modules
            # collects executable assets only)
            [*dg.load_assets_from_modules(ASSET_MODULES), outputs_inputs.unit_audit_inputs]
        ),
        asset_checks=dg.load_asset_checks_from_modules(ASSET_MODULES),
        jobs=JOBS,
        schedules=[nightly_schedule],
        sensors=[landing_sensor, automation_sensor],
        resources={
            "landing": LandingResource(path=str(Path(landing).resolve())),
            "data": DataResource(path=data),
            "warehouse": warehouse_resource(data),
            "audit_settings": AuditSettingsResource(),
        },
    )


def _from_env() -> dg.Definitions:
    data = os.environ.get("BANGFU_DATA", "data")
    landing = os.environ.get("BANGFU_LANDING", str(Path(data) / "landing"))
    return build_defs(landing, data)


defs = _from_env()
