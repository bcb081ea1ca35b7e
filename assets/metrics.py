"""Metrics per (year, unit) rolled up county → city → province, and the roll-up findings."""

import dagster as dg
import polars as pl

from assets import loaders
from assets.common import OWNER, load_units
from assets.findings import (
    EAGER,
    cross_unit_findings,
    findings_metadata,
    settings_replacement,
    unit_findings,
)
from assets.ingest import ledgers
from assets.partitions import by_year, years_partitions
from bangfu import rules
from checks.asset_checks import METRICS_CHECKS, metrics_check_results
from resources import AuditSettingsResource, DataResource, WarehouseResource
from warehouse import tables
from warehouse.store import Replacement


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
) -> dg.MaterializeResult:
    lake, wh = data.lake, warehouse.get()
    settings = loaders.settings(audit_settings)
    units = load_units(lake)
    checks_in: list[tuple[pl.DataFrame, pl.DataFrame]] = []
    meta: dict = {}
    for key in context.partition_keys:
        year = int(key)
        present = loaders.present_units(lake, year)
        frames = loaders.ledger_frames(lake, year, present)
        earlier = wh.read(tables.findings, year=year, stage=["unit", "cross"])
        missed = (
            earlier.filter(pl.col("rule_code") == "MISSED_CANDIDATE") if earlier.height else None
        )
        roster = loaders.roster(lake, year)
        own = rules.own_metrics(frames, units, roster, year, missed, present)
        rolled = rules.rollup(own, units, year, present)
        rollup_found = rules.rollup_findings(rolled, None, settings)
        everything = pl.concat(
            [earlier.select(rollup_found.columns).cast(rollup_found.schema), rollup_found]
            if earlier.height
            else [rollup_found]
        )
        rolled = rules.with_findings_total(rolled, units, everything)
        lake.write("metrics", year, "all", rolled)
        wh.replace(
            [
                Replacement(tables.unit_year_metrics, {"year": year}, rolled),
                Replacement(
                    tables.findings,
                    {"year": year, "stage": "rollup"},
                    rollup_found,
                    stamp={"stage": "rollup"},
                ),
                settings_replacement(settings, [year]),
            ]
        )
        checks_in.append((rolled, own))
        part_meta = {
            "units": rolled.height,
            "complete_units": int(rolled["complete"].sum()),
            **{f"rollup_{k}": v for k, v in findings_metadata(rollup_found).items()},
        }
        context.add_asset_metadata(part_meta, partition_key=key)
        meta[f"units_{year}"] = rolled.height
    rolled_all = pl.concat([r for r, _ in checks_in], how="diagonal_relaxed")
    own_all = pl.concat([o for _, o in checks_in], how="diagonal_relaxed")
    return dg.MaterializeResult(
        metadata=meta, check_results=metrics_check_results(rolled_all, own_all, units)
    )
