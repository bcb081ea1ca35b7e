"""What fills each 审计认定事实 cell: the fact functions named by the layouts, the context they
read (one unit-year: metrics, findings, canonical ledger frames), the choice of households for the
per-household forms, and the drafted 审计结论.

A fact returns a number (written as a number) or a sentence. Where the data cannot answer an item
the sentence says so (``PENDING``) and the cell is left for the auditor to complete.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from bangfu.forms.layouts.common import Layout
from bangfu.forms.rule_homes import rule_info
from bangfu.sentences import clause
from bangfu.settings import DEFAULT_SETTINGS, AuditSettings
from bangfu.sheets import EXIT_STEPS, SHEETS_BY_KEY

PENDING = "数据无法判断，待审计人员核实填写"
PATHS = {
    "employment": "就业创业",
    "insurance": "社会保险",
    "medical": "医疗保障",
    "social_assistance": "社会救助兜底",
}
PAID_COLUMN = {
    "生活救助": "paid_living",
    "助学救助": "paid_education",
    "医疗救助": "paid_medical",
    "职业培训和职业介绍": "paid_training",
    "法律援助": "paid_legal",
}
PROJECT_CATEGORIES = {"职业培训和职业介绍": ("职业培训", "职业介绍")}
ARCHIVE_RULES = (
    "ARCHIVE_PROCEDURE_INCOMPLETE",
    "ARCHIVE_PUBLICITY_SHORT",
    "ARCHIVE_INCOME_OVER_LINE",
    "ECON_CHECK_INCOMPLETE",
    "ECON_CHECK_MISMATCH",
    "DUPLICATE_ARCHIVE",
)


def yuan(x: float | None) -> str:
    return "—" if x is None else f"{x:,.2f} 元"


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.2f}%"


def _d(x) -> str:
    return x.isoformat() if isinstance(x, date) else ("" if x is None else str(x))


def _in_year(d, year: int) -> bool:
    return isinstance(d, date) and d.year == year


# ---------------------------------------------------------------- context
# Lake bookkeeping columns that no fact reads from a ledger row (findings carry their own).
_BOOKKEEPING = ("year", "unit_code", "source_file", "source_sheet")


class _LedgerRows(dict):
    """Ledger rows as dicts, made from a sheet's frame when a fact first asks for them: turning
    every sheet of a unit into dicts was a seventh of the workbook's time, and some (the
    account ledger) are only summed, in polars."""

    def __init__(self, frames: dict[str, pl.DataFrame], given: dict[str, list[dict]]):
        super().__init__(given)
        self._frames = frames

    def __missing__(self, key: str) -> list[dict]:
        frame = self._frames.get(key)
        if frame is None:
            raise KeyError(key)
        rows = frame.drop([c for c in _BOOKKEEPING if c in frame.columns]).to_dicts()
        self[key] = rows
        return rows

    def get(self, key: str, default=None):
        try:
            return self[key]
        except KeyError:
            return default


@dataclass
class Context:
    year: int
    unit: dict
    years: list[int]
    metrics: dict[int, dict]
    findings: list[dict]
    frames: dict[str, pl.DataFrame]
    dibao: float | None
    edu_standard: float | None = None
    medical_standard: float | None = None
    settings: AuditSettings = DEFAULT_SETTINGS  # the run's thresholds (rules.md)
    qz_index: dict[str, str] = field(default_factory=dict)  # rule → 取证单 索引号
    rows: dict[str, list[dict]] = field(default_factory=dict)
    # the auditors' judgments (bangfu.review.state.UnitReview); ``findings`` above leaves out
    # the 排除 ones, ``all_findings`` keeps every finding the data give
    review: Any = None
    all_findings: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rows = _LedgerRows(self.frames, self.rows)
        self.archive = self.rows.get("archive", [])
        self.archive_by_no: dict[str, dict] = {}
        self.archive_by_id: dict[str, list[dict]] = defaultdict(list)
        for rec in self.archive:
            self.archive_by_no.setdefault(rec.get("archive_no"), rec)
            if rec.get("id_number"):
                self.archive_by_id[rec["id_number"]].append(rec)
        self.steps: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
        for row in self.rows.get("procedures", []):
            self.steps[(row.get("archive_no"), row.get("procedure"))].setdefault(
                row.get("step"), row
            )
        self.econ: dict[str, dict[str, dict]] = defaultdict(dict)
        for row in self.rows.get("econ_checks", []):
            self.econ[row.get("archive_no")].setdefault(row.get("item"), row)
        self.payments = self.rows.get("payments", [])
        self._by_category: dict[str, list[dict]] = {}
        self.payments_by_id: dict[str, list[dict]] = defaultdict(list)
        self.payment_by_no: dict[str, dict] = {}
        for p in self.payments:
            self.payments_by_id[p.get("id_number")].append(p)
            self.payment_by_no.setdefault(p.get("payment_no"), p)
        self.followup: dict[str, list[dict]] = defaultdict(list)
        for row in self.rows.get("followup", []):
            self.followup[row.get("archive_no")].append(row)
        self.by_rule: dict[str, list[dict]] = defaultdict(list)
        for fnd in self.findings:
            self.by_rule[fnd["rule_code"]].append(fnd)

    def has(self, key: str) -> bool:
        frame = self.frames.get(key)
        return frame.height > 0 if frame is not None else bool(self.rows.get(key))

    def m(self, year: int, col: str):
        return self.metrics.get(year, {}).get(col)

    @property
    def unit_name(self) -> str:
        return self.unit.get("unit_name") or self.unit.get("unit_code") or ""

    def category_payments(self, category: str) -> list[dict]:
        """The payments of a project (read-only: one list per category, shared by the facts)."""
        if category not in self._by_category:
            cats = PROJECT_CATEGORIES.get(category, (category,))
            self._by_category[category] = [p for p in self.payments if p.get("category") in cats]
        return self._by_category[category]

    def latest_record(self, id_number: str) -> dict | None:
        recs = self.archive_by_id.get(id_number) or []
        if not recs:
            return None
        return max(
            recs, key=lambda r: (r.get("archived_on") or date.min, r.get("archive_no") or "")
        )

    def cap(self, category: str, hardship_type: str | None) -> float | None:
        for row in self.rows.get("unit_standards", []):
            if row.get("category") == category and row.get("hardship_type") == hardship_type:
                return row.get("annual_cap")
        return None


@dataclass
class Subject:
    """One household of a per-household form: an archive record, or a payee (ID number)."""

    key: str
    name: str | None
    id_number: str | None
    phone: str | None
    record: dict | None = None
    payments: list[dict] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)
    reason: str = ""


# ---------------------------------------------------------------- subjects and sampling
def _finding_belongs(layout: Layout, ctx: Context, fnd: dict) -> str | None:
    """The subject key of a finding for this form (None when it is not this form's)."""
    if fnd["rule_code"] not in layout.rules:
        return None
    if layout.subject == "payer":
        pay = ctx.payment_by_no.get(fnd.get("payment_no") or "")
        cat = (pay or {}).get("category") or fnd.get("category")
        if cat != layout.category or not fnd.get("id_number"):
            return None
        return fnd["id_number"]
    arc = fnd.get("archive_no")
    if not arc:
        return None
    if layout.subject == "survey":
        modes = {row.get("survey_mode") for row in ctx.followup.get(arc, [])}
        mode = layout.survey_mode
        if mode not in modes and not (mode == "电话" and modes <= {None, "电话"}):
            return None
    return arc


def _population(layout: Layout, ctx: Context) -> list[str]:
    y = ctx.year
    if layout.subject == "payer":
        return sorted({p["id_number"] for p in ctx.category_payments(layout.category or "")})
    recs = ctx.archive
    if layout.subject == "archived":
        recs = [r for r in recs if _in_year(r.get("archived_on"), y)]
    elif layout.subject in ("exited", "survey"):
        recs = [r for r in recs if _in_year(r.get("exited_on"), y)]
    elif layout.subject == "exited_relief":
        recs = [
            r for r in recs if _in_year(r.get("exited_on"), y) and r.get("exit_reason") == "脱困"
        ]
    if layout.subject == "survey":
        mode = layout.survey_mode
        surveyed = [
            r
            for r in recs
            if any(f.get("survey_mode") == mode for f in ctx.followup.get(r["archive_no"], []))
        ]
        recs = surveyed or recs
    return sorted({r["archive_no"] for r in recs if r.get("archive_no")})


def subjects(layout: Layout, ctx: Context, sample_size: int, seed: int) -> list[Subject]:
    """Every household with a finding of the form's rules, then a seeded sample of the others."""
    flagged: dict[str, list[dict]] = defaultdict(list)
    for fnd in ctx.findings:
        key = _finding_belongs(layout, ctx, fnd)
        if key:
            flagged[key].append(fnd)
    rest = [k for k in _population(layout, ctx) if k not in flagged]
    rng = random.Random(f"{seed}|{ctx.unit.get('unit_code')}|{ctx.year}|{layout.key}")
    sample = sorted(rng.sample(rest, min(max(sample_size, 0), len(rest))))
    out = [_subject(layout, ctx, k, flagged[k], "有审计发现") for k in sorted(flagged)]
    out += [_subject(layout, ctx, k, [], f"随机抽样（种子 {seed}）") for k in sample]
    return out


def _subject(layout: Layout, ctx: Context, key: str, fnds: list[dict], reason: str) -> Subject:
    if layout.subject == "payer":
        pays = [
            p
            for p in ctx.payments_by_id.get(key, [])
            if p.get("category") in PROJECT_CATEGORIES.get(layout.category, (layout.category,))
        ]
        pays.sort(key=lambda p: (p.get("paid_on") or date.min, p.get("payment_no") or ""))
        rec = ctx.latest_record(key)
        name = (rec or {}).get("name") or next((p.get("name") for p in pays if p.get("name")), None)
        return Subject(key, name, key, (rec or {}).get("phone"), rec, pays, fnds, reason)
    rec = ctx.archive_by_no.get(key)
    if rec is None:  # a finding on a record the frames do not hold
        fid = next((f.get("id_number") for f in fnds if f.get("id_number")), None)
        return Subject(key, None, fid, None, None, [], fnds, reason)
    return Subject(
        key,
        rec.get("name"),
        rec.get("id_number"),
        rec.get("phone"),
        rec,
        ctx.payments_by_id.get(rec.get("id_number"), []),
        fnds,
        reason,
    )


# ---------------------------------------------------------------- fact registry
FACTS: dict[str, Any] = {}


def fact(name: str):
    def deco(fn):
        FACTS[name] = fn
        return fn

    return deco


def compute(ctx: Context, layout: Layout, subj: Subject | None, key: str, args, year):
    return FACTS[key](ctx, layout, subj, year, *args)


@fact("pending")
def _pending(ctx, layout, subj, year):
    return PENDING


def _target_rows(ctx: Context) -> dict[int, dict]:
    return {
        row["target_year"]: row
        for row in ctx.rows.get("targets", [])
        if row.get("target_year") is not None
    }


@fact("plan")
def _plan(ctx, layout, subj, year):
    rows = _target_rows(ctx)
    if not rows:
        return f"解困脱困目标表未提供。工作方案、实施细则、规划的制定情况：{PENDING}"
    parts = [
        f"{y} 年度 {rows[y].get('has_plan') or '未填写'}" for y in sorted(rows) if y <= ctx.year
    ]
    return "台账记载工作方案：" + "；".join(parts) + f"。方案、实施细则、规划的内容：{PENDING}"


@fact("assessment")
def _assessment(ctx, layout, subj, year):
    rows = _target_rows(ctx)
    if not rows:
        return f"解困脱困目标表未提供。年度考核情况：{PENDING}"
    parts = [
        f"{y} 年度 {rows[y].get('has_assessment') or '未填写'}"
        for y in sorted(rows)
        if y <= ctx.year
    ]
    return "台账记载年度考核：" + "；".join(parts) + f"。考核的内容和结果：{PENDING}"


@fact("target")
def _target(ctx, layout, subj, year):
    tr, te = ctx.m(year, "target_relieved"), ctx.m(year, "target_exited")
    if tr is None and te is None:
        row = _target_rows(ctx).get(year) or {}
        tr, te = row.get("target_relieved"), row.get("target_exited")
    if tr is None and te is None:
        return f"未提供目标，{PENDING}"
    return f"目标解困 {'—' if tr is None else tr} 人，目标脱困 {'—' if te is None else te} 人"


@fact("metric")
def _metric(ctx, layout, subj, year, col):
    v = ctx.m(year, col)
    return "无数据" if v is None else v


_RATES = {
    "missed": ("missed_rate", "漏评率", "非建档户", "漏评", "roster_missed", "疑似漏评"),
    "wrong_exit": ("wrong_exit_rate", "错退率", "退档户", "错退", "roster_wrong_exit", "疑似错退"),
    "wrong_entry": ("wrong_entry_rate", "错评率", "在档户", "错评", None, None),
    "recognition": (
        "recognition_rate",
        "群众认可度",
        "有满意度回答的样本",
        "满意或基本满意",
        None,
        None,
    ),
}


def _sample(ctx: Context, base: str, year: int) -> tuple[int | None, int | None]:
    num, den = ctx.m(year, f"{base}_num"), ctx.m(year, f"{base}_den")
    if den is not None:
        return num, den
    if year != ctx.year or not ctx.has("evaluation"):
        return None, None
    rows = ctx.rows["evaluation"]
    if base == "recognition":
        answered = [r for r in rows if r.get("satisfaction")]
        ok = [r for r in answered if r["satisfaction"] in ("满意", "基本满意")]
        return len(ok), len(answered)
    _col, _name, stype, verdict, *_ = _RATES[base]
    pool = [r for r in rows if r.get("sample_type") == stype]
    return sum(1 for r in pool if r.get("verdict") == verdict), len(pool)


def _rate_text(ctx: Context, base: str, year: int) -> str:
    col, name, stype, verdict, *_ = _RATES[base]
    rate = ctx.m(year, col)
    num, den = _sample(ctx, base, year)
    if rate is None:
        text = f"{name}：无评估样本，无法计算"
    else:
        text = f"{name} {pct(rate)}"
    if den is not None:
        text += f"（抽样{stype} {den} 户，其中{verdict} {num} 户）"
    limit = ctx.settings.rate_alerts().get(col)
    if rate is not None and limit is not None:
        if base == "recognition":
            text += f"；预警标准 < {pct(limit)}，{'低于标准' if rate < limit else '达到标准'}"
        else:
            text += f"；预警标准 > {pct(limit)}，{'超过标准' if rate > limit else '未超过标准'}"
    return text


@fact("eval_rate")
def _eval_rate(ctx, layout, subj, year, base):
    col, _name, _t, _v, roster_col, roster_name = _RATES[base]
    text = _rate_text(ctx, base, ctx.year)
    history = [
        f"{y} 年度 {pct(ctx.m(y, col))}"
        for y in ctx.years
        if y != ctx.year and ctx.m(y, col) is not None
    ]
    if history:
        text += "（以前年度：" + "，".join(history) + "）"
    if roster_col:
        est = ctx.m(ctx.year, roster_col)
        text += (
            f"；与民政比对名单比对，{roster_name} {est} 人"
            if est is not None
            else "；未提供民政比对名单，无数据比对估计"
        )
    return text + "。"


@fact("eval_other")
def _eval_other(ctx, layout, subj, year, n):
    if n == 1:
        return "1. " + _rate_text(ctx, "wrong_entry", ctx.year) + "。"
    if n == 2:
        rm, rw = ctx.m(ctx.year, "roster_missed"), ctx.m(ctx.year, "roster_wrong_exit")
        if rm is None and rw is None:
            return "2. 数据比对：未提供民政比对名单，无数据比对估计。"
        return f"2. 数据比对估计（与样本率并列，不替代）：疑似漏评 {rm} 人，疑似错退 {rw} 人。"
    if n == 3:
        rows = ctx.rows.get("evaluation", [])
        if not rows:
            return "3. 第三方评估样本表未提供。"
        c = Counter(r.get("sample_type") for r in rows)
        return (
            f"3. 样本构成：共 {len(rows)} 户，在档户 {c.get('在档户', 0)} 户，"
            f"退档户 {c.get('退档户', 0)} 户，非建档户 {c.get('非建档户', 0)} 户。"
        )
    return f"4. {PENDING}"


@fact("eval_sound")
def _eval_sound(ctx, layout, subj, year):
    n = len(ctx.rows.get("evaluation", []))
    head = f"评估样本 {n} 户。" if n else "第三方评估样本表未提供。"
    return head + f"评估机构、抽样方法与评估过程是否科学合理：{PENDING}"


def _exit_steps_ok(ctx: Context, archive_no: str) -> list[str]:
    """Exit steps lacking (absent, undated or without evidence)."""
    steps = ctx.steps.get((archive_no, "退档"), {})
    bad = []
    for step in EXIT_STEPS:
        row = steps.get(step)
        if not row or not row.get("done_on") or row.get("evidence") == "无":
            bad.append(step)
    return bad


@fact("path")
def _path(ctx, layout, subj, year, kind):
    n = ctx.m(year, f"exited_by_path_{kind}")
    if n is None:
        return "无数据"
    if year != ctx.year or not ctx.has("procedures"):
        return n
    recs = [
        r
        for r in ctx.archive
        if _in_year(r.get("exited_on"), year)
        and r.get("exit_reason") == "脱困"
        and r.get("exit_path") == PATHS[kind]
    ]
    lacking = [r for r in recs if _exit_steps_ok(ctx, r["archive_no"])]
    text = f"{n} 人。本级台账 {len(recs)} 人中退档证明材料齐全 {len(recs) - len(lacking)} 人"
    if lacking:
        text += "，不齐全 " + str(len(lacking)) + " 人（档案编号 "
        text += "、".join(r["archive_no"] for r in lacking[:10]) + (
            "等" if len(lacking) > 10 else ""
        )
        text += "）"
    return text + "；证明材料是否有效：" + PENDING


@fact("project")
def _project(ctx, layout, subj, year, category):
    col = PAID_COLUMN[category]
    hist = [f"{y} 年度 {yuan(ctx.m(y, col))}" for y in ctx.years if ctx.m(y, col) is not None]
    pays = ctx.category_payments(category)
    text = "发放金额：" + ("；".join(hist) if hist else "无数据") + "。"
    if pays:
        total = sum(p["amount"] for p in pays)
        ids = {p["id_number"] for p in pays}
        by_fund = Counter()
        for p in pays:
            by_fund[p.get("fund") or "未填写"] += p["amount"]
        funds = "，".join(f"{k} {yuan(v)}" for k, v in sorted(by_fund.items()))
        text += (
            f"{ctx.year} 年度本级发放明细 {len(pays)} 笔 {yuan(total)}，{len(ids)} 户，"
            f"户均 {yuan(total / len(ids))}；资金来源：{funds}。"
        )
    elif ctx.has("payments"):
        text += f"{ctx.year} 年度本级未发放。"
    return text


@fact("expand")
def _expand(ctx, layout, subj, year, n):
    if n == 1:
        fs = ctx.by_rule.get("PAY_UNLISTED_PROJECT", [])
        if not fs:
            return "1. 未发现帮扶资金用于规定救助项目以外的事项。"
        by_cat = Counter()
        for fnd in fs:
            by_cat[fnd.get("category") or "未填写"] += fnd.get("amount") or 0
        items = "，".join(f"{k} {yuan(v)}" for k, v in by_cat.most_common())
        return f"1. 自行设立救助项目 {len(fs)} 笔：{items}。"
    if n == 2:
        un = ctx.by_rule.get("PAY_UNARCHIVED", [])
        out = ctx.by_rule.get("PAY_OUTSIDE_ARCHIVE_PERIOD", [])
        return (
            f"2. 向未建档人员发放帮扶资金 {len(un)} 笔 {yuan(_sum(un))}；"
            f"在建档前或退档后发放 {len(out)} 笔 {yuan(_sum(out))}。"
        )
    warm = [p for p in ctx.payments if p.get("category") == "送温暖"]
    return (
        f"3. 送温暖项目发放 {len(warm)} 笔 {yuan(sum(p['amount'] for p in warm))}"
        f"（送温暖资金可用于档外人员；以帮扶资金列支的已在第 1 项反映）。其他事项：{PENDING}"
    )


def _sum(fs: list[dict]) -> float:
    return round(sum(f.get("amount") or 0 for f in fs), 2)


@fact("hukou_membership")
def _hukou(ctx, layout, subj, year):
    if not ctx.archive:
        return f"困难职工档案未提供。{PENDING}"
    ids = {}
    for rec in ctx.archive:
        ids.setdefault(rec.get("id_number"), rec)
    hk = Counter(r.get("hukou") or "未填写" for r in ids.values())
    mb = Counter(r.get("is_member") or "未填写" for r in ids.values())
    text = (
        f"本年度档案 {len(ids)} 户：户籍 "
        + "、".join(f"{k} {v} 户" for k, v in sorted(hk.items()))
        + "；工会会员 "
        + "、".join(f"{k} {v} 户" for k, v in sorted(mb.items()))
        + "。"
    )
    if hk.get("农村") or mb.get("否"):
        text += "档案中有农村户籍或非会员职工，实际救助中未见以户籍、会籍排除的迹象。"
    return text + f"内部控制制度是否设有户籍、会籍限制：{PENDING}"


@fact("discovery")
def _discovery(ctx, layout, subj, year):
    est = ctx.m(ctx.year, "roster_missed")
    fs = ctx.by_rule.get("MISSED_CANDIDATE", [])
    if est is None and not fs:
        text = "未提供民政比对名单，无法比对。"
    else:
        text = f"与民政比对名单比对，民政低保、特困且有工作单位而未建档 {len(fs) if fs else est} 人"
        text += f"（见取证单 {ctx.qz_index['MISSED_CANDIDATE']}）。" if fs else "。"
    return text + f"主动发现机制及其覆盖面：{PENDING}"


def _budget_rows(ctx: Context) -> list[dict]:
    return ctx.rows.get("budget", [])


@fact("budget_evaluation")
def _budget_eval(ctx, layout, subj, year, what):
    rows = _budget_rows(ctx)
    if not rows:
        return f"预算执行表未提供。{PENDING}"
    parts = "；".join(f"{r.get('fund')} {r.get('has_evaluation') or '未填写'}" for r in rows)
    if what == "rules":
        return f"预算执行表记载绩效评价：{parts}。绩效评价办法、指标是否制定及其内容：{PENDING}"
    done = [r.get("fund") for r in rows if r.get("has_evaluation") == "有"]
    not_done = [r.get("fund") for r in rows if r.get("has_evaluation") == "无"]
    return (
        f"已开展绩效评价：{'、'.join(done) or '无'}；未开展：{'、'.join(not_done) or '无'}"
        f"（{parts}）。"
    )


@fact("allocation")
def _allocation(ctx, layout, subj, year):
    rows = _budget_rows(ctx)
    if not rows:
        return f"预算执行表未提供。{PENDING}"
    parts = "；".join(f"{r.get('fund')} {r.get('allocation_method') or '未填写'}" for r in rows)
    return f"分配方法：{parts}。因素设置、分配公式与权重是否公开：{PENDING}"


@fact("balances")
def _balances(ctx, layout, subj, year):
    rows = _budget_rows(ctx)
    if not rows:
        return f"预算执行表未提供。{PENDING}"
    parts = [
        f"{r.get('fund')}：年初结余 {yuan(r.get('opening_balance'))}，本年收入 {yuan(r.get('received'))}，"
        f"本年支出 {yuan(r.get('spent'))}，年末结余 {yuan(r.get('closing_balance'))}，"
        f"收回结余 {yuan(r.get('recovered'))}"
        for r in rows
    ]
    return "；".join(parts) + f"。责任追究机制及其执行：{PENDING}"


@fact("scope_fund")
def _scope_fund(ctx, layout, subj, year):
    fs = ctx.by_rule.get("SPEND_OUT_OF_SCOPE", [])
    if not ctx.has("ledger"):
        return f"会计明细账未提供。{PENDING}"
    if not fs:
        return (
            "按摘要检查帮扶科目借方，未发现列支工资、办公、奖金津贴福利、车辆通讯设备、基建等支出。"
        )
    ex = "；".join(f"凭证 {f.get('voucher_no')} {yuan(f.get('amount'))}" for f in fs[:8])
    more = "等" if len(fs) > 8 else ""
    return (
        f"列支与帮扶无关的支出 {len(fs)} 笔，金额 {yuan(_sum(fs))}：{ex}{more}"
        f"（见取证单 {ctx.qz_index['SPEND_OUT_OF_SCOPE']}）。"
    )


@fact("scope_subjects")
def _scope_subjects(ctx, layout, subj, year):
    if not ctx.has("ledger"):
        return f"会计明细账未提供。{PENDING}"
    keys = ("困难职工帮扶费", "帮扶补助")
    name, debit = pl.col("account_name").fill_null(""), pl.col("debit").fill_null(0)
    sums = (
        ctx.frames["ledger"]
        .select([debit.filter(name.str.contains(k, literal=True)).sum().alias(k) for k in keys])
        .row(0, named=True)
    )
    text = (
        f"“困难职工帮扶费”借方合计 {yuan(sums['困难职工帮扶费'])}，"
        f"“帮扶补助”借方合计 {yuan(sums['帮扶补助'])}。"
    )
    fs = ctx.by_rule.get("SPEND_OUT_OF_SCOPE", [])
    text += (
        f"其中与帮扶无关的支出 {len(fs)} 笔 {yuan(_sum(fs))}。"
        if fs
        else "未发现与帮扶无关的支出。"
    )
    mm = ctx.by_rule.get("LEDGER_MISMATCH", [])
    if mm:
        text += (
            f"发放明细与账簿不符的凭证 {len(mm)} 个，差额合计 {yuan(_sum(mm))}"
            f"（见取证单 {ctx.qz_index['LEDGER_MISMATCH']}）。"
        )
    return text


# ---------------------------------------------------------------- per-record facts
@fact("step")
def _step(ctx, layout, subj, year, procedure, step):
    if not ctx.has("procedures"):
        return f"程序记录未提供，{PENDING}"
    if subj.record is None:
        return f"档案中无此记录，{PENDING}"
    row = ctx.steps.get((subj.key, procedure), {}).get(step)
    if row is None:
        return "否。未见该环节记录。"
    problems, facts = [], []
    if row.get("done_on"):
        facts.append(f"完成日期 {_d(row['done_on'])}")
    else:
        problems.append("无完成日期")
    if row.get("evidence") == "无":
        problems.append("证明材料 无")
    elif row.get("evidence") == "有":
        facts.append("证明材料 有")
    else:
        facts.append("证明材料 未记录")
    if row.get("publicity_days") is not None:
        days = row["publicity_days"]
        facts.append(f"公示 {days} 天")
        if procedure == "建档" and days < ctx.settings.publicity_min_days:
            problems.append(f"公示仅 {days} 天")
    arc = subj.record.get("archived_on")
    done = row.get("done_on")
    if procedure == "建档" and isinstance(done, date) and isinstance(arc, date) and done > arc:
        problems.append(f"晚于建档日期 {_d(arc)}")
    head = "否" if problems else "是"
    return f"{head}。" + "，".join(facts + problems) + "。证明材料是否有效：待审计人员核实。"


@fact("econ_item")
def _econ_item(ctx, layout, subj, year, item):
    if not ctx.has("econ_checks"):
        return f"经济状况核查表未提供，{PENDING}"
    row = ctx.econ.get(subj.key, {}).get(item)
    if row is None:
        return "否。未见核查记录。"
    provided, match = row.get("provided"), row.get("match_result") or "未填写"
    if provided != "是":
        return f"否。未提供（比对结果 {match}）。"
    head = "是" if match == "相符" else "否"
    return f"{head}。已提供，比对结果 {match}。"


@fact("econ_compare")
def _econ_compare(ctx, layout, subj, year):
    items = ctx.econ.get(subj.key, {})
    c = Counter((r.get("match_result") or "未填写") for r in items.values())
    text = (
        f"核查 {len(items)} 项：" + "、".join(f"{k} {v} 项" for k, v in sorted(c.items())) + "。"
        if items
        else "未见经济状况核查记录。"
    )
    step = ctx.steps.get((subj.key, "建档"), {}).get("数据比对")
    if ctx.has("procedures"):
        text += f"建档程序数据比对环节：{'完成于 ' + _d(step.get('done_on')) if step and step.get('done_on') else '未见记录'}。"
    return text


def _income_line(ctx: Context, rec: dict, income_col: str = "household_income") -> str:
    size, income = rec.get("household_size"), rec.get(income_col)
    if not size or income is None:
        return "家庭收入或人口未记录"
    per = income / size / 12
    text = f"家庭人口 {size} 人，家庭年收入 {yuan(income)}，人均月收入 {yuan(per)}"
    if ctx.dibao:
        text += f"，当地低保标准 {yuan(ctx.dibao)}/人/月"
    return text


@fact("causes")
def _causes(ctx, layout, subj, year):
    rec = subj.record or {}
    return (
        f"困难类别 {rec.get('hardship_type') or '未记录'}，致困原因 {rec.get('causes') or '未记录'}；"
        f"建档日期 {_d(rec.get('archived_on'))}，建档时{_income_line(ctx, rec)}。"
    )


@fact("measures")
def _measures(ctx, layout, subj, year):
    rec = subj.record or {}
    by_cat = Counter()
    for p in subj.payments:
        by_cat[p.get("category")] += p.get("amount") or 0
    paid = "，".join(f"{k} {yuan(v)}" for k, v in sorted(by_cat.items())) or "本年度未见发放"
    return f"脱困方式（“四个一批”）：{rec.get('exit_path') or '未记录'}；本年度救助：{paid}。"


@fact("exit_standard")
def _exit_standard(ctx, layout, subj, year):
    rec = subj.record or {}
    return (
        f"退档日期 {_d(rec.get('exited_on'))}，退档原因 {rec.get('exit_reason') or '未记录'}；"
        f"退档时{_income_line(ctx, rec, 'income_at_exit')}。"
        "退出标准：家庭人均收入高于当地低保标准且致困因素消除。"
    )


@fact("cause_eliminated")
def _cause_eliminated(ctx, layout, subj, year):
    rec = subj.record or {}
    fs = [f for f in subj.findings if f["rule_code"] == "EXIT_CAUSE_NOT_ELIMINATED"]
    if fs:
        text = "否。" + "；".join(clause(f["detail"]) for f in fs)
    else:
        size, inc = rec.get("household_size"), rec.get("income_at_exit")
        if ctx.dibao and size and inc is not None:
            ok = inc > ctx.dibao * 12 * size
            text = f"{'是' if ok else '否'}。退档时人均月收入 {yuan(inc / size / 12)}，"
            text += f"{'高于' if ok else '不高于'}低保标准 {yuan(ctx.dibao)}"
        else:
            text = f"退档时收入或低保标准未记录，{PENDING}"
    if ctx.has("procedures"):
        bad = _exit_steps_ok(ctx, subj.key)
        text += "；退档证明材料" + ("齐全" if not bad else "不齐全（" + "、".join(bad) + "）")
    return text + "。"


@fact("exit_procedure")
def _exit_procedure(ctx, layout, subj, year):
    if not ctx.has("procedures"):
        return f"程序记录未提供，{PENDING}"
    bad = _exit_steps_ok(ctx, subj.key)
    if not bad:
        return "是。七个退档环节均有完成日期和证明材料（详见退档程序审定表）。"
    return "否。缺少或不完整的环节：" + "、".join(bad) + "（详见退档程序审定表）。"


def _survey_row(ctx: Context, layout: Layout, subj: Subject) -> dict | None:
    rows = ctx.followup.get(subj.key, [])
    mode = layout.survey_mode
    for row in rows:
        if row.get("survey_mode") == mode:
            return row
    if mode == "电话":
        return next((r for r in rows if not r.get("survey_mode")), None)
    return None


@fact("survey")
def _survey(ctx, layout, subj, year, col):
    row = _survey_row(ctx, layout, subj)
    if row is None:
        return f"未见{layout.survey_mode}调查记录，待审计人员{layout.survey_mode}调查后填写"
    answer = row.get(col) or "未回答"
    text = f"{answer}（{layout.survey_mode}调查，{_d(row.get('surveyed_on')) or '日期未记录'}）"
    if col == "agrees" and subj.record:
        text += f"；退档时{_income_line(ctx, subj.record, 'income_at_exit')}"
    return text


# ---------------------------------------------------------------- payments
def _law_cap(ctx: Context, category: str) -> tuple[float | None, str]:
    if not ctx.dibao:
        return None, "当地低保标准未提供"
    if category == "生活救助":
        return ctx.dibao * 12, f"2015办法上限：低保标准 × 12 = {yuan(ctx.dibao * 12)}/户/年"
    if category == "助学救助":
        return ctx.dibao * 10, f"2015办法上限：低保标准 × 10 = {yuan(ctx.dibao * 10)}/户/年"
    if category == "医疗救助":
        return None, "2015办法上限：不超过医保报销后个人自付部分"
    return None, ""


@fact("standard")
def _standard(ctx, layout, subj, year, category):
    rows = [r for r in ctx.rows.get("unit_standards", []) if r.get("category") == category]
    own = (
        "单位救助标准："
        + "；".join(f"{r.get('hardship_type')} {yuan(r.get('annual_cap'))}/户/年" for r in rows)
        if rows
        else "单位未制定该项救助标准"
    )
    return f"{own}。{_law_cap(ctx, category)[1]}。"


def _amounts(ctx: Context, category: str) -> list[dict]:
    return [p for p in ctx.category_payments(category) if p.get("amount") is not None]


@fact("tiered")
def _tiered(ctx, layout, subj, year, category):
    pays = _amounts(ctx, category)
    if not pays:
        return f"{ctx.year} 年度本级未发放。"
    flat = [
        f
        for f in ctx.by_rule.get("PAY_FLAT_AMOUNT", [])
        if (f.get("category") or "生活救助") == category
    ]
    amounts = [p["amount"] for p in pays]
    by_type = defaultdict(list)
    for p in pays:
        rec = ctx.latest_record(p["id_number"])
        by_type[(rec or {}).get("hardship_type") or "未建档"].append(p["amount"])
    types = "；".join(f"{k} 笔均 {yuan(sum(v) / len(v))}" for k, v in sorted(by_type.items()))
    text = (
        f"共 {len(pays)} 笔，金额 {len(set(amounts))} 种（最低 {yuan(min(amounts))}，"
        f"最高 {yuan(max(amounts))}）；按困难类别：{types}"
    )
    if flat:
        return f"否。{text}。{clause(flat[0]['detail'])}（见取证单 {ctx.qz_index['PAY_FLAT_AMOUNT']}）。"
    return f"{'是' if len(set(amounts)) > 1 else '否'}。{text}。"


@fact("same_amount")
def _same_amount(ctx, layout, subj, year, category):
    pays = _amounts(ctx, category)
    if not pays:
        return f"{ctx.year} 年度本级未发放。"
    amount, n = Counter(round(p["amount"], 2) for p in pays).most_common(1)[0]
    share = n / len(pays)
    head = "是" if share >= ctx.settings.flat_share else "否"
    return f"{head}。最常见金额 {yuan(amount)}，{n} 笔，占 {pct(share)}。"


@fact("dibao")
def _dibao(ctx, layout, subj, year):
    if not ctx.dibao:
        return f"当地低保标准未提供，{PENDING}"
    return f"{yuan(ctx.dibao)}/人/月（全年 {yuan(ctx.dibao * 12)}/人）"


@fact("civil_standard")
def _civil_standard(ctx, layout, subj, year, kind):
    v = ctx.edu_standard if kind == "edu" else ctx.medical_standard
    name = "教育救助标准" if kind == "edu" else "医疗救助标准"
    return f"{yuan(v)}/人/年" if v else f"民政部门{name}未提供，{PENDING}"


@fact("payer_archive")
def _payer_archive(ctx, layout, subj, year):
    recs = ctx.archive_by_id.get(subj.id_number or "", [])
    if not recs:
        return "否。困难职工档案中无此身份证号码（未建档）。"
    desc = "；".join(
        f"档案编号 {r.get('archive_no')}，建档日期 {_d(r.get('archived_on'))}，"
        f"{r.get('hardship_type')}，{r.get('status')}"
        for r in recs
    )
    nos = {r.get("archive_no") for r in recs}
    fs = [
        f
        for f in ctx.findings
        if f["rule_code"] in ARCHIVE_RULES
        and (f.get("archive_no") in nos or f.get("id_number") == subj.id_number)
    ]
    if fs:
        return f"否。{desc}。" + "；".join(clause(f["detail"]) for f in fs) + "。"
    if not ctx.has("procedures") and not ctx.has("econ_checks"):
        return f"{desc}。程序记录与经济状况核查表未提供，{PENDING}"
    return f"是。{desc}。未发现建档程序、经济状况核查问题。"


@fact("payer_standard")
def _payer_standard(ctx, layout, subj, year):
    cat = layout.category
    rec = subj.record
    htype = (rec or {}).get("hardship_type")
    own = ctx.cap(cat, htype) if htype else None
    parts = [f"单位标准（{htype}）{yuan(own)}/户/年" if own is not None else "单位无适用标准"]
    parts.append(_law_cap(ctx, cat)[1])
    return "；".join(p for p in parts if p) + "。"


@fact("payer_paid")
def _payer_paid(ctx, layout, subj, year):
    total = round(sum(p.get("amount") or 0 for p in subj.payments), 2)
    items = "；".join(
        f"{_d(p.get('paid_on'))} {yuan(p.get('amount'))}（{p.get('payment_no')}，{p.get('fund')}，"
        f"{p.get('method') or '方式未记录'}）"
        for p in subj.payments[:12]
    )
    more = "等" if len(subj.payments) > 12 else ""
    return f"{yuan(total)}，{len(subj.payments)} 笔：{items}{more}"


@fact("per_capita")
def _per_capita(ctx, layout, subj, year):
    pays = ctx.category_payments(layout.category or "")
    ids = {p["id_number"] for p in pays}
    if not ids:
        return "无数据"
    return round(sum(p["amount"] for p in pays) / len(ids), 2)


@fact("payer_over")
def _payer_over(ctx, layout, subj, year):
    fs = [f for f in subj.findings if f["rule_code"] in ("PAY_OVER_STANDARD", "MED_OVER_SELF_PAY")]
    if fs:
        return f"是。超出 {yuan(_sum(fs))}：" + "；".join(clause(f["detail"]) for f in fs)
    htype = (subj.record or {}).get("hardship_type")
    own = ctx.cap(layout.category, htype) if htype else None
    law, _ = _law_cap(ctx, layout.category)
    if subj.record is None:
        return "未测试（未建档，见第一项）"
    if own is None and law is None and layout.category != "医疗救助":
        return "未测试（无适用标准）"
    return "否"


@fact("med_share")
def _med_share(ctx, layout, subj, year):
    paid = sum(p.get("amount") or 0 for p in subj.payments)
    self_pay = [p.get("med_self_pay") for p in subj.payments if p.get("med_self_pay") is not None]
    if not self_pay or not sum(self_pay):
        return f"自付金额未记录，{PENDING}"
    total = [p.get("med_total") for p in subj.payments if p.get("med_total") is not None]
    text = f"{pct(paid / sum(self_pay))}（救助 {yuan(paid)} / 医保报销后自付 {yuan(sum(self_pay))}"
    return text + (f"；医药费总额 {yuan(sum(total))}）" if total else "）")


@fact("med_receipts")
def _med_receipts(ctx, layout, subj, year, what):
    pays = subj.payments
    if what == "type":
        vals = Counter(p.get("receipt_type") or "未记录" for p in pays)
        ok = set(vals) == {"医保票据"}
    else:
        vals = Counter(str(p.get("receipt_year") or "未记录") for p in pays)
        ok = set(vals) == {str(ctx.year)}
    detail = "、".join(f"{k} {v} 笔" for k, v in sorted(vals.items()))
    return f"{'是' if ok else '否'}。{detail}。"


# ---------------------------------------------------------------- conclusions
def _missing(ctx: Context, needs: tuple[str, ...]) -> list[str]:
    return [SHEETS_BY_KEY[k].title for k in needs if k in SHEETS_BY_KEY and not ctx.has(k)]


def _basis(fs: list[dict]) -> str:
    seen = []
    for f in fs:
        b = f.get("basis")
        if b and b not in seen:
            seen.append(b)
    return "；".join(seen[:2])


@fact("conclusion")
def conclusion(ctx, layout, subj, year):
    if subj is not None:
        return _household_conclusion(ctx, layout, subj)
    found, clean, nodata = [], [], []
    for rule in layout.rules:
        info = rule_info(rule)
        fs = ctx.by_rule.get(rule, [])
        if fs:
            amt = _sum(fs)
            s = f"{info.title} {len(fs)} 条" + (f"，涉及金额 {yuan(amt)}" if amt else "")
            s += f"（见取证单 {ctx.qz_index.get(rule, '')}）"
            s += (
                "："
                + "；".join(clause(f["detail"]) for f in fs[:2])
                + ("等" if len(fs) > 2 else "")
            )
            b = _basis(fs)
            found.append(s + (f"。依据：{b}" if b else ""))
        elif _missing(ctx, info.needs):
            nodata.append(f"{info.title}（缺少{'、'.join(_missing(ctx, info.needs))}）")
        else:
            clean.append(info.title)
    parts = []
    if found:
        parts.append(
            "经审计，发现以下问题：" + "".join(f"{i}. {s}。" for i, s in enumerate(found, start=1))
        )
    if clean:
        # the findings are those of the audited year; earlier years' shortfalls are stated by
        # _completion, so the "not found" sentence must not speak for them
        scope = f"{ctx.year} 年度" if layout.key == "targets" else ""
        parts.append(
            ("经审计，" if not found else "") + scope + "未发现" + "、".join(clean) + "的问题。"
        )
    if nodata:
        parts.append("因数据不全，未能检查：" + "；".join(nodata) + "，待审计人员核实。")
    if layout.key == "targets":
        parts.insert(0, _completion(ctx))
    if layout.pending:
        parts.append(f"{layout.pending}：{PENDING}。")
    return "".join(parts)


def _completion(ctx: Context) -> str:
    bits, short = [], []
    for y in ctx.years:
        for label, done, target in (
            ("解困", ctx.m(y, "relieved"), ctx.m(y, "target_relieved")),
            ("脱困", ctx.m(y, "exited_out_of_hardship"), ctx.m(y, "target_exited")),
        ):
            if target and done is not None:
                bits.append(f"{y} 年度{label}目标完成率 {pct(done / target)}")
                if done < target and y != ctx.year:
                    short.append(f"{y} 年度{label}人数 {done} 人低于目标 {target} 人")
    text = ("，".join(bits) + "。") if bits else ""
    if short:
        text += "往年度未完成目标：" + "；".join(short) + "（见当年度审计）。"
    return text


def _household_conclusion(ctx: Context, layout: Layout, subj: Subject) -> str:
    fs = subj.findings
    lead = ""
    if layout.key == "economy" and subj.record:
        lead = _eligibility(ctx, subj.record)
    if fs:
        items = "".join(
            f"{i}. {clause(f['detail'])}"
            + (f"（依据：{f['basis']}）" if f.get("basis") else "")
            + "。"
            for i, f in enumerate(fs, start=1)
        )
        refs = "、".join(sorted({ctx.qz_index.get(f["rule_code"], "") for f in fs} - {""}))
        return f"{lead}经审计，该户存在以下问题：{items}（见取证单 {refs}）"
    if layout.subject == "survey" and _survey_row(ctx, layout, subj) is None:
        return f"{lead}未见调查记录，待审计人员{layout.survey_mode}调查后填写结论。"
    missing = _missing(ctx, layout.sheets)
    text = f"{lead}经审计，该户未发现{layout.title.replace('审定表', '').replace('调查表', '')}方面的问题。"
    if missing:
        text += f"（{'、'.join(missing)}未提供，相关事项{PENDING}）"
    return text


def _eligibility(ctx: Context, rec: dict) -> str:
    size, income, htype = (
        rec.get("household_size"),
        rec.get("household_income"),
        rec.get("hardship_type"),
    )
    if not ctx.dibao or not size or income is None:
        return f"是否符合建档条件：低保标准或收入未记录，{PENDING}。"
    per = income / size / 12
    deep, relative = ctx.settings.deep_line_factor, ctx.settings.relative_line_factor
    if htype == "深度困难":
        ok, rule = per < ctx.dibao * deep, "低于低保标准" + (f" {deep:g} 倍" if deep != 1 else "")
    elif htype == "相对困难":
        ok, rule = (
            per < ctx.dibao * relative,
            f"不超过低保标准 {relative:g} 倍（另需大病、子女教育、残疾等特殊原因）",
        )
    else:
        ok, rule = True, "意外致困，无收入标准"
    verdict = "符合" if ok else "不符合"
    return (
        f"建档时人均月收入 {yuan(per)}，低保标准 {yuan(ctx.dibao)}，困难类别 {htype}（标准：{rule}），"
        f"收入条件{verdict}建档条件。"
    )
