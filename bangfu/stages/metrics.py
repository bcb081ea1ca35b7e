"""The metrics stage (③ unit_year_metrics): each present unit's own figures a chunk at a time,
rolled up county → city → province, with the roll-up findings. No Dagster here."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

import polars as pl
from sqlalchemy import func, select

from bangfu import rules
from bangfu.lake import Lake
from bangfu.ledger_frames import ledger_frames
from bangfu.settings import AuditSettings
from bangfu.stages.common import findings_replacement, settings_replacement, timed
from bangfu.stages.reading import present_units, roster, unit_chunks
from warehouse import tables
from warehouse.store import Replacement, Warehouse

# Only these columns are read for the metrics (rules.metrics.own_metrics).
METRICS_COLUMNS: dict[str, tuple[str, ...]] = {
    "archive": (
        "unit_code",
        "id_number",
        "archived_on",
        "exited_on",
        "exit_reason",
        "exit_path",
        "relieved_on",
    ),
    "payments": ("unit_code", "id_number", "amount", "category"),
    "targets": ("unit_code", "target_year", "target_relieved", "target_exited", "source_row"),
    "evaluation": ("unit_code", "sample_type", "verdict", "satisfaction"),
}


@dataclass
class YearMetrics:
    year: int
    rolled: pl.DataFrame  # unit_year_metrics rows, one per unit of units.csv
    own: pl.DataFrame  # each present unit's own figures
    rollup_findings: pl.DataFrame


def _earlier_findings(wh: Warehouse, year: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The year's unit and cross findings as (unit_code, n) counts and the MISSED_CANDIDATE
    (unit_code, id_number) pairs — SQL aggregates, not the rows."""
    f = tables.findings
    where = (f.c.year == year, f.c.stage.in_(["unit", "cross"]))
    with wh.engine.connect() as conn:
        counts = conn.execute(
            select(f.c.unit_code, func.count()).where(*where).group_by(f.c.unit_code)
        ).fetchall()
        missed = conn.execute(
            select(f.c.unit_code, f.c.id_number).where(*where, f.c.rule_code == "MISSED_CANDIDATE")
        ).fetchall()
    counts_f = pl.DataFrame(
        [tuple(r) for r in counts], schema={"unit_code": pl.String, "n": pl.Int64}, orient="row"
    )
    missed_f = pl.DataFrame(
        [tuple(r) for r in missed],
        schema={"unit_code": pl.String, "id_number": pl.String},
        orient="row",
    )
    return counts_f, missed_f


def run_metrics(
    lake: Lake,
    wh: Warehouse,
    settings: AuditSettings,
    years: Iterable[int],
    *,
    units: pl.DataFrame,
    only_units: Collection[str] | None = None,
    on_year: Callable[[YearMetrics], None] | None = None,
    timings: dict[str, float] | None = None,
) -> list[YearMetrics]:
    """unit_year_metrics per year: each present unit's own figures a chunk of units at a time
    (only :data:`METRICS_COLUMNS` read), rolled up county → city → province, the roll-up findings
    (TARGET_NOT_MET, EVAL_RATE_ALERT) and findings_total over the year's findings; to the lake
    (``metrics``, unit "all"; the own figures as ``metrics_own``) and the warehouse (metrics,
    stage "rollup" findings).

    ``only_units`` (``bangfu run --unit``): only these units' ledgers changed, so only their own
    figures are computed; every other unit's are the year's last ones (``metrics_own``), with
    ``roster_missed`` — the one own figure that reads the cross-unit findings, which the run has
    just recomputed — refreshed for all. The roll-ups are then computed over the whole year as
    always. Without a previous ``metrics_own`` for the year, every unit is computed."""
    t = timings if timings is not None else {}
    only = set(only_units) if only_units is not None else set()
    out: list[YearMetrics] = []
    for year in years:
        with timed(t, "read"):
            present = present_units(lake, year)
            counts, missed = _earlier_findings(wh, year)
            year_roster = roster(lake, year)
            if year_roster is not None:  # own_metrics reads only these two roster columns
                year_roster = year_roster.select("id_number", "roster_type")
            previous = (
                lake.read("metrics_own", [year], ["all"])
                if only_units is not None and lake.has("metrics_own", year, "all")
                else None
            )
            if previous is not None:  # written by another version: recompute every unit
                shape = rules.own_metrics({}, units, year_roster, year, missed, []).columns
                previous = previous if set(previous.columns) == set(shape) else None
        changed = present if previous is None else [u for u in present if u in only]
        own_parts = []
        for chunk in unit_chunks(lake, year, changed):
            with timed(t, "read"):
                frames = ledger_frames(lake, year, chunk, METRICS_COLUMNS)
                t["rows"] = t.get("rows", 0) + sum(f.height for f in frames.values())
            with timed(t, "compute"):
                own_parts.append(rules.own_metrics(frames, units, year_roster, year, missed, chunk))
            del frames
        with timed(t, "compute"):
            own = (
                pl.concat(own_parts, how="vertical_relaxed")
                if own_parts
                else rules.own_metrics({}, units, year_roster, year, missed, [])
            )
            if previous is not None:
                own = _merge_own(previous, own, present, missed)
            own = own.sort("unit_code")
            rolled = rules.rollup(own, units, year, present)
            rollup_found = rules.rollup_findings(rolled, None, settings)
            rolled = rules.with_findings_total(
                rolled, units, rollup_found.select("unit_code"), counts=counts
            )
        with timed(t, "write"):
            lake.write("metrics", year, "all", rolled)
            lake.write("metrics_own", year, "all", own)
            wh.replace(
                [
                    Replacement(tables.unit_year_metrics, {"year": year}, rolled),
                    findings_replacement("rollup", rollup_found, year=year),
                    settings_replacement(settings, [year]),
                ]
            )
        ym = YearMetrics(year, rolled, own, rollup_found)
        if on_year is not None:
            on_year(ym)
        out.append(ym)
    return out


def _merge_own(
    previous: pl.DataFrame, fresh: pl.DataFrame, present: list[str], missed: pl.DataFrame
) -> pl.DataFrame:
    """The year's last own figures of the units not recomputed, the fresh ones of those that
    were, over the units present now; ``roster_missed`` recounted for every unit from the
    year's MISSED_CANDIDATE findings (null stays null: the year has no roster)."""
    kept = previous.filter(
        pl.col("unit_code").is_in(present) & ~pl.col("unit_code").is_in(fresh["unit_code"])
    )
    own = pl.concat([kept.select(fresh.columns), fresh], how="vertical_relaxed")
    recount = missed.group_by("unit_code").agg(
        pl.col("id_number").n_unique().cast(pl.Int64).alias("__missed")
    )
    return (
        own.join(recount, on="unit_code", how="left")
        .with_columns(
            pl.when(pl.col("roster_missed").is_null())
            .then(None)
            .otherwise(pl.col("__missed").fill_null(0))
            .cast(pl.Int64)
            .alias("roster_missed")
        )
        .drop("__missed")
    )
