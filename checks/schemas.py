"""Pandera models of the canonical frames, generated from the sheet specs of bangfu.sheets.

One model per ledger sheet and reference file, built by :func:`sheet_model` from the sheet's
columns: the dtype of the column's kind, non-null where the spec makes a value required (or
reads an empty cell as 0), the bounds, the pattern and the vocabularies the contract makes
strict; plus the cross-column rules of :data:`CROSS_CHECKS`. They check the parsed frames
(bangfu.readers), canonical columns only, meta columns excluded. A value outside a non-strict
vocabulary is *not* a data error (the rules decide what it means), so those are not checked.

Every cross-column check carries a Chinese ``error`` text: the reader turns
``SchemaErrors.failure_cases`` (column, check, row ``index``) into quarantine reasons, and
``DATAFRAME_CHECK_COLUMNS`` names the columns each such check is about. No Dagster import here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from bangfu import sheets as S
from bangfu.frames import sheet_schema

# verdict → the only sample type it may go with (符合 goes with any)
VERDICT_SAMPLE_TYPE = {"错评": "在档户", "错退": "退档户", "漏评": "非建档户"}


@dataclass(frozen=True)
class CrossCheck:
    """A rule over several columns of a row: ``holds`` is True where the row is valid."""

    name: str
    error: str  # the quarantine reason (Chinese)
    columns: tuple[str, ...]  # the columns a failing row is quarantined under
    holds: pl.Expr


def _required_when(name: str, error: str, column: str, value: str, required: str) -> CrossCheck:
    """``required`` must be filled in on the rows whose ``column`` is ``value``."""
    when = (pl.col(column) != value) | pl.col(column).is_null()
    return CrossCheck(name, error, (required,), when | pl.col(required).is_not_null())


def _verdict_fits_sample_type() -> pl.Expr:
    allowed = pl.col("verdict").replace_strict(
        VERDICT_SAMPLE_TYPE, default=None, return_dtype=pl.String
    )
    return allowed.is_null() | pl.col("sample_type").is_null() | (allowed == pl.col("sample_type"))


CROSS_CHECKS: dict[str, tuple[CrossCheck, ...]] = {
    S.ARCHIVE.key: (
        _required_when(
            "退档日期必填", "档案状态为已退档时退档日期必填", "status", "已退档", "exited_on"
        ),
        _required_when(
            "脱困方式必填", "退档原因为脱困时脱困方式必填", "exit_reason", "脱困", "exit_path"
        ),
    ),
    S.EVALUATION.key: (
        CrossCheck(
            "评估结论与样本类型不相容",
            "错评只用于在档户，错退只用于退档户，漏评只用于非建档户",
            ("sample_type", "verdict"),
            _verdict_fits_sample_type(),
        ),
    ),
}

# Which columns a dataframe-level check is about: its error text → canonical column names.
DATAFRAME_CHECK_COLUMNS: dict[str, tuple[str, ...]] = {
    c.error: c.columns for checks in CROSS_CHECKS.values() for c in checks
}


def _column_checks(c: S.Column) -> list[pa.Check]:
    checks = []
    if c.min_value is not None:
        checks.append(pa.Check.ge(c.min_value))
    if c.gt_value is not None:
        checks.append(pa.Check.gt(c.gt_value))
    if c.strict_vocab:
        checks.append(pa.Check.isin(list(c.vocab)))
    if c.pattern is not None:
        checks.append(pa.Check.str_matches(c.pattern))
    return checks


def _cross_check(c: CrossCheck) -> pa.Check:
    def check(data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(c.holds)

    return pa.Check(check, name=c.name, error=c.error)


def sheet_model(spec: S.SheetSpec) -> pa.DataFrameSchema:
    """The pandera model of one sheet's canonical frame (meta columns may ride along)."""
    dtypes = sheet_schema(spec, with_meta=False)
    return pa.DataFrameSchema(
        {
            c.name: pa.Column(
                dtypes[c.name],
                checks=_column_checks(c),
                nullable=not (c.required or c.empty_as_zero),
            )
            for c in spec.columns
        },
        checks=[_cross_check(c) for c in CROSS_CHECKS.get(spec.key, ())],
        name=spec.key.title().replace("_", "") + "Schema",
        strict=False,  # meta columns may ride along
        coerce=False,  # the reader already produced the canonical dtypes
    )


SCHEMAS: dict[str, pa.DataFrameSchema] = {
    spec.key: sheet_model(spec) for spec in S.LEDGER_SHEETS + S.REFERENCE_SHEETS
}


def schema_for(key: str) -> pa.DataFrameSchema:
    return SCHEMAS[key]


__all__ = [
    "CROSS_CHECKS",
    "DATAFRAME_CHECK_COLUMNS",
    "SCHEMAS",
    "VERDICT_SAMPLE_TYPE",
    "schema_for",
    "sheet_model",
]
