"""Ledger ingestion: one (year, unit) partition per annual ledger; a ranged run reads many at
once (bangfu.ingest.ingest_partitions)."""

import dagster as dg

from assets.common import OWNER, add_partition_metadata, progress, unit_year_keys
from assets.partitions import multi_key, unit_year_partitions
from assets.reference import reference_units
from bangfu import readers
from bangfu.ingest import IngestOutcome, LandingScan, ingest_partitions
from checks.asset_checks import LEDGER_CHECKS, ledger_check_results
from resources import DataResource, LandingResource, WarehouseResource


@dg.asset(
    partitions_def=unit_year_partitions,
    group_name="ingest",
    owners=[OWNER],
    kinds={"polars", "parquet", "sql"},
    deps=[reference_units],
    check_specs=LEDGER_CHECKS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "年度台账入湖：读取单位年度台账（xlsx 或分表 CSV），规范化、pandera 校验，"
        "合格行写入 Parquet 数据湖，不合格行连同原因写入隔离表，并记录 ingest_log。"
        " Reads each unit's annual ledger, validates it and writes the lake; unreadable rows go"
        " to quarantine with their reason; rows read = kept + quarantined."
    ),
)
def ledgers(
    context: dg.AssetExecutionContext,
    landing: LandingResource,
    data: DataResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    # The unit list straight from units.csv, not the lake copy: a unit added to units.csv in
    # the same sensor tick as its first ledger must not race the reference run.
    units = readers.read_units(landing.root / "reference" / "units.csv", landing=landing.root)
    scan = LandingScan.scan(landing.root, set(units["unit_code"].to_list()))
    wh = warehouse.get()
    keys = unit_year_keys(context)
    done = 0
    per_partition: list[tuple[str, dict]] = []

    def record(outcome: IngestOutcome) -> None:
        nonlocal done
        done += 1
        per_partition.append(
            (multi_key(outcome.year, outcome.unit_code), _partition_metadata(outcome))
        )
        if outcome.status == "rejected":
            context.log.error(f"{outcome.year} {outcome.unit_code} 台账被拒收：{outcome.message}")
        progress(context, "台账入湖 ingest", done, len(keys))

    # the whole range at once: one parse and validation per sheet kind per batch of ledgers
    outcomes = ingest_partitions(
        landing=landing.root,
        lake=data.lake,
        warehouse=wh,
        scan=scan,
        keys=keys,
        on_outcome=record,
    )
    add_partition_metadata(context, per_partition)
    rejected = [o for o in outcomes if o.status == "rejected"]
    return dg.MaterializeResult(
        metadata={
            "partitions": len(outcomes),
            "ledgers_read": sum(o.status == "ok" for o in outcomes),
            "ledgers_missing": sum(o.status == "missing" for o in outcomes),
            "ledgers_rejected": len(rejected),
            "rows_read": sum(o.rows_read for o in outcomes),
            "rows_kept": sum(o.rows_kept for o in outcomes),
            "rows_quarantined": sum(o.rows_quarantined for o in outcomes),
        },
        check_results=ledger_check_results(outcomes),
    )


def _partition_metadata(o: IngestOutcome) -> dict:
    meta: dict = {
        "status": {"ok": "已读入", "missing": "无台账", "rejected": "拒收"}[o.status],
        "rows_read": o.rows_read,
        "rows_kept": o.rows_kept,
        "rows_quarantined": o.rows_quarantined,
    }
    if o.source_file:
        meta["source_file"] = o.source_file
    if o.message:
        meta["message"] = o.message
    if o.warnings:
        meta["warnings"] = "\n".join(o.warnings[:50])
    for sheet, r in o.rows.items():
        meta[f"{sheet}"] = (
            f"读 {r['rows_read']} / 留 {r['rows_kept']} / 隔离 {r['rows_quarantined']}"
        )
    return meta
