"""The draft 审计报告 (.docx), following the seed's 审计报告模板 (第六章 二十二):

title; opening paragraph; （一）基本情况 (from the metrics); （二）审计评价 (the template's five
points, drafted from the figures and findings); （三）审计发现的主要问题及整改意见 (findings
grouped by rule, ordered by severity 高 > 中 > 低 then amount, each headed by the problem and
the total amount, with the facts, the basis and the 整改意见); （四）审计建议 (in the same order).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from bangfu.forms import charts
from bangfu.forms import review_sheets as rs
from bangfu.forms.evidence import Group
from bangfu.forms.facts.common import pct, yuan
from bangfu.forms.facts.context import Context
from bangfu.forms.rule_homes import SEVERITY_ORDER, rule_info
from bangfu.forms.workbook import atomic_save, build_context
from bangfu.settings import AuditSettings

FONT = "宋体"
CONTROL_RULES = (
    "ARCHIVE_PROCEDURE_INCOMPLETE",
    "ARCHIVE_PUBLICITY_SHORT",
    "ECON_CHECK_INCOMPLETE",
    "ECON_CHECK_MISMATCH",
    "EXIT_PROCEDURE_INCOMPLETE",
    "EXIT_NO_NOTICE",
    "LEDGER_MISMATCH",
    "PAY_CASH",
    "PAY_SHARED_ACCOUNT",
    "ALLOCATION_NOT_FACTOR",
    "NO_PERFORMANCE_EVALUATION",
)
POLICY_RULES = ("TARGET_NOT_MET", "NO_PLAN", "MISSED_CANDIDATE", "PAY_FLAT_AMOUNT")
RESULT_RULES = ("EVAL_RATE_ALERT", "EXIT_CAUSE_NOT_ELIMINATED")
# the metrics table: a money column wide enough for 999,999,999.99 in 12-point type on one line
MONEY_COLUMNS = ("paid_total",)
MONEY_WIDTH, COUNT_WIDTH = Cm(3.6), Cm(2.0)


def ordered_groups(groups: list[Group]) -> list[Group]:
    """By importance: severity 高 > 中 > 低, then total amount (larger first), then count."""
    return sorted(
        groups,
        key=lambda g: (SEVERITY_ORDER.get(g.severity, 9), -g.amount, -len(g.findings), g.rule),
    )


def group_heading(i: int, g: Group) -> str:
    info = rule_info(g.rule)
    amount = f"，涉及金额 {_money(g.amount)}" if g.amount else ""
    return f"{i}. {info.title}{amount}（{len(g.findings)} 条）"


def _money(x: float) -> str:
    return f"{x / 10000:,.2f} 万元（{x:,.2f} 元）" if x >= 10000 else f"{x:,.2f} 元"


def _set_font(doc) -> None:
    for name in ("Normal", "Title", "Heading 1", "Heading 2", "Heading 3"):
        style = doc.styles[name]
        style.font.name = FONT
        rpr = style.element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = rpr.makeelement(qn("w:rFonts"), {})
            rpr.append(fonts)
        for attr in ("w:eastAsia", "w:ascii", "w:hAnsi"):
            fonts.set(qn(attr), FONT)
    doc.styles["Normal"].font.size = Pt(12)
    section = doc.sections[0]
    section.page_height, section.page_width = Pt(841.9), Pt(595.3)  # A4


def _para(doc, text: str, *, indent: bool = True, bold: bool = False, size: float | None = None):
    p = doc.add_paragraph()
    if indent:
        p.paragraph_format.first_line_indent = Pt(24)
    run = p.add_run(text)
    run.bold = bold
    if size:
        run.font.size = Pt(size)
    return p


def basic_situation(ctx: Context) -> list[str]:
    y = ctx.year
    m = ctx.metrics.get(y, {})
    name = ctx.unit_name
    if not m:
        return [f"{name} {y} 年度汇总指标缺失，基本情况待审计组补充。"]
    out = []
    start, end = m.get("archived_at_start"), m.get("archived_at_end")
    text = f"截至 {y} 年底，{name}（{'含下级工会' if ctx.unit.get('level') != '县' else '本级'}）"
    text += f"在档困难职工 {end if end is not None else '—'} 户"
    if start is not None and end is not None:
        diff = end - start
        text += f"，比年初（{start} 户）{'减少' if diff < 0 else '增加'} {abs(diff)} 户"
    text += (
        f"；本年新建档 {m.get('newly_archived') or 0} 户，解困 {m.get('relieved') or 0} 户，"
        f"脱困 {m.get('exited_out_of_hardship') or 0} 户（就业创业 "
        f"{m.get('exited_by_path_employment') or 0} 户、社会保险 "
        f"{m.get('exited_by_path_insurance') or 0} 户、医疗保障 "
        f"{m.get('exited_by_path_medical') or 0} 户、社会救助兜底 "
        f"{m.get('exited_by_path_social_assistance') or 0} 户）。"
    )
    out.append(text)
    paid = m.get("paid_total")
    if paid is not None:
        out.append(
            f"{y} 年发放救助金 {yuan(paid)}，其中生活救助 {yuan(m.get('paid_living'))}、助学救助 "
            f"{yuan(m.get('paid_education'))}、医疗救助 {yuan(m.get('paid_medical'))}、职业培训和职业介绍 "
            f"{yuan(m.get('paid_training'))}、法律援助 {yuan(m.get('paid_legal'))}、送温暖 "
            f"{yuan(m.get('paid_warmth'))}。"
        )
    if m.get("complete") is False:
        out.append("注意：本单位或下级单位有台账缺失或被拒收，上述汇总数不完整。")
    out.append(
        f"（以上数据来源于被审计单位报送的 {ctx.years[0]}—{y} 年度台账，经审计系统汇总，"
        "除审计发现所列事项外未经逐项审计核实。）"
    )
    return out


def _rules_found(groups: list[Group], codes) -> list[Group]:
    return [g for g in groups if g.rule in codes]


def evaluation(ctx: Context, groups: list[Group]) -> list[str]:
    y = ctx.year
    m = ctx.metrics.get(y, {})
    high = [g for g in groups if g.severity == "高"]
    total = sum(len(g.findings) for g in groups)
    out = [
        f"1、总体评价：{y} 年度{ctx.unit_name}开展了困难职工解困脱困和帮扶资金、送温暖资金发放工作；"
        f"审计发现问题 {len(groups)} 类 {total} 条。【审计组据实补充总体评价】"
    ]
    tr, rel = m.get("target_relieved"), m.get("relieved")
    te, ex = m.get("target_exited"), m.get("exited_out_of_hardship")
    bits = []
    if tr:
        bits.append(f"解困 {rel or 0} 户，完成目标 {tr} 户的 {pct((rel or 0) / tr)}")
    if te:
        bits.append(f"脱困 {ex or 0} 户，完成目标 {te} 户的 {pct((ex or 0) / te)}")
    policy = _rules_found(groups, POLICY_RULES)
    out.append(
        "2、解困脱困相关政策落实情况："
        + ("；".join(bits) + "。" if bits else "年度目标数据缺失。")
        + (
            "存在" + "、".join(rule_info(g.rule).title for g in policy) + "等问题。"
            if policy
            else "未发现政策落实方面的问题。"
        )
    )
    control = _rules_found(groups, CONTROL_RULES)
    out.append(
        "3、内部控制制度健全有效情况："
        + (
            "内部控制执行中存在" + "、".join(rule_info(g.rule).title for g in control) + "等缺陷。"
            if control
            else "在所检查的建档、退档、核查、发放和账务环节未发现内部控制缺陷。"
        )
        + "内部控制制度的设计：【待审计组评价】"
    )
    rates = []
    for col, name in (
        ("missed_rate", "漏评率"),
        ("wrong_exit_rate", "错退率"),
        ("recognition_rate", "群众认可度"),
    ):
        if m.get(col) is not None:
            rates.append(f"{name} {pct(m[col])}")
    result = _rules_found(groups, RESULT_RULES)
    out.append(
        "4、解困脱困成效："
        + ("第三方评估" + "，".join(rates) + "。" if rates else "无第三方评估样本。")
        + (
            "存在" + "、".join(rule_info(g.rule).title for g in result) + "的问题。"
            if result
            else ""
        )
    )
    amt = sum(g.amount for g in high)
    out.append(
        "5、违规违纪情况："
        + (
            f"发现严重程度为“高”的问题 {len(high)} 类 {sum(len(g.findings) for g in high)} 条，"
            f"涉及金额 {_money(amt)}。"
            if high
            else "未发现严重违规违纪问题。"
        )
    )
    return out


def write_unit_report(
    out_path: Path,
    *,
    year: int,
    unit: dict,
    metrics: pl.DataFrame,
    findings: pl.DataFrame,
    ledger: dict,
    dibao_monthly: float | None,
    sample_size: int = 10,
    seed: int = 0,
    auditor: dict | None = None,
    edu_standard: float | None = None,
    medical_standard: float | None = None,
    settings: AuditSettings | None = None,
    prepared: tuple | None = None,
    below_ranking: list[dict] | None = None,
    figures: bool | None = None,
) -> dict:
    """Write the draft report (.docx) atomically; ``sample_size`` and ``seed`` are accepted for a
    signature shared with ``write_unit_workbook`` and not used; ``prepared`` as there.
    ``below_ranking``: a city's or province's units below it, ranked (bangfu.overview); with
    ``figures`` (default: unless BANGFU_REPORT_FIGURES=0) the report carries the figures of
    bangfu.forms.charts."""
    if figures is None:
        figures = charts.figures_wanted()
    auditor = dict(auditor or {})
    ctx, groups = prepared or build_context(
        year=year,
        unit=unit,
        metrics=metrics,
        findings=findings,
        ledger=ledger,
        dibao_monthly=dibao_monthly,
        edu_standard=edu_standard,
        medical_standard=medical_standard,
        settings=settings,
    )
    groups = ordered_groups(groups)
    name = ctx.unit_name
    doc = Document()
    _set_font(doc)
    title = doc.add_heading(
        f"关于对{name} {year} 年度帮扶资金、送温暖资金分配管理使用情况的审计报告", level=0
    )
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    draft, status = rs.report_status(ctx)
    _para(doc, status, indent=False, bold=draft)
    auditor_org = auditor.get("organisation") or "**工会经审会"
    _para(
        doc,
        f"根据《中国工会审计条例》的规定和{auditor_org}的工作安排，审计组于 ****年**月**日至**月**日"
        f"对{name} {year} 年度帮扶资金、送温暖资金分配、管理和使用情况进行了专项审计，审计了"
        f"{name}提供的与帮扶资金、送温暖资金分配、管理和使用情况相关的资料。{name}的责任是在帮扶资金、"
        "送温暖资金分配、管理和使用中，履行法定职责，遵守相关法律法规，建立并实施内部控制，保证相关"
        f"资料的真实性和完整性。{auditor_org}的责任是依据《中国工会审计条例》的规定，独立实施审计并"
        "作出审计结论。",
    )
    doc.add_heading("（一）基本情况", level=1)
    for text in basic_situation(ctx):
        _para(doc, text)
    if ctx.metrics:
        _metrics_table(doc, ctx)
    figure_no = 1
    if figures:
        figure_no = charts.add_figures(
            doc,
            [
                charts.trend_figure(ctx.years, ctx.metrics, subtree=ctx.unit.get("level") != "县"),
                charts.ranking_figure(below_ranking),
            ],
            figure_no,
        )
    doc.add_heading("（二）审计评价", level=1)
    for text in evaluation(ctx, groups):
        _para(doc, text)
    _para(doc, "审计中也发现了一些需要纠正和改进的问题。")
    doc.add_heading("（三）审计发现的主要问题及整改意见", level=1)
    headings = []
    if not groups:
        _para(doc, "本次审计未发现需要反映的问题。")
    if figures:
        figure_no = charts.add_figures(doc, [charts.findings_figure(groups)], figure_no)
    for i, g in enumerate(groups, start=1):
        heading = group_heading(i, g)
        headings.append(heading)
        doc.add_heading(heading, level=2)
        info = rule_info(g.rule)
        amount = f"，涉及金额 {_money(g.amount)}" if g.amount else ""
        _para(
            doc,
            f"经审计，{year} 年度{name}{info.title}，共 {len(g.findings)} 条{amount}"
            f"（严重程度：{g.severity}；审计取证单 {g.index}）。",
        )
        for f in g.findings[:5]:
            _para(doc, f"——{f.get('detail') or ''}")
        if len(g.findings) > 5:
            _para(doc, f"——其余 {len(g.findings) - 5} 条详见审计取证单 {g.index}。")
        basis = "；".join(dict.fromkeys(f["basis"] for f in g.findings if f.get("basis")))
        if basis:
            _para(doc, f"根据{basis}的规定，上述做法不符合规定。")
        _para(doc, f"整改意见：{info.advice}")
    _review_sections(doc, ctx)
    doc.add_heading("（四）审计建议", level=1)
    if not groups:
        _para(doc, "继续做好困难职工解困脱困和帮扶资金管理工作。")
    for i, g in enumerate(groups, start=1):
        _para(doc, f"{i}. 针对{rule_info(g.rule).title}的问题：{rule_info(g.rule).advice}")
    doc.add_paragraph()
    sign = doc.add_paragraph("（印章）")
    sign.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    date = doc.add_paragraph(auditor.get("date") or "****年**月**日")
    date.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    out_path = Path(out_path)
    atomic_save(out_path, doc.save)
    return {
        "path": str(out_path),
        "sections": ["基本情况", "审计评价", "审计发现的主要问题及整改意见", "审计建议"],
        "groups": [
            {"rule_code": g.rule, "heading": h, "count": len(g.findings), "amount": g.amount}
            for g, h in zip(groups, headings, strict=True)
        ],
        "counts": {"findings": len(ctx.findings), "groups": len(groups)},
        "figures": figure_no - 1,
        "draft": draft,
    }


def _review_sections(doc, ctx: Context) -> None:
    """整改情况 (findings the auditors marked 已整改) and 上年度问题整改情况 (last year's
    confirmed findings against this year's, by subject_id)."""
    doc.add_heading("整改情况", level=2)
    for text in rs.rectified_lines(ctx) or ["截至本报告日，尚无经复核确认已整改的问题。"]:
        _para(doc, text)
    previous = rs.previous_lines(ctx)
    if previous:
        doc.add_heading("上年度问题整改情况", level=2)
        for text in previous:
            _para(doc, text)


def _metrics_table(doc, ctx: Context) -> None:
    cols = (
        ("年度", None),
        ("年初在档", "archived_at_start"),
        ("年末在档", "archived_at_end"),
        ("新建档", "newly_archived"),
        ("解困", "relieved"),
        ("脱困", "exited_out_of_hardship"),
        ("发放金额（元）", "paid_total"),
    )
    table = doc.add_table(rows=1, cols=len(cols))
    table.style = "Table Grid"
    table.autofit = False
    for cell, (label, _c) in zip(table.rows[0].cells, cols, strict=True):
        cell.text = label
    for y in ctx.years:
        m = ctx.metrics.get(y, {})
        row = table.add_row().cells
        for cell, (_label, col) in zip(row, cols, strict=True):
            v = y if col is None else m.get(col)
            cell.text = metric_text(col, v)
            if col is not None:
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for column, (_label, col) in zip(table.columns, cols, strict=True):
        width = MONEY_WIDTH if col in MONEY_COLUMNS else COUNT_WIDTH
        for i, cell in enumerate(column.cells):
            cell.width = width
            if i:  # the figures; a heading may wrap
                _no_wrap(cell)


def metric_text(col: str | None, v) -> str:
    """A figure of the metrics table: money with thousands separators and cents (the warehouse
    gives it as a Decimal or a float), counts as whole numbers, the year as it is."""
    if v is None:
        return "—"
    if col in MONEY_COLUMNS:
        return f"{float(v):,.2f}"
    return str(v) if col is None else f"{int(v):,}"


def _no_wrap(cell) -> None:
    """Keep a figure on one line: in a cell too narrow for it Word and LibreOffice break a
    number anywhere ("440526" over ".39")."""
    tc_pr = cell._tc.get_or_add_tcPr()
    if tc_pr.find(qn("w:noWrap")) is None:
        tc_pr.append(tc_pr.makeelement(qn("w:noWrap"), {}))
