"""The year's ledger sheets of some units read from the lake in their canonical schema: the
one read the stages, the overview and the loaders share. No Dagster here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import polars as pl

from bangfu.frames import sheet_schema
from bangfu.lake import Lake
from bangfu.sheets import LEDGER_SHEETS, SHEETS_BY_KEY


def ledger_frames(
    lake: Lake,
    year: int,
    units: Iterable[str] | None,
    columns: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, pl.DataFrame]:
    """The year's ledger sheets for these units (None: all), canonical schema.

    ``columns``: sheet key → the columns to read; only those sheets are read (projection at the
    Parquet scan). Without it every sheet is read whole."""
    units = None if units is None else list(units)
    if columns is None:
        return {
            s.key: lake.read(s.key, [year], units, schema=sheet_schema(s)) for s in LEDGER_SHEETS
        }
    out = {}
    for key, cols in columns.items():
        schema = sheet_schema(SHEETS_BY_KEY[key])
        files = lake.files(key, [year], units)
        if not files:
            out[key] = pl.DataFrame(schema={c: schema[c] for c in cols})
            continue
        out[key] = (
            pl.scan_parquet(files, schema=schema, missing_columns="insert", extra_columns="ignore")
            .select(cols)
            .collect()
        )
    return out
