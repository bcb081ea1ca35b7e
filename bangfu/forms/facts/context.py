"""The unit-year a fact reads: metrics, findings, the canonical ledger frames (as rows when a fact
asks for them) and the indexes the facts share.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from bangfu.settings import DEFAULT_SETTINGS, AuditSettings

# a 救助项目 of the forms → the payment categories it covers (itself when not listed)
PROJECT_CATEGORIES = {"职业培训和职业介绍": ("职业培训", "职业介绍")}


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
