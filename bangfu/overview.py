"""The audit office's view across units for one year: rankings, targets, rates, year on year and
first-two-digit Benford screens (``<data>/overview/<year>.xlsx``, written by
``bangfu.overview_workbook``). Pure polars over the warehouse (findings, unit_year_metrics, the
review journal when there is one) and the lake (payments, 会计明细账); no Dagster here.

Findings whose current 复核结论 is 排除 do not count anywhere in the overview (review.md); a
warehouse without the ``reviews`` table, or with no judgment on a finding, excludes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from sqlalchemy import MetaData, Table, func, inspect, select

from bangfu.benford import (
    benford,
    benford_counts,
)
from bangfu.forms.rule_homes import rule_info
from bangfu.lake import Lake
from bangfu.rules.common import LEVEL_ORDER, ancestor_pairs, conform_units
from bangfu.settings import AuditSettings
from warehouse import tables
from warehouse.store import Warehouse

SEVERITIES = ("高", "中", "低")
VERDICTS = ("待核实", "确认", "排除", "已整改")
DISMISSED = "排除"


# ------------------------------------------------------------------ reading
def current_verdicts(wh: Warehouse, years: list[int]) -> pl.DataFrame:
    """(finding_id, verdict): the latest journal row (largest review_id) of every finding of these
    years that has one. No ``reviews`` table yet: empty."""
    schema = {"finding_id": pl.String, "verdict": pl.String}
    if not inspect(wh.engine).has_table("reviews"):
        return pl.DataFrame(schema=schema)
    reviews = getattr(tables, "reviews", None)
    if reviews is None:  # the table exists, made by a newer version: its columns as they are
        reviews = Table("reviews", MetaData(), autoload_with=wh.engine)
    c = reviews.c
    latest = (
        select(func.max(c.review_id).label("review_id"))
        .where(c.target_kind == "finding", c.year.in_(years))
        .group_by(c.target_key)
        .subquery()
    )
    stmt = select(c.target_key, c.value).join(latest, c.review_id == latest.c.review_id)
    with wh.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(stmt).fetchall()]
    return pl.DataFrame(rows, schema=schema, orient="row")


def read_findings(wh: Warehouse, years: list[int]) -> pl.DataFrame:
    """The findings of these years, only the columns the overview uses (all stages)."""
    f = tables.findings
    cols = (f.c.year, f.c.unit_code, f.c.rule_code, f.c.severity, f.c.amount, f.c.finding_id)
    with wh.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(*cols).where(f.c.year.in_(years)))]
    schema = {
        "year": pl.Int64,
        "unit_code": pl.String,
        "rule_code": pl.String,
        "severity": pl.String,
        "amount": pl.Float64,
        "finding_id": pl.String,
    }
    rows = [(*r[:4], None if r[4] is None else float(r[4]), r[5]) for r in rows]
    return pl.DataFrame(rows, schema=schema, orient="row")


def read_metrics(wh: Warehouse, year: int) -> pl.DataFrame:
    """unit_year_metrics of the year, money and rates as Float64 (the warehouse keeps Numeric);
    typed even when the year has no rows."""
    frame = wh.read(tables.unit_year_metrics, year=year)
    schema = {c.name: _dtype(c.type) for c in tables.unit_year_metrics.columns}
    if frame.is_empty():
        return pl.DataFrame(schema=schema)
    return frame.with_columns([pl.col(c).cast(t) for c, t in schema.items() if c in frame.columns])


def _dtype(sql_type) -> pl.DataType:
    from sqlalchemy import Boolean, Float, Integer, Numeric

    if isinstance(sql_type, Boolean):
        return pl.Boolean
    if isinstance(sql_type, Integer):
        return pl.Int64
    if isinstance(sql_type, Float | Numeric):
        return pl.Float64
    return pl.String


# ------------------------------------------------------------------ computing
def counted(findings: pl.DataFrame, verdicts: pl.DataFrame) -> pl.DataFrame:
    """The findings that count: all but those whose current verdict is 排除."""
    out = verdicts.filter(pl.col("verdict") == DISMISSED).select("finding_id")
    return findings.join(out, on="finding_id", how="anti")


def subtree_findings(units: pl.DataFrame, findings: pl.DataFrame) -> pl.DataFrame:
    """Per unit, over its findings and those of every unit below it: count, 问题金额 (a finding
    without an amount counts 0) and the count per severity. Every unit gets a row."""
    pairs = ancestor_pairs(units).select("unit_code", "ancestor_code")
    per = findings.join(pairs, on="unit_code", how="inner")
    agg = per.group_by("ancestor_code").agg(
        pl.len().cast(pl.Int64).alias("findings"),
        pl.col("amount").fill_null(0).sum().round(2).alias("problem_amount"),
        *[(pl.col("severity") == s).sum().cast(pl.Int64).alias(f"sev_{s}") for s in SEVERITIES],
    )
    base = conform_units(units).select("unit_code")
    return base.join(
        agg.rename({"ancestor_code": "unit_code"}), on="unit_code", how="left"
    ).with_columns(
        pl.col("findings", *[f"sev_{s}" for s in SEVERITIES]).fill_null(0),
        pl.col("problem_amount").fill_null(0.0),
    )


def ranking(units: pl.DataFrame, metrics: pl.DataFrame, findings: pl.DataFrame) -> pl.DataFrame:
    """Every unit of the year (a row of ``metrics``) ranked within its level, largest first, by
    问题金额占比 = subtree 问题金额 ÷ rolled-up paid_total (0 when nothing was paid); ties by the
    subtree's 高 findings (more first), then unit code. ``findings``: those that count."""
    names = conform_units(units).select("unit_code", "unit_name", "parent_code")
    sub = subtree_findings(units, findings)
    frame = (
        metrics.select("unit_code", "level", pl.col("paid_total").cast(pl.Float64))
        .join(names, on="unit_code", how="left")
        .join(sub, on="unit_code", how="left")
        .with_columns(
            pl.when(pl.col("paid_total").fill_null(0) > 0)
            .then(pl.col("problem_amount") / pl.col("paid_total"))
            .otherwise(0.0)
            .alias("problem_ratio"),
            pl.col("level").replace_strict(LEVEL_ORDER, default=9).alias("_lv"),
        )
        .sort(
            ["_lv", "problem_ratio", "sev_高", "unit_code"],
            descending=[False, True, True, False],
        )
    )
    return frame.with_columns(
        pl.int_range(1, pl.len() + 1).over("_lv").cast(pl.Int64).alias("rank")
    ).drop("_lv")


@dataclass
class Overview:
    year: int
    summary: pl.DataFrame  # 概览: provinces and cities
    by_rule: pl.DataFrame  # findings by rule, the year's counted findings
    ranking: pl.DataFrame  # 单位排名
    targets: pl.DataFrame  # 目标完成
    rates: pl.DataFrame  # 评估比率
    yoy: pl.DataFrame  # 同比
    benford: pl.DataFrame  # 本福特检验
    benford_digits: pl.DataFrame  # per tested unit and digit pair
    reviewed: bool  # whether any finding of the year has a judgment


def build_overview(
    year: int,
    units: pl.DataFrame,
    metrics: pl.DataFrame,
    findings: pl.DataFrame,
    verdicts: pl.DataFrame,
    digit_counts: pl.DataFrame,
    *,
    metrics_prev: pl.DataFrame | None = None,
    findings_prev: pl.DataFrame | None = None,
    thresholds: dict | None = None,
) -> Overview:
    """The overview of ``year`` from frames (tests build them by hand or read them);
    ``digit_counts``: the Benford counts (unit_code, digits, count), e.g.
    ``benford_digit_counts(amounts)``."""
    thresholds = thresholds or {}
    u = conform_units(units)
    names = u.select("unit_code", "unit_name")
    this = counted(findings, verdicts)
    ranked = ranking(u, metrics, this)

    # 概览: provinces and cities, subtree figures
    pairs = ancestor_pairs(u).select("unit_code", "ancestor_code")
    sub_units = (
        pairs.join(metrics.select("unit_code", "complete"), on="unit_code", how="left")
        .group_by("ancestor_code")
        .agg(
            pl.len().cast(pl.Int64).alias("units"),
            pl.col("complete").fill_null(False).sum().cast(pl.Int64).alias("units_complete"),
        )
        .rename({"ancestor_code": "unit_code"})
    )
    review_cols: list[str] = []
    progress = None
    reviewed = (
        not verdicts.is_empty()
        and not findings.join(verdicts, on="finding_id", how="semi").is_empty()
    )
    if reviewed:
        judged = findings.join(verdicts, on="finding_id", how="left").with_columns(
            pl.col("verdict").fill_null(VERDICTS[0])
        )
        progress = (
            judged.join(pairs, on="unit_code", how="inner")
            .group_by("ancestor_code")
            .agg(
                *[
                    (pl.col("verdict") == v).sum().cast(pl.Int64).alias(f"review_{v}")
                    for v in VERDICTS
                ]
            )
            .rename({"ancestor_code": "unit_code"})
        )
        review_cols = [f"review_{v}" for v in VERDICTS]
    summary = (
        ranked.filter(pl.col("level").is_in(["省", "市"]))
        .select(
            "unit_code",
            "unit_name",
            "level",
            "parent_code",
            "paid_total",
            "findings",
            *[f"sev_{s}" for s in SEVERITIES],
            "problem_amount",
        )
        .join(sub_units, on="unit_code", how="left")
        .join(metrics.select("unit_code", "archived_at_end"), on="unit_code", how="left")
    )
    if progress is not None:
        summary = summary.join(progress, on="unit_code", how="left").with_columns(
            pl.col(review_cols).fill_null(0)
        )
    summary = summary.sort(
        pl.when(pl.col("level") == "省").then(pl.col("unit_code")).otherwise(pl.col("parent_code")),
        pl.col("level").replace_strict(LEVEL_ORDER, default=9),
        "unit_code",
    )

    by_rule = (
        this.group_by("rule_code")
        .agg(
            pl.col("severity").first(),
            pl.len().cast(pl.Int64).alias("count"),
            pl.col("amount").fill_null(0).sum().round(2).alias("amount"),
        )
        .with_columns(
            pl.col("rule_code")
            .map_elements(lambda c: rule_info(c).title, return_dtype=pl.String)
            .alias("title")
        )
        .sort(["count", "rule_code"], descending=[True, False])
    )

    order = [pl.col("level").replace_strict(LEVEL_ORDER, default=9), pl.col("unit_code")]
    base = metrics.join(names, on="unit_code", how="left").sort(order)

    def rate(actual: str, target: str) -> pl.Expr:
        return (
            pl.when(pl.col(target).fill_null(0) > 0)
            .then(pl.col(actual).fill_null(0) / pl.col(target))
            .otherwise(None)
        )

    short_relieved = pl.col("relieved").fill_null(0) < pl.col("target_relieved")
    short_exited = pl.col("exited_out_of_hardship").fill_null(0) < pl.col("target_exited")
    targets = base.select(
        "unit_code",
        "unit_name",
        "level",
        "target_relieved",
        "relieved",
        rate("relieved", "target_relieved").alias("relieved_rate"),
        "target_exited",
        "exited_out_of_hardship",
        rate("exited_out_of_hardship", "target_exited").alias("exited_rate"),
        pl.concat_str(
            [
                pl.when(short_relieved.fill_null(False)).then(pl.lit("解困未完成")),
                pl.when(short_exited.fill_null(False)).then(pl.lit("脱困未完成")),
            ],
            separator="、",
            ignore_nulls=True,
        ).alias("shortfall"),
    ).with_columns(pl.col("shortfall").replace("", None))

    default = AuditSettings()  # the thresholds' one home; the asset passes the run's
    missed = thresholds.get("missed_rate", default.missed_rate_alert)
    wrong_exit = thresholds.get("wrong_exit_rate", default.wrong_exit_rate_alert)
    recognition = thresholds.get("recognition_rate", default.recognition_rate_min)
    rates = base.select(
        "unit_code",
        "unit_name",
        "level",
        "missed_rate",
        "wrong_exit_rate",
        "wrong_entry_rate",
        "recognition_rate",
        pl.concat_str(
            [
                pl.when(pl.col("missed_rate") > missed).then(pl.lit("漏评率超标")),
                pl.when(pl.col("wrong_exit_rate") > wrong_exit).then(pl.lit("错退率超标")),
                pl.when(pl.col("recognition_rate") < recognition).then(pl.lit("群众认可度偏低")),
            ],
            separator="、",
            ignore_nulls=True,
        ).alias("alert"),
    ).with_columns(pl.col("alert").replace("", None))

    now = ranked.select("unit_code", "paid_total", "findings", "problem_amount").join(
        metrics.select("unit_code", "archived_at_end"), on="unit_code", how="left"
    )
    if metrics_prev is not None and not metrics_prev.is_empty():
        before = ranking(u, metrics_prev, counted(findings_prev, verdicts)).select(
            "unit_code", "paid_total", "findings", "problem_amount"
        )
        before = before.join(
            metrics_prev.select("unit_code", "archived_at_end"), on="unit_code", how="left"
        )
    else:
        before = now.clear()
    yoy_cols = ("paid_total", "archived_at_end", "findings", "problem_amount")
    yoy = (
        ranked.select("unit_code", "unit_name", "level")
        .join(now, on="unit_code", how="left")
        .join(before.rename({c: f"{c}_prev" for c in yoy_cols}), on="unit_code", how="left")
        .with_columns(
            [
                (pl.col(c).cast(pl.Float64) - pl.col(f"{c}_prev").cast(pl.Float64)).alias(
                    f"{c}_change"
                )
                for c in yoy_cols
            ]
        )
        .sort(pl.col("level").replace_strict(LEVEL_ORDER, default=9), "unit_code")
    )

    tests, digits = benford(u, digit_counts)
    return Overview(
        year=year,
        summary=summary,
        by_rule=by_rule,
        ranking=ranked,
        targets=targets,
        rates=rates,
        yoy=yoy,
        benford=tests,
        benford_digits=digits,
        reviewed=reviewed,
    )


def year_overview(
    lake: Lake,
    wh: Warehouse,
    units: pl.DataFrame,
    year: int,
    thresholds: dict | None = None,
    *,
    keep_counts: bool = True,
) -> Overview:
    """Read everything the overview of ``year`` needs and build it (``keep_counts``: see
    :func:`benford_counts`)."""
    metrics = read_metrics(wh, year)
    prev = read_metrics(wh, year - 1)
    found = read_findings(wh, [year - 1, year])
    verdicts = current_verdicts(wh, [year - 1, year])
    return build_overview(
        year,
        units,
        metrics,
        found.filter(pl.col("year") == year),
        verdicts,
        benford_counts(lake, year, keep=keep_counts),
        metrics_prev=prev if not prev.is_empty() else None,
        findings_prev=found.filter(pl.col("year") == year - 1),
        thresholds=thresholds,
    )


def below_ranking(rank: pl.DataFrame, parent: str) -> pl.DataFrame:
    """The units directly below ``parent`` in the order of their 问题金额占比 (a city's or
    province's report shows it)."""
    return rank.filter(pl.col("parent_code") == parent).sort(
        ["problem_ratio", "sev_高", "unit_code"], descending=[True, True, False]
    )


def ranking_problems(units: pl.DataFrame, rank: pl.DataFrame) -> list[str]:
    """What is wrong with a year's ranking (empty: every unit of units.csv ranked exactly once,
    ranks 1 … n within each level)."""
    out = []
    codes = conform_units(units)["unit_code"]
    counts = rank.group_by("unit_code").len()
    out += [
        f"{r['unit_code']} 排名 {r['len']} 次"
        for r in counts.filter(pl.col("len") > 1).rows(named=True)
    ]
    missing = codes.filter(~codes.is_in(rank["unit_code"].to_list())).to_list()
    out += [f"{c} 未排名" for c in missing]
    extra = rank.filter(~pl.col("unit_code").is_in(codes.to_list()))["unit_code"].to_list()
    out += [f"{c} 不在机构名录中" for c in extra]
    gaps = rank.group_by("level").agg(
        (pl.col("rank").sort() == pl.int_range(1, pl.len() + 1)).all().alias("ok")
    )
    out += [f"{r['level']}级名次不连续" for r in gaps.filter(~pl.col("ok")).rows(named=True)]
    return out
