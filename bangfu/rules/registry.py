"""The rule registry: each rule is a small function registered with its code, kind, subject key and
basis; one runner turns what the functions return into rows of ``FINDINGS_SCHEMA``.

A rule function takes a :class:`~bangfu.rules.common.Context` and returns a frame with
``unit_code``, ``detail`` and whatever of ``id_number, archive_no, payment_no, voucher_no,
category, amount, source_file, source_sheet, source_row`` applies (the runner fills the rest with
nulls), optionally ``_subject`` (the subject key text, when it is not simply ``keys``).
The runner adds year, rule_code, severity (from the settings), basis, finding_id and
settings_hash, and casts to the schema.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import polars as pl

from bangfu.frames import FINDINGS_SCHEMA
from bangfu.rules.common import Context

KINDS = ("payment", "archive", "ledger", "unit", "cross", "rollup")
KEYS_BY_KIND = {
    "payment": ("payment_no",),
    "archive": ("archive_no",),
    "ledger": ("voucher_no",),
    "unit": ("category",),
    "cross": ("archive_no",),
    "rollup": ("category",),
}
FINDING_ID_CHARS = 20

# The rules in the order of rules.md, their order of importance: rules run in it (so findings
# stack in it) and a finding's rule ranks by it. Every registered rule has its place here;
# their default severities are settings (bangfu.settings.DEFAULT_SEVERITIES).
ORDER: tuple[str, ...] = (
    # payments
    "PAY_UNARCHIVED",
    "PAY_OUTSIDE_ARCHIVE_PERIOD",
    "PAY_OVER_STANDARD",
    "PAY_DUPLICATE",
    "PAY_CASH",
    "PAY_SHARED_ACCOUNT",
    "PAY_STAFF_RELATED",
    "MED_NON_INSURANCE_RECEIPT",
    "MED_RECEIPT_WRONG_YEAR",
    "MED_OVER_SELF_PAY",
    "PAY_UNLISTED_PROJECT",
    "ID_INVALID",
    # archive records
    "ARCHIVE_INCOME_OVER_LINE",
    "ARCHIVE_PROCEDURE_INCOMPLETE",
    "ARCHIVE_PUBLICITY_SHORT",
    "ECON_CHECK_INCOMPLETE",
    "ECON_CHECK_MISMATCH",
    "EXIT_PROCEDURE_INCOMPLETE",
    "EXIT_CAUSE_NOT_ELIMINATED",
    "EXIT_NO_NOTICE",
    "DUPLICATE_ARCHIVE",
    "MISSED_CANDIDATE",
    # ledger
    "SPEND_OUT_OF_SCOPE",
    "LEDGER_MISMATCH",
    # unit
    "PAY_FLAT_AMOUNT",
    "TARGET_NOT_MET",
    "NO_PLAN",
    "ALLOCATION_NOT_FACTOR",
    "NO_PERFORMANCE_EVALUATION",
    "EVAL_RATE_ALERT",
)


@dataclass(frozen=True)
class Rule:
    code: str
    kind: str  # payment | archive | ledger | unit | cross | rollup
    title: str  # the problem, as a heading of the report's 审计发现的主要问题
    basis: str  # rule and document article, written into every finding
    keys: tuple[str, ...]  # subject key columns hashed into finding_id (after year, unit, rule)
    fn: Callable[[Context], pl.DataFrame] | None  # None for rollup rules (run by rollup_findings)
    order: int  # its place in ORDER (the order of docs/RULES.md)
    settings: tuple[str, ...] = ()  # the AuditSettings fields (thresholds …) the rule reads


RULES: dict[str, Rule] = {}


def rule(
    code: str,
    kind: str,
    title: str,
    basis: str,
    keys: Iterable[str] | None = None,
    settings: Iterable[str] = (),
):
    """Register ``fn`` as rule ``code``; ``settings`` names the thresholds and vocabularies it
    reads (docs/RULES.md lists them with their defaults)."""
    if kind not in KINDS:
        raise ValueError(kind)

    def deco(fn):
        if code in RULES:
            raise ValueError(f"rule {code} registered twice")
        if code not in ORDER:
            raise ValueError(f"rule {code} has no place in registry.ORDER")
        RULES[code] = Rule(
            code=code,
            kind=kind,
            title=title,
            basis=basis,
            keys=tuple(keys) if keys is not None else KEYS_BY_KIND[kind],
            fn=fn,
            order=ORDER.index(code),
            settings=tuple(settings),
        )
        return fn

    return deco


def rules_of(kinds: Iterable[str]) -> list[Rule]:
    kinds = set(kinds)
    return sorted((r for r in RULES.values() if r.kind in kinds), key=lambda r: r.order)


def empty_findings() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDINGS_SCHEMA)


def _sha(keys: pl.Series) -> pl.Series:
    # hashlib per finding (not per input row): polars has no stable cryptographic hash.
    return pl.Series(
        [hashlib.sha256(k.encode("utf-8")).hexdigest()[:FINDING_ID_CHARS] for k in keys],
        dtype=pl.String,
    )


def finding_id_expr(keys: Iterable[str], *, with_year: bool = True) -> pl.Expr:
    """sha256 of 'year|unit_code|rule_code|subject', truncated to 20 hex characters.

    ``with_year=False``: the same without the year — the ``subject_id`` that recognises the same
    problem of the same subject from one year to the next (上年度问题整改情况)."""
    subject = (
        pl.col("_subject")
        if "_subject" in keys
        else pl.concat_str([pl.col(k).cast(pl.String).fill_null("") for k in keys], separator="|")
    )
    parts = [pl.col("unit_code").fill_null(""), pl.col("rule_code"), subject]
    if with_year:
        parts.insert(0, pl.col("year").cast(pl.String))
    return pl.concat_str(parts, separator="|").map_batches(_sha, return_dtype=pl.String)


def finalise(out: pl.DataFrame, r: Rule, year: int, settings) -> pl.DataFrame:
    """Rule output → FINDINGS_SCHEMA rows."""
    if out.height == 0:
        return empty_findings()
    fill = [
        pl.lit(None, dtype).alias(c)
        for c, dtype in FINDINGS_SCHEMA.items()
        if c not in out.columns and c not in ("finding_id", "subject_id")
    ]
    out = out.with_columns(fill).with_columns(
        pl.lit(year, pl.Int64).alias("year"),
        pl.lit(r.code).alias("rule_code"),
        pl.lit(settings.severity(r.code)).alias("severity"),
        pl.lit(r.basis).alias("basis"),
        pl.lit(settings.hash()).alias("settings_hash"),
    )
    keys = ("_subject",) if "_subject" in out.columns else r.keys
    out = out.with_columns(
        finding_id_expr(keys).alias("finding_id"),
        finding_id_expr(keys, with_year=False).alias("subject_id"),
    )
    out = out.select([pl.col(c).cast(d) for c, d in FINDINGS_SCHEMA.items()])
    # 元 to the cent, the nearest double: polars divides a column of cents by 100 through the
    # reciprocal (…87 / 100 → 1196.8700000000001) but one row exactly, so without this the
    # same finding's amount would depend on how many rows were computed with it.
    out = out.with_columns(pl.col("amount").round(2))
    return out.sort(
        ["unit_code", "source_row", "payment_no", "archive_no", "voucher_no"], nulls_last=True
    )


def run(rules: Iterable[Rule], ctx: Context) -> pl.DataFrame:
    """Run rules in registry order and stack their findings."""
    parts = [finalise(r.fn(ctx), r, ctx.year, ctx.settings) for r in rules if r.fn is not None]
    parts = [p for p in parts if p.height]
    return pl.concat(parts) if parts else empty_findings()
