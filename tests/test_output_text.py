"""What a first reader of the outputs meets: sentences joined without a doubled full stop, the
report's money figures with thousands separators on one line, a private demo data folder."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from conftest import missing
from docx import Document
from docx.oxml.ns import qn

from bangfu.forms.report import write_unit_report
from bangfu.rules.registry import RULES
from bangfu.sentences import clause
from warehouse import tables
from warehouse.store import Warehouse, default_url

ROOT = Path(__file__).resolve().parents[1]
# a sentence's full stop followed by what only a clause may be followed by
BAD_JOIN = re.compile(r"。[。；，、等]")
UNIT = {"unit_code": "330102", "unit_name": "上城区总工会", "level": "县", "parent_code": "330100"}


def _texts(path: Path) -> str:
    """All text of an .xlsx or .docx, character references resolved."""
    with zipfile.ZipFile(path) as z:
        parts = [n for n in z.namelist() if n.endswith(".xml")]
        return html.unescape("\n".join(z.read(n).decode("utf-8") for n in parts))


def test_clause_drops_only_the_closing_full_stop():
    assert clause("未完成年度解困脱困目标。") == "未完成年度解困脱困目标"
    assert clause(" 甲。乙。 ") == "甲。乙"
    assert clause("无句号") == "无句号"
    assert clause(None) == ""


def test_no_doubled_full_stop_where_findings_are_joined(s_run):
    """Every rule's real details, as the S run wrote them into the workbooks' 审定表 conclusions,
    取证单 and the reports: no 。 directly followed by 。, ；, 等 … (the detail's own full stop
    left in the middle of a longer sentence)."""
    wh = Warehouse(default_url(s_run["data"]))
    rules_found = set(wh.read(tables.findings)["rule_code"].unique().to_list())
    wh.dispose()
    assert rules_found == set(RULES), set(RULES) - rules_found  # every rule's details are met
    outputs = sorted((s_run["data"] / "workbooks").rglob("*.xlsx"))
    outputs += sorted((s_run["data"] / "reports").rglob("*.docx"))
    assert len(outputs) >= 2 * 33
    bad = []
    for path in outputs:
        for m in BAD_JOIN.finditer(_texts(path)):
            text = m.string
            bad.append(f"{path.name}: …{text[max(0, m.start() - 30) : m.end() + 10]}…")
    assert not bad, "\n".join(bad[:10])


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
    office = shutil.which("libreoffice") or shutil.which("soffice")
    pdftotext = shutil.which("pdftotext")
    if office is None or pdftotext is None:
        missing("libreoffice or pdftotext (poppler-utils) is missing")
    docx = _report(tmp_path, Decimal("14615912.85"))
    subprocess.run(
        [
            office,
            f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(docx),
        ],
        check=True,
        timeout=240,
        capture_output=True,
    )
    text = subprocess.run(
        [pdftotext, "-layout", str(tmp_path / "330102.pdf"), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    row = next(line for line in text.splitlines() if line.strip().startswith("2019"))
    assert "14,615,912.85" in row, row


@pytest.mark.slow
def test_demo_creates_a_private_data_folder(tmp_path):
    """`bangfu demo` into a folder that does not exist yet: made 0700 (it holds personal data),
    so the run has nothing to warn about, and it exits 0."""
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "BANGFU_WAREHOUSE_URL")}
    result = subprocess.run(
        [
            "/bin/sh",
            "-c",
            f'umask 022 && exec "$0" -m bangfu.cli demo --data "{data}"',
            sys.executable,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (data.stat().st_mode & 0o777) == 0o700
    assert "其他用户可访问" not in result.stdout + result.stderr
    assert len(list((data / "workbooks").rglob("*.xlsx"))) == 33
