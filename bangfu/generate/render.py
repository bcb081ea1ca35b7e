"""Render canonical frames as hand-typed ledger sheets: the render half of ``bangfu generate``.

Pure: no file I/O (see ``bangfu.generate.writer``). A sheet is rendered into one all-String
frame ``cells`` (columns ``c0 … c{k-1}``) holding every row of the sheet in order — title rows,
the header row, data rows, planted unreadable ("junk") rows, blank rows and total rows — plus the
truth of what a correct reader must get out of it.

How a value is written (the forms of each column kind, the typed-cell sentinels) is
:mod:`bangfu.generate.cells`; the planted junk rows are :mod:`bangfu.generate.junk`.

Every variation round-trips: after the normalisation of ``bangfu.sheets`` (spaces, synonyms,
NFKC, the six date forms, amounts with 元 / thousands separators / full-width digits) a correct
reader gets back exactly the canonical values. Junk rows are *extra* rows with fresh keys.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from bangfu.generate.cells import (
    AMOUNT_FORMS,
    BLANK_LINE,
    DATE_FORMS,
    ID_FORMS,
    INVERSE_VALUE_SYNONYMS,
    NUM,
    NUM_FMT,
    PHONE_FORMS,
    TEXT_FORMS,
    amount_options,
    date_options,
    id_options,
    phone_options,
    space_options,
)
from bangfu.generate.junk import junk_rows
from bangfu.sheets import HEADER_SYNONYMS, PAYMENT_ONLY_SYNONYMS, TOTAL_MARKERS, Column, SheetSpec

EXTRA_COLUMNS = ("序号", "备注", "经办人")
REMARKS = ("已核实", "补发", "=见附件", "+1", "-", "@张", "复核")
HANDLERS = ("张丽", "王强", "李娜", "刘洋")


def stable_seed(*parts: object) -> list[int]:
    """A seed sequence for numpy from any parts (codes may be non-numeric)."""
    return [zlib.crc32(str(p).encode("utf-8")) for p in parts]


# ---------------------------------------------------------------- the sheet


@dataclass
class RenderedSheet:
    spec: SheetSpec
    sheet_name: str  # as written: xlsx sheet name / CSV file stem (may hold stray spaces)
    cells: pl.DataFrame  # all String, c0..c{k-1}: every row of the sheet in order
    merged_title: bool  # xlsx: the first row's title is merged across all columns
    date_format: str  # xlsx number format of the real date cells
    header: list[str]
    rows_read: int
    rows_kept: int
    rows_quarantined: int
    rows_skipped: int
    quarantine: list[dict] = field(default_factory=list)  # row_number, column, kind
    variations: set[str] = field(default_factory=set)
    data_rows: pl.DataFrame | None = None  # canonical key columns + row_number of data rows


def _header_variant(spec: SheetSpec, col: Column, rng: np.random.Generator, used: set[str]) -> str:
    syns = list(HEADER_SYNONYMS.get(col.header, ())) + list(col.synonyms)
    if spec.key == "payments":
        syns += list(PAYMENT_ONLY_SYNONYMS.get(col.header, ()))
    h = col.header
    if syns and rng.random() < 0.4:
        h = syns[rng.integers(len(syns))]
        used.add(f"header_synonym:{h}")
    if rng.random() < 0.12:
        r = rng.integers(3)
        h = f" {h}" if r == 0 else f"{h}\u3000" if r == 1 else f"{h[:1]} {h[1:]}"
        used.add("header_spaces")
    return h


# ---------------------------------------------------------------- the mutations
# A sheet is rendered by the steps of RENDER_STEPS, in order, over one _Draft. A step with a
# probability is a mutation: it applies when ``rng.random() < p`` (drawn only when its ``when``
# holds), else its ``otherwise`` runs if it has one. The order of the table is the order of the
# random draws: changing it changes every generated landing folder of a seed.


@dataclass
class _Draft:
    """A sheet being rendered: the canonical frame, the random stream and what the steps made."""

    df: pl.DataFrame
    spec: SheetSpec
    form: str
    rng: np.random.Generator
    year: int
    unit_name: str
    junk: list[str]
    fresh_prefix: str
    cols: list[Column]
    used: set[str] = field(default_factory=set)
    zero_empty: bool = False  # ledger debit / credit of 0 written as empty cells
    body: pl.DataFrame | None = None  # String cells of the data rows, one column per output column
    choices: dict[str, tuple[np.ndarray, tuple[str, ...]]] = field(default_factory=dict)
    headers: list[str] = field(default_factory=list)
    names_out: list[str] = field(default_factory=list)
    order: list[int] = field(default_factory=list)
    extra: list[dict] = field(default_factory=list)  # junk, blank and total rows
    top: list[list[str | None]] = field(default_factory=list)  # title rows above the header
    n_title: int = 0
    merged: bool = False
    sheet_name: str = ""
    date_format: str = ""

    @property
    def n(self) -> int:
        return self.df.height

    @property
    def cn(self) -> list[str]:
        return [f"c{i}" for i in range(len(self.names_out))]

    @property
    def pos(self) -> dict[str, str]:
        return dict(zip(self.names_out, self.cn, strict=True))


@dataclass(frozen=True)
class Mutation:
    name: str
    p: float | None  # None: a step that always runs (no draw of its own)
    apply: Callable[[_Draft], None]
    when: Callable[[_Draft], bool] | None = None
    otherwise: Callable[[_Draft], None] | None = None


def _has_rows(d: _Draft) -> bool:
    return d.n > 0


def _drop_null_optional_columns(d: _Draft) -> None:
    nulls = d.df.null_count().row(0, named=True)
    drop = [c for c in d.cols if not (c.required or c.must_exist) and nulls[c.name] == d.n]
    if drop:
        d.cols = [c for c in d.cols if c not in drop]
        d.used.add("dropped_optional_columns")


def _zero_as_empty(d: _Draft) -> None:
    d.zero_empty = True


# ---- value forms per column kind: (options, their names, the weights of the options)
ColumnForms = tuple[list[pl.Expr], tuple[str, ...], np.ndarray]


def _date_forms(d: _Draft, c: Column, x: pl.Expr) -> ColumnForms:
    forms = DATE_FORMS if d.form == "xlsx" else DATE_FORMS[1:]
    off = 0 if d.form == "xlsx" else 1
    if d.rng.random() < 0.6:  # one form for the column
        p = np.zeros(len(DATE_FORMS))
        p[off + int(d.rng.integers(len(forms)))] = 1
    else:
        p = np.array([0.5 if d.form == "xlsx" else 0] + [0.1] * 5)
        p = p / p.sum()
    return date_options(x, d.form), DATE_FORMS, p


def _amount_forms(d: _Draft, c: Column, x: pl.Expr) -> ColumnForms:
    rng = d.rng
    if rng.random() < 0.55:
        p = np.zeros(len(AMOUNT_FORMS))
        p[0 if rng.random() < 0.5 else int(rng.integers(len(AMOUNT_FORMS)))] = 1
    else:
        p = np.array([0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    opts = amount_options(x, d.form)
    if d.zero_empty and c.name in ("debit", "credit"):
        opts = [pl.when(x == 0).then(pl.lit(None, pl.String)).otherwise(o) for o in opts]
        d.used.add("zero_as_empty")
    if d.form == "xlsx" and rng.random() < 0.3:
        opts[0] = pl.concat_str([pl.lit(NUM_FMT), x.cast(pl.String)])
        d.used.add("money_format")
    return opts, AMOUNT_FORMS, p


def _int_forms(d: _Draft, c: Column, x: pl.Expr) -> ColumnForms:
    s = x.cast(pl.String)
    num = pl.concat_str([pl.lit(NUM), s]) if d.form == "xlsx" else s
    p = np.array([0.8, 0.2]) if d.form == "xlsx" else np.array([1.0, 0.0])
    return [num, s], ("number", "text"), p


def _id_forms(d: _Draft, c: Column, x: pl.Expr) -> ColumnForms:
    p = np.array([0.6, 0.1, 0.1, 0.1, 0.1]) if d.rng.random() < 0.7 else np.eye(5)[0]
    return id_options(x), ID_FORMS, p


def _phone_forms(d: _Draft, c: Column, x: pl.Expr) -> ColumnForms:
    return phone_options(x), PHONE_FORMS, np.array([0.7, 0.1, 0.1, 0.1])


def _text_forms(d: _Draft, c: Column, x: pl.Expr) -> ColumnForms:
    """text, code and enum columns: stray spaces, and an enum's value synonyms."""
    syn = {}
    if c.kind == "enum":
        syn = {
            k: v[int(d.rng.integers(len(v)))]
            for k, v in INVERSE_VALUE_SYNONYMS.items()
            if k in c.vocab
        }
    if d.rng.random() < 0.5:
        p = np.array([1.0, 0, 0, 0, 0])
    else:
        p = np.array([0.8, 0.05, 0.05, 0.05, 0.0])
    if syn:
        p = np.array([0.5, 0.05, 0.05, 0.05, 0.35])
    return space_options(x, c.kind, syn), TEXT_FORMS, p


COLUMN_FORMS: dict[str, Callable[[_Draft, Column, pl.Expr], ColumnForms]] = {
    "date": _date_forms,
    "amount": _amount_forms,
    "int": _int_forms,
    "id": _id_forms,
    "phone": _phone_forms,
}


def _value_forms(d: _Draft) -> None:
    """Each column's cells in forms drawn from its kind's options (one form, or a mix)."""
    work = d.df.select([c.name for c in d.cols])
    exprs = []
    rand: list[pl.Series] = []
    n = d.n
    for i, c in enumerate(d.cols):
        ch = f"__r{i}"
        opts, names, p = COLUMN_FORMS.get(c.kind, _text_forms)(d, c, pl.col(c.name))
        p = p / p.sum()
        active = [int(a) for a in np.flatnonzero(p)]
        if len(active) == 1 or not n:
            r = np.full(n, active[0], np.int8)
            exprs.append(opts[active[0]].cast(pl.String).alias(c.name))
        else:
            r = d.rng.choice(len(p), size=n, p=p).astype(np.int8)
            rand.append(pl.Series(ch, r))
            e = pl.when(pl.col(ch) == active[0]).then(opts[active[0]])
            for a in active[1:-1]:
                e = e.when(pl.col(ch) == a).then(opts[a])
            exprs.append(e.otherwise(opts[active[-1]]).cast(pl.String).alias(c.name))
        d.choices[c.name] = (r, names)
    if rand:
        work = work.with_columns(rand)
    d.body = work.select(exprs) if d.cols else pl.DataFrame()
    _record_value_variations(d)


def _record_value_variations(d: _Draft) -> None:
    """The value variations actually present (non-null cells only) into ``d.used``."""
    df, used = d.df, d.used
    for c in d.cols if d.n else ():
        r, names = d.choices[c.name]
        present = df[c.name].is_not_null().to_numpy()
        for kk in np.unique(r[present]):
            name = names[int(kk)]
            if name == "plain":
                continue
            if c.kind in ("text", "code", "enum"):
                if name != "synonym":
                    used.add("value_spaces")
                elif np.any(df[c.name].is_in(list(INVERSE_VALUE_SYNONYMS)).to_numpy() & (r == kk)):
                    used.add("value_synonym")
            elif c.kind == "int":
                if name == "text" and d.form == "xlsx":
                    used.add("int:text")
            elif c.kind == "id" and name == "lower_x":
                if np.any(df[c.name].str.contains("X").fill_null(False).to_numpy() & (r == kk)):
                    used.add("id:lower_x")
            elif c.kind == "phone":
                mobile = df[c.name].str.contains(r"^1\d{10}$").fill_null(False).to_numpy()
                if np.any(mobile & (r == kk)):
                    used.add(f"phone:{name}")
            else:
                used.add(f"{c.kind}:{name}")


def _headers(d: _Draft) -> None:
    d.headers = [_header_variant(d.spec, c, d.rng, d.used) for c in d.cols]
    d.names_out = [c.name for c in d.cols]


def _extra_columns(d: _Draft) -> None:
    """序号 / 备注 / 经办人 columns the reader must ignore."""
    rng, n = d.rng, d.n
    extras = [e for e in EXTRA_COLUMNS if rng.random() < 0.5] or ["备注"]
    for e in extras:
        if e == "序号":
            seq = pl.int_range(1, n + 1, eager=True).cast(pl.String)
            vals = NUM + seq if d.form == "xlsx" else seq
            d.body = d.body.with_columns(vals.alias(f"__x{e}"))
        elif e == "备注":
            r = rng.integers(len(REMARKS) * 4, size=n)
            vals = [REMARKS[k] if k < len(REMARKS) else None for k in r]
            d.body = d.body.with_columns(pl.Series(f"__x{e}", vals, pl.String))
        else:
            r = rng.integers(len(HANDLERS), size=n)
            d.body = d.body.with_columns(pl.Series(f"__x{e}", [HANDLERS[k] for k in r]))
        d.names_out.append(f"__x{e}")
        d.headers.append(e)
    d.used.add("extra_columns")


def _shuffle_columns(d: _Draft) -> None:
    order = list(range(len(d.names_out)))
    d.rng.shuffle(order)
    if order != sorted(order):
        d.used.add("shuffled_columns")
    d.order = order


def _number_column_first(d: _Draft) -> None:
    order = list(range(len(d.names_out)))
    if "__x序号" in d.names_out:  # 序号 usually leads
        i = d.names_out.index("__x序号")
        order.remove(i)
        order.insert(0, i)
    d.order = order


def _place_columns(d: _Draft) -> None:
    """Columns into their output order, named c0 … c{k-1}; every row gets a sort key."""
    d.names_out = [d.names_out[i] for i in d.order]
    d.headers = [d.headers[i] for i in d.order]
    n = d.n
    d.body = d.body.select(
        [pl.col(a).alias(b) for a, b in zip(d.names_out, d.cn, strict=True)]
    ).with_columns(
        pl.lit("data").alias("__kind"),
        pl.int_range(0, n, eager=True).cast(pl.Float64).alias("__key"),
        pl.int_range(0, n, eager=True).alias("__src"),
        pl.lit(None, pl.String).alias("__q"),
        pl.lit(None, pl.String).alias("__qk"),
    )


def _junk(d: _Draft) -> None:
    jrows, jtruth = junk_rows(
        list(d.junk), d.spec, d.body, d.pos, d.form, d.rng, d.year, d.fresh_prefix
    )
    for row, (colnames, kind) in zip(jrows, jtruth, strict=True):
        row.update(
            __kind="junk",
            __key=float(d.rng.uniform(-0.5, d.n - 0.5)),
            __src=-1,
            __q=colnames,
            __qk=kind,
        )
        d.extra.append(row)


def _blank_rows(d: _Draft) -> None:
    rng, cn = d.rng, d.cn
    for _ in range(int(rng.integers(1, 4))):
        row = dict.fromkeys(cn)
        style = int(rng.integers(3))
        if style == 1:
            row[cn[int(rng.integers(len(cn)))]] = [" ", "\u3000"][int(rng.integers(2))]
        elif style == 2 and d.form == "csv":
            row["c0"] = BLANK_LINE
            d.used.add("csv_empty_line")
        row.update(__kind="blank", __key=float(rng.uniform(-0.5, d.n - 1.5)), __src=-1)
        d.extra.append(row)
    d.used.add("blank_rows")


def _total_rows(d: _Draft) -> None:
    rng, n, pos = d.rng, d.n, d.pos
    for _ in range(int(rng.integers(1, 3))):
        marker = TOTAL_MARKERS[int(rng.integers(len(TOTAL_MARKERS)))]
        row = dict.fromkeys(d.cn)
        row["c0"] = marker
        for c in d.cols:
            if c.kind == "amount" and pos[c.name] != "c0":
                tot = float(d.df[c.name].sum() or 0.0)
                row[pos[c.name]] = (
                    (NUM + repr(round(tot, 2))) if d.form == "xlsx" else (f"{tot:,.2f}")
                )
        at_end = marker in ("合计", "总计", "本年累计") and rng.random() < 0.6
        key = n + 0.5 if at_end else float(rng.uniform(-0.5, n - 0.5))
        row.update(__kind="total", __key=key, __src=-1)
        d.extra.append(row)
        d.used.add(f"total:{marker}")


def _title_rows(d: _Draft) -> None:
    d.n_title = int(d.rng.choice(4, p=[0.35, 0.35, 0.2, 0.1]))
    if d.n_title:
        d.used.add(f"title_rows_{d.n_title}")
        k = len(d.names_out)
        d.top.append([f"{d.unit_name}{d.year}年度{d.spec.title}"] + [None] * (k - 1))


def _merged_title(d: _Draft) -> None:
    d.merged = True
    d.used.add("merged_title")


def _more_title_rows(d: _Draft) -> None:
    k = len(d.names_out)
    r: list[str | None] = [None] * k
    r[0] = f"填报单位：{d.unit_name}"
    r[k - 1 if k > 2 else 0] = (r[0] + "　" if k <= 2 else "") + "金额单位：元"
    d.top.append(r)
    if d.n_title >= 3:
        d.top.append(
            [f"填报日期：{d.year + 1}年1月{int(d.rng.integers(5, 28))}日"] + [None] * (k - 1)
        )


def _blank_before_header(d: _Draft) -> None:
    blank = BLANK_LINE if d.form == "csv" and d.rng.random() < 0.5 else None
    d.top.append([blank] + [None] * (len(d.names_out) - 1))
    d.used.add("blank_before_header")


def _sheet_name_spaces(d: _Draft) -> None:
    r, t = int(d.rng.integers(3)), d.spec.title
    d.sheet_name = f"{t} " if r == 0 else f"\u3000{t}" if r == 1 else f"{t[:2]} {t[2:]}"
    d.used.add("sheet_name_spaces")


def _date_format(d: _Draft) -> None:
    d.date_format = ["yyyy-mm-dd", "yyyy/m/d", 'yyyy"年"m"月"d"日"'][int(d.rng.integers(3))]


RENDER_STEPS: tuple[Mutation, ...] = (
    Mutation("dropped_optional_columns", 0.3, _drop_null_optional_columns, when=_has_rows),
    Mutation("zero_as_empty", 0.5, _zero_as_empty, when=lambda d: d.spec.key == "ledger"),
    Mutation("value_forms", None, _value_forms),
    Mutation("header_variants", None, _headers),
    Mutation("extra_columns", 0.35, _extra_columns),
    Mutation("shuffled_columns", 0.3, _shuffle_columns, otherwise=_number_column_first),
    Mutation("column_order", None, _place_columns),
    Mutation("junk_rows", None, _junk, when=lambda d: bool(d.junk) and d.n > 0),
    Mutation("blank_rows", 0.35, _blank_rows, when=lambda d: d.n >= 2),
    Mutation("total_rows", 0.3, _total_rows, when=_has_rows),
    Mutation("title_rows", None, _title_rows),
    Mutation(
        "merged_title",
        0.7,
        _merged_title,
        when=lambda d: d.n_title > 0 and d.form == "xlsx" and len(d.names_out) > 1,
    ),
    Mutation("more_title_rows", None, _more_title_rows, when=lambda d: d.n_title >= 2),
    Mutation("blank_before_header", 0.2, _blank_before_header, when=lambda d: d.n_title > 0),
    Mutation("sheet_name_spaces", 0.1, _sheet_name_spaces),
    Mutation("date_format", None, _date_format),
)


def render_sheet(
    df: pl.DataFrame,
    spec: SheetSpec,
    *,
    form: str,
    rng: np.random.Generator,
    year: int,
    unit_name: str,
    junk: list[str] = (),
    fresh_prefix: str = "QX",
    key_columns: tuple[str, ...] = (),
) -> RenderedSheet:
    """Render one canonical sheet. ``form`` is ``xlsx`` or ``csv``; ``junk`` the kinds to plant."""
    assert form in ("xlsx", "csv")
    d = _Draft(df, spec, form, rng, year, unit_name, list(junk), fresh_prefix, list(spec.columns))
    d.sheet_name = spec.title
    for step in RENDER_STEPS:
        if step.when is not None and not step.when(d):
            continue
        if step.p is None or rng.random() < step.p:
            step.apply(d)
        elif step.otherwise is not None:
            step.otherwise(d)
    return _finish(d, key_columns)


def _finish(d: _Draft, key_columns: tuple[str, ...]) -> RenderedSheet:
    """Data, junk, blank and total rows in sheet order under the title rows and the header;
    the truth of what a correct reader gets (row numbers as Excel or the CSV shows them)."""
    n, cn, body = d.n, d.cn, d.body
    if d.extra:
        xf = pl.DataFrame(d.extra, schema=body.schema)
        body = pl.concat([body, xf]).sort("__key", maintain_order=True)
    top = [*d.top, list(d.headers)]
    topf = pl.DataFrame(top, schema=dict.fromkeys(cn, pl.String), orient="row")
    cells = pl.concat([topf, body.select(cn)])

    # row numbers: Excel rows, or CSV line numbers (a quoted field may span lines)
    multiline = (
        d.form == "csv"
        and cells.select(
            pl.any_horizontal([pl.col(c).str.contains("\n", literal=True) for c in cn]).any()
        ).item()
    )
    if multiline:
        nl = pl.sum_horizontal([pl.col(c).str.count_matches("\n").fill_null(0) for c in cn])
        starts = cells.select((nl + 1).cum_sum().shift(1, fill_value=0) + 1).to_series()
        rownums = starts[len(top) :]
    else:
        rownums = pl.int_range(len(top) + 1, cells.height + 1, eager=True)
    body = body.with_columns(rownums.cast(pl.Int64).alias("__row"))

    quarantine = [
        {"row_number": r, "column": q, "kind": qk}
        for r, q, qk in body.filter(pl.col("__kind") == "junk")
        .select("__row", "__q", "__qk")
        .iter_rows()
    ]
    counts = body.group_by("__kind").len()
    cnt = dict(zip(counts["__kind"].to_list(), counts["len"].to_list(), strict=True))
    n_junk = cnt.get("junk", 0)
    data_rows = None
    keys = [c for c in key_columns if c in d.spec.names]
    if keys:
        rows = body.filter(pl.col("__kind") == "data").select("__src", "__row")
        data_rows = (
            d.df.select(keys)
            .with_row_index("__src")
            .with_columns(pl.col("__src").cast(pl.Int64))
            .join(rows, on="__src")
            .drop("__src")
            .rename({"__row": "row_number"})
        )
    d.used.update(f"junk:{q['kind']}" for q in quarantine)
    return RenderedSheet(
        spec=d.spec,
        sheet_name=d.sheet_name,
        cells=cells,
        merged_title=d.merged,
        date_format=d.date_format,
        header=d.headers,
        rows_read=n + n_junk,
        rows_kept=n,
        rows_quarantined=n_junk,
        rows_skipped=len(top) + cnt.get("blank", 0) + cnt.get("total", 0),
        quarantine=quarantine,
        variations=d.used,
        data_rows=data_rows,
    )
