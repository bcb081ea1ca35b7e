"""One evaluation of the landing sensor as the daemon applies it, and what a ranged run request
covers (tests/dagster/test_automation.py, tests/e2e/test_review.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from assets.partitions import split_keys, unit_year_partitions
from pipelines.automation import landing_sensor
from resources import DataResource, LandingResource, WarehouseResource


def copy_landing(src: Path, dst: Path) -> Path:
    """reference/ and ledgers/ of a landing folder (mtimes kept); the truth is not needed."""
    for sub in ("reference", "ledgers"):
        shutil.copytree(src / sub, dst / sub)
    return dst


def tick(instance: dg.DagsterInstance, landing: Path, cursor: str | None, data: Path | None = None):
    """One sensor evaluation; dynamic-partition requests applied like the daemon does. ``data``:
    the data folder (whose reviews/inbox/ the sensor also takes); default beside the landing."""
    data = data or landing.parent / f"{landing.name}-data"  # nothing ingested: all requested
    with dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "landing": LandingResource(path=str(landing)),
            "data": DataResource(path=str(data)),
            "warehouse": WarehouseResource(data_path=str(data)),
        },
    ) as ctx:
        result = landing_sensor(ctx)
    if isinstance(result, dg.SensorResult):
        for req in result.dynamic_partitions_requests or []:
            assert isinstance(req, dg.AddDynamicPartitionsRequest)
            instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result


def covered(instance: dg.DagsterInstance, request: dg.RunRequest) -> set[tuple[int, str]]:
    """The (year, unit) partitions a ranged run request covers, resolved by Dagster itself."""
    rng = dg.PartitionKeyRange(
        request.tags[ASSET_PARTITION_RANGE_START_TAG], request.tags[ASSET_PARTITION_RANGE_END_TAG]
    )
    keys = unit_year_partitions.get_partition_keys_in_range(rng, dynamic_partitions_store=instance)
    return set(split_keys(keys))
