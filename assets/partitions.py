"""Partitions: one per (year, unit) for ledger-derived assets, one per year for cross-unit ones.

Both dimensions are dynamic: units are registered from units.csv, years from the landing
folder's year folders. A multi-partition key range is the rectangle of its two dimension ranges,
so "one year, all units" and "one unit, all years" are each ONE ranged run.
"""

from collections.abc import Iterable, Sequence

import dagster as dg

YEAR_DIM = "year"
UNIT_DIM = "unit"

years_partitions = dg.DynamicPartitionsDefinition(name="ledger_years")
units_partitions = dg.DynamicPartitionsDefinition(name="units")
unit_year_partitions = dg.MultiPartitionsDefinition(
    {YEAR_DIM: years_partitions, UNIT_DIM: units_partitions}
)

# (year, unit) partitions → their year partition, and back.
by_year = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=YEAR_DIM)


def split_keys(partition_keys) -> list[tuple[int, str]]:
    """Multi-partition keys of a run → sorted (year, unit_code) pairs."""
    out = []
    for key in partition_keys:
        dims = key.keys_by_dimension if isinstance(key, dg.MultiPartitionKey) else None
        if dims is None:
            dims = dg.MultiPartitionKey(
                dict(zip(sorted([UNIT_DIM, YEAR_DIM]), str(key).split("|"), strict=True))
            ).keys_by_dimension
        out.append((int(dims[YEAR_DIM]), dims[UNIT_DIM]))
    return sorted(out)


def multi_key(year: int, unit_code: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({YEAR_DIM: str(year), UNIT_DIM: unit_code})


def contiguous_blocks(wanted: Iterable[str], order: Sequence[str]) -> list[tuple[str, str]]:
    """Runs of consecutive keys (in the partitions' own order) → (first, last) ranges."""
    pos = {k: i for i, k in enumerate(order)}
    idx = sorted(pos[k] for k in set(wanted))
    blocks: list[tuple[str, str]] = []
    start = prev = None
    for i in idx:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            blocks.append((order[start], order[prev]))
            start = prev = i
    if start is not None:
        blocks.append((order[start], order[prev]))
    return blocks
