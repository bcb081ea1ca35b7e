"""Ingest (year, unit) ledgers: read, validate, write the lake and the warehouse.

``ingest_partitions`` computes a whole range of partitions at once (the Dagster asset calls it
once per ranged run); ``ingest_unit_year`` is the same over one partition. Tests call both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from bangfu import readers
from bangfu.frames import INGEST_STATUS_SCHEMA
from bangfu.lake import Lake
from bangfu.pool import prestart, run_pool, workers_default
from bangfu.sheets import LEDGER_SHEETS

if TYPE_CHECKING:
    from warehouse.store import Warehouse

LAKE_WRITERS = 2  # threads writing lake Parquet files
_Group = list[tuple["_Written", Future]]  # written partitions and their lake writes


@dataclass
class IngestOutcome:
    year: int
    unit_code: str
    status: str  # ok | missing | rejected
    source_file: str | None = None
    message: str | None = None
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # sheet title -> counts
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return sum(r["rows_read"] for r in self.rows.values())

    @property
    def rows_kept(self) -> int:
        return sum(r["rows_kept"] for r in self.rows.values())

    @property
    def rows_quarantined(self) -> int:
        return sum(r["rows_quarantined"] for r in self.rows.values())


@dataclass
class LandingScan:
    """What the landing folder holds, found once per run and indexed by partition."""

    files: dict[tuple[int, str], readers.LedgerFile]
    rejections: dict[tuple[int, str], list[readers.Rejection]]
    orphans: list[readers.Rejection]  # rejections that name no known (year, unit)

    @classmethod
    def scan(cls, landing: Path, unit_codes: set[str]) -> LandingScan:
        found, rejected = readers.discover_ledgers(landing, unit_codes)
        files = {(f.year, f.unit_code): f for f in found}
        by_partition: dict[tuple[int, str], list[readers.Rejection]] = {}
        orphans = []
        for r in rejected:
            if r.year is not None and r.unit_code is not None and r.unit_code in unit_codes:
                by_partition.setdefault((r.year, r.unit_code), []).append(r)
            else:
                orphans.append(r)
        return cls(files, by_partition, orphans)

    @property
    def years(self) -> list[int]:
        return sorted({y for y, _ in self.files} | {y for y, _ in self.rejections})


def ingest_unit_year(
    *,
    landing: Path,
    lake: Lake,
    warehouse: Warehouse,
    scan: LandingScan,
    year: int,
    unit_code: str,
    max_uncompressed_bytes: int = 200 * 1024**2,
) -> IngestOutcome:
    """Read the (year, unit) ledger and replace its lake partitions and warehouse rows: the batch
    ingest over one partition. Never raises for bad input (see ingest_partitions)."""
    (outcome,) = ingest_partitions(
        landing=landing,
        lake=lake,
        warehouse=warehouse,
        scan=scan,
        keys=[(year, unit_code)],
        max_uncompressed_bytes=max_uncompressed_bytes,
        workers=1,
        processes=1,
    )
    return outcome


def ingest_partitions(
    *,
    landing: Path,
    lake: Lake,
    warehouse: Warehouse,
    scan: LandingScan,
    keys: Sequence[tuple[int, str]],
    max_uncompressed_bytes: int = 200 * 1024**2,
    workers: int | None = None,
    processes: int | None = None,
    batch_rows: int = readers.DEFAULT_BATCH_ROWS,
    on_outcome: Callable[[IngestOutcome], None] | None = None,
) -> list[IngestOutcome]:
    """Ingest many (year, unit) partitions at once; outcomes in ``keys`` order.

    The ledgers are read in batches (readers.read_ledgers: per file, then one parse and
    validation per sheet kind over the batch). Each partition's lake files are replaced (by
    threads, while the next batch is read), and each batch's warehouse rows are replaced in ONE
    transaction (one delete + insert per partition and
    table inside it, so every partition is replaced whole). Never raises for bad input: a
    rejected file is recorded (rejected_files), its lake partitions removed, the outcome says why;
    the other partitions of the batch are not touched by it. ``on_outcome`` is called once per
    partition as soon as it is written (progress, Dagster metadata), in this process.

    ``processes`` (default: :func:`bangfu.pool.workers_default` when the ledgers to read total at
    least :data:`PROCESS_MIN_BYTES`, else 1) spreads the reading over worker processes: parsing
    and validation hold the GIL for much of their time, so threads alone leave cores idle.
    ``workers`` is the reader threads per process (stage 1 of readers.read_ledgers)."""
    landing = Path(landing)
    outcomes: dict[tuple[int, str], IngestOutcome] = {}

    to_read: list[readers.LedgerFile] = []
    first: list[_Written] = []
    for year, unit_code in dict.fromkeys(keys):
        key = (year, unit_code)
        outcome = IngestOutcome(year=year, unit_code=unit_code, status="missing")
        if key in scan.rejections:
            outcome.status = "rejected"
            outcome.message = "；".join(r.message for r in scan.rejections[key])
            rows = [
                {"year": year, "unit_code": unit_code, "source_file": r.path, "reason": r.message}
                for r in scan.rejections[key]
            ]
            first.append(_Written(outcome, rejected_rows=rows))
        elif key in scan.files:
            to_read.append(scan.files[key])
        else:
            first.append(_Written(outcome))

    def settle(written: list[_Written]) -> None:
        _write_warehouse(warehouse, written)
        for w in written:
            outcomes[(w.outcome.year, w.outcome.unit_code)] = w.outcome
            if on_outcome is not None:
                on_outcome(w.outcome)

    for w in first:
        _write_lake(lake, w)
    if first:
        settle(first)
    read = {
        "landing": landing,
        "max_uncompressed_bytes": max_uncompressed_bytes,
        "batch_rows": batch_rows,
    }
    sizes = [_file_bytes(f) for f in to_read]
    processes = processes or _processes_default(sizes)
    if processes <= 1 or len(to_read) <= 1:
        for written in _read_and_write_lake(to_read, lake=lake, workers=workers, **read):
            settle(written)
    else:
        # Each worker process reads a task's ledgers and writes their lake files; this process
        # records the warehouse rows (one writer) as tasks finish.
        def finish(task: _IngestTask, written: list[_Written] | None, exc) -> None:
            if exc is not None:
                raise exc
            settle(written or [])

        tasks = (
            _IngestTask(files=group, lake_root=lake.root, read=read)
            for group in _task_groups(to_read, sizes, processes)
        )
        run_pool(_ingest_task, tasks, processes, finish)
    return [outcomes[k] for k in dict.fromkeys(keys)]


def _read_and_write_lake(
    files: Sequence[readers.LedgerFile], *, lake: Lake, workers: int | None, **read
) -> Iterator[list[_Written]]:
    """Read ``files`` batch by batch and write each partition's lake files, yielding a batch
    once its files all exist. The files are written by threads (polars writes Parquet without
    the GIL) while the next batch is parsed and validated."""
    landing = read["landing"]
    with ThreadPoolExecutor(LAKE_WRITERS, thread_name_prefix="bangfu-lake") as pool:
        previous: _Group = []
        for batch in readers.read_ledgers(files, workers=workers, **read):
            current = [
                (w, pool.submit(_write_lake, lake, w))
                for w in (_written_from_result(lf, result, landing) for lf, result in batch)
            ]
            if previous:
                yield _settled(previous)
            previous = current
        if previous:
            yield _settled(previous)


def _settled(group: _Group) -> list[_Written]:
    for _w, future in group:
        future.result()
    return [w for w, _f in group]


# Below this much ledger data (file bytes) a run reads in this process: a spawned worker first
# imports polars, pandera and our modules, which costs more than it saves on a few small ledgers.
PROCESS_MIN_BYTES = 32 * 1024**2
# Task sizes, as parts of a worker's share of the work: at most a quarter (results, warehouse
# rows and progress come back as tasks finish), at least a twentieth (the last tasks are that
# small, so the workers finish within about that much of each other).
LARGEST_TASK_PART = 4
SMALLEST_TASK_PART = 20
# Reading an xlsx byte costs about three times a CSV byte (xlsx is zipped XML, inflated and
# parsed; the measurement is in docs/PERFORMANCE.md).
XLSX_COST_PER_BYTE = 3
# the zipped workbook forms weigh as xlsx; an .xls (uncompressed BIFF) and CSV by their bytes
ZIPPED_FORMS = frozenset({"xlsx", "xlsm", "ods"})


@dataclass
class _IngestTask:
    files: list[readers.LedgerFile]
    lake_root: Path
    read: dict


def _ingest_task(task: _IngestTask) -> list[_Written]:
    """In a worker process: read the task's ledgers and write their lake files; return what
    the warehouse needs (the sheets themselves stay in the lake)."""
    out: list[_Written] = []
    for written in _read_and_write_lake(
        task.files, lake=Lake(task.lake_root), workers=1, **task.read
    ):
        for w in written:
            w.sheets = {}
        out.extend(written)
    return out


def prestart_workers(
    landing: Path, years: Sequence[int] | None = None, units: Sequence[str] | None = None
) -> bool:
    """Start the ingest's worker processes ahead (:func:`bangfu.pool.prestart`) when the ledger
    files of ``years`` and ``units`` (all when None) reach :data:`PROCESS_MIN_BYTES`, as
    :func:`ingest_partitions` will then read them in processes. Returns whether it did."""
    root = Path(landing) / "ledgers"
    year_names = {str(y) for y in years} if years else None
    unit_set = set(units) if units else None
    total = 0
    for ydir in root.iterdir() if root.is_dir() else ():
        if not ydir.is_dir() or (year_names is not None and ydir.name not in year_names):
            continue
        for entry in ydir.iterdir():
            if unit_set is None or entry.name.split(".")[0] in unit_set:
                total += _path_bytes(entry)
    workers = _processes_default([total])
    if workers <= 1:
        return False
    prestart(workers, [__name__])
    return True


def _file_bytes(f: readers.LedgerFile) -> int:
    return _path_bytes(Path(f.path))


def _path_bytes(path: Path) -> int:
    try:
        if path.is_dir():  # the CSV form: one folder of per-sheet files
            return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        return path.stat().st_size
    except OSError:
        return 0  # unreadable: the reader rejects it with its reason


def _processes_default(sizes: Sequence[int]) -> int:
    workers = workers_default()
    if workers <= 1 or sum(sizes) < PROCESS_MIN_BYTES:
        return 1
    return workers


def _task_groups(
    files: Sequence[readers.LedgerFile], sizes: Sequence[int], processes: int
) -> Iterator[list[readers.LedgerFile]]:
    """Consecutive runs of ``files`` (of ``sizes`` bytes) for the workers, largest first:
    each task takes half a worker's share of what is left (guided scheduling), within the
    parts above. Big early tasks parse in big batches; small last tasks leave no worker idle
    long while another finishes (eight equal tasks left one worker idle for the last 9 % of
    an ingest at M)."""
    costs = [
        n * (XLSX_COST_PER_BYTE if f.form in ZIPPED_FORMS else 1)
        for f, n in zip(files, sizes, strict=True)
    ]
    left = sum(costs)
    largest = max(1, left // (processes * LARGEST_TASK_PART))
    smallest = max(1, left // (processes * SMALLEST_TASK_PART))
    group: list[readers.LedgerFile] = []
    cost = 0
    for f, c in zip(files, costs, strict=True):
        group.append(f)
        cost += c
        if cost >= min(largest, max(smallest, left // (2 * processes))):
            yield group
            left -= cost
            group, cost = [], 0
    if group:
        yield group


@dataclass
class _Written:
    """What one partition's ingest writes: lake sheets, ingest_log, quarantine, rejections."""

    outcome: IngestOutcome
    sheets: dict[str, pl.DataFrame] = field(default_factory=dict)
    log: pl.DataFrame | None = None
    quarantine: pl.DataFrame | None = None
    rejected_rows: list[dict] = field(default_factory=list)


def _written_from_result(
    lf: readers.LedgerFile,
    result: readers.LedgerResult | readers.LedgerRejected,
    landing: Path,
) -> _Written:
    outcome = IngestOutcome(
        year=lf.year, unit_code=lf.unit_code, status="ok", source_file=_rel(lf.path, landing)
    )
    if isinstance(result, readers.LedgerRejected):
        outcome.status = "rejected"
        outcome.message = str(result)
        row = {
            "year": lf.year,
            "unit_code": lf.unit_code,
            "source_file": outcome.source_file,
            "reason": str(result),
        }
        return _Written(outcome, rejected_rows=[row])
    outcome.warnings = list(result.warnings)
    qs = [s.quarantine for s in result.sheets.values() if s.quarantine.height]
    written = _Written(
        outcome,
        log=result.log,
        quarantine=pl.concat(qs, how="vertical_relaxed") if qs else None,
    )
    for spec_key, sr in result.sheets.items():
        written.sheets[spec_key] = sr.frame
        outcome.warnings.extend(sr.warnings)
        outcome.rows[sr.spec.title] = {
            "rows_read": sr.rows_read,
            "rows_kept": sr.rows_kept,
            "rows_quarantined": sr.rows_quarantined,
            "rows_skipped": sr.rows_skipped,
        }
    return written


def _write_lake(lake: Lake, w: _Written) -> None:
    # Every ledger sheet of the partition is rewritten or removed, so a file that lost an
    # optional sheet (or was rejected) leaves no stale Parquet behind. An absent optional sheet
    # stays absent: the rules tell "no data" (no file) from "no rows" (an empty file).
    year, unit_code = w.outcome.year, w.outcome.unit_code
    for spec in LEDGER_SHEETS:
        if spec.key in w.sheets:
            lake.write(spec.key, year, unit_code, w.sheets[spec.key])
        else:
            lake.remove(spec.key, year, unit_code)
    lake.write("ingest_status", year, unit_code, _status_frame(w.outcome))


def _write_warehouse(warehouse: Warehouse, batch: list[_Written]) -> None:
    """One transaction for the batch; inside it each partition's rows are deleted and inserted."""
    # imported here: the reading worker processes never write the warehouse, so they need not
    # pay for importing SQLAlchemy when they start
    from warehouse import tables
    from warehouse.store import Replacement, now

    stamp_time = now()
    replacements: list[Replacement] = []
    for w in batch:
        match = {"year": w.outcome.year, "unit_code": w.outcome.unit_code}
        replacements += [
            Replacement(tables.ingest_log, match, w.log, stamp={"ingested_at": stamp_time}),
            Replacement(tables.quarantine, match, w.quarantine),
            Replacement(
                tables.rejected_files,
                match,
                pl.DataFrame(w.rejected_rows) if w.rejected_rows else None,
                stamp={"rejected_at": stamp_time},
            ),
        ]
    warehouse.replace(replacements)


def _status_frame(o: IngestOutcome) -> pl.DataFrame:
    row = {
        "year": [o.year],
        "unit_code": [o.unit_code],
        "status": [o.status],
        "source_file": [o.source_file],
        "message": [o.message],
    }
    return pl.DataFrame(row, schema=INGEST_STATUS_SCHEMA)


def _rel(path: Path, landing: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(landing).resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()
