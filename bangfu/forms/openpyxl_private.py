"""Every use of openpyxl's private API, in one place (bangfu.forms.writer builds on it).

openpyxl has no public way to hand a write-only sheet its rows as finished markup, nor to save a
workbook without a temp file per sheet. What is relied on here, pinned by the upper bound on
openpyxl in pyproject.toml and checked by tests/dagster/test_private_api.py (which fails when an
openpyxl release changes it):

- ``openpyxl.worksheet._writer.WorksheetWriter`` (a private module) and its ``write_top``,
  ``write_rows``, ``write_merged_cells``, ``cleanup`` and ``xf`` (the lxml stream, which hands
  out its writer when sent True);
- a write-only sheet's ``_writer`` attribute, which ``ExcelWriter`` saves the sheet through;
- ``ExcelWriter`` passing each sheet's ``_writer.out`` to the archive's ``write``.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from zipfile import ZIP_DEFLATED, ZipFile

from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.writer.excel import ExcelWriter


class PlannedSheetWriter(WorksheetWriter):
    """openpyxl's writer of a write-only sheet (top, tail, print setup stay its own), given the
    sheet data and merges whole instead of row by row, and writing into memory: openpyxl's own
    writes each sheet to a temp file first, created and removed per sheet (21 a workbook)."""

    def __init__(self, ws, sheet_data: bytes, merges: bytes | None):
        super().__init__(ws, out=BytesIO())
        self.sheet_data, self.merges = sheet_data, merges

    def write_rows(self):
        self._write_markup(self.sheet_data)

    def write_merged_cells(self):
        if self.merges is not None:
            self._write_markup(self.merges)

    def _write_markup(self, markup: bytes) -> None:
        """Put finished markup into the sheet where the next element would go: what lxml has
        buffered is flushed first (parsing it to let lxml write it again cost a tenth of the
        workbook's time)."""
        xf = self.xf.send(True)  # openpyxl's stream hands out its lxml writer on True
        xf.flush()
        self.out.write(markup)
        self.xf.send(None)

    def cleanup(self):
        self.out = None  # nothing on disk; the bytes are in the archive now


def set_sheet_markup(ws, sheet_data: bytes, merges: bytes | None) -> None:
    """The write-only sheet ``ws`` gets its ``<sheetData>`` and ``<mergeCells>`` whole; openpyxl
    writes the sheet's settings set so far now, the rest when the workbook is saved."""
    ws._writer = PlannedSheetWriter(ws, sheet_data, merges)
    ws._writer.write_top()


class _Archive(ZipFile):
    """The workbook's zip, taking a sheet written into memory where openpyxl's ExcelWriter
    hands over the path of a sheet's temp file."""

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        if isinstance(filename, BytesIO):
            self.writestr(arcname, filename.getvalue(), compress_type, compresslevel)
        else:
            super().write(filename, arcname, compress_type, compresslevel)


def write_package(wb, path: Path | str) -> None:
    """openpyxl's own save of ``wb`` to ``path``, with sheets written into memory."""
    with _Archive(path, "w", ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).save()
