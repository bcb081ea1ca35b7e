"""The audit office's view across units, per year: ``<data>/overview/<year>.xlsx``."""

import dagster as dg
import polars as pl

from assets import loaders
from assets.common import OWNER, load_units, year_keys
from assets.findings import EAGER, cross_unit_findings
from assets.metrics import unit_year_metrics
from assets.partitions import years_partitions
from bangfu import overview
from bangfu.overview_workbook import write_overview_workbook
from checks.asset_checks import OVERVIEW_CHECKS, overview_check_results
from resources import AuditSettingsResource, DataResource, WarehouseResource

TOP_TEN_COLUMNS = (
    ("排名", "rank", "int"),
    ("单位代码", "unit_code", "string"),
    ("单位名称", "unit_name", "string"),
    ("级别", "level", "string"),
    ("问题金额占比", "problem_ratio", "float"),
    ("问题金额（元）", "problem_amount", "float"),
    ("发放总额（元）", "paid_total", "float"),
    ("高风险发现数", "sev_高", "int"),
)


def top_ten_table(rank: pl.DataFrame) -> dg.MetadataValue:
    """The ten largest 问题金额占比 of the most numerous level (the units that pay: 县)."""
    counts = rank.group_by("level").len().sort("len", descending=True)
    level = counts["level"][0] if counts.height else None
    top = rank.filter(pl.col("level") == level).head(10)
    records = [
        dg.TableRecord(
            {
                header: (
                    round(float(r[col] or 0), 6 if col == "problem_ratio" else 2)
                    if kind == "float"
                    else r[col]
                )
                for header, col, kind in TOP_TEN_COLUMNS
            }
        )
        for r in top.iter_rows(named=True)
    ]
    schema = dg.TableSchema(
        columns=[dg.TableColumn(header, kind) for header, _c, kind in TOP_TEN_COLUMNS]
    )
    return dg.MetadataValue.table(records=records, schema=schema)


def benford_markdown(tests: pl.DataFrame) -> dg.MetadataValue:
    rows = tests.filter(pl.col("level") == "省")
    lines = ["| 省 | n | MAD | 符合程度 | 超出最多的首两位数字 |", "|---|---:|---:|---|---|"]
    for r in rows.iter_rows(named=True):
        mad = "—" if r["mad"] is None else f"{r['mad']:.4f}"
        lines.append(
            f"| {r['unit_name']} | {r['n']} | {mad} | {r['benford_class'] or '—'} "
            f"| {r['top_excess'] or '—'} |"
        )
    return dg.MetadataValue.md("\n".join(lines))


def following_years(context: dg.AssetExecutionContext, data: DataResource, asked) -> list[int]:
    """The years after those asked for whose overview exists and was not asked for: a year's
    同比 sheet shows the year before, so it changes with it (their own year stage writes the
    overviews that do not exist yet)."""
    known = {int(y) for y in context.instance.get_dynamic_partitions(years_partitions.name)}
    return sorted(
        y for y in ({y + 1 for y in asked} & known) - set(asked) if data.overview_path(y).exists()
    )


@dg.asset(
    partitions_def=years_partitions,
    group_name="overview",
    owners=[OWNER],
    kinds={"polars", "excel"},
    deps=[unit_year_metrics, cross_unit_findings],
    backfill_policy=dg.BackfillPolicy.single_run(),
    # the automation follows the roll-ups only (they follow the cross-unit findings): from an
    # update of cross_unit_findings alone it could write the overview before the roll-ups
    # were recomputed, and its own materialisation would then settle the trigger
    automation_condition=EAGER.ignore(dg.AssetSelection.assets(cross_unit_findings)),
    check_specs=OVERVIEW_CHECKS,
    description=(
        "年度审计总览：各省市汇总、按问题金额占比的单位排名、目标完成、评估比率、同比、"
        "首两位数字本福特检验（疑点筛查），附 Excel 图表；写入 overview/<年度>.xlsx。"
        "复核为“排除”的发现不计入。 Per year: the audit office's view across units."
    ),
)
def year_overview(
    context: dg.AssetExecutionContext,
    data: DataResource,
    warehouse: WarehouseResource,
    audit_settings: AuditSettingsResource,
) -> dg.MaterializeResult:
    lake, wh = data.lake, warehouse.get()
    settings = loaders.settings(audit_settings)
    thresholds = {
        "missed_rate": settings.missed_rate_alert,
        "wrong_exit_rate": settings.wrong_exit_rate_alert,
        "recognition_rate": settings.recognition_rate_min,
    }
    units = load_units(lake)
    problems: dict[int, list[str]] = {}
    asked = year_keys(context)
    for year in [*asked, *following_years(context, data, asked)]:
        ov = overview.year_overview(lake, wh, units, year, thresholds)
        path = data.overview_path(year)
        written = write_overview_workbook(path, ov)
        problems[year] = overview.ranking_problems(units, ov.ranking)
        metadata = {
            "path": dg.MetadataValue.path(str(path)),
            "units_ranked": ov.ranking.height,
            "charts": sum(written["charts"].values()),
            "top_ten": top_ten_table(ov.ranking),
            "benford_provinces": benford_markdown(ov.benford),
            "benford_units_tested": ov.benford.height,
        }
        if year in asked:
            context.add_asset_metadata(metadata, partition_key=str(year))
        else:  # a partition outside this run's range: its own materialisation event
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=context.asset_key, partition=str(year), metadata=metadata
                )
            )
        context.log.info(
            f"{year}: 审计总览 {path}（{ov.ranking.height} 个单位排名，"
            f"{ov.benford.height} 个单位本福特检验）"
        )
    return dg.MaterializeResult(check_results=overview_check_results(problems))
