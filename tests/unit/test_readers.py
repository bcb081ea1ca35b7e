"""The generic reader on small hand-built workbooks and CSV folders, good and hostile."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import zipfile
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from bangfu import readers as R
from bangfu.frames import INGEST_LOG_SCHEMA, QUARANTINE_SCHEMA, sheet_schema
from bangfu.readers import csv_sheets, id_text, validate, xlsx
from bangfu.sheets import ARCHIVE, EVALUATION, LEDGER, PAYMENTS
from tests.support.ledgers import (
    ARCHIVE_HEADER,
    ARCHIVE_ROWS,
    ID1,
    ID2,
    UNIT,
    YEAR,
    workbook_sheets,
    write_xlsx,
)


def _csv_text(titles, header, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for t in titles:
        w.writerow([t] if t is not None else [])
    w.writerow(header)
    for row in rows:
        if row is None:
            w.writerow([])
            continue
        out = []
        for v in row:
            if isinstance(v, tuple):
                v = str(v[1])
            elif isinstance(v, dt.date):
                v = v.isoformat()
            out.append("" if v is None else str(v))
        w.writerow(out)
    return buf.getvalue()


def write_csv_folder(folder: Path, encoding: str = "utf-8", sheets=None) -> Path:
    sheets = sheets if sheets is not None else workbook_sheets()
    folder.mkdir(parents=True, exist_ok=True)
    for name, spec in sheets.items():
        (folder / f"{name}.csv").write_bytes(_csv_text(*spec).encode(encoding))
    return folder


@pytest.fixture
def landing(tmp_path) -> Path:
    (tmp_path / "landing" / "ledgers" / str(YEAR)).mkdir(parents=True)
    return tmp_path / "landing"


def _xlsx_path(landing: Path) -> Path:
    return landing / "ledgers" / str(YEAR) / f"{UNIT}.xlsx"


def _read(path: Path, landing: Path, **kw) -> R.LedgerResult:
    return R.read_ledger(path, landing=landing, year=YEAR, unit_code=UNIT, **kw)


# --------------------------------------------------------------------------- the good workbook
def test_payments_rows_kept_quarantined_and_skipped(landing):
    res = _read(write_xlsx(_xlsx_path(landing)), landing)
    pay = res.sheets["payments"]
    assert (pay.rows_read, pay.rows_kept, pay.rows_quarantined) == (7, 4, 3)
    assert pay.rows_read == pay.rows_kept + pay.rows_quarantined
    assert pay.rows_skipped == 5  # title, blank title row, header, blank row 6, total row 9
    assert pay.frame.schema == pl.Schema(sheet_schema(PAYMENTS))
    assert pay.quarantine.schema == pl.Schema(QUARANTINE_SCHEMA)
    f = pay.frame.sort("source_row")
    assert f["source_row"].to_list() == [4, 5, 11, 12]
    assert f["payment_no"].to_list() == ["FF001", "FF002", "FF001", "FF007"]
    assert f["id_number"].to_list() == [ID1, ID2, ID2, ID2]
    assert f["paid_on"].to_list() == [
        dt.date(2019, 3, 5),
        dt.date(2019, 3, 5),
        dt.date(2019, 7, 1),
        dt.date(2019, 9, 1),
    ]
    assert f["amount"].to_list() == [500.0, 1234.5, 80.0, 1000.0]
    assert f["fund"].to_list() == ["送温暖资金", "工会经费", "送温暖资金", "工会经费"]
    assert f["category"].to_list()[3] == "其他项目"  # kept as written, spaces removed
    assert f["voucher_no"].to_list() == ["PZ01", "PZ02", "PZ06", "PZ07"]
    assert f["med_total"].is_null().all()  # a missing optional column is null
    assert set(f["year"]) == {YEAR} and set(f["unit_code"]) == {UNIT}
    assert set(f["source_file"]) == {f"ledgers/{YEAR}/{UNIT}.xlsx"}
    assert set(f["source_sheet"]) == {"救助发放明细"}

    q = pay.quarantine.sort("row_number")
    assert q["row_number"].to_list() == [7, 8, 10]
    assert q["column"].to_list() == ["身份证号", "发放日期、金额", "身份证号"]
    assert "数字格式" in q["reason"][0]
    assert q["value"][1] == "2019/2/30、0"
    assert "不是有效日期" in q["reason"][1] and "应大于 0" in q["reason"][1]
    assert "科学计数法" in q["reason"][2]
    assert q["value"][2] == "1.10105E+17"
    assert set(q["sheet"]) == {"救助发放明细"} and set(q["year"]) == {YEAR}
    assert any("发放编号" in w and "FF001" in w for w in pay.warnings)


def test_archive_conditional_and_bounds(landing):
    res = _read(write_xlsx(_xlsx_path(landing)), landing)
    a = res.sheets["archive"]
    assert (a.rows_read, a.rows_kept, a.rows_quarantined, a.rows_skipped) == (4, 1, 3, 1)
    q = a.quarantine.sort("row_number")
    assert q["row_number"].to_list() == [3, 4, 5]
    assert q["column"].to_list() == ["退档日期、脱困方式", "家庭人口", "建档日期"]
    kept = a.frame.row(0, named=True)
    assert kept["archive_no"] == "DA1" and kept["household_income"] == 12000.0
    assert kept["household_size"] == 3 and kept["archived_on"] == dt.date(2018, 1, 2)
    assert kept["id_number"] == ID1


def test_ledger_empty_debit_credit_are_zero(landing):
    res = _read(write_xlsx(_xlsx_path(landing)), landing)
    led = res.sheets["ledger"].frame.sort("source_row")
    assert led["debit"].to_list() == [500.0, 0.0]
    assert led["credit"].to_list() == [0.0, 500.0]
    assert led["source_row"].to_list() == [3, 4]  # one title row


def test_evaluation_pairing(landing):
    res = _read(write_xlsx(_xlsx_path(landing)), landing)
    ev = res.sheets["evaluation"]
    assert ev.rows_kept == 2
    assert ev.quarantine["row_number"].to_list() == [3]
    assert ev.quarantine["column"].to_list() == ["样本类型、评估结论"]


def test_log_and_optional_sheets(landing):
    res = _read(write_xlsx(_xlsx_path(landing)), landing)
    assert set(res.sheets) == {"archive", "payments", "ledger", "evaluation"}
    assert res.log.schema == pl.Schema(INGEST_LOG_SCHEMA)
    assert res.log.height == 4
    row = res.log.filter(pl.col("sheet") == "救助发放明细").row(0, named=True)
    assert (row["rows_read"], row["rows_kept"], row["rows_quarantined"]) == (7, 4, 3)
    assert len(row["source_sha256"]) == 64


def test_offset_sheet_row_numbers(landing):
    """Data starting in column C with two title rows: row numbers still as Excel shows them."""
    path = write_xlsx(_xlsx_path(landing), offset_col=2)
    pay = _read(path, landing).sheets["payments"]
    assert pay.quarantine.sort("row_number")["row_number"].to_list() == [7, 8, 10]
    assert sorted(pay.frame["source_row"].to_list()) == [4, 5, 11, 12]


def test_header_not_in_first_20_rows_rejects(landing):
    sheets = workbook_sheets()
    titles, header, rows = sheets[" 救助发放明细 "]
    sheets[" 救助发放明细 "] = ([f"t{i}" for i in range(20)], header, rows)
    with pytest.raises(R.LedgerRejected, match="救助发放明细"):
        _read(write_xlsx(_xlsx_path(landing), sheets), landing)


def test_duplicate_header_first_wins(landing):
    sheets = workbook_sheets()
    titles, header, rows = sheets["会计明细账"]
    sheets["会计明细账"] = (titles, [*header, "摘要"], [[*r, "另一个摘要"] for r in rows])
    led = _read(write_xlsx(_xlsx_path(landing), sheets), landing).sheets["ledger"]
    assert led.frame["memo"].to_list() == ["发放生活救助", "发放生活救助"]
    assert any("重复" in w for w in led.warnings)


def test_long_cell_quarantines(landing):
    sheets = workbook_sheets()
    titles, header, rows = sheets["会计明细账"]
    rows = [list(r) for r in rows]
    rows[1][4] = "长" * 32_768
    sheets["会计明细账"] = (titles, header, rows)
    folder = write_csv_folder(landing / "ledgers" / str(YEAR) / UNIT, sheets=sheets)
    led = _read(folder, landing).sheets["ledger"]
    assert led.quarantine["row_number"].to_list() == [4]
    assert led.quarantine["column"].to_list() == ["摘要"]
    assert "32767" in led.quarantine["reason"][0]


# --------------------------------------------------------------------------- CSV form
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_folder_encodings(landing, encoding):
    folder = write_csv_folder(landing / "ledgers" / str(YEAR) / UNIT, encoding)
    res = _read(folder, landing)
    pay = res.sheets["payments"]
    assert (pay.rows_read, pay.rows_kept, pay.rows_quarantined, pay.rows_skipped) == (7, 5, 2, 5)
    # the numeric ID is plain text in a CSV: it is kept; the scientific one is not
    q = pay.quarantine.sort("row_number")
    assert q["row_number"].to_list() == [8, 10]
    assert sorted(pay.frame["source_row"].to_list()) == [4, 5, 7, 11, 12]
    assert pay.frame.filter(pl.col("source_row") == 5)["amount"].to_list() == [1234.5]
    assert pay.source_file == f"ledgers/{YEAR}/{UNIT}/ 救助发放明细 .csv"
    assert res.sheets["archive"].rows_quarantined == 3


def test_csv_line_numbers_count_embedded_newlines(landing):
    sheets = workbook_sheets()
    titles, header, rows = sheets["会计明细账"]
    rows = [list(r) for r in rows]
    rows[0][4] = "第一行\n第二行"
    rows[1][1] = None  # 凭证号 empty → quarantined, starts on line 5
    sheets["会计明细账"] = (titles, header, rows)
    folder = write_csv_folder(landing / "ledgers" / str(YEAR) / UNIT, sheets=sheets)
    led = _read(folder, landing).sheets["ledger"]
    assert led.frame["source_row"].to_list() == [3]
    assert led.quarantine["row_number"].to_list() == [5]


BIG5_LEDGER = (
    "會計明細賬\n憑證號,科目名稱,摘要,借方金額,貸方金額\nPZ01,維權支出,發放生活救助,500,\n"
)


@pytest.mark.parametrize("encoding, word", [("utf-16", "UTF-16"), ("big5", "Big5")])
def test_csv_other_encodings_rejected(landing, encoding, word):
    folder = write_csv_folder(landing / "ledgers" / str(YEAR) / UNIT)
    if encoding == "big5":
        data = BIG5_LEDGER.encode("big5")
        data.decode("gb18030")  # decodes without error: only the mojibake check catches it
    else:
        data = _csv_text(*workbook_sheets()["会计明细账"]).encode(encoding)
    (folder / "会计明细账.csv").write_bytes(data)
    with pytest.raises(R.LedgerRejected, match=word) as exc:
        _read(folder, landing)
    assert "会计明细账.csv" in str(exc.value)


# --------------------------------------------------------------------------- whole-file rejects
def test_missing_required_sheet(landing):
    sheets = workbook_sheets()
    del sheets["会计明细账"]
    with pytest.raises(R.LedgerRejected, match="缺少必需工作表：会计明细账"):
        _read(write_xlsx(_xlsx_path(landing), sheets), landing)


def test_missing_required_column_of_required_sheet(landing):
    sheets = workbook_sheets()
    titles, header, rows = sheets[" 救助发放明细 "]
    i = header.index("发放金额")
    sheets[" 救助发放明细 "] = (
        titles,
        header[:i] + header[i + 1 :],
        [r and r[:i] + r[i + 1 :] for r in rows],
    )
    with pytest.raises(R.LedgerRejected, match="金额"):
        _read(write_xlsx(_xlsx_path(landing), sheets), landing)


def test_missing_required_column_of_optional_sheet_drops_only_it(landing):
    sheets = workbook_sheets()
    titles, header, rows = sheets["第三方评估"]
    sheets["第三方评估"] = (titles, header[:4] + header[5:], [r[:4] + r[5:] for r in rows])
    res = _read(write_xlsx(_xlsx_path(landing), sheets), landing)
    assert "evaluation" not in res.sheets
    assert any("评估结论" in w for w in res.warnings)


def test_truncated_and_fake_xlsx(landing):
    good = write_xlsx(_xlsx_path(landing)).read_bytes()
    path = _xlsx_path(landing)
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(R.LedgerRejected, match="损坏"):
        _read(path, landing)
    path.write_text("档案编号,姓名\nDA1,张三\n", encoding="utf-8")
    with pytest.raises(R.LedgerRejected, match="不是 xlsx"):
        _read(path, landing)


def test_zip_bomb_refused_before_inflating(landing):
    path = _xlsx_path(landing)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            block = b"0" * (1024 * 1024)
            for _ in range(8):
                fh.write(block)
    assert path.stat().st_size < 200_000
    with pytest.raises(R.LedgerRejected, match="压缩炸弹"):
        _read(path, landing, max_uncompressed_bytes=4 * 1024 * 1024)


def test_symlink_outside_landing_refused(landing, tmp_path):
    outside = write_xlsx(tmp_path / "elsewhere" / "x.xlsx")
    link = _xlsx_path(landing)
    os.symlink(outside, link)
    with pytest.raises(R.LedgerRejected, match="落地目录之外"):
        _read(link, landing)
    found, rejected = R.discover_ledgers(landing, {UNIT})
    assert found == []
    assert [(r.year, r.unit_code) for r in rejected] == [(YEAR, UNIT)]


# --------------------------------------------------------------------------- discovery
def test_discover(landing):
    ledgers = landing / "ledgers"
    write_xlsx(ledgers / "2019" / f"{UNIT}.xlsx")
    write_xlsx(ledgers / "2018" / f"{UNIT}.xlsx")
    write_csv_folder(ledgers / "2018" / UNIT)  # both forms for 2018
    write_csv_folder(ledgers / "2017" / "330103")
    write_xlsx(ledgers / "2017" / "999999.xlsx")  # unknown unit
    (ledgers / "19年").mkdir()
    found, rejected = R.discover_ledgers(landing, {UNIT, "330103"})
    assert [(f.year, f.unit_code, f.form) for f in found] == [
        (2017, "330103", "csv"),
        (2019, UNIT, "xlsx"),
    ]
    by = {(r.year, r.unit_code): r for r in rejected}
    both = by[(2018, UNIT)]
    assert f"ledgers/2018/{UNIT}.xlsx" in both.message and f"ledgers/2018/{UNIT}" in both.message
    assert "999999" in by[(2017, None)].message
    assert by[(None, None)].path == "ledgers/19年"


# --------------------------------------------------------------------------- read_sheet_rows
def test_read_sheet_rows_generic():
    raw = pl.DataFrame(
        {
            "c0": ["标题", "凭证号", "PZ1", "合计", "PZ2"],
            "c1": [None, "科目名称", "a", None, "b"],
            "c2": [None, "摘要", "m", None, None],
            "c3": [None, "借方金额", "1", "3", "2"],
            "c4": [None, "贷方金额", None, None, "x"],
        },
    ).with_columns(__row=pl.int_range(1, 6, dtype=pl.Int64))
    res = R.read_sheet_rows(raw, LEDGER, year=YEAR, unit_code=UNIT, source_file="f.csv")
    assert (res.rows_read, res.rows_kept, res.rows_quarantined, res.rows_skipped) == (2, 1, 1, 3)
    assert res.quarantine["column"].to_list() == ["摘要、贷方金额"]
    assert res.quarantine["row_number"].to_list() == [5]


@pytest.mark.parametrize("kind", ["text", "numbers", "dates"])
def test_an_id_column_of_one_cell_type(landing, kind):
    """A column of text IDs is read as text at once; a column with no text (every ID typed as
    a number, or as a date) is read cell by cell and every row is quarantined."""
    value = {
        "text": lambda r: r[2],
        "numbers": lambda r: ("num", 110105194912310021),
        "dates": lambda r: dt.date(2019, 1, 5),
    }[kind]
    rows = [[*r[:2], value(r), *r[3:]] for r in ARCHIVE_ROWS]
    sheets = workbook_sheets()
    sheets["困难职工档案"] = ([], ARCHIVE_HEADER, rows)
    arc = _read(write_xlsx(_xlsx_path(landing), sheets), landing).sheets["archive"]
    if kind == "text":
        assert arc.frame.height and set(arc.frame["id_number"]) <= {ID1, ID2}
        assert "身份证号" not in " ".join(arc.quarantine["column"].to_list())
        return
    q = arc.quarantine.sort("row_number")
    assert arc.rows_kept == 0 and q.height == len(ARCHIVE_ROWS)
    assert all(c.startswith("身份证号") for c in q["column"].to_list())
    assert all("数字格式" in r for r in q["reason"].to_list())
    shown = "1101051949123100" if kind == "numbers" else "2019-01-05"  # digits lost
    assert all(v.startswith(shown) for v in q["value"].to_list())


def test_blank_and_total_rows_decided_by_the_first_filled_cell():
    """The first cell column settles most rows; the others get the full test over every cell."""
    body = [
        ("PZ1", "帮扶补助", "1"),  # kept: the first cell has content
        (None, " \u3000", None),  # blank (spaces only)
        ("  ", "合 计：", "3"),  # total: the first filled cell, spaces and colon aside
        ("会计调整", "帮扶补助", "4"),  # kept: 计 in the first cell, but no marker
        (None, "PZ5 ", "5"),  # kept: the first filled cell is no marker
        ("\u200b", None, "本年累计"),  # total: the first filled cell is the third
        ("小计", None, None),  # total in the first cell
        (None, None, "6 合计"),  # kept: a marker inside a value is no total row
    ]
    raw = pl.DataFrame(
        {
            "c0": ["凭证号", *[r[0] for r in body]],
            "c1": ["科目名称", *[r[1] for r in body]],
            "c2": ["借方金额", *[r[2] for r in body]],
            "c3": ["摘要", *[None] * len(body)],
            "c4": ["贷方金额", *[None] * len(body)],
        },
        schema={f"c{j}": pl.String for j in range(5)},
    ).with_columns(__row=pl.int_range(1, len(body) + 2, dtype=pl.Int64))
    res = R.read_sheet_rows(raw, LEDGER, year=YEAR, unit_code=UNIT, source_file="f.csv")
    seen = set(res.frame["source_row"].to_list()) | set(res.quarantine["row_number"].to_list())
    assert seen == {2, 5, 6, 9}
    assert res.rows_skipped == 1 + 4  # the header, then the blank and three total rows


# --------------------------------------------------------------------------- reference files
def _units_csv(path: Path, rows: list[list[str]]) -> Path:
    path.write_text(
        _csv_text([], ["单位代码", "单位名称", "级别", "上级单位代码"], rows), encoding="utf-8"
    )
    return path


GOOD_UNITS = [
    ["330000", "浙江省总工会", "省", ""],
    ["330100", "杭州市总工会", "市", "330000"],
    ["330102", "上城区总工会", "县", "330100"],
]


def test_read_units_good(tmp_path):
    df = R.read_units(_units_csv(tmp_path / "units.csv", GOOD_UNITS))
    assert df["unit_code"].to_list() == ["330000", "330100", "330102"]
    assert df["parent_code"].to_list() == [None, "330000", "330100"]


@pytest.mark.parametrize(
    "rows, word",
    [
        (GOOD_UNITS + [["330102", "重复", "县", "330100"]], "重复"),
        (GOOD_UNITS + [["330105", "拱墅区总工会", "县", "330200"]], "不在名录中"),
        ([["330100", "a", "市", "330102"], ["330102", "b", "县", "330100"]], "级别|成环"),
        ([["330100", "a", "县", "330102"], ["330102", "b", "县", "330100"]], "级别|成环"),
        (GOOD_UNITS + [["330106", "x", "乡", "330100"]], "无法读取"),
        (GOOD_UNITS + [["330106", "x", "市", "330100"]], "级别"),
    ],
)
def test_read_units_bad(tmp_path, rows, word):
    with pytest.raises(R.ReferenceDataError, match=word):
        R.read_units(_units_csv(tmp_path / "units.csv", rows))


def test_units_cycle_detected(tmp_path):
    # same-level cycle is caught by levels; build one that only the walk catches
    rows = [["330100", "a", "省", "330102"], ["330102", "b", "市", "330100"]]
    with pytest.raises(R.ReferenceDataError, match="级别|成环"):
        R.read_units(_units_csv(tmp_path / "units.csv", rows))


def test_read_standards_and_roster(tmp_path):
    p = tmp_path / "standards.csv"
    p.write_text(
        _csv_text(
            [],
            ["区划代码", "年度", "城市低保标准", "教育救助标准"],
            [["330100", "2019", "900元", ""], ["330102", "2019", "-1", ""]],
        ),
        encoding="gb18030",
    )
    frame, q = R.read_standards(p)
    assert frame["dibao_monthly"].to_list() == [900.0]
    assert q["row_number"].to_list() == [3]
    r = tmp_path / "2019.csv"
    r.write_text(
        _csv_text(
            [],
            ["身份证号", "姓名", "救助类型", "区划代码"],
            [[ID1.lower(), "张三", "低保", "330102"], ["", "李四", "特困", "330102"]],
        ),
        encoding="utf-8-sig",
    )
    frame, q = R.read_civil_roster(r, 2019)
    assert frame["id_number"].to_list() == [ID1]
    assert set(frame["year"]) == {2019}
    assert q["column"].to_list() == ["身份证号"]


def test_frames_have_canonical_schema_for_every_sheet(landing):
    res = _read(write_xlsx(_xlsx_path(landing)), landing)
    for key, spec in (("archive", ARCHIVE), ("ledger", LEDGER), ("evaluation", EVALUATION)):
        assert res.sheets[key].frame.schema == pl.Schema(sheet_schema(spec))


def test_single_pass_path_is_used(landing, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("fallback path used")

    monkeypatch.setattr(xlsx, "read_xlsx_raw_safe", boom)
    res = _read(write_xlsx(_xlsx_path(landing), offset_col=1), landing)
    assert res.sheets["payments"].quarantine["row_number"].to_list() == [7, 8, 10]


def test_fallback_path_gives_the_same_result(landing, monkeypatch):
    path = write_xlsx(_xlsx_path(landing))
    fast = _read(path, landing)

    def no_peek(*a, **k):
        raise ValueError("peek disabled")

    monkeypatch.setattr(xlsx, "peek_rows", no_peek)
    slow = _read(path, landing)
    for key in fast.sheets:
        assert slow.sheets[key].frame.equals(fast.sheets[key].frame)
        assert slow.sheets[key].quarantine.equals(fast.sheets[key].quarantine)


# --------------------------------------------------------------------------- CSV: two parsers
def _csv_module_frame(text: str) -> pl.DataFrame:
    """The csv module's reading, trailing all-empty columns dropped (they carry nothing)."""
    ref = csv_sheets.csv_frame_stdlib(text)
    cells = [c for c in ref.columns if c != "__row"]
    while cells and ref[cells[-1]].null_count() == ref.height:
        cells.pop()
    return ref.select(*cells, "__row")


WELL_QUOTED_CSV = [
    '标题\n\n序号,姓名,金额\n1,张三,"1,234.50"\n2,"李\n四",5\n,,\n\n3,王五,6,多余\n',
    'a,"b ""q"" c",d\r\n"e\r\nf",,\r\n\r\n"",x\r\n',
    "only\n",
    "\n\n\n",
    "x,y\nlast line without newline",
    '"合计",,"1"\n  ,\u3000,\n',
    'a,"",""\nb,,\n,"x",""\n',  # the last columns hold only quoted empty strings
    "a,b,,\nc,,,\n,,d,,\n",  # unquoted: trailing empty fields end no column
    'x,""\r\n"y",z\r\n"",w',  # quoted, a line a record; empty quoted fields at both ends
    '"a",b\nc,"d"\n',  # quoted, a line a record, no empty field
    '"p,"",q",r\n"a\nb",c\nd,e',  # "" inside a field; a record over two lines, no last \n
]


@pytest.mark.parametrize("text", WELL_QUOTED_CSV)
def test_csv_polars_path_splits_like_the_csv_module(text):
    fast = csv_sheets.csv_frame_polars(text)
    assert fast is not None, "well-quoted CSV should take the polars path"
    assert fast.equals(_csv_module_frame(text)), (fast, _csv_module_frame(text))


@pytest.mark.parametrize(
    "text",
    [
        'a,b"c,d\n',  # a quote inside a bare field
        '"abc"def,g\n',  # text after a closing quote
        '"""\n',  # unterminated
        "a\rb,c\n",  # a lone carriage return ends a line for the csv module only
        "\ufeffa,b\n",  # polars would drop the BOM
        ",".join(["v"] * 300) + "\n",  # wider than the polars schemas tried
    ],
)
def test_csv_polars_path_declines_what_it_could_split_otherwise(text):
    assert csv_sheets.csv_frame_polars(text) is None
    assert csv_sheets.csv_frame(text).equals(csv_sheets.csv_frame_stdlib(text))


def test_csv_ledger_reads_the_same_whichever_parser_its_length_picks(landing, monkeypatch):
    """Short CSV files go through the csv module, long ones through polars: a whole ledger
    (titles, quoted fields, trailing empty fields, bad rows to quarantine) must read the same
    both ways."""
    sheets = workbook_sheets()
    titles, header, rows = sheets[" 救助发放明细 "]
    sheets[" 救助发放明细 "] = (titles, header + ["", ""], [r and [*r, "", ""] for r in rows])
    folder = write_csv_folder(landing / "ledgers" / str(YEAR) / UNIT, sheets=sheets)
    used = []
    fast = csv_sheets.csv_frame_polars
    monkeypatch.setattr(csv_sheets, "csv_frame_polars", lambda text: used.append(1) or fast(text))

    monkeypatch.setattr(csv_sheets, "CSV_MODULE_MAX_LINES", 0)
    by_polars = _read(folder, landing)
    assert len(used) == len(sheets)
    monkeypatch.setattr(csv_sheets, "CSV_MODULE_MAX_LINES", 10**9)
    by_csv_module = _read(folder, landing)
    assert len(used) == len(sheets)  # not called again
    assert by_polars.sheets.keys() == by_csv_module.sheets.keys()
    for key, sheet in by_polars.sheets.items():
        other = by_csv_module.sheets[key]
        assert sheet.frame.equals(other.frame), key
        assert sheet.quarantine.equals(other.quarantine), key
        assert (sheet.rows_read, sheet.rows_kept) == (other.rows_read, other.rows_kept)
    assert by_polars.sheets["payments"].rows_quarantined > 0


# --------------------------------------------------------------------------- ID cells restored
def test_id_cells_restored_exactly_from_cell_errors(tmp_path):
    texts = [
        'a\\b"c\n',
        'String(")',
        "x')'",
        "'",
        " ",
        "😀中",
        "\\u{41}",
        "\")'",
        "11010519491231002x",
    ]
    path = tmp_path / "ids.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("s")
    ws.write_row(0, 0, ["序号", "身份证号"])
    for i, t in enumerate(texts, start=1):
        ws.write_number(i, 0, i)
        ws.write_string(i, 1, t)
    ws.write_number(len(texts) + 1, 1, 110105194912310021)
    wb.close()
    import fastexcel

    sheet = fastexcel.read_excel(path.read_bytes()).load_sheet(
        "s", header_row=None, dtypes={0: "string", 1: "duration"}, schema_sample_rows=None
    )
    rb, errors = sheet.to_arrow_with_errors()
    df = pl.DataFrame(rb)
    df = df.rename({c: f"c{j}" for j, c in enumerate(df.columns)})
    out = id_text.restore_id_text(df, [1], errors)
    # the number as the file holds it (15 significant digits, as Excel keeps them)
    assert out["c1"].to_list() == ["身份证号", *texts, "110105194912310000"]
    assert out["n1"].to_list() == [False] * (len(texts) + 1) + [True]


def test_date_typed_into_id_column_quarantines_the_row(landing):
    """A date cell in the ID column is not an ID: that row is quarantined showing the date,
    the rest of the sheet and the file are read as usual (it used to reject the file)."""
    sheets = workbook_sheets()
    titles, header, rows = sheets["困难职工档案"]
    rows = [list(r) for r in rows]
    rows[0][header.index("公民身份号码")] = dt.date(2019, 5, 1)
    sheets["困难职工档案"] = (titles, header, rows)
    res = _read(write_xlsx(_xlsx_path(landing), sheets), landing)
    archive = res.sheets["archive"]
    assert archive.rows_read == archive.rows_kept + archive.rows_quarantined
    q = archive.quarantine.filter(pl.col("row_number") == 2)
    assert q["value"].to_list() == ["2019-05-01"]
    assert "身份证号" in q["column"][0]
    assert "DA1" not in archive.frame["archive_no"].to_list()


def _zip_with_strings(sst_xml: bytes) -> zipfile.ZipFile:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("xl/sharedStrings.xml", sst_xml)
    return zipfile.ZipFile(io.BytesIO(buf.getvalue()))


_SST_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="9">'
)


@pytest.mark.parametrize(
    "body, fast",
    [
        # plain, preserved spaces, entities, rich-text runs, a phonetic run (skipped), CJK
        (
            b'<si><t>\xe5\xa7\x93\xe5\x90\x8d</t></si><si><t xml:space="preserve"> a </t></si>'
            b"<si><t>A&amp;B &lt;1&gt;</t></si>"
            b"<si><r><rPr><b/></rPr><t>\xe8\xba\xab\xe4\xbb\xbd</t></r><r><t>\xe8\xaf\x81\xe5\x8f\xb7</t></r></si>"
            b'<si><t>\xe9\x87\x91\xe9\xa2\x9d</t><rPh sb="0" eb="1"><t>jin</t></rPh></si>',
            True,
        ),
        # forms the split cannot index: the streaming parser reads them
        (b"<si><t>x</t></si><si/><si><t>y</t></si>", False),
        (b'<si foo="1"><t>x</t></si><si><t>y</t></si>', False),
    ],
)
def test_shared_strings_lookup_equals_streamed_parse(body, fast):
    zf = _zip_with_strings(_SST_HEAD + body + b"</sst>")
    looked_up, streamed = xlsx.SharedStrings(zf), xlsx.StreamedStrings(zf)
    for i in [4, 0, 2, 1, 3, 7]:  # out of order, and past the end
        assert looked_up.get(i) == streamed.get(i), i
    assert looked_up.streamed_fallback is not fast
    if fast:
        assert [looked_up.get(i) for i in range(5)] == [
            "姓名",
            " a ",
            "A&B <1>",
            "身份证号",
            "金额",
        ]


def test_header_read_through_shared_strings_of_a_later_sheet(tmp_path):
    """Excel's own files keep every string in the shared table, a later sheet's headers after
    every earlier sheet's values: the peek must find them by index."""
    path = tmp_path / "book.xlsx"
    wb = xlsxwriter.Workbook(str(path))  # shared strings, in the order they were written
    filler = wb.add_worksheet("说明")
    for r in range(2000):
        filler.write_string(r, 0, f"填充文字{r}")
    ws = wb.add_worksheet("救助发放明细")
    ws.write_row(0, 0, ["某县总工会救助发放明细"])
    ws.write_row(
        1, 0, ["发放编号", "发放日期", "身份证号", "救助项目", "资金来源", "金额", "凭证号"]
    )
    ws.write_row(2, 0, ["FF1", "2019-03-05", "11010519491231002X", "生活救助", "工会经费", "500"])
    wb.close()
    zf = zipfile.ZipFile(path)
    members = xlsx.xlsx_sheet_members(zf)
    assert xlsx.shared_strings_name(zf) is not None
    strings = xlsx.SharedStrings(zf)
    rows = xlsx.peek_rows(zf, members["救助发放明细"], strings)
    assert not strings.streamed_fallback  # the fast lookup, not the fallback
    assert rows[1][1][0] == ("str", "发放编号") and rows[2][1][2] == ("str", "11010519491231002X")


@pytest.mark.parametrize(
    ("rows", "header_row", "want"),
    [
        ([3, 4, 5, 7], 4, [5, 7]),  # gaps (CSV records spanning lines)
        ([3, 4, 5, 7], 7, []),
        ([3, 4, 5, 7], 1, [3, 4, 5, 7]),
        (list(range(1, 40)), 22, list(range(23, 40))),  # past the rows searched in Python
        ([5, 3, 9], 4, [5, 9]),  # not in order: filtered
    ],
)
def test_rows_below_the_header(rows, header_row, want):
    df = pl.DataFrame({"__row": rows, "c0": [str(r) for r in rows]})
    assert validate.rows_below(df, header_row)["__row"].to_list() == want


def test_fastexcel_still_words_cell_errors_as_id_text_reads_them(tmp_path):
    """bangfu.readers.id_text cuts ID text out of fastexcel's conversion-error messages, which
    are no public API: this fails as soon as an upgrade words them otherwise (then adapt
    id_text and raise the version bound in pyproject.toml)."""
    import fastexcel

    path = tmp_path / "probe.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("s")
    ws.write_string(0, 0, 'a"b\\c')
    ws.write_number(1, 0, 110105194912310021)
    ws.write_boolean(2, 0, True)
    ws.write_number(3, 0, 7)
    wb.close()
    sheet = fastexcel.read_excel(path.read_bytes()).load_sheet(
        "s", header_row=None, dtypes={0: "duration"}, schema_sample_rows=None
    )
    _rb, errors = sheet.to_arrow_with_errors()
    got = [(e.offset_position, e.detail) for e in errors.errors]
    assert got == [
        ((0, 0), 'Expected duration but got \'String("a\\"b\\\\c")\''),
        ((1, 0), "Expected duration but got 'Float(1.1010519491231e17)'"),
        ((2, 0), "Expected duration but got 'Bool(true)'"),
        ((3, 0), "Expected duration but got 'Float(7.0)'"),
    ]
    head, tail = id_text.TEXT_ERROR
    assert got[0][1].startswith(head) and got[0][1].endswith(tail)


@pytest.mark.parametrize("ids", ["mixed", "text_only"])
def test_id_columns_read_alike_by_either_path(landing, monkeypatch, ids):
    """A column of text IDs is read at once as text (calamine types it strictly); the general
    path reads every ID cell through its conversion error. Both give the same ledger."""
    path = write_xlsx(_xlsx_path(landing))
    sheets = workbook_sheets()
    if ids == "text_only":  # no ID typed as a number: the quick path is taken for every sheet
        for name, (titles, header, rows) in list(sheets.items()):
            sheets[name] = (
                titles,
                header,
                [r and [v if v != ("num", 110105194912310021) else ID2 for v in r] for r in rows],
            )
        path = write_xlsx(_xlsx_path(landing), sheets)
    quick = _read(path, landing)
    monkeypatch.setattr(xlsx, "load_id_text", lambda *a, **k: None)
    general = _read(path, landing)
    for key, sheet in quick.sheets.items():
        assert general.sheets[key].frame.equals(sheet.frame), key
        assert general.sheets[key].quarantine.equals(sheet.quarantine), key
