"""Small helpers shared by the asset modules (Dagster side only)."""

import dagster as dg
import polars as pl

from assets.partitions import split_keys
from bangfu.lake import Lake

OWNER = "team:bangfu-audit"


def unit_year_keys(context: dg.AssetExecutionContext) -> list[tuple[int, str]]:
    return split_keys(context.partition_keys)


def year_keys(context: dg.AssetExecutionContext) -> list[int]:
    return sorted(int(k) for k in context.partition_keys)


def load_units(lake: Lake) -> pl.DataFrame:
    units = lake.read_single("ref_units")
    if units is None:
        raise dg.Failure(
            description="机构名录尚未读入：请先物化 reference_units（或运行 bangfu run）。"
            " units.csv has not been ingested yet: materialise reference_units first."
        )
    return units


def progress(context: dg.AssetExecutionContext, what: str, done: int, total: int) -> None:
    """Log progress about every tenth of the way (long ranged runs show they are alive)."""
    step = max(1, total // 10)
    if done == total or done % step == 0:
        context.log.info(f"{what}: {done}/{total}")
