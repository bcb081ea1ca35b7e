"""Write the year's overview (``bangfu.overview.Overview``) as ``<data>/overview/<year>.xlsx``:
six sheets of tables laid out from :data:`SHEETS` (blocks of columns, one mechanism) and native
Excel charts (openpyxl.chart), which Excel, WPS and LibreOffice draw themselves. No Dagster here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bangfu.benford import (
    BENFORD_CLASSES,
    BENFORD_MIN_AMOUNT,
    BENFORD_MIN_N,
    BENFORD_NONCONFORMING,
)
from bangfu.forms.sheet_markup import SheetMarkup, cell_value
from bangfu.forms.workbook import atomic_save
from bangfu.forms.writer import save_workbook
from bangfu.overview import SEVERITIES, VERDICTS, Overview
from bangfu.rules.common import LEVEL_ORDER

FORMATS = {"text": "@", "int": "#,##0", "money": "#,##0.00", "pct": "0.00%", "rate": "0.0000"}
WIDTHS = {"text": 14, "int": 10, "money": 16, "pct": 12, "rate": 10}
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
MARK_FONT = Font(color="C00000", bold=True)
TOP_UNITS = 20  # the ranking chart
MAX_TARGET_BARS = 60  # the target chart shows the top levels whose units fit


@dataclass(frozen=True)
class Col:
    header: str
    field: str
    kind: str = "text"  # a key of FORMATS
    mark: bool = False  # a non-empty value is an alert: red


@dataclass(frozen=True)
class Block:
    """A titled table: ``frame(overview)`` rows under ``cols``' headers."""

    key: str
    title: str
    frame: Callable[[Overview], pl.DataFrame]
    cols: tuple[Col, ...] | Callable[[Overview], tuple[Col, ...]]


@dataclass(frozen=True)
class Chart:
    """A chart over one block's rows: categories from ``cat``, one series per ``values``."""

    block: str
    title: str
    cat: str
    values: tuple[str, ...]
    y_title: str
    percent: bool = False
    horizontal: bool = False  # bars across: long category names (rules, units) stay legible
    rows: Callable[[pl.DataFrame], int] | None = None  # how many of the block's rows (all)


@dataclass(frozen=True)
class SheetSpec:
    name: str
    blocks: tuple[Block, ...]
    charts: tuple[Chart, ...] = field(default=())
    note: str = ""


UNIT = (Col("单位代码", "unit_code"), Col("单位名称", "unit_name"), Col("级别", "level"))


def _summary_cols(ov: Overview) -> tuple[Col, ...]:
    review = tuple(Col(f"复核{v}", f"review_{v}", "int") for v in VERDICTS) if ov.reviewed else ()
    return (
        *UNIT,
        Col("下辖单位数（含本级）", "units", "int"),
        Col("台账齐全单位数", "units_complete", "int"),
        Col("年末在档（户）", "archived_at_end", "int"),
        Col("发放总额（元）", "paid_total", "money"),
        Col("审计发现数", "findings", "int"),
        *(Col(f"{s}风险发现数", f"sev_{s}", "int") for s in SEVERITIES),
        Col("问题金额（元）", "problem_amount", "money"),
        *review,
    )


def _top_counties(ov: Overview) -> pl.DataFrame:
    county = ov.ranking.filter(pl.col("level") == "县")
    return (county if not county.is_empty() else ov.ranking).head(TOP_UNITS)


def _target_bars(frame: pl.DataFrame) -> int:
    """The rows of the highest levels whose units together fit :data:`MAX_TARGET_BARS` (the
    provinces always): rows are ordered by level."""
    counts = frame.group_by("level").len()
    n_by = {r["level"]: r["len"] for r in counts.iter_rows(named=True)}
    total = 0
    for level in sorted(n_by, key=lambda x: LEVEL_ORDER.get(x, 9)):
        if total and total + n_by[level] > MAX_TARGET_BARS:
            break
        total += n_by[level]
    return total


def _benford_digit_table(ov: Overview) -> pl.DataFrame:
    """Digit pairs × (expected, observed share per province): the province charts' data."""
    provinces = ov.benford.filter(pl.col("level") == "省")["unit_code"].to_list()
    d = ov.benford_digits.filter(pl.col("unit_code").is_in(provinces))
    if d.is_empty():
        return pl.DataFrame(schema={"digits": pl.Int32, "expected": pl.Float64})
    wide = d.pivot(on="unit_code", index=["digits", "expected"], values="observed")
    return wide.sort("digits").select("digits", "expected", *provinces)


def _benford_digit_cols(ov: Overview) -> tuple[Col, ...]:
    names = dict(zip(ov.benford["unit_code"], ov.benford["unit_name"], strict=True))
    provinces = ov.benford.filter(pl.col("level") == "省")["unit_code"].to_list()
    return (
        Col("前两位数字", "digits", "int"),
        Col("本福特期望占比", "expected", "pct"),
        *(Col(f"{names.get(p) or p}实际占比", p, "pct") for p in provinces),
    )


CLASSES_NOTE = "；".join(f"MAD ≤ {limit} {name}" for limit, name in BENFORD_CLASSES)
SHEETS: tuple[SheetSpec, ...] = (
    SheetSpec(
        "概览",
        (
            Block("summary", "各省、市汇总（含下级单位）", lambda ov: ov.summary, _summary_cols),
            Block(
                "by_rule",
                "审计发现按规则统计",
                lambda ov: ov.by_rule,
                (
                    Col("规则代码", "rule_code"),
                    Col("问题", "title"),
                    Col("严重程度", "severity"),
                    Col("发现数", "count", "int"),
                    Col("涉及金额（元）", "amount", "money"),
                ),
            ),
        ),
        (Chart("by_rule", "图 各规则审计发现数", "title", ("count",), "发现数", horizontal=True),),
        note="已复核为“排除”的审计发现不计入本工作簿的任何数字。",
    ),
    SheetSpec(
        "单位排名",
        (
            Block(
                "ranking",
                "各级单位按问题金额占比排名（同级之内，大者在前）",
                lambda ov: ov.ranking,
                (
                    Col("排名", "rank", "int"),
                    *UNIT,
                    Col("上级单位代码", "parent_code"),
                    Col("发放总额（元）", "paid_total", "money"),
                    Col("问题金额（元）", "problem_amount", "money"),
                    Col("问题金额占比", "problem_ratio", "pct"),
                    Col("高风险发现数", "sev_高", "int"),
                    Col("审计发现数", "findings", "int"),
                ),
            ),
            Block(
                "top",
                f"问题金额占比前 {TOP_UNITS} 名（县级单位）",
                _top_counties,
                (
                    Col("排名", "rank", "int"),
                    Col("单位名称", "unit_name"),
                    Col("问题金额占比", "problem_ratio", "pct"),
                ),
            ),
        ),
        (
            Chart(
                "top",
                f"图 问题金额占比最高的 {TOP_UNITS} 个县级单位",
                "unit_name",
                ("problem_ratio",),
                "问题金额占比",
                percent=True,
                horizontal=True,
            ),
        ),
        note=(
            "问题金额 = 本单位及下级单位全部审计发现的涉及金额（无金额的计 0）；"
            "问题金额占比 = 问题金额 ÷ 汇总发放总额（未发放的为 0）；"
            "并列时高风险发现数多者在前，再按单位代码。"
        ),
    ),
    SheetSpec(
        "目标完成",
        (
            Block(
                "targets",
                "解困脱困目标完成情况（实际数为含下级的汇总数，目标为本单位所报）",
                lambda ov: ov.targets,
                (
                    *UNIT,
                    Col("解困目标（户）", "target_relieved", "int"),
                    Col("解困实际（户）", "relieved", "int"),
                    Col("解困完成率", "relieved_rate", "pct"),
                    Col("脱困目标（户）", "target_exited", "int"),
                    Col("脱困实际（户）", "exited_out_of_hardship", "int"),
                    Col("脱困完成率", "exited_rate", "pct"),
                    Col("未完成", "shortfall", mark=True),
                ),
            ),
        ),
        (
            Chart(
                "targets",
                "图 解困、脱困目标完成率（按单位）",
                "unit_name",
                ("relieved_rate", "exited_rate"),
                "完成率",
                percent=True,
                rows=_target_bars,
            ),
        ),
    ),
    SheetSpec(
        "评估比率",
        (
            Block(
                "rates",
                "第三方评估比率（含下级合并计算）",
                lambda ov: ov.rates,
                (
                    *UNIT,
                    Col("漏评率", "missed_rate", "pct"),
                    Col("错退率", "wrong_exit_rate", "pct"),
                    Col("错评率", "wrong_entry_rate", "pct"),
                    Col("群众认可度", "recognition_rate", "pct"),
                    Col("预警", "alert", mark=True),
                ),
            ),
        ),
        note="预警与规则 EVAL_RATE_ALERT 相同：漏评率或错退率高于、群众认可度低于本次运行的阈值。",
    ),
    SheetSpec(
        "同比",
        (
            Block(
                "yoy",
                "本年度与上年度对比（含下级）",
                lambda ov: ov.yoy,
                (
                    *UNIT,
                    Col("发放总额（元）", "paid_total", "money"),
                    Col("上年发放总额（元）", "paid_total_prev", "money"),
                    Col("发放总额增减（元）", "paid_total_change", "money"),
                    Col("年末在档（户）", "archived_at_end", "int"),
                    Col("上年年末在档（户）", "archived_at_end_prev", "int"),
                    Col("年末在档增减（户）", "archived_at_end_change", "int"),
                    Col("审计发现数", "findings", "int"),
                    Col("上年审计发现数", "findings_prev", "int"),
                    Col("审计发现增减", "findings_change", "int"),
                    Col("问题金额（元）", "problem_amount", "money"),
                    Col("上年问题金额（元）", "problem_amount_prev", "money"),
                    Col("问题金额增减（元）", "problem_amount_change", "money"),
                ),
            ),
        ),
    ),
    SheetSpec(
        "本福特检验",
        (
            Block(
                "benford",
                "首两位数字本福特检验（疑点筛查，不是审计发现）",
                lambda ov: ov.benford,
                (
                    *UNIT,
                    Col("金额个数 n", "n", "int"),
                    Col("平均绝对偏差 MAD", "mad", "rate"),
                    Col("符合程度", "benford_class", mark=False),
                    Col("超出期望最多的前五个首两位数字（超出百分点）", "top_excess"),
                ),
            ),
            Block(
                "benford_digits",
                "各省首两位数字分布：实际与期望",
                _benford_digit_table,
                _benford_digit_cols,
            ),
        ),
        # one chart per province: see _benford_charts
        note=(
            f"对象：医疗救助发放金额与会计明细账借方金额中不小于 {BENFORD_MIN_AMOUNT:g} 元的金额；"
            f"本级及下级合计不少于 {BENFORD_MIN_N} 个金额的单位及每个省级单位。"
            f"期望占比 log10(1 + 1/d)，d = 10…99。Nigrini 分级：{CLASSES_NOTE}，"
            f"以上为{BENFORD_NONCONFORMING}。检验结果只提示审计人员关注之处，不进入审计取证单。"
        ),
    ),
)


TITLE_FONT = Font(bold=True, size=14)
BLOCK_FONT = Font(bold=True, size=12)
HEAD_FONT = Font(bold=True)
HEAD_ALIGN = Alignment(wrap_text=True, vertical="center")
NOTE_ALIGN = Alignment(wrap_text=False)


def _block_cols(block: Block, ov: Overview) -> tuple[Col, ...]:
    return block.cols(ov) if callable(block.cols) else block.cols


def _write_block(
    xml: SheetMarkup, row: int, block: Block, cols: tuple[Col, ...], frame: pl.DataFrame
) -> tuple[int, dict]:
    """Write a block from ``row``; returns the next free row and where its columns went."""
    xml.row(row, [(block.title, xml.style_id((BLOCK_FONT, None, None, None)))])
    head = row + 1
    head_style = xml.style_id((HEAD_FONT, HEADER_FILL, HEAD_ALIGN, None))
    xml.row(head, [(col.header, head_style) for col in cols])
    names = [c.field for c in cols]
    present = [n for n in names if n in frame.columns]
    data = frame.select(present) if present else pl.DataFrame()
    rows = data.rows() if present else []
    idx = {n: i for i, n in enumerate(present)}
    plain = [
        xml.style_id((None, None, None, None if c.kind == "text" else FORMATS[c.kind]))
        for c in cols
    ]
    marked = [
        xml.style_id((MARK_FONT, None, None, None if c.kind == "text" else FORMATS[c.kind]))
        for c in cols
    ]
    where_in = [idx.get(c.field) for c in cols]
    marks = [c.mark for c in cols]
    for i, values in enumerate(rows, start=head + 1):
        cells = []
        for j, k in enumerate(where_in):
            v = None if k is None else cell_value(values[k])
            cells.append((v, marked[j] if marks[j] and v else plain[j]))
        xml.row(i, cells)
    where = {
        "head": head,
        "first": head + 1,
        "last": head + len(rows),
        "col": {c.field: j for j, c in enumerate(cols, start=1)},
        "width": len(cols),
        "frame": frame,
    }
    return head + len(rows) + 2, where


def _bar(title: str, y_title: str, percent: bool, *, horizontal: bool = False, n: int = 0):
    chart = BarChart()
    chart.type = "bar" if horizontal else "col"
    chart.title = title
    chart.y_axis.title = y_title
    chart.y_axis.majorGridlines = None
    if percent:
        chart.y_axis.number_format = "0%"
    chart.x_axis.delete = False  # openpyxl ≥ 3.1 hides axes unless told
    chart.y_axis.delete = False
    chart.height, chart.width = (max(7.5, 0.75 * n + 3), 20) if horizontal else (9, 18)
    chart.gapWidth = 60
    if horizontal:  # first category at the top, as in the table
        chart.x_axis.scaling.orientation = "maxMin"
    chart.legend.position = "b"
    return chart


def _add_chart(ws, spec: Chart, where: dict, anchor: str) -> bool:
    n = where["last"] - where["first"] + 1
    if spec.rows is not None:
        n = min(n, spec.rows(where["frame"]))
    if n <= 0:
        return False
    chart = _bar(spec.title, spec.y_title, spec.percent, horizontal=spec.horizontal, n=n)
    last = where["first"] + n - 1
    for field_ in spec.values:
        col = where["col"][field_]
        chart.add_data(
            Reference(ws, min_col=col, min_row=where["head"], max_row=last), titles_from_data=True
        )
    cat = where["col"][spec.cat]
    chart.set_categories(Reference(ws, min_col=cat, min_row=where["first"], max_row=last))
    ws.add_chart(chart, anchor)
    return True


def _benford_charts(ws, where: dict, ov: Overview) -> int:
    """Per province: observed share (columns) against Benford's expected share (line)."""
    frame = where["frame"]
    if frame.is_empty():
        return 0
    first, last, head = where["first"], where["last"], where["head"]
    cats = Reference(ws, min_col=where["col"]["digits"], min_row=first, max_row=last)
    names = dict(zip(ov.benford["unit_code"], ov.benford["unit_name"], strict=True))
    anchor_col = get_column_letter(where["width"] + 2)
    made = 0
    for code in [c for c in frame.columns if c not in ("digits", "expected")]:
        bar = _bar(f"图 {names.get(code) or code}首两位数字：实际与期望", "占比", True)
        bar.add_data(
            Reference(ws, min_col=where["col"][code], min_row=head, max_row=last),
            titles_from_data=True,
        )
        bar.set_categories(cats)
        line = LineChart()
        line.add_data(
            Reference(ws, min_col=where["col"]["expected"], min_row=head, max_row=last),
            titles_from_data=True,
        )
        line.set_categories(cats)
        line.y_axis.number_format = "0%"
        line.x_axis.delete = line.y_axis.delete = False
        bar += line
        bar.width = 24
        ws.add_chart(bar, f"{anchor_col}{head + made * 20}")
        made += 1
    return made


def write_overview_workbook(path: Path, ov: Overview) -> dict:
    """Write the workbook atomically; returns the sheets and how many charts each has.

    A write-only workbook whose sheets get their rows as finished markup
    (``bangfu.forms.openpyxl_private``): the sheet settings (column widths, frozen panes,
    print setup) are set before the rows, the charts after; what a workbook written cell by
    cell in openpyxl's normal mode holds (values, number formats, fonts, charts) is the same
    (tests/e2e/test_overview.py compares the two)."""
    wb = Workbook(write_only=True)
    charts: dict[str, int] = {}
    for spec in SHEETS:
        ws = wb.create_sheet(spec.name)
        xml = SheetMarkup(ws)
        title = f"{ov.year} 年度帮扶资金审计总览 — {spec.name}"
        xml.row(1, [(title, xml.style_id((TITLE_FONT, None, None, None)))])
        row = 2
        if spec.note:
            xml.row(2, [(spec.note, xml.style_id((None, None, NOTE_ALIGN, None)))])
            row = 3
        row += 1
        placed: dict[str, dict] = {}
        for block in spec.blocks:
            frame = block.frame(ov)
            cols = _block_cols(block, ov)
            for j, col in enumerate(cols, start=1):  # before the rows: write-only
                letter = get_column_letter(j)
                ws.column_dimensions[letter].width = max(
                    ws.column_dimensions[letter].width or 0, WIDTHS[col.kind]
                )
            row, placed[block.key] = _write_block(xml, row, block, cols, frame)
        ws.freeze_panes = f"A{placed[spec.blocks[0].key]['first']}"
        # printed (and converted to PDF) landscape, one page wide, charts included
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
        xml.finish()
        n = 0
        for chart in spec.charts:
            where = placed[chart.block]
            anchor = f"{get_column_letter(where['width'] + 2)}{where['head']}"
            n += _add_chart(ws, chart, where, anchor)
        if "benford_digits" in placed:
            n += _benford_charts(ws, placed["benford_digits"], ov)
        charts[spec.name] = n
    path = Path(path)
    atomic_save(path, lambda tmp: save_workbook(wb, tmp))
    return {"path": str(path), "sheets": [s.name for s in SHEETS], "charts": charts}
