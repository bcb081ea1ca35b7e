"""Helpers of the incremental-run tests: change a ledger, run, compare outputs with a run from
scratch (every workbook's cell values, every report's text)."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from tests.support.runs import copy_folder

# The changed year: one with a next year, whose outputs show this year's metrics and findings
# (上年度问题整改情况), so a change reaches two years' outputs.
YEAR = 2018
ARCHIVE = "困难职工档案"


def archive_sheet(landing: Path, year: int, unit: str) -> Path | None:
    """The file holding the unit's archive sheet: a CSV of its folder, else its workbook."""
    folder = landing / "ledgers" / str(year) / unit
    if folder.is_dir():
        for p in sorted(folder.glob("*.csv")):
            if "".join(p.stem.split()) == ARCHIVE:  # stray (ideographic) spaces in the name
                return p
    book = landing / "ledgers" / str(year) / f"{unit}.xlsx"
    return book if book.exists() else None


def drop_archive_rows(path: Path, n: int = 5) -> None:
    """Remove ``n`` data rows from the middle of the archive sheet, as when a county sends a
    corrected ledger: a CSV byte for byte (encoding and line ends kept), a workbook by openpyxl."""
    if path.suffix == ".csv":
        lines = path.read_bytes().split(b"\n")
        assert len(lines) > 2 * n + 6, f"{path} has too few rows"
        mid = len(lines) // 2
        path.write_bytes(b"\n".join(lines[:mid] + lines[mid + n :]))
        return
    from openpyxl import load_workbook

    wb = load_workbook(path)
    (ws,) = [ws for ws in wb if "".join(ws.title.split()) == ARCHIVE]
    assert ws.max_row > 2 * n + 6, f"{path} has too few rows"
    ws.delete_rows(ws.max_row // 2, n)
    wb.save(path)


def chain(units: pl.DataFrame, unit: str) -> list[str]:
    """The unit and the units above it."""
    parent = dict(zip(units["unit_code"], units["parent_code"], strict=True))
    out = [unit]
    while parent.get(out[-1]):
        out.append(parent[out[-1]])
    return out


def pick_counties(landing: Path, year: int, units: pl.DataFrame) -> list[str]:
    """Three counties with a ledger in ``year``: two under one city (their roll-ups overlap),
    one under another; CSV ledgers first."""
    by_city: dict[str, list[str]] = {}
    counties = units.filter(pl.col("level") == "县").sort("unit_code")
    for code, parent in counties.select("unit_code", "parent_code").iter_rows():
        if archive_sheet(landing, year, code) is not None:
            by_city.setdefault(parent, []).append(code)
    cities = sorted(by_city, key=lambda c: (-len(by_city[c]), c))
    assert len(cities) >= 2 and len(by_city[cities[0]]) >= 2, by_city

    def csv_first(code: str) -> tuple[bool, str]:
        return archive_sheet(landing, year, code).suffix != ".csv", code

    return sorted(
        sorted(by_city[cities[0]], key=csv_first)[:2]
        + sorted(by_city[cities[1]], key=csv_first)[:1]
    )


def changed_ledgers(landing: Path, units: pl.DataFrame, root: Path) -> dict:
    """``landing`` copied into ``root`` with three counties' archives of :data:`YEAR` five rows
    shorter (a CSV and a workbook among them when the landing has both), and a run from scratch
    over it: what every partial run, and the daemon's paths, must end up equal to."""
    changed = copy_folder(landing, root / "landing")
    counties = pick_counties(changed, YEAR, units)
    for county in counties:
        drop_archive_rows(archive_sheet(changed, YEAR, county))
    scratch_run(changed, root / "data")
    return {
        "landing": changed,
        "data": root / "data",
        "counties": counties,
        "units": units,
        "year": YEAR,
    }


def workbook_values(path: Path) -> dict[str, list[tuple]]:
    """Every sheet's cell values as text, row by row over the sheet's used range (calamine, as
    ``bench.same_run`` reads them), but the hidden identification's time of writing (it differs
    by design between runs)."""
    from bangfu.forms.review_sheets import IDENT_SHEET
    from bench.same_run import sheets

    out = sheets(path)
    if IDENT_SHEET in out:
        out[IDENT_SHEET] = [r for r in out[IDENT_SHEET] if not (r and r[0] == "written_at")]
    return out


def report_text(path: Path) -> list[str]:
    from bench.same_run import report_text as text

    return text(path)


def output_files(data: Path) -> dict[str, Path]:
    out = {}
    kinds = (
        ("workbooks", "*.xlsx"),
        ("reports", "*.docx"),
        ("quality", "*.xlsx"),
        ("overview", "*.xlsx"),
    )
    for sub, pattern in kinds:
        root = data / sub
        if root.exists():
            out.update({str(p.relative_to(data)): p for p in sorted(root.rglob(pattern))})
    return out


def differing_outputs(a: Path, b: Path) -> list[str]:
    """Relative paths whose content (cell values, report text) differs, or that only one has."""
    fa, fb = output_files(a), output_files(b)
    diff = sorted(set(fa) ^ set(fb))
    for rel in sorted(set(fa) & set(fb)):
        read = report_text if rel.endswith(".docx") else workbook_values
        if read(fa[rel]) != read(fb[rel]):
            diff.append(rel)
    return diff


def scratch_run(landing: Path, data: Path):
    """A run from scratch over ``landing`` into ``data`` with its own Dagster home."""
    from pipelines.runner import run_pipeline

    old = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(data / "dagster_home")
    try:
        summary = run_pipeline(landing, data, echo=lambda _line: None)
    finally:
        if old is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = old
    assert summary.ok, summary.failures + summary.failed_stages
    return summary
