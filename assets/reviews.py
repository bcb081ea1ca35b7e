"""Where the auditors' judgments enter the graph: per (year, unit), the journal's review
progress (review.md). The journal itself (warehouse table ``reviews``) is written by
``bangfu review`` and the inbox, never by an asset; this asset reads it so that lineage shows
judgments flowing into ``audit_workbooks`` and each partition's metadata shows its progress."""

import dagster as dg
import polars as pl
from sqlalchemy import select

from assets.common import OWNER, add_partition_metadata, load_units, unit_year_keys
from assets.findings import EAGER, unit_findings
from assets.partitions import multi_key, unit_year_partitions
from bangfu.forms.rule_homes import rule_info
from bangfu.review import journal
from bangfu.review.returned import mask_personal
from bangfu.review.values import VERDICT
from bangfu.stages.reading import grouped
from resources import DataResource, WarehouseResource
from warehouse import tables


@dg.asset(
    partitions_def=unit_year_partitions,
    group_name="review",
    owners=[OWNER],
    kinds={"sql"},
    deps=[unit_findings],
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=EAGER,
    description=(
        "复核意见：审计人员对每条审计发现的复核结论（待核实 / 确认 / 排除 / 已整改）、"
        "证据提供单位意见与审核意见，来自只追加的 reviews 日志（bangfu review 命令或交回的工作簿）。"
        "分区元数据显示复核进度。 The auditors' judgments per (year, unit), from the append-only"
        " journal; partition metadata shows review progress."
    ),
)
def reviews(
    context: dg.AssetExecutionContext, data: DataResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    wh = warehouse.get()
    keys = unit_year_keys(context)
    names = dict(load_units(data.lake).select("unit_code", "unit_name").iter_rows())
    f = tables.findings
    per_partition: list[tuple[str, dict]] = []
    totals = dict.fromkeys(VERDICT.values, 0)
    for year, units in grouped(keys).items():
        with wh.engine.connect() as conn:
            rows = conn.execute(
                select(f.c.year, f.c.unit_code, f.c.finding_id, f.c.rule_code).where(
                    f.c.year == year, f.c.unit_code.in_(units)
                )
            ).fetchall()
        found = pl.DataFrame(
            [tuple(r) for r in rows],
            schema={
                "year": pl.Int64,
                "unit_code": pl.String,
                "finding_id": pl.String,
                "rule_code": pl.String,
            },
            orient="row",
        )
        cur = journal.current(wh, years=[year], units=units)
        verdicts = cur.filter(pl.col("target_kind") == "finding").select(
            pl.col("target_key").alias("finding_id"), pl.col("value").alias("verdict")
        )
        found = found.join(verdicts, on="finding_id", how="left").with_columns(
            pl.col("verdict").fill_null(VERDICT.default)
        )
        by_unit = found.partition_by("unit_code", as_dict=True)
        opinions = cur.filter(pl.col("target_kind") != "finding").partition_by(
            "unit_code", as_dict=True
        )
        for unit in units:
            mine = by_unit.get((unit,), found.clear())
            counts = {v: int((mine["verdict"] == v).sum()) for v in VERDICT.values}
            for v, n in counts.items():
                totals[v] += n
            rules = mine.group_by("rule_code", "verdict").len().sort("rule_code", "verdict")
            lines = [
                f"{r['rule_code']} {rule_info(r['rule_code']).title}：{r['verdict']} {r['len']} 条"
                for r in rules.iter_rows(named=True)
            ]
            ops = opinions.get((unit,))
            op_lines = (
                [
                    f"{'取证单' if r['target_kind'] == 'evidence' else '底稿'} {r['target_key']}："
                    f"{r['value']}（{r['decided_by']}）"
                    + (f" {mask_personal(r['note'])}" if r["note"] else "")
                    for r in ops.iter_rows(named=True)
                ]
                if ops is not None
                else []
            )
            per_partition.append(
                (
                    multi_key(year, unit),
                    {
                        "unit": f"{unit} {names.get(unit) or ''}",
                        **{f"复核结论_{v}": n for v, n in counts.items()},
                        "by_rule": dg.MetadataValue.md("\n".join(f"- {x}" for x in lines) or "无"),
                        "opinions": dg.MetadataValue.md(
                            "\n".join(f"- {x}" for x in op_lines) or "无"
                        ),
                    },
                )
            )
    add_partition_metadata(context, per_partition)
    context.log.info(
        "复核进度 review progress: " + "，".join(f"{v} {n}" for v, n in totals.items())
    )
    return dg.MaterializeResult(metadata={f"复核结论_{v}": n for v, n in totals.items()})
