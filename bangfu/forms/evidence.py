"""审计取证单 (one per finding group of one rule) and 审计工作底稿 (one per 审计事项 / form), as
blocks for the one writer, with the index numbers that link them:

    底稿 DG-05  →  取证单 QZ-05-01, QZ-05-02 …  →  finding rows (finding_id, source file/sheet/row)

A rule's 取证单 sits under the 底稿 of its home form (``rule_homes.RULES[rule].home``); rules
unknown to the layouts go under DG-00 (其他审计事项).
"""

from __future__ import annotations

from dataclasses import dataclass

from bangfu.forms.facts.common import yuan
from bangfu.forms.facts.context import Context
from bangfu.forms.layouts import FORMS
from bangfu.forms.layouts.common import Layout
from bangfu.forms.rule_homes import SEVERITY_ORDER, rule_info
from bangfu.forms.writer import Block, Cell
from bangfu.sentences import clause
from bangfu.sheets import SHEETS_BY_KEY

QZ_WIDTHS = (5, 16, 21, 12, 12, 11, 10, 12, 46, 20, 13, 7)
QZ_COLUMNS = (
    "序号",
    "finding_id",
    "身份证号码",
    "档案编号",
    "发放编号",
    "凭证号",
    "救助项目",
    "金额（元）",
    "审计发现",
    "来源文件",
    "工作表",
    "行号",
)
DG_WIDTHS = (18, 34, 14, 30)
LIST_WIDTHS = (10, 22, 6, 16, 21, 12, 12, 11, 10, 12, 46, 36, 20, 13, 7, 10, 30, 10)
LIST_COLUMNS = (
    "取证单索引号",
    "规则",
    "严重程度",
    "finding_id",
    "身份证号码",
    "档案编号",
    "发放编号",
    "凭证号",
    "救助项目",
    "金额（元）",
    "审计发现",
    "依据",
    "来源文件",
    "工作表",
    "行号",
    # an auditor's: the verdict (a drop-down), its note and who decided (review.md)
    "复核结论",
    "复核说明",
    "复核人",
)


@dataclass
class Group:
    """The findings of one rule: one 取证单."""

    index: str  # QZ-05-01
    rule: str
    home: int
    findings: list[dict]

    @property
    def workpaper(self) -> str:
        return f"DG-{self.home:02d}"

    @property
    def amount(self) -> float:
        return round(sum(f.get("amount") or 0 for f in self.findings), 2)

    @property
    def severity(self) -> str:
        sev = [f.get("severity") or "低" for f in self.findings]
        return min(sev, key=lambda s: SEVERITY_ORDER.get(s, 9)) if sev else ""


def group_findings(findings: list[dict]) -> list[Group]:
    by_rule: dict[str, list[dict]] = {}
    for f in findings:
        by_rule.setdefault(f["rule_code"], []).append(f)
    known = {form.num for form in FORMS}
    order = sorted(
        by_rule,
        key=lambda r: (
            rule_info(r).home if rule_info(r).home in known else 99,
            min(SEVERITY_ORDER.get(f.get("severity"), 9) for f in by_rule[r]),
            r,
        ),
    )
    groups: list[Group] = []
    seq: dict[int, int] = {}
    for rule in order:
        home = rule_info(rule).home if rule_info(rule).home in known else 0
        seq[home] = seq.get(home, 0) + 1
        rows = sorted(
            by_rule[rule],
            key=lambda f: (
                f.get("source_file") or "",
                f.get("source_row") or 0,
                f.get("finding_id") or "",
            ),
        )
        groups.append(Group(f"QZ-{home:02d}-{seq[home]:02d}", rule, home, rows))
    return groups


def _people(auditor: dict) -> tuple[str, str, str, str]:
    members = auditor.get("members") or ""
    if isinstance(members, list | tuple):
        members = "、".join(members)
    return (
        auditor.get("project") or "",
        auditor.get("lead") or "",
        members,
        auditor.get("date") or "",
    )


def project_name(ctx: Context, auditor: dict) -> str:
    return auditor.get("project") or (
        f"{ctx.unit_name} {ctx.year} 年度帮扶资金、送温暖资金分配管理使用情况专项审计"
    )


def _c(value, span=1, kind="value") -> Cell:
    return Cell(value, span, kind)


def _opinion_text(row: dict | None) -> str:
    """A recorded 证据提供单位意见 / 审核意见 as the form prints it (empty when none)."""
    if not row:
        return ""
    note = (row.get("note") or "").strip()
    return row["value"] + (f"。说明：{note}" if note else "")


def _day(row: dict | None) -> str:
    at = (row or {}).get("decided_at")
    return at.strftime("%Y-%m-%d") if hasattr(at, "strftime") else ""


def evidence_blocks(ctx: Context, groups: list[Group], auditor: dict) -> list[Block]:
    _p, _lead, members, when = _people(auditor)
    project = project_name(ctx, auditor)
    blocks: list[Block] = []
    for g in groups:
        info = rule_info(g.rule)
        opinion = ctx.review.evidence.get(g.rule) if ctx.review is not None else None
        form = next((f for f in FORMS if f.num == g.home), None)
        item = form.title.replace("审定表", "").replace("调查表", "") if form else "其他审计事项"
        amount = f"，涉及金额 {yuan(g.amount)}" if g.amount else ""
        summary = (
            f"{ctx.year} 年度，{info.title}（规则 {g.rule}，严重程度 {g.severity}）：共 {len(g.findings)} 条"
            f"{amount}。"
        )
        examples = "；".join(clause(f["detail"]) for f in g.findings[:3] if f.get("detail"))
        if examples:
            summary += f"如：{examples}{'等' if len(g.findings) > 3 else ''}。"
        basis = "；".join(dict.fromkeys(f["basis"] for f in g.findings if f.get("basis")))
        if basis:
            summary += f"依据：{basis}。"
        summary += (
            f"明细见本取证单所附审计发现明细（{len(g.findings)} 条，含来源文件、工作表及行号）。"
        )
        rows = [
            [_c("项目名称", 2, "label"), _c(project)],
            [_c("被审计（调查）单位或个人", 2, "label"), _c(ctx.unit_name)],
            [_c("审计（调查）事项", 2, "label"), _c(f"{item}——{info.title}")],
            [_c("审计（调查）事项摘要", 2, "label"), _c(summary)],
            [
                _c("审计人员", 2, "label"),
                _c(members, 5),
                _c("编制日期", 2, "label"),
                _c(when),
            ],
            [_c("证据提供单位意见", 2, "label"), _c(_opinion_text(opinion) + "\n\n(盖章)")],
            [
                _c("", 2, "label"),
                _c(
                    "证据提供单位负责人 (签名)"
                    + (f"　录入人：{opinion['decided_by']}" if opinion else ""),
                    5,
                    "label",
                ),
                _c("日期", 2, "label"),
                _c(_day(opinion)),
            ],
        ]
        blocks.append(
            Block(
                title="审 计 取 证 单",
                meta=[
                    (f"索引号：{g.index}　　所属底稿：{g.workpaper}", "right"),
                    ("第 页（共 页）", "right"),
                ],
                rows=rows,
                footer=["附件： 页"],
                merge_labels=False,
            )
        )
        listing = [
            [
                _c(i),
                _c(f.get("finding_id") or ""),
                _c(f.get("id_number") or ""),
                _c(f.get("archive_no") or ""),
                _c(f.get("payment_no") or ""),
                _c(f.get("voucher_no") or ""),
                _c(f.get("category") or ""),
                _c(f.get("amount")),
                _c(f.get("detail") or ""),
                _c(f.get("source_file") or "（单位层面）"),
                _c(f.get("source_sheet") or ""),
                _c(f.get("source_row")),
            ]
            for i, f in enumerate(g.findings, start=1)
        ]
        blocks.append(
            Block(
                title="",
                meta=[(f"附：{g.index} 审计发现明细（{len(g.findings)} 条）", "left")],
                header=[(c, 1) for c in QZ_COLUMNS],
                rows=listing,
                merge_labels=False,
                new_page=False,
            )
        )
    if not blocks:
        blocks.append(
            Block(
                title="审 计 取 证 单",
                meta=[(f"{ctx.unit_name} {ctx.year} 年度无审计发现，未形成取证单。", "left")],
            )
        )
    return blocks


def _sources(ctx: Context, keys: tuple[str, ...]) -> str:
    parts = []
    for key in keys:
        title = SHEETS_BY_KEY[key].title if key in SHEETS_BY_KEY else key
        frame = ctx.frames.get(key)
        if frame is None or frame.is_empty():
            parts.append(f"{title}（未提供）")
            continue
        files = []
        if "source_file" in frame.columns:
            files = sorted({f for f in frame["source_file"].to_list() if f})
        where = "，".join(files[:3]) + ("等" if len(files) > 3 else "")
        parts.append(f"{title}（{where + '，' if where else ''}{frame.height} 行）")
    return "、".join(parts)


def workpaper_blocks(
    ctx: Context,
    forms: list[Layout],
    groups: list[Group],
    conclusions: dict[str, str],
    households: dict[str, tuple[int, int]],
    auditor: dict,
    sample_size: int,
    seed: int,
) -> list[Block]:
    _p, _lead, members, when = _people(auditor)
    project = project_name(ctx, auditor)
    blocks = []
    entries = [(f.num, f) for f in forms]
    if any(g.home == 0 for g in groups):
        entries.append((0, None))
    for num, form in entries:
        mine = [g for g in groups if g.home == num]
        related = [g for g in groups if form is not None and g.rule in form.rules and g.home != num]
        if form is None:
            item, sheets, rules = "其他审计事项", (), [g.rule for g in mine]
        else:
            item = form.title.replace("审定表", "").replace("调查表", "")
            sheets, rules = form.sheets, list(form.rules)
        steps = [
            f"1. 取得被审计单位 {ctx.year} 年度台账：{_sources(ctx, sheets) or '—'}；"
            f"以及 {ctx.years[0]}—{ctx.years[-1]} 年度汇总指标。"
            if ctx.years
            else f"1. 取得被审计单位 {ctx.year} 年度台账：{_sources(ctx, sheets) or '—'}。",
            "2. 按审计规则逐户、逐笔比对：" + "、".join(rule_info(r).title for r in rules) + "。"
            if rules
            else "2. 汇总相关数据。",
        ]
        if form is not None:
            if form.per_household:
                flagged, sampled = households.get(form.key, (0, 0))
                steps.append(
                    f"3. 编制「{form.sheet}」{form.title} {flagged + sampled} 份：有审计发现的 {flagged} 户"
                    f"全部编制，其余随机抽样 {sampled} 户（每表 {sample_size} 户，随机种子 {seed}）。"
                )
            else:
                steps.append(f"3. 编制「{form.sheet}」{form.title}。")
        evid = [f"{g.index}（{rule_info(g.rule).title}，{len(g.findings)} 条）" for g in mine]
        refs = [f"{g.index}（附在 {g.workpaper} 号底稿后）" for g in related]
        steps.append(
            f"{len(steps) + 1}. 审计证据：取证单 " + "；".join(evid + refs) + "。"
            if evid or refs
            else f"{len(steps) + 1}. 未发现问题，未形成取证单。"
        )
        if refs:
            steps.append(
                "其中，"
                + "、".join(g.index for g in related)
                + " 号取证单的审计证据附在"
                + "、".join(sorted({g.workpaper for g in related}))
                + "号底稿后。"
            )
        audit = (
            ctx.review.workpapers.get(form.no)
            if form is not None and ctx.review is not None
            else None
        )
        conclusion = conclusions.get(form.key if form else "", "")
        if form is None:
            conclusion = "；".join(
                f"{rule_info(g.rule).title} {len(g.findings)} 条（见取证单 {g.index}）"
                for g in mine
            )
        rows = [
            [_c("项目名称", 1, "label"), _c(project)],
            [_c("审计（调查）事项", 1, "label"), _c(item)],
            [_c("审计人员", 1, "label"), _c(members), _c("编制日期", 1, "label"), _c(when)],
            [_c("审计过程：\n" + "\n".join(steps))],
            [_c("审计认定的事实摘要及审计结论：\n" + conclusion)],
            [
                _c(
                    "审核意见：（审核意见种类包括：1.予以认可；2.责成采取进一步审计措施，获取适当、"
                    "充分的审计证据；3.纠正或者责成纠正不恰当的审计结论）\n"
                    + (_opinion_text(audit) or "\n\n")
                )
            ],
            [
                _c("审核人员", 1, "label"),
                _c((audit or {}).get("decided_by") or ""),
                _c("审核日期", 1, "label"),
                _c(_day(audit)),
            ],
        ]
        blocks.append(
            Block(
                title="审计工作底稿",
                meta=[(f"索引号：DG-{num:02d}", "right"), ("第 页（共 页）", "right")],
                rows=rows,
                footer=["附件： 页"],
                merge_labels=False,
            )
        )
    return blocks


def listing_block(ctx: Context, groups: list[Group]) -> Block:
    """Every finding the data give, 排除 ones included (they have no 取证单), then the judged
    ones the data no longer give (已消除); each with the three input columns of its verdict."""
    from bangfu.forms.review_sheets import vanished_rows, verdict_inputs

    review = ctx.review
    listed = [(g.index, g.rule, f) for g in groups for f in g.findings]
    kept = {id(f) for _i, _r, f in listed}
    listed += [
        ("（已排除）", f["rule_code"], f)
        for f in sorted(
            (f for f in ctx.all_findings if id(f) not in kept),
            key=lambda f: (f.get("rule_code") or "", f.get("finding_id") or ""),
        )
    ]
    rows = []
    for index, rule, f in listed:
        rows.append(
            [
                _c(index),
                _c(f"{rule} {rule_info(rule).title}"),
                _c(f.get("severity") or ""),
                _c(f.get("finding_id") or ""),
                _c(f.get("id_number") or ""),
                _c(f.get("archive_no") or ""),
                _c(f.get("payment_no") or ""),
                _c(f.get("voucher_no") or ""),
                _c(f.get("category") or ""),
                _c(f.get("amount")),
                _c(f.get("detail") or ""),
                _c(f.get("basis") or ""),
                _c(f.get("source_file") or ""),
                _c(f.get("source_sheet") or ""),
                _c(f.get("source_row")),
                *verdict_inputs(review, f.get("finding_id")),
            ]
        )
    rows += vanished_rows(ctx)
    return Block(
        title=f"{ctx.unit_name} {ctx.year} 年度审计发现明细",
        header=[(c, 1) for c in LIST_COLUMNS],
        rows=rows,
        merge_labels=False,
    )
