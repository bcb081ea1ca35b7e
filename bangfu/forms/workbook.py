"""Entry point: one unit-year's audit workbook (目录, 底稿, 取证单, the seventeen forms, 审计发现明细).

    write_unit_workbook(out_path, year=…, unit=…, metrics=…, findings=…, ledger=…, dibao_monthly=…)

The file is written to a temporary file in the same folder and moved into place (os.replace), so
no reader ever sees half a workbook.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import polars as pl
from openpyxl import Workbook

import bangfu.forms.evidence as evidence
import bangfu.forms.review_sheets as rs
from bangfu.forms.facts.context import Context
from bangfu.forms.facts.registry import compute
from bangfu.forms.facts.subjects import Subject, subjects
from bangfu.forms.layouts import FORMS
from bangfu.forms.layouts.common import Each, F, Layout, S
from bangfu.forms.writer import Block, Cell, save_workbook, write_sheet
from bangfu.frames import FINDINGS_SCHEMA
from bangfu.lake import temp_prefix
from bangfu.review.state import UnitReview
from bangfu.settings import DEFAULT_SETTINGS, AuditSettings

INDEX_SHEET = "目录"
WORKPAPER_SHEET = "一 审计工作底稿"
EVIDENCE_SHEET = "二 审计取证单"
LISTING_SHEET = "审计发现明细"


def build_context(
    *,
    year: int,
    unit: dict,
    metrics: pl.DataFrame | None,
    findings: pl.DataFrame | None,
    ledger: dict | None,
    dibao_monthly: float | None,
    edu_standard: float | None = None,
    medical_standard: float | None = None,
    settings: AuditSettings | None = None,
    review: UnitReview | None = None,
) -> tuple[Context, list[evidence.Group]]:
    mrows = metrics.to_dicts() if metrics is not None and not metrics.is_empty() else []
    by_year = {
        int(r["year"]): r
        for r in mrows
        if r.get("year") is not None
        and (not r.get("unit_code") or r.get("unit_code") == unit.get("unit_code"))
    }
    years = sorted(y for y in by_year if y <= year) or list(range(year - 2, year + 1))
    frows = []
    if findings is not None and not findings.is_empty():
        for col, dtype in FINDINGS_SCHEMA.items():
            if col not in findings.columns:
                findings = findings.with_columns(pl.lit(None, dtype=dtype).alias(col))
        frows = findings.to_dicts()
    review = review if review is not None else UnitReview()
    # 排除 (dismissed) findings leave the 取证单, the forms' conclusions and the report
    kept = [f for f in frows if review.verdict(f.get("finding_id")) != "排除"]
    ctx = Context(
        year=year,
        unit=dict(unit),
        years=years,
        metrics=by_year,
        findings=kept,
        frames={k: v for k, v in (ledger or {}).items() if v is not None},
        dibao=dibao_monthly,
        edu_standard=edu_standard,
        medical_standard=medical_standard,
        settings=settings or DEFAULT_SETTINGS,
    )
    ctx.review, ctx.all_findings = review, frows
    groups = evidence.group_findings(kept)
    ctx.qz_index = {g.rule: g.index for g in groups}
    return ctx, groups


def _expand(rows, ctx: Context):
    """Yield (cells, year) with Each groups repeated per year."""
    for item in rows:
        if isinstance(item, Each):
            years = list(ctx.years)
            if item.over == "target_year":
                years = years + [years[-1] + 1]
            for y in years:
                for row in item.rows:
                    yield tuple(c.format(year=y) if isinstance(c, str) else c for c in row.cells), y
        else:
            yield item.cells, None


def form_block(layout: Layout, ctx: Context, subj: Subject | None, auditor: dict) -> Block:
    unit_line = f"被审计单位：{ctx.unit_name}"
    meta = [(unit_line, "left")]
    if subj is not None:
        meta += [
            (f"困难职工姓名：{subj.name or '（档案无记录）'}", "left"),
            (f"身份证号码：{subj.id_number or '（档案无记录）'}", "left"),
            (f"联系电话：{subj.phone or '（档案无记录）'}", "left"),
        ]
    for extra in layout.extra_meta:
        if extra == "评估年度":
            meta.append((f"评估年度：{ctx.year}", "left"))
        else:
            meta.append((extra, "right"))
    index = f"底稿索引号：{layout.index}"
    if subj is not None:
        index += f"　　选取原因：{subj.reason}"
    meta.append((index, "right"))
    rows = []
    for cells, y in _expand(layout.rows, ctx):
        out = []
        for c in cells:
            if isinstance(c, F):
                out.append(Cell(compute(ctx, layout, subj, c.key, c.args, y), 1, "value"))
            elif isinstance(c, S):
                out.append(Cell(c.text, c.span, "label"))
            else:
                out.append(Cell(c, 1, "label"))
        rows.append(out)
    names = {"主审": auditor.get("lead") or "", "审计人员": _members(auditor)}
    when = auditor.get("date") or ""
    footer = "　　　　".join(f"{label}：{names.get(label, when)}" for label in layout.footer)
    return Block(
        title=layout.title,
        meta=meta,
        header=list(layout.header),
        rows=rows,
        footer=[footer],
    )


def _members(auditor: dict) -> str:
    m = auditor.get("members") or ""
    return "、".join(m) if isinstance(m, list | tuple) else str(m)


def write_unit_workbook(
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
) -> dict:
    """Write the unit-year's audit workbook to ``out_path`` atomically; return what was written.

    ``prepared``: what :func:`build_context` returned for the same arguments (shared with the
    report writer, which reads the same context without changing it), else it is built here."""
    started = time.perf_counter()
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
    form_blocks: dict[str, list[Block]] = {}
    conclusions: dict[str, str] = {}
    households: dict[str, tuple[int, int]] = {}
    for layout in FORMS:
        if layout.per_household:
            subs = subjects(layout, ctx, sample_size, seed)
            flagged = sum(1 for s in subs if s.findings)
            households[layout.key] = (flagged, len(subs) - flagged)
            blocks = [form_block(layout, ctx, s, auditor) for s in subs]
            if not blocks:
                blocks = [_empty_form(layout, ctx, auditor)]
            conclusions[layout.key] = _household_summary(layout, subs, sample_size, seed)
        else:
            blocks = [form_block(layout, ctx, None, auditor)]
            conclusions[layout.key] = compute(ctx, layout, None, "conclusion", (), None)
        form_blocks[layout.key] = blocks

    wb = Workbook(write_only=True)
    index_rows = []
    sheets = [INDEX_SHEET, WORKPAPER_SHEET, EVIDENCE_SHEET]
    index_rows.append(["一", "DG-00…", WORKPAPER_SHEET, "审计工作底稿（每审计事项一份）", ""])
    index_rows.append(
        ["二", "QZ-…", EVIDENCE_SHEET, f"审计取证单 {len(groups)} 份", f"{len(ctx.findings)} 条"]
    )
    for layout in FORMS:
        n = len(form_blocks[layout.key])
        count = f"{n} 户" if layout.per_household and households[layout.key] != (0, 0) else ""
        index_rows.append([layout.no, layout.index, layout.sheet, layout.title, count])
        sheets.append(layout.sheet)
    counts = rs.progress_counts(ctx)
    index_rows.append(
        ["", "", LISTING_SHEET, "审计发现明细（全部，含复核结论）", f"{len(ctx.all_findings)} 条"]
    )
    index_rows.append(["", "", rs.OPINION_SHEET, "证据提供单位意见、审核意见", ""])
    index_rows.append(["", "", rs.DISMISSED_SHEET, "经复核排除的审计发现", f"{counts['排除']} 条"])
    index_rows.append(
        ["", "", rs.PREVIOUS_SHEET, "上年度问题整改情况", f"{len(ctx.review.previous)} 条"]
    )
    sheets += [
        LISTING_SHEET,
        rs.OPINION_SHEET,
        rs.DISMISSED_SHEET,
        rs.PREVIOUS_SHEET,
        rs.IDENT_SHEET,
    ]
    progress = [(f"复核进度：{rs.progress_text(counts)}。", "left")]
    if ctx.review.below:
        progress.append((f"下级单位复核进度：{rs.progress_text(ctx.review.below)}。", "left"))
    index_block = Block(
        title=f"{ctx.unit_name} {year} 年度帮扶资金、送温暖资金专项审计工作底稿目录",
        meta=[
            (f"单位代码：{unit.get('unit_code') or ''}　级别：{unit.get('level') or ''}", "left"),
            *progress,
        ],
        header=[("序号", 1), ("索引号", 1), ("工作表", 1), ("表单", 1), ("份数 / 条数", 1)],
        rows=[[Cell(v, 1, "value") for v in r] for r in index_rows],
        merge_labels=False,
    )
    written_at = ctx.review.as_of or datetime.now(UTC)
    write_sheet(wb, INDEX_SHEET, (6, 12, 20, 50, 14), [index_block], protect=True)
    write_sheet(
        wb,
        WORKPAPER_SHEET,
        evidence.DG_WIDTHS,
        evidence.workpaper_blocks(
            ctx, list(FORMS), groups, conclusions, households, auditor, sample_size, seed
        ),
        protect=True,
    )
    write_sheet(
        wb,
        EVIDENCE_SHEET,
        evidence.QZ_WIDTHS,
        evidence.evidence_blocks(ctx, groups, auditor),
        landscape=True,
        repeat_header=False,
        protect=True,
    )
    for layout in FORMS:
        write_sheet(wb, layout.sheet, layout.widths, form_blocks[layout.key], protect=True)
    write_sheet(
        wb,
        LISTING_SHEET,
        evidence.LIST_WIDTHS,
        [evidence.listing_block(ctx, groups)],
        landscape=True,
        repeat_header=True,
        autofilter=True,
        protect=True,
    )
    write_sheet(
        wb, rs.OPINION_SHEET, rs.OPINION_WIDTHS, rs.opinion_blocks(ctx, groups), protect=True
    )
    write_sheet(
        wb,
        rs.DISMISSED_SHEET,
        rs.DISMISSED_WIDTHS,
        [rs.dismissed_block(ctx)],
        landscape=True,
        protect=True,
    )
    write_sheet(wb, rs.PREVIOUS_SHEET, rs.PREVIOUS_WIDTHS, [rs.previous_block(ctx)], protect=True)
    rs.write_ident_sheet(wb, ctx, written_at, groups)
    out_path = Path(out_path)
    atomic_save(out_path, partial(save_workbook, wb))
    return {
        "path": str(out_path),
        "sheets": sheets,
        "counts": {
            "forms": len(FORMS),
            "findings": len(ctx.findings),
            "findings_all": len(ctx.all_findings),
            "review": counts,
            "evidence_sheets": len(groups),
            "workpapers": len(FORMS) + (1 if any(g.home == 0 for g in groups) else 0),
            "households": {k: a + b for k, (a, b) in households.items()},
            "households_with_findings": {k: a for k, (a, _b) in households.items()},
        },
        "evidence_index": {g.rule: g.index for g in groups},
        "seconds": round(time.perf_counter() - started, 3),
    }


def _empty_form(layout: Layout, ctx: Context, auditor: dict) -> Block:
    """A blank form (no household to show): the layout with facts left for the auditor."""
    block = form_block(layout, ctx, Subject("", None, None, None, reason="无适用户"), auditor)
    block.meta.insert(
        1,
        (f"{ctx.year} 年度本单位无适用的户（{_population_name(layout)}），本表留空备用。", "left"),
    )
    for row in block.rows:
        for cell in row:
            if cell.kind == "value" and cell.value not in ("",):
                cell.value = ""
    return block


def _population_name(layout: Layout) -> str:
    return {
        "archived": "本年新建档",
        "exited": "本年退档",
        "exited_relief": "本年脱困退档",
        "survey": "本年退档",
        "payer": f"本年{layout.category}发放",
    }.get(layout.subject, "")


def _household_summary(layout: Layout, subs: list[Subject], sample_size: int, seed: int) -> str:
    flagged = [s for s in subs if s.findings]
    sampled = len(subs) - len(flagged)
    text = f"共编制{layout.title} {len(subs)} 户。"
    if flagged:
        rules = sorted({f["rule_code"] for s in flagged for f in s.findings})
        text += f"其中 {len(flagged)} 户有审计发现（规则：{'、'.join(rules)}），详见各户审计结论；"
    else:
        text += "均无审计发现；"
    text += f"随机抽样 {sampled} 户（每表 {sample_size} 户，种子 {seed}）"
    text += "，未发现问题。" if sampled else "。"
    return text


def atomic_save(out_path: Path, save) -> None:
    """Call ``save(tmp_path)`` for a temp file beside ``out_path``, then move it into place."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # named for its host and process: bangfu.lake.sweep_stale_temp removes it if we get killed
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(out_path), suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    try:
        save(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
