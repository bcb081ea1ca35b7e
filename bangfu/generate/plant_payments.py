"""Planting functions of the payment rules (rules.md, Payments)."""

from __future__ import annotations

import datetime as dt

import polars as pl

import bangfu.generate.model as gm
from bangfu.generate.model import HELP_FUNDS, WARMTH_FUND, conform
from bangfu.generate.planting import BANK, HELP, LIVING, Ctx, planter, upd

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
