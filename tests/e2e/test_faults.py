"""Issue #7 item 3 (faults) and item 4 (idempotence): kill -9 in the middle of ingestion, of the
findings and of workbook writing; the PostgreSQL warehouse dropping its connection inside a
transaction; the same partitions run twice.

Each compares with an uninterrupted run over the same small landing folder (faultkit: 2019,
four units; snapshots hash the lake's bytes, the warehouse's rows and the workbooks' cell
values). The kill points are exact, not timing guesses: bangfu.faultpoints.pause_point stops the run
where the test names it (a temporary Parquet written but not renamed; a warehouse transaction
written but not committed) until the test kills it; workbook writing is long enough to poll.
"""

from __future__ import annotations

import threading
import time
import zipfile
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from sqlalchemy import create_engine, text

from tests.support.faultkit import (
    PAUSE_ENV,
    UNITS,
    assert_every_file_opens,
    diff_snapshots,
    finish,
    kill_group,
    lake_hashes,
    run_in_process,
    snapshot,
    start_run,
    temp_files,
    wait_for,
    warehouse_rows,
)
from tests.support.runs import copy_data

pytestmark = pytest.mark.slow

LEDGER_DATASETS = (
    "archive",
    "procedures",
    "econ_checks",
    "payments",
    "ledger",
    "unit_standards",
    "targets",
    "evaluation",
    "followup",
    "staff",
    "budget",
    "ingest_status",
)


def _only(hashes: dict[str, str], datasets) -> dict[str, str]:
    return {k: v for k, v in hashes.items() if k.split("/", 1)[0] in datasets}


class Reader(threading.Thread):
    """Reads every visible output file again and again while runs write and get killed: any
    partial Parquet or xlsx it ever opens is recorded."""

    def __init__(self, data: Path):
        super().__init__(daemon=True)
        self.data, self.stop, self.reads, self.errors = data, threading.Event(), 0, []

    def run(self):
        while not self.stop.is_set():
            for p in list((self.data / "lake").rglob("*.parquet")):
                self._read(p, lambda p: pl.read_parquet(p))
            for p in list((self.data / "workbooks").rglob("*.xlsx")):
                self._read(p, lambda p: zipfile.ZipFile(p).testzip())
            time.sleep(0.2)

    def _read(self, path, read):
        try:
            if path.name.endswith(".parquet") and path.name != "data.parquet":
                raise ValueError("a temporary file under a reader's glob")
            bad = read(path)
            if isinstance(bad, str):
                raise ValueError(f"corrupt zip member {bad}")
            self.reads += 1
        except FileNotFoundError:  # a partition removed between listing and reading: not partial
            pass
        except Exception as exc:  # noqa: BLE001 - every other failure is what we look for
            self.errors.append(f"{path}: {type(exc).__name__}: {exc}")


def test_kill_9_in_ingestion_findings_and_workbooks_then_rerun(
    small_landing, small_baseline, tmp_path
):
    """kill -9 (a) in ingestion, then (b) in the findings of the re-run, then (c) in the
    workbooks of the next; after each re-run, what it got past equals the uninterrupted run's,
    and the last re-run equals it whole. No reader ever sees a partial file."""
    want = small_baseline["snapshot"]
    data = tmp_path / "data"
    reader = Reader(data)
    reader.start()

    # (a) ingestion: the first partition's archive is in the lake, its payments Parquet is
    # written to a temporary file and not yet renamed into place
    flag = tmp_path / "paused-a"
    proc = start_run(small_landing, data, pause=f"lake:payments={flag}")
    wait_for(flag.exists, proc)
    kill_group(proc)
    left = temp_files(data)
    assert left and all(p.name.startswith(".data.parquet.") for p in left), left
    assert not (data / "workbooks").exists()
    assert assert_every_file_opens(data) > 0

    # (b) findings: ingestion done, the findings transaction written and not committed
    flag = tmp_path / "paused-b"
    proc = start_run(small_landing, data, pause=f"warehouse:findings={flag}")
    wait_for(flag.exists, proc)
    out = kill_group(proc)
    assert f"已清除上次中断留下的临时文件 {len(left)} 个" in out, out[-2000:]
    assert temp_files(data) == []
    ledger_sets = LEDGER_DATASETS
    assert _only(lake_hashes(data), ledger_sets) == _only(want["lake"], ledger_sets)
    rows = warehouse_rows(f"sqlite:///{data / 'warehouse.db'}")
    for table in ("ingest_log", "quarantine", "rejected_files"):
        assert rows[table] == want["warehouse"][table], table
    assert rows["findings"] == [], "an uncommitted findings transaction left rows"
    assert_every_file_opens(data)

    # (c) workbook writing: killed once the first workbook of four is being written
    proc = start_run(small_landing, data)
    wbdir = data / "workbooks"
    wait_for(lambda: wbdir.exists() and any(wbdir.rglob("*.xlsx*")), proc)  # or its temp file
    kill_group(proc)
    done = sorted(wbdir.rglob("*.xlsx"))
    assert len(done) < len(UNITS), "the kill came after the last workbook"
    got = snapshot(data)
    assert got["lake"] == want["lake"]
    # rendered_outputs records the workbooks written, which the kill left unfinished
    audit = {k: v for k, v in got["warehouse"].items() if k != "rendered_outputs"}
    assert audit == {k: v for k, v in want["warehouse"].items() if k != "rendered_outputs"}
    assert assert_every_file_opens(data) > 0

    # the re-run: everything equals the uninterrupted run's, nothing partial left anywhere
    code, out = finish(start_run(small_landing, data))
    assert code == 0, out[-3000:]
    # and no killed run is left "started" in the instance: each marked failed
    instance = dg.DagsterInstance.from_config(str(data / "dagster_home"))
    status = [r.status for r in instance.get_runs()]
    instance.dispose()
    assert "上次中断的 Dagster 运行" in out
    assert dg.DagsterRunStatus.STARTED not in status
    assert status.count(dg.DagsterRunStatus.FAILURE) == 3, status
    reader.stop.set()
    reader.join(10)
    assert temp_files(data) == []
    assert diff_snapshots(snapshot(data), want) == []
    assert reader.errors == [] and reader.reads > 0


def test_same_partitions_twice_change_nothing(small_landing, small_baseline, tmp_path):
    """Idempotence (SQLite): the baseline's partitions run again in place (in a copy of its data
    folder) — byte-equal Parquet, equal warehouse rows, equal workbooks and reports."""
    data = copy_data(small_baseline["data"], tmp_path / "data")
    before = {p: p.stat().st_mtime_ns for p in (data / "lake").rglob("data.parquet")}
    summary, lines = run_in_process(small_landing, data)
    assert summary.ok, (summary.failed_stages, lines)
    after = {p: p.stat().st_mtime_ns for p in (data / "lake").rglob("data.parquet")}
    # the reference files are unchanged, so their step is skipped (their copies stay as they
    # were); every ledger-derived file is written again
    ref = {p for p in before if p.parent.name.startswith("ref_")}
    assert ref and all(after[p] == before[p] for p in ref)
    assert set(after) == set(before) and all(after[p] != before[p] for p in set(before) - ref), (
        "the second run did not rewrite the lake: the comparison below would prove nothing"
    )
    assert diff_snapshots(snapshot(data), small_baseline["snapshot"]) == []


@pytest.mark.postgres
def test_postgres_connection_dropped_mid_transaction(
    small_landing, small_baseline, pg_url, tmp_path, monkeypatch
):
    """The PostgreSQL warehouse loses its connection inside the findings transaction (the
    backend terminated after the findings rows were deleted and inserted, before commit): the
    transaction is rolled back whole, the run fails naming why, and a re-run — twice — yields
    the uninterrupted run's rows."""
    data, flag = tmp_path / "data", tmp_path / "paused"
    seen: dict = {}

    def drop_connection():
        try:
            deadline = time.monotonic() + 240
            while not flag.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            engine = create_engine(pg_url)
            with engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT pid, query FROM pg_stat_activity WHERE datname ="
                        " current_database() AND state = 'idle in transaction'"
                    )
                ).all()
                seen["in_transaction"] = [r.query for r in rows]
                for r in rows:
                    conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": r.pid})
            engine.dispose()
        finally:
            flag.unlink(missing_ok=True)

    watcher = threading.Thread(target=drop_connection, daemon=True)
    watcher.start()
    monkeypatch.setenv(PAUSE_ENV, f"warehouse:findings={flag}")
    summary, lines = run_in_process(small_landing, data, warehouse_url=pg_url)
    monkeypatch.delenv(PAUSE_ENV)
    watcher.join(30)

    # exactly the paused transaction was in flight, its last statement the findings insert
    assert len(seen["in_transaction"]) == 1, seen
    assert seen["in_transaction"][0].lstrip().upper().startswith("INSERT INTO FINDINGS")
    # the run says which stage failed and why
    assert not summary.ok
    failed = "\n".join(summary.failed_stages)
    assert failed.startswith("unit_stage_job"), failed
    assert "terminat" in failed.lower() or "connection" in failed.lower(), failed
    # rolled back whole: not one unit-stage finding, while ingestion's own commit stands
    rows = warehouse_rows(pg_url)
    assert [r for r in rows["findings"] if r[-1] == "unit"] == []
    assert rows["ingest_log"] == small_baseline["snapshot"]["warehouse"]["ingest_log"]

    for _ in range(2):  # the re-run recovers; running it again changes nothing
        summary, lines = run_in_process(small_landing, data, warehouse_url=pg_url)
        assert summary.ok, (summary.failed_stages, lines)
        assert diff_snapshots(snapshot(data, pg_url), small_baseline["snapshot"]) == []


def test_sweep_removes_only_dead_writers_temp_files(tmp_path):
    """What a killed writer left is removed; a live writer's file, and a fresh file of unknown
    origin, are not (another process may be writing it right now)."""
    import os
    import subprocess
    import sys

    from bangfu.lake import sweep_stale_temp, temp_prefix

    folder = tmp_path / "lake" / "payments" / "year=2019" / "unit=330102"
    folder.mkdir(parents=True)
    target = folder / "data.parquet"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    mine = folder / f"{temp_prefix(target)}abc123.tmp"
    killed = folder / f"{temp_prefix(target).replace(f'.{os.getpid()}.', f'.{dead_pid}.')}x.tmp"
    unknown_fresh = folder / ".data.parquet.q1w2e3.tmp"
    unknown_old = folder / ".data.parquet.r4t5y6.tmp"
    for p in (mine, killed, unknown_fresh, unknown_old, target):
        p.write_bytes(b"x")
    os.utime(unknown_old, (0, 0))
    removed = sweep_stale_temp([tmp_path / "lake", tmp_path / "absent"])
    assert sorted(removed) == sorted([killed, unknown_old])
    assert sorted(folder.iterdir()) == sorted([mine, unknown_fresh, target])


def test_read_order_does_not_depend_on_write_order(tmp_path):
    """Warehouse.read returns rows in one order whatever order they were written in (PostgreSQL
    returns them in storage order, which moves as rows are replaced; the workbooks list findings
    in the order read)."""
    from warehouse import tables
    from warehouse.store import Replacement, Warehouse

    frame = pl.DataFrame(
        {
            "year": [2019] * 4,
            "unit_code": ["330102"] * 4,
            "rule_code": ["PAY_DUPLICATE", "PAY_CASH", "PAY_DUPLICATE", "PAY_CASH"],
            "severity": ["高"] * 4,
            "detail": ["a", "b", "c", "d"],
            "basis": ["x"] * 4,
            "finding_id": ["f1", "f2", "f3", "f4"],
            "source_row": [9, 3, 4, None],
            "settings_hash": ["h"] * 4,
        }
    )
    got = []
    for i, order in enumerate(([0, 1, 2, 3], [3, 2, 1, 0])):
        wh = Warehouse(f"sqlite:///{tmp_path / f'w{i}.db'}")
        wh.create_all()
        wh.replace(
            [Replacement(tables.findings, {"year": 2019}, frame[order], stamp={"stage": "unit"})]
        )
        got.append(wh.read(tables.findings)["finding_id"].to_list())
        wh.dispose()
    assert got[0] == got[1] == ["f2", "f4", "f3", "f1"]  # by rule, then source row (nulls last)


def test_a_failed_warehouse_write_names_no_personal_data(tmp_path):
    """A statement that fails (here NOT NULL) is reported without the rows' values: the error
    text goes to Dagster's event log and to `bangfu run`'s output."""
    from sqlalchemy.exc import IntegrityError

    from warehouse import tables
    from warehouse.store import Replacement, Warehouse

    wh = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    wh.create_all()
    bad = pl.DataFrame(
        {
            "year": [2019],
            "unit_code": ["330102"],
            "rule_code": ["PAY_CASH"],
            "severity": ["高"],
            "id_number": ["33010219800101123X"],
            "detail": [None],  # NOT NULL
            "basis": ["x"],
            "finding_id": ["f1"],
            "settings_hash": ["h"],
        },
        schema_overrides={"detail": pl.String},
    )
    with pytest.raises(IntegrityError) as info:
        wh.replace([Replacement(tables.findings, {"year": 2019}, bad, stamp={"stage": "unit"})])
    wh.dispose()
    assert "NOT NULL" in str(info.value)
    assert "33010219800101123X" not in str(info.value)
