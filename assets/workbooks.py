"""The auditor's deliverables per (year, unit): the 审定表 workbook and the draft 审计报告."""

import dagster as dg
from pydantic import Field

from assets import loaders
from assets.common import OWNER, add_partition_metadata, load_units, progress, unit_year_keys
from assets.findings import EAGER
from assets.outputs_inputs import unit_audit_inputs
from assets.partitions import multi_key, unit_year_partitions
from assets.reviews import reviews
from bangfu.stages.outputs import OutputError, run_workbooks
from checks.asset_checks import WORKBOOK_CHECKS, result
from resources import AuditSettingsResource, DataResource, WarehouseResource


class WorkbookScope(dg.Config):
    """Which partitions of the run to write."""

    only_changed: bool = Field(
        default=True,
        description=(
            "只重写输入摘要已变化（或文件缺失）的工作簿与报告，其余保持原样。"
            " Write only the pairs whose inputs moved since they were written (or whose files"
            " are missing); the others are already what these inputs give."
        ),
    )
    force_units: list[str] = Field(
        default_factory=list,
        description="无论摘要是否变化都重写的单位（bangfu run --unit）。 Units written regardless.",
    )


# Only through unit_audit_inputs, which the year stage reports once its figures are written:
# an edge from unit_findings would let the automation write a unit's workbook in the same tick
# as the year stage, from the year's old figures. `reviews` is an edge for lineage (where the
# judgments enter) that the automation ignores: a recorded judgment launches its own output
# runs (pipelines.runner.rematerialise), and the review state is part of the inputs digest.
@dg.asset(
    partitions_def=unit_year_partitions,
    group_name="workbooks",
    owners=[OWNER],
    kinds={"excel", "docx"},
    deps=[unit_audit_inputs, reviews],
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=EAGER.ignore(dg.AssetSelection.assets(reviews)),
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
    config: WorkbookScope,
) -> dg.MaterializeResult:
    lake, wh = data.lake, warehouse.get()
    settings = loaders.settings(audit_settings)
    keys = unit_year_keys(context)

    per_partition: list[tuple[str, dict]] = []

    def on_unit(year: int, unit: str, res: dict | None) -> None:
        pk = multi_key(year, unit)
        if res is None:
            per_partition.append((pk, {"status": "无可用台账，未生成"}))
            return
        if res.get("unchanged"):
            per_partition.append(
                (pk, {"status": "输入未变，保持原样", "inputs_digest": res["inputs_digest"]})
            )
            return
        per_partition.append(
            (
                pk,
                {
                    "workbook": dg.MetadataValue.path(res["workbook"]),
                    "report": dg.MetadataValue.path(res["report"]),
                    "sheets": res["sheets"],
                    "findings": res["findings"],
                    "evidence_sheets": res["evidence_sheets"],
                    "inputs_digest": res.get("inputs_digest") or "",
                },
            )
        )

    try:
        out = run_workbooks(
            lake,
            wh,
            settings,
            keys,
            units=load_units(lake),
            paths={"workbook": data.workbook_path, "report": data.report_path},
            on_unit=on_unit,
            progress=lambda done, total: progress(context, "工作簿与报告 workbooks", done, total),
            only_changed=config.only_changed,
            force_units=config.force_units,
        )
    except OutputError as exc:
        raise dg.Failure(description=str(exc)) from exc
    # one check of the run's keys, not one listing of the whole range per partition
    add_partition_metadata(context, per_partition)
    return dg.MaterializeResult(
        metadata={
            "workbooks": out.written,
            "reports": out.written,
            "skipped": len(out.skipped),
            "unchanged": len(out.unchanged),
        },
        check_results=[
            result(
                "workbooks_written",
                out.written + len(out.skipped) + len(out.unchanged) == len(keys),
                asset="audit_workbooks",
                written=out.written,
                unchanged=len(out.unchanged),
                skipped_no_ledger="\n".join(out.skipped[:50]) or "无",
            ),
            result(
                "no_formula_cells",
                out.formula_cells == 0,
                asset="audit_workbooks",
                formula_cells=out.formula_cells,
            ),
        ],
    )
