"""Facts of the per-record forms: 建档 and 退档 steps (十一, 十四), the family's economic check (十二),
脱困 (十五) and the exit surveys (十六, 十七).
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from bangfu.forms.facts.common import PENDING, date_text, yuan
from bangfu.forms.facts.context import Context
from bangfu.forms.facts.registry import fact
from bangfu.forms.facts.subjects import Subject
from bangfu.forms.layouts.common import Layout
from bangfu.sentences import clause
from bangfu.sheets import EXIT_STEPS


# ---------------------------------------------------------------- 十一 十四 steps, 十二 economic check
def exit_steps_lacking(ctx: Context, archive_no: str) -> list[str]:
    """Exit steps lacking (absent, undated or without evidence)."""
    steps = ctx.steps.get((archive_no, "退档"), {})
    bad = []
    for step in EXIT_STEPS:
        row = steps.get(step)
        if not row or not row.get("done_on") or row.get("evidence") == "无":
            bad.append(step)
    return bad


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
        facts.append(f"完成日期 {date_text(row['done_on'])}")
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
        problems.append(f"晚于建档日期 {date_text(arc)}")
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
        text += f"建档程序数据比对环节：{'完成于 ' + date_text(step.get('done_on')) if step and step.get('done_on') else '未见记录'}。"
    return text


# ---------------------------------------------------------------- 十五 脱困
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
        f"建档日期 {date_text(rec.get('archived_on'))}，建档时{_income_line(ctx, rec)}。"
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
        f"退档日期 {date_text(rec.get('exited_on'))}，退档原因 {rec.get('exit_reason') or '未记录'}；"
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
        bad = exit_steps_lacking(ctx, subj.key)
        text += "；退档证明材料" + ("齐全" if not bad else "不齐全（" + "、".join(bad) + "）")
    return text + "。"


@fact("exit_procedure")
def _exit_procedure(ctx, layout, subj, year):
    if not ctx.has("procedures"):
        return f"程序记录未提供，{PENDING}"
    bad = exit_steps_lacking(ctx, subj.key)
    if not bad:
        return "是。七个退档环节均有完成日期和证明材料（详见退档程序审定表）。"
    return "否。缺少或不完整的环节：" + "、".join(bad) + "（详见退档程序审定表）。"


# ---------------------------------------------------------------- 十六 十七 exit surveys
def survey_row(ctx: Context, layout: Layout, subj: Subject) -> dict | None:
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
    row = survey_row(ctx, layout, subj)
    if row is None:
        return f"未见{layout.survey_mode}调查记录，待审计人员{layout.survey_mode}调查后填写"
    answer = row.get(col) or "未回答"
    text = (
        f"{answer}（{layout.survey_mode}调查，{date_text(row.get('surveyed_on')) or '日期未记录'}）"
    )
    if col == "agrees" and subj.record:
        text += f"；退档时{_income_line(ctx, subj.record, 'income_at_exit')}"
    return text
