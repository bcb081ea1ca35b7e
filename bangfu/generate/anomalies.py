"""Planted anomalies: one small planting function per rule code of rules.md, in a registry.

Each planter works on one (year, unit) ledger (a few also touch a second unit), changes only
that year's frames, picks households no other plant touched (``Ctx.pick``), and records the
exact truth: one ``fire`` row per finding rules.md says must exist, and ``near_miss`` rows for
subjects placed just on the safe side of the rule. Phases: 0 = before other payment plants
(PAY_FLAT_AMOUNT), 1 = payments and archive, 2 = 会计明细账 (after it is written from the
payments), 3 = unit-level sheets after the targets are set from the rolled-up figures.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

import bangfu.generate.model as gm
import bangfu.generate.units as gu
from bangfu.generate.model import HELP_FUNDS, WARMTH_FUND, World, conform
from bangfu.sheets import ARCHIVE_STEPS, EXIT_STEPS


@dataclass(frozen=True)
class Planter:
    code: str
    fn: Callable[[Ctx, str], bool]
    phase: int = 1
    needs: tuple[str, ...] = ()  # optional sheets the plant needs in the unit-year
    living: bool = False  # adds or changes 生活救助 payments (kept out of PAY_FLAT units)
    near: Callable[[Ctx, str], bool] | None = None  # near miss in a unit where it did not fire


PLANTERS: dict[str, Planter] = {}


def planter(
    code: str,
    phase: int = 1,
    needs: tuple[str, ...] = (),
    living: bool = False,
    near: Callable[[Ctx, str], bool] | None = None,
):
    def deco(fn):
        PLANTERS[code] = Planter(code, fn, phase, needs, living, near)
        return fn

    return deco


def upd(df: pl.DataFrame, mask: pl.Expr, **values) -> pl.DataFrame:
    """Set columns to values on the rows of ``mask`` (dtypes kept)."""
    return df.with_columns(
        pl.when(mask).then(pl.lit(v, dtype=df.schema[c])).otherwise(pl.col(c)).alias(c)
        for c, v in values.items()
    )


@dataclass
class Ctx:
    w: World
    year: int
    frames: dict[str, dict[str, pl.DataFrame]]
    roster: pl.DataFrame
    rng: np.random.Generator
    truth: list[dict] = field(default_factory=list)
    used: dict[str, set[str]] = field(default_factory=dict)
    exclusive: set[str] = field(default_factory=set)
    actual: dict[str, tuple] = field(default_factory=dict)  # rolled-up (relieved, exited)

    # -------------------------------------------------------------- frames and truth
    def f(self, u: str, key: str) -> pl.DataFrame:
        return self.frames[u][key]

    def has(self, u: str, key: str) -> bool:
        return key in self.frames[u]

    def put(self, u: str, key: str, df: pl.DataFrame) -> None:
        self.frames[u][key] = conform(df, key)

    def _row(
        self,
        kind,
        code,
        u,
        id_number=None,
        archive_no=None,
        payment_no=None,
        voucher_no=None,
        category=None,
        amount=None,
        note="",
    ):
        self.truth.append(
            {
                "year": self.year,
                "unit_code": u,
                "rule_code": code,
                "id_number": id_number,
                "archive_no": archive_no,
                "payment_no": payment_no,
                "voucher_no": voucher_no,
                "category": category,
                "kind": kind,
                "amount": None if amount is None else round(float(amount), 2),
                "note": note,
            }
        )

    def fire(self, code, u, **kw):
        self._row("fire", code, u, **kw)

    def near(self, code, u, **kw):
        self._row("near_miss", code, u, **kw)

    def fire_payments(self, code, u, pays: pl.DataFrame, note: str, near: bool = False):
        for r in pays.iter_rows(named=True):
            (self.near if near else self.fire)(
                code,
                u,
                id_number=r["id_number"],
                payment_no=r["payment_no"],
                amount=r["amount"],
                note=note,
            )

    # -------------------------------------------------------------- standards
    def dibao(self, u: str) -> float:
        return self.w.dibao[(u, self.year)]

    def line(self, u: str, size: int) -> float:
        return self.dibao(u) * 12 * size

    def cap(self, u: str, category: str, hardship_type: str) -> float | None:
        caps = []
        if self.has(u, "unit_standards"):
            s = self.f(u, "unit_standards").filter(
                (pl.col("category") == category) & (pl.col("hardship_type") == hardship_type)
            )
            caps += s["annual_cap"].to_list()
        if category == "生活救助":
            caps.append(12 * self.dibao(u))
        if category == "助学救助":
            caps.append(10 * self.dibao(u))
        return min(caps) if caps else None

    # -------------------------------------------------------------- picking households
    def pick(
        self,
        u: str,
        where: pl.Expr | None = None,
        *,
        pays: pl.Expr | None = None,
        min_pays: int = 1,
    ) -> dict | None:
        """A household of unit u's archive, untouched by other plants, with one record in the
        unit-year, not a staff member, not on the year's roster; with ``pays``, having at least
        ``min_pays`` payments matching it. Marks it used."""
        a = self.f(u, "archive")
        used = self.used.setdefault(u, set())
        once = a.group_by("id_number").len().filter(pl.col("len") == 1)["id_number"]
        bad = [pl.Series(sorted(used), dtype=pl.String), self.roster["id_number"]]
        if self.has(u, "staff"):
            bad.append(self.f(u, "staff")["id_number"])
        c = a.filter(
            pl.col("id_number").is_in(once.implode())
            & ~pl.col("id_number").is_in(pl.concat(bad).implode())
        )
        if where is not None:
            c = c.filter(where)
        if pays is not None:
            ok = (
                self.f(u, "payments")
                .filter(pays)
                .group_by("id_number")
                .len()
                .filter(pl.col("len") >= min_pays)["id_number"]
            )
            c = c.filter(pl.col("id_number").is_in(ok.implode()))
        if c.height == 0:
            return None
        r = c.row(int(self.rng.integers(c.height)), named=True)
        used.add(r["id_number"])
        return r

    def pays_of(self, u: str, id_number: str, where: pl.Expr | None = None) -> pl.DataFrame:
        p = self.f(u, "payments").filter(pl.col("id_number") == id_number)
        if where is not None:
            p = p.filter(where)
        return p.sort("paid_on", "payment_no")

    def window(self, rec: dict) -> tuple[dt.date, dt.date]:
        a = max(rec["archived_on"], dt.date(self.year, 1, 1))
        b = dt.date(self.year, 12, 31)
        if rec["exited_on"] is not None:
            b = min(b, rec["exited_on"] - dt.timedelta(days=1))
        return a, b

    def account_of(self, u: str, id_number: str) -> str | None:
        acc = self.f(u, "payments").filter(
            (pl.col("id_number") == id_number) & pl.col("account_no").is_not_null()
        )["account_no"]
        if len(acc):
            return acc[0]
        p = self.w.persons.filter(pl.col("id_number") == id_number)["account_no"]
        return p[0] if len(p) else None

    # -------------------------------------------------------------- adding rows
    def add_payment(
        self,
        u: str,
        who: dict,
        paid_on: dt.date,
        category: str,
        amount: float,
        fund: str,
        method: str = "银行转账",
        **extra,
    ) -> str:
        p = self.f(u, "payments")
        nums = p["payment_no"].str.slice(6).cast(pl.Int64, strict=False)
        no = f"FF{self.year}{int(nums.max() or 0) + 1:06d}"
        acct = who.get("account_no") or self.account_of(u, who["id_number"])
        row = {
            "payment_no": no,
            "paid_on": paid_on,
            "archive_no": who.get("archive_no"),
            "name": who["name"],
            "id_number": who["id_number"],
            "category": category,
            "fund": fund,
            "amount": round(float(amount), 2),
            "method": method,
            "account_no": acct if method == "银行转账" else None,
            **extra,
        }
        self.put(u, "payments", pl.concat([p, conform(pl.DataFrame([row]), "payments")]))
        return no

    def add_record(self, u: str, rec: dict) -> None:
        """A new archive record archived in the year, with complete 建档 steps and checks."""
        a = self.f(u, "archive")
        self.put(u, "archive", pl.concat([a, conform(pl.DataFrame([rec]), "archive")]))
        one = conform(pl.DataFrame([rec]), "archive")
        proc, econ = gm.archive_side_rows(one, self.rng)
        self.put(u, "procedures", pl.concat([self.f(u, "procedures"), conform(proc, "procedures")]))
        self.put(
            u, "econ_checks", pl.concat([self.f(u, "econ_checks"), conform(econ, "econ_checks")])
        )

    def new_archive_no(self, u: str) -> str:
        taken = set(self.f(u, "archive")["archive_no"].to_list())
        n = 90001
        while f"{u}-{self.year}-{n:05d}" in taken:
            n += 1
        return f"{u}-{self.year}-{n:05d}"

    def rand_date(self, lo: dt.date, hi: dt.date) -> dt.date:
        return lo + dt.timedelta(days=int(self.rng.integers(0, (hi - lo).days + 1)))

    def choice(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def next_voucher(self, u: str) -> str:
        return f"记{gm.max_voucher(self.f(u, 'ledger')['voucher_no']) + 1:05d}"


def in_year(col: str, year: int) -> pl.Expr:
    return pl.col(col).dt.year() == year


HELP = pl.col("fund").is_in(list(HELP_FUNDS))
LIVING = pl.col("category") == "生活救助"
BANK = pl.col("account_no").is_not_null()


# ====================================================================== payments


@planter("PAY_UNARCHIVED", living=True)
def _pay_unarchived(c: Ctx, u: str) -> bool:
    y = c.year
    p = c.w.spare(y, u)
    amt = 480.0 + 10 * int(c.rng.integers(0, 9)) + 3
    no = c.add_payment(
        u,
        p,
        c.rand_date(dt.date(y, 3, 1), dt.date(y, 11, 30)),
        "生活救助",
        amt,
        c.choice(HELP_FUNDS),
    )
    c.fire(
        "PAY_UNARCHIVED",
        u,
        id_number=p["id_number"],
        payment_no=no,
        amount=amt,
        note="帮扶资金 paid to someone never archived",
    )
    q = c.w.spare(y, u)
    no = c.add_payment(
        u, q, c.rand_date(dt.date(y, 1, 5), dt.date(y, 2, 20)), "送温暖", 400.0, WARMTH_FUND
    )
    c.near(
        "PAY_UNARCHIVED",
        u,
        id_number=q["id_number"],
        payment_no=no,
        amount=400.0,
        note="送温暖资金 to someone outside the archive",
    )
    return True


@planter("PAY_OUTSIDE_ARCHIVE_PERIOD", living=True)
def _pay_outside(c: Ctx, u: str) -> bool:
    y = c.year
    before = c.rng.random() < 0.5
    if before:
        w = pl.col("archived_on") >= dt.date(y, 2, 15)
    else:
        w = (pl.col("exited_on") <= dt.date(y, 11, 30)) & (pl.col("exit_reason") != "死亡")
    done = False
    for kind in ("fire", "near"):
        r = c.pick(u, w)
        if r is None:
            return done
        k = int(c.rng.integers(3, 30)) if kind == "fire" else 0
        day = (
            r["archived_on"] - dt.timedelta(days=k)
            if before
            else r["exited_on"] + dt.timedelta(days=k)
        )
        amt = round(0.3 * c.dibao(u)) + 3.0
        no = c.add_payment(u, r, day, "生活救助", amt, c.choice(HELP_FUNDS))
        what = "before archiving" if before else "after exit"
        if kind == "fire":
            c.fire(
                "PAY_OUTSIDE_ARCHIVE_PERIOD",
                u,
                id_number=r["id_number"],
                payment_no=no,
                amount=amt,
                note=f"paid {k} days {what}",
            )
            done = True
        else:
            c.near(
                "PAY_OUTSIDE_ARCHIVE_PERIOD",
                u,
                id_number=r["id_number"],
                payment_no=no,
                amount=amt,
                note="paid on the " + ("archiving" if before else "exit") + " day",
            )
    return done


@planter("PAY_OVER_STANDARD", living=True)
def _pay_over_standard(c: Ctx, u: str) -> bool:
    r = c.pick(u, pays=LIVING, min_pays=2)
    if r is None:
        return False
    cap = c.cap(u, "生活救助", r["hardship_type"])
    p = c.pays_of(u, r["id_number"], LIVING)
    n = p.height
    before = float(p["amount"][: n - 2].sum())
    cross = round(cap - before + 100.0, 2)
    pay = c.f(u, "payments")
    c.put(u, "payments", upd(pay, pl.col("payment_no") == p["payment_no"][n - 2], amount=cross))
    c.fire(
        "PAY_OVER_STANDARD",
        u,
        id_number=r["id_number"],
        payment_no=p["payment_no"][n - 2],
        category="生活救助",
        amount=100.0,
        note=f"crosses the cap {cap:.2f}",
    )
    c.fire(
        "PAY_OVER_STANDARD",
        u,
        id_number=r["id_number"],
        payment_no=p["payment_no"][n - 1],
        category="生活救助",
        amount=float(p["amount"][n - 1]),
        note="after the crossing",
    )
    q = c.pick(u, pays=LIVING, min_pays=2)
    if q is not None:
        cap = c.cap(u, "生活救助", q["hardship_type"])
        p = c.pays_of(u, q["id_number"], LIVING)
        last = round(cap - float(p["amount"][:-1].sum()), 2)
        pay = c.f(u, "payments")
        c.put(u, "payments", upd(pay, pl.col("payment_no") == p["payment_no"][-1], amount=last))
        c.near(
            "PAY_OVER_STANDARD",
            u,
            id_number=q["id_number"],
            payment_no=p["payment_no"][-1],
            category="生活救助",
            note=f"year total exactly the cap {cap:.2f}",
        )
    return True


@planter("PAY_DUPLICATE", living=True)
def _pay_duplicate(c: Ctx, u: str) -> bool:
    done = False
    for kind in ("fire", "near"):
        r = c.pick(u, pays=LIVING)
        if r is None:
            return done
        _, b = c.window(r)
        k = c.choice([0, 3, 9, 15]) if kind == "fire" else 16
        p = c.pays_of(u, r["id_number"], LIVING & (pl.col("paid_on") + pl.duration(days=k) <= b))
        if p.height == 0:
            continue
        src = p.row(int(c.rng.integers(p.height)), named=True)
        day = src["paid_on"] + dt.timedelta(days=k)
        no = c.add_payment(u, r, day, "生活救助", src["amount"], c.choice(HELP_FUNDS))
        if kind == "fire":
            c.fire(
                "PAY_DUPLICATE",
                u,
                id_number=r["id_number"],
                payment_no=no,
                amount=src["amount"],
                note=f"same amount {k} days after {src['payment_no']}",
            )
            done = True
        else:
            c.near(
                "PAY_DUPLICATE",
                u,
                id_number=r["id_number"],
                payment_no=no,
                amount=src["amount"],
                note="same amount 16 days later",
            )
    return done


@planter("PAY_CASH")
def _pay_cash(c: Ctx, u: str) -> bool:
    r = c.pick(u, pays=HELP & BANK)
    if r is None:
        return False
    p = c.pays_of(u, r["id_number"], HELP & BANK)
    no = p["payment_no"][int(c.rng.integers(p.height))]
    c.put(
        u,
        "payments",
        upd(c.f(u, "payments"), pl.col("payment_no") == no, method="现金", account_no=None),
    )
    c.fire(
        "PAY_CASH",
        u,
        id_number=r["id_number"],
        payment_no=no,
        amount=float(p.filter(pl.col("payment_no") == no)["amount"][0]),
        note="帮扶资金 in cash",
    )
    q = c.pick(u, pays=(pl.col("fund") == WARMTH_FUND) & BANK)
    if q is not None:
        no = c.pays_of(u, q["id_number"], pl.col("fund") == WARMTH_FUND)["payment_no"][0]
        c.put(
            u,
            "payments",
            upd(c.f(u, "payments"), pl.col("payment_no") == no, method="现金", account_no=None),
        )
        c.near("PAY_CASH", u, id_number=q["id_number"], payment_no=no, note="送温暖资金 in cash")
    return True


@planter("PAY_SHARED_ACCOUNT")
def _pay_shared_account(c: Ctx, u: str) -> bool:
    a = c.pick(u, pays=BANK)
    b = c.pick(u, pays=BANK)
    if a is None or b is None:
        return False
    acct = c.account_of(u, a["id_number"])
    pay = upd(c.f(u, "payments"), (pl.col("id_number") == b["id_number"]) & BANK, account_no=acct)
    c.put(u, "payments", pay)
    c.fire_payments(
        "PAY_SHARED_ACCOUNT",
        u,
        pay.filter(pl.col("account_no") == acct),
        note=f"one account for {a['id_number']} and {b['id_number']}",
    )
    # near miss: the account of someone in another unit (the rule is per unit-year)
    others = [v for v in c.frames if v != u]
    v = c.choice(others) if others else None
    q = c.pick(u, pays=BANK)
    if v is not None and q is not None and c.f(v, "payments").filter(BANK).height:
        foreign = c.f(v, "payments").filter(BANK)["account_no"][0]
        pay = upd(
            c.f(u, "payments"), (pl.col("id_number") == q["id_number"]) & BANK, account_no=foreign
        )
        c.put(u, "payments", pay)
        c.fire_payments(
            "PAY_SHARED_ACCOUNT",
            u,
            pay.filter(pl.col("account_no") == foreign),
            note=f"account also used in unit {v}",
            near=True,
        )
    return True


@planter("PAY_STAFF_RELATED", needs=("staff",))
def _pay_staff_related(c: Ctx, u: str) -> bool:
    r = c.pick(u, pays=pl.lit(True))
    st = c.f(u, "staff")
    if r is None or st.height < 2:
        return False
    variant = c.choice(["id", "phone", "address"])
    if variant == "id":
        row = {
            "name": r["name"],
            "id_number": r["id_number"],
            "post": "帮扶中心干事",
            "phone": r["phone"],
            "address": r["address"],
        }
        st = pl.concat([st, conform(pl.DataFrame([row]), "staff")])
    else:
        st = upd(st, pl.int_range(pl.len()) == 0, **{variant: r[variant]})
    c.put(u, "staff", st)
    c.fire_payments(
        "PAY_STAFF_RELATED",
        u,
        c.pays_of(u, r["id_number"]),
        note=f"recipient shares the {variant} of a staff member",
    )
    q = c.pick(u, pays=pl.lit(True))
    if q is not None:
        c.put(
            u,
            "archive",
            upd(c.f(u, "archive"), pl.col("id_number") == q["id_number"], phone=None, address=None),
        )
        c.put(
            u, "staff", upd(c.f(u, "staff"), pl.int_range(pl.len()) == 1, phone=None, address=None)
        )
        c.fire_payments(
            "PAY_STAFF_RELATED",
            u,
            c.pays_of(u, q["id_number"]),
            note="empty phone and address on both sides never match",
            near=True,
        )
    return True


MED = pl.col("category") == "医疗救助"


def _med_payment(c: Ctx, u: str) -> tuple[dict, dict] | None:
    r = c.pick(u, pays=MED)
    if r is None:
        return None
    p = c.pays_of(u, r["id_number"], MED)
    return r, p.row(int(c.rng.integers(p.height)), named=True)


@planter("MED_NON_INSURANCE_RECEIPT")
def _med_non_insurance(c: Ctx, u: str) -> bool:
    got = _med_payment(c, u)
    if got is None:
        return False
    r, p = got
    c.put(
        u,
        "payments",
        upd(c.f(u, "payments"), pl.col("payment_no") == p["payment_no"], receipt_type="非医保票据"),
    )
    c.fire(
        "MED_NON_INSURANCE_RECEIPT",
        u,
        id_number=r["id_number"],
        payment_no=p["payment_no"],
        amount=p["amount"],
        note="非医保票据",
    )
    return True


@planter("MED_RECEIPT_WRONG_YEAR")
def _med_wrong_year(c: Ctx, u: str) -> bool:
    got = _med_payment(c, u)
    if got is None:
        return False
    r, p = got
    c.put(
        u,
        "payments",
        upd(c.f(u, "payments"), pl.col("payment_no") == p["payment_no"], receipt_year=c.year - 1),
    )
    c.fire(
        "MED_RECEIPT_WRONG_YEAR",
        u,
        id_number=r["id_number"],
        payment_no=p["payment_no"],
        amount=p["amount"],
        note="receipt of the previous year",
    )
    return True


@planter("MED_OVER_SELF_PAY")
def _med_over_self_pay(c: Ctx, u: str) -> bool:
    got = _med_payment(c, u)
    if got is None:
        return False
    r, p = got
    self_pay = round(p["amount"] - float(c.rng.integers(1, 50000)) / 100 - 0.01, 2)
    self_pay = max(self_pay, round(p["amount"] / 2, 2))
    c.put(
        u,
        "payments",
        upd(c.f(u, "payments"), pl.col("payment_no") == p["payment_no"], med_self_pay=self_pay),
    )
    c.fire(
        "MED_OVER_SELF_PAY",
        u,
        id_number=r["id_number"],
        payment_no=p["payment_no"],
        amount=p["amount"],
        note=f"paid {p['amount']:.2f} over self-pay {self_pay:.2f}",
    )
    got = _med_payment(c, u)
    if got is not None:
        r, p = got
        c.put(
            u,
            "payments",
            upd(
                c.f(u, "payments"),
                pl.col("payment_no") == p["payment_no"],
                med_self_pay=p["amount"],
            ),
        )
        c.near(
            "MED_OVER_SELF_PAY",
            u,
            id_number=r["id_number"],
            payment_no=p["payment_no"],
            note="paid exactly the self-pay",
        )
    return True


UNLISTED = ["节日慰问金", "困难职工体检", "生日慰问", "疗休养补助"]


@planter("PAY_UNLISTED_PROJECT")
def _pay_unlisted(c: Ctx, u: str) -> bool:
    y = c.year
    r = c.pick(u, pl.col("exited_on").is_null() & (pl.col("archived_on") <= dt.date(y, 5, 1)))
    if r is None:
        return False
    a, b = c.window(r)
    day = c.rand_date(max(a, dt.date(y, 6, 1)), b)
    if c.rng.random() < 0.5:
        cat, fund, amt = c.choice(UNLISTED), c.choice(HELP_FUNDS), 300.0
    else:
        cat, fund, amt = "送温暖", "工会经费", 350.0
    no = c.add_payment(u, r, day, cat, amt, fund)
    c.fire(
        "PAY_UNLISTED_PROJECT",
        u,
        id_number=r["id_number"],
        payment_no=no,
        amount=amt,
        category=cat,
        note=f"{cat} paid from {fund}",
    )
    q = c.pick(u, pays=pl.col("fund") == WARMTH_FUND)
    if q is not None:
        p = c.pays_of(u, q["id_number"], pl.col("fund") == WARMTH_FUND)
        c.near(
            "PAY_UNLISTED_PROJECT",
            u,
            id_number=q["id_number"],
            payment_no=p["payment_no"][0],
            category="送温暖",
            note="送温暖 from 送温暖资金",
        )
    return True


def invalid_id(good: str, rng) -> str:
    """A typo of a valid ID: wrong check character, or an impossible birth date (check
    character recomputed, so only the date is wrong)."""
    if rng.random() < 0.6:
        wrong = [ch for ch in "0123456789X" if ch != good[17]]
        return good[:17] + wrong[int(rng.integers(len(wrong)))]
    first = (
        good[:10]
        + ("13" if rng.random() < 0.5 else "02")
        + (good[12:14] if good[10:12] != "02" else "15")
    )
    if first[10:12] == "02":
        first = first[:12] + "30"
    first17 = first + good[14:17]
    return first17 + gm.check_char_of(first17)


@planter("ID_INVALID")
def _id_invalid(c: Ctx, u: str) -> bool:
    r = c.pick(u, pays=pl.lit(True))
    if r is None:
        return False
    bad = invalid_id(r["id_number"], c.rng)
    assert not gm.gb11643_ok(bad, c.year)
    c.used[u].add(bad)
    for key in ("archive", "payments", "evaluation"):
        if c.has(u, key):
            c.put(u, key, upd(c.f(u, key), pl.col("id_number") == r["id_number"], id_number=bad))
    c.fire_payments("ID_INVALID", u, c.pays_of(u, bad), note="invalid ID on a payment")
    for a in c.f(u, "archive").filter(pl.col("id_number") == bad).iter_rows(named=True):
        c.fire(
            "ID_INVALID",
            u,
            id_number=bad,
            archive_no=a["archive_no"],
            note="invalid ID on an archive record",
        )
    # someone outside the archive, paid 送温暖资金 under an invalid ID: only ID_INVALID
    p = dict(c.w.spare(c.year, u))
    p["id_number"] = invalid_id(p["id_number"], c.rng)
    no = c.add_payment(u, p, dt.date(c.year, 1, 20), "送温暖", 300.0, WARMTH_FUND, method="现金")
    c.fire(
        "ID_INVALID",
        u,
        id_number=p["id_number"],
        payment_no=no,
        amount=300.0,
        note="invalid ID, 送温暖 outside the archive",
    )
    q = c.pick(u, pl.col("id_number").str.ends_with("X"), pays=pl.lit(True))
    if q is not None:
        c.fire_payments(
            "ID_INVALID", u, c.pays_of(u, q["id_number"]), note="valid ID ending in X", near=True
        )
    return True


# ====================================================================== archive records


def _new_in_year(c: Ctx, u: str, extra: pl.Expr | None = None) -> dict | None:
    w = pl.col("archived_on").dt.year() == c.year
    return c.pick(u, w if extra is None else w & extra)


@planter("ARCHIVE_INCOME_OVER_LINE")
def _income_over_line(c: Ctx, u: str) -> bool:
    r = _new_in_year(c, u, pl.col("hardship_type") != "意外致困")
    if r is None:
        return False
    k = 1.0 if r["hardship_type"] == "深度困难" else 1.5
    line = round(k * c.line(u, r["household_size"]), 2)
    inc = line if c.rng.random() < 0.5 else line + float(c.rng.integers(100, 5000))
    c.put(
        u,
        "archive",
        upd(c.f(u, "archive"), pl.col("archive_no") == r["archive_no"], household_income=inc),
    )
    c.fire(
        "ARCHIVE_INCOME_OVER_LINE",
        u,
        id_number=r["id_number"],
        archive_no=r["archive_no"],
        note=f"{r['hardship_type']} income {inc:.2f} ≥ line {line:.2f}",
    )
    for extra, what in (
        (pl.col("hardship_type") != "意外致困", "just below"),
        (pl.col("hardship_type") == "意外致困", "意外致困 has no income test"),
    ):
        q = _new_in_year(c, u, extra)
        if q is None:
            continue
        k = 1.0 if q["hardship_type"] == "深度困难" else 1.5
        line = round(k * c.line(u, q["household_size"]), 2)
        inc = round(line - 0.01, 2) if what == "just below" else 3 * line
        c.put(
            u,
            "archive",
            upd(c.f(u, "archive"), pl.col("archive_no") == q["archive_no"], household_income=inc),
        )
        c.near(
            "ARCHIVE_INCOME_OVER_LINE",
            u,
            id_number=q["id_number"],
            archive_no=q["archive_no"],
            note=what,
        )
    return True


def _steps_of(c: Ctx, u: str, archive_no: str, procedure: str) -> pl.Expr:
    return (pl.col("archive_no") == archive_no) & (pl.col("procedure") == procedure)


@planter("ARCHIVE_PROCEDURE_INCOMPLETE")
def _archive_procedure(c: Ctx, u: str) -> bool:
    r = _new_in_year(c, u)
    if r is None:
        return False
    step = c.choice([s for s in ARCHIVE_STEPS if s != "公示"])
    mine = _steps_of(c, u, r["archive_no"], "建档") & (pl.col("step") == step)
    pr = c.f(u, "procedures")
    variant = c.choice(["missing", "undated", "no_evidence", "late"])
    if variant == "missing":
        pr = pr.filter(~mine)
    elif variant == "undated":
        pr = upd(pr, mine, done_on=None)
    elif variant == "no_evidence":
        pr = upd(pr, mine, evidence="无")
    else:
        pr = upd(pr, mine, done_on=r["archived_on"] + dt.timedelta(days=int(c.rng.integers(1, 20))))
    c.put(u, "procedures", pr)
    c.fire(
        "ARCHIVE_PROCEDURE_INCOMPLETE",
        u,
        id_number=r["id_number"],
        archive_no=r["archive_no"],
        note=f"建档 step {step}: {variant}",
    )
    q = _new_in_year(c, u)
    if q is not None:  # steps out of order: order is not tested
        pr = c.f(u, "procedures")
        m = _steps_of(c, u, q["archive_no"], "建档")
        d1 = pr.filter(m & (pl.col("step") == "本人申请"))["done_on"][0]
        d2 = pr.filter(m & (pl.col("step") == "入户调查"))["done_on"][0]
        pr = upd(pr, m & (pl.col("step") == "本人申请"), done_on=d2)
        pr = upd(pr, m & (pl.col("step") == "入户调查"), done_on=d1)
        c.put(u, "procedures", pr)
        c.near(
            "ARCHIVE_PROCEDURE_INCOMPLETE",
            u,
            id_number=q["id_number"],
            archive_no=q["archive_no"],
            note="steps out of order",
        )
    return True


@planter("ARCHIVE_PUBLICITY_SHORT")
def _publicity_short(c: Ctx, u: str) -> bool:
    r = _new_in_year(c, u)
    if r is None:
        return False
    days = int(c.rng.integers(1, 5))
    pub = pl.col("step") == "公示"
    c.put(
        u,
        "procedures",
        upd(
            c.f(u, "procedures"),
            _steps_of(c, u, r["archive_no"], "建档") & pub,
            publicity_days=days,
        ),
    )
    c.fire(
        "ARCHIVE_PUBLICITY_SHORT",
        u,
        id_number=r["id_number"],
        archive_no=r["archive_no"],
        note=f"公示 {days} days",
    )
    for v, what in ((5, "公示 exactly 5 days"), (None, "公示天数 not filled in")):
        q = _new_in_year(c, u)
        if q is None:
            break
        c.put(
            u,
            "procedures",
            upd(
                c.f(u, "procedures"),
                _steps_of(c, u, q["archive_no"], "建档") & pub,
                publicity_days=v,
            ),
        )
        c.near(
            "ARCHIVE_PUBLICITY_SHORT",
            u,
            id_number=q["id_number"],
            archive_no=q["archive_no"],
            note=what,
        )
    return True


@planter("ECON_CHECK_INCOMPLETE")
def _econ_incomplete(c: Ctx, u: str) -> bool:
    r = _new_in_year(c, u)
    if r is None:
        return False
    item = c.choice(gm.ECON_ITEMS)
    mine = (pl.col("archive_no") == r["archive_no"]) & (pl.col("item") == item)
    ec = c.f(u, "econ_checks")
    variant = c.choice(["missing", "not_provided", "not_compared"])
    if variant == "missing":
        ec = ec.filter(~mine)
    elif variant == "not_provided":
        ec = upd(ec, mine, provided="否")
    else:
        ec = upd(ec, mine, match_result="未比对")
    c.put(u, "econ_checks", ec)
    c.fire(
        "ECON_CHECK_INCOMPLETE",
        u,
        id_number=r["id_number"],
        archive_no=r["archive_no"],
        note=f"{item}: {variant}",
    )
    q = _new_in_year(c, u)
    if q is not None:
        c.put(
            u,
            "econ_checks",
            upd(
                c.f(u, "econ_checks"),
                (pl.col("archive_no") == q["archive_no"]) & (pl.col("item") == "银行存款"),
                match_result=None,
            ),
        )
        c.near(
            "ECON_CHECK_INCOMPLETE",
            u,
            id_number=q["id_number"],
            archive_no=q["archive_no"],
            note="比对结果 empty (not 未比对)",
        )
    return True


@planter("ECON_CHECK_MISMATCH")
def _econ_mismatch(c: Ctx, u: str) -> bool:
    r = _new_in_year(c, u)
    if r is None:
        return False
    item = c.choice(gm.ECON_ITEMS)
    c.put(
        u,
        "econ_checks",
        upd(
            c.f(u, "econ_checks"),
            (pl.col("archive_no") == r["archive_no"]) & (pl.col("item") == item),
            match_result="不符",
        ),
    )
    c.fire(
        "ECON_CHECK_MISMATCH",
        u,
        id_number=r["id_number"],
        archive_no=r["archive_no"],
        note=f"{item} 不符",
    )
    return True


def _exited_in_year(c: Ctx, u: str, extra: pl.Expr | None = None) -> dict | None:
    w = pl.col("exited_on").dt.year() == c.year
    return c.pick(u, w if extra is None else w & extra)


@planter("EXIT_PROCEDURE_INCOMPLETE")
def _exit_procedure(c: Ctx, u: str) -> bool:
    r = _exited_in_year(c, u)
    if r is None:
        return False
    step = c.choice(EXIT_STEPS)
    mine = _steps_of(c, u, r["archive_no"], "退档") & (pl.col("step") == step)
    pr = c.f(u, "procedures")
    variant = c.choice(["missing", "undated", "no_evidence"])
    if variant == "missing":
        pr = pr.filter(~mine)
    elif variant == "undated":
        pr = upd(pr, mine, done_on=None)
    else:
        pr = upd(pr, mine, evidence="无")
    c.put(u, "procedures", pr)
    c.fire(
        "EXIT_PROCEDURE_INCOMPLETE",
        u,
        id_number=r["id_number"],
        archive_no=r["archive_no"],
        note=f"退档 step {step}: {variant}",
    )
    q = _exited_in_year(c, u)
    if q is not None:
        late = q["exited_on"] + dt.timedelta(days=3)
        c.put(
            u,
            "procedures",
            upd(
                c.f(u, "procedures"),
                _steps_of(c, u, q["archive_no"], "退档") & (pl.col("step") == "书面通知"),
                done_on=late,
            ),
        )
        c.near(
            "EXIT_PROCEDURE_INCOMPLETE",
            u,
            id_number=q["id_number"],
            archive_no=q["archive_no"],
            note="退档 step dated after exit (not tested)",
        )
    return True


def _add_roster(c: Ctx, who: dict, roster_type: str, employer: str | None, region: str) -> None:
    row = {
        "id_number": who["id_number"],
        "name": who["name"],
        "roster_type": roster_type,
        "income_per_capita_monthly": round(float(c.rng.uniform(200, 800)), 2),
        "employer": employer,
        "region_code": region,
    }
    c.roster = pl.concat([c.roster, conform(pl.DataFrame([row]), "civil_roster")])


@planter("EXIT_CAUSE_NOT_ELIMINATED")
def _exit_cause(c: Ctx, u: str) -> bool:
    r = _exited_in_year(c, u, pl.col("exit_reason") == "脱困")
    if r is None:
        return False
    line = round(c.line(u, r["household_size"]), 2)
    variant = c.choice(["at_line", "below", "roster"])
    if variant == "roster":
        _add_roster(c, r, c.choice(["低保", "特困"]), r["employer"], r["id_number"][:6])
    else:
        inc = line if variant == "at_line" else round(line * 0.7)
        c.put(
            u,
            "archive",
            upd(c.f(u, "archive"), pl.col("archive_no") == r["archive_no"], income_at_exit=inc),
        )
    c.fire(
        "EXIT_CAUSE_NOT_ELIMINATED",
        u,
        id_number=r["id_number"],
        archive_no=r["archive_no"],
        note=f"脱困 exit: {variant}",
    )
    q = _exited_in_year(c, u, pl.col("exit_reason") == "脱困")
    if q is not None:
        if c.rng.random() < 0.5:
            inc = round(c.line(u, q["household_size"]) + 0.01, 2)
            c.put(
                u,
                "archive",
                upd(c.f(u, "archive"), pl.col("archive_no") == q["archive_no"], income_at_exit=inc),
            )
            what = "income at exit 1 分 above the line"
        else:
            _add_roster(c, q, "低收入", q["employer"], q["id_number"][:6])
            what = "on the roster as 低收入 only"
        c.near(
            "EXIT_CAUSE_NOT_ELIMINATED",
            u,
            id_number=q["id_number"],
            archive_no=q["archive_no"],
            note=what,
        )
    return True


@planter("EXIT_NO_NOTICE", needs=("followup",))
def _exit_no_notice(c: Ctx, u: str) -> bool:
    done = False
    for kind in ("fire", "near"):
        r = _exited_in_year(c, u)
        if r is None:
            return done
        fu = c.f(u, "followup")
        if fu.filter(pl.col("archive_no") == r["archive_no"]).height == 0:
            row = {
                "archive_no": r["archive_no"],
                "survey_mode": "电话",
                "surveyed_on": min(r["exited_on"] + dt.timedelta(days=10), dt.date(c.year, 12, 31)),
                "got_notice": "是",
                "knows_reason": "是",
                "agrees": "是",
                "revisited": "是",
                "living_ok": "是",
                "satisfaction": "基本满意",
            }
            fu = pl.concat([fu, conform(pl.DataFrame([row]), "followup")])
        mine = pl.col("archive_no") == r["archive_no"]
        if kind == "fire":
            c.put(u, "followup", upd(fu, mine, got_notice="否"))
            c.fire(
                "EXIT_NO_NOTICE",
                u,
                id_number=r["id_number"],
                archive_no=r["archive_no"],
                note="回访: 收到书面通知 否",
            )
            done = True
        else:
            c.put(u, "followup", upd(fu, mine, knows_reason="否", agrees="否"))
            c.near(
                "EXIT_NO_NOTICE",
                u,
                id_number=r["id_number"],
                archive_no=r["archive_no"],
                note="notice received but reason unknown and not agreed",
            )
    return done


@planter("DUPLICATE_ARCHIVE")
def _duplicate_archive(c: Ctx, u: str) -> bool:
    y = c.year
    open_before = (pl.col("archived_on") < dt.date(y, 1, 1)) & pl.col("exited_on").is_null()
    others = [v for v in c.frames if v != u]
    cross = bool(others) and c.rng.random() < 0.5
    src = c.choice(others) if cross else u
    r = c.pick(src, open_before)
    if r is None:
        return False
    if cross:
        c.used.setdefault(u, set()).add(r["id_number"])
    rec = dict(r)
    line = c.line(u, r["household_size"])
    f = {"深度困难": 0.6, "相对困难": 1.2, "意外致困": 0.9}[r["hardship_type"]]
    rec.update(
        archive_no=c.new_archive_no(u),
        archived_on=c.rand_date(dt.date(y, 3, 1), dt.date(y, 10, 31)),
        household_income=float(math.floor(line * f)),
        status="在档",
        relieved_on=None,
    )
    c.add_record(u, rec)
    c.fire(
        "DUPLICATE_ARCHIVE",
        src,
        id_number=r["id_number"],
        archive_no=r["archive_no"],
        note=f"overlaps record {rec['archive_no']} of {u}",
    )
    c.fire(
        "DUPLICATE_ARCHIVE",
        u,
        id_number=r["id_number"],
        archive_no=rec["archive_no"],
        note=f"overlaps record {r['archive_no']} of {src}",
    )
    return True


@planter("MISSED_CANDIDATE")
def _missed_candidate(c: Ctx, u: str) -> bool:
    p = c.w.spare(c.year, u)
    region = u
    if c.w.level[u] == "市":
        outside = [x for x in gu.counties_under(u) if x not in c.w.level]
        if outside and c.rng.random() < 0.5:
            region = c.choice(outside)
    _add_roster(c, p, c.choice(["低保", "特困"]), p["employer"], region)
    c.fire("MISSED_CANDIDATE", u, id_number=p["id_number"], note=f"roster region {region}")
    q = c.w.spare(c.year, u)
    emp = c.choice(["无", "无业", "待业", None])
    _add_roster(c, q, "低保", emp, u)
    c.near("MISSED_CANDIDATE", u, id_number=q["id_number"], note=f"employer {emp!r}")
    q = c.w.spare(c.year, u)
    _add_roster(c, q, "低收入", q["employer"], u)
    c.near("MISSED_CANDIDATE", u, id_number=q["id_number"], note="低收入 with an employer")
    others = [v for v in c.frames if v != u]
    if others:
        v = c.choice(others)
        a = c.pick(v, pl.col("exited_on").is_not_null() & (pl.col("exit_reason") != "脱困"))
        if a is not None:
            _add_roster(c, a, "特困", a["employer"] or "某公司", u)
            c.near(
                "MISSED_CANDIDATE",
                u,
                id_number=a["id_number"],
                note=f"in the archive of {v} (exited)",
            )
    return True


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
    lines = gm.ledger_lines(
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
    lines = gm.ledger_lines(
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


def _living_share(pay: pl.DataFrame) -> float:
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


# ====================================================================== near misses and truth
# derived from the final frames


def eval_counts(frames: dict[str, dict[str, pl.DataFrame]]) -> dict[str, tuple[int, ...]]:
    out = {}
    for u, sh in frames.items():
        if "evaluation" not in sh:
            out[u] = (0, 0, 0, 0, 0, 0)
            continue
        e = sh["evaluation"]

        def n(expr, e=e):
            return e.filter(expr).height

        st, v, s = pl.col("sample_type"), pl.col("verdict"), pl.col("satisfaction")
        out[u] = (
            n((st == "非建档户") & (v == "漏评")),
            n(st == "非建档户"),
            n((st == "退档户") & (v == "错退")),
            n(st == "退档户"),
            n(s.is_in(["满意", "基本满意"])),
            n(s.is_not_null()),
        )
    return out


def derive_eval_alerts(c: Ctx) -> None:
    tot = gm.rollup(eval_counts(c.frames), c.w.anc)
    for u in sorted(tot):
        missed, non, wrong, outs, ok, ans = tot[u]
        fires = (
            (non and missed * 50 > non)
            or (outs and wrong * 50 > outs)
            or (ans and ok * 10 < 9 * ans)
        )
        edge = (
            (non and missed * 50 == non)
            or (outs and wrong * 50 == outs)
            or (ans and ok * 10 == 9 * ans)
        )
        rates = f"漏评 {missed}/{non}, 错退 {wrong}/{outs}, 认可 {ok}/{ans}"
        if fires:
            c.fire("EVAL_RATE_ALERT", u, note=f"rolled up: {rates}")
        elif edge:
            c.near("EVAL_RATE_ALERT", u, note=f"exactly at a threshold: {rates}")


def natural_near_misses(c: Ctx) -> None:
    """Households that left and came back on the same day: no DUPLICATE_ARCHIVE."""
    n = 0
    for u, sh in c.frames.items():
        a = sh["archive"]
        twice = a.filter(pl.len().over("id_number") == 2).sort("id_number", "archived_on")
        for i in range(0, twice.height, 2):
            r1, r2 = twice.row(i, named=True), twice.row(i + 1, named=True)
            if r1["exited_on"] is not None and r1["exited_on"] == r2["archived_on"]:
                for r in (r1, r2):
                    c.near(
                        "DUPLICATE_ARCHIVE",
                        u,
                        id_number=r["id_number"],
                        archive_no=r["archive_no"],
                        note="left and came back the same day",
                    )
                n += 1
                if n >= 6:
                    return


def set_targets(c: Ctx) -> None:
    """Targets every unit meets after roll-up (80 % of its rolled-up figures), a next-year row,
    and a few units exactly on target (near misses of TARGET_NOT_MET)."""
    c.actual = gm.rollup(gm.own_counts(c.frames, c.year), c.w.anc)
    for u, sh in c.frames.items():
        if "targets" not in sh:
            continue
        rel, ex = c.actual[u]
        t = sh["targets"]
        t = upd(
            t,
            pl.col("target_year") == c.year,
            target_relieved=int(rel * 0.8),
            target_exited=int(ex * 0.8),
        )
        t = upd(
            t,
            pl.col("target_year") == c.year + 1,
            target_relieved=int(rel * 1.05) + 1,
            target_exited=int(ex * 1.05) + 1,
        )
        c.put(u, "targets", t)


# ====================================================================== orchestration


def _n_units(scale: str, n: int) -> int:
    return {"S": 3, "M": 6}.get(scale, max(8, round(0.01 * n)))


def _drop_sheets(c: Ctx, rng) -> set[tuple[int, str, str]]:
    cand = [u for u in c.frames if c.w.level[u] != "省"]
    k = max(2, round(0.02 * len(cand)))
    out = set()
    for i in rng.choice(len(cand), min(k, len(cand)), replace=False):
        u = cand[int(i)]
        key = gm.OPTIONAL_DROPPABLE[int(rng.integers(len(gm.OPTIONAL_DROPPABLE)))]
        if key in c.frames[u]:
            del c.frames[u][key]
            out.add((c.year, u, key))
    return out


def _run_phase(c: Ctx, phase: int, n_units: int) -> None:
    for code, p in PLANTERS.items():
        if p.phase != phase:
            continue
        rng = gm.rng_for(c.w.seed, "units", c.year, code)
        order = list(rng.permutation(sorted(c.frames)))
        done, fired = 0, set()
        for u in order:
            if done >= n_units:
                break
            if any(k not in c.frames[u] for k in p.needs):
                continue
            if p.living and u in c.exclusive:
                continue
            if p.fn(c, u):
                done += 1
                fired.add(u)
        if p.near is None:
            continue
        done = 0
        for u in reversed(order):
            if done >= max(1, n_units // 2):
                break
            if u not in fired and all(k in c.frames[u] for k in p.needs) and p.near(c, u):
                done += 1


def plant_year(w: World, year: int) -> tuple[dict, pl.DataFrame, list[dict], set]:
    frames = gm.clean_year(w, year)
    roster = conform(gm.year_roster(w, year), "civil_roster")
    c = Ctx(w, year, frames, roster, gm.rng_for(w.seed, "plant", year))
    dropped = _drop_sheets(c, gm.rng_for(w.seed, "drop", year))
    n = _n_units(w.scale, len(frames))
    _run_phase(c, 0, 2 if w.scale == "S" else max(2, n // 3))
    _run_phase(c, 1, n)
    natural_near_misses(c)
    # the 会计明细账, written from the final payments (one voucher per payment)
    rng = gm.rng_for(w.seed, "ledger", year)
    for u, sh in frames.items():
        sh["payments"], sh["ledger"] = gm.build_ledger(year, u, sh["payments"], w.children[u], rng)
    _run_phase(c, 2, n)
    set_targets(c)
    _run_phase(c, 3, n)
    derive_eval_alerts(c)
    for t in c.truth:  # PAY_FLAT_AMOUNT carries the 生活救助 total
        if t["rule_code"] == "PAY_FLAT_AMOUNT" and t["kind"] == "fire":
            liv = frames[t["unit_code"]]["payments"].filter(LIVING)
            t["amount"] = round(float(liv["amount"].sum()), 2)
            assert _living_share(frames[t["unit_code"]]["payments"]) >= 0.9
    return frames, c.roster.sort("region_code", "id_number"), c.truth, dropped


def plant_years(w: World):
    """Each year in turn, planted: (year, unit → sheet → canonical frame, civil roster, truth
    rows, dropped optional sheets). Years are independent (every draw is seeded per year), so
    a caller may write a year and let it go before the next is built (scale L)."""
    for y in w.years:
        frames, roster, t, d = plant_year(w, y)
        for sh in frames.values():
            for k in list(sh):
                sh[k] = conform(sh[k], k)
        yield y, frames, roster, t, d
        del frames


def plant_scenario(w: World) -> gm.Scenario:
    ledgers: dict[tuple[int, str], dict[str, pl.DataFrame]] = {}
    rosters, truth, dropped = {}, [], set()
    for y, frames, roster, t, d in plant_years(w):
        rosters[y] = roster
        truth += t
        dropped |= d
        for u, sh in frames.items():
            ledgers[(y, u)] = sh
    planted = pl.DataFrame(truth, schema=gm.PLANTED_SCHEMA, orient="row")
    return gm.Scenario(
        units=w.units,
        standards=w.standards,
        civil_roster=rosters,
        ledgers=ledgers,
        planted=planted,
        scale=w.scale,
        seed=w.seed,
        years=w.years,
        dropped_optional_sheets=dropped,
    )
