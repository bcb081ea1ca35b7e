"""Reading the lake for the later stages (Dagster side; plain functions over bangfu.lake)."""

import polars as pl

from bangfu.frames import sheet_schema
from bangfu.lake import Lake
from bangfu.settings import AuditSettings
from bangfu.sheets import LEDGER_SHEETS
from resources import AuditSettingsResource


def ledger_frames(lake: Lake, year: int, units: list[str] | None) -> dict[str, pl.DataFrame]:
    """Every ledger sheet of the year for these units (None: all), canonical schema."""
    return {s.key: lake.read(s.key, [year], units, schema=sheet_schema(s)) for s in LEDGER_SHEETS}


def sheets_present(lake: Lake, year: int, units: list[str]) -> dict[str, list[str]]:
    """Sheet key → units whose ledger of the year holds that sheet (absent sheets: no data)."""
    return {s.key: [u for u in units if lake.has(s.key, year, u)] for s in LEDGER_SHEETS}


def ingest_status(lake: Lake, year: int, units: list[str] | None = None) -> pl.DataFrame:
    return lake.read(
        "ingest_status",
        [year],
        units,
        schema={"year": pl.Int64, "unit_code": pl.String, "status": pl.String},
    )


def present_units(lake: Lake, year: int, units: list[str] | None = None) -> list[str]:
    st = ingest_status(lake, year, units)
    return st.filter(pl.col("status") == "ok")["unit_code"].to_list()


def standards(lake: Lake) -> pl.DataFrame:
    frame = lake.read_single("ref_standards")
    if frame is None:
        return pl.DataFrame(
            schema={"region_code": pl.String, "year": pl.Int64, "dibao_monthly": pl.Float64}
        )
    return frame


def roster(lake: Lake, year: int) -> pl.DataFrame | None:
    """The civil roster of the year, or None when the year has no roster file."""
    frame = lake.read_single("ref_civil_roster")
    if frame is None:
        return None
    frame = frame.filter(pl.col("year") == year)
    return frame if frame.height else None


def settings(resource: AuditSettingsResource) -> AuditSettings:
    return AuditSettings.from_mapping(resource.overrides())
