"""Rows → frames: each sheet's body rows as a piece (stage 1), then ONE parse, validation
(pandera) and quarantine split per sheet kind over the pieces of many files (stage 2)."""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass

import pandera.errors as pa_errors
import polars as pl

from bangfu import parse as P
from bangfu.frames import QUARANTINE_SCHEMA, sheet_schema
from bangfu.kinds import KINDS
from bangfu.readers.common import HEADER_SEARCH_ROWS, SheetResult, _Context, _detect_header, _Raw
from bangfu.sheets import (
    TOTAL_MARKERS,
    SheetSpec,
)
from checks.schemas import DATAFRAME_CHECK_COLUMNS, schema_for

# ====================================================================== rows → frames
_AMOUNT_ZERO_WHEN_EMPTY = {("ledger", "debit"), ("ledger", "credit")}


def _check_reason(check: str, spec: SheetSpec, name: str) -> str:
    if check == "not_nullable":
        return "必填项为空"
    if check.startswith("isin"):
        return "取值不在规定范围内（" + "/".join(spec.column(name).vocab) + "）"
    m = re.match(r"^greater_than_or_equal_to\((.*)\)$", check)
    if m:
        return f"应不小于 {m.group(1)}"
    m = re.match(r"^greater_than\((.*)\)$", check)
    if m:
        return f"应大于 {m.group(1)}"
    if check.startswith("str_matches"):
        return "格式不符"
    return check


def schema_failures(df: pl.DataFrame, spec: SheetSpec) -> pl.DataFrame:
    """Run the sheet's pandera model; (i, name, reason) for every failing cell."""
    out_schema = {"__i": pl.Int64, "name": pl.String, "reason": pl.String}
    try:
        schema_for(spec.key).validate(df, lazy=True)
    except pa_errors.SchemaErrors as exc:
        fc = exc.failure_cases
    else:
        return pl.DataFrame(schema=out_schema)
    rows: list[tuple[int, str, str]] = []
    for column, check, index in fc.select("column", "check", "index").iter_rows():
        if index is None:
            raise RuntimeError(f"{spec.title}: schema failure without a row: {column} {check}")
        if column in DATAFRAME_CHECK_COLUMNS or check in DATAFRAME_CHECK_COLUMNS:
            for name in DATAFRAME_CHECK_COLUMNS.get(check, ()):
                rows.append((index, name, check))
        else:
            rows.append((index, column, _check_reason(check, spec, column)))
    return pl.DataFrame(rows, schema=out_schema, orient="row")


@dataclass
class _Piece:
    """One sheet of one file after stage 1 (per file: read, find the header, map the columns).

    ``frame`` holds the body rows only (below the header): ``__row``, ``__skip`` (blank or total
    row), ``__raw_<name>`` (String, the cell as written; null when the column is absent) for
    every column of the spec and ``__num_<name>`` (Boolean: the ID cell was not text) for every
    ID column. Pieces of one sheet kind from many files concatenate as they are."""

    spec: SheetSpec
    ctx: _Context
    frame: pl.DataFrame
    header_row: int
    warnings: list[str]


def _piece_schema(spec: SheetSpec) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {"__row": pl.Int64(), "__skip": pl.Boolean()}
    schema.update({f"__raw_{c.name}": pl.String() for c in spec.columns})
    schema.update(
        {f"__num_{c.name}": pl.Boolean() for c in spec.columns if KINDS[c.kind].reads_cell_type}
    )
    return schema


def _to_piece(raw: _Raw, spec: SheetSpec, ctx: _Context) -> _Piece:
    """Stage 1's last step: body rows, blank/total flags (over every cell, contract column or
    not), the contract's columns under their canonical names.

    A row is skipped when it is blank or its first non-blank cell is a total marker. The first
    cell column settles most rows (it has content without the markers' last characters), so
    the full test over every cell runs only on the rest, typically a few per cent: testing every
    cell of every row cost more than the rest of the stage."""
    df = raw.frame
    cell_cols = tuple(c for c in df.columns if _CELL_COL.fullmatch(c))
    flags = tuple(c for c in df.columns if _FLAG_COL.fullmatch(c))
    exprs = _piece_exprs(
        spec, cell_cols[0] if cell_cols else None, flags, tuple(sorted(raw.mapping.items()))
    )
    body = rows_below(df, raw.header_row)
    frame = body.select(exprs)  # __skip: "may be skipped" until the full test below
    if cell_cols:
        at = frame["__skip"].arg_true()
        if at.len():
            skip = body[at].select(_skip_expr(cell_cols)).to_series()
            frame = frame.with_columns(frame["__skip"].scatter(at, skip))
    return _Piece(spec, ctx, frame, raw.header_row, list(raw.warnings))


def rows_below(df: pl.DataFrame, header_row: int) -> pl.DataFrame:
    """The rows after the header row. Row numbers ascend (every reader numbers rows in order),
    so that is a slice, which copies nothing; a filter copied every cell of the sheet."""
    rows = df.get_column("__row")
    if rows.is_sorted():  # the header is among the first rows: search those in Python
        first = rows.head(HEADER_SEARCH_ROWS + 1).to_list()
        at = bisect.bisect_right(first, header_row)
        if at < len(first) or len(first) == rows.len():
            return df.slice(at)
    return df.filter(pl.col("__row") > header_row)


_CELL_COL = re.compile(r"c[0-9]+")
_FLAG_COL = re.compile(r"n[0-9]+")
# a cell without any of these (spaces aside) is no total marker
_MARKER_CHARS = sorted({m[-1] for m in TOTAL_MARKERS})
# the first cell (of the \x1f-joined cells) holding something other than spaces
_FIRST_FILLED = r"(?:^|\x1f)([^\x1f]*[^\s\u200b\u200c\u200d\u2060\ufeff\x1f][^\x1f]*)"


@functools.lru_cache(maxsize=1024)
def _skip_expr(cell_cols: tuple[str, ...]) -> pl.Expr:
    """True for a blank row or a total row (its first non-blank cell is a total marker)."""
    joined = pl.concat_str(
        [pl.col(c).cast(pl.String) for c in cell_cols], separator="\x1f", ignore_nulls=True
    )
    first = joined.str.extract(_FIRST_FILLED, 1)
    total = P.remove_spaces(first).str.replace(r"[:：]$", "").is_in(list(TOTAL_MARKERS))
    return (first.is_null() | total.fill_null(False)).alias("__skip")


@functools.lru_cache(maxsize=1024)
def _piece_exprs(
    spec: SheetSpec,
    first_col: str | None,
    flags: tuple[str, ...],
    mapping: tuple[tuple[str, int], ...],
) -> list[pl.Expr]:
    """The select of _to_piece; built once per sheet kind and layout (thousands of sheets share
    a handful of layouts, and building the expressions costs more than running them)."""
    where = dict(mapping)
    if first_col is not None:
        c0 = pl.col(first_col)
        marker = c0.str.contains_any(_MARKER_CHARS)
        may_skip = (~P.has_content(c0) | marker).fill_null(True)
    else:
        may_skip = pl.lit(True)
    cols: list[pl.Expr] = [pl.col("__row").cast(pl.Int64), may_skip.alias("__skip")]
    nums: list[pl.Expr] = []
    for col in spec.columns:
        j = where.get(col.name)
        src = pl.col(f"c{j}").cast(pl.String) if j is not None else pl.lit(None, pl.String)
        cols.append(src.alias(f"__raw_{col.name}"))
        if KINDS[col.kind].reads_cell_type:
            flag = f"n{j}"
            num = pl.col(flag).fill_null(False) if flag in flags else pl.lit(False)
            nums.append(num.alias(f"__num_{col.name}"))
    return [*cols, *nums]


def _gather(values: list, dtype: pl.DataType) -> pl.Expr:
    """A per-piece constant, spread over the rows by their piece index ``__s``."""
    return pl.lit(pl.Series(values=values, dtype=dtype)).gather(pl.col("__s"))


def _process(raw: _Raw, spec: SheetSpec, ctx: _Context) -> SheetResult:
    """One sheet alone (reference files, read_sheet_rows): the batch path over one piece."""
    return _process_pieces(spec, [_to_piece(raw, spec, ctx)])[0]


def _process_pieces(spec: SheetSpec, pieces: list[_Piece]) -> list[SheetResult]:
    """Stage 2: ONE parse / validation / quarantine split for a sheet kind over the pieces of many
    files, then split back per piece. Row order within a piece is kept; results in piece order."""
    body, count_of = _stack_pieces(spec, pieces)
    parsed = parse_columns(body, spec)
    fails = _failures(parsed, spec)
    bad_idx = fails["__i"].unique().implode()
    meta = {
        "year": _gather([p.ctx.year for p in pieces], pl.Int64()),
        "unit_code": _gather([p.ctx.unit_code for p in pieces], pl.String()),
        "source_file": _gather([p.ctx.source_file for p in pieces], pl.String()),
    }
    quarantine = _quarantine(parsed.filter(pl.col("__i").is_in(bad_idx)), fails, spec, meta)
    schema = sheet_schema(spec)
    meta.update(source_sheet=pl.lit(spec.title), source_row=pl.col("__row"))
    # a sheet's own 年度 column (targets, standards) keeps its value over the ledger year
    frame = (
        parsed.lazy()
        .filter(~pl.col("__i").is_in(bad_idx))
        .select(
            "__s",
            *[pl.col(n) for n in spec.names],
            *[e.alias(k) for k, e in meta.items() if k not in spec.names],
        )
        .select("__s", *schema)
        .cast(schema)
        .collect()
    )
    dup_warnings = _duplicate_warnings(frame, spec)
    frames = _split(frame, len(pieces))
    quarantines = _split(quarantine, len(pieces))
    out = []
    for k, p in enumerate(pieces):
        n, skipped = count_of.get(k, (0, 0))
        out.append(
            SheetResult(
                spec=spec,
                source_file=p.ctx.source_file,
                source_sha256=p.ctx.source_sha256,
                frame=frames[k],
                quarantine=quarantines[k],
                rows_read=n - skipped,
                rows_kept=frames[k].height,
                rows_quarantined=quarantines[k].height,
                rows_skipped=p.header_row + skipped,
                warnings=p.warnings + dup_warnings.get(k, []),
            )
        )
    return out


def _stack_pieces(
    spec: SheetSpec, pieces: list[_Piece]
) -> tuple[pl.DataFrame, dict[int, tuple[int, int]]]:
    """The pieces' body rows as one frame (``__s``: piece index, ``__i``: row position), blank and
    total rows dropped; per piece (rows, of which skipped)."""
    schema_in = _piece_schema(spec)
    body = pl.concat(
        [
            p.frame.lazy()
            .select(list(schema_in))
            .cast(schema_in)
            .with_columns(__s=pl.lit(k, dtype=pl.Int64))
            for k, p in enumerate(pieces)
        ],
        how="vertical",
    ).collect()
    counts = body.group_by("__s").agg(__n=pl.len(), __skipped=pl.col("__skip").sum().cast(pl.Int64))
    count_of = {s: (n, sk) for s, n, sk in counts.iter_rows()}
    return body.filter(~pl.col("__skip")).drop("__skip").with_row_index("__i"), count_of


def _failures(parsed: pl.DataFrame, spec: SheetSpec) -> pl.DataFrame:
    """Every failing cell (``__i``, name, reason, ``__order``, header): parse errors from the raw
    and the parsed value, then the pandera checks on the parsed values (a parse failure was
    nulled; its reason wins)."""
    parsed = parsed.with_columns(
        _on_rows(
            parsed, P.may_look_scientific(f"__raw_{c.name}"), P.looks_scientific(f"__raw_{c.name}")
        )
        .fill_null(False)
        .alias(f"__sci_{c.name}")
        for c in spec.columns
        if KINDS[c.kind].scientific is not None
    )
    errors: list[pl.Expr] = []
    for col in spec.columns:
        src, value = pl.col(f"__raw_{col.name}"), pl.col(col.name)
        err = pl.when(src.str.len_chars() > P.EXCEL_CELL_LIMIT).then(
            pl.lit(f"单元格超过 {P.EXCEL_CELL_LIMIT} 个字符（Excel 上限）")
        )
        kind = KINDS[col.kind]
        if kind.number_cell is not None:
            err = err.when(pl.col(f"__num_{col.name}")).then(pl.lit(kind.number_cell))
        if kind.scientific is not None:
            err = err.when(pl.col(f"__sci_{col.name}")).then(pl.lit(kind.scientific))
        if kind.unparsed is not None:
            err = err.when(value.is_null() & P.has_content(src)).then(pl.lit(kind.unparsed))
        errors.append(err.otherwise(None).alias(f"__err_{col.name}"))
    err_frame = parsed.lazy().select("__i", *errors).collect()

    fails = schema_failures(parsed.select(spec.names), spec)
    err_cols = [c for c in err_frame.columns if c.startswith("__err_")]
    parse_fails = (
        err_frame.lazy()
        .unpivot(on=err_cols, index="__i", variable_name="name", value_name="reason")
        .filter(pl.col("reason").is_not_null())
        .with_columns(pl.col("__i").cast(pl.Int64), pl.col("name").str.replace("^__err_", ""))
        .collect()
    )
    order = pl.DataFrame(
        {
            "name": spec.names,
            "__order": list(range(len(spec.columns))),
            "header": [c.header for c in spec.columns],
        }
    )
    return (
        pl.concat([parse_fails, fails], how="vertical_relaxed")
        .unique(subset=["__i", "name"], keep="first", maintain_order=True)
        .join(order, on="name", how="left", maintain_order="left")
    )


def _quarantine(
    bad: pl.DataFrame, fails: pl.DataFrame, spec: SheetSpec, meta: dict[str, pl.Expr]
) -> pl.DataFrame:
    """One quarantine row per failing row of ``bad``: every failing column, its raw value and
    reason, in the spec's column order."""
    raw_long = (
        bad.lazy()
        .select("__i", *[f"__raw_{n}" for n in spec.names])
        .unpivot(index="__i", variable_name="name", value_name="raw")
        .with_columns(pl.col("__i").cast(pl.Int64), pl.col("name").str.replace("^__raw_", ""))
    )
    return (
        fails.lazy()
        .join(raw_long, on=["__i", "name"], how="left")
        .sort("__i", "__order")
        .group_by("__i", maintain_order=True)
        .agg(
            column=pl.col("header").str.join("、"),
            value=pl.col("raw").fill_null("").str.join("、"),
            reason=pl.concat_str([pl.col("header"), pl.lit("："), pl.col("reason")]).str.join("；"),
        )
        .join(
            bad.lazy().select(pl.col("__i").cast(pl.Int64), "__row", "__s"),
            on="__i",
            how="left",
        )
        .sort("__i")
        .select(
            "__s",
            **meta,
            sheet=pl.lit(spec.title),
            row_number=pl.col("__row"),
            column=pl.col("column"),
            value=pl.col("value"),
            reason=pl.col("reason"),
        )
        .cast(QUARANTINE_SCHEMA)
        .collect()
    )


def _duplicate_warnings(frame: pl.DataFrame, spec: SheetSpec) -> dict[int, list[str]]:
    """Per piece: a warning for each key that should be unique and repeats (rows all kept)."""
    out: dict[int, list[str]] = {}
    for key in spec.unique_keys:
        header = spec.column(key).header
        dup = (
            frame.lazy()
            .filter(pl.col(key).is_not_null())
            .group_by("__s", key)
            .agg(pl.len().alias("n"))
            .filter(pl.col("n") > 1)
            .sort("__s", key)
            .group_by("__s", maintain_order=True)
            .agg(n=pl.len(), examples=pl.col(key).head(5))
            .collect()
        )
        for s, n, examples in dup.iter_rows():
            examples = P.mask_ids_in_text("、".join(examples))
            out.setdefault(s, []).append(
                f"{spec.title}：{header}有 {n} 个重复值（如 {examples}），各行均保留 / "
                f"duplicate {key} values kept on every row"
            )
    return out


def _split(frame: pl.DataFrame, n: int) -> list[pl.DataFrame]:
    """Rows by their piece index ``__s`` (dropped); an empty frame for a piece without rows."""
    parts = frame.partition_by("__s", as_dict=True, include_key=False, maintain_order=True)
    empty = frame.clear().drop("__s")
    return [parts.get((k,), empty) for k in range(n)]


def _on_rows(frame: pl.DataFrame, where: pl.Expr, expr: pl.Expr) -> pl.Series:
    """``expr`` over ``frame`` evaluated only on the rows ``where`` holds (null elsewhere): for a
    costly expression that a cheap test shows is needed on few rows."""
    mask = frame.select(where.fill_null(False)).to_series()
    at = mask.arg_true()
    out = frame.clear(1).select(expr).to_series().clear(frame.height)
    if at.len():
        out = out.scatter(at, frame[at].select(expr).to_series())
    return out


def parse_columns(body: pl.DataFrame, spec: SheetSpec) -> pl.DataFrame:
    """``body`` with each column of the spec parsed from its ``__raw_<name>`` cells, by the
    kind's quicker parser where it has one and its full parser on the cells that one left
    (``__i`` is the row position). The two parsers agree wherever the quicker one gives a value
    (tests/unit/test_parse.py); the full one alone gives the same column."""
    values: list[pl.Expr] = []
    for col in spec.columns:
        src = pl.col(f"__raw_{col.name}")
        kind = KINDS[col.kind]
        value = (kind.parse_fast or kind.parse)(src)
        if (spec.key, col.name) in _AMOUNT_ZERO_WHEN_EMPTY:
            value = value.fill_null(pl.when(P.is_blank(src)).then(pl.lit(0.0)))
        values.append(value.alias(col.name))
    parsed = body.lazy().with_columns(values).collect()  # lazy: common subexpressions once
    return _full_parse_remainder(parsed, spec)


def _full_parse_remainder(parsed: pl.DataFrame, spec: SheetSpec) -> pl.DataFrame:
    """Run the full parsers on the cells the fast path left null (``__i`` is the position)."""
    needs = [c for c in spec.columns if KINDS[c.kind].parse_fast is not None]
    if not needs or parsed.height == 0:
        return parsed
    # one pass finds every cell that needs the full parser; the remainder is usually tiny
    flags = parsed.select(
        [(pl.col(c.name).is_null() & P.has_content(f"__raw_{c.name}")).alias(c.name) for c in needs]
    )
    updates = []
    for col in needs:
        mask = flags[col.name]
        if not mask.any():
            continue
        rest = parsed.filter(mask)
        fixed = rest.select(
            pl.col("__i"), KINDS[col.kind].parse(pl.col(f"__raw_{col.name}")).alias(col.name)
        )
        updates.append(parsed[col.name].scatter(fixed["__i"], fixed[col.name]))
    return parsed.with_columns(updates) if updates else parsed


def read_sheet_rows(
    raw: pl.DataFrame,
    spec: SheetSpec,
    *,
    year: int | None,
    unit_code: str | None,
    source_file: str,
    source_sha256: str = "",
) -> SheetResult:
    """The generic reader on a sheet already loaded as text: ``raw`` has String columns
    ``c0..cN`` and an Int64 ``__row`` (Excel row / CSV line), optionally Boolean ``n<j>``
    flags for ID cells that were numbers. Finds the header, skips title/blank/total rows,
    parses, validates, splits kept rows from quarantined ones."""
    rows = [
        (r[0], list(r[1:]))
        for r in raw.select("__row", *[c for c in raw.columns if re.fullmatch(r"c[0-9]+", c)])
        .head(HEADER_SEARCH_ROWS * 2)
        .iter_rows()
    ]
    header_row, mapping, warnings = _detect_header(rows, spec)
    ctx = _Context(year, unit_code, source_file, source_sha256)
    return _process(_Raw(raw, header_row, mapping, warnings), spec, ctx)
