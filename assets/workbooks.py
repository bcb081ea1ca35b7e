"""The auditor's deliverables per (year, unit): the 审定表 workbook and the draft 审计报告."""

import dagster as dg
import polars as pl

from assets import loaders
from assets.common import OWNER, grouped, load_units, progress, unit_year_keys
from assets.findings import EAGER, unit_findings
from assets.metrics import unit_year_metrics
from assets.partitions import by_year, multi_key, unit_year_partitions
from bangfu import rules
from bangfu.forms.report import write_unit_report
from bangfu.forms.workbook import write_unit_workbook
from checks.asset_checks import WORKBOOK_CHECKS, count_formula_cells, result
from resources import AuditSettingsResource, DataResource, WarehouseResource
from warehouse import tables

AUDITED_YEARS = 3  # the 2019 audit reports 2017, 2018 and 2019


@dg.asset(
    partitions_def=unit_year_partitions,
    group_name="workbooks",
    owners=[OWNER],
    kinds={"excel", "docx"},
    deps=[unit_findings, dg.AssetDep(unit_year_metrics, partition_mapping=by_year)],
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=EAGER,
    check_specs=WORKBOOK_CHECKS,
    description=(
        "审定表工作簿与审计报告草稿：第六章十七张审定表/调查表、审计取证单、审计工作底稿"
        "（索引号相互链接），以及按审计报告模板起草的 .docx 报告。 Per (year, unit): the"
        " workbook of the guide's forms with evidence sheets and work papers, and the draft report."
    ),
)
def audit_workbooks(
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
    unit_rows = {r["unit_code"]: r for r in units.iter_rows(named=True)}
    keys = unit_year_keys(context)
    written, skipped, formula_cells = 0, [], 0
    done = 0
    for year, unit_list in grouped(keys).items():
        present = set(loaders.present_units(lake, year, unit_list))
        years = list(range(year - AUDITED_YEARS + 1, year + 1))
        metrics = wh.read(tables.unit_year_metrics, year=years, unit_code=unit_list)
        found = wh.read(tables.findings, year=year, unit_code=unit_list)
        ctx = rules.unit_context(units, loaders.standards(lake), [year])
        for unit in unit_list:
            done += 1
            pk = multi_key(year, unit)
            if unit not in present:
                skipped.append(f"{year} {unit}")
                context.add_asset_metadata({"status": "无可用台账，未生成"}, partition_key=pk)
                continue
            std = ctx.filter(pl.col("unit_code") == unit).row(0, named=True)
            args = dict(
                year=year,
                unit=unit_rows[unit],
                metrics=_rows(metrics, unit),
                findings=_rows(found, unit),
                ledger=loaders.ledger_frames(lake, year, [unit]),
                dibao_monthly=std.get("dibao_monthly"),
                edu_standard=std.get("edu_standard"),
                medical_standard=std.get("medical_standard"),
                thresholds=thresholds,
            )
            wb = write_unit_workbook(data.workbook_path(year, unit), **args)
            rp = write_unit_report(data.report_path(year, unit), **args)
            written += 1
            formula_cells += count_formula_cells(wb["path"])
            context.add_asset_metadata(
                {
                    "workbook": dg.MetadataValue.path(str(wb["path"])),
                    "report": dg.MetadataValue.path(str(rp["path"])),
                    "sheets": len(wb["sheets"]),
                    "findings": wb["counts"].get("findings", 0),
                    "evidence_sheets": wb["counts"].get("evidence_sheets", 0),
                },
                partition_key=pk,
            )
            progress(context, "工作簿与报告 workbooks", done, len(keys))
    return dg.MaterializeResult(
        metadata={"workbooks": written, "reports": written, "skipped": len(skipped)},
        check_results=[
            result(
                "workbooks_written",
                written + len(skipped) == len(keys),
                asset="audit_workbooks",
                written=written,
                skipped_no_ledger="\n".join(skipped[:50]) or "无",
            ),
            result(
                "no_formula_cells",
                formula_cells == 0,
                asset="audit_workbooks",
                formula_cells=formula_cells,
            ),
        ],
    )


def _rows(frame: pl.DataFrame, unit: str) -> pl.DataFrame:
    if frame.is_empty() or "unit_code" not in frame.columns:
        return frame
    return frame.filter(pl.col("unit_code") == unit)
