"""Metrics per (year, unit) rolled up county → city → province, and the roll-up findings."""

import dagster as dg
import polars as pl
from pydantic import Field

from assets import loaders, outputs_inputs
from assets.common import OWNER, load_units
from assets.findings import EAGER, cross_unit_findings, findings_metadata, unit_findings
from assets.ingest import ledgers
from assets.partitions import by_year, years_partitions
from bangfu import output_digests
from bangfu.stages.metrics import YearMetrics, run_metrics
from bangfu.stages.outputs import stale_outputs
from checks.asset_checks import METRICS_CHECKS, metrics_check_results
from resources import AuditSettingsResource, DataResource, WarehouseResource


class MetricsScope(dg.Config):
    """Which units' own figures to recompute; the roll-ups are always recomputed whole."""

    only_units: list[str] | None = Field(
        default=None,
        description=(
            "只重算这些单位的本级指标（bangfu run --unit）；其余单位沿用本年度上次的本级指标，"
            "逐级汇总仍全部重算。留空则全部重算。 Recompute only these units' own figures"
            " (their ledgers changed); empty: every unit."
        ),
    )
    announce_changed_outputs: bool = Field(
        default=True,
        description=(
            "登记输入摘要已变化的工作簿分区（unit_audit_inputs），自动化据此只重写这些单位。"
            " Report the (year, unit) partitions of unit_audit_inputs whose digest moved, so"
            " the automation re-writes exactly those workbooks (bangfu run's full runs write"
            " every workbook anyway and skip this)."
        ),
    )


@dg.asset(
    partitions_def=years_partitions,
    group_name="metrics",
    owners=[OWNER],
    kinds={"polars", "sql"},
    deps=[
        dg.AssetDep(ledgers, partition_mapping=by_year),
        dg.AssetDep(unit_findings, partition_mapping=by_year),
        cross_unit_findings,
    ],
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=EAGER,
    check_specs=METRICS_CHECKS,
    description=(
        "解困脱困指标（按年度，全部单位）：年初/年末在档、新建档、解困、脱困、“四个一批”、"
        "漏评率/错退率/错评率/群众认可度（合并计算）、各救助项目支出，县→市→省逐级汇总；"
        "以及依赖汇总数的发现 TARGET_NOT_MET、EVAL_RATE_ALERT。 Per year: unit_year_metrics for"
        " every unit, rolled up over its subtree, and the findings that need rolled-up figures."
    ),
)
def unit_year_metrics(
    context: dg.AssetExecutionContext,
    data: DataResource,
    warehouse: WarehouseResource,
    audit_settings: AuditSettingsResource,
    config: MetricsScope,
) -> dg.MaterializeResult:
    lake, wh = data.lake, warehouse.get()
    settings = loaders.settings(audit_settings)
    units = load_units(lake)
    meta: dict = {}

    def on_year(ym: YearMetrics) -> None:
        part_meta = {
            "units": ym.rolled.height,
            "complete_units": int(ym.rolled["complete"].sum()),
            **{f"rollup_{k}": v for k, v in findings_metadata(ym.rollup_findings).items()},
        }
        context.add_asset_metadata(part_meta, partition_key=str(ym.year))
        meta[f"units_{ym.year}"] = ym.rolled.height

    years = [int(k) for k in context.partition_keys]
    if config.only_units:
        context.log.info(f"只重算本级指标：{config.only_units}；逐级汇总全部重算")
    done = run_metrics(
        lake, wh, settings, years, units=units, only_units=config.only_units, on_year=on_year
    )
    rolled_all = pl.concat([y.rolled for y in done], how="diagonal_relaxed")
    own_all = pl.concat([y.own for y in done], how="diagonal_relaxed")
    if config.announce_changed_outputs:
        # a year's figures show in the outputs of that year and the two after it
        known = context.instance.get_dynamic_partitions(years_partitions.name)
        out_years = output_digests.output_years_showing(years, known)
        changed = stale_outputs(lake, wh, settings, out_years, units=units)
        meta["outputs_to_rewrite"] = outputs_inputs.announce(context, changed)
    return dg.MaterializeResult(
        metadata=meta, check_results=metrics_check_results(rolled_all, own_all, units)
    )
