"""Shapes of the frames that pass between the pure modules (readers → lake → rules → forms).

Nothing here imports Dagster. The warehouse tables (warehouse.tables) mirror these columns.
"""

from __future__ import annotations

import polars as pl

from bangfu.kinds import KINDS
from bangfu.sheets import SheetSpec

# polars dtype of each column kind of bangfu.sheets (the table is bangfu.kinds.KINDS)
KIND_DTYPES: dict[str, pl.DataType] = {name: kind.dtype for name, kind in KINDS.items()}

# lake "ingest_status": one row per (year, unit) partition, what its ingest found
INGEST_STATUS_SCHEMA: dict[str, pl.DataType] = {
    "year": pl.Int64(),
    "unit_code": pl.String(),
    "status": pl.String(),  # ok | missing | rejected
    "source_file": pl.String(),
    "message": pl.String(),
}

META_SCHEMA: dict[str, pl.DataType] = {
    "year": pl.Int64(),
    "unit_code": pl.String(),
    "source_file": pl.String(),  # path relative to the landing folder, '/'-separated
    "source_sheet": pl.String(),  # the Chinese sheet name
    "source_row": pl.Int64(),  # row as Excel shows it (CSV: 1-based line number)
}


def sheet_schema(spec: SheetSpec, *, with_meta: bool = True) -> dict[str, pl.DataType]:
    """The lake schema of one sheet: canonical columns, then the meta columns."""
    schema = {c.name: KIND_DTYPES[c.kind] for c in spec.columns}
    if with_meta:
        schema.update(META_SCHEMA)
    return schema


def empty_sheet(spec: SheetSpec) -> pl.DataFrame:
    return pl.DataFrame(schema=sheet_schema(spec))


QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "year": pl.Int64(),
    "unit_code": pl.String(),
    "source_file": pl.String(),
    "sheet": pl.String(),  # Chinese sheet name
    "row_number": pl.Int64(),
    "column": pl.String(),  # every failing column, Chinese headers joined by '、'
    "value": pl.String(),  # the failing values as written (IDs kept whole: warehouse only)
    "reason": pl.String(),
}

INGEST_LOG_SCHEMA: dict[str, pl.DataType] = {
    "year": pl.Int64(),
    "unit_code": pl.String(),
    "sheet": pl.String(),
    "source_file": pl.String(),
    "source_sha256": pl.String(),
    "rows_read": pl.Int64(),
    "rows_kept": pl.Int64(),
    "rows_quarantined": pl.Int64(),
    "rows_skipped": pl.Int64(),
}

FINDINGS_SCHEMA: dict[str, pl.DataType] = {
    "year": pl.Int64(),
    "unit_code": pl.String(),
    "rule_code": pl.String(),
    "severity": pl.String(),
    "id_number": pl.String(),
    "archive_no": pl.String(),
    "payment_no": pl.String(),
    "voucher_no": pl.String(),
    "category": pl.String(),
    "amount": pl.Float64(),
    "detail": pl.String(),
    "basis": pl.String(),
    "finding_id": pl.String(),
    "source_file": pl.String(),
    "source_sheet": pl.String(),
    "source_row": pl.Int64(),
    "settings_hash": pl.String(),
    "subject_id": pl.String(),
}

METRICS_SCHEMA: dict[str, pl.DataType] = {
    "year": pl.Int64(),
    "unit_code": pl.String(),
    "level": pl.String(),
    "archived_at_start": pl.Int64(),
    "archived_at_end": pl.Int64(),
    "newly_archived": pl.Int64(),
    "relieved": pl.Int64(),
    "exited_out_of_hardship": pl.Int64(),
    "exited_by_path_employment": pl.Int64(),
    "exited_by_path_insurance": pl.Int64(),
    "exited_by_path_medical": pl.Int64(),
    "exited_by_path_social_assistance": pl.Int64(),
    "roster_missed": pl.Int64(),
    "roster_wrong_exit": pl.Int64(),
    "target_relieved": pl.Int64(),
    "target_exited": pl.Int64(),
    "missed_rate": pl.Float64(),
    "wrong_exit_rate": pl.Float64(),
    "wrong_entry_rate": pl.Float64(),
    "recognition_rate": pl.Float64(),
    "paid_total": pl.Float64(),
    "paid_living": pl.Float64(),
    "paid_education": pl.Float64(),
    "paid_medical": pl.Float64(),
    "paid_training": pl.Float64(),
    "paid_legal": pl.Float64(),
    "paid_warmth": pl.Float64(),
    "findings_total": pl.Int64(),
    "complete": pl.Boolean(),
}
