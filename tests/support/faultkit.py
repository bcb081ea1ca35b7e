"""Shared by tests/e2e/test_faults.py and tests/e2e/test_concurrency.py (issue #7: faults,
re-runs and concurrency): a small landing folder, a run in this process, `bangfu run` as a
killable child process, and snapshots of everything a run leaves behind. The small landing and
its one uninterrupted baseline run are session fixtures of tests/conftest.py (``small_landing``,
``small_baseline``).

A snapshot is what a reader of the outputs sees, comparable between two data folders:

- lake: the SHA-256 of every file's bytes (Parquet must be byte-equal);
- warehouse: every table's rows, sorted, values normalised the same way for SQLite and
  PostgreSQL, without ``ingest_log.ingested_at``, ``rejected_files.rejected_at`` and
  ``rendered_outputs.rendered_at`` — the wall
  clock time of the write, which differs by design between any two runs (nothing else does);
- workbooks: per file, the SHA-256 of every sheet's name and cell values (an xlsx is a zip that
  holds its own write time, so its bytes differ between runs);
- reports: per file, the SHA-256 of the .docx paragraphs' and tables' text (same reason).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support import REPO

YEAR = 2019
# a tree: the province, one city and two of its counties (one xlsx ledger, one CSV folder at S)
UNITS = ("330000", "330100", "330103", "330182")
COUNTIES = ("330103", "330182")
# the wall clock time of the write: differs between any two runs by design
RUN_TIME_COLUMNS = {
    "ingest_log": {"ingested_at"},
    "rejected_files": {"rejected_at"},
    "rendered_outputs": {"rendered_at"},
}
PAUSE_ENV = "BANGFU_TEST_PAUSE_AT"  # bangfu.faultpoints.pause_point


# ---------------------------------------------------------------- the small landing folder
def subset_landing(src: Path, dst: Path, year: int = YEAR, units=UNITS) -> Path:
    """A copy of `src` holding only `year` and `units` (units.csv cut down to them: still a tree)."""
    (dst / "reference" / "civil_roster").mkdir(parents=True)
    ref = src / "reference"
    shutil.copy(ref / "standards.csv", dst / "reference" / "standards.csv")
    roster = ref / "civil_roster" / f"{year}.csv"
    if roster.exists():
        shutil.copy(roster, dst / "reference" / "civil_roster" / roster.name)
    lines = (ref / "units.csv").read_text(encoding="utf-8").splitlines()
    kept = [lines[0]] + [ln for ln in lines[1:] if ln.split(",")[0] in set(units)]
    assert len(kept) == len(units) + 1, kept
    (dst / "reference" / "units.csv").write_text("\n".join(kept) + "\n", encoding="utf-8")
    out = dst / "ledgers" / str(year)
    out.mkdir(parents=True)
    for unit in units:
        xlsx, folder = (
            src / "ledgers" / str(year) / f"{unit}.xlsx",
            src / "ledgers" / str(year) / unit,
        )
        if xlsx.exists():
            shutil.copy(xlsx, out / xlsx.name)
        else:
            shutil.copytree(folder, out / unit)
    return dst


def run_in_process(landing: Path, data: Path, warehouse_url: str | None = None, **kw):
    """run_pipeline in this process with the data folder's own DAGSTER_HOME."""
    from pipelines.runner import run_pipeline

    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(data / "dagster_home"))
        if warehouse_url:
            mp.setenv("BANGFU_WAREHOUSE_URL", warehouse_url)
        else:
            mp.delenv("BANGFU_WAREHOUSE_URL", raising=False)
        summary = run_pipeline(landing, data, echo=lines.append, **kw)
    return summary, lines


# ---------------------------------------------------------------- `bangfu run` as a child
class Child(subprocess.Popen):
    """A child process whose output goes to a file (a pipe nobody reads would stall it)."""

    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_child(
    args: list[str],
    data: Path,
    *,
    pause: str | None = None,
    warehouse_url: str | None = None,
) -> Child:
    """`python <args>` in the repository, in its own process group (a kill reaches everything
    it started), with the data folder's own DAGSTER_HOME."""
    env = {k: v for k, v in os.environ.items() if k not in (PAUSE_ENV, "BANGFU_WAREHOUSE_URL")}
    env.update(DAGSTER_HOME=str(data / "dagster_home"), PYTHONUNBUFFERED="1")
    if pause:
        env[PAUSE_ENV] = pause
    if warehouse_url:
        env["BANGFU_WAREHOUSE_URL"] = warehouse_url
    data.parent.mkdir(parents=True, exist_ok=True)
    log = data.parent / f"child-{time.monotonic_ns()}.log"
    with open(log, "w", encoding="utf-8") as fh:
        proc = Child(
            [sys.executable, *args],
            cwd=REPO,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proc.log = log
    return proc


def start_run(landing: Path, data: Path, *args: str, **kw) -> Child:
    """`bangfu run --landing … --data … <args>` (the command line) as a child process."""
    cli = ["-m", "bangfu.cli", "run", "--landing", str(landing), "--data", str(data)]
    return start_child([*cli, *args], data, **kw)


def wait_for(what: Callable[[], object], proc: Child | None, timeout: float = 240):
    """Poll `what` every 10 ms until true; fail if `proc` ended first or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            out = proc.output()[-3000:]
            pytest.fail(f"the child ended (exit {proc.returncode}) before the point:\n{out}")
        time.sleep(0.01)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def kill_group(proc: Child) -> str:
    """SIGKILL the child's whole process group; its output."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.output()[-3000:])
    return proc.output()


def finish(proc: Child, timeout: float = 300) -> tuple[int, str]:
    """Wait for the child to end by itself: its exit status and output."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc.returncode, proc.output()


# ---------------------------------------------------------------- what a run leaves behind
def lake_hashes(data: Path) -> dict[str, str]:
    root = data / "lake"
    return {
        p.relative_to(root).as_posix(): _lake_file_hash(p)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _lake_file_hash(path: Path) -> str:
    """A lake file's bytes; for the overview's kept Benford counts, their rows without the lake
    files' identities (size, mtime, inode), which differ between any two data folders."""
    from bangfu.benford import BENFORD_DATASET

    if BENFORD_DATASET not in path.parts:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    import polars as pl

    rows = pl.read_parquet(path).drop("payments", "ledger").sort(pl.all()).rows()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def _norm(v):
    if isinstance(v, Decimal):
        return format(v.quantize(Decimal("0.01")), "f")
    if isinstance(v, float):
        return repr(v)
    return v


def warehouse_rows(url: str) -> dict[str, list[tuple]]:
    from sqlalchemy import create_engine, select

    from warehouse import tables
    from warehouse.store import _normalise_url

    engine = create_engine(_normalise_url(url))
    out: dict[str, list[tuple]] = {}
    try:
        with engine.connect() as conn:
            for table in tables.metadata.sorted_tables:
                skip = RUN_TIME_COLUMNS.get(table.name, set())
                cols = [c for c in table.columns if c.name not in skip]
                rows = [tuple(_norm(v) for v in r) for r in conn.execute(select(*cols))]
                out[table.name] = sorted(rows, key=lambda r: [(v is None, str(v)) for v in r])
    finally:
        engine.dispose()
    return out


def workbook_hash(path: Path) -> str:
    from openpyxl import load_workbook

    from bangfu.forms.review_sheets import IDENT_SHEET

    h = hashlib.sha256()
    wb = load_workbook(path, read_only=True)
    try:
        for ws in wb.worksheets:
            h.update(f"\x00sheet {ws.title}\x00".encode())
            for row in ws.iter_rows(values_only=True):
                if ws.title == IDENT_SHEET and row and row[0] == "written_at":
                    continue  # when the file was written: differs by design between runs
                h.update(repr(row).encode())
    finally:
        wb.close()
    return h.hexdigest()


def report_hash(path: Path) -> str:
    import docx

    doc = docx.Document(str(path))
    h = hashlib.sha256()
    for p in doc.paragraphs:
        h.update(p.text.encode() + b"\n")
    for t in doc.tables:
        for row in t.rows:
            h.update(repr([c.text for c in row.cells]).encode())
    return h.hexdigest()


def snapshot(data: Path, warehouse_url: str | None = None) -> dict:
    url = warehouse_url or f"sqlite:///{data.resolve() / 'warehouse.db'}"
    return {
        "lake": lake_hashes(data),
        "warehouse": warehouse_rows(url),
        "workbooks": {
            p.relative_to(data).as_posix(): workbook_hash(p)
            for p in sorted((data / "workbooks").rglob("*.xlsx"))
        },
        "reports": {
            p.relative_to(data).as_posix(): report_hash(p)
            for p in sorted((data / "reports").rglob("*.docx"))
        },
    }


def temp_files(data: Path) -> list[Path]:
    """Everything under the outputs that is not a finished file: temporaries of any naming."""
    out = []
    for sub in ("lake", "workbooks", "reports", "quality"):
        root = data / sub
        if root.exists():
            out += [
                p
                for p in root.rglob("*")
                if p.is_file() and (p.name.startswith(".") or p.suffix in (".tmp", ".part"))
            ]
    return sorted(out)


def assert_every_file_opens(data: Path) -> int:
    """What a reader sees is whole: every Parquet, xlsx and docx opens and reads. Returns how many."""
    import docx
    import polars as pl

    n = 0
    for p in (data / "lake").rglob("*.parquet"):
        assert p.name == "data.parquet", f"{p}: not a lake file name (a temporary file?)"
        pl.read_parquet(p)
        n += 1
    for p in (data / "workbooks").rglob("*.xlsx") if (data / "workbooks").exists() else ():
        workbook_hash(p)
        n += 1
    for p in (data / "reports").rglob("*.docx") if (data / "reports").exists() else ():
        docx.Document(str(p))
        n += 1
    return n


def diff_snapshots(got: dict, want: dict) -> list[str]:
    """Readable differences (empty when equal)."""
    out = []
    for part in ("lake", "workbooks", "reports"):
        g, w = got[part], want[part]
        out += [f"{part}: missing {k}" for k in sorted(set(w) - set(g))]
        out += [f"{part}: extra {k}" for k in sorted(set(g) - set(w))]
        out += [f"{part}: differs {k}" for k in sorted(set(g) & set(w)) if g[k] != w[k]]
    for name in sorted(set(got["warehouse"]) | set(want["warehouse"])):
        g, w = got["warehouse"].get(name, []), want["warehouse"].get(name, [])
        if g != w:
            gs, ws = set(g), set(w)
            out.append(
                f"warehouse.{name}: {len(g)} rows vs {len(w)}; "
                f"{len(gs - ws)} unexpected e.g. {sorted(gs - ws, key=str)[:1]}, "
                f"{len(ws - gs)} missing e.g. {sorted(ws - gs, key=str)[:1]}"
            )
    return out
