"""Audit settings: every threshold, vocabulary and cap of docs/RULES.md, typed, with defaults.

A run may override any of them (``AuditSettings.from_mapping`` / ``.overrides``); the run records
what it used in ``run_settings`` (``.rows()``) and stamps every finding with ``.hash()``.
Nothing here imports Dagster or polars.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Default severities (docs/RULES.md). Kept here, not in the rule registry, because they are
# settings; the rules' order is the registry's (bangfu.rules.registry.ORDER).
DEFAULT_SEVERITIES: dict[str, str] = {
    "PAY_UNARCHIVED": "高",
    "PAY_OUTSIDE_ARCHIVE_PERIOD": "高",
    "PAY_OVER_STANDARD": "中",
    "PAY_DUPLICATE": "高",
    "PAY_CASH": "低",
    "PAY_SHARED_ACCOUNT": "中",
    "PAY_STAFF_RELATED": "高",
    "MED_NON_INSURANCE_RECEIPT": "中",
    "MED_RECEIPT_WRONG_YEAR": "中",
    "MED_OVER_SELF_PAY": "高",
    "PAY_UNLISTED_PROJECT": "高",
    "ID_INVALID": "中",
    "ARCHIVE_INCOME_OVER_LINE": "高",
    "ARCHIVE_PROCEDURE_INCOMPLETE": "中",
    "ARCHIVE_PUBLICITY_SHORT": "低",
    "ECON_CHECK_INCOMPLETE": "中",
    "ECON_CHECK_MISMATCH": "高",
    "EXIT_PROCEDURE_INCOMPLETE": "中",
    "EXIT_CAUSE_NOT_ELIMINATED": "高",
    "EXIT_NO_NOTICE": "低",
    "DUPLICATE_ARCHIVE": "高",
    "MISSED_CANDIDATE": "中",
    "SPEND_OUT_OF_SCOPE": "高",
    "LEDGER_MISMATCH": "中",
    "PAY_FLAT_AMOUNT": "中",
    "TARGET_NOT_MET": "中",
    "NO_PLAN": "低",
    "ALLOCATION_NOT_FACTOR": "低",
    "NO_PERFORMANCE_EVALUATION": "低",
    "EVAL_RATE_ALERT": "中",
}

DEFAULT_FORBIDDEN_VOCAB: tuple[str, ...] = (
    "工资",
    "薪酬",
    "奖金",
    "津贴",
    "福利",
    "办公",
    "车辆",
    "公务用车",
    "购车",
    "加油",
    "手机",
    "通讯",
    "电话费",
    "基建",
    "工程款",
    "装修",
    "维修",
    "招待",
    "会议费",
)

SEVERITY_VALUES = ("高", "中", "低")


def _pairs(value: Any) -> tuple[tuple[Any, Any], ...]:
    """A mapping or an iterable of pairs → a sorted tuple of pairs (hashable, canonical)."""
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((k, v) for k, v in items))


@dataclass(frozen=True)
class AuditSettings:
    # --- income lines (ARCHIVE_INCOME_OVER_LINE, EXIT_CAUSE_NOT_ELIMINATED)
    deep_line_factor: float = 1.0  # 深度困难: per-capita income ≥ 1.0 × dibao fires
    relative_line_factor: float = 1.5  # 相对困难: ≥ 1.5 × dibao fires
    exit_line_factor: float = 1.0  # 脱困: income at exit ≤ 1.0 × dibao × 12 × size fires
    # --- caps (PAY_OVER_STANDARD), months of dibao per household and year; keyed by year
    living_cap_months: int = 12
    education_cap_months: int = 10
    cap_months_by_year: tuple[tuple[int, str, int], ...] = ()  # (year, 'living'|'education', n)
    # --- procedures
    publicity_min_days: int = 5
    # --- payments
    duplicate_window_days: int = 15
    ledger_tolerance_cents: int = 1  # LEDGER_MISMATCH fires when |difference| > this
    listed_projects: tuple[str, ...] = (
        "生活救助",
        "助学救助",
        "医疗救助",
        "职业培训",
        "职业介绍",
        "法律援助",
    )
    warmth_fund: str = "送温暖资金"  # every other fund is 帮扶资金
    # --- flat amounts (PAY_FLAT_AMOUNT)
    flat_share: float = 0.9
    flat_min_households: int = 10
    flat_min_types: int = 2
    # --- evaluation alerts (EVAL_RATE_ALERT)
    missed_rate_alert: float = 0.02
    wrong_exit_rate_alert: float = 0.02
    recognition_rate_min: float = 0.90
    # --- ledger (SPEND_OUT_OF_SCOPE)
    assistance_subjects: tuple[str, ...] = ("困难职工帮扶费", "帮扶补助")
    forbidden_vocab: tuple[str, ...] = DEFAULT_FORBIDDEN_VOCAB
    # --- roster (MISSED_CANDIDATE, EXIT_CAUSE_NOT_ELIMINATED, roster_wrong_exit)
    roster_types: tuple[str, ...] = ("低保", "特困")
    no_employer_values: tuple[str, ...] = ("无", "无业", "待业")
    # --- ID numbers
    id_birth_year_min: int = 1900
    # --- severities per rule
    severities: tuple[tuple[str, str], ...] = field(
        default_factory=lambda: _pairs(DEFAULT_SEVERITIES)
    )

    def __post_init__(self) -> None:
        for name in ("severities", "cap_months_by_year"):
            object.__setattr__(self, name, tuple(tuple(p) for p in getattr(self, name)))
        for name in (
            "listed_projects",
            "assistance_subjects",
            "forbidden_vocab",
            "roster_types",
            "no_employer_values",
        ):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        bad = [s for _, s in self.severities if s not in SEVERITY_VALUES]
        if bad:
            raise ValueError(f"severity must be one of {SEVERITY_VALUES}, got {bad}")
        unknown = [c for c, _ in self.severities if c not in DEFAULT_SEVERITIES]
        if unknown:
            raise ValueError(f"unknown rule codes in severities: {unknown}")
        if not 0 < self.flat_share <= 1:
            raise ValueError("flat_share must be in (0, 1]")

    # ------------------------------------------------------------------ look-ups
    def severity(self, rule_code: str) -> str:
        return dict(self.severities).get(rule_code, DEFAULT_SEVERITIES[rule_code])

    def rate_alerts(self) -> dict[str, float]:
        """The evaluation rates' alert limits (EVAL_RATE_ALERT) by metrics column: the 预警标准
        the forms print next to each rate."""
        return {
            "missed_rate": self.missed_rate_alert,
            "wrong_exit_rate": self.wrong_exit_rate_alert,
            "recognition_rate": self.recognition_rate_min,
        }

    def cap_months(self, year: int, kind: str) -> int:
        """Months of dibao in the yearly cap of 生活救助 ('living') or 助学救助 ('education')."""
        for y, k, n in self.cap_months_by_year:
            if y == year and k == kind:
                return int(n)
        return self.living_cap_months if kind == "living" else self.education_cap_months

    # ------------------------------------------------------------------ identity
    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "severities":
                v = dict(sorted(v))
            elif f.name == "cap_months_by_year":
                v = [list(p) for p in sorted(v)]
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    def canonical_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    def hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    def rows(self, years: Iterable[int] = ()) -> list[tuple[str, str]]:
        """(key, value) rows for ``run_settings``: one per threshold / vocabulary / severity, and
        the caps once per year given (``cap.<year>.living_months`` …), since they change by year."""
        rows: list[tuple[str, str]] = []
        for k, v in self.as_dict().items():
            if k == "severities":
                rows += [(f"severity.{code}", sev) for code, sev in v.items()]
            elif k in ("cap_months_by_year", "living_cap_months", "education_cap_months"):
                continue
            elif isinstance(v, list):
                rows.append((k, json.dumps(v, ensure_ascii=False)))
            else:
                rows.append((k, str(v)))
        rows.append(("living_cap_months", str(self.living_cap_months)))
        rows.append(("education_cap_months", str(self.education_cap_months)))
        for y in sorted(set(years)):
            rows.append((f"cap.{y}.living_months", str(self.cap_months(y, "living"))))
            rows.append((f"cap.{y}.education_months", str(self.cap_months(y, "education"))))
        return rows

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None = None) -> AuditSettings:
        """Build from a plain mapping (YAML / JSON / CLI). Unknown keys are an error;
        ``severities`` may name only the rules it changes."""
        return cls().overrides(**dict(mapping or {}))

    def overrides(self, **changes: Any) -> AuditSettings:
        names = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise ValueError(f"unknown settings: {unknown}")
        clean: dict[str, Any] = {}
        for k, v in changes.items():
            if k == "severities":
                merged = dict(self.severities)
                merged.update(dict(v.items() if isinstance(v, Mapping) else v))
                v = _pairs(merged)
            elif k == "cap_months_by_year":
                if isinstance(v, Mapping):  # {year: {'living': 12, 'education': 10}}
                    v = [(int(y), kk, int(n)) for y, d in v.items() for kk, n in d.items()]
                v = tuple(sorted((int(y), str(kk), int(n)) for y, kk, n in v))
            elif isinstance(v, list | set):
                v = tuple(v)
            else:
                default = getattr(self, k)
                if isinstance(default, bool):
                    v = bool(v)
                elif isinstance(default, int):
                    v = int(v)
                elif isinstance(default, float):
                    v = float(v)
            clean[k] = v
        return dataclasses.replace(self, **clean)


DEFAULT_SETTINGS = AuditSettings()
