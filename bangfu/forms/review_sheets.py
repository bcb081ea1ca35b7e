"""The workbook's side of the review round trip (review.md): the input columns of
``审计发现明细``, the sheet ``复核意见``, ``已排除发现``, ``上年度问题整改情况`` and the hidden
identification sheet. Names and headers here are the contract the importer
(:mod:`bangfu.review.returned`) reads back."""

from __future__ import annotations

from datetime import datetime

from bangfu.forms.facts.context import Context
from bangfu.forms.layouts import FORMS
from bangfu.forms.rule_homes import rule_info
from bangfu.forms.writer import Block, Cell, write_sheet
from bangfu.review.state import UnitReview
from bangfu.review.values import EVIDENCE, VERDICT, audit_code

LISTING_INPUTS = ("复核结论", "复核说明", "复核人")
LISTING_INPUT_WIDTHS = (10, 30, 10)
OPINION_SHEET = "复核意见"
EVIDENCE_HEADERS = ("索引号", "规则", "证据提供单位意见", "说明", "录入人")
AUDIT_HEADERS = ("索引号", "审计事项", "审核意见", "说明", "审核人员")
OPINION_WIDTHS = (12, 40, 18, 44, 12)
DISMISSED_SHEET = "已排除发现"
DISMISSED_COLUMNS = ("finding_id", "规则", "审计发现", "排除说明", "复核人", "复核时间")
DISMISSED_WIDTHS = (22, 30, 50, 40, 10, 18)
PREVIOUS_SHEET = "上年度问题整改情况"
PREVIOUS_COLUMNS = ("上年度 finding_id", "规则", "上年度审计发现", "上年度复核结论", "本年情况")
PREVIOUS_WIDTHS = (22, 30, 50, 14, 14)
IDENT_SHEET = "_bangfu"  # hidden: whose workbook this is, and when it was written
IDENT_KIND = "bangfu-audit-workbook"
VANISHED_INDEX = "已消除"  # the 取证单索引号 of a judged finding the data no longer produce
VANISHED_TEXT = "本次数据不再出现"

VERDICT_CHOICES = VERDICT.values
EVIDENCE_CHOICES = EVIDENCE.values
AUDIT_CHOICES = ("1", "2", "3")


def _c(value, span=1, kind="value", choices=None) -> Cell:
    return Cell(value, span, kind, choices)


def _inputs(row: dict | None, value: str, choices) -> list[Cell]:
    row = row or {}
    return [
        _c(value, kind="input", choices=choices),
        _c(row.get("note") or "", kind="input"),
        _c(row.get("decided_by") or "", kind="input"),
    ]


def verdict_inputs(review: UnitReview, finding_id: str | None) -> list[Cell]:
    """The three input cells of one finding's row on 审计发现明细, pre-filled."""
    row = review.verdicts.get(finding_id or "")
    return _inputs(row, review.verdict(finding_id), VERDICT_CHOICES)


def vanished_rows(ctx: Context) -> list[list[Cell]]:
    """Judged findings of this unit-year the data no longer produce, listed under 已消除 with
    their last verdict (still editable: an import records them as such)."""
    out = []
    for r in sorted(ctx.review.vanished, key=lambda r: (r.get("rule_code") or "", r["target_key"])):
        rule = r.get("rule_code") or ""
        out.append(
            [
                _c(VANISHED_INDEX),
                _c(f"{rule} {rule_info(rule).title}" if rule else ""),
                _c(""),
                _c(r["target_key"]),
                *[_c("") for _ in range(6)],  # 身份证号码 … 金额
                _c(f"{VANISHED_TEXT}（上次复核：{r['value']}）"),
                *[_c("") for _ in range(4)],  # 依据 … 行号
                *_inputs(r, r["value"], VERDICT_CHOICES),
            ]
        )
    return out


def progress_counts(ctx: Context) -> dict[str, int]:
    counts = dict.fromkeys(VERDICT.values, 0)
    for f in ctx.all_findings:
        counts[ctx.review.verdict(f.get("finding_id"))] += 1
    return counts


def progress_text(counts: dict[str, int]) -> str:
    return "，".join(f"{v} {counts.get(v, 0)} 条" for v in VERDICT.values)


def opinion_blocks(ctx: Context, groups) -> list[Block]:
    """The 复核意见 sheet: one row per 取证单 (证据提供单位意见), one per 底稿 (审核意见)."""
    review: UnitReview = ctx.review
    ev_rows = []
    for g in groups:
        row = review.evidence.get(g.rule)
        ev_rows.append(
            [
                _c(g.index),
                _c(f"{g.rule} {rule_info(g.rule).title}"),
                *_inputs(row, (row or {}).get("value") or "", EVIDENCE_CHOICES),
            ]
        )
    dg_rows = []
    for form in FORMS:
        row = review.workpapers.get(form.no)
        dg_rows.append(
            [
                _c(f"DG-{form.num:02d}"),
                _c(f"{form.no} {form.title}"),
                *_inputs(row, audit_code((row or {}).get("value")), AUDIT_CHOICES),
            ]
        )
    first = Block(
        title=f"{ctx.unit_name} {ctx.year} 年度复核意见",
        meta=[
            (
                "黄色单元格由审计人员填写：证据提供单位意见（无异议 / 有异议，有异议须写说明）"
                "由审计人员代为录入；审核意见填 1 予以认可、2 责成采取进一步审计措施、"
                "3 纠正或责成纠正不恰当的审计结论（2、3 须写说明）。保存后交回（bangfu review "
                "import，或放入 reviews/inbox/ 目录）。",
                "left",
            ),
            ("一、审计取证单：证据提供单位意见", "left"),
        ],
        header=[(h, 1) for h in EVIDENCE_HEADERS],
        rows=ev_rows,
        merge_labels=False,
    )
    if not ev_rows:
        first.notes.append("本单位本年度无审计取证单。")
    second = Block(
        title="",
        meta=[("二、审计工作底稿：审核意见", "left")],
        header=[(h, 1) for h in AUDIT_HEADERS],
        rows=dg_rows,
        merge_labels=False,
        new_page=False,
    )
    return [first, second]


def dismissed_block(ctx: Context) -> Block:
    review: UnitReview = ctx.review
    rows = []
    for f in ctx.all_findings:
        if review.verdict(f.get("finding_id")) != "排除":
            continue
        r = review.verdicts[f["finding_id"]]
        at = r.get("decided_at")
        rows.append(
            [
                _c(f["finding_id"]),
                _c(f"{f['rule_code']} {rule_info(f['rule_code']).title}"),
                _c(f.get("detail") or ""),
                _c(r.get("note") or ""),
                _c(r.get("decided_by") or ""),
                _c(at.strftime("%Y-%m-%d %H:%M") if isinstance(at, datetime) else str(at or "")),
            ]
        )
    block = Block(
        title=f"{ctx.unit_name} {ctx.year} 年度已排除的审计发现",
        meta=[
            (
                "经复核排除（不属于问题）的审计发现：不列入审计取证单、审定表结论和审计报告，"
                "在此留存备查；如需恢复，在「审计发现明细」改回复核结论。",
                "left",
            )
        ],
        header=[(h, 1) for h in DISMISSED_COLUMNS],
        rows=rows,
        merge_labels=False,
    )
    if not rows:
        block.notes.append("无。")
    return block


def previous_block(ctx: Context) -> Block:
    review: UnitReview = ctx.review
    rows = [
        [
            _c(r["target_key"]),
            _c(f"{r['rule_code']} {rule_info(r['rule_code']).title}" if r.get("rule_code") else ""),
            _c(r.get("detail") or ""),
            _c(r["value"]),
            _c(r["status"]),
        ]
        for r in sorted(review.previous, key=lambda r: (r.get("rule_code") or "", r["target_key"]))
    ]
    block = Block(
        title=f"{ctx.unit_name} 上年度（{ctx.year - 1} 年度）问题整改情况",
        meta=[
            (
                f"{ctx.year - 1} 年度经复核确认的审计发现，按同一对象的同一问题（subject_id）"
                f"与 {ctx.year} 年度比对：仍存在 / 已整改 / 本年不再出现。",
                "left",
            )
        ],
        header=[(h, 1) for h in PREVIOUS_COLUMNS],
        rows=rows,
        merge_labels=False,
    )
    if not rows:
        block.notes.append("上年度无经复核确认的审计发现。")
    return block


def write_ident_sheet(wb, ctx: Context, written_at: datetime, groups) -> None:
    """The hidden sheet that says whose workbook this is: kind, year, unit, when written, and
    the 取证单, 底稿 and finding_ids it listed (so a returned file's rows can be told from
    made-up ones) with what their input cells were pre-filled with (a row left as it was is
    not a judgment, so it never conflicts with one recorded since). Key in column A."""
    review: UnitReview = ctx.review

    def shown(row: dict | None, value: str) -> list[str]:  # what an input row was pre-filled with
        row = row or {}
        return [value, row.get("note") or "", row.get("decided_by") or ""]

    rows = [
        ["kind", IDENT_KIND],
        ["year", str(ctx.year)],
        ["unit_code", str(ctx.unit.get("unit_code") or "")],
        ["written_at", written_at.isoformat()],
        *(
            [
                "evidence",
                g.index,
                g.rule,
                *shown(
                    review.evidence.get(g.rule),
                    (review.evidence.get(g.rule) or {}).get("value") or "",
                ),
            ]
            for g in groups
        ),
        *(
            [
                "workpaper",
                f"DG-{form.num:02d}",
                form.no,
                *shown(
                    review.workpapers.get(form.no),
                    (review.workpapers.get(form.no) or {}).get("value") or "",
                ),
            ]
            for form in FORMS
        ),
        *(
            [
                "finding",
                f.get("finding_id") or "",
                f.get("rule_code") or "",
                f.get("subject_id") or "",
                *shown(
                    review.verdicts.get(f.get("finding_id") or ""),
                    review.verdict(f.get("finding_id")),
                ),
            ]
            for f in ctx.all_findings
        ),
        *(
            [
                "finding",
                r["target_key"],
                r.get("rule_code") or "",
                r.get("subject_id") or "",
                *shown(r, r["value"]),
            ]
            for r in review.vanished
        ),
    ]
    block = Block(title="", rows=[[_c(v) for v in r] for r in rows], merge_labels=False)
    write_sheet(wb, IDENT_SHEET, (12, 26, 30, 24, 12, 30, 12), [block], protect=True)
    wb.worksheets[-1].sheet_state = "hidden"


# ------------------------------------------------------------------ the report's text
def report_status(ctx: Context) -> tuple[bool, str]:
    """(still a draft, the first page's line on the review): a report is a draft while any of
    its findings is 待核实."""
    counts = progress_counts(ctx)
    shown = len(ctx.findings)
    if counts["待核实"]:
        return True, (
            f"（征求意见稿）本报告所列 {shown} 条审计发现中，尚有 {counts['待核实']} 条待核实；"
            f"已确认 {counts['确认']} 条，已整改 {counts['已整改']} 条，"
            f"经复核排除 {counts['排除']} 条（不列入本报告）。"
        )
    return False, (
        f"本报告所列 {shown} 条审计发现均已复核：确认 {counts['确认']} 条，"
        f"已整改 {counts['已整改']} 条；经复核排除 {counts['排除']} 条（不列入本报告）。"
    )


def rectified_lines(ctx: Context) -> list[str]:
    """整改情况: the findings marked 已整改, by rule, with the auditors' notes."""
    review: UnitReview = ctx.review
    by_rule: dict[str, list[dict]] = {}
    for f in ctx.findings:
        if review.verdict(f.get("finding_id")) == "已整改":
            by_rule.setdefault(f["rule_code"], []).append(f)
    out = []
    for i, (rule, fs) in enumerate(sorted(by_rule.items()), start=1):
        notes = "；".join(
            n
            for n in dict.fromkeys(
                (review.verdicts[f["finding_id"]].get("note") or "").strip() for f in fs
            )
            if n
        )
        out.append(
            f"{i}. {rule_info(rule).title}：{len(fs)} 条已整改"
            + (f"（{notes}）" if notes else "")
            + "。"
        )
    return out


def previous_lines(ctx: Context) -> list[str]:
    """上年度问题整改情况: last year's confirmed findings against this year's."""
    review: UnitReview = ctx.review
    if not review.previous:
        return []
    counts: dict[str, int] = {}
    for r in review.previous:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    out = [
        f"{ctx.year - 1} 年度经复核确认的问题 {len(review.previous)} 条："
        + "，".join(f"{k} {v} 条" for k, v in counts.items())
        + "。"
    ]
    for r in sorted(review.previous, key=lambda r: (r["status"], r.get("rule_code") or "")):
        if r["status"] == "仍存在":
            title = rule_info(r["rule_code"]).title if r.get("rule_code") else r["target_key"]
            out.append(
                f"——仍存在：{title}" + (f"（{r['detail']}）" if r.get("detail") else "") + "。"
            )
    return out
