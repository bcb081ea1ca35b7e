"""Batch ingest (bangfu.ingest): many (year, unit) partitions at once, lake + warehouse writes."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from bangfu import readers as R
from bangfu.ingest import LandingScan, ingest_partitions, ingest_unit_year
from bangfu.lake import Lake
from bangfu.readers import validate
from bangfu.sheets import LEDGER_SHEETS
from warehouse import tables
from warehouse.store import Warehouse

YEAR = 2019
ID1 = "11010519491231002X"
ID2 = "110105194912310021"
GOOD_XLSX, GOOD_CSV, CORRUPT, NO_PAYMENTS, ABSENT = (
    "330102",
    "330103",
    "330104",
    "330105",
    "330106",
)
UNITS = [GOOD_XLSX, GOOD_CSV, CORRUPT, NO_PAYMENTS, ABSENT]

ARCHIVE = (
    ["档案编号", "姓名", "身份证号", "困难类别", "家庭人口", "家庭年收入", "建档日期", "档案状态"],
    [
        ["DA1", "张三", ID1, "深度困难", "3", "12000", "2018-01-02", "在档"],
        ["DA2", "李四", ID2, "相对困难", "2", "8000.5", "2018-01-02", "在档"],
        ["DA3", "王五", ID1, "意外致困", "0", "100", "去年", "在档"],  # quarantined: 0 and date
    ],
)
PAYMENTS = (
    ["发放编号", "发放日期", "身份证号", "救助项目", "资金来源", "金额", "凭证号"],
    [
        ["FF001", "2019-03-05", ID1, "生活救助", "工会经费", "500", "PZ01"],
        ["合计", None, None, None, None, "500", None],  # total row: skipped
        ["FF002", "2019/3/6", ID2, "医疗救助", "工会经费", "0", "PZ02"],  # amount 0
        ["FF003", "2019年3月7日", ID2, "生活救助", "工会经费", "1,000元", "PZ03"],
    ],
)
LEDGER = (
    ["凭证日期", "凭证号", "科目名称", "摘要", "借方金额", "贷方金额"],
    [
        ["2019-03-05", "PZ01", "维权支出—困难职工帮扶费", "发放生活救助", "500", None],
        ["2019-03-05", "PZ01", "银行存款", "发放生活救助", None, "500"],
    ],
)


def _sheets(name_prefix: str = "") -> dict[str, tuple[list[str], list[list]]]:
    archive_rows = [[*r[:1], name_prefix + r[1], *r[2:]] for r in ARCHIVE[1]]
    return {
        "困难职工档案": (ARCHIVE[0], archive_rows),
        "救助发放明细": PAYMENTS,
        "会计明细账": LEDGER,
    }


def _write_xlsx(path: Path, sheets: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    for name, (header, rows) in sheets.items():
        ws = wb.add_worksheet(name)
        ws.write_row(0, 0, [f"××县总工会{YEAR}年度{name}"])  # a title row above the header
        ws.write_row(1, 0, header)
        for r, row in enumerate(rows, start=2):
            for c, v in enumerate(row):
                if v is not None:
                    ws.write_string(r, c, v)
    wb.close()


def _write_csv_folder(folder: Path, sheets: dict, encoding: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in sheets.items():
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows([["" if v is None else v for v in row] for row in rows])
        (folder / f"{name}.csv").write_bytes(buf.getvalue().encode(encoding))


def _build_landing(root: Path, *, name_prefix: str = "") -> Path:
    landing = root / "landing"
    ydir = landing / "ledgers" / str(YEAR)
    _write_xlsx(ydir / f"{GOOD_XLSX}.xlsx", _sheets(name_prefix))
    _write_csv_folder(ydir / GOOD_CSV, _sheets(name_prefix), "gb18030")
    (ydir / f"{CORRUPT}.xlsx").write_bytes(b"PK\x03\x04 this is not a workbook")
    no_pay = {k: v for k, v in _sheets().items() if k != "救助发放明细"}
    _write_xlsx(ydir / f"{NO_PAYMENTS}.xlsx", no_pay)
    return landing


@pytest.fixture
def env(tmp_path):
    landing = _build_landing(tmp_path)
    data = tmp_path / "data"
    wh = Warehouse(f"sqlite:///{data / 'warehouse.db'}")
    wh.create_all()
    yield {"landing": landing, "lake": Lake(data / "lake"), "wh": wh, "data": data}
    wh.dispose()


def _ingest(env, keys=None, **kw):
    scan = LandingScan.scan(env["landing"], set(UNITS))
    return ingest_partitions(
        landing=env["landing"],
        lake=env["lake"],
        warehouse=env["wh"],
        scan=scan,
        keys=keys or [(YEAR, u) for u in UNITS],
        **kw,
    )


def _lake_snapshot(lake: Lake) -> dict[str, bytes]:
    return {
        p.relative_to(lake.root).as_posix(): p.read_bytes()
        for p in sorted(lake.root.rglob("*.parquet"))
    }


def test_batch_writes_every_partition(env):
    seen = []
    outcomes = _ingest(env, on_outcome=seen.append)
    by_unit = {o.unit_code: o for o in outcomes}
    assert [o.unit_code for o in outcomes] == UNITS  # in keys order
    assert sorted(o.unit_code for o in seen) == sorted(UNITS)  # each reported once
    assert {u: o.status for u, o in by_unit.items()} == {
        GOOD_XLSX: "ok",
        GOOD_CSV: "ok",
        CORRUPT: "rejected",
        NO_PAYMENTS: "rejected",
        ABSENT: "missing",
    }
    assert "救助发放明细" in by_unit[NO_PAYMENTS].message
    lake, wh = env["lake"], env["wh"]
    for unit in (GOOD_XLSX, GOOD_CSV):
        o = by_unit[unit]
        # kept: archive 2 of 3, payments 2 of 3 (total row skipped), ledger 2 of 2
        assert o.rows_read == 8 and o.rows_kept == 6 and o.rows_quarantined == 2
        assert o.rows["救助发放明细"]["rows_skipped"] == (2 if unit == GOOD_XLSX else 1) + 1
        for spec in LEDGER_SHEETS:
            assert lake.has(spec.key, YEAR, unit) == (spec.title in o.rows)
        pay = pl.read_parquet(lake.path("payments", YEAR, unit))
        assert pay["payment_no"].to_list() == ["FF001", "FF003"]
        assert pay["amount"].to_list() == [500.0, 1000.0]
        assert set(pay["unit_code"]) == {unit} and set(pay["year"]) == {YEAR}
        log = wh.read(tables.ingest_log, year=YEAR, unit_code=unit)
        assert log.height == 3
        q = wh.read(tables.quarantine, year=YEAR, unit_code=unit).sort("sheet")
        assert q.height == 2
        assert set(q["source_file"]) == (
            {f"ledgers/{YEAR}/{unit}.xlsx"}
            if unit == GOOD_XLSX
            else {
                f"ledgers/{YEAR}/{unit}/困难职工档案.csv",
                f"ledgers/{YEAR}/{unit}/救助发放明细.csv",
            }
        )
    for unit in (CORRUPT, NO_PAYMENTS, ABSENT):
        assert not any(lake.has(s.key, YEAR, unit) for s in LEDGER_SHEETS)
        assert wh.read(tables.ingest_log, year=YEAR, unit_code=unit).height == 0
        status = pl.read_parquet(lake.path("ingest_status", YEAR, unit))
        assert status["status"].to_list() == [by_unit[unit].status]
    rejected = wh.read(tables.rejected_files)
    assert sorted(rejected["unit_code"].to_list()) == [CORRUPT, NO_PAYMENTS]


def test_rows_conserved_per_sheet(env):
    outcomes = _ingest(env)
    wh, lake = env["wh"], env["lake"]
    log = wh.read(tables.ingest_log)
    assert log.height == 6
    for r in log.iter_rows(named=True):
        assert r["rows_read"] == r["rows_kept"] + r["rows_quarantined"]
        spec = next(s for s in LEDGER_SHEETS if s.title == r["sheet"])
        assert (
            pl.read_parquet(lake.path(spec.key, r["year"], r["unit_code"])).height
            == (r["rows_kept"])
        )
        q = wh.read(tables.quarantine, year=r["year"], unit_code=r["unit_code"], sheet=r["sheet"])
        assert q.height == r["rows_quarantined"]
    assert sum(o.rows_read for o in outcomes) == log["rows_read"].sum() == 16


def test_batch_equals_one_file_at_a_time(env):
    """Batching is an optimisation only: each file's frames and quarantine are those of reading it
    alone, whatever else is in the batch (and a rejected file in the batch changes nothing)."""
    landing = env["landing"]
    files, _ = R.discover_ledgers(landing, UNITS)
    batched = [r for batch in R.read_ledgers(files, landing=landing) for r in batch]
    one_by_one = [
        r for batch in R.read_ledgers(files, landing=landing, batch_rows=1) for r in batch
    ]
    assert [f.unit_code for f, _ in batched] == [f.unit_code for f in files]
    for (f, a), (_, b) in zip(batched, one_by_one, strict=True):
        assert type(a) is type(b)
        if isinstance(a, R.LedgerRejected):
            assert str(a) == str(b)
            continue
        alone = R.read_ledger(f.path, landing=landing, year=f.year, unit_code=f.unit_code)
        for other in (b, alone):
            assert a.sheets.keys() == other.sheets.keys()
            assert a.log.equals(other.log)
            for key, sr in a.sheets.items():
                assert sr.frame.equals(other.sheets[key].frame)
                assert sr.quarantine.equals(other.sheets[key].quarantine)
                assert sr.warnings == other.sheets[key].warnings


def test_internal_error_in_one_file_spares_the_batch(env, monkeypatch):
    """A failure inside the per-kind batch is retried file by file: only the culprit is refused."""
    landing = _build_landing(env["data"].parent / "second", name_prefix="坏")
    # the culprit: the CSV form of a second landing folder (its names start with 坏)
    inner = validate.schema_failures

    def failing(df, spec):
        if spec.key == "archive" and df["name"].str.starts_with("坏").any():
            raise RuntimeError("boom")
        return inner(df, spec)

    monkeypatch.setattr(validate, "schema_failures", failing)
    files = [
        R.LedgerFile(
            YEAR, GOOD_XLSX, env["landing"] / "ledgers" / str(YEAR) / f"{GOOD_XLSX}.xlsx", "xlsx"
        ),
        R.LedgerFile(YEAR, GOOD_CSV, landing / "ledgers" / str(YEAR) / GOOD_CSV, "csv"),
    ]
    batches = list(R.read_ledgers(files, landing=env["data"].parent))
    assert len(batches) == 1  # one batch: the failure came from the per-kind step
    ((_, ok), (_, bad)) = batches[0]
    assert isinstance(ok, R.LedgerResult) and ok.sheets["archive"].rows_kept == 2
    assert isinstance(bad, R.LedgerRejected) and "boom" in str(bad)


def test_reingest_keeps_one_copy_and_byte_equal_parquet(env):
    _ingest(env)
    lake, wh = env["lake"], env["wh"]
    before = _lake_snapshot(lake)
    counts = {
        t.name: wh.count(t) for t in (tables.ingest_log, tables.quarantine, tables.rejected_files)
    }
    assert counts == {"ingest_log": 6, "quarantine": 4, "rejected_files": 2}
    _ingest(env)
    assert _lake_snapshot(lake) == before
    assert {
        t.name: wh.count(t) for t in (tables.ingest_log, tables.quarantine, tables.rejected_files)
    } == counts
    # the single-partition API over the same partition: same files, same rows, one copy
    scan = LandingScan.scan(env["landing"], set(UNITS))
    o = ingest_unit_year(
        landing=env["landing"], lake=lake, warehouse=wh, scan=scan, year=YEAR, unit_code=GOOD_XLSX
    )
    assert o.status == "ok" and o.rows_kept == 6
    assert _lake_snapshot(lake) == before
    assert wh.count(tables.ingest_log) == 6


def test_rejection_after_success_removes_the_partition(env):
    _ingest(env)
    lake = env["lake"]
    assert lake.has("payments", YEAR, GOOD_XLSX)
    path = env["landing"] / "ledgers" / str(YEAR) / f"{GOOD_XLSX}.xlsx"
    path.write_bytes(b"not a zip")
    outcomes = {o.unit_code: o for o in _ingest(env)}
    assert outcomes[GOOD_XLSX].status == "rejected"
    assert outcomes[GOOD_CSV].status == "ok"
    assert not lake.has("payments", YEAR, GOOD_XLSX)
    assert lake.has("payments", YEAR, GOOD_CSV)
    wh = env["wh"]
    assert wh.read(tables.ingest_log, year=YEAR, unit_code=GOOD_XLSX).height == 0
    assert wh.read(tables.quarantine, year=YEAR, unit_code=GOOD_XLSX).height == 0
    assert wh.read(tables.ingest_log, year=YEAR, unit_code=GOOD_CSV).height == 3


def test_worker_processes_write_what_one_process_writes(s_landing, tmp_path):
    """Ingest in two spawned worker processes (several tasks each) equals ingest in this process:
    byte-equal lake files and the same warehouse rows, outcomes in the keys' order."""
    units = R.read_units(s_landing / "reference" / "units.csv", landing=s_landing)
    scan = LandingScan.scan(s_landing, set(units["unit_code"].to_list()))
    keys = [(2018, u) for u in units["unit_code"].to_list()]  # 2018: quarantined rows
    results = {}
    for processes in (1, 2):
        data = tmp_path / f"p{processes}"
        wh = Warehouse(f"sqlite:///{data / 'warehouse.db'}")
        wh.create_all()
        lake = Lake(data / "lake")
        seen: list[tuple[int, str]] = []
        outcomes = ingest_partitions(
            landing=s_landing,
            lake=lake,
            warehouse=wh,
            scan=scan,
            keys=keys,
            processes=processes,
            on_outcome=lambda o, seen=seen: seen.append((o.year, o.unit_code)),
        )
        rows = {
            t.name: wh.read(t).drop(["ingested_at", "rejected_at"], strict=False)
            for t in (tables.ingest_log, tables.quarantine, tables.rejected_files)
        }
        wh.dispose()
        results[processes] = (_lake_snapshot(lake), rows, outcomes, sorted(seen))
    (lake1, rows1, out1, seen1), (lake2, rows2, out2, seen2) = results[1], results[2]
    assert [(o.year, o.unit_code) for o in out2] == keys
    assert sum(o.status == "ok" for o in out2) > 10 and rows1["quarantine"].height > 0
    assert lake2 == lake1
    for name, frame in rows1.items():
        assert rows2[name].equals(frame), name
    assert [(o.status, o.rows, o.message) for o in out2] == [
        (o.status, o.rows, o.message) for o in out1
    ]
    assert seen2 == seen1 == sorted(keys)


def test_worker_tasks_shrink_towards_the_end_and_weigh_xlsx_bytes():
    from bangfu import ingest as I

    def ledger(i: int, form: str) -> R.LedgerFile:
        return R.LedgerFile(2019, f"{i:06d}", Path(f"{i}.xlsx" if form == "xlsx" else str(i)), form)

    # 100 CSV ledgers, then 100 xlsx ledgers of the same size (an xlsx byte weighs 3)
    files = [ledger(i, "csv") for i in range(100)] + [ledger(i, "xlsx") for i in range(100, 200)]
    groups = list(I._task_groups(files, [1000] * 200, 2))
    assert [f for g in groups for f in g] == files  # every ledger once, in order
    cost = [sum(3 if f.form == "xlsx" else 1 for f in g) for g in groups]
    total = sum(cost)  # 400 units
    largest = total / (2 * I.LARGEST_TASK_PART)
    smallest = total / (2 * I.SMALLEST_TASK_PART)
    assert max(cost) <= largest + 3
    assert len(groups[0]) == 50  # CSV: 50 ledgers make a largest task …
    assert len(groups[-2]) <= smallest / 3 + 1  # … and an xlsx ledger weighs three
    assert cost[-2] < cost[2] and cost[-2] <= smallest + 3  # the last tasks are the small ones
    # never growing by more than one ledger's weight (a task closes once it reaches its size)
    assert all(b <= a + 3 for a, b in zip(cost, cost[1:], strict=False))
