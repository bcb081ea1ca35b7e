"""What a unit-year's workbook and report show of the judgments (read from the journal once per
chunk of units, handed to the writers as plain values)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from bangfu.review import journal
from bangfu.review.values import VERDICT
from warehouse import tables
from warehouse.store import Warehouse

# how last year's confirmed problem stands this year (上年度问题整改情况)
STILL_THERE, RECTIFIED, GONE = "仍存在", "已整改", "本年不再出现"


@dataclass
class UnitReview:
    """The judgments of one (year, unit): journal rows as dicts (value, note, decided_by, …)."""

    verdicts: dict[str, dict] = field(default_factory=dict)  # finding_id → row
    evidence: dict[str, dict] = field(default_factory=dict)  # rule_code → row
    workpapers: dict[str, dict] = field(default_factory=dict)  # form number 五… → row
    vanished: list[dict] = field(default_factory=list)  # judged findings the data no longer give
    previous: list[dict] = field(default_factory=list)  # last year's confirmed, with "status"
    below: dict[str, int] = field(default_factory=dict)  # verdict counts of the units below
    as_of: datetime | None = None  # when the journal was read (the workbook's "written at")

    def verdict(self, finding_id: str | None) -> str:
        row = self.verdicts.get(finding_id or "")
        return row["value"] if row else VERDICT.default


def load(
    wh: Warehouse,
    year: int,
    units: list[str],
    found: pl.DataFrame,
    *,
    descendants: dict[str, list[str]] | None = None,
) -> dict[str, UnitReview]:
    """unit → :class:`UnitReview` for these units of ``year``; ``found``: their findings rows
    of the year (finding_id, unit_code, subject_id). ``descendants``: unit → the units below
    it, whose findings' verdicts its 目录 counts."""
    as_of = datetime.now(UTC)
    out = {u: UnitReview(as_of=as_of) for u in units}
    if not units:
        return out
    cur = journal.current(wh, years=[year - 1, year], units=units)
    produced = set(found["finding_id"].to_list()) if not found.is_empty() else set()
    for r in cur.iter_rows(named=True):
        ur = out[r["unit_code"]]
        if r["year"] == year:
            if r["target_kind"] == "finding":
                if r["target_key"] in produced:
                    ur.verdicts[r["target_key"]] = r
                else:
                    ur.vanished.append(r)
            elif r["target_kind"] == "evidence":
                ur.evidence[r["target_key"]] = r
            elif r["target_kind"] == "workpaper":
                ur.workpapers[r["target_key"]] = r
    # 上年度问题整改情况: last year's 确认 / 已整改 findings, by subject_id against this year's
    last = cur.filter(
        (pl.col("year") == year - 1)
        & (pl.col("target_kind") == "finding")
        & pl.col("value").is_in(["确认", "已整改"])
    )
    if last.height:
        details = wh.read(tables.findings, year=year - 1, unit_code=units)
        detail_of = (
            {r["finding_id"]: r for r in details.iter_rows(named=True)} if details.height else {}
        )
        now_subjects = (
            {
                (r["unit_code"], r["subject_id"])
                for r in found.select("unit_code", "subject_id").iter_rows(named=True)
            }
            if not found.is_empty() and "subject_id" in found.columns
            else set()
        )
        for r in last.iter_rows(named=True):
            f = detail_of.get(r["target_key"], {})
            subject = r.get("subject_id") or f.get("subject_id")
            if subject and (r["unit_code"], subject) in now_subjects:
                status = STILL_THERE
            elif r["value"] == "已整改":
                status = RECTIFIED
            else:
                status = GONE
            out[r["unit_code"]].previous.append(
                {
                    **r,
                    "rule_code": r.get("rule_code") or f.get("rule_code"),
                    "detail": f.get("detail") or "",
                    "status": status,
                }
            )
    if descendants:
        below_units = sorted({d for u in units for d in descendants.get(u, [])})
        if below_units:
            below_found = _finding_ids(wh, year, below_units)
            counts = journal.progress(wh, below_found)
            for u in units:
                mine = counts.filter(pl.col("unit_code").is_in(descendants.get(u, [])))
                out[u].below = (
                    {v: int(mine[v].sum()) for v in VERDICT.values} if mine.height else {}
                )
    return out


def _finding_ids(wh: Warehouse, year: int, units: Iterable[str]) -> pl.DataFrame:
    from sqlalchemy import select

    f = tables.findings
    with wh.engine.connect() as conn:
        rows = conn.execute(
            select(f.c.year, f.c.unit_code, f.c.finding_id).where(
                f.c.year == year, f.c.unit_code.in_(sorted(set(units)))
            )
        ).fetchall()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema={"year": pl.Int64, "unit_code": pl.String, "finding_id": pl.String},
        orient="row",
    )


def descendants_of(units: pl.DataFrame) -> dict[str, list[str]]:
    """unit_code → every unit below it (units.csv's parent_code tree)."""
    children: dict[str, list[str]] = {}
    for r in units.select("unit_code", "parent_code").iter_rows(named=True):
        if r["parent_code"]:
            children.setdefault(r["parent_code"], []).append(r["unit_code"])
    out: dict[str, list[str]] = {}

    def walk(u: str) -> list[str]:
        if u not in out:
            acc: list[str] = []
            for c in children.get(u, []):
                acc.append(c)
                acc.extend(walk(c))
            out[u] = acc
        return out[u]

    for u in units["unit_code"].to_list():
        walk(u)
    return out


def ancestors_of(units: pl.DataFrame, unit: str) -> list[str]:
    """The units above ``unit`` (its parent, the parent's parent …)."""
    parent = dict(units.select("unit_code", "parent_code").iter_rows())
    out, u = [], parent.get(unit)
    while u and u not in out:
        out.append(u)
        u = parent.get(u)
    return out


def with_units_above(keys: Iterable[tuple[int, str]], units) -> list[tuple[int, str]]:
    """The keys and, for each, the same year's units above its unit (whose outputs count the
    findings below them), and the unit's next year (its 上年度问题整改情况 lists this year's
    confirmed findings; a year not registered is left out when the runs are made)."""
    out = set()
    for year, unit in keys:
        out.update({(year, unit), (year + 1, unit)})
        if units is not None:
            out.update((year, a) for a in ancestors_of(units, unit))
    return sorted(out)
