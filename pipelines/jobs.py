"""Jobs: one per stage, because a run's assets must share one partitioning.

`bangfu run` launches them in order as ranged runs (pipelines.runner); the sensor and the
schedule launch the unit stage and let the later stages follow by their automation conditions.
"""

from __future__ import annotations

import dagster as dg

from assets import findings, ingest, metrics, overview, reference, reviews, validation, workbooks

reference_job = dg.define_asset_job(
    "reference_job",
    selection=dg.AssetSelection.assets(
        reference.reference_units, reference.reference_standards, reference.landing_inventory
    ),
    description="参考数据：机构名录、民政标准、比对名单、落地目录清单。Reference data.",
)
unit_stage_job = dg.define_asset_job(
    "unit_stage_job",
    selection=dg.AssetSelection.assets(ingest.ledgers, findings.unit_findings),
    description="（年度，单位）分区：台账入湖与本单位审计发现。Per (year, unit): ingest, findings.",
)
year_stage_job = dg.define_asset_job(
    "year_stage_job",
    selection=dg.AssetSelection.assets(
        validation.data_quality,
        findings.cross_unit_findings,
        metrics.unit_year_metrics,
        overview.year_overview,
    ),
    description=(
        "年度：数据质量报告、跨单位发现、逐级汇总指标与审计总览。"
        "Per year: data-quality report, cross-unit findings, roll-ups, overview."
    ),
)
output_stage_job = dg.define_asset_job(
    "output_stage_job",
    selection=dg.AssetSelection.assets(reviews.reviews, workbooks.audit_workbooks),
    description=(
        "（年度，单位）分区：复核意见、审定表工作簿与审计报告。"
        "Per (year, unit): review progress, workbooks, reports."
    ),
)

# The overview alone: a judgment changes what the overview counts (排除 findings are left out,
# the review progress), with no new ledger, metric or finding behind it.
overview_job = dg.define_asset_job(
    "overview_job",
    selection=dg.AssetSelection.assets(overview.year_overview),
    description="年度审计总览（复核意见变化后重写）。Per year: the overview alone, after judgments.",
)

# The stages `bangfu run` launches, in order; year jobs are ranged over years only.
STAGE_JOBS: list[str] = ["unit_stage_job", "year_stage_job", "output_stage_job"]
YEAR_JOBS: set[str] = {"year_stage_job"}
JOBS = [reference_job, unit_stage_job, year_stage_job, output_stage_job, overview_job]
