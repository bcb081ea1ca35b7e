"""ID cells' text recovered from calamine's cell errors: the one place that relies on how
fastexcel words a conversion error (``Expected duration but got 'String("…")'``), which is no
public API. tests/unit/test_readers.py probes that wording against the installed fastexcel, and
pyproject.toml bounds its version."""

from __future__ import annotations

import datetime as dt
import re

import fastexcel
import polars as pl

_RUST_ESCAPE = re.compile(r"\\(u\{([0-9a-fA-F]+)\}|.)", re.S)
_RUST_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}


def _rust_unescape(s: str) -> str:
    def sub(m: re.Match) -> str:
        if m.group(2):
            return chr(int(m.group(2), 16))
        return _RUST_SIMPLE.get(m.group(1), m.group(1))

    return _RUST_ESCAPE.sub(sub, s)


def _format_number(v: float) -> str:
    if v == int(v) and abs(v) < 1e21:
        return str(int(v))
    return repr(v)


TEXT_ERROR = ("Expected duration but got 'String(\"", "\")'")


def restore_id_text(
    df: pl.DataFrame, id_cols: list[int], errors: fastexcel.CellErrors | None
) -> pl.DataFrame | None:
    """ID columns are loaded with the "duration" dtype, which no text or number cell converts
    to: every such cell comes back as a cell error naming its type and value
    (``String("…")`` or ``Float(1.2e17)``). Text cells are restored as written; any other cell
    (a number, a date) is shown as its value and flagged ``n<j>``."""
    errs = errors.errors if errors is not None else []
    rows, cols = (
        (list(v) for v in zip(*(e.offset_position for e in errs), strict=True))
        if errs
        else ([], [])
    )
    ef = pl.DataFrame(
        {"row": rows, "col": cols, "detail": [e.detail for e in errs]},
        schema={"row": pl.Int64, "col": pl.Int64, "detail": pl.String},
    )
    # nearly every error is a text cell: its text is cut out of the message without a regex;
    # the rest (numbers, booleans, anything unexpected) go through the general patterns
    head, tail = TEXT_ERROR
    d = pl.col("detail")
    is_text = (d.str.len_bytes() >= len(head) + len(tail)) & d.str.starts_with(head)
    is_text = is_text & d.str.ends_with(tail)
    text_rows = ef.filter(is_text).select(
        "row",
        "col",
        inner=pl.lit(None, pl.String),
        text=d.str.slice(len(head)).str.strip_suffix(tail),
        number=pl.lit(None, pl.String),
        iso=pl.lit(None, pl.String),
    )
    other = (
        ef.filter(~is_text)
        .select("row", "col", inner=d.str.extract(r"(?s)^Expected \w+ but got '(.*?)'?$", 1))
        .with_columns(
            text=pl.col("inner").str.extract(r'(?s)^String\("(.*)"\)$', 1),
            number=pl.col("inner").str.extract(r"^(?:Float|Int)\((.*)\)$", 1),
            # an .ods date or time cell: shown as the xlsx path shows a date cell
            iso=pl.col("inner")
            .str.extract(r'^(?:DateTimeIso|DurationIso)\("(.*)"\)$', 1)
            .str.replace("T", " ", literal=True)
            .str.strip_suffix(" 00:00:00"),
        )
    )
    ef = pl.concat([text_rows, other], how="vertical")
    out = []
    for j in id_cols:
        sub = ef.filter(pl.col("col") == j, pl.col("row") < df.height)
        text = sub["text"]
        escaped = text.str.contains("\\", literal=True).fill_null(False)
        if escaped.any():
            at = escaped.arg_true()
            text = text.scatter(at, text.gather(at).map_elements(_rust_unescape, pl.String))
        number = sub["number"].cast(pl.Float64, strict=False)
        shown_number = (
            number.map_elements(_format_number, pl.String)
            if number.is_not_null().any()
            else pl.Series(values=[None] * sub.height, dtype=pl.String)
        )
        shown = text.fill_null(shown_number).fill_null(sub["iso"]).fill_null(sub["inner"])
        converted = df[f"c{j}"]  # a date cell converts to a duration
        col = (
            _duration_as_text(converted)
            if converted.dtype != pl.Null
            else pl.Series(values=[None] * df.height, dtype=pl.String)
        )
        flag = converted.is_not_null()
        if sub.height:
            col = col.scatter(sub["row"], shown)
            flag = flag.scatter(sub["row"], text.is_null())
        out.append(col.alias(f"c{j}"))
        out.append(flag.alias(f"n{j}"))
    return df.with_columns(out)


def _duration_as_text(converted: pl.Series) -> pl.Series:
    """A date or time typed into an ID column comes back from calamine as a duration since
    Excel's epoch; show it as the date (and time) the sheet displays, so the quarantine names
    the value the auditor sees (it is not an ID and fails validation)."""
    shown = (pl.lit(dt.datetime(1899, 12, 30)) + pl.lit(converted)).dt.strftime("%Y-%m-%d %H:%M:%S")
    return (
        pl.select(shown.str.strip_suffix(" 00:00:00").alias(converted.name))
        .to_series()
        .cast(pl.String)
    )
