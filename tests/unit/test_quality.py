"""The validate stage: the year's data-quality report and its conservation check."""

from __future__ import annotations

import polars as pl
from openpyxl import load_workbook

from bangfu.quality import (
    build_quality_report,
    conservation_problems,
    save_quality_workbook,
    write_quality_workbook,
)

UNITS = pl.DataFrame(
    {
        "unit_code": ["520000", "520100", "520102", "520103"],
        "unit_name": ["贵州省总工会", "贵阳市总工会", "南明区总工会", "云岩区总工会"],
        "level": ["省", "市", "县", "县"],
    }
)


def _log(rows):
    cols = ["unit_code", "sheet", "source_file", "rows_read", "rows_kept", "rows_quarantined"]
    return pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows]).with_columns(
        rows_skipped=pl.lit(0)
    )


def _quarantine(rows):
    cols = ["unit_code", "source_file", "sheet", "row_number", "column", "value", "reason"]
    return pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


def _report(log, quarantine, rejected=None):
    rejected = (
        rejected
        if rejected is not None
        else pl.DataFrame(schema={"unit_code": pl.String, "source_file": pl.String})
    )
    return build_quality_report(2019, UNITS, log, quarantine, rejected)


def test_balanced_ingest_has_no_conservation_problem():
    log = _log(
        [
            ("520102", "救助发放明细", "2019/520102.xlsx", 10, 8, 2),
            ("520102", "困难职工档案", "2019/520102.xlsx", 5, 5, 0),
        ]
    )
    q = _quarantine(
        [
            ("520102", "2019/520102.xlsx", "救助发放明细", 7, "发放日期", "2019-13-01", "日期无效"),
            ("520102", "2019/520102.xlsx", "救助发放明细", 9, "金额", "abc", "金额无效"),
            # two failing columns of one row are one quarantined row
            ("520102", "2019/520102.xlsx", "救助发放明细", 9, "身份证号", "1", "身份证号无效"),
        ]
    )
    report = _report(log, q)
    assert conservation_problems(report).is_empty()
    assert report.totals["rows_quarantined"] == 2
    # units with nothing ingested and nothing rejected are listed as not having reported
    assert report.missing["unit_code"].to_list() == ["520000", "520100", "520103"]


def test_lost_rows_are_named():
    log = _log(
        [
            # read ≠ kept + quarantined
            ("520102", "救助发放明细", "f.xlsx", 10, 7, 2),
            # the quarantine table holds fewer rows than the log says
            ("520103", "困难职工档案", "g.csv", 4, 2, 2),
        ]
    )
    q = _quarantine(
        [
            ("520102", "f.xlsx", "救助发放明细", 3, "金额", "x", "金额无效"),
            ("520102", "f.xlsx", "救助发放明细", 4, "金额", "y", "金额无效"),
            ("520103", "g.csv", "困难职工档案", 2, "身份证号", "z", "身份证号无效"),
        ]
    )
    bad = conservation_problems(_report(log, q))
    assert bad.select("unit_code", "sheet").rows() == [
        ("520102", "救助发放明细"),
        ("520103", "困难职工档案"),
    ]


def test_quarantine_without_log_row_is_a_problem():
    q = _quarantine([("520102", "f.xlsx", "会计明细账", 3, "金额", "x", "金额无效")])
    bad = conservation_problems(_report(_log_empty(), q))
    assert bad.select("unit_code", "sheet").rows() == [("520102", "会计明细账")]


def _log_empty():
    return pl.DataFrame(
        schema={
            "unit_code": pl.String,
            "sheet": pl.String,
            "source_file": pl.String,
            "rows_read": pl.Int64,
            "rows_kept": pl.Int64,
            "rows_quarantined": pl.Int64,
            "rows_skipped": pl.Int64,
        }
    )


def test_workbook_keeps_raw_values_as_text(tmp_path):
    long_value = "9" * 2_000_000
    q = _quarantine(
        [
            ("520102", "f.xlsx", "救助发放明细", 3, "备注", '=HYPERLINK("x")', "无效"),
            ("520102", "f.xlsx", "救助发放明细", 4, "备注", long_value, "单元格过长"),
            ("520102", "f.xlsx", "救助发放明细", 5, "备注", "a\x01b", "无效"),
            ("520102", "f.xlsx", "救助发放明细", 6, "备注", " <a&b>\r\n两行 ", "无效"),
        ]
    )
    log = _log([("520102", "救助发放明细", "f.xlsx", 3, 0, 3)])
    rejected = pl.DataFrame(
        {"unit_code": ["520103"], "source_file": ["2019/520103.xlsx"], "reason": ["不是工作簿"]}
    )
    path = write_quality_workbook(tmp_path / "quality" / "2019.xlsx", _report(log, q, rejected))
    wb = load_workbook(path)
    assert wb.sheetnames == ["概况", "读入明细", "隔离明细", "拒收文件", "未报送单位"]
    rows = list(wb["隔离明细"].iter_rows(min_row=2, values_only=True))
    assert [r[4] for r in rows] == [3, 4, 5, 6]
    formula_cell = wb["隔离明细"].cell(row=2, column=7)
    assert formula_cell.data_type == "s" and formula_cell.value.startswith("=HYPERLINK")
    assert formula_cell.quotePrefix  # shown and kept as text when edited in Excel
    assert rows[3][6] == " <a&b>\r\n两行 "  # markup characters, line ends and spaces kept
    assert len(rows[1][6]) == 32767  # cut to Excel's cell limit, not refused
    assert rows[2][6] == "ab"
    assert [r[0] for r in wb["拒收文件"].iter_rows(min_row=2, values_only=True)] == ["520103"]
    missing = [r[0] for r in wb["未报送单位"].iter_rows(min_row=2, values_only=True)]
    assert missing == ["520000", "520100"]
    assert not list(path.parent.glob("*.tmp"))


def test_unchanged_report_is_not_rewritten(tmp_path):
    """Same content: the file stays as it is; other content, or a file changed or removed since:
    written again."""
    log = _log([("520102", "救助发放明细", "f.xlsx", 3, 0, 3)])
    q = _quarantine([("520102", "f.xlsx", "救助发放明细", 3, "备注", "x", "无效")])
    empty = pl.DataFrame(
        schema={"unit_code": pl.String, "source_file": pl.String, "reason": pl.String}
    )
    path = tmp_path / "quality" / "2019.xlsx"
    assert save_quality_workbook(path, _report(log, q, empty)) is True
    first = path.stat().st_mtime_ns
    assert save_quality_workbook(path, _report(log, q, empty)) is False
    assert path.stat().st_mtime_ns == first
    q2 = _quarantine([("520102", "f.xlsx", "救助发放明细", 4, "备注", "y", "无效")])
    assert save_quality_workbook(path, _report(log, q2, empty)) is True
    rows = list(load_workbook(path)["隔离明细"].iter_rows(min_row=2, values_only=True))
    assert [r[4] for r in rows] == [4]
    path.write_bytes(b"not a workbook any more")
    assert save_quality_workbook(path, _report(log, q2, empty)) is True
    path.unlink()
    assert save_quality_workbook(path, _report(log, q2, empty)) is True
    assert load_workbook(path).sheetnames[0] == "概况"
    assert sorted(p.name for p in path.parent.iterdir()) == ["2019.xlsx"]  # nothing beside it
