"""Planting functions of the ledger (phase 2) and unit-level rules (rules.md, Ledger, Unit)."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl

import bangfu.generate.model as gm
from bangfu.generate.bookkeeping import ledger_lines
from bangfu.generate.model import conform
from bangfu.generate.planting import LIVING, Ctx, planter, upd

# ====================================================================== ledger (phase 2)

OUT_OF_SCOPE = [
    "支付帮扶中心工作人员工资",
    "发放帮扶中心职工年终奖金",
    "购置帮扶中心办公设备",
    "帮扶中心公务用车加油费",
    "为帮扶干部购买手机",
    "帮扶中心办公室装修工程款",
    "困难职工帮扶工作会议费",
    "帮扶工作人员通讯补贴",
    "帮扶中心业务招待费",
]


@planter("SPEND_OUT_OF_SCOPE", phase=2)
def _spend_out_of_scope(c: Ctx, u: str) -> bool:
    y = c.year
    acct = c.choice([gm.HELP_ACCOUNT, gm.TRANSFER_ACCOUNT])
    memo = c.choice(OUT_OF_SCOPE)
    amt = float(round(c.rng.uniform(800, 30000), 2))
    vno = c.next_voucher(u)
    lines = ledger_lines(
        vno,
        c.rand_date(dt.date(y, 2, 1), dt.date(y, 12, 20)),
        acct,
        memo,
        amt,
        "中央财政专项帮扶资金",
    )
    c.put(u, "ledger", pl.concat([c.f(u, "ledger"), conform(pl.DataFrame(lines), "ledger")]))
    c.fire("SPEND_OUT_OF_SCOPE", u, voucher_no=vno, amount=amt, note=f"{acct[1]}: {memo}")
    vno = c.next_voucher(u)
    lines = ledger_lines(
        vno,
        c.rand_date(dt.date(y, 2, 1), dt.date(y, 12, 20)),
        gm.WAGE_ACCOUNT,
        "支付帮扶中心工作人员工资",
        45000.0,
        "工会经费",
    )
    c.put(u, "ledger", pl.concat([c.f(u, "ledger"), conform(pl.DataFrame(lines), "ledger")]))
    c.near("SPEND_OUT_OF_SCOPE", u, voucher_no=vno, note="wages under a non-帮扶 subject")
    return True


@planter("LEDGER_MISMATCH", phase=2)
def _ledger_mismatch(c: Ctx, u: str) -> bool:
    pay = c.f(u, "payments").filter(pl.col("voucher_no").is_not_null() & (pl.col("amount") > 60))
    if pay.height < 2:
        return False
    idx = c.rng.choice(pay.height, 2, replace=False)
    p, q = pay.row(int(idx[0]), named=True), pay.row(int(idx[1]), named=True)
    led = c.f(u, "ledger")
    mine = (pl.col("voucher_no") == p["voucher_no"]) & pl.col("debit").is_not_null()
    variant = c.choice(["debit_off", "absent"])
    if variant == "absent":
        led = led.filter(pl.col("voucher_no") != p["voucher_no"])
        diff = p["amount"]
    else:
        diff = c.choice([100.0, 0.5, 1000.0, -50.0])
        led = upd(led, mine, debit=round(p["amount"] + diff, 2))
    c.put(u, "ledger", led)
    c.fire(
        "LEDGER_MISMATCH",
        u,
        voucher_no=p["voucher_no"],
        id_number=None,
        amount=abs(diff),
        note=f"voucher {variant}",
    )
    led = c.f(u, "ledger")
    theirs = (pl.col("voucher_no") == q["voucher_no"]) & pl.col("debit").is_not_null()
    c.put(u, "ledger", upd(led, theirs, debit=round(q["amount"] + 0.01, 2)))
    c.near("LEDGER_MISMATCH", u, voucher_no=q["voucher_no"], note="debit off by exactly 0.01")
    return True


# ====================================================================== unit level


def living_share(pay: pl.DataFrame) -> float:
    liv = pay.filter(LIVING)
    if liv.height == 0:
        return 0.0
    return liv.group_by("amount").len()["len"].max() / liv.height


@planter("PAY_FLAT_AMOUNT", phase=0)
def _pay_flat(c: Ctx, u: str) -> bool:
    if u in c.exclusive:
        return False
    pay = c.f(u, "payments")
    a = c.f(u, "archive")
    liv = pay.filter(LIVING & pl.col("archive_no").is_not_null())
    recipients = a.filter(pl.col("id_number").is_in(liv["id_number"].implode()))
    types = recipients["hardship_type"].n_unique()
    if liv["id_number"].n_unique() < 20 or types < 2:
        return False
    flat = float(round(c.dibao(u) * 0.5 / 10) * 10)
    c.put(u, "payments", upd(pay, LIVING, amount=flat))
    c.exclusive.add(u)
    c.fire("PAY_FLAT_AMOUNT", u, category="生活救助", note=f"every 生活救助 payment {flat:.2f}")
    # near miss in another unit: just under 90 % identical
    for v in [x for x in c.frames if x not in c.exclusive]:
        pv = c.f(v, "payments")
        lv = pv.filter(LIVING)
        if lv["id_number"].n_unique() < 20:
            continue
        k = math.ceil(0.9 * lv.height) - 1
        nos = lv.sort("payment_no")["payment_no"][:k]
        odd = float(round(c.dibao(v) * 0.5 / 10) * 10 + 5)
        c.put(v, "payments", upd(pv, pl.col("payment_no").is_in(nos.implode()), amount=odd))
        c.exclusive.add(v)
        c.near(
            "PAY_FLAT_AMOUNT",
            v,
            category="生活救助",
            note=f"{k} of {lv.height} 生活救助 payments identical (< 90 %)",
        )
        break
    return True


def _target_exactly_met(c: Ctx, u: str) -> bool:
    rel, ex = c.actual[u]
    if rel == 0 or ex == 0:
        return False
    c.put(
        u,
        "targets",
        upd(
            c.f(u, "targets"),
            pl.col("target_year") == c.year,
            target_relieved=rel,
            target_exited=ex,
        ),
    )
    c.near("TARGET_NOT_MET", u, note=f"exactly on target ({rel} relieved, {ex} exited)")
    return True


@planter("TARGET_NOT_MET", phase=3, needs=("targets",), near=_target_exactly_met)
def _target_not_met(c: Ctx, u: str) -> bool:
    rel, ex = c.actual[u]
    t = c.f(u, "targets")
    this = pl.col("target_year") == c.year
    if c.rng.random() < 0.5:
        t = upd(t, this, target_relieved=rel + 1 + int(c.rng.integers(0, 5)))
        what = f"relieved {rel} < target"
    else:
        t = upd(t, this, target_exited=ex + 1 + int(c.rng.integers(0, 3)))
        what = f"exited {ex} < target"
    c.put(u, "targets", t)
    c.fire("TARGET_NOT_MET", u, note=what)
    return True


def _plan_not_said(c: Ctx, u: str) -> bool:
    if c.rng.random() < 0.5:
        t = upd(c.f(u, "targets"), pl.col("target_year") == c.year, has_plan=None)
        what = "工作方案 empty"
    else:
        t = upd(c.f(u, "targets"), pl.col("target_year") == c.year + 1, has_plan="无")
        what = "工作方案 无 only on next year's row"
    c.put(u, "targets", t)
    c.near("NO_PLAN", u, note=what)
    return True


@planter("NO_PLAN", phase=3, needs=("targets",), near=_plan_not_said)
def _no_plan(c: Ctx, u: str) -> bool:
    c.put(u, "targets", upd(c.f(u, "targets"), pl.col("target_year") == c.year, has_plan="无"))
    c.fire("NO_PLAN", u, note="工作方案 无")
    return True


def _allocation_empty(c: Ctx, u: str) -> bool:
    c.put(u, "budget", upd(c.f(u, "budget"), pl.int_range(pl.len()) == 0, allocation_method=None))
    c.near("ALLOCATION_NOT_FACTOR", u, note="分配方法 empty")
    return True


@planter("ALLOCATION_NOT_FACTOR", phase=3, needs=("budget",), near=_allocation_empty)
def _allocation(c: Ctx, u: str) -> bool:
    b = c.f(u, "budget")
    c.put(
        u,
        "budget",
        upd(
            b,
            pl.int_range(pl.len()) == int(c.rng.integers(b.height)),
            allocation_method=c.choice(["平均分配", "其他"]),
        ),
    )
    c.fire("ALLOCATION_NOT_FACTOR", u, note="分配方法 not 因素法")
    return True


def _evaluation_empty(c: Ctx, u: str) -> bool:
    c.put(u, "budget", upd(c.f(u, "budget"), pl.int_range(pl.len()) == 0, has_evaluation=None))
    c.near("NO_PERFORMANCE_EVALUATION", u, note="绩效评价 empty")
    return True


@planter("NO_PERFORMANCE_EVALUATION", phase=3, needs=("budget",), near=_evaluation_empty)
def _no_evaluation(c: Ctx, u: str) -> bool:
    b = c.f(u, "budget")
    c.put(
        u,
        "budget",
        upd(b, pl.int_range(pl.len()) == int(c.rng.integers(b.height)), has_evaluation="无"),
    )
    c.fire("NO_PERFORMANCE_EVALUATION", u, note="绩效评价 无")
    return True


@planter("EVAL_RATE_ALERT", phase=3, needs=("evaluation",))
def _eval_alert(c: Ctx, u: str) -> bool:
    """Pushes the unit's own sample over a threshold; the truth (this unit and any ancestor the
    pooled roll-up pushes over) is derived afterwards by :func:`derive_eval_alerts`."""
    e = c.f(u, "evaluation")
    pos = pl.int_range(pl.len()).over("sample_type")
    variant = c.choice(["missed", "wrong_exit", "satisfaction"])
    if variant == "wrong_exit" and e.filter(pl.col("sample_type") == "退档户").height < 10:
        variant = "missed"
    if variant == "missed":
        e = upd(e, (pl.col("sample_type") == "非建档户") & (pos < 4), verdict="漏评")
    elif variant == "wrong_exit":
        e = upd(e, (pl.col("sample_type") == "退档户") & (pos < 3), verdict="错退")
    else:
        e = upd(e, pl.int_range(pl.len()) % 4 == 0, satisfaction="不满意")
    c.put(u, "evaluation", e)
    return True
