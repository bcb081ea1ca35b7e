"""Reading the lake for the later stages: which units of a year were read, the reference data,
and the year's units cut into chunks under a byte budget. No Dagster here."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from bangfu.frames import INGEST_STATUS_SCHEMA
from bangfu.lake import Lake
from bangfu.sheets import LEDGER_SHEETS

DEFAULT_CHUNK_MB = 8  # ≈ 0.4 GB peak in the unit-findings stage (M: 20 MB a year → 1 GB)


def sheets_present(lake: Lake, year: int, units: Iterable[str]) -> dict[str, list[str]]:
    """Sheet key → units whose ledger of the year holds that sheet (absent sheets: no data)."""
    units = list(units)
    return {s.key: [u for u in units if lake.has(s.key, year, u)] for s in LEDGER_SHEETS}


# The whole year's ingest_status as last read, by lake and year, with the identity (path, size,
# mtime, inode) of every file it was read from: the year and output stages of one run ask for it
# several times, and at national scale each read opens thousands of small files. Lake writes
# replace a file by renaming a new one over it, so a rewritten partition has a new identity.
_YEAR_STATUS: dict[tuple[str, int], tuple[tuple, pl.DataFrame]] = {}


def _file_identity(files: list[Path]) -> tuple:
    return tuple((str(p), *_stat_key(p.stat())) for p in files)


def _stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino


def ingest_status(lake: Lake, year: int, units: Iterable[str] | None = None) -> pl.DataFrame:
    """The year's ingest_status rows (one per partition ingested) of these units (None: all).
    One multi-file scan, not a Python loop over the files: at national scale the files are
    thousands of small ones, and polars reads them together in parallel. The whole year's
    rows are read again only when one of its files changed."""
    files = lake.files("ingest_status", [year], units)
    if not files:
        return pl.DataFrame(schema=INGEST_STATUS_SCHEMA)
    if units is not None:
        return _read_status(files)
    key, identity = (str(lake.root), int(year)), _file_identity(files)
    kept = _YEAR_STATUS.get(key)
    if kept is not None and kept[0] == identity:
        return kept[1]
    frame = _read_status(files)
    _YEAR_STATUS[key] = (identity, frame)
    return frame


def _read_status(files: list[Path]) -> pl.DataFrame:
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
