"""Helpers of the review tests: filling a workbook in as an auditor would (openpyxl, or
LibreOffice saving it), reading the journal and the outputs. (Their data folder is a private
copy of the S run's: the ``s_run_copy`` fixture.)"""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from bangfu.review import journal
from warehouse import tables
from warehouse.store import Warehouse, default_url

YEAR, UNIT = 2019, "330103"  # a county: 330100 and 330000 are above it


def warehouse(data: Path) -> Warehouse:
    wh = Warehouse(default_url(data))
    wh.create_all()
    return wh


def findings(data: Path, year=YEAR, unit=UNIT) -> list[dict]:
    wh = warehouse(data)
    try:
        frame = wh.read(tables.findings, year=year, unit_code=unit)
        return frame.sort("finding_id").to_dicts()
    finally:
        wh.dispose()


def journal_rows(data: Path) -> list[dict]:
    wh = warehouse(data)
    try:
        return journal.all_rows(wh).to_dicts()
    finally:
        wh.dispose()


def workbook(data: Path, year=YEAR, unit=UNIT) -> Path:
    return data / "workbooks" / str(year) / f"{unit}.xlsx"


def _header(ws, *names):
    for row in ws.iter_rows():
        values = [c.value for c in row]
        if all(n in values for n in names):
            return row[0].row, {v: i + 1 for i, v in enumerate(values) if v}
    raise AssertionError(f"no header {names} on {ws.title}")


def fill(
    src: Path,
    dst: Path,
    *,
    verdicts: dict[str, tuple] | None = None,
    evidence: dict[str, tuple] | None = None,
    audit: dict[str, tuple] | None = None,
) -> Path:
    """Type judgments into the input cells of a written workbook and save it as ``dst``:
    verdicts finding_id → (复核结论, 复核说明, 复核人); evidence 索引号 → (意见, 说明, 录入人);
    audit DG-xx → (审核意见, 说明, 审核人员)."""
    wb = load_workbook(src)
    ws = wb["审计发现明细"]
    top, cols = _header(ws, "finding_id", "复核结论")
    for r in range(top + 1, ws.max_row + 1):
        fid = ws.cell(r, cols["finding_id"]).value
        if fid in (verdicts or {}):
            for name, v in zip(("复核结论", "复核说明", "复核人"), verdicts[fid], strict=True):
                ws.cell(r, cols[name]).value = v
    ws = wb["复核意见"]
    top, cols = _header(ws, "索引号", "证据提供单位意见")
    for r in range(top + 1, ws.max_row + 1):
        index = ws.cell(r, 1).value
        if index in (evidence or {}):
            for name, v in zip(
                ("证据提供单位意见", "说明", "录入人"), evidence[index], strict=True
            ):
                ws.cell(r, cols[name]).value = v
    top, cols = _header(ws, "索引号", "审核意见")
    for r in range(top + 1, ws.max_row + 1):
        index = ws.cell(r, 1).value
        if index in (audit or {}):
            for name, v in zip(("审核意见", "说明", "审核人员"), audit[index], strict=True):
                ws.cell(r, cols[name]).value = v
    dst.parent.mkdir(parents=True, exist_ok=True)
    wb.save(dst)
    return dst


def sheet_rows(path: Path, sheet: str) -> list[tuple]:
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        return [tuple(r) for r in wb[sheet].iter_rows(values_only=True)]
    finally:
        wb.close()


def listing(path: Path) -> dict[str, dict]:
    """审计发现明细 rows by finding_id (column name → value)."""
    rows = sheet_rows(path, "审计发现明细")
    head = next(i for i, r in enumerate(rows) if "finding_id" in r)
    names = rows[head]
    return {
        r[names.index("finding_id")]: dict(zip(names, r, strict=False))
        for r in rows[head + 1 :]
        if r[names.index("finding_id")]
    }


def report_text(data: Path, year=YEAR, unit=UNIT) -> str:
    from docx import Document

    doc = Document(data / "reports" / str(year) / f"{unit}.docx")
    return "\n".join(p.text for p in doc.paragraphs)
