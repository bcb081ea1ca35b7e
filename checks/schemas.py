"""Pandera models of the canonical frames: one per ledger sheet and reference file.

They check the parsed frames (bangfu.readers), canonical columns only, meta columns excluded:
dtypes, required (non-null) columns, bounds, the vocabularies the contract makes strict, and the
conditional rules (dataframe-level checks). A value outside a non-strict vocabulary is *not* a
data error (the rules decide what it means), so those vocabularies are not checked here.

Every check carries a Chinese ``error`` text: the reader turns ``SchemaErrors.failure_cases``
(column, check, row ``index``) into quarantine reasons. Dataframe-level checks name the columns
they are about in ``DATAFRAME_CHECK_COLUMNS``. No Dagster import here.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from bangfu import sheets as S

Date = pl.Date  # annotation alias, reads better below


def vocab(values: tuple[str, ...], *, nullable: bool = True) -> dict:
    """Field keywords for a strict vocabulary."""
    return {"isin": list(values), "nullable": nullable}


class _Base(pa.DataFrameModel):
    class Config:
        strict = False  # meta columns may ride along
        coerce = False  # the reader already produced the canonical dtypes


EXITED_ON_REQUIRED = "档案状态为已退档时退档日期必填"
EXIT_PATH_REQUIRED = "退档原因为脱困时脱困方式必填"
VERDICT_MISMATCH = "错评只用于在档户，错退只用于退档户，漏评只用于非建档户"

# Which columns a dataframe-level check is about: its error text → canonical column names.
DATAFRAME_CHECK_COLUMNS: dict[str, tuple[str, ...]] = {
    EXITED_ON_REQUIRED: ("exited_on",),
    EXIT_PATH_REQUIRED: ("exit_path",),
    VERDICT_MISMATCH: ("sample_type", "verdict"),
}


# ---------------------------------------------------------------- reference files
class UnitsSchema(_Base):
    unit_code: str = pa.Field(nullable=False, str_matches=r"^[0-9]{6}$")
    unit_name: str = pa.Field(nullable=False)
    level: str = pa.Field(**vocab(("省", "市", "县"), nullable=False))
    parent_code: str = pa.Field(nullable=True)


class StandardsSchema(_Base):
    region_code: str = pa.Field(nullable=False)
    year: int = pa.Field(nullable=False)
    dibao_monthly: float = pa.Field(nullable=False, gt=0)
    edu_standard: float = pa.Field(nullable=True)
    medical_standard: float = pa.Field(nullable=True)


class CivilRosterSchema(_Base):
    id_number: str = pa.Field(nullable=False)
    name: str = pa.Field(nullable=True)
    roster_type: str = pa.Field(nullable=False)
    income_per_capita_monthly: float = pa.Field(nullable=True)
    employer: str = pa.Field(nullable=True)
    region_code: str = pa.Field(nullable=False)


# ---------------------------------------------------------------- ledger sheets
class ArchiveSchema(_Base):
    archive_no: str = pa.Field(nullable=False)
    name: str = pa.Field(nullable=False)
    id_number: str = pa.Field(nullable=False)
    phone: str = pa.Field(nullable=True)
    employer: str = pa.Field(nullable=True)
    address: str = pa.Field(nullable=True)
    hukou: str = pa.Field(nullable=True)
    is_member: str = pa.Field(nullable=True)
    hardship_type: str = pa.Field(nullable=False)
    causes: str = pa.Field(nullable=True)
    household_size: int = pa.Field(nullable=False, ge=1)
    household_income: float = pa.Field(nullable=False, ge=0)
    archived_on: Date = pa.Field(nullable=False)
    relieved_on: Date = pa.Field(nullable=True)
    status: str = pa.Field(nullable=False)
    exited_on: Date = pa.Field(nullable=True)
    exit_reason: str = pa.Field(nullable=True)
    exit_path: str = pa.Field(nullable=True)
    income_at_exit: float = pa.Field(nullable=True)

    @pa.dataframe_check(name="退档日期必填", error=EXITED_ON_REQUIRED)
    @classmethod
    def exited_on_when_exited(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("status") != "已退档")
            | pl.col("status").is_null()
            | pl.col("exited_on").is_not_null()
        )

    @pa.dataframe_check(name="脱困方式必填", error=EXIT_PATH_REQUIRED)
    @classmethod
    def exit_path_when_out_of_hardship(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("exit_reason") != "脱困")
            | pl.col("exit_reason").is_null()
            | pl.col("exit_path").is_not_null()
        )


class ProceduresSchema(_Base):
    archive_no: str = pa.Field(nullable=False)
    procedure: str = pa.Field(nullable=False)
    step: str = pa.Field(nullable=False)
    done_on: Date = pa.Field(nullable=True)
    evidence: str = pa.Field(nullable=True)
    publicity_days: int = pa.Field(nullable=True)


class EconChecksSchema(_Base):
    archive_no: str = pa.Field(nullable=False)
    item: str = pa.Field(nullable=False)
    provided: str = pa.Field(nullable=False)
    match_result: str = pa.Field(nullable=True)


class PaymentsSchema(_Base):
    payment_no: str = pa.Field(nullable=False)
    paid_on: Date = pa.Field(nullable=False)
    archive_no: str = pa.Field(nullable=True)
    name: str = pa.Field(nullable=True)
    id_number: str = pa.Field(nullable=False)
    category: str = pa.Field(nullable=False)
    fund: str = pa.Field(nullable=False)
    amount: float = pa.Field(nullable=False, gt=0)
    method: str = pa.Field(nullable=True)
    account_no: str = pa.Field(nullable=True)
    voucher_no: str = pa.Field(nullable=True)
    med_total: float = pa.Field(nullable=True)
    med_self_pay: float = pa.Field(nullable=True)
    receipt_type: str = pa.Field(nullable=True)
    receipt_year: int = pa.Field(nullable=True)
    school_stage: str = pa.Field(nullable=True)


class LedgerSchema(_Base):
    posted_on: Date = pa.Field(nullable=True)
    voucher_no: str = pa.Field(nullable=False)
    account_code: str = pa.Field(nullable=True)
    account_name: str = pa.Field(nullable=False)
    memo: str = pa.Field(nullable=False)
    debit: float = pa.Field(nullable=False)  # empty cells are read as 0
    credit: float = pa.Field(nullable=False)
    fund: str = pa.Field(nullable=True)


class UnitStandardsSchema(_Base):
    category: str = pa.Field(nullable=False)
    hardship_type: str = pa.Field(nullable=False)
    annual_cap: float = pa.Field(nullable=False, ge=0)


class TargetsSchema(_Base):
    target_year: int = pa.Field(nullable=False)
    target_relieved: int = pa.Field(nullable=False, ge=0)
    target_exited: int = pa.Field(nullable=False, ge=0)
    has_plan: str = pa.Field(nullable=True)
    has_assessment: str = pa.Field(nullable=True)


# verdict → the only sample type it may go with (符合 goes with any)
VERDICT_SAMPLE_TYPE = {"错评": "在档户", "错退": "退档户", "漏评": "非建档户"}


class EvaluationSchema(_Base):
    sample_no: str = pa.Field(nullable=True)
    id_number: str = pa.Field(nullable=True)
    name: str = pa.Field(nullable=True)
    sample_type: str = pa.Field(**vocab(("在档户", "退档户", "非建档户"), nullable=False))
    verdict: str = pa.Field(**vocab(("符合", "错评", "错退", "漏评"), nullable=False))
    satisfaction: str = pa.Field(nullable=True)

    @pa.dataframe_check(
        name="评估结论与样本类型不相容",
        error=VERDICT_MISMATCH,
    )
    @classmethod
    def verdict_fits_sample_type(cls, data: PolarsData) -> pl.LazyFrame:
        allowed = pl.col("verdict").replace_strict(
            VERDICT_SAMPLE_TYPE, default=None, return_dtype=pl.String
        )
        return data.lazyframe.select(
            allowed.is_null() | pl.col("sample_type").is_null() | (allowed == pl.col("sample_type"))
        )


class FollowupSchema(_Base):
    archive_no: str = pa.Field(nullable=False)
    survey_mode: str = pa.Field(nullable=True)
    surveyed_on: Date = pa.Field(nullable=True)
    got_notice: str = pa.Field(nullable=False)
    knows_reason: str = pa.Field(nullable=True)
    agrees: str = pa.Field(nullable=True)
    revisited: str = pa.Field(nullable=True)
    living_ok: str = pa.Field(nullable=True)
    satisfaction: str = pa.Field(nullable=True)


class StaffSchema(_Base):
    name: str = pa.Field(nullable=False)
    id_number: str = pa.Field(nullable=False)
    post: str = pa.Field(nullable=True)
    phone: str = pa.Field(nullable=True)
    address: str = pa.Field(nullable=True)


class BudgetSchema(_Base):
    fund: str = pa.Field(nullable=False)
    opening_balance: float = pa.Field(nullable=True)
    received: float = pa.Field(nullable=True)
    spent: float = pa.Field(nullable=True)
    closing_balance: float = pa.Field(nullable=True)
    recovered: float = pa.Field(nullable=True)
    allocation_method: str = pa.Field(nullable=True)
    has_evaluation: str = pa.Field(nullable=True)


SCHEMAS: dict[str, type[_Base]] = {
    S.UNITS.key: UnitsSchema,
    S.STANDARDS.key: StandardsSchema,
    S.CIVIL_ROSTER.key: CivilRosterSchema,
    S.ARCHIVE.key: ArchiveSchema,
    S.PROCEDURES.key: ProceduresSchema,
    S.ECON_CHECKS.key: EconChecksSchema,
    S.PAYMENTS.key: PaymentsSchema,
    S.LEDGER.key: LedgerSchema,
    S.UNIT_STANDARDS.key: UnitStandardsSchema,
    S.TARGETS.key: TargetsSchema,
    S.EVALUATION.key: EvaluationSchema,
    S.FOLLOWUP.key: FollowupSchema,
    S.STAFF.key: StaffSchema,
    S.BUDGET.key: BudgetSchema,
}


def schema_for(key: str) -> type[_Base]:
    return SCHEMAS[key]


__all__ = ["DATAFRAME_CHECK_COLUMNS", "SCHEMAS", "VERDICT_SAMPLE_TYPE", "schema_for"]
