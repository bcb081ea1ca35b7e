"""Issue #7 item 1: a bad-input corpus (tests/support/badfiles.py) end to end through
`bangfu run`.

One corpus landing holds every bad file and is run once (the session fixtures bad_corpus and
bad_run of tests/conftest.py, which tests/e2e/test_access.py shares); the assertions are many
and small. The units.csv cases and the usage errors are tiny runs of their own.
Contract: docs/INPUT-LEDGERS.md "What is quarantined, what is rejected"; docs/OUTPUTS.md exit
status.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from bangfu.lake import Lake
from tests.support import REPO
from tests.support import badfiles as B
from warehouse import tables
from warehouse.store import Warehouse, default_url

pytestmark = pytest.mark.slow

COUNTS = ("rows_read", "rows_kept", "rows_quarantined")


def instance_for(home: Path, monkeypatch) -> dg.DagsterInstance:
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return dg.DagsterInstance.get()


# ====================================================================== the corpus run
@pytest.fixture(scope="module")
def corpus(bad_corpus) -> B.Corpus:
    return bad_corpus


@pytest.fixture(scope="module")
def run(bad_run) -> dict:
    """The session's one `bangfu run` over the corpus, with its warehouse and lake opened."""
    wh = Warehouse(default_url(bad_run["data"]))
    yield {**bad_run, "wh": wh, "lake": Lake(bad_run["data"] / "lake")}
    wh.dispose()


def _truth(corpus: B.Corpus, year: int, unit: str) -> dict[str, tuple[int, ...]]:
    t = corpus.truth_ingest.filter((pl.col("year") == year) & (pl.col("unit_code") == unit))
    return {
        r["sheet"]: (int(r["rows_read"]), int(r["rows_kept"]), int(r["rows_quarantined"]))
        for r in t.iter_rows(named=True)
    }


def _log(run: dict, year: int, unit: str) -> dict[str, tuple[int, ...]]:
    got = run["wh"].read(tables.ingest_log, year=year, unit_code=unit)
    return {r["sheet"]: tuple(r[c] for c in COUNTS) for r in got.iter_rows(named=True)}


def _failure_lines(run: dict) -> list[str]:
    return [ln for ln in run["stdout"].splitlines() if ln.lstrip().startswith("✗")]


REJECTED = ("rejected", "orphan")


def test_corpus_exits_1_and_finishes_in_time(run):
    assert run["code"] == 1, run["stderr"][-2000:]
    assert run["seconds"] < 300  # ~50 s here: a hostile file must not stall the run


def test_every_bad_file_named_with_its_reason(corpus, run):
    lines = _failure_lines(run)
    for p in corpus.planted:
        if p.outcome not in REJECTED:
            continue
        hits = [ln for ln in lines if p.path in ln and re.search(p.reason, ln)]
        assert hits, f"{p.kind}: {p.path} not named with /{p.reason}/ in:\n" + "\n".join(lines)
        if p.unit is not None:
            assert any(f"{p.year} {p.unit} " in ln for ln in hits), hits


def test_only_the_bad_files_fail(corpus, run):
    """One ✗ line per rejected file, and no failed stage: the rest of the graph ran."""
    lines = _failure_lines(run)
    assert len(lines) == sum(p.outcome in REJECTED for p in corpus.planted), lines
    assert "失败" not in run["stdout"]


def test_rejected_files_table_lists_them(corpus, run):
    got = run["wh"].read(tables.rejected_files)
    partitions = {(r["year"], r["unit_code"]) for r in got.iter_rows(named=True) if r["unit_code"]}
    assert partitions == {(p.year, p.unit) for p in corpus.planted if p.outcome == "rejected"}
    for p in corpus.planted:
        if p.outcome == "rejected":
            rows = got.filter((pl.col("year") == p.year) & (pl.col("unit_code") == p.unit))
            assert rows.height == 1
            row = rows.row(0, named=True)
            assert p.path in row["source_file"] + " " + row["reason"], row
            assert re.search(p.reason, row["reason"]), (p.kind, row["reason"])
            assert row["rejected_at"] is not None
        elif p.outcome == "orphan":
            rows = got.filter(pl.col("source_file") == p.path)
            assert rows.height == 1, p
            row = rows.row(0, named=True)
            assert row["unit_code"] is None and row["year"] == p.year
            assert re.search(p.reason, row["reason"]), row


def test_rejected_partitions_leave_no_rows(corpus, run):
    lake = run["lake"]
    for p in corpus.planted:
        if p.outcome != "rejected":
            continue
        assert _log(run, p.year, p.unit) == {}, p.kind
        assert run["wh"].count(tables.quarantine, year=p.year, unit_code=p.unit) == 0
        for sheet in ("archive", "payments", "ledger"):
            assert not lake.has(sheet, p.year, p.unit), (p.kind, sheet)
        status = pl.read_parquet(lake.path("ingest_status", p.year, p.unit))
        assert status["status"].to_list() == ["rejected"], p.kind
        metrics = run["wh"].read(tables.unit_year_metrics, year=p.year, unit_code=p.unit)
        assert metrics["complete"].to_list() == [False], p.kind


def test_every_other_unit_completes(corpus, run):
    truth_findings = pl.read_csv(
        corpus.landing / "truth" / "findings.csv", infer_schema_length=0
    ).filter(pl.col("kind") == "fire")
    assert len(corpus.good) >= 6
    for year, unit in corpus.good:
        assert _log(run, year, unit) == _truth(corpus, year, unit), (year, unit)
        n_truth = truth_findings.filter(
            (pl.col("year") == str(year)) & (pl.col("unit_code") == unit)
        ).height
        n = run["wh"].count(tables.findings, year=year, unit_code=unit)
        assert n > 0 or n_truth == 0, (year, unit)
        assert (run["data"] / "workbooks" / str(year) / f"{unit}.xlsx").exists()
    # the units whose file was read despite a blemish complete too
    for p in corpus.planted:
        if p.outcome in ("kept", "quarantined"):
            assert _log(run, p.year, p.unit), p.kind
            assert (run["data"] / "workbooks" / str(p.year) / f"{p.unit}.xlsx").exists()


def test_rows_conserved_for_every_sheet_read(run):
    log = run["wh"].read(tables.ingest_log)
    assert log.height > 0
    bad = log.filter(pl.col("rows_read") != pl.col("rows_kept") + pl.col("rows_quarantined"))
    assert bad.is_empty(), bad
    q = run["wh"].read(tables.quarantine).filter(pl.col("unit_code").is_not_null())
    per_sheet = q.group_by("year", "unit_code", "sheet").len()
    joined = log.join(per_sheet, on=["year", "unit_code", "sheet"], how="left").with_columns(
        pl.col("len").fill_null(0)
    )
    assert joined.filter(pl.col("len") != pl.col("rows_quarantined")).is_empty()


def test_symlink_outside_is_rejected_unread(corpus, run):
    assert run["opened"] == [], run["opened"]
    target = corpus.extra["symlink_target"]
    assert target.exists()  # the target is a perfectly good ledger: refused for where it is


def test_zip_bomb_refused_without_inflating(corpus):
    """Reading the bomb stops at the zip directory: the process grows by far less than the
    256 MB the bomb declares (measured in a fresh interpreter)."""
    p = corpus.by_kind("zip_bomb")
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from bangfu import readers\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    readers.read_ledger(Path(sys.argv[1]), landing=Path(sys.argv[2]),\n"
        "                        year=int(sys.argv[3]), unit_code=sys.argv[4])\n"
        "except readers.LedgerRejected as exc:\n"
        "    print('REJECTED', exc)\n"
        "print('GROWTH_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    path = corpus.landing / p.path
    assert path.stat().st_size < 2 * 1024**2
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(corpus.landing), str(p.year), p.unit],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr
    assert "REJECTED" in out.stdout and re.search(p.reason, out.stdout), out.stdout
    growth_kb = int(re.search(r"GROWTH_KB (\d+)", out.stdout)[1])
    assert growth_kb < 64 * 1024, growth_kb


def _partition_metadata(run: dict, monkeypatch, year: int, unit: str) -> dict:
    instance = instance_for(run["home"], monkeypatch)
    key = f"{unit}|{year}"
    for rec in instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("ledgers"), asset_partitions=[key]), limit=1
    ).records:
        return {k: v.value for k, v in rec.asset_materialization.metadata.items()}
    raise AssertionError(f"no ledgers materialization for {key}")


def test_duplicate_payment_no_kept_with_warning(corpus, run, monkeypatch):
    p = corpus.by_kind("dup_payment_no")
    assert _log(run, p.year, p.unit) == _truth(corpus, p.year, p.unit)
    pay = pl.read_parquet(run["lake"].path("payments", p.year, p.unit))
    assert pay.filter(pl.col("payment_no") == corpus.extra["dup_payment_no"]).height == 2
    meta = _partition_metadata(run, monkeypatch, p.year, p.unit)
    assert re.search(p.reason, meta.get("warnings", "")), meta


def test_duplicate_header_first_column_used_with_warning(corpus, run, monkeypatch):
    p = corpus.by_kind("dup_header")
    assert _log(run, p.year, p.unit) == _truth(corpus, p.year, p.unit)
    pay = pl.read_parquet(run["lake"].path("payments", p.year, p.unit))
    assert "张三" not in pay["name"].to_list()  # the second 姓名 column is not the one read
    meta = _partition_metadata(run, monkeypatch, p.year, p.unit)
    assert re.search(p.reason, meta.get("warnings", "")), meta


def test_cell_past_excel_limit_quarantines_its_row(corpus, run):
    p = corpus.by_kind("long_cell")
    truth, got = _truth(corpus, p.year, p.unit), _log(run, p.year, p.unit)
    read, kept, quarantined = truth["会计明细账"]
    assert got["会计明细账"] == (read, kept - 1, quarantined + 1)
    assert {k: v for k, v in got.items() if k != "会计明细账"} == {
        k: v for k, v in truth.items() if k != "会计明细账"
    }
    q = run["wh"].read(tables.quarantine, year=p.year, unit_code=p.unit, sheet="会计明细账")
    row = q.filter(pl.col("row_number") == corpus.extra["long_cell_line"]).row(0, named=True)
    assert row["column"] == "摘要" and re.search(p.reason, row["reason"]), row
    assert row["source_file"] == p.path


def test_other_years_ledger_stays_in_its_folders_year(corpus, run):
    """Contract: rows whose dates fall outside the file's year still belong to the file's year."""
    p = corpus.by_kind("other_year")
    src_year, unit = corpus.extra["other_year_source"]
    assert _log(run, p.year, unit) == _truth(corpus, src_year, unit)
    log = run["wh"].read(tables.ingest_log, year=p.year, unit_code=unit)
    assert set(log["source_file"]) == {p.path}
    pay = pl.read_parquet(run["lake"].path("payments", p.year, unit))
    assert set(pay["year"]) == {p.year}
    assert set(pay["paid_on"].dt.year().drop_nulls()) == {src_year}
    findings = run["wh"].read(tables.findings, year=p.year, unit_code=unit)
    assert set(findings["year"]) <= {p.year}


# ====================================================================== units.csv not a tree
def _cycle(rows: list[list[str]]) -> None:
    """Two cities, each the other's parent."""
    cities = [r[0] for r in rows[1:] if r[2] == "市"][:2]
    for r in rows[1:]:
        if r[0] in cities:
            r[3] = cities[1] if r[0] == cities[0] else cities[0]


def _missing_parent(rows: list[list[str]]) -> None:
    county = next(r for r in rows[1:] if r[2] == "县")
    county[3] = "339999"


@pytest.fixture(scope="module")
def good_xlsx(corpus) -> Path:
    year, unit = next(k for k in corpus.good if corpus.forms[k] == "xlsx")
    return corpus.landing / "ledgers" / str(year) / f"{unit}.xlsx"


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (_cycle, r"成环|cycle|级别不符"),
        (_missing_parent, r"339999.*不在名录中|parent not in the file"),
    ],
    ids=["cycle", "missing_parent"],
)
def test_units_not_a_tree_stops_before_any_ledger(corpus, good_xlsx, tmp_path, mutate, expect):
    landing = B.units_landing(corpus.landing, tmp_path / "landing", mutate, good_xlsx)
    res = B.run_cli(
        ["run", "--landing", str(landing), "--data", str(tmp_path / "data")],
        tmp_path / "home",
        watch=[landing / "ledgers"],
    )
    assert res["code"] == 1
    stderr = res["stderr"].replace(str(landing), "<landing>")  # tmp_path names say "cycle"
    stop = [ln for ln in stderr.splitlines() if ln.startswith("运行中止")]
    assert len(stop) == 1, res["stderr"][-3000:]
    # the line the auditor reads names the file and what is wrong, not Dagster's wrapper
    assert "units.csv" in stop[0] and re.search(expect, stop[0]), stop[0]
    assert "DagsterExecutionStepExecutionError" not in stop[0]
    assert res["opened"] == []  # no ledger read
    assert not (tmp_path / "data" / "lake" / "payments").exists()
    with pytest.MonkeyPatch.context() as mp:
        runs = instance_for(tmp_path / "home", mp).get_runs()
    assert [r.job_name for r in runs] == ["reference_job"]


# ====================================================================== usage errors: exit 2
@pytest.fixture(scope="module")
def tiny_landing(corpus, good_xlsx, tmp_path_factory) -> Path:
    return B.units_landing(
        corpus.landing, tmp_path_factory.mktemp("tiny") / "landing", lambda rows: None, good_xlsx
    )


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (["--year", "19"], r"四位数字"),
        (["--year", "2019-2020"], r"四位数字"),
        (["--unit", "3301"], r"六位数字"),
        (["--unit", "999998"], r"999998"),  # well-formed, not in units.csv
        (["--year", "2016"], r"2016"),  # no ledgers of that year
    ],
    ids=["year_short", "year_range", "unit_short", "unit_unknown", "year_absent"],
)
def test_usage_errors_exit_2(tiny_landing, tmp_path, extra, expect):
    res = B.run_cli(
        ["run", "--landing", str(tiny_landing), "--data", str(tmp_path / "data"), *extra],
        tmp_path / "home",
    )
    assert res["code"] == 2, res["stderr"][-2000:]
    assert re.search(expect, res["stderr"]), res["stderr"][-2000:]


def test_missing_landing_exits_2(tmp_path):
    res = B.run_cli(
        ["run", "--landing", str(tmp_path / "nowhere"), "--data", str(tmp_path / "data")],
        tmp_path / "home",
    )
    assert res["code"] == 2
    assert "units.csv" in res["stderr"] and "--landing" in res["stderr"]
    assert not (tmp_path / "data").exists()


def test_run_without_landing_exits_2(tmp_path):
    res = B.run_cli(["run", "--data", str(tmp_path / "data")], tmp_path / "home")
    assert res["code"] == 2 and "--landing" in res["stderr"]
