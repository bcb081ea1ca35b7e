"""What a first reader of the outputs meets, on hand-built inputs: a clause without its full
stop, the report's money figures with thousands separators on one line. Over the S run's real
outputs, and the demo's data folder: tests/e2e/test_output_text.py."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from docx import Document
from docx.oxml.ns import qn

from bangfu.forms.report import write_unit_report
from bangfu.sentences import clause
from tests.support.office import office_program, pdf_text, pdftotext_program, to_pdf

UNIT = {"unit_code": "330102", "unit_name": "上城区总工会", "level": "县", "parent_code": "330100"}


def test_clause_drops_only_the_closing_full_stop():
    assert clause("未完成年度解困脱困目标。") == "未完成年度解困脱困目标"
    assert clause(" 甲。乙。 ") == "甲。乙"
    assert clause("无句号") == "无句号"
    assert clause(None) == ""


def _report(tmp_path: Path, paid_total) -> Path:
    metrics = pl.DataFrame(
        {
            "year": [2019],
            "unit_code": ["330102"],
            "level": ["县"],
            "archived_at_start": [1286],
            "archived_at_end": [1461],
            "newly_archived": [419],
            "relieved": [178],
            "exited_out_of_hardship": [176],
            "paid_total": [paid_total],
        }
    )
    out = tmp_path / "330102.docx"
    write_unit_report(
        out,
        year=2019,
        unit=UNIT,
        metrics=metrics,
        findings=pl.DataFrame(),
        ledger={},
        dibao_monthly=600.0,
    )
    return out


@pytest.mark.parametrize("paid_total", [Decimal("440526.39"), 440526.39])
def test_report_money_has_separators_and_stays_on_one_line(tmp_path, paid_total):
    doc = Document(str(_report(tmp_path, paid_total)))
    table = doc.tables[0]
    header = [c.text for c in table.rows[0].cells]
    row = [c.text for c in table.rows[1].cells]
    money = header.index("发放金额（元）")
    assert row[money] == "440,526.39"
    assert row[header.index("年初在档")] == "1,286"
    for cell in table.rows[1].cells:
        assert cell._tc.tcPr.find(qn("w:noWrap")) is not None, cell.text
    widths = [c.width for c in table.rows[1].cells]
    assert widths[money] == max(widths)


@pytest.mark.office
def test_report_money_stays_on_one_line_in_the_pdf(tmp_path):
    office_program(), pdftotext_program()
    docx = _report(tmp_path, Decimal("14615912.85"))
    text = pdf_text(to_pdf(docx, tmp_path), layout=True)
    row = next(line for line in text.splitlines() if line.strip().startswith("2019"))
    assert "14,615,912.85" in row, row
