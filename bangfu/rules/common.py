"""Shared expressions and frame preparation for the rules (pure polars, no Dagster)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import polars as pl

from bangfu.frames import sheet_schema
from bangfu.parse import gb11643_valid, normalise_id
from bangfu.settings import AuditSettings
from bangfu.sheets import LEDGER_SHEETS, SHEETS_BY_KEY

U, ID = "unit_code", "id_number"
_SPACES = r"[\s\u200b\u200c\u200d\u2060\ufeff]"
_APOSTROPHES = r"['\u2018\u2019\u201b`\u00b4]"


# ---------------------------------------------------------------- value expressions
def cents(e: pl.Expr | str) -> pl.Expr:
    """元 (Float64) → integer cents."""
    e = pl.col(e) if isinstance(e, str) else e
    return (e * 100).round(0).cast(pl.Int64)


def yuan(c: pl.Expr | str) -> pl.Expr:
    """Integer cents → '1234.50' (text, for details)."""
    c = pl.col(c) if isinstance(c, str) else c
    a = c.abs()
    frac = (a % 100).cast(pl.String).str.zfill(2)
    sign = pl.when(c < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str([sign, (a // 100).cast(pl.String), pl.lit("."), frac])


def day(e: pl.Expr | str) -> pl.Expr:
    e = pl.col(e) if isinstance(e, str) else e
    return e.dt.strftime("%Y年%-m月%-d日").fill_null("（无日期）")


def txt(e: pl.Expr | str, empty: str = "（空）") -> pl.Expr:
    e = pl.col(e) if isinstance(e, str) else e
    return e.cast(pl.String).fill_null(empty)


def masked_id(e: pl.Expr | str = ID) -> pl.Expr:
    """520102********123X: first 6 and last 4 kept; short values keep only the last 2."""
    e = pl.col(e) if isinstance(e, str) else e
    n = e.str.len_chars()
    long = pl.concat_str([e.str.slice(0, 6), pl.lit("********"), e.str.slice(-4, 4)])
    short = pl.concat_str([pl.lit("****"), e.str.slice(-2, 2)])
    return pl.when(n >= 12).then(long).otherwise(short).fill_null("（无身份证号）")


def who(name: str = "name", id_col: str = ID) -> pl.Expr:
    return pl.concat_str([txt(name, "（无姓名）"), pl.lit("（"), masked_id(id_col), pl.lit("）")])


def no_spaces(e: pl.Expr | str) -> pl.Expr:
    e = pl.col(e) if isinstance(e, str) else e
    e = e.str.replace_all(_SPACES, "")
    return pl.when(e.str.len_chars() == 0).then(None).otherwise(e)


def normalise_phone(e: pl.Expr | str) -> pl.Expr:
    e = pl.col(e) if isinstance(e, str) else e
    e = (
        e.str.normalize("NFKC")
        .str.replace_all(_SPACES, "")
        .str.replace_all(r"[-\u2010-\u2015]", "")
    )
    e = e.str.replace(r"^(\+86|0086)", "")
    return pl.when(e.str.len_chars() == 0).then(None).otherwise(e)


def id_valid(year: int, e: pl.Expr | str = ID, min_year: int = 1900) -> pl.Expr:
    """GB 11643 validity of the IDs (bangfu.parse), birth dates from ``min_year`` to ``year``."""
    return gb11643_valid(e, year, min_year=min_year)


def in_year(e: pl.Expr | str, year: int) -> pl.Expr:
    e = pl.col(e) if isinstance(e, str) else e
    return e.is_between(pl.date(year, 1, 1), pl.date(year, 12, 31)).fill_null(False)


def milli(x: float) -> int:
    """A factor as an integer number of thousandths, for exact integer comparisons."""
    return round(x * 1000)


# ---------------------------------------------------------------- frame preparation
def conform(frame: pl.DataFrame | None, key: str) -> pl.DataFrame:
    """Give a sheet frame every canonical and meta column with its dtype (missing → null), keep any
    extra columns, and add ``_rid`` (row position, used as the row's identity)."""
    spec = SHEETS_BY_KEY[key]
    schema = sheet_schema(spec)
    if frame is None:
        frame = pl.DataFrame(schema=schema)
    missing = [
        pl.lit(None, dtype).alias(c) for c, dtype in schema.items() if c not in frame.columns
    ]
    if missing:
        frame = frame.with_columns(missing)
    frame = frame.with_columns(
        [pl.col(c).cast(d) for c, d in schema.items() if frame.schema[c] != d]
    )
    if "_rid" in frame.columns:
        frame = frame.drop("_rid")
    frame = frame.with_row_index("_rid")
    ids = [c.name for c in spec.columns if c.kind == "id"]
    phones = [c.name for c in spec.columns if c.kind == "phone"]
    # Frames from the reader are normalised already: re-normalise a column only when some value
    # is not in normal form (a whole-column decision, cheap to test; NFKC is not).
    exprs = [
        normalise_id(c).alias(c)
        for c in ids
        if frame.get_column(c).str.contains(r"[^0-9A-Z]").any()
    ] + [
        normalise_phone(c).alias(c)
        for c in phones
        if frame.get_column(c).str.contains(r"[^0-9]").any()
    ]
    if spec.key in ("archive", "staff"):
        exprs.append(no_spaces("address").alias("_addr"))
    if "source_sheet" in frame.columns:
        exprs.append(pl.col("source_sheet").fill_null(spec.title))
    return frame.with_columns(exprs)


def conform_roster(roster: pl.DataFrame | None) -> pl.DataFrame | None:
    if roster is None:
        return None
    base = conform(roster, "civil_roster")
    return base.with_columns(pl.col("source_sheet").fill_null("民政比对名单"))


def conform_units(units: pl.DataFrame) -> pl.DataFrame:
    cols = ["unit_code", "unit_name", "level", "parent_code"]
    out = units.select(
        [
            pl.col(c).cast(pl.String) if c in units.columns else pl.lit(None, pl.String).alias(c)
            for c in cols
        ]
    )
    return out.with_columns(
        pl.when(pl.col("parent_code").str.len_chars() == 0)
        .then(None)
        .otherwise(pl.col("parent_code"))
        .alias("parent_code")
    )


# the levels of the unit tree, top first (a sort key)
LEVEL_ORDER = {"省": 0, "市": 1, "县": 2}


def ancestor_pairs(units: pl.DataFrame) -> pl.DataFrame:
    """(unit_code, ancestor_code, depth) for every unit and each of its ancestors, itself included
    at depth 0. Walks 上级单位代码 one level per step (a loop over levels, not rows)."""
    u = conform_units(units)
    parents = u.select(
        pl.col("unit_code").alias("ancestor_code"), pl.col("parent_code").alias("_up")
    )
    frontier = u.select(
        "unit_code", pl.col("unit_code").alias("ancestor_code"), pl.lit(0, pl.Int64).alias("depth")
    )
    parts = [frontier]
    for _ in range(max(u.height, 1)):
        frontier = (
            frontier.join(parents, on="ancestor_code", how="inner")
            .filter(pl.col("_up").is_not_null())
            .select(
                "unit_code",
                pl.col("_up").alias("ancestor_code"),
                (pl.col("depth") + 1).alias("depth"),
            )
        )
        if frontier.height == 0:
            break
        parts.append(frontier)
    return pl.concat(parts)


def empty_frames() -> dict[str, pl.DataFrame]:
    return {s.key: conform(None, s.key) for s in LEDGER_SHEETS}


@dataclass
class Context:
    """What every rule function sees: conformed frames of one year, the unit context, settings."""

    frames: dict[str, pl.DataFrame]
    units: pl.DataFrame
    unit_ctx: pl.DataFrame  # unit_code, dibao_c (cents), edu_standard, medical_standard …
    roster: pl.DataFrame | None
    year: int
    settings: AuditSettings
    sheets_present: Mapping[str, Iterable[str]] | None = None
    _cache: dict = field(default_factory=dict)

    def f(self, key: str) -> pl.DataFrame:
        return self.frames[key]

    def present(self, key: str) -> list[str]:
        """Units whose ledger holds sheet ``key``: as given, else those with at least one row."""
        if self.sheets_present is not None and key in self.sheets_present:
            return sorted(set(self.sheets_present[key]))
        return self.frames[key].get_column(U).unique().drop_nulls().to_list()

    def cached(self, name: str, build):
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]

    # --- derived frames shared by several rules
    def latest_records(self) -> pl.DataFrame:
        """Each (unit, id)'s most recent archive record: latest 建档日期, then larger 档案编号
        (numerically when both are numbers)."""

        def build():
            a = self.f("archive").filter(pl.col(ID).is_not_null())
            a = a.with_columns(pl.col("archive_no").cast(pl.Int64, strict=False).alias("_ano_n"))
            a = a.sort([U, ID, "archived_on", "_ano_n", "archive_no"], nulls_last=False)
            return a.unique([U, ID], keep="last", maintain_order=True)

        return self.cached("latest", build)

    def payments(self) -> pl.DataFrame:
        def build():
            s = self.settings
            return self.f("payments").with_columns(
                cents("amount").alias("_c"),
                (pl.col("fund") != s.warmth_fund).fill_null(True).alias("_hb"),
            )

        return self.cached("payments", build)

    def dibao(self) -> pl.DataFrame:
        return self.unit_ctx.select(U, "dibao_c").filter(pl.col("dibao_c").is_not_null())

    def roster_ids(self) -> pl.DataFrame | None:
        """(id_number, roster_type) of the year's roster rows whose type counts (低保 / 特困)."""
        if self.roster is None:
            return None
        return (
            self.roster.filter(pl.col("roster_type").is_in(list(self.settings.roster_types)))
            .group_by(ID)
            .agg(pl.col("roster_type").unique().sort().str.join("、").alias("_rtype"))
        )


def pay_subject() -> pl.Expr:
    """'张三（520102********123X）2019年3月5日 生活救助 800.00元（发放编号P001，中央财政专项帮扶资金）'"""
    return pl.concat_str(
        [
            who(),
            pl.lit("于"),
            day("paid_on"),
            pl.lit("领取"),
            txt("category"),
            yuan("_c"),
            pl.lit("元（发放编号"),
            txt("payment_no"),
            pl.lit("，"),
            txt("fund"),
            pl.lit("）"),
        ]
    )


def rec_subject() -> pl.Expr:
    """'张三（520102********123X）的档案A001（2019年3月5日建档）'"""
    return pl.concat_str(
        [
            who(),
            pl.lit("的档案"),
            txt("archive_no"),
            pl.lit("（"),
            day("archived_on"),
            pl.lit("建档）"),
        ]
    )


SOURCE = ["source_file", "source_sheet", "source_row"]
