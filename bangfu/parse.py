"""Pure value parsers: whole-column polars expressions (no Dagster, no I/O).

Every parser takes a String expression of cells as written and returns an expression of the
canonical dtype, null where the cell is empty *or* cannot be parsed. The reader tells the two
apart by comparing with the raw cell (``is_blank``): a present value that parses to null is a
parse error, never silently changed.
"""

from __future__ import annotations

import re

import polars as pl

from bangfu.sheets import VALUE_SYNONYMS

# Unicode whitespace (Rust regex \s is Unicode-aware: 半角 space, 全角 U+3000, NBSP, tabs, line
# breaks) plus the zero-width characters Excel users paste in by accident.
SPACE_PATTERN = r"[\s\u200b\u200c\u200d\u2060\ufeff]"
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_APOSTROPHES = r"['\u2018\u2019\u201b`\u00b4]"
_DASHES = r"[-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d]"

EXCEL_CELL_LIMIT = 32_767

GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
GB11643_CHECK_CHARS = "10X98765432"


def _col(e: pl.Expr | str) -> pl.Expr:
    return pl.col(e) if isinstance(e, str) else e


def null_if_empty(e: pl.Expr) -> pl.Expr:
    return e.replace("", None)


def remove_spaces(e: pl.Expr | str) -> pl.Expr:
    """Remove every space, 全角 or 半角, anywhere in the value."""
    return _col(e).str.replace_all(SPACE_PATTERN, "")


def has_content(e: pl.Expr | str) -> pl.Expr:
    """True where the cell holds something other than spaces (null → False)."""
    return _col(e).str.contains(r"[^\s\u200b\u200c\u200d\u2060\ufeff]").fill_null(False)


def is_blank(e: pl.Expr | str) -> pl.Expr:
    """True where the cell is null or holds nothing but spaces."""
    return ~has_content(e)


def normalise_text(e: pl.Expr | str) -> pl.Expr:
    """Free text: spaces stripped at both ends (internal runs kept); empty → null."""
    e = _col(e).str.strip_chars().str.strip_chars(_ZERO_WIDTH)
    return null_if_empty(e)


def normalise_code(e: pl.Expr | str) -> pl.Expr:
    """Codes and numbers kept as written, every space removed; empty → null."""
    return null_if_empty(remove_spaces(e))


def normalise_enum(e: pl.Expr | str) -> pl.Expr:
    """Enum-like text: spaces removed, value synonyms of the seed's forms applied."""
    e = normalise_code(e)
    return e.replace(VALUE_SYNONYMS)


def normalise_id(e: pl.Expr | str) -> pl.Expr:
    """ID numbers: NFKC, spaces and apostrophes stripped, upper-case (x → X)."""
    e = _col(e).str.normalize("NFKC")
    e = e.str.replace_all(SPACE_PATTERN, "").str.replace_all(_APOSTROPHES, "")
    return null_if_empty(e.str.to_uppercase())


def normalise_phone(e: pl.Expr | str) -> pl.Expr:
    """Phone numbers: NFKC, spaces / dashes / apostrophes stripped, +86 or 0086 prefix removed."""
    e = _col(e).str.normalize("NFKC")
    e = e.str.replace_all(SPACE_PATTERN, "").str.replace_all(_DASHES, "")
    e = e.str.replace_all(_APOSTROPHES, "")
    e = e.str.replace(r"^(\+86|0086)(1[0-9]{10})$", "$2")
    return null_if_empty(e)


def looks_scientific(e: pl.Expr | str) -> pl.Expr:
    """A number written in scientific notation, e.g. an ID shown as ``5.20102E+17``."""
    return (
        _col(e)
        .str.normalize("NFKC")
        .str.replace_all(SPACE_PATTERN, "")
        .str.contains(r"^[+-]?[0-9]+(\.[0-9]*)?[eE][+-]?[0-9]+$")
    )


# ------------------------------------------------------------------ dates
# Each parser is one chain of string operations (no branch re-evaluates the column twice).
_TIME_SUFFIX = r"T[0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$"
_YEAR = r"(19[0-9][0-9]|20[0-9][0-9]|2100)"


def parse_date(e: pl.Expr | str) -> pl.Expr:
    """A calendar date from any of the six forms → pl.Date; anything else → null.

    Excel date cells arrive as ``2019-03-05 00:00:00``, bare serial numbers as ``43529``
    (accepted from 10000 to 79999, i.e. 1927–2119, so a bare year ``2019`` is refused). Written
    forms: ``2019-03-05``, ``2019/3/5``, ``2019.03.05`` (one separator throughout),
    ``2019年3月5日``, ``20190305``; years 1900–2100; the date must exist (no 2 月 30 日)."""
    s = _col(e).str.normalize("NFKC")
    written = (
        s.str.replace(r"([0-9])\s+([0-9]{1,2}:[0-9])", "${1}T${2}")
        .str.replace_all(SPACE_PATTERN, "")
        .str.replace(_TIME_SUFFIX, "")
        .str.replace(r"^([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日$", "${1}-${2}-${3}")
        .str.replace(r"^([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})$", "${1}-${2}-${3}")
        .str.replace(r"^([0-9]{4})\.([0-9]{1,2})\.([0-9]{1,2})$", "${1}-${2}-${3}")
        .str.replace(r"^([0-9]{4})([0-9]{2})([0-9]{2})$", "${1}-${2}-${3}")
        .str.extract(r"^(" + _YEAR + r"-[0-9]{1,2}-[0-9]{1,2})$", 1)
        .str.to_date("%Y-%m-%d", strict=False)
    )
    serial = (
        s.str.replace_all(SPACE_PATTERN, "")
        .str.extract(r"^([1-7][0-9]{4})(\.[0-9]+)?$", 1)
        .cast(pl.Int64)
        .sub(25569)  # serial 25569 is 1970-01-01 (serial 0 is 1899-12-30)
        .cast(pl.Date)
    )
    return pl.coalesce([written, serial])


# ------------------------------------------------------------------ numbers
def _number_text(e: pl.Expr | str) -> pl.Expr:
    """NFKC (full-width digits, ，．), spaces removed, 元 / ¥ / 人民币 stripped, thousands
    separators removed where a comma is followed by exactly three digits (``12,34`` stays
    and is refused)."""
    s = (
        _col(e)
        .str.normalize("NFKC")
        .str.replace_all(SPACE_PATTERN, "")
        .str.replace(r"^(人民币|RMB|¥|\uffe5)", "")
        .str.replace(r"(元|圆)$", "")
    )
    # mark well-grouped numbers (\x01), spoil any other text holding a comma (\x02), then drop
    # the commas: one chain, so the column is not evaluated twice
    return (
        s.str.replace(r"^([+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?)$", "\x01${1}")
        .str.replace(r"(?s)^([^\x01].*,)", "\x02${1}")
        .str.replace_all(",", "")
        .str.strip_prefix("\x01")
    )


_NUMBER = r"^([+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,2})?)$"


def parse_amount(e: pl.Expr | str) -> pl.Expr:
    """Money in 元: numbers, or text with 元, thousands separators or full-width digits →
    Float64 rounded to the cent; anything else → null."""
    return _to_cents(_number_text(e).str.extract(_NUMBER, 1).cast(pl.Float64))


# Past this a float holds no cents to round to, and polars' round(2) (x·100, rounded, ÷100) can
# move such a value by one unit of its last place (1e21 → 9.999999999999999e20).
_CENTS_EXACT_BELOW = 1e15


def _to_cents(v: pl.Expr) -> pl.Expr:
    return pl.when(v.abs() < _CENTS_EXACT_BELOW).then(v.round(2)).otherwise(v)


def parse_int(e: pl.Expr | str) -> pl.Expr:
    """A whole number (``7``, ``7.0``, ``７``, ``1,200``, ``7天``/``3人``/``2户``) → Int64."""
    return (
        _number_text(e)
        .str.replace(r"(天|人|户|个|次)$", "")
        .str.replace(r"^([+-]?[0-9]+)\.0*$", "${1}")
        .str.extract(r"^([+-]?[0-9]{1,18})$", 1)
        .cast(pl.Int64)
    )


# ------------------------------------------------------------------ GB 11643
def gb11643_check_char(first17: str) -> str:
    """The check character of an 18-character ID number from its first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, GB11643_WEIGHTS, strict=True))
    return GB11643_CHECK_CHARS[total % 11]


def gb11643_valid(
    id_number: pl.Expr | str, ledger_year: int | pl.Expr, *, min_year: int = 1900
) -> pl.Expr:
    """True where the ID is a valid GB 11643 number: 18 chars, 17 digits + digit/X, a real
    birth date from ``min_year``-01-01 to 31 December of ``ledger_year``, correct check
    character. Null IDs give False."""
    s = _col(id_number)
    shape = s.str.contains(r"^[0-9]{17}[0-9X]$").fill_null(False)
    birth = s.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    ly = pl.lit(ledger_year) if isinstance(ledger_year, int) else ledger_year
    birth_ok = (birth.dt.year() >= min_year) & (birth.dt.year() <= ly)
    total = pl.sum_horizontal(
        [s.str.slice(i, 1).cast(pl.Int64, strict=False) * w for i, w in enumerate(GB11643_WEIGHTS)]
    )
    expected = pl.lit(GB11643_CHECK_CHARS).str.slice(total % 11, 1)
    check_ok = s.str.slice(17, 1) == expected
    return (shape & birth_ok.fill_null(False) & check_ok.fill_null(False)).fill_null(False)


# ------------------------------------------------------------------ masking (for printing)
def mask_id(value: str | None) -> str | None:
    """``520102199001011234`` → ``520102********1234``: first 6 and last 4 kept."""
    if value is None:
        return None
    value = str(value)
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """``13812345678`` → ``138****5678``: first 3 and last 4 kept."""
    if value is None:
        return None
    value = str(value)
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_id_expr(e: pl.Expr | str) -> pl.Expr:
    e = _col(e)
    n = e.str.len_chars()
    stars = pl.lit("*").repeat_by(n - 10).list.join("")
    masked = pl.concat_str([e.str.slice(0, 6), stars, e.str.slice(-4, 4)])
    return pl.when(n > 10).then(masked).otherwise(pl.lit("*").repeat_by(n).list.join(""))


_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def mask_ids_in_text(text: str) -> str:
    """Mask every 18-character ID number inside a message."""
    return _ID_IN_TEXT.sub(lambda m: mask_id(m.group(0)) or "", text)


# ------------------------------------------------------------------ fast paths
# The common cell (an Excel date cell, an ASCII date in one of the written forms, a plain or
# grouped ASCII number) parses with one regex and one cast; the reader runs the full parser above
# only on the cells the fast path leaves null ("the rare remainder": full-width digits, stray
# spaces, Excel serials …). A fast path never gives a value the full parser would not.
_FAST_DATE = (
    r"^([0-9]{4})(?:"
    r"-([0-9]{1,2})-([0-9]{1,2})(?: [0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
    r"|/([0-9]{1,2})/([0-9]{1,2})"
    r"|\.([0-9]{1,2})\.([0-9]{1,2})"
    r"|([0-9]{2})([0-9]{2})"
    r"|年([0-9]{1,2})月([0-9]{1,2})日"
    r")$"
)


def parse_date_fast(e: pl.Expr | str) -> pl.Expr:
    """The written forms of ``_FAST_DATE`` (a match test, no capture groups): the time part
    dropped, the separators made dashes, then one date conversion; ``20190305`` by its own."""
    s = _col(e)
    dashed = (
        s.str.replace(r" .*$", "")
        .str.replace_many(["年", "月", "/", "."], ["-", "-", "-", "-"])
        .str.strip_suffix("日")
    )
    d = pl.when(s.str.contains(_FAST_DATE)).then(
        pl.coalesce(
            dashed.str.to_date("%Y-%m-%d", strict=False),
            s.str.to_date("%Y%m%d", strict=False),
        )
    )
    return pl.when(d.dt.year().is_between(1900, 2100)).then(d)


def parse_amount_fast(e: pl.Expr | str) -> pl.Expr:
    v = (
        _col(e)
        .str.extract(r"^(-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,15})(?:\.[0-9]{1,2})?)元?$", 1)
        .str.replace_all(",", "", literal=True)
        .cast(pl.Float64)
    )
    return v.round(2)


def parse_int_fast(e: pl.Expr | str) -> pl.Expr:
    return _col(e).str.extract(r"^(-?[0-9]{1,18})(?:\.0*)?$", 1).cast(pl.Int64)


def normalise_id_fast(e: pl.Expr | str) -> pl.Expr:
    """An ID written plainly (17 ASCII digits and a digit, X or x) is its own normal form."""
    s = _col(e)
    return pl.when(s.str.contains(r"^[0-9]{17}[0-9Xx]$")).then(
        s.str.replace("x", "X", literal=True)
    )


def normalise_phone_fast(e: pl.Expr | str) -> pl.Expr:
    """A mobile number written plainly (11 ASCII digits from 1) is its own normal form."""
    s = _col(e)
    return pl.when(s.str.contains(r"^1[0-9]{10}$")).then(s)


def may_look_scientific(e: pl.Expr | str) -> pl.Expr:
    """False only where ``looks_scientific`` is surely False: ASCII text without e or E (NFKC
    changes no ASCII text, and the pattern needs an e)."""
    return _col(e).str.contains(r"[eE]|[^\x00-\x7f]").fill_null(False)
