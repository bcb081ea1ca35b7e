"""The households of a per-household form: every one with a finding of the form's rules, then a
seeded sample of the others.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from bangfu.forms.facts.common import in_year
from bangfu.forms.facts.context import PROJECT_CATEGORIES, Context
from bangfu.forms.layouts.common import Layout


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
        recs = [r for r in recs if in_year(r.get("archived_on"), y)]
    elif layout.subject in ("exited", "survey"):
        recs = [r for r in recs if in_year(r.get("exited_on"), y)]
    elif layout.subject == "exited_relief":
        recs = [
            r for r in recs if in_year(r.get("exited_on"), y) and r.get("exit_reason") == "脱困"
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
