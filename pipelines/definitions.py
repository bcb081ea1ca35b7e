"""Definitions in one place: assets, checks, jobs, schedule, sensor and resources.

`dagster dev` (workspace.yaml) loads `defs`, configured from the environment:
BANGFU_LANDING (default ./data/landing) and BANGFU_DATA (default ./data). The `bangfu` CLI
builds the same graph with `build_defs(landing, data)`.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from assets import ingest, reference
from resources import AuditSettingsResource, DataResource, LandingResource, WarehouseResource

ASSET_MODULES = [reference, ingest]

reference_job = dg.define_asset_job(
    "reference_job",
    selection=dg.AssetSelection.groups("ingest") - dg.AssetSelection.assets(ingest.ledgers),
    description="读入参考数据（机构名录、民政标准、比对名单）。Reference data.",
)
unit_stage_job = dg.define_asset_job(
    "unit_stage_job",
    selection=dg.AssetSelection.assets(ingest.ledgers),
    description="按（年度，单位）分区：台账入湖。Per (year, unit): ingest.",
)

# The stages `bangfu run` launches in order, each as ranged runs (see pipelines.runner).
STAGE_JOBS = ["unit_stage_job"]
YEAR_JOBS: set[str] = set()
JOBS = [reference_job, unit_stage_job]


def is_year_job(name: str) -> bool:
    return name in YEAR_JOBS


def build_defs(landing: str | Path, data: str | Path) -> dg.Definitions:
    data = str(Path(data).resolve())
    return dg.Definitions(
        assets=dg.load_assets_from_modules(ASSET_MODULES),
        asset_checks=dg.load_asset_checks_from_modules(ASSET_MODULES),
        jobs=JOBS,
        resources={
            "landing": LandingResource(path=str(Path(landing).resolve())),
            "data": DataResource(path=data),
            "warehouse": WarehouseResource(data_path=data),
            "audit_settings": AuditSettingsResource(),
        },
    )


def _from_env() -> dg.Definitions:
    data = os.environ.get("BANGFU_DATA", "data")
    landing = os.environ.get("BANGFU_LANDING", str(Path(data) / "landing"))
    return build_defs(landing, data)


defs = _from_env()
