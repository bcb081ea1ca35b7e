"""The 会计明细账 of a unit-year, written from its final payments (:func:`build_ledger`)."""

from __future__ import annotations

import datetime as dt

import polars as pl

import bangfu.generate.units as gu
from bangfu.generate.model import (
    BANK_ACCOUNT,
    CASH_ACCOUNT,
    HELP_ACCOUNT,
    OFFICE_ACCOUNT,
    TRANSFER_ACCOUNT,
    WAGE_ACCOUNT,
    WARMTH_ACCOUNT,
    WARMTH_FUND,
    conform,
)

# ---------------------------------------------------------------- ledger


def ledger_lines(voucher_no, posted_on, account, memo, debit, fund) -> list[dict]:
    """A voucher: a debit line under ``account`` and its credit line under 银行存款."""
    return [
        {
            "posted_on": posted_on,
            "voucher_no": voucher_no,
            "account_code": account[0],
            "account_name": account[1],
            "memo": memo,
            "debit": debit,
            "credit": None,
            "fund": fund,
        },
        {
            "posted_on": posted_on,
            "voucher_no": voucher_no,
            "account_code": BANK_ACCOUNT[0],
            "account_name": BANK_ACCOUNT[1],
            "memo": memo,
            "debit": None,
            "credit": debit,
            "fund": fund,
        },
    ]


MEMO = {
    "生活救助": "发放困难职工生活救助金",
    "助学救助": "发放困难职工子女助学救助金",
    "医疗救助": "发放困难职工医疗救助金",
    "职业培训": "支付困难职工职业培训补贴",
    "职业介绍": "支付困难职工职业介绍补贴",
    "法律援助": "支付困难职工法律援助费用",
    "送温暖": "春节送温暖慰问困难职工",
}


def build_ledger(
    year: int, unit: str, pay: pl.DataFrame, children: list[str], rng
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Give every payment without a 凭证号 its own voucher (one voucher per payment, as the
    payments sheet wants 凭证号 unique) and write the 会计明细账: a debit line equal to the
    payment and a credit line per voucher, plus wage / office vouchers under non-帮扶 subjects and,
    for a city or province, transfers to the units below (补助下级支出—帮扶补助)."""
    pay = pay.sort("paid_on", "payment_no")
    missing = pay["voucher_no"].is_null()
    start = max_voucher(pay["voucher_no"]) + 1
    vno = pl.Series(range(start, start + int(missing.sum()))).cast(pl.String).str.zfill(5)
    filled = pay.filter(missing).with_columns(voucher_no=pl.concat_str(pl.lit("记"), vno))
    pay = pl.concat([pay.filter(~missing), filled]).sort("payment_no")
    p = pay.filter(pl.col("voucher_no").is_not_null())
    warm = pl.col("fund") == WARMTH_FUND
    memo = pl.concat_str(
        pl.col("paid_on").dt.month().cast(pl.String),
        pl.lit("月"),
        pl.col("category").replace_strict(MEMO, default="发放困难职工帮扶资金"),
    )
    debit = p.select(
        posted_on="paid_on",
        voucher_no="voucher_no",
        account_code=pl.when(warm)
        .then(pl.lit(WARMTH_ACCOUNT[0]))
        .otherwise(pl.lit(HELP_ACCOUNT[0])),
        account_name=pl.when(warm)
        .then(pl.lit(WARMTH_ACCOUNT[1]))
        .otherwise(pl.lit(HELP_ACCOUNT[1])),
        memo=memo,
        debit="amount",
        credit=pl.lit(None, pl.Float64),
        fund="fund",
    )
    cash = pl.col("method") == "现金"
    credit = p.select(
        posted_on="paid_on",
        voucher_no="voucher_no",
        account_code=pl.when(cash).then(pl.lit(CASH_ACCOUNT[0])).otherwise(pl.lit(BANK_ACCOUNT[0])),
        account_name=pl.when(cash).then(pl.lit(CASH_ACCOUNT[1])).otherwise(pl.lit(BANK_ACCOUNT[1])),
        memo=memo,
        debit=pl.lit(None, pl.Float64),
        credit="amount",
        fund="fund",
    )
    lines = pl.concat([debit, credit]).sort("voucher_no", "credit", nulls_last=False)
    other = []
    n = max_voucher(pay["voucher_no"]) + 1
    for m in range(1, 13):
        other += ledger_lines(
            f"记{n:05d}",
            dt.date(year, m, 25),
            WAGE_ACCOUNT,
            f"支付{m}月机关工作人员工资",
            float(round(rng.uniform(6e4, 9e4), 2)),
            "工会经费",
        )
        n += 1
    for q in (3, 9):
        other += ledger_lines(
            f"记{n:05d}",
            dt.date(year, q, 12),
            OFFICE_ACCOUNT,
            "购买办公用品",
            float(round(rng.uniform(2e3, 8e3), 2)),
            "工会经费",
        )
        n += 1
    for c in children:
        other += ledger_lines(
            f"记{n:05d}",
            dt.date(year, 4, 18),
            TRANSFER_ACCOUNT,
            f"拨付{gu.union_name(c)}帮扶资金",
            float(round(rng.uniform(1e5, 5e5), -2)),
            "中央财政专项帮扶资金",
        )
        n += 1
    led = pl.concat([lines, conform(pl.DataFrame(other), "ledger")], how="vertical_relaxed")
    return conform(pay, "payments"), conform(led, "ledger")


def max_voucher(v: pl.Series) -> int:
    """The highest number ending a voucher number (``记00042`` → 42); 0 when there is none."""
    nums = v.drop_nulls().str.extract(r"(\d+)$").cast(pl.Int64, strict=False).drop_nulls()
    return int(nums.max()) if len(nums) else 0
