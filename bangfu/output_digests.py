"""What a (year, unit)'s workbook and report are made of, as one digest per unit, and which
outputs are stale: their digest differs from the one they were written from.

A unit's workbook and draft report read: the unit's findings of the year (every stage), its
metrics rows of the audited years (the year and the two before), its ledger of the year (the
lake, written from the files whose hashes ``ingest_log`` holds), and, for every unit alike, the
unit directory, the standards and the settings. The digest covers exactly these, from the
warehouse the writers read, so after any partial run the outputs to write again are the
ones whose digest moved: the re-run unit, the units above it whose roll-ups changed, the units
whose cross-unit findings changed, and the later years whose three-year tables show a changed
year. ``rendered_outputs`` records the digest each written pair was made from. No Dagster here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable

import polars as pl

from bangfu.review.state import descendants_of
from bangfu.settings import AuditSettings
from warehouse import tables
from warehouse.store import Replacement, Warehouse, now

AUDITED_YEARS = 3  # the 2019 workbook and report show 2017, 2018 and 2019
DIGEST_SCHEMA = {"year": pl.Int64, "unit_code": pl.String, "inputs_digest": pl.String}
# columns that say when a row was written, not what it holds
_VOLATILE = {"ingested_at", "rejected_at", "rendered_at"}


def audited_years(year: int) -> list[int]:
    return list(range(year - AUDITED_YEARS + 1, year + 1))


def output_years_showing(years: Iterable[int], known: Iterable[int]) -> list[int]:
    """The years (of ``known``) whose outputs show any of ``years``: each year and the two after."""
    shown = set(years)
    return sorted(y for y in {int(k) for k in known} if shown & set(audited_years(y)))


def _frame_hashes(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """unit_code → the sorted hashes of the unit's rows (as text, so the same row hashes alike
    whatever dtype the read inferred for a column of nulls)."""
    cols = [c for c in frame.columns if c not in _VOLATILE]
    if frame.is_empty():
        return pl.DataFrame(schema={"unit_code": pl.String, name: pl.List(pl.UInt64)})
    text = frame.select(pl.col(cols).cast(pl.String))
    return (
        text.select("unit_code", text.hash_rows(seed=0).alias(name))
        .group_by("unit_code")
        .agg(pl.col(name).sort())
    )


def common_digest(settings: AuditSettings, units: pl.DataFrame, standards: pl.DataFrame) -> str:
    """What every unit's outputs read alike: settings, unit directory, standards."""
    h = hashlib.sha256(settings.hash().encode())
    h.update(pl.__version__.encode())  # row hashes are only stable within one polars version
    for frame in (units, standards):
        text = frame.select(pl.all().cast(pl.String))
        h.update(text.hash_rows(seed=0).sort().to_numpy().tobytes())
        h.update("|".join(frame.columns).encode())
    return h.hexdigest()[:16]


def review_marks(wh: Warehouse, year: int, units: pl.DataFrame | None) -> pl.DataFrame:
    """unit_code → what of the judgment journal its outputs show: the journal rows of the year
    and the year before (上年度问题整改情况) of the unit and every unit below it (the progress and
    exclusions a unit above shows), as (count, largest review_id). The journal is append-only,
    so these two numbers name the set of rows."""
    schema = {"unit_code": pl.String, "reviews": pl.String}
    journal = wh.read(tables.reviews, year=[year - 1, year])
    if journal.is_empty() or units is None:
        return pl.DataFrame(schema=schema)
    per_unit = {
        u: (n, m)
        for u, n, m in journal.group_by("unit_code")
        .agg(pl.len(), pl.col("review_id").cast(pl.Int64).max())
        .iter_rows()
    }
    below = descendants_of(units)
    marks = []
    for unit in units["unit_code"].to_list():
        seen = [per_unit[u] for u in (unit, *below.get(unit, ())) if u in per_unit]
        if seen:
            marks.append((unit, f"{sum(n for n, _ in seen)}:{max(m for _, m in seen)}"))
    return pl.DataFrame(marks, schema=schema, orient="row")


def input_digests(
    wh: Warehouse,
    year: int,
    common: str,
    unit_codes: Collection[str] | None = None,
    units: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """(year, unit_code, inputs_digest) of the year's units that have findings, metrics or an
    ingested ledger (of ``unit_codes``; None: all). Same inputs, same digest, in any read.
    ``units`` (the unit directory) adds the judgments the outputs show (:func:`review_marks`)."""
    only = sorted(set(unit_codes)) if unit_codes is not None else None
    parts = [
        _frame_hashes(wh.read(tables.findings, year=year, unit_code=only), "findings"),
        _frame_hashes(
            wh.read(tables.unit_year_metrics, year=audited_years(year), unit_code=only), "metrics"
        ),
        _frame_hashes(wh.read(tables.ingest_log, year=year, unit_code=only), "ledger"),
    ]
    marks = review_marks(wh, year, units)
    if not marks.is_empty():
        parts.append(marks if only is None else marks.filter(pl.col("unit_code").is_in(only)))
    keys = pl.concat([p.select("unit_code") for p in parts]).unique()
    joined = keys
    for p in parts:
        joined = joined.join(p, on="unit_code", how="left")
    if joined.is_empty():
        return pl.DataFrame(schema=DIGEST_SCHEMA)
    row_hash = joined.select(pl.exclude("unit_code")).hash_rows(seed=0)
    # hexadecimal: an 18- or 19-digit decimal would read as an ID number wherever it is shown
    digests = [f"{common}:{h:016x}" for h in row_hash.to_list()]  # one per unit
    return joined.select(
        pl.lit(year, pl.Int64).alias("year"),
        "unit_code",
        pl.Series("inputs_digest", digests, dtype=pl.String),
    ).sort("unit_code")


def rendered(wh: Warehouse, year: int, unit_codes: Collection[str] | None = None) -> pl.DataFrame:
    """The digests the year's existing outputs were written from."""
    only = sorted(set(unit_codes)) if unit_codes is not None else None
    frame = wh.read(tables.rendered_outputs, year=year, unit_code=only)
    if frame.is_empty():
        return pl.DataFrame(schema=DIGEST_SCHEMA)
    return frame.select(
        pl.col("year").cast(pl.Int64), "unit_code", pl.col("inputs_digest").cast(pl.String)
    )


def stale(current: pl.DataFrame, written: pl.DataFrame) -> pl.DataFrame:
    """Rows of ``current`` whose outputs were never written or written from other inputs."""
    return current.join(written, on=["year", "unit_code", "inputs_digest"], how="anti")


def record_rendered(digests: pl.DataFrame) -> list[Replacement]:
    """Replacements recording that these (year, unit)'s outputs were written from these digests."""
    out = []
    for (year,), frame in digests.partition_by("year", as_dict=True).items():
        out.append(
            Replacement(
                tables.rendered_outputs,
                {"year": int(year), "unit_code": frame["unit_code"].to_list()},
                frame,
                stamp={"rendered_at": now()},
            )
        )
    return out
