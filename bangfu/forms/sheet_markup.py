"""A write-only sheet's rows built as finished ``<sheetData>`` markup, for the workbooks that are
plain tables (the year overview, the data-quality report): writing their cells one by one
through openpyxl was most of their time (tens of thousands of rows at national scale).

Cells are written as openpyxl writes them (text inline, numbers as ``safe_string``, an empty
cell only when it has a style); the style ids come from openpyxl's registry through a real
cell once per style, so ``styles.xml`` is openpyxl's own. Text goes through ``cell_text``
(control characters removed, cut at Excel's limit); text that looks like a formula gets the
quotePrefix style, as in the audit workbooks. The markup goes into the sheet with
``bangfu.forms.openpyxl_private.set_sheet_markup``. No Dagster here.
"""

from __future__ import annotations

import polars as pl
from openpyxl.cell import WriteOnlyCell
from openpyxl.compat import safe_string
from openpyxl.utils import get_column_letter

from bangfu.forms.openpyxl_private import set_sheet_markup
from bangfu.forms.writer import FORMULA_START, MAX_CELL, cell_text, escape

# cell_text over a column: what XML cannot hold (polars text holds no surrogates)
_ILLEGAL_RE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]"
_FORMULA_RE = "^[" + "".join("\\" + c for c in FORMULA_START) + "]"

# (font, fill, alignment, number format), each None for the default
StyleKey = tuple
_PLAIN: StyleKey = (None, None, None, None)
LONG_TEXT_BYTES = 1000
_LETTERS: list[str] = []


def _letters(n: int) -> list[str]:
    """Column letters A… of the first ``n`` columns."""
    while len(_LETTERS) < n:
        _LETTERS.append(get_column_letter(len(_LETTERS) + 1))
    return _LETTERS


def cell_value(v):
    """A value as a cell holds it: NaN as an empty cell."""
    if isinstance(v, float) and v != v:
        return None
    return v


class SheetMarkup:
    """One sheet's rows, appended in order, as one string."""

    def __init__(self, ws):
        self.ws = ws
        # one registry per workbook: a style id is the workbook's, whichever sheet made it
        self.styles: dict[tuple, int] = ws.parent.__dict__.setdefault("_bangfu_markup_styles", {})
        self.keys: dict[int, tuple] = ws.parent.__dict__.setdefault("_bangfu_markup_keys", {})
        self.rows: list[bytes] = []  # UTF-8
        self.max_col = self.last_row = 1

    def style_id(self, key: StyleKey, quote: bool = False) -> int:
        """The workbook's style id of ``key`` (and the quotePrefix flag)."""
        full = (*key, quote)
        sid = self.styles.get(full)
        if sid is None:
            font, fill, alignment, number_format = key
            cell = WriteOnlyCell(self.ws)
            if font is not None:
                cell.font = font
            if fill is not None:
                cell.fill = fill
            if alignment is not None:
                cell.alignment = alignment
            if number_format is not None:
                cell.number_format = number_format
            if quote:
                cell.quotePrefix = True
            sid = self.styles[full] = cell.style_id
            self.keys.setdefault(sid, tuple(key))
        return sid

    def row(self, r: int, cells: list[tuple[object, int]]) -> None:
        """Row ``r``: (value, style id) from column A on."""
        parts = []
        for letter, (value, sid) in zip(_letters(len(cells)), cells, strict=False):
            if value is None or value == "":
                if sid:
                    t = "inlineStr" if value == "" else "n"
                    parts.append(f'<c r="{letter}{r}" s="{sid}" t="{t}"/>')
                continue
            if isinstance(value, str):
                text = cell_text(value)
                if text.startswith(FORMULA_START):
                    sid = self.style_id(self.keys.get(sid, _PLAIN), quote=True)
                s = f' s="{sid}"' if sid else ""
                space = ' xml:space="preserve"' if text != text.strip() else ""
                parts.append(
                    f'<c r="{letter}{r}"{s} t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>'
                )
                continue
            s = f' s="{sid}"' if sid else ""
            if isinstance(value, bool):
                parts.append(f'<c r="{letter}{r}"{s} t="b"><v>{int(value)}</v></c>')
            else:
                parts.append(f'<c r="{letter}{r}"{s} t="n"><v>{safe_string(value)}</v></c>')
        self.max_col = max(self.max_col, len(cells))
        self.last_row = max(self.last_row, r)
        self.rows.append(f'<row r="{r}">{"".join(parts)}</row>'.encode())

    def table(self, first_row: int, frame: pl.DataFrame, sid: int = 0) -> None:
        """The rows of ``frame`` from row ``first_row``, column A on, every cell in style ``sid``:
        the markup :meth:`row` writes for the same values, made by polars over whole columns
        (tens of thousands of rows: a Python loop over the cells was most of the time). Text
        and integer columns; a frame with other columns, integers of 16 digits or more, or
        long text (raw quarantined values up to Excel's 32,767 characters, where the several
        passes of the expressions cost more than the loop) goes through :meth:`row`."""
        if frame.is_empty():
            return
        texts = [name for name, dt in frame.schema.items() if dt == pl.String]
        long_text = (
            bool(texts)
            and (frame.select(pl.max_horizontal(pl.col(texts).str.len_bytes().max())).item() or 0)
            > LONG_TEXT_BYTES
        )
        ints = [name for name, dt in frame.schema.items() if dt.is_integer()]
        # openpyxl writes a number as "%.16g": the same digits as str() below 10**15 only
        big_int = (
            bool(ints)
            and (
                frame.select(pl.max_horizontal(pl.col(ints).cast(pl.Float64).abs().max())).item()
                or 0
            )
            >= 1e15
        )
        if long_text or big_int or len(texts) + len(ints) < frame.width:
            for r, values in enumerate(frame.iter_rows(), start=first_row):
                self.row(r, [(cell_value(v), sid) for v in values])
            return
        number = (pl.int_range(pl.len(), dtype=pl.Int64) + first_row).cast(pl.String)
        plain = f' s="{sid}"' if sid else ""
        quoted = f' s="{self.style_id(self.keys.get(sid, _PLAIN), quote=True)}"'
        cells = []
        for letter, name in zip(_letters(frame.width), frame.columns, strict=False):
            col = pl.col(name)
            ref = pl.concat_str([pl.lit(f'<c r="{letter}'), number, pl.lit('"')])
            if frame.schema[name] == pl.String:
                text = col.str.replace_all(_ILLEGAL_RE, "").str.slice(0, MAX_CELL)
                styled = pl.when(text.str.contains(_FORMULA_RE)).then(pl.lit(quoted))
                edges = pl.concat_str([text.str.slice(0, 1), text.str.slice(-1)])
                space = pl.when(edges.str.contains(r"\s")).then(pl.lit(' xml:space="preserve"'))
                filled = pl.concat_str(
                    [
                        ref,
                        styled.otherwise(pl.lit(plain)),
                        pl.lit(' t="inlineStr"><is><t'),
                        space.otherwise(pl.lit("")),
                        pl.lit(">"),
                        _escaped(text),
                        pl.lit("</t></is></c>"),
                    ]
                )
                blank = col == ""
            else:
                filled = pl.concat_str(
                    [ref, pl.lit(f'{plain} t="n"><v>'), col.cast(pl.String), pl.lit("</v></c>")]
                )
                blank = pl.lit(False)
            if sid:  # an empty cell is written only when it has a style
                empty_null = pl.concat_str([ref, pl.lit(f'{plain} t="n"/>')])
                empty_text = pl.concat_str([ref, pl.lit(f'{plain} t="inlineStr"/>')])
            else:
                empty_null = empty_text = pl.lit("")
            cells.append(
                pl.when(col.is_null())
                .then(empty_null)
                .when(blank)
                .then(empty_text)
                .otherwise(filled)
            )
        rows = frame.select(
            pl.concat_str(
                [pl.lit('<row r="'), number, pl.lit('">'), *cells, pl.lit("</row>")]
            ).str.join("")
        ).to_series()
        # the UTF-8 bytes as polars holds them: no Python string of the whole table
        self.rows.append(rows.to_arrow()[0].as_buffer().to_pybytes())
        self.max_col = max(self.max_col, frame.width)
        self.last_row = max(self.last_row, first_row + frame.height - 1)

    @property
    def dimension(self) -> str:
        """The sheet's used range, as openpyxl's ``<dimension>`` gives it."""
        return f"A1:{get_column_letter(self.max_col)}{self.last_row}"

    def finish(self) -> None:
        """Hand the rows to the sheet, with the ``<dimension>`` openpyxl would write."""
        self.ws.calculate_dimension = lambda ref=self.dimension: ref
        set_sheet_markup(self.ws, self.markup(), None)

    def markup(self) -> bytes:
        """UTF-8, the encoding of a sheet part without an XML declaration (openpyxl's lxml
        writer gives other characters as character references: the same text, several times
        slower to make for Chinese text)."""
        return b"<sheetData>" + b"".join(self.rows) + b"</sheetData>"


def _escaped(text: pl.Expr) -> pl.Expr:
    """:func:`escape` over a column."""
    return text.str.replace_many(["&", "<", ">", "\r"], ["&amp;", "&lt;", "&gt;", "&#13;"])
