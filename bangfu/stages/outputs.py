"""The output stage (④ audit_workbooks): which (year, unit) pairs to write, the worker pool that
writes them (:mod:`bangfu.stages.unit_outputs`), the digests of what was written; and which
outputs are stale. No Dagster here."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from bangfu import output_digests, rules
from bangfu.lake import Lake
from bangfu.parse import mask_ids_in_text
from bangfu.pool import run_pool, workers_default
from bangfu.review import state as review_state
from bangfu.settings import AuditSettings
from bangfu.stages.common import Keys, Progress
from bangfu.stages.reading import grouped, present_units, standards
from bangfu.stages.unit_outputs import OutputTask, write_unit_outputs
from warehouse import tables
from warehouse.store import Replacement, Warehouse

OUTPUTS = ("workbook", "report")
IN_PROCESS_MAX = 4  # at most this many workbook/report pairs to write: no worker processes


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
class OutputsOutcome:
    written: int = 0
    skipped: list[str] = field(default_factory=list)  # "year unit" without a usable ledger
    unchanged: list[str] = field(default_factory=list)  # "year unit" whose inputs did not move
    formula_cells: int = 0
    rows: int = 0  # ledger rows read by the writers
    seconds: dict[str, float] = field(default_factory=dict)  # output kind → writer seconds (sum)


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
    scope = _Scope.of(lake, wh, settings, units, paths, chunk_units, only_changed, force_units)
    tally = _Tally(total=len(keys), on_unit=on_unit, progress=progress)
    _write_all(_tasks(scope, keys, tally), workers, tally.finish)
    _record_written(wh, tally.written)
    if tally.failures:
        raise OutputError(tally.failures)
    return tally.outcome


# ------------------------------------------------------------------ the steps of run_workbooks
@dataclass(frozen=True, eq=False)
class _Scope:
    """What run_workbooks was asked, and what it reads once for the whole run."""

    lake: Lake
    wh: Warehouse
    settings: AuditSettings
    units: pl.DataFrame
    paths: Mapping[str, Callable[[int, str], Path]]
    chunk_units: int
    only_changed: bool
    force: frozenset[str]
    unit_rows: dict[str, dict]  # unit_code → its units.csv row
    descendants: dict[str, list[str]]
    parents: frozenset[str]
    std_frame: pl.DataFrame
    common: str  # the digest of what every unit's outputs read alike

    @classmethod
    def of(cls, lake, wh, settings, units, paths, chunk_units, only_changed, force_units):
        std_frame = standards(lake)
        return cls(
            lake=lake,
            wh=wh,
            settings=settings,
            units=units,
            paths=paths,
            chunk_units=chunk_units,
            only_changed=only_changed,
            force=frozenset(force_units),
            unit_rows={r["unit_code"]: r for r in units.iter_rows(named=True)},
            descendants=review_state.descendants_of(units),
            parents=frozenset(units["parent_code"].drop_nulls().to_list()),
            std_frame=std_frame,
            common=output_digests.common_digest(settings, units, std_frame),
        )


@dataclass(eq=False)
class _Tally:
    """What the run reports as its pairs are settled: the outcome, the failures, the pairs
    written with their input digests, ``on_unit`` and the progress."""

    total: int
    on_unit: Callable[[int, str, dict | None], None] | None
    progress: Progress | None
    outcome: OutputsOutcome = field(default_factory=OutputsOutcome)
    failures: list[tuple[int, str, str]] = field(default_factory=list)
    written: list[tuple[int, str, str]] = field(default_factory=list)  # (year, unit, digest)
    done: int = 0

    def tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)

    def skipped(self, year: int, unit: str) -> None:
        self.outcome.skipped.append(f"{year} {unit}")
        if self.on_unit is not None:
            self.on_unit(year, unit, None)
        self.tick()

    def unchanged(self, year: int, unit: str, digest: str | None) -> None:
        self.outcome.unchanged.append(f"{year} {unit}")
        if self.on_unit is not None:
            self.on_unit(year, unit, {"unchanged": True, "inputs_digest": digest})
        self.tick()

    def finish(self, task: OutputTask, res: dict | None, exc: BaseException | None) -> None:
        """A task's result (or error), in this process, in completion order."""
        unit = task.unit["unit_code"]
        if exc is not None:
            msg = str(exc) or type(exc).__name__
            if not msg.startswith(f"{task.year} {unit}"):
                msg = f"{task.year} {unit}: {type(exc).__name__}: {msg}"
            self.failures.append((task.year, unit, mask_ids_in_text(msg)))
        else:
            assert res is not None
            out = self.outcome
            out.written += 1
            out.formula_cells += res.get("formula_cells", 0)
            out.rows += res["rows"]
            for k, v in res["seconds"].items():
                out.seconds[k] = out.seconds.get(k, 0.0) + v
            if task.inputs_digest is not None:
                self.written.append((task.year, unit, task.inputs_digest))
            if self.on_unit is not None:
                self.on_unit(task.year, unit, {**res, "inputs_digest": task.inputs_digest})
        self.tick()


@dataclass(frozen=True, eq=False)
class _ChunkInputs:
    """What a chunk of a year's units reads from the warehouse, once for the chunk."""

    metrics: pl.DataFrame  # unit_year_metrics of the audited years
    found: pl.DataFrame  # findings of the year
    digest_of: dict[str, str]  # unit → the digest of its inputs now
    before: dict[str, str]  # unit → the digest its files were written from
    reviews: dict  # unit → bangfu.review.state.UnitReview


def _tasks(scope: _Scope, keys: Keys, tally: _Tally) -> Iterator[OutputTask]:
    """A task per (year, unit) to write, lazily (the pool keeps a bounded number in flight); the
    pairs without a usable ledger or unchanged inputs are settled on the way."""
    for year, unit_list in grouped(keys).items():
        yield from _year_tasks(scope, year, unit_list, tally)


def _year_tasks(
    scope: _Scope, year: int, unit_list: list[str], tally: _Tally
) -> Iterator[OutputTask]:
    present = set(present_units(scope.lake, year, unit_list))
    ctx = rules.unit_context(scope.units, scope.std_frame, [year])
    std_of = {r["unit_code"]: r for r in ctx.iter_rows(named=True)}
    below = below_rankings(
        scope.wh, scope.units, year, [u for u in unit_list if u in scope.parents]
    )
    for start in range(0, len(unit_list), scope.chunk_units):
        chunk = unit_list[start : start + scope.chunk_units]
        inputs = _read_chunk(scope, year, chunk, [u for u in chunk if u in present])
        for unit in chunk:
            targets = [Path(fn(year, unit)) for fn in scope.paths.values()]
            if unit not in present:
                _drop_outputs(scope.wh, year, unit, targets)
                tally.skipped(year, unit)
                continue
            digest = inputs.digest_of.get(unit)
            if _unchanged(scope, unit, digest, inputs.before.get(unit), targets):
                tally.unchanged(year, unit, digest)
                continue
            std = std_of[unit]
            yield OutputTask(
                year=year,
                unit=scope.unit_rows[unit],
                metrics=_rows_of(inputs.metrics, unit),
                findings=_rows_of(inputs.found, unit),
                lake_root=str(scope.lake.root),
                paths={k: str(fn(year, unit)) for k, fn in scope.paths.items()},
                dibao_monthly=std.get("dibao_monthly"),
                edu_standard=std.get("edu_standard"),
                medical_standard=std.get("medical_standard"),
                settings=scope.settings,
                review=inputs.reviews[unit],
                below_ranking=below.get(unit),
                inputs_digest=digest,
            )


def _read_chunk(scope: _Scope, year: int, chunk: list[str], live: list[str]) -> _ChunkInputs:
    """The chunk's metrics, findings and review state; the input digests of its ``live`` units
    (those with a usable ledger) now and when their files were written."""
    wh = scope.wh
    years = output_digests.audited_years(year)
    metrics = wh.read(tables.unit_year_metrics, year=years, unit_code=chunk)
    found = wh.read(tables.findings, year=year, unit_code=chunk)
    return _ChunkInputs(
        metrics=metrics,
        found=found,
        digest_of=dict(
            output_digests.input_digests(wh, year, scope.common, live, scope.units)
            .select("unit_code", "inputs_digest")
            .iter_rows()
        ),
        before=dict(
            output_digests.rendered(wh, year, live).select("unit_code", "inputs_digest").iter_rows()
        ),
        reviews=review_state.load(wh, year, chunk, found, descendants=scope.descendants),
    )


def _unchanged(
    scope: _Scope, unit: str, digest: str | None, before: str | None, targets: list[Path]
) -> bool:
    """``only_changed``, and the unit's files exist, written from the inputs it has now."""
    return (
        scope.only_changed
        and unit not in scope.force
        and digest is not None
        and before == digest
        and all(p.exists() for p in targets)
    )


def _write_all(
    tasks: Iterator[OutputTask],
    workers: int,
    finish: Callable[[OutputTask, dict | None, BaseException | None], None],
) -> None:
    """Every task written, each result (or error) to ``finish``: in this process when there are
    few, else in a pool of ``workers`` processes."""
    # A few pairs to write (a one-county re-run: the county and the units above it) cost less
    # here than worker processes spawning and importing the writers.
    head = list(itertools.islice(tasks, IN_PROCESS_MAX + 1))
    if workers <= 1 or len(head) <= IN_PROCESS_MAX:
        for task in itertools.chain(head, tasks):
            try:
                res = write_unit_outputs(task)
            except Exception as exc:  # noqa: BLE001 - named and re-raised at the end
                finish(task, None, exc)
            else:
                finish(task, res, None)
    else:
        run_pool(write_unit_outputs, itertools.chain(head, tasks), workers, finish)


def _record_written(wh: Warehouse, written: list[tuple[int, str, str]]) -> None:
    """The input digests of the pairs written, failures or not: their files are what the
    digests say."""
    if written:
        frame = pl.DataFrame(written, schema=output_digests.DIGEST_SCHEMA, orient="row")
        wh.replace(output_digests.record_rendered(frame))


def _rows_of(frame: pl.DataFrame, unit: str) -> pl.DataFrame:
    if frame.is_empty() or "unit_code" not in frame.columns:
        return frame
    return frame.filter(pl.col("unit_code") == unit)


def _drop_outputs(wh: Warehouse, year: int, unit: str, files: Iterable[Path]) -> None:
    """A (year, unit) without a usable ledger has no workbook or report: remove those an earlier
    ledger gave it (a run from scratch would not have them), and their record."""
    gone = [p for p in files if p.exists()]
    for p in gone:
        p.unlink()
    if gone:
        wh.replace([Replacement(tables.rendered_outputs, {"year": year, "unit_code": unit})])


# ------------------------------------------------------------------ what the outputs read
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
