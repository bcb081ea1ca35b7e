"""Helpers of the incremental-run tests: change a ledger, run, compare outputs with a run from
scratch (every workbook's cell values, every report's text)."""

from __future__ import annotations

import os
from pathlib import Path

ARCHIVE_CSV = "困难职工档案.csv"


def copy_tree(src: Path, dst: Path) -> Path:
    from tests.support.runs import copy_folder

    return copy_folder(src, dst)


def csv_county(landing: Path, year: int) -> str:
    """A unit of the year whose ledger is a folder of CSV sheets with an archive sheet."""
    for d in sorted((landing / "ledgers" / str(year)).iterdir()):
        if d.is_dir() and (d / ARCHIVE_CSV).exists():
            return d.name
    raise AssertionError(f"no CSV ledger with {ARCHIVE_CSV} in {year}")


def drop_archive_rows(landing: Path, year: int, unit: str, n: int = 5) -> None:
    """Remove ``n`` data rows from the middle of the unit's archive sheet (bytes kept as they
    are: encoding and line ends), as when a county sends a corrected ledger."""
    path = landing / "ledgers" / str(year) / unit / ARCHIVE_CSV
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    mid = len(lines) // 2
    assert len(lines) > 2 * n + 6, f"{path} has too few rows"
    path.write_bytes(b"\n".join(lines[:mid] + lines[mid + n :]))


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
