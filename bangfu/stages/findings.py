"""The findings stages: every per-unit rule per (year, unit) a chunk of units at a time (②), and
the cross-unit rules per year over every present unit's archive (③). No Dagster here."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import polars as pl
from sqlalchemy import func, select

from bangfu import rules
from bangfu.lake import Lake
from bangfu.ledger_frames import ledger_frames
from bangfu.settings import AuditSettings
from bangfu.stages.common import (
    Keys,
    Progress,
    findings_replacement,
    settings_replacement,
    summaries_of,
    summary,
    timed,
)
from bangfu.stages.reading import (
    grouped,
    present_units,
    roster,
    sheets_present,
    standards,
    unit_chunks,
)
from warehouse import tables
from warehouse.store import Warehouse

# Only these columns of a year's archive are read for the cross-unit rules.
CROSS_ARCHIVE_COLUMNS = (
    "unit_code",
    "id_number",
    "name",
    "archive_no",
    "archived_on",
    "exited_on",
    "source_file",
    "source_sheet",
    "source_row",
)


def run_unit_findings(
    lake: Lake,
    wh: Warehouse,
    settings: AuditSettings,
    keys: Keys,
    *,
    units: pl.DataFrame,
    on_unit: Callable[[int, str, pl.DataFrame], None] | None = None,
    progress: Progress | None = None,
    timings: dict[str, float] | None = None,
) -> pl.DataFrame:
    """Every payment, archive-record, ledger and unit rule per (year, unit), a chunk of units at a
    time: each unit's findings to the lake (``findings_unit``) and the warehouse (stage "unit",
    replacing exactly the chunk's partitions). ``on_unit(year, unit, its findings)`` for every key.
    Returns :data:`bangfu.stages.common.SUMMARY_COLUMNS` of every finding computed."""
    t = timings if timings is not None else {}
    std = standards(lake)
    summaries: list[pl.DataFrame] = []
    done, total = 0, len(keys)
    for year, unit_list in grouped(keys).items():
        year_roster = roster(lake, year)
        present_all = set(present_units(lake, year, unit_list))
        first = True
        for chunk in unit_chunks(lake, year, unit_list):
            present = [u for u in chunk if u in present_all]
            with timed(t, "read"):
                frames = ledger_frames(lake, year, present)
                t["rows"] = t.get("rows", 0) + sum(f.height for f in frames.values())
            with timed(t, "compute"):
                found = rules.unit_findings(
                    frames,
                    units,
                    std,
                    year_roster,
                    year,
                    settings,
                    sheets_present=sheets_present(lake, year, present),
                ).filter(pl.col("unit_code").is_in(present))
            del frames
            with timed(t, "write"):
                # one pass to split by unit, not one filter per unit
                by_unit = found.partition_by("unit_code", as_dict=True)
                for unit in chunk:
                    own = by_unit.get((unit,), found.clear())
                    lake.write("findings_unit", year, unit, own)
                    if on_unit is not None:
                        on_unit(year, unit, own)
                    done += 1
                    if progress is not None:
                        progress(done, total)
                batch = [findings_replacement("unit", found, year=year, unit_code=chunk)]
                if first:
                    batch.append(settings_replacement(settings, [year]))
                    first = False
                wh.replace(batch)
            summaries.append(summary(found))
    return summaries_of(summaries)


def run_cross_findings(
    lake: Lake,
    wh: Warehouse,
    settings: AuditSettings,
    years: Iterable[int],
    *,
    units: pl.DataFrame,
    on_year: Callable[[int, pl.DataFrame], None] | None = None,
    timings: dict[str, float] | None = None,
) -> pl.DataFrame:
    """DUPLICATE_ARCHIVE and MISSED_CANDIDATE per year over every present unit's archive (only
    :data:`CROSS_ARCHIVE_COLUMNS` read): to the lake (``findings_cross``, unit "all") and the
    warehouse (stage "cross"). Returns :data:`bangfu.stages.common.SUMMARY_COLUMNS` of every
    finding computed."""
    t = timings if timings is not None else {}
    summaries: list[pl.DataFrame] = []
    for year in years:
        with timed(t, "read"):
            present = present_units(lake, year)
            archive = ledger_frames(lake, year, present, {"archive": CROSS_ARCHIVE_COLUMNS})
            t["rows"] = t.get("rows", 0) + archive["archive"].height
        with timed(t, "compute"):
            found = rules.cross_unit_findings(
                archive["archive"], units, roster(lake, year), year, settings
            )
        del archive
        with timed(t, "write"):
            lake.write("findings_cross", year, "all", found)
            wh.replace(
                [
                    findings_replacement("cross", found, year=year),
                    settings_replacement(settings, [year]),
                ]
            )
        if on_year is not None:
            on_year(year, found)
        summaries.append(summary(found))
    return summaries_of(summaries)


def count_findings(
    wh: Warehouse,
    *,
    stage: str,
    years: Iterable[int],
    units: Iterable[str] | None = None,
) -> int:
    """Rows of the warehouse's findings of ``stage`` for these years (and units): SQL COUNT."""
    f = tables.findings
    cond = [f.c.stage == stage, f.c.year.in_(sorted(set(years)))]
    if units is not None:
        cond.append(f.c.unit_code.in_(sorted(set(units))))
    with wh.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(f).where(*cond)).scalar_one())
