"""The sheet markup of the plain-table workbooks (quality report, overview): the whole-column
path writes exactly what the cell-by-cell path writes, and both read back as the values."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font

from bangfu.forms.sheet_markup import LONG_TEXT_BYTES, SheetMarkup, cell_value
from bangfu.forms.writer import save_workbook

# text as hand-typed ledgers hold it: formula starts, edge spaces, markup characters, control
# characters, Chinese, the ideographic space
TEXT = st.one_of(
    st.none(),
    st.text(
        alphabet=st.sampled_from(list("=+-@ \t\r\n&<>a1中文　\x01\x0b\x1f\ufffe")), max_size=12
    ),
)
INTS = st.one_of(st.none(), st.integers(-(2**62), 2**62))


def _both(frame: pl.DataFrame, styled: bool) -> tuple[bytes, bytes, tuple, tuple]:
    wb = Workbook(write_only=True)
    whole, cells = SheetMarkup(wb.create_sheet()), SheetMarkup(wb.create_sheet())
    sid = whole.style_id((Font(bold=True), None, None, None)) if styled else 0
    whole.table(4, frame, sid)
    for r, values in enumerate(frame.iter_rows(), start=4):
        cells.row(r, [(cell_value(v), sid) for v in values])
    return (
        whole.markup(),
        cells.markup(),
        (whole.max_col, whole.last_row),
        (cells.max_col, cells.last_row),
    )


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(TEXT, INTS, TEXT), min_size=1, max_size=8),
    styled=st.booleans(),
)
def test_whole_columns_write_what_cell_by_cell_writes(rows, styled):
    frame = pl.DataFrame(rows, schema={"a": pl.String, "n": pl.Int64, "b": pl.String}, orient="row")
    whole, cells, dims_whole, dims_cells = _both(frame, styled)
    assert whole == cells
    assert dims_whole == dims_cells


def test_long_text_and_other_types_take_the_cell_path_alike():
    frame = pl.DataFrame({"a": ["x" * (LONG_TEXT_BYTES + 1), "=y"], "f": [1.5, None]})
    whole, cells, dims_whole, dims_cells = _both(frame, styled=False)
    assert whole == cells and dims_whole == dims_cells


def test_values_read_back(tmp_path):
    frame = pl.DataFrame(
        {"a": [" 前后 ", "=SUM(A1)", "a&b<c>\r\nd", None, ""], "n": [1, None, -2, 3, 4]}
    )
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("t")
    xml = SheetMarkup(ws)
    xml.table(1, frame)
    xml.finish()
    save_workbook(wb, tmp_path / "t.xlsx")
    back = load_workbook(tmp_path / "t.xlsx")["t"]
    got = [tuple(c.value for c in row) for row in back.iter_rows(max_col=2)]
    assert got == [(" 前后 ", 1), ("=SUM(A1)", None), ("a&b<c>\r\nd", -2), (None, 3), (None, 4)]
    assert back["A2"].data_type == "s" and back["A2"].quotePrefix
