"""Planting functions of the archive-record rules (rules.md, Archive records)."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl

import bangfu.generate.units as gu
from bangfu.generate.model import conform
from bangfu.generate.planting import Ctx, planter, upd
from bangfu.sheets import ARCHIVE_STEPS, ECON_ITEMS, EXIT_STEPS

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
    item = c.choice(ECON_ITEMS)
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
    item = c.choice(ECON_ITEMS)
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
