"""The mechanism of planted anomalies: the registry of planting functions (``planter``) and
the context they work in (:class:`Ctx`: one year's frames, the random stream, the truth rows).
The planting functions themselves, one per rule code of rules.md, are in
``plant_payments``, ``plant_archive`` and ``plant_unit``; :mod:`bangfu.generate.anomalies`
runs them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from bangfu.generate.bookkeeping import max_voucher
from bangfu.generate.clean import archive_side_rows
from bangfu.generate.model import HELP_FUNDS, World, conform


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
        proc, econ = archive_side_rows(one, self.rng)
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
        return f"记{max_voucher(self.f(u, 'ledger')['voucher_no']) + 1:05d}"


def in_year(col: str, year: int) -> pl.Expr:
    return pl.col(col).dt.year() == year


HELP = pl.col("fund").is_in(list(HELP_FUNDS))
LIVING = pl.col("category") == "生活救助"
BANK = pl.col("account_no").is_not_null()
