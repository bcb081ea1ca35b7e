"""The first-two-digit Benford screen of the year overview (Nigrini): which amounts it reads
(医疗救助 payments and 会计明细账 debits from the lake), their first-two-digit counts per unit
kept in the lake between runs (only the ledger partitions whose files changed are read again),
and the test per unit over its own and its subtree's amounts. Pure polars; no Dagster here."""

from __future__ import annotations

import math
import os

import polars as pl

from bangfu.frames import sheet_schema
from bangfu.lake import FILE_NAME, Lake
from bangfu.rules.common import LEVEL_ORDER, ancestor_pairs, conform_units
from bangfu.sheets import SHEETS_BY_KEY

# Benford first-two-digit test (Nigrini): which amounts, how many make a test, and the MAD classes
BENFORD_MIN_AMOUNT = 10.0  # 元: an amount below 10 has no second digit before the point
BENFORD_MIN_N = 300
BENFORD_DIGITS = tuple(range(10, 100))
BENFORD_CLASSES = ((0.0012, "接近"), (0.0018, "可接受"), (0.0022, "边缘"))
BENFORD_NONCONFORMING = "不符合"
BENFORD_TOP = 5
MEDICAL = "医疗救助"


def benford_expected() -> pl.DataFrame:
    """(digits, expected): log10(1 + 1/d) for the first two digits d = 10 … 99."""
    return pl.DataFrame(
        {
            "digits": list(BENFORD_DIGITS),
            "expected": [math.log10(1 + 1 / d) for d in BENFORD_DIGITS],
        },
        schema={"digits": pl.Int32, "expected": pl.Float64},
    )


def benford_class(mad: float | None) -> str | None:
    if mad is None:
        return None
    for limit, name in BENFORD_CLASSES:
        if mad <= limit:
            return name
    return BENFORD_NONCONFORMING


# Which columns of which ledger sheets the Benford test reads.
BENFORD_SHEETS: dict[str, tuple[str, ...]] = {
    "payments": ("unit_code", "category", "amount"),
    "ledger": ("unit_code", "debit"),
}
# The year's kept first-two-digit counts per ledger partition (lake, unit "all"); ``spec`` names
# what they count, so counts of another definition are not reused.
BENFORD_DATASET = "benford_counts"
BENFORD_SPEC = f"1|{BENFORD_MIN_AMOUNT}|{MEDICAL}|{','.join(BENFORD_SHEETS)}"
_PARTS_SCHEMA = {"part": pl.String, "payments": pl.String, "ledger": pl.String}
_KEPT_SCHEMA = {
    **_PARTS_SCHEMA,
    "spec": pl.String,
    "unit_code": pl.String,
    "digits": pl.Int32,
    "count": pl.Int64,
}
_COUNTS_SCHEMA = {"unit_code": pl.String, "digits": pl.Int32, "count": pl.Int64}


def _amounts(lake: Lake, year: int, units: list[str] | None) -> pl.LazyFrame:
    """(__file, unit_code, amount) of the qualifying amounts of these ledger partitions (None:
    all), a lazy scan; ``__file`` is the file an amount was read from."""
    parts = []
    for key, cols in BENFORD_SHEETS.items():
        files = lake.files(key, [year], units)
        if not files:
            continue
        schema = sheet_schema(SHEETS_BY_KEY[key])
        frame = pl.scan_parquet(
            files,
            schema=schema,
            missing_columns="insert",
            extra_columns="ignore",
            include_file_paths="__file",
        )
        if key == "payments":
            frame = frame.filter(pl.col("category") == MEDICAL)
        amount = cols[-1]  # the money column is listed last
        parts.append(
            frame.select("__file", "unit_code", pl.col(amount).cast(pl.Float64).alias("amount"))
        )
    if not parts:
        return pl.LazyFrame(
            schema={"__file": pl.String, "unit_code": pl.String, "amount": pl.Float64}
        )
    return pl.concat(parts).filter(pl.col("amount") >= BENFORD_MIN_AMOUNT)


def benford_amounts(lake: Lake, year: int) -> pl.DataFrame:
    """(unit_code, amount): the year's 医疗救助 payments and 会计明细账 debits of at least
    :data:`BENFORD_MIN_AMOUNT`, every unit, from the lake (only these columns read)."""
    return _amounts(lake, year, None).select("unit_code", "amount").collect()


def benford_digit_counts(
    amounts: pl.DataFrame | pl.LazyFrame, by: tuple[str, ...] = ()
) -> pl.DataFrame:
    """(*by, unit_code, digits, count): how many of ``amounts`` (unit_code, amount) start with
    each first two digits, taken from the amount in cents as text (10.00 and 99.99 exact)."""
    lead = (
        (pl.col("amount") * 100)
        .round(0)
        .cast(pl.Int64)
        .cast(pl.String)
        .str.slice(0, 2)
        .cast(pl.Int32)
        .alias("digits")
    )
    return (
        amounts.lazy()
        .select(*by, "unit_code", lead)
        .group_by(*by, "unit_code", "digits")
        .agg(pl.len().cast(pl.Int64).alias("count"))
        .collect()
    )


def ledger_fingerprints(lake: Lake, year: int) -> pl.DataFrame:
    """(part, payments, ledger): every ledger partition of the year with the file identity
    (size, modification time, inode) of its payments and ledger sheet, "" for a missing one. A
    lake file is only ever replaced by renaming a new file over it, so a changed sheet has a
    new identity."""
    found: dict[str, dict[str, str]] = {}
    for key in BENFORD_SHEETS:
        folder = lake.root / key / f"year={year}"
        if not folder.is_dir():
            continue
        with os.scandir(folder) as entries:  # the listing lake.files makes, without a glob
            for entry in entries:
                if not entry.name.startswith("unit="):
                    continue
                try:
                    st = os.stat(os.path.join(entry.path, FILE_NAME))
                except (FileNotFoundError, NotADirectoryError):  # an empty or removed folder
                    continue
                fp = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
                found.setdefault(entry.name.removeprefix("unit="), {})[key] = fp
    rows = [(p, v.get("payments", ""), v.get("ledger", "")) for p, v in sorted(found.items())]
    return pl.DataFrame(rows, schema=_PARTS_SCHEMA, orient="row")


def _kept_counts(lake: Lake, year: int) -> pl.DataFrame:
    if not lake.has(BENFORD_DATASET, year, "all"):
        return pl.DataFrame(schema=_KEPT_SCHEMA)
    try:
        kept = pl.read_parquet(lake.path(BENFORD_DATASET, year, "all"))
        kept = kept.select([pl.col(c).cast(t) for c, t in _KEPT_SCHEMA.items()])
    except (pl.exceptions.PolarsError, OSError):  # another version's, or unreadable: recount
        return pl.DataFrame(schema=_KEPT_SCHEMA)
    return kept.filter(pl.col("spec") == BENFORD_SPEC)


def benford_counts(lake: Lake, year: int, *, keep: bool = True) -> pl.DataFrame:
    """(unit_code, digits, count) over the year's qualifying amounts (:func:`benford_amounts`),
    equal to counting them all, reading only the ledger partitions whose payments or ledger file
    changed since the counts were last kept (``benford_counts`` in the lake, one row per
    partition, unit and digit pair, with the files' identities). A partition gone from the lake
    drops out; ``keep``: write the counts back when any partition was recounted or dropped."""
    now = ledger_fingerprints(lake, year)
    kept = _kept_counts(lake, year)
    fresh = now.join(kept.select(list(_PARTS_SCHEMA)).unique(), on=list(_PARTS_SCHEMA), how="anti")
    still = kept.join(now, on=list(_PARTS_SCHEMA), how="semi")
    if fresh.height:
        counted = benford_digit_counts(_amounts(lake, year, fresh["part"].to_list()), ("__file",))
        counted = (  # per file → per partition (the file's unit folder)
            counted.with_columns(
                pl.col("__file").str.extract(r"unit=([^/\\]+)[/\\][^/\\]+$").alias("part")
            )
            .group_by("part", "unit_code", "digits")
            .agg(pl.col("count").sum())
        )
        recounted = (
            fresh.join(counted, on="part", how="left")  # a partition of no amount: one null row
            .with_columns(pl.lit(BENFORD_SPEC).alias("spec"), pl.col("count").fill_null(0))
            .select(list(_KEPT_SCHEMA))
        )
        still = pl.concat([still, recounted])
    if keep and (fresh.height or still.height != kept.height):
        lake.write(BENFORD_DATASET, year, "all", still.sort("part", "unit_code", "digits"))
    return (
        still.filter(pl.col("digits").is_not_null())
        .group_by("unit_code", "digits")
        .agg(pl.col("count").sum())
        .select(list(_COUNTS_SCHEMA))
    )


def benford(units: pl.DataFrame, digit_counts: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """First-two-digit Benford test for every unit with at least :data:`BENFORD_MIN_N` amounts
    (its own and below) and for every province, over ``digit_counts`` (unit_code, digits,
    count: :func:`benford_digit_counts` or :func:`benford_counts`).

    Returns (tests, digits): one row per tested unit (n, MAD, class, the five pairs of largest
    excess), and (unit_code, digits, count, observed, expected) for every tested unit and pair."""
    u = conform_units(units)
    pairs = ancestor_pairs(u).select("unit_code", "ancestor_code")
    counts = (
        digit_counts.select("unit_code", "digits", "count")
        .join(pairs, on="unit_code", how="inner")
        .group_by("ancestor_code", "digits")
        .agg(pl.col("count").sum())
        .rename({"ancestor_code": "unit_code"})
    )
    n = counts.group_by("unit_code").agg(pl.col("count").sum().alias("n"))
    provinces = u.filter(pl.col("level") == "省").select("unit_code")
    tested = (
        u.select("unit_code", "unit_name", "level")
        .join(n, on="unit_code", how="left")
        .with_columns(pl.col("n").fill_null(0))
        .filter(
            (pl.col("n") >= BENFORD_MIN_N)
            | pl.col("unit_code").is_in(provinces["unit_code"].to_list())
        )
    )
    digits = (
        tested.select("unit_code", "n")
        .join(benford_expected(), how="cross")
        .join(counts, on=["unit_code", "digits"], how="left")
        .with_columns(pl.col("count").fill_null(0))
        .with_columns(
            pl.when(pl.col("n") > 0)
            .then(pl.col("count") / pl.col("n"))
            .otherwise(None)
            .alias("observed")
        )
        .with_columns((pl.col("observed") - pl.col("expected")).alias("excess"))
        .sort("unit_code", "digits")
    )
    top = (
        digits.filter(pl.col("n") > 0)
        .sort(["unit_code", "excess", "digits"], descending=[False, True, False])
        .group_by("unit_code", maintain_order=True)
        .head(BENFORD_TOP)
        .group_by("unit_code", maintain_order=True)
        .agg(
            pl.format(
                "{}（{}%）",
                pl.col("digits"),
                (pl.col("excess") * 100).round(2).map_elements(_signed, return_dtype=pl.String),
            )
            .str.join("、")
            .alias("top_excess")
        )
    )
    mad = digits.group_by("unit_code").agg(pl.col("excess").abs().mean().alias("mad"))
    tests = (
        tested.join(mad, on="unit_code", how="left")
        .join(top, on="unit_code", how="left")
        .with_columns(
            pl.col("mad")
            .map_elements(benford_class, return_dtype=pl.String)
            .alias("benford_class"),
            pl.col("level").replace_strict(LEVEL_ORDER, default=9).alias("_lv"),
        )
        .sort("_lv", "unit_code")
        .drop("_lv")
    )
    return tests, digits.drop("excess")


def _signed(x: float) -> str:
    return f"{x:+.2f}"
