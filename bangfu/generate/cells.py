"""The cells of a rendered sheet: how a canonical value is written by hand.

A sheet is rendered into one all-String frame. Typed xlsx cells travel inside it behind a
sentinel (CSV never carries one): ``\\x01N<number>`` a number cell, ``\\x01F<number>`` a number
cell shown as ``#,##0.00``, ``\\x01D<yyyy-mm-dd>`` a real Excel date cell. ``BLANK_LINE`` in
``c0`` marks a CSV line that is written completely empty (no separators).

Each ``*_options`` function gives a column's value in every written form of its kind, in the
order of the kind's ``*_FORMS`` names; every form reads back as the canonical value after the
normalisation of ``bangfu.sheets`` / ``bangfu.parse``.
"""

from __future__ import annotations

import polars as pl

from bangfu.sheets import VALUE_SYNONYMS

NUM = "\x01N"
NUM_FMT = "\x01F"
DATE = "\x01D"
BLANK_LINE = "\x02BLANK\x02"

DATE_FORMS = ("excel", "iso", "slash", "dot", "chinese", "compact")
AMOUNT_FORMS = ("number", "yuan", "thousands", "fullwidth", "thousands_yuan", "text")
ID_FORMS = ("plain", "lower_x", "spaces", "apostrophe", "fullwidth")
PHONE_FORMS = ("plain", "dashes", "plus86", "spaces")
TEXT_FORMS = ("plain", "lead_space", "trail_fullwidth_space", "inner_space", "synonym")

ASCII_CHARS = list("0123456789X")
FULL_WIDTH_CHARS = list("０１２３４５６７８９Ｘ")

# value synonyms of the seed's forms, canonical value → the spellings that mean it
INVERSE_VALUE_SYNONYMS: dict[str, list[str]] = {}
for _syn, _canon in VALUE_SYNONYMS.items():
    INVERSE_VALUE_SYNONYMS.setdefault(_canon, []).append(_syn)


def fullwidth(e: pl.Expr) -> pl.Expr:
    return e.str.replace_many(ASCII_CHARS, FULL_WIDTH_CHARS)


def amount_options(x: pl.Expr, form: str) -> list[pl.Expr]:
    cents = (x * 100).round(0).cast(pl.Int64)
    a = cents.abs()
    sign = pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    ip = (a // 100).cast(pl.String)
    fp = (a % 100).cast(pl.String).str.zfill(2)
    ip_k = ip.str.reverse().str.replace_all(r"(\d{3})", "${1},").str.strip_chars_end(",")
    ip_k = ip_k.str.reverse()
    plain = pl.concat_str([sign, ip, pl.lit("."), fp])
    thousands = pl.concat_str([sign, ip_k, pl.lit("."), fp])
    number = x.cast(pl.String)
    if form == "xlsx":
        number = pl.concat_str([pl.lit(NUM), number])
    return [
        number,
        pl.concat_str([plain, pl.lit("元")]),
        thousands,
        fullwidth(plain),
        pl.concat_str([thousands, pl.lit("元")]),
        plain,
    ]


def date_options(d: pl.Expr, form: str) -> list[pl.Expr]:
    iso = d.dt.strftime("%Y-%m-%d")
    excel = pl.concat_str([pl.lit(DATE), iso]) if form == "xlsx" else iso
    return [
        excel,
        iso,
        d.dt.strftime("%Y/%-m/%-d"),
        d.dt.strftime("%Y.%m.%d"),
        d.dt.strftime("%Y年%-m月%-d日"),
        d.dt.strftime("%Y%m%d"),
    ]


def id_options(s: pl.Expr) -> list[pl.Expr]:
    spaced = pl.concat_str(
        [s.str.slice(0, 6), pl.lit(" "), s.str.slice(6, 8), pl.lit(" "), s.str.slice(14)]
    )
    return [
        s,
        s.str.to_lowercase(),
        pl.when(s.str.len_chars() == 18).then(spaced).otherwise(pl.concat_str([pl.lit(" "), s])),
        pl.concat_str([pl.lit("'"), s]),
        fullwidth(s),
    ]


def phone_options(s: pl.Expr) -> list[pl.Expr]:
    mobile = s.str.contains(r"^1\d{10}$")

    def m(e: pl.Expr) -> pl.Expr:
        return pl.when(mobile).then(e).otherwise(s)

    a, b, c = s.str.slice(0, 3), s.str.slice(3, 4), s.str.slice(7)
    return [
        s,
        m(pl.concat_str([a, pl.lit("-"), b, pl.lit("-"), c])),
        m(pl.concat_str([pl.lit("+86 "), s])),
        m(pl.concat_str([a, pl.lit(" "), b, pl.lit(" "), c])),
    ]


def space_options(s: pl.Expr, kind: str, synonyms: dict[str, str]) -> list[pl.Expr]:
    """Stray spaces a reader removes: text keeps inner runs, code / enum lose every space."""
    lead = pl.concat_str([pl.lit(" "), s])
    trail = pl.concat_str([s, pl.lit("\u3000")])
    if kind == "text":
        inner = pl.concat_str([pl.lit("\u3000"), s, pl.lit(" ")])
    else:
        inner = (
            pl.when(s.str.len_chars() >= 2)
            .then(pl.concat_str([s.str.slice(0, 1), pl.lit(" "), s.str.slice(1)]))
            .otherwise(lead)
        )
    syn = s.replace(synonyms) if synonyms else s
    return [s, lead, trail, inner, syn]
