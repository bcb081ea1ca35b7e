"""One generic reader for every ledger sheet and reference file, driven by bangfu.sheets.

Workbooks (.xlsx, .xlsm, .xls, .ods) go through fastexcel (calamine), after the container checks
of :mod:`bangfu.readers.formats`; CSV is decoded as UTF-8 (with or without BOM) or GB18030,
anything else is refused. Cells are parsed with whole-column polars expressions (bangfu.parse)
and checked with the pandera models of checks.schemas; a row that fails becomes exactly one
quarantine row. Nothing here imports Dagster.

One module per job: ``discovery`` (the ledgers folder), ``formats`` (a workbook's form and
hostile sizes, from its bytes), ``csv_sheets``, ``xlsx`` (every workbook form), ``id_text`` (ID
text recovered from calamine's cell errors), ``validate`` (parse, validation, quarantine),
``reference`` (units, standards, rosters), ``batch`` (reading many ledgers at once) and
``common`` (results, errors, the raw sheet). The names below are the public API.
"""

from bangfu.readers.batch import DEFAULT_BATCH_ROWS, default_workers, read_ledger, read_ledgers
from bangfu.readers.common import (
    DEFAULT_MAX_UNCOMPRESSED,
    HEADER_SEARCH_ROWS,
    LedgerFile,
    LedgerRejected,
    LedgerResult,
    ReferenceDataError,
    Rejection,
    SheetResult,
)
from bangfu.readers.discovery import discover_ledgers
from bangfu.readers.reference import read_civil_roster, read_standards, read_units
from bangfu.readers.validate import read_sheet_rows

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "DEFAULT_MAX_UNCOMPRESSED",
    "HEADER_SEARCH_ROWS",
    "LedgerFile",
    "LedgerRejected",
    "LedgerResult",
    "ReferenceDataError",
    "Rejection",
    "SheetResult",
    "default_workers",
    "discover_ledgers",
    "read_civil_roster",
    "read_ledger",
    "read_ledgers",
    "read_sheet_rows",
    "read_standards",
    "read_units",
]
