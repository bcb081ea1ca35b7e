"""Metrics: each unit's own figures, then roll-ups over the unit tree (docs/RULES.md, Metrics)."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from bangfu.frames import METRICS_SCHEMA
from bangfu.rules.common import ID, U, ancestor_pairs, cents, conform, conform_units, in_year

PATHS = {
    "exited_by_path_employment": "就业创业",
    "exited_by_path_insurance": "社会保险",
    "exited_by_path_medical": "医疗保障",
    "exited_by_path_social_assistance": "社会救助兜底",
}
PAID = {
    "paid_living": ("生活救助",),
    "paid_education": ("助学救助",),
    "paid_medical": ("医疗救助",),
    "paid_training": ("职业培训", "职业介绍"),
    "paid_legal": ("法律援助",),
    "paid_warmth": ("送温暖",),
}
# pooled rates: rate column → (numerator, denominator)
RATES = {
    "missed_rate": ("missed_num", "missed_den"),
    "wrong_exit_rate": ("wrong_exit_num", "wrong_exit_den"),
    "wrong_entry_rate": ("wrong_entry_num", "wrong_entry_den"),
    "recognition_rate": ("recognition_num", "recognition_den"),
}
COUNTS = [
    "archived_at_start",
    "archived_at_end",
    "newly_archived",
    "relieved",
    "exited_out_of_hardship",
    *PATHS,
]
HOUSEHOLDS = {c.replace("paid_", "households_"): cats for c, cats in PAID.items()}
RATE_PARTS = [x for pair in RATES.values() for x in pair]
ROSTER = ["roster_missed", "roster_wrong_exit"]
# additive own columns (summed over the subtree)
ADDITIVE_INT = COUNTS + ROSTER + RATE_PARTS + list(HOUSEHOLDS)
ADDITIVE_CENTS = ["paid_total", *PAID]
OWN_ONLY = ["target_relieved", "target_exited"]


def _distinct(cond: pl.Expr) -> pl.Expr:
    return pl.col(ID).filter(cond).drop_nulls().n_unique()


def own_metrics(
    frames: dict[str, pl.DataFrame],
    units: pl.DataFrame,
    roster: pl.DataFrame | None,
    year: int,
    missed_candidates: pl.DataFrame | None,
    present_units: Iterable[str] | None = None,
) -> pl.DataFrame:
    """Each unit's own (not rolled-up) figures for ``year``, with numerators and denominators of the
    rates, paid amounts in 元 and distinct households paid per category. One row per unit in
    ``present_units`` (default: units with any archive or payment row). Counts are distinct IDs.
    ``missed_candidates`` is the year's MISSED_CANDIDATE findings (or any frame with unit_code,
    id_number); roster figures are null when ``roster`` is None."""
    a = conform(frames.get("archive"), "archive")
    p = conform(frames.get("payments"), "payments")
    t = conform(frames.get("targets"), "targets")
    ev = conform(frames.get("evaluation"), "evaluation")
    if present_units is None:
        present = pl.concat([a.select(U), p.select(U)]).drop_nulls().unique()
    else:
        present = pl.DataFrame({U: sorted(set(present_units))}, schema={U: pl.String})
    jan1, dec31 = pl.date(year, 1, 1), pl.date(year, 12, 31)
    ex = pl.col("exited_on")
    out_hardship = in_year(ex, year) & (pl.col("exit_reason") == "脱困")
    arch = a.group_by(U).agg(
        _distinct((pl.col("archived_on") < jan1) & (ex.is_null() | (ex >= jan1))).alias(
            "archived_at_start"
        ),
        _distinct((pl.col("archived_on") <= dec31) & (ex.is_null() | (ex > dec31))).alias(
            "archived_at_end"
        ),
        _distinct(in_year("archived_on", year)).alias("newly_archived"),
        _distinct(in_year("relieved_on", year)).alias("relieved"),
        _distinct(out_hardship).alias("exited_out_of_hardship"),
        *[_distinct(out_hardship & (pl.col("exit_path") == v)).alias(k) for k, v in PATHS.items()],
    )
    pay = (
        p.with_columns(cents("amount").alias("_c"))
        .group_by(U)
        .agg(
            pl.col("_c").sum().alias("paid_total"),
            *[
                pl.col("_c").filter(pl.col("category").is_in(list(c))).sum().alias(k)
                for k, c in PAID.items()
            ],
            *[_distinct(pl.col("category").is_in(list(c))).alias(k) for k, c in HOUSEHOLDS.items()],
        )
    )
    tgt = (
        t.filter(pl.col("target_year") == year)
        .sort(U, "source_row")
        .unique(U, keep="first", maintain_order=True)
        .select(U, "target_relieved", "target_exited")
    )
    st, vd, sat = pl.col("sample_type"), pl.col("verdict"), pl.col("satisfaction")
    evs = ev.group_by(U).agg(
        ((st == "非建档户") & (vd == "漏评")).sum().alias("missed_num"),
        (st == "非建档户").sum().alias("missed_den"),
        ((st == "退档户") & (vd == "错退")).sum().alias("wrong_exit_num"),
        (st == "退档户").sum().alias("wrong_exit_den"),
        ((st == "在档户") & (vd == "错评")).sum().alias("wrong_entry_num"),
        (st == "在档户").sum().alias("wrong_entry_den"),
        sat.is_in(["满意", "基本满意"]).sum().alias("recognition_num"),
        sat.is_not_null().sum().alias("recognition_den"),
    )
    m = present
    for part in (arch, pay, tgt, evs):
        m = m.join(part, on=U, how="left")
    m = m.with_columns(
        [pl.col(c).fill_null(0) for c in COUNTS + RATE_PARTS + list(HOUSEHOLDS) + ADDITIVE_CENTS]
    )
    if roster is None:
        m = m.with_columns(pl.lit(None, pl.Int64).alias(c) for c in ROSTER)
    else:
        r = conform(roster, "civil_roster")
        bad = r.filter(pl.col("roster_type").is_in(["低保", "特困"])).select(ID).unique()
        wrong = (
            a.filter(out_hardship)
            .join(bad, on=ID, how="semi")
            .group_by(U)
            .agg(pl.col(ID).n_unique().alias("roster_wrong_exit"))
        )
        mc = (
            missed_candidates
            if missed_candidates is not None
            else pl.DataFrame(schema={U: pl.String, ID: pl.String})
        )
        if "rule_code" in mc.columns:
            mc = mc.filter(pl.col("rule_code") == "MISSED_CANDIDATE")
        missed = mc.group_by(U).agg(pl.col(ID).n_unique().alias("roster_missed"))
        m = m.join(missed, on=U, how="left").join(wrong, on=U, how="left")
        m = m.with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in ROSTER)
    m = m.with_columns(pl.lit(year, pl.Int64).alias("year"))
    m = _finish(m)
    return m.sort(U)


def _finish(m: pl.DataFrame) -> pl.DataFrame:
    """Cents → 元, rates and per-household levels from their parts, dtypes."""
    m = m.with_columns(
        [pl.col(c).cast(pl.Int64) for c in ADDITIVE_INT + OWN_ONLY]
        + [(pl.col(c) / 100).cast(pl.Float64) for c in ADDITIVE_CENTS]
    )
    m = m.with_columns(
        [
            pl.when(pl.col(d) > 0).then(pl.col(n) / pl.col(d)).otherwise(None).alias(r)
            for r, (n, d) in RATES.items()
        ]
        + [
            pl.when(pl.col(h) > 0)
            .then((pl.col(p) / pl.col(h)).round(2))
            .otherwise(None)
            .alias(p.replace("paid_", "per_household_"))
            for p, h in zip(PAID, HOUSEHOLDS, strict=True)
        ]
    )
    return m


def rollup(
    own: pl.DataFrame,
    units: pl.DataFrame,
    year: int,
    present_units: Iterable[str] | None,
    findings: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """METRICS_SCHEMA (then the parts of the rates and per-household levels): one row per unit of
    units.csv. Additive figures are the sum of the own figures of the unit's subtree over the units
    present (null when none is), rates pooled, targets the unit's own, ``complete`` false when the
    unit or any unit below it is not present. ``findings_total`` counts ``findings`` rows of the
    subtree (null when ``findings`` is None; see :func:`with_findings_total`)."""
    u = conform_units(units)
    pairs = ancestor_pairs(u)
    present = set(present_units) if present_units is not None else set(own.get_column(U).to_list())
    own = own.filter(pl.col(U).is_in(sorted(present)))
    sub = pairs.join(own.select(U, *ADDITIVE_INT, *ADDITIVE_CENTS), on=U, how="left")
    sub = sub.with_columns(pl.col(U).is_in(sorted(present)).alias("_present"))
    agg = (
        sub.group_by("ancestor_code")
        .agg(
            pl.col("_present").all().alias("complete"),
            pl.col("_present").any().alias("_any"),
            *[
                pl.when(pl.col(c).is_not_null().any())
                .then(pl.col(c).sum())
                .otherwise(None)
                .alias(c)
                for c in ADDITIVE_INT
            ],
            *[
                pl.when(pl.col(c).is_not_null().any())
                .then((pl.col(c) * 100).round(0).cast(pl.Int64).sum())
                .otherwise(None)
                .alias(c)
                for c in ADDITIVE_CENTS
            ],
        )
        .rename({"ancestor_code": U})
    )
    m = (
        u.select(U, "level")
        .join(agg, on=U, how="left")
        .join(own.select(U, *OWN_ONLY), on=U, how="left")
    )
    m = m.with_columns(pl.lit(year, pl.Int64).alias("year"), pl.col("complete").fill_null(False))
    m = _finish(m)
    m = with_findings_total(m, units, findings)
    extra = [c for c in m.columns if c not in METRICS_SCHEMA and not c.startswith("_")]
    return m.select([pl.col(c).cast(d) for c, d in METRICS_SCHEMA.items()] + extra).sort(U)


def with_findings_total(
    rolled: pl.DataFrame,
    units: pl.DataFrame,
    findings: pl.DataFrame | None,
    *,
    counts: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """(Re)count ``findings_total``: findings rows whose unit is the unit or below it.

    ``counts`` (unit_code, n): further findings already counted per unit (e.g. by SQL), added to
    the rows of ``findings``."""
    if findings is None and counts is None:
        return rolled.with_columns(pl.lit(None, pl.Int64).alias("findings_total"))
    pairs = ancestor_pairs(units)
    per_unit = [] if findings is None else [findings.group_by(U).agg(pl.len().alias("_n"))]
    if counts is not None:
        per_unit.append(counts.rename({"n": "_n"}))
    n = (
        pl.concat(
            [p.select(pl.col(U).cast(pl.String), pl.col("_n").cast(pl.Int64)) for p in per_unit]
        )
        .join(pairs, on=U, how="inner")
        .group_by("ancestor_code")
        .agg(pl.col("_n").sum().cast(pl.Int64).alias("findings_total"))
        .rename({"ancestor_code": U})
    )
    rolled = rolled.drop("findings_total", strict=False).join(n, on=U, how="left")
    rolled = rolled.with_columns(pl.col("findings_total").fill_null(0))
    cols = [c for c in METRICS_SCHEMA if c in rolled.columns]
    return rolled.select(cols + [c for c in rolled.columns if c not in cols])
