"""Validate stage: the year's data-quality report and the cross-table conservation check.

Validation itself runs inside `ledgers` (pandera, row by row, quarantining what fails); this
asset is what the auditor opens to see it: per year, every unit's rows read / kept /
quarantined, each quarantined row with its reason, each rejected file, each unit that sent
nothing — and a check, over the warehouse itself, that no row went missing between them.
"""

import dagster as dg

from assets.common import OWNER, load_units, year_keys
from assets.findings import EAGER
from assets.ingest import ledgers
from assets.partitions import by_year, years_partitions
from bangfu.quality import build_quality_report, conservation_problems, save_quality_workbook
from checks.asset_checks import QUALITY_CHECKS, quality_check_results
from resources import DataResource, WarehouseResource
from warehouse import tables


@dg.asset(
    partitions_def=years_partitions,
    group_name="validate",
    owners=[OWNER],
    kinds={"polars", "excel"},
    deps=[dg.AssetDep(ledgers, partition_mapping=by_year)],
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=EAGER,
    check_specs=QUALITY_CHECKS,
    description=(
        "台账数据质量报告（按年度）：各单位各表读入、保留、隔离行数，隔离明细及原因，"
        "拒收文件，未报送单位；写入 quality/<年度>.xlsx。 Per year: what the pandera validation"
        " kept and set aside, from the warehouse's ingest log, quarantine and rejected files."
    ),
)
def data_quality(
    context: dg.AssetExecutionContext, data: DataResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    wh, units = warehouse.get(), load_units(data.lake)
    problems, totals = [], {}
    for year in year_keys(context):
        report = build_quality_report(
            year,
            units,
            wh.read(tables.ingest_log, year=year),
            wh.read(tables.quarantine, year=year),
            wh.read(tables.rejected_files, year=year),
        )
        path = data.quality_path(year)
        written = save_quality_workbook(path, report)
        lost = conservation_problems(report)
        problems.append(lost)
        totals[year] = report.totals
        context.add_asset_metadata(
            {**report.totals, "path": dg.MetadataValue.path(str(path)), "rewritten": written},
            partition_key=str(year),
        )
        context.log.info(
            f"{year}: 数据质量报告 {path}（隔离 {report.totals['rows_quarantined']} 行，"
            f"拒收 {report.totals['files_rejected']} 个文件）"
        )
    return dg.MaterializeResult(check_results=quality_check_results(totals, problems))
