"""Facts of the money forms: spending scope (十三), precise payment (十八) and the per-payee forms
(十九 … 二十一).
"""

from __future__ import annotations

from collections import Counter, defaultdict

import polars as pl

from bangfu.forms.facts.common import PENDING, date_text, findings_amount, pct, yuan
from bangfu.forms.facts.context import Context
from bangfu.forms.facts.registry import fact
from bangfu.sentences import clause


# ---------------------------------------------------------------- 十三 spending scope
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
        f"列支与帮扶无关的支出 {len(fs)} 笔，金额 {yuan(findings_amount(fs))}：{ex}{more}"
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
        f"其中与帮扶无关的支出 {len(fs)} 笔 {yuan(findings_amount(fs))}。"
        if fs
        else "未发现与帮扶无关的支出。"
    )
    mm = ctx.by_rule.get("LEDGER_MISMATCH", [])
    if mm:
        text += (
            f"发放明细与账簿不符的凭证 {len(mm)} 个，差额合计 {yuan(findings_amount(mm))}"
            f"（见取证单 {ctx.qz_index['LEDGER_MISMATCH']}）。"
        )
    return text


# ---------------------------------------------------------------- 十八 … 二十一 payments
# the findings that make a payee's 建档 or 经济状况核查 not 合规 (payer_archive)
ARCHIVE_RULES = (
    "ARCHIVE_PROCEDURE_INCOMPLETE",
    "ARCHIVE_PUBLICITY_SHORT",
    "ARCHIVE_INCOME_OVER_LINE",
    "ECON_CHECK_INCOMPLETE",
    "ECON_CHECK_MISMATCH",
    "DUPLICATE_ARCHIVE",
)


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
        f"档案编号 {r.get('archive_no')}，建档日期 {date_text(r.get('archived_on'))}，"
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
        f"{date_text(p.get('paid_on'))} {yuan(p.get('amount'))}（{p.get('payment_no')}，{p.get('fund')}，"
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
        return f"是。超出 {yuan(findings_amount(fs))}：" + "；".join(
            clause(f["detail"]) for f in fs
        )
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
