"""Ledgers read in batches: stage 1 per file (threads), stage 2 per sheet kind over the batch."""

from __future__ import annotations

import logging
import os
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import fastexcel
import polars as pl

from bangfu import parse as P
from bangfu.frames import INGEST_LOG_SCHEMA
from bangfu.readers import formats as W
from bangfu.readers.common import (
    DEFAULT_MAX_UNCOMPRESSED,
    HEADER_SEARCH_ROWS,
    LedgerFile,
    LedgerRejected,
    LedgerResult,
    SheetResult,
    _BadEncoding,
    _Context,
    _inside,
    _MissingColumns,
    _norm_name,
    _outside_message,
    _rel,
    _sha256,
)
from bangfu.readers.csv_sheets import _read_csv_raw
from bangfu.readers.validate import _Piece, _process_pieces, _to_piece
from bangfu.readers.xlsx import (
    SharedStrings,
    _read_calamine_raw,
    _read_xlsx_raw,
    xlsx_sheet_members,
)
from bangfu.sheets import (
    LEDGER_SHEETS,
    SheetSpec,
)

_log = logging.getLogger(__name__)


# ====================================================================== ledgers
def _log_frame(year: int, unit_code: str, results: Iterable[SheetResult]) -> pl.DataFrame:
    rows = [
        {
            "year": year,
            "unit_code": unit_code,
            "sheet": r.spec.title,
            "source_file": r.source_file,
            "source_sha256": r.source_sha256,
            "rows_read": r.rows_read,
            "rows_kept": r.rows_kept,
            "rows_quarantined": r.rows_quarantined,
            "rows_skipped": r.rows_skipped,
        }
        for r in results
    ]
    return pl.DataFrame(rows, schema=INGEST_LOG_SCHEMA)


def _missing_columns_message(spec: SheetSpec, missing: list[str]) -> str:
    return (
        f"工作表“{spec.title}”缺少必需列：{'、'.join(missing)}（前 {HEADER_SEARCH_ROWS} 行中"
        f"未找到含全部必需列的表头行）/ sheet {spec.title} lacks required column(s)"
    )


def _match_specs(names: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Sheet / file names (spaces removed) → spec key; warnings for unknown or repeated ones."""
    by_title = {s.title: s for s in LEDGER_SHEETS}
    found: dict[str, str] = {}
    warnings: list[str] = []
    for name in names:
        spec = by_title.get(_norm_name(name))
        if spec is None:
            continue
        if spec.key in found:
            warnings.append(
                f"工作表“{spec.title}”出现多次，只读取第一个（{found[spec.key]}）/ "
                f"sheet {spec.title} appears twice, first one read"
            )
            continue
        found[spec.key] = name
    return found, warnings


def _require_sheets(found: dict[str, str], rel: str) -> None:
    missing = [s.title for s in LEDGER_SHEETS if s.required and s.key not in found]
    if missing:
        raise LedgerRejected(
            rel, f"缺少必需工作表：{'、'.join(missing)} / required sheet(s) missing"
        )


def _missing_column(spec: SheetSpec, exc: _MissingColumns, rel: str, warnings: list[str]):
    msg = _missing_columns_message(spec, exc.missing)
    if spec.required:
        raise LedgerRejected(rel, msg)
    warnings.append(f"{msg}；该可选工作表不读取 / optional sheet left out")


@dataclass
class _Loaded:
    """A ledger after stage 1: its sheets as pieces, ready for the per-kind batch."""

    year: int
    unit_code: str
    source_file: str
    form: str
    pieces: dict[str, _Piece]  # by SheetSpec.key, in LEDGER_SHEETS order
    warnings: list[str]

    @property
    def rows(self) -> int:
        return sum(p.frame.height for p in self.pieces.values())


def _load_ledger(
    path: Path, landing: Path, year: int, unit_code: str, max_uncompressed_bytes: int
) -> _Loaded:
    """Stage 1 for one file (I/O bound, thread-safe): open, find headers, map columns."""
    rel = _rel(path, landing)
    if not _inside(path, landing):
        raise LedgerRejected(rel, _outside_message(rel))
    if path.is_dir():
        return _load_csv_ledger(path, landing, rel, year, unit_code)
    if not path.is_file():
        raise LedgerRejected(rel, "文件不存在 / file not found")
    form = W.WORKBOOK_SUFFIXES.get(path.suffix.lower())
    if form is None:
        raise LedgerRejected(rel, W.unreadable_message(path.suffix, rel))
    data = path.read_bytes()  # read once: hashed, checked and parsed from these bytes
    sha = _sha256(data)
    try:
        zf = W.check_workbook(data, form, max_uncompressed_bytes)
    except W.WorkbookRefused as exc:
        raise LedgerRejected(rel, exc.message) from None
    try:
        pieces, warnings = _load_workbook(data, zf, form, rel, _Context(year, unit_code, rel, sha))
    except BaseException as exc:
        if not _is_panic(exc):
            raise
        # calamine gave up on the file's structure (a Rust panic): that file is refused
        raise LedgerRejected(
            rel, f"文件损坏或不是 {form} 工作簿 / corrupt file or not an {form} workbook ({exc})"
        ) from None
    return _Loaded(year, unit_code, rel, form, pieces, warnings)


def _is_panic(exc: BaseException) -> bool:
    """A panic inside a Rust extension (pyo3's PanicException derives from BaseException)."""
    return type(exc).__name__ == "PanicException"


def _load_workbook(
    data: bytes, zf: zipfile.ZipFile | None, form: str, rel: str, ctx: _Context
) -> tuple[dict[str, _Piece], list[str]]:
    """Stage 1 of a workbook of any format: its sheets matched to specs and read as pieces. An
    xlsx / xlsm (``zf`` open) peeks at its sheet XML; an .xls or .ods is read by calamine alone."""
    try:
        reader = fastexcel.read_excel(data)
        sheet_names = reader.sheet_names
        members = xlsx_sheet_members(zf) if zf is not None else {}
    except Exception as exc:  # noqa: BLE001 - calamine raises many kinds for broken files
        raise LedgerRejected(
            rel, f"文件损坏或不是 {form} 工作簿 / corrupt file or not an {form} workbook ({exc})"
        ) from None
    found, warnings = _match_specs(sheet_names)
    _require_sheets(found, rel)
    pieces: dict[str, _Piece] = {}
    sst = SharedStrings(zf) if zf is not None else None
    for spec in LEDGER_SHEETS:
        if spec.key not in found:
            continue
        name = found[spec.key]
        try:
            if zf is not None:
                raw = _read_xlsx_raw(reader, zf, name, members.get(name), spec, sst)
            else:
                raw = _read_calamine_raw(reader, name, spec)
        except _MissingColumns as exc:
            _missing_column(spec, exc, rel, warnings)
            continue
        except fastexcel.FastExcelError as exc:
            raise LedgerRejected(
                rel, f"工作表“{name}”无法读取 / sheet {name} cannot be read ({exc})"
            ) from None
        pieces[spec.key] = _to_piece(raw, spec, ctx)
    return pieces, warnings


def _load_csv_ledger(folder: Path, landing: Path, rel: str, year: int, unit_code: str) -> _Loaded:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".csv")
    by_stem = {p.stem: p for p in files}
    found, warnings = _match_specs(by_stem)
    _require_sheets(found, rel)
    pieces: dict[str, _Piece] = {}
    for spec in LEDGER_SHEETS:
        if spec.key not in found:
            continue
        p = by_stem[found[spec.key]]
        prel = _rel(p, landing)
        if not _inside(p, landing):
            raise LedgerRejected(prel, _outside_message(prel))
        data = p.read_bytes()
        ctx = _Context(year, unit_code, prel, _sha256(data))
        try:
            raw = _read_csv_raw(data, spec, prel)
        except _BadEncoding as exc:
            raise LedgerRejected(prel, str(exc)) from None
        except _MissingColumns as exc:
            _missing_column(spec, exc, prel, warnings)
            continue
        pieces[spec.key] = _to_piece(raw, spec, ctx)
    return _Loaded(year, unit_code, rel, "csv", pieces, warnings)


def _internal_error(rel: str, exc: Exception) -> LedgerRejected:
    """An unexpected failure while reading one file: that file is refused, the others go on."""
    _log.error("internal error while reading %s", rel, exc_info=exc)
    return LedgerRejected(
        rel,
        f"读取时发生内部错误（{type(exc).__name__}），请将此文件与日志报告给维护者；其余单位不受"
        f"影响。 Internal error while reading: {P.mask_ids_in_text(str(exc))[:300]}",
    )


def _process_batch(loaded: list[_Loaded]) -> list[LedgerResult | LedgerRejected]:
    """Stage 2 over a batch of ledgers: one _process_pieces per sheet kind. If the batch of a
    kind fails, that kind is redone file by file so only the failing file is refused."""
    sheets: list[dict[str, SheetResult]] = [{} for _ in loaded]
    failed: dict[int, LedgerRejected] = {}
    for spec in LEDGER_SHEETS:
        owners = [i for i, ld in enumerate(loaded) if spec.key in ld.pieces]
        if not owners:
            continue
        try:
            results = _process_pieces(spec, [loaded[i].pieces[spec.key] for i in owners])
        except Exception:  # noqa: BLE001 - find the file at fault, spare the others
            results = []
            for i in owners:
                try:
                    results.extend(_process_pieces(spec, [loaded[i].pieces[spec.key]]))
                except Exception as exc:  # noqa: BLE001
                    failed.setdefault(i, _internal_error(loaded[i].source_file, exc))
                    results.append(None)
        for i, res in zip(owners, results, strict=True):
            if res is not None:
                sheets[i][spec.key] = res
    out: list[LedgerResult | LedgerRejected] = []
    for i, ld in enumerate(loaded):
        if i in failed:
            out.append(failed[i])
            continue
        res = sheets[i]
        out.append(
            LedgerResult(
                ld.year,
                ld.unit_code,
                ld.source_file,
                ld.form,
                res,
                _log_frame(ld.year, ld.unit_code, res.values()),
                ld.warnings,
            )
        )
    return out


DEFAULT_BATCH_ROWS = 400_000


def default_workers() -> int:
    """Threads for stage 1: calamine and polars release the GIL while they parse."""
    return max(1, min(4, os.cpu_count() or 1))


def read_ledgers(
    files: Sequence[LedgerFile],
    *,
    landing: Path | str,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
    workers: int | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Iterator[list[tuple[LedgerFile, LedgerResult | LedgerRejected]]]:
    """Read many ledgers at once, yielding them batch by batch (in ``files`` order).

    Stage 1 (per file, ``workers`` threads): open, find headers, map columns to canonical
    names. Stage 2 (per sheet kind over every file of the batch): one parse, normalisation,
    pandera validation and quarantine split. A batch closes once it holds ``batch_rows`` raw
    rows, which bounds memory. A file that cannot be read is a LedgerRejected in its slot; it
    never affects the other files of the batch."""
    landing = Path(landing)
    workers = workers or default_workers()

    def load(f: LedgerFile) -> _Loaded | LedgerRejected:
        try:
            return _load_ledger(Path(f.path), landing, f.year, f.unit_code, max_uncompressed_bytes)
        except LedgerRejected as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop the others
            return _internal_error(_rel(Path(f.path), landing), exc)

    batch: list[tuple[LedgerFile, _Loaded | LedgerRejected]] = []
    rows = 0

    def flush() -> list[tuple[LedgerFile, LedgerResult | LedgerRejected]]:
        ok = [(i, x) for i, (_f, x) in enumerate(batch) if isinstance(x, _Loaded)]
        done = dict(zip([i for i, _ in ok], _process_batch([x for _, x in ok]), strict=True))
        return [(f, done.get(i, x)) for i, (f, x) in enumerate(batch)]  # type: ignore[misc]

    for f, loaded in zip(files, _ordered_map(load, files, workers), strict=True):
        batch.append((f, loaded))
        rows += loaded.rows if isinstance(loaded, _Loaded) else 0
        if rows >= batch_rows:
            yield flush()
            batch, rows = [], 0
    if batch:
        yield flush()


def _ordered_map(fn, items: Sequence, workers: int) -> Iterator:
    """``map`` over threads, results in order, at most ``2 × workers`` items in flight (so a
    long list is not all loaded into memory ahead of the batches that consume it)."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="bangfu-read") as ex:
        pending: deque = deque()
        it = iter(items)
        for item in it:
            pending.append(ex.submit(fn, item))
            if len(pending) >= 2 * workers:
                break
        while pending:
            yield pending.popleft().result()
            nxt = next(it, _END)
            if nxt is not _END:
                pending.append(ex.submit(fn, nxt))


_END = object()


def read_ledger(
    path: Path | str,
    *,
    landing: Path | str,
    year: int,
    unit_code: str,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
) -> LedgerResult:
    """Read one unit-year ledger (an .xlsx or a folder of CSVs). Raises LedgerRejected."""
    path, landing = Path(path), Path(landing)
    loaded = _load_ledger(path, landing, year, unit_code, max_uncompressed_bytes)
    (res,) = _process_batch([loaded])
    if isinstance(res, LedgerRejected):
        raise res
    return res
