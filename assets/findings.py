"""Findings: per-unit rules per (year, unit); cross-unit rules per year."""

import dagster as dg
import polars as pl

from assets import loaders
from assets.common import OWNER, add_partition_metadata, load_units, progress, unit_year_keys
from assets.ingest import ledgers
from assets.partitions import by_year, multi_key, unit_year_partitions, years_partitions
from assets.reference import reference_standards
from bangfu.stages.findings import run_cross_findings, run_unit_findings
from checks.asset_checks import (
    CROSS_CHECKS,
    FINDINGS_CHECKS,
    finding_ids_unique_result,
    findings_written_result,
    reconcile_check_result,
)
from resources import AuditSettingsResource, DataResource, WarehouseResource

EAGER = dg.AutomationCondition.eager()


def findings_metadata(frame: pl.DataFrame) -> dict:
    """Counts per rule and the money involved (no personal data)."""
    meta: dict = {"findings": frame.height}
    if frame.height:
        per_rule = (
            frame.group_by("rule_code")
            .agg(pl.len().alias("n"), pl.col("amount").sum().alias("amount"))
            .sort("rule_code")
        )
        meta["amount_involved"] = float(frame["amount"].fill_null(0).sum())
        meta["per_rule"] = dg.MetadataValue.md(
            "| 规则 | 条数 | 金额（元） |\n|---|---:|---:|\n"
            + "\n".join(
                f"| {r['rule_code']} | {r['n']} | {r['amount'] or 0:,.2f} |"
                for r in per_rule.iter_rows(named=True)
            )
        )
    return meta


@dg.asset(
    partitions_def=unit_year_partitions,
    group_name="findings",
    owners=[OWNER],
    kinds={"polars", "sql"},
    deps=[ledgers, reference_standards],
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=EAGER,
    check_specs=FINDINGS_CHECKS,
    description=(
        "本单位审计发现：发放、档案、账簿、单位四类规则（docs/RULES.md），每条发现附依据与证据位置。"
        " Per (year, unit): every payment, archive-record, ledger and unit rule over the unit's"
        " own ledger, with its detail, basis and source row."
    ),
)
def unit_findings(
    context: dg.AssetExecutionContext,
    data: DataResource,
    warehouse: WarehouseResource,
    audit_settings: AuditSettingsResource,
) -> dg.MaterializeResult:
    lake, wh = data.lake, warehouse.get()
    settings = loaders.settings(audit_settings)
    keys = unit_year_keys(context)

    per_partition: list[tuple[str, dict]] = []

    def on_unit(year: int, unit: str, own: pl.DataFrame) -> None:
        per_partition.append((multi_key(year, unit), findings_metadata(own)))

    allf = run_unit_findings(
        lake,
        wh,
        settings,
        keys,
        units=load_units(lake),
        on_unit=on_unit,
        progress=lambda done, total: progress(context, "本单位审计发现 unit findings", done, total),
    )
    # one check of the run's keys, not one listing of the whole range per partition
    add_partition_metadata(context, per_partition)
    return dg.MaterializeResult(
        metadata={**findings_metadata(allf), "settings_hash": settings.hash()},
        check_results=[
            findings_written_result(
                "unit_findings",
                allf,
                wh,
                stage="unit",
                years=sorted({y for y, _ in keys}),
                units=sorted({u for _, u in keys}),
            ),
            finding_ids_unique_result("unit_findings", allf),
            reconcile_check_result(allf),
        ],
    )


@dg.asset(
    partitions_def=years_partitions,
    group_name="findings",
    owners=[OWNER],
    kinds={"polars", "sql"},
    deps=[dg.AssetDep(ledgers, partition_mapping=by_year), reference_standards],
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=EAGER,
    check_specs=CROSS_CHECKS,
    description=(
        "跨单位审计发现（按年度）：重复建档 DUPLICATE_ARCHIVE、疑似漏评 MISSED_CANDIDATE，"
        "需要全部单位当年的档案与民政比对名单。 Per year: the rules that need every unit's"
        " archive (duplicate archive records, missed candidates from the civil roster)."
    ),
)
def cross_unit_findings(
    context: dg.AssetExecutionContext,
    data: DataResource,
    warehouse: WarehouseResource,
    audit_settings: AuditSettingsResource,
) -> dg.MaterializeResult:
    lake, wh = data.lake, warehouse.get()
    settings = loaders.settings(audit_settings)
    meta: dict = {}

    def on_year(year: int, found: pl.DataFrame) -> None:
        context.add_asset_metadata(findings_metadata(found), partition_key=str(year))
        meta[f"findings_{year}"] = found.height

    years = [int(k) for k in context.partition_keys]
    allf = run_cross_findings(lake, wh, settings, years, units=load_units(lake), on_year=on_year)
    return dg.MaterializeResult(
        metadata=meta,
        check_results=[
            findings_written_result("cross_unit_findings", allf, wh, stage="cross", years=years)
        ],
    )
