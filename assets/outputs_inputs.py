"""`unit_audit_inputs`: one (year, unit) partition per workbook and report, standing for what
they are made of (the unit's findings, its metrics of the audited years, its ledger, the
directory, standards and settings), with the digest of that content as its data version.

Nothing computes this asset: the year stage reports a materialisation of exactly the
partitions whose content no longer matches what their outputs were written from
(`bangfu.output_digests`), and `audit_workbooks` follows them by its automation condition. So
after a changed ledger the automation re-writes the changed unit, the units above it and the
units whose cross-unit findings moved, after the year stage and from its figures, and nothing
else. Dagster 1.13 gives a ranged run's materialisations one data version for all its
partitions (`MaterializeResult.data_version`), so the per-partition versions are reported here.
"""

from __future__ import annotations

import dagster as dg
import polars as pl

from assets.partitions import by_year, multi_key, unit_year_partitions

try:  # where Dagster keeps the tag an asset event's data version is read from
    from dagster._core.definitions.data_version import DATA_VERSION_TAG
except ImportError:  # pragma: no cover - the tag's documented value
    DATA_VERSION_TAG = "dagster/data_version"

unit_audit_inputs = dg.AssetSpec(
    "unit_audit_inputs",
    partitions_def=unit_year_partitions,
    group_name="workbooks",
    # by key: assets.metrics reports this asset's partitions, so it cannot be imported here
    deps=[
        dg.AssetDep("unit_findings"),
        dg.AssetDep("unit_year_metrics", partition_mapping=by_year),
        dg.AssetDep("cross_unit_findings", partition_mapping=by_year),
    ],
    description=(
        "审定表与报告的输入摘要（按年度、单位）：本单位当年全部审计发现、三个审计年度的指标、"
        "台账文件哈希、机构名录、标准与参数的内容摘要。年度汇总后，摘要变化的分区在此登记，"
        "工作簿随之重写。 Per (year, unit): the digest of what its workbook and report are made"
        " of; the year stage reports the partitions whose digest moved, and audit_workbooks"
        " follows them."
    ),
)


def announce(context: dg.AssetExecutionContext, changed: pl.DataFrame) -> int:
    """Report a `unit_audit_inputs` materialisation (data version = digest) per changed row."""
    for year, unit, digest in changed.select("year", "unit_code", "inputs_digest").iter_rows():
        key = multi_key(int(year), unit)
        context.log_event(
            dg.AssetMaterialization(
                asset_key=unit_audit_inputs.key,
                partition=key,
                tags={
                    DATA_VERSION_TAG: digest,
                    **{f"dagster/partition/{k}": v for k, v in key.keys_by_dimension.items()},
                },
            )
        )
    return changed.height
