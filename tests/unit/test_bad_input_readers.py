"""Bad-input cases of the readers alone: a 2,000,000-character CSV cell, a units.csv cycle."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from bangfu import readers

ID = "110101199003070016"  # a valid check digit


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def minimal_csv_ledger(landing: Path, year: int, unit: str, memo: str) -> Path:
    """The three required sheets, one data row each (two for 会计明细账; line 3 gets ``memo``)."""
    folder = landing / "ledgers" / str(year) / unit
    folder.mkdir(parents=True)
    (folder / "困难职工档案.csv").write_bytes(
        _csv(
            [
                ["档案编号", "姓名", "身份证号", "困难类别", "家庭人口", "家庭年收入"]
                + ["建档日期", "档案状态"],
                ["A001", "王五", ID, "深度困难", "3", "12000", f"{year}-01-05", "在档"],
            ]
        )
    )
    (folder / "救助发放明细.csv").write_bytes(
        _csv(
            [
                ["发放编号", "发放日期", "身份证号", "救助项目", "资金来源", "金额", "凭证号"],
                ["FF1", f"{year}-02-01", ID, "生活救助", "工会经费", "500", "记001"],
            ]
        )
    )
    (folder / "会计明细账.csv").write_bytes(
        _csv(
            [
                ["凭证日期", "凭证号", "科目名称", "摘要", "借方金额", "贷方金额"],
                [f"{year}-02-01", "记001", "维权支出—困难职工帮扶费", "发放生活救助", "500", ""],
                [f"{year}-02-01", "记001", "银行存款", memo, "", "500"],
            ]
        )
    )
    return folder


def test_two_million_character_csv_cell_quarantines_its_row(tmp_path):
    folder = minimal_csv_ledger(tmp_path, 2019, "330102", "长" * 2_000_000)
    res = readers.read_ledger(folder, landing=tmp_path, year=2019, unit_code="330102")
    sheet = res.sheets["ledger"]
    assert (sheet.rows_read, sheet.rows_kept, sheet.rows_quarantined) == (2, 1, 1)
    row = sheet.quarantine.row(0, named=True)
    assert row["row_number"] == 3 and row["column"] == "摘要"
    assert "32767" in row["reason"]


def test_long_csv_cell_under_the_csv_field_limit_is_quarantined(tmp_path):
    """Control: the same file with a 40,000-character cell already works."""
    folder = minimal_csv_ledger(tmp_path, 2019, "330102", "长" * 40_000)
    res = readers.read_ledger(folder, landing=tmp_path, year=2019, unit_code="330102")
    sheet = res.sheets["ledger"]
    assert (sheet.rows_read, sheet.rows_kept, sheet.rows_quarantined) == (2, 1, 1)
    assert sheet.quarantine["row_number"].to_list() == [3]


UNITS_HEADER = "单位代码,单位名称,级别,上级单位代码\n"


def test_units_cycle_is_named_a_cycle(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(
        UNITS_HEADER + "330000,浙江省总工会,省,\n"
        "330100,杭州市总工会,市,330200\n"
        "330200,宁波市总工会,市,330100\n",
        encoding="utf-8",
    )
    with pytest.raises(readers.ReferenceDataError) as exc:
        readers.read_units(path)
    message = str(exc.value).replace(str(path), "units.csv")  # the test's folder says "cycle"
    assert re.search(r"成环|cycle", message), message
