"""The one form writer: renders blocks (a resolved layout, an 取证单, a 底稿, a listing) into a
write-only openpyxl sheet, printable on A4.

A sheet is a grid of columns (widths) holding one or more blocks, each: title, meta lines
(被审计单位 …), a table (header + rows of cells; a cell spans columns, the last cell of a row
stretches to the right edge; equal labels in consecutive rows of one column merge vertically),
footer lines (主审 / 审计人员 / 编制日期) and notes. Blocks after the first start on a new page.

Every text value goes through ``_text``: control characters removed, cut at Excel's 32,767
characters, and a value starting with ``=``, ``+``, ``-`` or ``@`` is stored as text (data type
``s`` and the quotePrefix style), never as a formula.
"""

from __future__ import annotations

import math
import re
from copy import copy
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.properties import PageSetupProperties

FONT_NAME = "宋体"  # SimSun; LibreOffice substitutes Noto Serif/Sans CJK where SimSun is absent
FORMULA_START = ("=", "+", "-", "@")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
MAX_CELL = 32767


class Pct(float):
    """A rate in [0, 1], shown as a percentage."""


@dataclass
class Cell:
    value: Any = ""
    span: int = 1
    kind: str = "value"  # label | value | head


@dataclass
class Block:
    title: str
    meta: list[tuple[str, str]] = field(default_factory=list)  # (text, "left" | "right")
    header: list[tuple[str, int]] | None = None
    rows: list[list[Cell]] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    merge_labels: bool = True
    new_page: bool = True  # start on a new page (blocks after the first)


_thin = Side(style="thin", color="000000")
_BORDER = Border(left=_thin, right=_thin, top=_thin, bottom=_thin)
_NONE = Border()
_FONTS = {
    "title": Font(name=FONT_NAME, size=16, bold=True),
    "meta": Font(name=FONT_NAME, size=11),
    "head": Font(name=FONT_NAME, size=10.5, bold=True),
    "label": Font(name=FONT_NAME, size=10.5),
    "value": Font(name=FONT_NAME, size=10.5),
    "footer": Font(name=FONT_NAME, size=11),
    "note": Font(name=FONT_NAME, size=9, italic=True),
}
_ALIGN = {
    "title": Alignment(horizontal="center", vertical="center", wrap_text=True),
    "meta": Alignment(horizontal="left", vertical="center", wrap_text=True),
    "meta_right": Alignment(horizontal="right", vertical="center", wrap_text=True),
    "head": Alignment(horizontal="center", vertical="center", wrap_text=True),
    "label": Alignment(horizontal="left", vertical="center", wrap_text=True),
    "value": Alignment(horizontal="left", vertical="center", wrap_text=True),
    "number": Alignment(horizontal="right", vertical="center"),
    "footer": Alignment(horizontal="left", vertical="center"),
    "note": Alignment(horizontal="left", vertical="top", wrap_text=True),
}
_HEAD_FILL = PatternFill("solid", fgColor="E7E6E6")
LINE_PT = 14.5  # one line of 10.5 pt 宋体


def cell_text(value: str) -> str:
    """Input text as a cell may hold it: control characters dropped, cut to Excel's limit."""
    value = _ILLEGAL.sub("", value)
    return value[:MAX_CELL]


_WIDE = re.compile("[^\x00-\u2e7f]")


def _units(text: str) -> float:
    """Width of text in Excel character units (a CJK character is about two), in tenths summed
    as integers (regex counting, not a loop over the characters)."""
    wide = len(_WIDE.findall(text))
    return (20 * wide + 11 * (len(text) - wide)) / 10


@lru_cache(maxsize=8192, typed=True)  # labels repeat for every household of a form
def _lines(text: Any, width: float) -> int:
    if text is None or text == "":
        return 1
    usable = max(width - 1.5, 2.0)
    return sum(max(1, math.ceil(_units(part) / usable)) for part in str(text).split("\n"))


@dataclass
class _Planned:
    cells: list[tuple[int, Any, str]]  # (column, value, kind) — kind also drives style
    spans: list[tuple[int, int]]  # (first column, last column) merges in this row
    height: float
    border_cols: tuple[int, int] | None  # columns with a border (table rows)


@dataclass
class SheetInfo:
    name: str
    rows: int
    first_table_row: int | None


def write_sheet(
    wb,
    name: str,
    widths: tuple[float, ...] | list[float],
    blocks: list[Block],
    *,
    landscape: bool = False,
    repeat_header: bool | None = None,
    autofilter: bool = False,
) -> SheetInfo:
    """Write ``blocks`` into a new write-only sheet ``name``.

    ``repeat_header`` (default: only when there is a single block) repeats the first block's
    title-to-header rows on every printed page and freezes the panes below them; a sheet of
    several blocks freezes the title row and breaks the page between blocks.
    """
    ws = wb.create_sheet(title=name)
    ncols = len(widths)
    plan, merges, breaks, header_rows = _plan(blocks, widths)
    if repeat_header is None:
        repeat_header = len(blocks) == 1
    # sheet-level settings go first: write-only sheets write them before the first row
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[_col(i)].width = w
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    first_header = header_rows[0] if header_rows else None
    if repeat_header and first_header:
        ws.print_title_rows = f"1:{first_header}"
        ws.freeze_panes = f"A{first_header + 1}"
    else:
        ws.freeze_panes = "A2"
    if autofilter and first_header:
        ws.auto_filter.ref = f"A{first_header}:{_col(ncols)}{max(first_header, len(plan))}"
    for idx, row in enumerate(plan, start=1):
        ws.row_dimensions[idx].height = row.height
    # Straight into the set of ranges: MultiCellRange.add tests each new range against every
    # range already there (quadratic in a sheet's merges); the plan's merges never overlap.
    ranges = ws.merged_cells.ranges
    for first, last, top, bottom in merges:
        if (first, top) != (last, bottom):
            ranges.add(CellRange(min_col=first, min_row=top, max_col=last, max_row=bottom))
    for row_no in breaks:
        ws.row_breaks.append(Break(id=row_no))
    for row in plan:
        ws.append(_row_cells(ws, row, ncols))
    return SheetInfo(name, len(plan), first_header)


def _col(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i)


def _plan(blocks: list[Block], widths):
    """Lay out every block: rows to write, merges (first col, last col, top, bottom), breaks."""
    ncols = len(widths)
    plan: list[_Planned] = []
    merges: dict[tuple[int, int, int, int], None] = {}  # an ordered set
    breaks: list[int] = []
    header_rows: list[int] = []
    total = sum(widths)

    def line(value, kind, height=None):
        h = height or max(1, _lines(value, total)) * (LINE_PT + 2) + 4
        plan.append(_Planned([(1, value, kind)], [(1, ncols)], h, None))
        merges[(1, ncols, len(plan), len(plan))] = None

    for b_idx, block in enumerate(blocks):
        if b_idx and block.new_page:
            breaks.append(len(plan))
        if block.title:
            line(block.title, "title", max(1, _lines(block.title, total * 0.55)) * 24 + 8)
        for text, align in block.meta:
            line(text, "meta_right" if align == "right" else "meta")
        if block.header:
            cells, col, spans = [], 1, []
            for i, (text, span) in enumerate(block.header):
                span = ncols - col + 1 if i == len(block.header) - 1 else span
                cells.append((col, text, "head"))
                spans.append((col, col + span - 1))
                col += span
            plan.append(_Planned(cells, spans, LINE_PT + 10, (1, ncols)))
            merges.update(dict.fromkeys((a, z, len(plan), len(plan)) for a, z in spans))
            header_rows.append(len(plan))
        open_labels: dict[tuple[int, int], tuple[str, int]] = {}  # (col, last) → (text, top)
        group_lines: dict[tuple[int, int, int], int] = {}  # (col, last, top) → lines needed
        for row in block.rows:
            cells, col, spans, n_lines = [], 1, [], 1
            for i, cell in enumerate(row):
                span = ncols - col + 1 if i == len(row) - 1 else max(1, cell.span)
                last = col + span - 1
                width = sum(widths[col - 1 : last])
                kind = cell.kind
                if isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
                    kind = "number" if kind == "value" else kind
                cells.append((col, cell.value, kind))
                spans.append((col, last))
                needed = _lines(cell.value, width)
                key = (col, last)
                prev = open_labels.get(key)
                if (
                    block.merge_labels
                    and kind == "label"
                    and isinstance(cell.value, str)
                    and cell.value
                    and prev
                    and prev[0] == cell.value
                ):
                    cells[-1] = (col, None, "cont")  # continued: merged into the cell above
                else:
                    open_labels[key] = (cell.value, len(plan) + 1) if kind == "label" else None
                    if kind == "label" and isinstance(cell.value, str) and cell.value:
                        group_lines[(col, last, len(plan) + 1)] = needed
                        needed = 1  # the group's height is settled once it is complete
                    n_lines = max(n_lines, needed)
                col = last + 1
            # labels not continued in this row are closed
            used = {(a, z) for a, z in spans}
            for key in list(open_labels):
                if key not in used:
                    open_labels.pop(key)
            plan.append(_Planned(cells, spans, n_lines * LINE_PT + 6, (1, ncols)))
            for (a, z), (_c, _v, k) in zip(spans, cells, strict=True):
                if k != "cont":
                    merges[(a, z, len(plan), len(plan))] = None
        _merge_vertical(plan, merges, group_lines)
        for text in block.footer:
            line(text, "footer", LINE_PT * 1.6 + 8)
        for text in block.notes:
            line(text, "note")
    return plan, merges, breaks, header_rows


def _merge_vertical(plan: list[_Planned], merges, group_lines) -> None:
    """Merge each label with its continuations below and make the group tall enough."""
    for (col, last, top), needed in group_lines.items():
        bottom = top
        while bottom < len(plan) and any(
            c == col and k == "cont" for c, _v, k in plan[bottom].cells
        ):
            bottom += 1
        if bottom > top:
            # replace the single-row merge of the top cell by the group merge
            merges.pop((col, last, top, top), None)
            merges[(col, last, top, bottom)] = None
        have = sum(plan[i - 1].height for i in range(top, bottom + 1))
        want = needed * LINE_PT + 6
        if want > have:
            plan[bottom - 1].height += want - have


def _row_cells(ws, row: _Planned, ncols: int) -> list:
    out: list = [None] * ncols
    bordered = row.border_cols is not None
    for col, value, kind in row.cells:
        out[col - 1] = _make(ws, value, "label" if kind == "cont" else kind, bordered)
    for first, last in row.spans:
        for c in range(first + 1, last + 1):
            if out[c - 1] is None and bordered:
                out[c - 1] = _make(ws, None, "value", True)
    if bordered:
        for c in range(ncols):
            if out[c] is None:
                out[c] = _make(ws, None, "value", True)
    while out and out[-1] is None:
        out.pop()
    return out


def _make(ws, value, kind: str, bordered: bool) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws)
    number_format, quote = None, False
    if isinstance(value, str):
        value = cell_text(value)
        cell.value = value
        quote = value.startswith(FORMULA_START)
    elif isinstance(value, Pct):
        cell.value = float(value)
        number_format = "0.00%"
    elif isinstance(value, bool):
        cell.value = "是" if value else "否"
    elif isinstance(value, int):
        cell.value = value
        number_format = "#,##0"
    elif isinstance(value, float):
        cell.value = value
        number_format = "#,##0.00"
    elif value is not None:
        cell.value = cell_text(str(value))
        quote = cell.value.startswith(FORMULA_START)
    if quote:  # input text that looks like a formula stays text
        cell.data_type = "s"
    _style(cell, ws, (kind, bordered, number_format, quote))
    return cell


def _style(cell: WriteOnlyCell, ws, key: tuple) -> None:
    """Give the cell the style of `key`. Setting font, alignment … one by one hashes each
    style object per cell (the largest cost of writing a workbook); a key's resulting style
    array is computed once per workbook and copied."""
    cache = ws.parent.__dict__.setdefault("_bangfu_styles", {})
    if key in cache:
        cell._style = copy(cache[key])
        return
    kind, bordered, number_format, quote = key
    if number_format:
        cell.number_format = number_format
    if quote:
        cell.quotePrefix = True
    font_kind = "value" if kind == "number" else kind.replace("meta_right", "meta")
    cell.font = _FONTS.get(font_kind, _FONTS["value"])
    cell.alignment = _ALIGN.get(kind, _ALIGN["value"])
    if bordered:
        cell.border = _BORDER
    if kind == "head":
        cell.fill = _HEAD_FILL
    cache[key] = copy(cell._style)
