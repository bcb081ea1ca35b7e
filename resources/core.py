"""Resources injected into the assets. Thin: each wraps a plain object of the pure layer."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import dagster as dg
from pydantic import Field, PrivateAttr

from bangfu.lake import Lake
from bangfu.settings import AuditSettings
from warehouse.store import Warehouse, sqlite_url


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

    def overview_path(self, year: int) -> Path:
        return self.root / "overview" / f"{year}.xlsx"


class WarehouseResource(dg.ConfigurableResource):
    """数据仓库 — SQLite in the data folder by default; ``url`` (the definitions pass
    ``EnvVar("BANGFU_WAREHOUSE_URL")`` when it is set) for PostgreSQL.

    One engine per run: made (and the tables created) when the run starts, disposed of when
    it ends; every asset and the sensor get the same :class:`Warehouse` from :meth:`get`."""

    data_path: str = Field(description="数据目录路径; SQLite 仓库位于其中 warehouse.db")
    url: Optional[str] = Field(  # noqa: UP045 - Dagster's config types want Optional
        default=None,
        description="仓库的 SQLAlchemy URL（密码只从环境变量来）；为空则用数据目录中的 SQLite",
    )
    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._warehouse = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.dispose()
            self._warehouse = None

    def get(self) -> Warehouse:
        if self._warehouse is None:
            wh = Warehouse(self.url or sqlite_url(Path(self.data_path)))
            wh.create_all()
            self._warehouse = wh
        return self._warehouse


def _config_type(name: str, default: Any) -> Any:
    """The Dagster config type of one AuditSettings field (None: keep the default)."""
    if name == "severities":
        return Optional[dict[str, str]]  # noqa: UP045 - rule code → 高 / 中 / 低
    if name == "cap_months_by_year":
        return Optional[dict[str, dict[str, int]]]  # noqa: UP045 - year → {living: n, …}
    if isinstance(default, tuple):
        return Optional[list[str]]  # noqa: UP045
    return Optional[type(default)]  # noqa: UP045 - bool, int, float or str


def _settings_fields() -> dict[str, tuple[Any, Any]]:
    defaults = AuditSettings()
    return {
        f.name: (
            _config_type(f.name, getattr(defaults, f.name)),
            Field(default=None, description=f"审计参数 {f.name}；为空则用默认值"),
        )
        for f in dataclasses.fields(AuditSettings)
    }


class _AuditSettingsBase(dg.ConfigurableResource):
    def overrides(self) -> dict[str, Any]:
        """The settings this run changes (fields left empty keep rules.md's defaults)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(AuditSettings)
            if getattr(self, f.name) is not None
        }

    def settings(self) -> AuditSettings:
        return AuditSettings.from_mapping(self.overrides())


# 审计参数 — every threshold of rules.md as a typed, optional field of the run config (the
# fields are AuditSettings' own, so the two cannot drift apart); empty fields keep the defaults.
AuditSettingsResource: type[_AuditSettingsBase] = type(
    "AuditSettingsResource",
    (_AuditSettingsBase,),
    {
        "__doc__": "审计参数 — rules.md 的阈值；留空即默认值，覆盖值记录在运行配置中。",
        "__module__": __name__,
        "__annotations__": {k: t for k, (t, _f) in _settings_fields().items()},
        **{k: f for k, (_t, f) in _settings_fields().items()},
    },
)


def settings_config(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Settings overrides (as the CLI's ``--settings`` JSON gives them) → the resource's run
    config. Unknown names and bad values fail here, with AuditSettings' own message."""
    AuditSettings.from_mapping(overrides)
    out = dict(overrides)
    caps = out.get("cap_months_by_year")
    if caps is not None and not isinstance(caps, Mapping):  # [[year, kind, months], …]
        by_year: dict[str, dict[str, int]] = {}
        for year, kind, months in caps:
            by_year.setdefault(str(year), {})[str(kind)] = int(months)
        out["cap_months_by_year"] = by_year
    elif caps is not None:
        out["cap_months_by_year"] = {str(y): dict(d) for y, d in caps.items()}
    return out
