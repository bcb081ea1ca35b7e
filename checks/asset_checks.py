"""Asset checks (Dagster side). Each check is evaluated by its asset over the partitions of the
run and shown in the UI on that asset; the logic is plain counting over the run's outcomes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import dagster as dg

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN


def spec(asset: str, name: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name=name, asset=asset, description=description)


LEDGER_CHECKS = [
    spec(
        "ledgers",
        "rows_conserved",
        "每张表：读入行 = 保留行 + 隔离行。rows read = kept + quarantined.",
    ),
    spec("ledgers", "ledgers_readable", "本次运行的台账均可读取（拒收的文件列在元数据中）。"),
    spec(
        "ledgers",
        "unique_keys",
        "档案编号、发放编号、凭证号在单位年度内不重复（重复仅警告，行全部保留）。",
    ),
]


def result(
    name: str, passed: bool, *, severity=ERROR, asset: str, **metadata
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name, asset_key=asset, passed=bool(passed), severity=severity, metadata=metadata
    )


def listed(items: list[str], most: int = 50) -> str:
    """The first ``most`` items one a line, for check metadata; 无 when there are none."""
    return "\n".join(items[:most]) or "无"


def ledger_check_results(outcomes: Iterable) -> list[dg.AssetCheckResult]:
    outcomes = list(outcomes)
    unbalanced = [
        f"{o.year} {o.unit_code} {sheet}"
        for o in outcomes
        for sheet, r in o.rows.items()
        if r["rows_read"] != r["rows_kept"] + r["rows_quarantined"]
    ]
    rejected = [f"{o.year} {o.unit_code}: {o.message}" for o in outcomes if o.status == "rejected"]
    dup = [f"{o.year} {o.unit_code}: {w}" for o in outcomes for w in o.warnings if "重复" in w]
    ledgers = functools.partial(result, asset="ledgers")
    return [
        ledgers(
            "rows_conserved",
            not unbalanced,
            sheets_checked=sum(len(o.rows) for o in outcomes),
            unbalanced=listed(unbalanced),
        ),
        ledgers("ledgers_readable", not rejected, rejected=len(rejected), details=listed(rejected)),
        ledgers("unique_keys", not dup, severity=WARN, warnings=len(dup), details=listed(dup)),
    ]


FINDINGS_CHECKS = [
    spec("unit_findings", "findings_written", "写入仓库的发现条数等于计算所得条数（每分区一份）。"),
    spec("unit_findings", "finding_ids_unique", "finding_id 唯一（年度、单位、规则、对象键）。"),
    spec(
        "unit_findings",
        "payments_reconcile_with_ledger",
        "按凭证号核对救助发放合计与会计明细账借方合计（账表相符；不符的凭证见 LEDGER_MISMATCH）。",
    ),
]
CROSS_CHECKS = [
    spec("cross_unit_findings", "findings_written", "跨单位发现写入仓库的条数等于计算所得条数。"),
]
REFERENCE_CHECKS = [
    spec("reference_units", "units_form_tree", "机构名录成树：无重复代码、无环、上级均在名录中。"),
]
METRICS_CHECKS = [
    spec("unit_year_metrics", "rates_in_unit_interval", "各项比率均在 [0, 1]。"),
    spec("unit_year_metrics", "row_per_unit", "机构名录中每个单位每个年度恰有一行指标。"),
    spec("unit_year_metrics", "rollup_adds_up", "省级汇总的已付金额等于各单位本级金额之和。"),
]
QUALITY_CHECKS = [
    spec(
        "data_quality",
        "warehouse_conserves_rows",
        "仓库中每个单位每张表：读入行 = 保留行 + 隔离行，且隔离表恰有同样多的行（不丢行）。",
    ),
    spec(
        "data_quality",
        "every_unit_accounted",
        "机构名录中每个单位要么读入了台账，要么列为拒收或未报送（警告：未报送单位见报告）。",
    ),
]
OVERVIEW_CHECKS = [
    spec(
        "year_overview",
        "every_unit_ranked_once",
        "总览的单位排名中，机构名录的每个单位每年恰好出现一次，同级名次 1…n 连续。",
    ),
]
WORKBOOK_CHECKS = [
    spec("audit_workbooks", "workbooks_written", "每个已读入台账的单位年度都写出了工作簿和报告。"),
    spec("audit_workbooks", "no_formula_cells", "工作簿中没有公式单元格：输入文本一律按文本写入。"),
]


def quality_check_results(totals: dict, problems: list) -> list[dg.AssetCheckResult]:
    """`problems`: per year, the (unit, sheet) rows of bangfu.quality.conservation_problems."""
    lost = [
        f"{r['unit_code']} {r['sheet']}" for frame in problems for r in frame.iter_rows(named=True)
    ]
    missing = sum(t["units_missing"] for t in totals.values())
    return [
        result(
            "warehouse_conserves_rows",
            not lost,
            asset="data_quality",
            years=len(totals),
            unbalanced=listed(lost),
        ),
        result(
            "every_unit_accounted",
            missing == 0,
            severity=WARN,
            asset="data_quality",
            units_missing=missing,
            files_rejected=sum(t["files_rejected"] for t in totals.values()),
        ),
    ]


def findings_written_result(asset, frame, wh, *, stage, years, units=None) -> dg.AssetCheckResult:
    """The warehouse holds exactly the rows computed for the run's partitions (no leftovers);
    counted in SQL (a national run's findings are not read back)."""
    from bangfu.stages.findings import count_findings

    stored = count_findings(wh, stage=stage, years=years, units=units)
    return result(
        "findings_written",
        stored == frame.height,
        asset=asset,
        computed=frame.height,
        stored=stored,
    )


def finding_ids_unique_result(asset, frame) -> dg.AssetCheckResult:
    dup = frame.height - (frame["finding_id"].n_unique() if frame.height else 0)
    return result("finding_ids_unique", dup == 0, asset=asset, duplicates=dup, checked=frame.height)


def reconcile_check_result(frame) -> dg.AssetCheckResult:
    import polars as pl

    mismatch = frame.filter(pl.col("rule_code") == "LEDGER_MISMATCH") if frame.height else frame
    return result(
        "payments_reconcile_with_ledger",
        mismatch.height == 0,
        severity=WARN,
        asset="unit_findings",
        vouchers_not_matching=mismatch.height,
        amount_difference=float(mismatch["amount"].fill_null(0).sum()) if mismatch.height else 0.0,
    )


def metrics_check_results(rolled, own, units) -> list[dg.AssetCheckResult]:
    import polars as pl

    asset = "unit_year_metrics"
    rate_cols = ["missed_rate", "wrong_exit_rate", "wrong_entry_rate", "recognition_rate"]
    bad = rolled.filter(
        pl.any_horizontal([(pl.col(c) < 0) | (pl.col(c) > 1) for c in rate_cols])
    ).height
    per_year = rolled.group_by("year").agg(pl.col("unit_code").n_unique().alias("n"), pl.len())
    rows_ok = all(r["n"] == units.height == r["len"] for r in per_year.iter_rows(named=True))
    provinces = units.filter(pl.col("level") == "省")["unit_code"].to_list()
    rolled_total = (
        rolled.filter(pl.col("unit_code").is_in(provinces))["paid_total"].fill_null(0).sum()
    )
    own_total = own["paid_total"].fill_null(0).sum() if own.height else 0.0
    return [
        result("rates_in_unit_interval", bad == 0, asset=asset, out_of_range=bad),
        result("row_per_unit", rows_ok, asset=asset, rows=rolled.height, units=units.height),
        result(
            "rollup_adds_up",
            abs(float(rolled_total) - float(own_total)) < 0.005 * max(1, rolled["year"].n_unique()),
            asset=asset,
            province_total=float(rolled_total),
            sum_of_own=float(own_total),
        ),
    ]


def overview_check_results(problems: dict[int, list[str]]) -> list[dg.AssetCheckResult]:
    """`problems`: year → bangfu.overview.ranking_problems of that year's ranking."""
    bad = [f"{year}: {p}" for year, ps in sorted(problems.items()) for p in ps]
    return [
        result(
            "every_unit_ranked_once",
            not bad,
            asset="year_overview",
            years=len(problems),
            problems="\n".join(bad[:50]) or "无",
        )
    ]
