"""The year's data-quality report: what went in, what was set aside and why (no Dagster here).

Built from the warehouse's own record of the ingest (`ingest_log`, `quarantine`,
`rejected_files`) and the unit list, so it shows the auditor exactly what the findings rest on:
per unit and sheet the rows read, kept and quarantined; every quarantined row with its reason;
every rejected file; every unit that sent no ledger. `conservation_problems` is the cross-table
check that no row was lost between the ingest log and the quarantine table.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from openpyxl import Workbook
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from bangfu.forms.sheet_markup import SheetMarkup
from bangfu.forms.workbook import atomic_save
from bangfu.forms.writer import save_workbook

SUMMARY_COLUMNS = {
    "unit_code": "单位代码",
    "unit_name": "单位名称",
    "level": "层级",
    "sheet": "表名",
    "source_file": "来源文件",
    "rows_read": "读入行数",
    "rows_kept": "保留行数",
    "rows_quarantined": "隔离行数",
    "rows_skipped": "跳过行数（标题、空行、合计）",
}
QUARANTINE_COLUMNS = {
    "unit_code": "单位代码",
    "unit_name": "单位名称",
    "source_file": "来源文件",
    "sheet": "表名",
    "row_number": "行号（同 Excel）",
    "column": "列",
    "value": "原值",
    "reason": "隔离原因",
}
REJECTED_COLUMNS = {
    "unit_code": "单位代码",
    "unit_name": "单位名称",
    "source_file": "来源文件",
    "reason": "拒收原因",
}
MISSING_COLUMNS = {"unit_code": "单位代码", "unit_name": "单位名称", "level": "层级"}


@dataclass(frozen=True)
class QualityReport:
    year: int
    summary: pl.DataFrame  # one row per (unit, sheet) ingested
    quarantined: pl.DataFrame  # one row per quarantine record
    rejected: pl.DataFrame  # one row per rejected file
    missing: pl.DataFrame  # units in units.csv with neither a ledger nor a rejected file

    @property
    def totals(self) -> dict[str, int]:
        s = self.summary
        return {
            "units_ingested": s["unit_code"].n_unique() if s.height else 0,
            "rows_read": int(s["rows_read"].sum() or 0) if s.height else 0,
            "rows_kept": int(s["rows_kept"].sum() or 0) if s.height else 0,
            "rows_quarantined": int(s["rows_quarantined"].sum() or 0) if s.height else 0,
            "files_rejected": self.rejected.height,
            "units_missing": self.missing.height,
        }


def _with_names(frame: pl.DataFrame, units: pl.DataFrame) -> pl.DataFrame:
    names = units.select("unit_code", "unit_name", "level")
    if frame.is_empty():
        return frame.with_columns(
            pl.lit(None, pl.String).alias("unit_name"), pl.lit(None, pl.String).alias("level")
        )
    return frame.with_columns(pl.col("unit_code").cast(pl.String)).join(
        names, on="unit_code", how="left"
    )


def _typed(frame: pl.DataFrame, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """Warehouse reads of an empty table come back untyped; give them the report's columns."""
    if frame.is_empty():
        return pl.DataFrame(schema=columns)
    return frame.with_columns([pl.col(c).cast(t) for c, t in columns.items() if c in frame.columns])


def build_quality_report(
    year: int,
    units: pl.DataFrame,
    ingest_log: pl.DataFrame,
    quarantine: pl.DataFrame,
    rejected: pl.DataFrame,
) -> QualityReport:
    ints = {c: pl.Int64 for c in ("rows_read", "rows_kept", "rows_quarantined", "rows_skipped")}
    log = _typed(
        ingest_log,
        {"unit_code": pl.String, "sheet": pl.String, "source_file": pl.String, **ints},
    )
    summary = (
        _with_names(log, units)
        .select(list(SUMMARY_COLUMNS))
        .sort("unit_code", "sheet", nulls_last=True)
    )
    q = _typed(
        quarantine,
        {
            "unit_code": pl.String,
            "source_file": pl.String,
            "sheet": pl.String,
            "row_number": pl.Int64,
            "column": pl.String,
            "value": pl.String,
            "reason": pl.String,
        },
    )
    quarantined = (
        _with_names(q, units)
        .select(list(QUARANTINE_COLUMNS))
        .sort("unit_code", "sheet", "row_number", nulls_last=True)
    )
    r = _typed(rejected, {"unit_code": pl.String, "source_file": pl.String, "reason": pl.String})
    rejected_rows = (
        _with_names(r, units).select(list(REJECTED_COLUMNS)).sort("unit_code", nulls_last=True)
    )
    seen = pl.concat([summary["unit_code"], rejected_rows["unit_code"]]).drop_nulls().unique()
    missing = (
        units.filter(~pl.col("unit_code").is_in(seen.implode()))
        .select("unit_code", "unit_name", "level")
        .sort("unit_code")
    )
    return QualityReport(year, summary, quarantined, rejected_rows, missing)


def conservation_problems(report: QualityReport) -> pl.DataFrame:
    """(unit, sheet) pairs where rows were lost: read ≠ kept + quarantined, or the quarantine
    table does not hold exactly `rows_quarantined` distinct rows for that sheet."""
    per_sheet = (
        report.summary.group_by("unit_code", "sheet")
        .agg(pl.col("rows_read", "rows_kept", "rows_quarantined").sum())
        .join(
            report.quarantined.group_by("unit_code", "sheet").agg(
                pl.col("row_number").n_unique().alias("quarantine_rows")
            ),
            on=["unit_code", "sheet"],
            how="full",
            coalesce=True,
        )
        .with_columns(pl.col("rows_quarantined", "quarantine_rows").fill_null(0))
    )
    return per_sheet.filter(
        (pl.col("rows_read").fill_null(-1) != pl.col("rows_kept") + pl.col("rows_quarantined"))
        | (pl.col("quarantine_rows") != pl.col("rows_quarantined"))
    ).sort("unit_code", "sheet")


_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_WRAP = Alignment(wrap_text=True, vertical="top")


def _table_sheet(wb: Workbook, title: str, frame: pl.DataFrame, headers: dict[str, str]) -> None:
    """A sheet of ``frame``'s columns under ``headers``, its rows as finished markup (at
    national scale tens of thousands of rows). Quarantined values are raw input: they go
    through ``cell_text`` (control characters dropped, cut to Excel's cell limit) and text
    that looks like a formula stays text (quote prefix), as in the audit workbooks."""
    ws = wb.create_sheet(title)
    ws.freeze_panes = "A2"
    for i, h in enumerate(headers.values(), start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(8, min(60, len(h) * 2 + 2))
    xml = SheetMarkup(ws)
    head = xml.style_id((_HEADER_FONT, _HEADER_FILL, None, None))
    xml.row(1, [(h, head) for h in headers.values()])
    if frame.is_empty():
        xml.row(2, [("（无）", 0)])
    xml.table(2, frame.select(list(headers)))
    xml.finish()


def write_quality_workbook(path: Path, report: QualityReport, digest: str | None = None) -> Path:
    """`<data>/quality/<year>.xlsx`: 概况, 读入明细, 隔离明细, 拒收文件, 未报送单位."""
    wb = Workbook(write_only=True)
    wb.custom_doc_props.append(
        StringProperty(name=_DIGEST_PROPERTY, value=digest or report_digest(report))
    )
    ws = wb.create_sheet("概况")
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 16
    t = report.totals
    lines = [
        (f"{report.year} 年度台账数据质量报告", None),
        ("读入台账的单位数", t["units_ingested"]),
        ("读入数据行", t["rows_read"]),
        ("保留数据行", t["rows_kept"]),
        ("隔离数据行（见“隔离明细”）", t["rows_quarantined"]),
        ("拒收文件（见“拒收文件”）", t["files_rejected"]),
        ("未报送台账的单位（见“未报送单位”）", t["units_missing"]),
        (
            "说明：读入行 = 保留行 + 隔离行；隔离行未参与审计计算，请审计人员向被审计单位核实。",
            None,
        ),
    ]
    xml = SheetMarkup(ws)
    wrap = xml.style_id((None, None, _WRAP, None))
    for r, (label, value) in enumerate(lines, start=1):
        xml.row(r, [(label, wrap), (value, 0)])
    xml.finish()
    _table_sheet(wb, "读入明细", report.summary, SUMMARY_COLUMNS)
    _table_sheet(wb, "隔离明细", report.quarantined, QUARANTINE_COLUMNS)
    _table_sheet(wb, "拒收文件", report.rejected, REJECTED_COLUMNS)
    _table_sheet(wb, "未报送单位", report.missing, MISSING_COLUMNS)
    atomic_save(path, lambda tmp: save_workbook(wb, tmp))
    return path


# Bump when the workbook's layout changes, so reports written by older code are rewritten.
LAYOUT_VERSION = 1


def report_digest(report: QualityReport) -> str:
    """A digest of everything the workbook shows (content, not write times)."""
    h = hashlib.sha256(f"{LAYOUT_VERSION}|{report.year}".encode())
    for frame in (report.summary, report.quarantined, report.rejected, report.missing):
        h.update(frame.rechunk().write_ipc(None).getvalue())
    return h.hexdigest()


def save_quality_workbook(path: Path, report: QualityReport) -> bool:
    """Write the workbook unless the file there already shows this report: True when written.
    At national scale the workbook holds hundreds of thousands of cells, and a night with
    no new ledger, or a one-county re-run whose quarantine did not change, would rewrite the
    same report. The digest travels inside the workbook (a custom document property), so there
    is no second file to keep in step."""
    path = Path(path)
    digest = report_digest(report)
    if _stored_digest(path) == digest:
        return False
    write_quality_workbook(path, report, digest=digest)
    return True


_DIGEST_PROPERTY = "bangfu_report_digest"
_DIGEST_RE = re.compile(
    rf'name="{_DIGEST_PROPERTY}"[^>]*>\s*<vt:lpwstr[^>]*>([0-9a-f]{{64}})</vt:lpwstr>'.encode()
)


def _stored_digest(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            m = _DIGEST_RE.search(zf.read("docProps/custom.xml"))
    except (FileNotFoundError, KeyError, zipfile.BadZipFile, OSError):
        return None
    return m.group(1).decode() if m else None
