"""Every form's drafted 审计结论: the unit's (its rules' findings, what the data could not check) and a
household's.
"""

from __future__ import annotations

from bangfu.forms.facts.common import PENDING, findings_amount, pct, yuan
from bangfu.forms.facts.context import Context
from bangfu.forms.facts.records import survey_row
from bangfu.forms.facts.registry import fact
from bangfu.forms.facts.subjects import Subject
from bangfu.forms.layouts.common import Layout
from bangfu.forms.rule_homes import rule_info
from bangfu.sentences import clause
from bangfu.sheets import SHEETS_BY_KEY


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
            amt = findings_amount(fs)
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
    if layout.subject == "survey" and survey_row(ctx, layout, subj) is None:
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
