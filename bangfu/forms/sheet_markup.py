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

from openpyxl.cell import WriteOnlyCell
from openpyxl.compat import safe_string
from openpyxl.utils import get_column_letter

from bangfu.forms.writer import FORMULA_START, cell_text

# (font, fill, alignment, number format), each None for the default
StyleKey = tuple
_PLAIN: StyleKey = (None, None, None, None)
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
        self.rows: list[str] = []
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
                if value.startswith(FORMULA_START):
                    sid = self.style_id(self.keys.get(sid, _PLAIN), quote=True)
                text = cell_text(value)
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
        self.rows.append(f'<row r="{r}">{"".join(parts)}</row>')

    @property
    def dimension(self) -> str:
        """The sheet's used range, as openpyxl's ``<dimension>`` gives it."""
        return f"A1:{get_column_letter(self.max_col)}{self.last_row}"

    def markup(self) -> bytes:
        """UTF-8, the encoding of a sheet part without an XML declaration (openpyxl's lxml
        writer gives other characters as character references: the same text, several times
        slower to make for Chinese text)."""
        return ("<sheetData>" + "".join(self.rows) + "</sheetData>").encode("utf-8")


def escape(text: str) -> str:
    """Text as lxml writes it (markup characters escaped, a carriage return kept as a
    character reference). ``str.replace`` rather than ``str.translate``: several times faster
    on Chinese text, and most text has none of these characters."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text
