"""What every reader shares: results and errors, paths, the raw sheet and its header."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import polars as pl

from bangfu import parse as P
from bangfu.sheets import (
    SheetSpec,
)

_log = logging.getLogger(__name__)

HEADER_SEARCH_ROWS = 20
DEFAULT_MAX_UNCOMPRESSED = 200 * 1024**2


# ====================================================================== results and errors
class LedgerRejected(Exception):
    """The whole file is refused; the message (Chinese, then English) names the file."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


class ReferenceDataError(Exception):
    """A reference file (units.csv …) is unusable: the run stops before any ledger is read."""


class _MissingColumns(Exception):
    def __init__(self, spec: SheetSpec, missing: list[str]):
        self.spec = spec
        self.missing = missing
        super().__init__("、".join(missing))


class _BadEncoding(Exception):
    pass


@dataclass
class SheetResult:
    spec: SheetSpec
    source_file: str  # relative to landing, '/'-separated
    source_sha256: str
    frame: pl.DataFrame  # frames.sheet_schema(spec)
    quarantine: pl.DataFrame  # QUARANTINE_SCHEMA
    rows_read: int
    rows_kept: int
    rows_quarantined: int
    rows_skipped: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class LedgerResult:
    year: int
    unit_code: str
    source_file: str
    form: str  # 'xlsx' | 'xlsm' | 'xls' | 'ods' | 'csv'
    sheets: dict[str, SheetResult]  # by SheetSpec.key
    log: pl.DataFrame  # INGEST_LOG_SCHEMA, one row per sheet read
    warnings: list[str]  # ledger-level warnings (sheet warnings stay on each SheetResult)


@dataclass(frozen=True)
class LedgerFile:
    year: int
    unit_code: str
    path: Path
    form: str  # 'xlsx' | 'xlsm' | 'xls' | 'ods' | 'csv'


@dataclass(frozen=True)
class Rejection:
    year: int | None
    unit_code: str | None
    path: str  # relative to landing, '/'-separated
    message: str


# ====================================================================== paths
def _rel(path: Path, landing: Path) -> str:
    try:
        return PurePosixPath(Path(path).absolute().relative_to(Path(landing).absolute())).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _inside(path: Path, landing: Path) -> bool:
    """True when the path, after following every link, stays inside the landing folder."""
    try:
        return Path(path).resolve().is_relative_to(Path(landing).resolve())
    except (OSError, RuntimeError):  # link loops
        return False


def _outside_message(rel: str) -> str:
    return (
        f"文件是指向落地目录之外的链接，拒绝读取 / the file links outside the landing folder: {rel}"
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _norm_name(s: str) -> str:
    return re.sub(P.SPACE_PATTERN, "", s or "")


# ====================================================================== raw tables
@dataclass
class _Raw:
    """A sheet as rows of strings: columns c0..cN, ``__row`` (Excel row / CSV line), and for
    ID columns read with their cell type a Boolean ``n<j>`` (cell was not text)."""

    frame: pl.DataFrame
    header_row: int  # row number of the header (Excel / CSV numbering)
    mapping: dict[str, int]  # canonical name → column index j of c<j>
    warnings: list[str]


def _detect_header(
    rows: Iterable[tuple[int, list[str | None]]], spec: SheetSpec
) -> tuple[int, dict[str, int], list[str]]:
    """First of rows 1–20 holding every required column (after synonyms, spaces removed)."""
    aliases = spec.header_aliases()
    required = {c.name for c in spec.required_columns}
    best: tuple[int, set[str]] = (-1, set())
    for row_no, cells in rows:
        if row_no > HEADER_SEARCH_ROWS:
            break
        mapping: dict[str, int] = {}
        dups: list[str] = []
        for j, cell in enumerate(cells):
            if cell is None:
                continue
            name = aliases.get(_norm_name(str(cell)))
            if name is None:
                continue
            if name in mapping:
                dups.append(_norm_name(str(cell)))
            else:
                mapping[name] = j
        found = set(mapping)
        if required <= found:
            warnings = [
                f"{spec.title}：表头“{d}”重复，使用第一个同名列 / duplicate header, first one used"
                for d in dups
            ]
            return row_no, mapping, warnings
        if len(found & required) > len(best[1]):
            best = (row_no, found & required)
    missing = [c.header for c in spec.required_columns if c.name not in best[1]]
    raise _MissingColumns(spec, missing)


def raw_from_rows(row_nos: list[int], rows: list[list[str | None]]) -> pl.DataFrame:
    width = max((len(r) for r in rows), default=0)
    cols = {f"c{j}": [r[j] if j < len(r) else None for r in rows] for j in range(width)}
    cols["__row"] = row_nos
    return pl.DataFrame(cols, schema={**{k: pl.String for k in cols}, "__row": pl.Int64})


@dataclass(frozen=True)
class _Context:
    year: int | None
    unit_code: str | None
    source_file: str
    source_sha256: str
