"""The later stages' bodies as plain functions (no Dagster): findings, metrics, workbooks.

Each function takes the lake, the warehouse, the audit settings and the (year, unit) keys (or the
years) to compute, writes what the stage writes, and reports per partition through callbacks, so
the Dagster assets (``assets/``) only add metadata, checks and progress logging, and the
benchmarks (``bench/pipeline.py``) replay exactly the same code without Dagster.

Memory is bounded per stage, never by the number of units of the run:

- ``run_unit_findings`` and ``run_metrics`` read a year's units in chunks whose ledger files
  together stay under a byte budget (``BANGFU_CHUNK_MB``, default :data:`DEFAULT_CHUNK_MB`),
  in unit-code order (so a chunk is mostly one province); metrics read only the columns they use.
- ``run_cross_findings`` needs every unit's archive of the year at once, so it reads only the nine
  archive columns the cross-unit rules use.
- Metrics take the earlier findings of the year as SQL counts per unit and the MISSED_CANDIDATE
  IDs, not as rows.
- ``run_workbooks`` hands one (year, unit) at a time to a pool of worker processes
  (``BANGFU_WORKERS``, default: the CPUs this process may use), a bounded number in flight; each
  worker reads its unit's ledger from the lake and writes the files atomically.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import func, select

from bangfu import output_digests, rules
from bangfu.frames import INGEST_STATUS_SCHEMA
from bangfu.lake import Lake
from bangfu.ledger_frames import ledger_frames
from bangfu.parse import mask_ids_in_text
from bangfu.pool import run_pool, workers_default
from bangfu.review import state as review_state
from bangfu.settings import AuditSettings
from bangfu.sheets import LEDGER_SHEETS
from warehouse import tables
from warehouse.store import Replacement, Warehouse

Keys = Sequence[tuple[int, str]]
Progress = Callable[[int, int], None]  # (done, total)

DEFAULT_CHUNK_MB = 8  # ≈ 0.4 GB peak in the unit-findings stage (M: 20 MB a year → 1 GB)
IN_PROCESS_MAX = 4  # at most this many workbook/report pairs to write: no worker processes
AUDITED_YEARS = 3  # the 2019 workbook and report cover 2017, 2018 and 2019
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
# ... and these for the metrics (rules.metrics.own_metrics).
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


# ------------------------------------------------------------------ reading the lake
def sheets_present(lake: Lake, year: int, units: Iterable[str]) -> dict[str, list[str]]:
    """Sheet key → units whose ledger of the year holds that sheet (absent sheets: no data)."""
    units = list(units)
    return {s.key: [u for u in units if lake.has(s.key, year, u)] for s in LEDGER_SHEETS}


def ingest_status(lake: Lake, year: int, units: Iterable[str] | None = None) -> pl.DataFrame:
    """The year's ingest_status rows (one per partition ingested) of these units (None: all).
    One multi-file scan, not a Python loop over the files: at national scale the files are
    thousands of small ones, and polars reads them together in parallel."""
    files = lake.files("ingest_status", [year], units)
    if not files:
        return pl.DataFrame(schema=INGEST_STATUS_SCHEMA)
    return pl.scan_parquet(
        files, schema=INGEST_STATUS_SCHEMA, missing_columns="insert", extra_columns="ignore"
    ).collect()


def present_units(lake: Lake, year: int, units: Iterable[str] | None = None) -> list[str]:
    """The units (of ``units``, default all) whose ledger of the year was read."""
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


def chunk_mb() -> float:
    return float(os.environ.get("BANGFU_CHUNK_MB") or DEFAULT_CHUNK_MB)


def unit_chunks(
    lake: Lake, year: int, units: Iterable[str], budget_mb: float | None = None
) -> list[list[str]]:
    """The units in code order, cut into chunks whose ledger files of the year (Parquet bytes on
    disk) add up to at most ``budget_mb`` — one unit alone may exceed it."""
    budget = (budget_mb if budget_mb is not None else chunk_mb()) * 2**20
    chunks: list[list[str]] = []
    size = 0.0
    for u in sorted(set(units)):
        paths = (lake.path(s.key, year, u) for s in LEDGER_SHEETS)
        n = sum(p.stat().st_size for p in paths if p.exists())
        if chunks and size + n <= budget:
            chunks[-1].append(u)
            size += n
        else:
            chunks.append([u])
            size = n
    return chunks


def grouped(pairs: Iterable[tuple[int, str]]) -> dict[int, list[str]]:
    """(year, unit) keys → year → units, in the order given."""
    out: dict[int, list[str]] = {}
    for y, u in pairs:
        out.setdefault(y, []).append(u)
    return out


def findings_replacement(stage: str, frame: pl.DataFrame, **match) -> Replacement:
    """Replace the warehouse's findings of ``stage`` matching ``match`` by ``frame``."""
    return Replacement(tables.findings, {**match, "stage": stage}, frame, stamp={"stage": stage})


def settings_replacement(settings: AuditSettings, years: Iterable[int]) -> Replacement:
    rows = rules.run_settings_rows(settings, years)
    return Replacement(tables.run_settings, {"settings_hash": settings.hash()}, rows)


# Narrow view of the findings a stage computed: what its checks and metadata need, kept for the
# whole run (the full rows are written per chunk and dropped).
SUMMARY_COLUMNS = ("finding_id", "unit_code", "rule_code", "amount")


def _summary(found: pl.DataFrame) -> pl.DataFrame:
    return found.select(SUMMARY_COLUMNS)


# ------------------------------------------------------------------ findings
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
    Returns :data:`SUMMARY_COLUMNS` of every finding computed."""
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
            with _timed(t, "read"):
                frames = ledger_frames(lake, year, present)
                t["rows"] = t.get("rows", 0) + sum(f.height for f in frames.values())
            with _timed(t, "compute"):
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
            with _timed(t, "write"):
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
            summaries.append(_summary(found))
    return pl.concat(summaries) if summaries else _summary(rules.empty_findings())


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
    warehouse (stage "cross"). Returns :data:`SUMMARY_COLUMNS` of every finding computed."""
    t = timings if timings is not None else {}
    summaries: list[pl.DataFrame] = []
    for year in years:
        with _timed(t, "read"):
            present = present_units(lake, year)
            archive = ledger_frames(lake, year, present, {"archive": CROSS_ARCHIVE_COLUMNS})
            t["rows"] = t.get("rows", 0) + archive["archive"].height
        with _timed(t, "compute"):
            found = rules.cross_unit_findings(
                archive["archive"], units, roster(lake, year), year, settings
            )
        del archive
        with _timed(t, "write"):
            lake.write("findings_cross", year, "all", found)
            wh.replace(
                [
                    findings_replacement("cross", found, year=year),
                    settings_replacement(settings, [year]),
                ]
            )
        if on_year is not None:
            on_year(year, found)
        summaries.append(_summary(found))
    return pl.concat(summaries) if summaries else _summary(rules.empty_findings())


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


# ------------------------------------------------------------------ metrics
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
        with _timed(t, "read"):
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
            with _timed(t, "read"):
                frames = ledger_frames(lake, year, chunk, METRICS_COLUMNS)
                t["rows"] = t.get("rows", 0) + sum(f.height for f in frames.values())
            with _timed(t, "compute"):
                own_parts.append(rules.own_metrics(frames, units, year_roster, year, missed, chunk))
            del frames
        with _timed(t, "compute"):
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
        with _timed(t, "write"):
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


# ------------------------------------------------------------------ workbooks and reports
OUTPUTS = ("workbook", "report")


class OutputError(RuntimeError):
    """Writing the files of some (year, unit) partitions failed; the message names them (ID
    numbers in the underlying errors masked)."""

    def __init__(self, failures: list[tuple[int, str, str]]):
        self.failures = failures
        names = "；".join(msg for _y, _u, msg in failures[:20])
        more = f"（另有 {len(failures) - 20} 个）" if len(failures) > 20 else ""
        super().__init__(
            f"{len(failures)} 个单位年度的工作簿/报告写出失败 (workbook/report failed): {names}{more}"
        )


@dataclass
class OutputTask:
    """Everything a worker needs for one (year, unit): small frames, the lake path, the targets."""

    year: int
    unit: dict
    metrics: pl.DataFrame
    findings: pl.DataFrame
    lake_root: str
    paths: dict[str, str]  # output kind → file path
    dibao_monthly: float | None
    edu_standard: float | None
    medical_standard: float | None
    settings: AuditSettings
    below_ranking: list[dict] | None = None  # a city's or province's units below, ranked
    inputs_digest: str | None = None  # bangfu.output_digests: what the files are made from
    review: Any = None  # bangfu.review.state.UnitReview: the judgments the files show


def below_rankings(
    wh: Warehouse, units: pl.DataFrame, year: int, parents: Collection[str]
) -> dict[str, list[dict]]:
    """parent → its units directly below, ranked by 问题金额占比 (bangfu.overview), for the
    figure of a city's or province's report; one ranking of the year for all of them."""
    if not parents:
        return {}
    from bangfu import overview

    metrics = overview.read_metrics(wh, year)
    if metrics.is_empty():
        return {}
    found = overview.counted(
        overview.read_findings(wh, [year]), overview.current_verdicts(wh, [year])
    )
    rank = overview.ranking(units, metrics, found)
    cols = ("unit_code", "unit_name", "paid_total", "problem_amount", "problem_ratio", "sev_高")
    return {p: overview.below_ranking(rank, p).select(cols).to_dicts() for p in parents}


@dataclass
class OutputsOutcome:
    written: int = 0
    skipped: list[str] = field(default_factory=list)  # "year unit" without a usable ledger
    unchanged: list[str] = field(default_factory=list)  # "year unit" whose inputs did not move
    formula_cells: int = 0
    rows: int = 0  # ledger rows read by the writers
    seconds: dict[str, float] = field(default_factory=dict)  # output kind → writer seconds (sum)


def count_formula_cells(xlsx_path) -> int:
    """Formula elements in a workbook's sheets, counted from the XML without loading it."""
    import re
    import zipfile

    pattern = re.compile(rb"<(?:\w+:)?f[ >/]")
    with zipfile.ZipFile(xlsx_path) as zf:
        return sum(
            len(pattern.findall(zf.read(name)))
            for name in zf.namelist()
            if name.startswith("xl/worksheets/") and name.endswith(".xml")
        )


def write_unit_outputs(task: OutputTask) -> dict:
    """One (year, unit)'s workbook and/or report (the kinds in ``task.paths``), in this process.

    Returns plain values (paths, counts, formula cells, writer seconds, ledger rows); any error is
    re-raised as a RuntimeError naming the unit (also across the process pool)."""
    from bangfu.forms.report import write_unit_report
    from bangfu.forms.workbook import build_context, write_unit_workbook

    try:
        ledger = ledger_frames(Lake(task.lake_root), task.year, [task.unit["unit_code"]])
        args = dict(
            year=task.year,
            unit=task.unit,
            metrics=task.metrics,
            findings=task.findings,
            ledger=ledger,
            dibao_monthly=task.dibao_monthly,
            edu_standard=task.edu_standard,
            medical_standard=task.medical_standard,
            settings=task.settings,
        )
        out: dict = {"rows": sum(f.height for f in ledger.values()), "seconds": {}}
        t0 = time.perf_counter()
        args["prepared"] = build_context(**args, review=task.review)  # once for both files
        t_ctx = time.perf_counter() - t0
        if "workbook" in task.paths:
            t0 = time.perf_counter()
            wb = write_unit_workbook(Path(task.paths["workbook"]), **args)
            out["workbook"] = str(wb["path"])
            out["sheets"] = len(wb["sheets"])
            out["findings"] = wb["counts"].get("findings", 0)
            out["evidence_sheets"] = wb["counts"].get("evidence_sheets", 0)
            out["formula_cells"] = count_formula_cells(wb["path"])
            out["seconds"]["workbook"] = time.perf_counter() - t0
        if "report" in task.paths:
            t0 = time.perf_counter()
            rp = write_unit_report(
                Path(task.paths["report"]), **args, below_ranking=task.below_ranking
            )
            out["report"] = str(rp["path"])
            out["seconds"]["report"] = time.perf_counter() - t0
        # the shared context counts for each file in proportion (writer seconds add up)
        share = t_ctx / max(len(out["seconds"]), 1)
        out["seconds"] = {k: v + share for k, v in out["seconds"].items()}
        return out
    except Exception as exc:
        raise RuntimeError(
            f"{task.year} {task.unit.get('unit_code')}（{task.unit.get('unit_name') or ''}）: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _rows_of(frame: pl.DataFrame, unit: str) -> pl.DataFrame:
    if frame.is_empty() or "unit_code" not in frame.columns:
        return frame
    return frame.filter(pl.col("unit_code") == unit)


def run_workbooks(
    lake: Lake,
    wh: Warehouse,
    settings: AuditSettings,
    keys: Keys,
    *,
    units: pl.DataFrame,
    paths: Mapping[str, Callable[[int, str], Path]],
    workers: int | None = None,
    chunk_units: int = 100,
    on_unit: Callable[[int, str, dict | None], None] | None = None,
    progress: Progress | None = None,
    only_changed: bool = False,
    force_units: Collection[str] = (),
) -> OutputsOutcome:
    """The workbook and draft report (``paths``: kind → (year, unit) → file path; kinds of
    :data:`OUTPUTS`) of every (year, unit) whose ledger was read, in ``workers`` processes
    (default :func:`workers_default`; 1 = in this process). ``on_unit(year, unit, result)`` in
    this process for every key (result None: no usable ledger, nothing written). Failures do not
    stop the other units; at the end :class:`OutputError` names every failed (year, unit).

    Each written pair's input digest is recorded (``rendered_outputs``). ``only_changed``: a
    (year, unit) whose files exist and were written from the same inputs is left as it is
    (result ``{"unchanged": True}``), unless its unit is in ``force_units``. A unit without a
    usable ledger loses the files an earlier ledger gave it, as a run from scratch has none."""
    workers = workers or workers_default()
    unit_rows = {r["unit_code"]: r for r in units.iter_rows(named=True)}
    descendants = review_state.descendants_of(units)
    parents = set(units["parent_code"].drop_nulls().to_list())
    outcome = OutputsOutcome()
    failures: list[tuple[int, str, str]] = []
    state = {"done": 0}
    total = len(keys)

    def tick():
        state["done"] += 1
        if progress is not None:
            progress(state["done"], total)

    written: list[tuple[int, str, str]] = []  # (year, unit, inputs digest) of each pair written
    std_frame = standards(lake)
    common = output_digests.common_digest(settings, units, std_frame)
    force = set(force_units)

    def tasks() -> Iterator[OutputTask]:
        for year, unit_list in grouped(keys).items():
            present = set(present_units(lake, year, unit_list))
            years = list(range(year - AUDITED_YEARS + 1, year + 1))
            ctx = rules.unit_context(units, std_frame, [year])
            std_of = {r["unit_code"]: r for r in ctx.iter_rows(named=True)}
            below = below_rankings(wh, units, year, [u for u in unit_list if u in parents])
            for start in range(0, len(unit_list), chunk_units):
                chunk = unit_list[start : start + chunk_units]
                metrics = wh.read(tables.unit_year_metrics, year=years, unit_code=chunk)
                found = wh.read(tables.findings, year=year, unit_code=chunk)
                live = [u for u in chunk if u in present]
                digest_of = dict(
                    output_digests.input_digests(wh, year, common, live, units)
                    .select("unit_code", "inputs_digest")
                    .iter_rows()
                )
                before = dict(
                    output_digests.rendered(wh, year, live)
                    .select("unit_code", "inputs_digest")
                    .iter_rows()
                )
                reviews = review_state.load(wh, year, chunk, found, descendants=descendants)
                for unit in chunk:
                    targets = {k: Path(fn(year, unit)) for k, fn in paths.items()}
                    if unit not in present:
                        _drop_outputs(wh, year, unit, targets.values())
                        outcome.skipped.append(f"{year} {unit}")
                        if on_unit is not None:
                            on_unit(year, unit, None)
                        tick()
                        continue
                    digest = digest_of.get(unit)
                    if (
                        only_changed
                        and unit not in force
                        and digest is not None
                        and before.get(unit) == digest
                        and all(p.exists() for p in targets.values())
                    ):
                        outcome.unchanged.append(f"{year} {unit}")
                        if on_unit is not None:
                            on_unit(year, unit, {"unchanged": True, "inputs_digest": digest})
                        tick()
                        continue
                    std = std_of[unit]
                    yield OutputTask(
                        year=year,
                        unit=unit_rows[unit],
                        metrics=_rows_of(metrics, unit),
                        findings=_rows_of(found, unit),
                        lake_root=str(lake.root),
                        paths={k: str(fn(year, unit)) for k, fn in paths.items()},
                        dibao_monthly=std.get("dibao_monthly"),
                        edu_standard=std.get("edu_standard"),
                        medical_standard=std.get("medical_standard"),
                        settings=settings,
                        review=reviews[unit],
                        below_ranking=below.get(unit),
                        inputs_digest=digest,
                    )

    def finish(task: OutputTask, res: dict | None, exc: BaseException | None) -> None:
        unit = task.unit["unit_code"]
        if exc is not None:
            msg = str(exc) or type(exc).__name__
            if not msg.startswith(f"{task.year} {unit}"):
                msg = f"{task.year} {unit}: {type(exc).__name__}: {msg}"
            failures.append((task.year, unit, mask_ids_in_text(msg)))
        else:
            assert res is not None
            outcome.written += 1
            outcome.formula_cells += res.get("formula_cells", 0)
            outcome.rows += res["rows"]
            for k, v in res["seconds"].items():
                outcome.seconds[k] = outcome.seconds.get(k, 0.0) + v
            if task.inputs_digest is not None:
                written.append((task.year, unit, task.inputs_digest))
            if on_unit is not None:
                on_unit(task.year, unit, {**res, "inputs_digest": task.inputs_digest})
        tick()

    pending = tasks()
    # A few pairs to write (a one-county re-run: the county and the units above it) cost less
    # here than worker processes spawning and importing the writers.
    head = list(itertools.islice(pending, IN_PROCESS_MAX + 1))
    if workers <= 1 or len(head) <= IN_PROCESS_MAX:
        for task in itertools.chain(head, pending):
            try:
                res = write_unit_outputs(task)
            except Exception as exc:  # noqa: BLE001 - named and re-raised at the end
                finish(task, None, exc)
            else:
                finish(task, res, None)
    else:
        run_pool(write_unit_outputs, itertools.chain(head, pending), workers, finish)
    if written:  # the pairs written, failures or not: their files are what the digests say
        frame = pl.DataFrame(written, schema=output_digests.DIGEST_SCHEMA, orient="row")
        wh.replace(output_digests.record_rendered(frame))
    if failures:
        raise OutputError(failures)
    return outcome


def _drop_outputs(wh: Warehouse, year: int, unit: str, files: Iterable[Path]) -> None:
    """A (year, unit) without a usable ledger has no workbook or report: remove those an earlier
    ledger gave it (a run from scratch would not have them), and their record."""
    gone = [p for p in files if p.exists()]
    for p in gone:
        p.unlink()
    if gone:
        wh.replace([Replacement(tables.rendered_outputs, {"year": year, "unit_code": unit})])


# ------------------------------------------------------------------ helpers
class _timed:
    """Add the block's wall time to ``into[key]``."""

    def __init__(self, into: dict, key: str):
        self.into, self.key = into, key

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        self.into[self.key] = self.into.get(self.key, 0.0) + time.perf_counter() - self.t0


def stale_outputs(
    lake: Lake,
    wh: Warehouse,
    settings: AuditSettings,
    years: Iterable[int],
    *,
    units: pl.DataFrame,
) -> pl.DataFrame:
    """(year, unit_code, inputs_digest) of the workbooks and reports of ``years`` that are missing
    or were written from other inputs than the warehouse holds now (units with a usable ledger
    only: the others have no outputs)."""
    common = output_digests.common_digest(settings, units, standards(lake))
    parts = []
    for year in years:
        present = present_units(lake, year)
        if present:
            current = output_digests.input_digests(wh, year, common, present, units)
            parts.append(output_digests.stale(current, output_digests.rendered(wh, year)))
    return pl.concat(parts) if parts else pl.DataFrame(schema=output_digests.DIGEST_SCHEMA)
