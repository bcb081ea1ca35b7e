"""Planted anomalies: one small planting function per rule code of rules.md, in a registry
(:mod:`bangfu.generate.planting`; the functions in ``plant_payments``, ``plant_archive`` and
``plant_unit``, registered in that order, which is rules.md's and the order they run in).

Each planter works on one (year, unit) ledger (a few also touch a second unit), changes only
that year's frames, picks households no other plant touched (``Ctx.pick``), and records the
exact truth: one ``fire`` row per finding rules.md says must exist, and ``near_miss`` rows for
subjects placed just on the safe side of the rule. Phases: 0 = before other payment plants
(PAY_FLAT_AMOUNT), 1 = payments and archive, 2 = 会计明细账 (after it is written from the
payments), 3 = unit-level sheets after the targets are set from the rolled-up figures.
"""

from __future__ import annotations

import polars as pl

import bangfu.generate.clean as clean
import bangfu.generate.model as gm
import bangfu.generate.plant_archive as plant_archive
import bangfu.generate.plant_payments as plant_payments
import bangfu.generate.plant_unit as plant_unit
from bangfu.generate.bookkeeping import build_ledger
from bangfu.generate.model import World, conform
from bangfu.generate.planting import LIVING, PLANTERS, Ctx, Planter, upd

# The plants run in rules.md's order: payments, archive records, then ledger and unit (each
# module's in the order it defines them). The order is that of the random draws: changing it
# changes every generated landing folder of a seed.
PLANT_MODULES = (plant_payments, plant_archive, plant_unit)


def planters_in_order() -> list[Planter]:
    modules = [m.__name__ for m in PLANT_MODULES]
    return sorted(PLANTERS.values(), key=lambda p: modules.index(p.fn.__module__))


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
    for p in planters_in_order():
        code = p.code
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
    frames = clean.clean_year(w, year)
    roster = conform(clean.year_roster(w, year), "civil_roster")
    c = Ctx(w, year, frames, roster, gm.rng_for(w.seed, "plant", year))
    dropped = _drop_sheets(c, gm.rng_for(w.seed, "drop", year))
    n = _n_units(w.scale, len(frames))
    _run_phase(c, 0, 2 if w.scale == "S" else max(2, n // 3))
    _run_phase(c, 1, n)
    natural_near_misses(c)
    # the 会计明细账, written from the final payments (one voucher per payment)
    rng = gm.rng_for(w.seed, "ledger", year)
    for u, sh in frames.items():
        sh["payments"], sh["ledger"] = build_ledger(year, u, sh["payments"], w.children[u], rng)
    _run_phase(c, 2, n)
    set_targets(c)
    _run_phase(c, 3, n)
    derive_eval_alerts(c)
    for t in c.truth:  # PAY_FLAT_AMOUNT carries the 生活救助 total
        if t["rule_code"] == "PAY_FLAT_AMOUNT" and t["kind"] == "fire":
            liv = frames[t["unit_code"]]["payments"].filter(LIVING)
            t["amount"] = round(float(liv["amount"].sum()), 2)
            assert plant_unit.living_share(frames[t["unit_code"]]["payments"]) >= 0.9
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
