"""Rules: metrics and findings of docs/RULES.md as pure polars functions (no Dagster).

The split lets one county be re-run alone:

- :func:`unit_context` — dibao (and the other standards) per (unit, year), walking the parent chain
- :func:`unit_findings` — every rule that needs only the unit's own ledger (payment, archive,
  ledger and unit rules); one unit or many at once, the same rows either way
- :func:`cross_unit_findings` — DUPLICATE_ARCHIVE, MISSED_CANDIDATE (every unit's archive)
- :func:`own_metrics` / :func:`rollup` — figures per unit, then over each unit's subtree
- :func:`rollup_findings` — TARGET_NOT_MET, EVAL_RATE_ALERT (rolled-up figures)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

# Importing the rule modules registers their rules (order = importance order in the report).
from bangfu.rules import archive as _archive  # noqa: F401
from bangfu.rules import cross as _cross  # noqa: F401
from bangfu.rules import ledger as _ledger  # noqa: F401
from bangfu.rules import payments as _payments  # noqa: F401
from bangfu.rules.common import (
    Context,
    ancestor_pairs,
    cents,
    conform,
    conform_roster,
    conform_units,
    empty_frames,
)
from bangfu.rules.metrics import own_metrics, rollup, with_findings_total
from bangfu.rules.registry import RULES, Rule, empty_findings, rules_of, run
from bangfu.settings import DEFAULT_SETTINGS, AuditSettings
from bangfu.sheets import LEDGER_SHEETS

__all__ = [
    "RULES",
    "Rule",
    "AuditSettings",
    "unit_context",
    "unit_findings",
    "cross_unit_findings",
    "own_metrics",
    "rollup",
    "rollup_findings",
    "with_findings_total",
    "empty_findings",
]

UNIT_KINDS = ("payment", "archive", "ledger", "unit")


def unit_context(
    units: pl.DataFrame, standards: pl.DataFrame, years: Iterable[int]
) -> pl.DataFrame:
    """(unit_code, year, unit_name, level, parent_code, ancestors, dibao_monthly, dibao_region,
    dibao_c, edu_standard, medical_standard): each standard from the unit's own row for the year,
    else its nearest ancestor's (walking 上级单位代码 within the same year); null when none."""
    u = conform_units(units)
    years = sorted({int(y) for y in years})
    pairs = ancestor_pairs(u)
    anc = (
        pairs.filter(pl.col("depth") > 0)
        .sort("unit_code", "depth")
        .group_by("unit_code", maintain_order=True)
        .agg(pl.col("ancestor_code").alias("ancestors"))
    )
    std = standards.select(
        pl.col("region_code").cast(pl.String).alias("ancestor_code"),
        pl.col("year").cast(pl.Int64),
        *[
            (
                pl.col(c).cast(pl.Float64) if c in standards.columns else pl.lit(None, pl.Float64)
            ).alias(c)
            for c in ("dibao_monthly", "edu_standard", "medical_standard")
        ],
    ).filter(pl.col("year").is_in(years))
    j = pairs.join(std, on="ancestor_code", how="inner").sort("unit_code", "year", "depth")

    def nearest(c: str, region: bool = False) -> pl.Expr:
        first = pl.col(c).drop_nulls().first()
        out = pl.col("ancestor_code").filter(pl.col(c).is_not_null()).first() if region else first
        return out

    best = j.group_by("unit_code", "year", maintain_order=True).agg(
        nearest("dibao_monthly"),
        nearest("dibao_monthly", region=True).alias("dibao_region"),
        nearest("edu_standard"),
        nearest("medical_standard"),
    )
    grid = u.join(pl.DataFrame({"year": years}, schema={"year": pl.Int64}), how="cross")
    out = grid.join(anc, on="unit_code", how="left").join(
        best, on=["unit_code", "year"], how="left"
    )
    out = out.with_columns(
        pl.col("ancestors").fill_null(pl.lit([], pl.List(pl.String))),
        cents("dibao_monthly").alias("dibao_c"),
    )
    return out.sort("unit_code", "year")


def _conform_frames(frames: Mapping[str, pl.DataFrame | None]) -> dict[str, pl.DataFrame]:
    return {s.key: conform(frames.get(s.key), s.key) for s in LEDGER_SHEETS}


def _context(frames, units, standards, roster, year, settings, sheets_present=None) -> Context:
    settings = settings or DEFAULT_SETTINGS
    ctx_units = unit_context(units, standards, [year]).filter(pl.col("year") == year)
    return Context(
        frames=frames,
        units=conform_units(units),
        unit_ctx=ctx_units,
        roster=conform_roster(roster),
        year=int(year),
        settings=settings,
        sheets_present=sheets_present,
    )


def unit_findings(
    frames: Mapping[str, pl.DataFrame | None],
    units: pl.DataFrame,
    standards: pl.DataFrame,
    roster: pl.DataFrame | None,
    year: int,
    settings: AuditSettings | None = None,
    *,
    sheets_present: Mapping[str, Iterable[str]] | None = None,
    rule_codes: Iterable[str] | None = None,
) -> pl.DataFrame:
    """Every payment, archive-record, ledger and unit rule over the given units' ledgers of one year.

    ``frames``: sheet key → canonical frame (any number of units; missing keys are empty).
    ``sheets_present``: sheet key → the units whose ledger holds that optional sheet; without it a
    unit is taken to hold the sheet when it has at least one row of it. A unit without the
    procedures / econ_checks sheet gets no "step lacking" findings ("no data", never a fire)."""
    ctx = _context(
        _conform_frames(frames), units, standards, roster, year, settings, sheets_present
    )
    chosen = rules_of(UNIT_KINDS)
    if rule_codes is not None:
        chosen = [r for r in chosen if r.code in set(rule_codes)]
    return run(chosen, ctx)


def cross_unit_findings(
    archive_all_units: pl.DataFrame,
    units: pl.DataFrame,
    roster: pl.DataFrame | None,
    year: int,
    settings: AuditSettings | None = None,
) -> pl.DataFrame:
    """DUPLICATE_ARCHIVE and MISSED_CANDIDATE over the archive sheets of every unit of ``year``."""
    frames = empty_frames()
    frames["archive"] = conform(archive_all_units, "archive")
    std = pl.DataFrame(
        schema={"region_code": pl.String, "year": pl.Int64, "dibao_monthly": pl.Float64}
    )
    ctx = _context(frames, units, std, roster, year, settings)
    return run(rules_of(("cross",)), ctx)


def rollup_findings(
    rolled: pl.DataFrame,
    targets: pl.DataFrame | None = None,
    settings: AuditSettings | None = None,
) -> pl.DataFrame:
    """TARGET_NOT_MET and EVAL_RATE_ALERT over the rolled-up metrics of one year.

    The targets are those of ``rolled`` (each unit's own ledger's targets, not summed); a
    ``targets`` frame (the 解困脱困目标 sheets of the year), when given, replaces them."""
    if rolled.height == 0:
        return empty_findings()
    years = rolled.get_column("year").unique().to_list()
    if len(years) != 1:
        return pl.concat(
            [rollup_findings(rolled.filter(pl.col("year") == y), targets, settings) for y in years]
        )
    year = int(years[0])
    if targets is not None:
        t = conform(targets, "targets")
        t = (
            t.filter(pl.col("target_year") == year)
            .sort("unit_code", "source_row")
            .unique("unit_code", keep="first", maintain_order=True)
            .select("unit_code", "target_relieved", "target_exited")
        )
        rolled = rolled.drop("target_relieved", "target_exited").join(t, on="unit_code", how="left")
    units = rolled.select("unit_code", "level").with_columns(
        pl.lit(None, pl.String).alias("unit_name"), pl.lit(None, pl.String).alias("parent_code")
    )
    std = pl.DataFrame(
        schema={"region_code": pl.String, "year": pl.Int64, "dibao_monthly": pl.Float64}
    )
    ctx = _context({"rolled": rolled}, units, std, None, year, settings)
    return run(rules_of(("rollup",)), ctx)


def run_settings_rows(settings: AuditSettings, years: Iterable[int]) -> pl.DataFrame:
    """The ``run_settings`` rows (settings_hash, key, value)."""
    rows = settings.rows(years)
    return pl.DataFrame(
        {
            "settings_hash": [settings.hash()] * len(rows),
            "key": [k for k, _ in rows],
            "value": [v for _, v in rows],
        },
        schema={"settings_hash": pl.String, "key": pl.String, "value": pl.String},
    )
