"""Facts of the unit-level forms 五 … 十: targets, third-party evaluation, “四个一批”, projects,
coverage, budget.
"""

from __future__ import annotations

from collections import Counter

from bangfu.forms.facts.common import PENDING, findings_amount, in_year, pct, yuan
from bangfu.forms.facts.context import Context
from bangfu.forms.facts.records import exit_steps_lacking
from bangfu.forms.facts.registry import fact


# ---------------------------------------------------------------- 五 targets
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


# ---------------------------------------------------------------- 六 third-party evaluation
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


# ---------------------------------------------------------------- 七 “四个一批”
# the “四个一批” path codes of the metrics (exited_by_path_<code>) → the archive's exit_path
PATHS = {
    "employment": "就业创业",
    "insurance": "社会保险",
    "medical": "医疗保障",
    "social_assistance": "社会救助兜底",
}


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
        if in_year(r.get("exited_on"), year)
        and r.get("exit_reason") == "脱困"
        and r.get("exit_path") == PATHS[kind]
    ]
    lacking = [r for r in recs if exit_steps_lacking(ctx, r["archive_no"])]
    text = f"{n} 人。本级台账 {len(recs)} 人中退档证明材料齐全 {len(recs) - len(lacking)} 人"
    if lacking:
        text += "，不齐全 " + str(len(lacking)) + " 人（档案编号 "
        text += "、".join(r["archive_no"] for r in lacking[:10]) + (
            "等" if len(lacking) > 10 else ""
        )
        text += "）"
    return text + "；证明材料是否有效：" + PENDING


# ---------------------------------------------------------------- 八 projects
# 救助项目 → its paid_<…> column of the metrics
PAID_COLUMN = {
    "生活救助": "paid_living",
    "助学救助": "paid_education",
    "医疗救助": "paid_medical",
    "职业培训和职业介绍": "paid_training",
    "法律援助": "paid_legal",
}


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
            f"2. 向未建档人员发放帮扶资金 {len(un)} 笔 {yuan(findings_amount(un))}；"
            f"在建档前或退档后发放 {len(out)} 笔 {yuan(findings_amount(out))}。"
        )
    warm = [p for p in ctx.payments if p.get("category") == "送温暖"]
    return (
        f"3. 送温暖项目发放 {len(warm)} 笔 {yuan(sum(p['amount'] for p in warm))}"
        f"（送温暖资金可用于档外人员；以帮扶资金列支的已在第 1 项反映）。其他事项：{PENDING}"
    )


# ---------------------------------------------------------------- 九 coverage
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


# ---------------------------------------------------------------- 十 budget
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
