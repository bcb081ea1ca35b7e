"""Resources injected into the assets. Thin: each wraps a plain object of the pure layer."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
from pydantic import Field

from bangfu.lake import Lake
from warehouse.store import Warehouse, default_url


class LandingResource(dg.ConfigurableResource):
    """落地目录 — the landing folder the ledgers arrive in (input-ledgers.md)."""

    path: str = Field(description="落地目录路径 / landing folder path")

    @property
    def root(self) -> Path:
        return Path(self.path).resolve()


class DataResource(dg.ConfigurableResource):
    """数据目录 — where the lake, workbooks and reports are written."""

    path: str = Field(description="数据目录路径 / data folder path")

    @property
    def root(self) -> Path:
        return Path(self.path).resolve()

    @property
    def lake(self) -> Lake:
        return Lake(self.root / "lake")

    def workbook_path(self, year: int, unit_code: str) -> Path:
        return self.root / "workbooks" / str(year) / f"{unit_code}.xlsx"

    def report_path(self, year: int, unit_code: str) -> Path:
        return self.root / "reports" / str(year) / f"{unit_code}.docx"

    def quality_path(self, year: int) -> Path:
        return self.root / "quality" / f"{year}.xlsx"


class WarehouseResource(dg.ConfigurableResource):
    """数据仓库 — SQLite by default, BANGFU_WAREHOUSE_URL (from the environment) for PostgreSQL."""

    data_path: str = Field(description="数据目录路径; SQLite 仓库位于其中 warehouse.db")

    def get(self) -> Warehouse:
        wh = Warehouse(default_url(Path(self.data_path)))
        wh.create_all()
        return wh


class AuditSettingsResource(dg.ConfigurableResource):
    """审计参数 — every threshold of rules.md; overrides as JSON, recorded in the run config."""

    overrides_json: str = Field(
        default="{}",
        description='覆盖默认阈值的 JSON，例如 {"relative_line_factor": 1.4}',
    )

    def overrides(self) -> dict:
        return json.loads(self.overrides_json or "{}")
