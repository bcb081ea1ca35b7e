"""Small helpers shared by the asset modules (Dagster side only)."""

import dagster as dg
import polars as pl

from assets.partitions import split_keys
from bangfu.lake import Lake
from pipelines.dagster_private import add_partition_metadata_at_once

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


def add_partition_metadata(
    context: dg.AssetExecutionContext, entries: list[tuple[str, dict]]
) -> None:
    """``context.add_asset_metadata(metadata, partition_key=key)`` for every partition of a
    ranged run, in time linear in the number of partitions.

    Dagster 1.13's add_asset_metadata checks the key by listing the run's whole partition range
    on every call (instance queries for both dynamic dimensions, one key object per partition),
    so a call costs time in proportion to the range, and its accumulator copies every
    partition's metadata on each add. Here the run's keys are listed once and the accumulator
    is rebuilt once (pipelines.dagster_private); where this Dagster keeps the step's metadata
    elsewhere, the public call is used as it is."""
    if add_partition_metadata_at_once(context, entries):
        return
    for key, metadata in entries:  # another Dagster: the public (slow) way
        context.add_asset_metadata(metadata, partition_key=key)
