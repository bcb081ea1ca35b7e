"""The world of ``bangfu generate``: persons, their archive records and the unit tree they live
in, built once for all years (:func:`build_world`)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

import bangfu.generate.units as gu
from bangfu.generate.model import (
    BANK_BINS,
    BIRTH_DAYS,
    BIRTH_FIRST,
    BRANDS,
    GIVEN,
    HOUSEHOLDS,
    INDUSTRIES,
    PHONE_PREFIXES,
    PUBLIC_EMPLOYERS,
    STAFF_POSTS,
    STREETS,
    SUFFIXES,
    SURNAMES,
    World,
    check_char,
    conform,
    dnum,
    rng_for,
    strs,
)


def _unit_tree(units: pl.DataFrame):
    parent = dict(zip(units["unit_code"].to_list(), units["parent_code"].to_list(), strict=True))
    level = dict(zip(units["unit_code"].to_list(), units["level"].to_list(), strict=True))
    children: dict[str, list[str]] = {u: [] for u in parent}
    for u, p in parent.items():
        if p is not None:
            children[p].append(u)
    return parent, level, children, gu.ancestors(units)


def _round5(x: float) -> float:
    return float(5 * round(x / 5))


def _dibao(units: pl.DataFrame, parent, years, seed):
    """Own dibao rows (provinces always, some cities/counties) and the effective value."""
    rng = rng_for(seed, "dibao")
    first = years[0]
    model_years = range(first - 8, years[-1] + 3)
    own: dict[str, tuple[float, float]] = {}  # unit → (base factor or value, growth)
    eff: dict[tuple[str, int], float] = {}
    rows = []
    for u in units["unit_code"].to_list():  # parents first (codes sorted)
        p = parent[u]
        if p is None:
            own[u] = (float(rng.uniform(520, 820)), float(rng.uniform(0.04, 0.08)))
        elif rng.random() < (0.35 if u.endswith("00") else 0.12):
            own[u] = (float(rng.uniform(1.03, 1.18)), -1.0)  # factor over the parent
        for y in model_years:
            if p is None:
                base, g = own[u]
                v = _round5(base * (1 + g) ** (y - first))
            elif u in own:
                v = _round5(eff[(p, y)] * own[u][0])
            else:
                v = eff[(p, y)]
            eff[(u, y)] = v
            if u in own and y in years:
                rows.append((u, y, v))
    std = pl.DataFrame(rows, schema=["region_code", "year", "dibao_monthly"], orient="row")
    n = std.height
    edu = np.where(rng.random(n) < 0.6, std["dibao_monthly"].to_numpy() * 10, np.nan)
    med = np.where(rng.random(n) < 0.5, np.round(rng.uniform(15000, 40000, n), -2), np.nan)
    std = std.with_columns(
        pl.Series("edu_standard", edu).fill_nan(None),
        pl.Series("medical_standard", med).fill_nan(None),
    )
    return eff, conform(std.sort("region_code", "year"), "standards")


def _allocate(units: pl.DataFrame, total: int, rng) -> np.ndarray:
    lv = units["level"].to_numpy()
    w = np.where(lv == "县", 1.0, np.where(lv == "市", 0.4, 0.3))
    w = w * rng.lognormal(0.0, 0.35, len(w))
    n = np.floor(total * w / w.sum()).astype(np.int64)
    return np.maximum(n, 40)


# ---------------------------------------------------------------- persons


def _ids_for_unit(code: str, level: str, n: int, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n distinct (prefix, birth day, sequence) triples. County units number their own people
    with sequences 000–799, city own ledgers 800–899 and province own ledgers 900–999, all
    with prefixes of real counties, so ID numbers are unique across the country."""
    if level == "县":
        prefixes, lo, cnt = [code], 0, 800
    else:
        prefixes, lo, cnt = gu.counties_under(code), (800 if level == "市" else 900), 100
    space = len(prefixes) * BIRTH_DAYS * cnt
    k = rng.choice(space, size=n, replace=False)
    pre = np.array([int(p) for p in prefixes])[k // (BIRTH_DAYS * cnt)]
    rest = k % (BIRTH_DAYS * cnt)
    return pre, rest // cnt, lo + rest % cnt


def _id_strings(prefix: np.ndarray, bday: np.ndarray, seq: np.ndarray) -> pl.Series:
    birth = np.datetime64(BIRTH_FIRST) + bday.astype("timedelta64[D]")
    ymd = (birth.astype("datetime64[Y]").astype(int) + 1970) * 10000
    months = birth.astype("datetime64[M]").astype(int) % 12 + 1
    days = (birth - birth.astype("datetime64[M]")).astype(int) + 1
    ymd = ymd + months * 100 + days
    digits = np.zeros((len(prefix), 17), dtype=np.int64)
    for i in range(6):
        digits[:, i] = prefix // 10 ** (5 - i) % 10
    for i in range(8):
        digits[:, 6 + i] = ymd // 10 ** (7 - i) % 10
    for i in range(3):
        digits[:, 14 + i] = seq // 10 ** (2 - i) % 10
    chk = check_char(digits)
    s = pl.DataFrame({"p": prefix, "b": ymd, "s": seq, "c": chk}).select(
        pl.concat_str(
            pl.col("p").cast(pl.String),
            pl.col("b").cast(pl.String),
            pl.col("s").cast(pl.String).str.zfill(3),
            pl.col("c"),
        ).alias("id_number")
    )
    return s["id_number"]


def _persons(w_units: pl.DataFrame, n_hh: np.ndarray, years, seed) -> pl.DataFrame:
    """Every synthetic person, with a role: household, staff, and per year warm_out (送温暖 to
    people outside the archive), roster_out (roster people never archived), eval_out (非建档户
    evaluation samples) and spare (fresh people for plants)."""
    rng = rng_for(seed, "persons")
    codes = w_units["unit_code"].to_list()
    levels = w_units["level"].to_list()
    blocks = []
    for i, (code, level) in enumerate(zip(codes, levels, strict=True)):
        nh = int(n_hh[i])
        per_year = [
            ("warm_out", math.ceil(0.02 * nh) + 2),
            ("roster_out", math.ceil(0.05 * nh) + 4),
            ("eval_out", 50),
            ("spare", 40),
        ]
        roles = [("household", 0, nh), ("staff", 0, len(STAFF_POSTS))]
        roles += [(r, y, k) for y in years for r, k in per_year]
        n = sum(k for _, _, k in roles)
        pre, bday, seq = _ids_for_unit(code, level, n, rng)
        blocks.append(
            pl.DataFrame(
                {
                    "unit_code": [code] * n,
                    "role": np.concatenate([[r] * k for r, _, k in roles]),
                    "role_year": np.concatenate([[y] * k for _, y, k in roles]).astype(np.int64),
                    "pre": pre,
                    "bday": bday,
                    "seq": seq,
                }
            )
        )
    p = pl.concat(blocks).with_row_index("pid")
    n = p.height
    ids = _id_strings(p["pre"].to_numpy(), p["bday"].to_numpy(), p["seq"].to_numpy())
    pid = p["pid"].to_numpy().astype(np.int64)
    sur = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    g1 = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    g2 = np.where(rng.random(n) < 0.7, np.array(GIVEN)[rng.integers(0, len(GIVEN), n)], "")
    phone8 = (pid * 48271 + 1234567) % 100_000_000
    acct13 = (pid * 7919 + 9_999_991) % 10_000_000_000_000
    div = gu.divisions()

    def place(c: str) -> str:
        chain = [c]
        while (q := gu.parent_of(chain[-1])) is not None:
            chain.append(q)
        return "".join(div[x] for x in reversed(chain))

    places = {c: place(c) for c in codes}
    short = {c: div[c][:2] for c in codes}
    rank = p.select(pl.col("pid").rank("ordinal").over("unit_code").cast(pl.Int64) - 1)["pid"]
    rank = rank.to_numpy()
    emp_kind = rng.random(n)
    employer = np.where(
        emp_kind < 0.8,
        np.char.add(
            np.char.add(
                np.array(BRANDS)[rng.integers(0, len(BRANDS), n)],
                np.array(INDUSTRIES)[rng.integers(0, len(INDUSTRIES), n)],
            ),
            np.array(SUFFIXES)[rng.integers(0, len(SUFFIXES), n)],
        ),
        np.array(PUBLIC_EMPLOYERS)[rng.integers(0, len(PUBLIC_EMPLOYERS), n)],
    )
    return (
        p.with_columns(
            pl.Series("id_number", ids),
            pl.Series("name", np.char.add(np.char.add(sur, g1), g2)),
            pl.Series(
                "phone",
                np.char.add(
                    np.array(PHONE_PREFIXES)[rng.integers(0, 28, n)],
                    np.char.zfill(phone8.astype(str), 8),
                ),
            ),
            pl.Series(
                "account_no",
                np.char.add(
                    np.array(BANK_BINS)[rng.integers(0, 8, n)],
                    np.char.zfill(acct13.astype(str), 13),
                ),
            ),
            pl.Series("street", np.array(STREETS)[rng.integers(0, len(STREETS), n)]),
            pl.Series("rank", rank),
            pl.Series("employer_core", employer),
        )
        .with_columns(
            pl.concat_str(
                pl.col("unit_code").replace_strict(places, return_dtype=pl.String),
                pl.col("street"),
                (pl.col("rank") // 600 + 1).cast(pl.String),
                pl.lit("号"),
                (pl.col("rank") // 30 % 20 + 1).cast(pl.String),
                pl.lit("幢"),
                (pl.col("rank") % 30 // 5 + 1).cast(pl.String),
                pl.lit("0"),
                (pl.col("rank") % 5 + 1).cast(pl.String),
                pl.lit("室"),
            ).alias("address"),
            pl.concat_str(
                pl.col("unit_code").replace_strict(short, return_dtype=pl.String),
                pl.col("employer_core"),
            ).alias("employer"),
        )
        .drop("pre", "bday", "seq", "street", "employer_core", "rank")
    )


# ---------------------------------------------------------------- archive records


def _records(w: World, seed: int) -> pl.DataFrame:
    """One archive record per household, a second one for households that left and came back."""
    rng = rng_for(seed, "records")
    hh = w.persons.filter(pl.col("role") == "household")
    n = hh.height
    first, last = w.years[0], w.years[-1]
    htype = np.array(["深度困难", "相对困难", "意外致困"])[rng.choice(3, n, p=[0.35, 0.5, 0.15])]
    size = rng.choice(np.arange(1, 7), n, p=[0.1, 0.2, 0.3, 0.25, 0.1, 0.05])
    causes_main = np.array(
        ["本人大病", "家属大病", "子女教育", "失业", "工伤", "残疾", "收入低", "其他"]
    )
    c1 = causes_main[rng.choice(8, n, p=[0.18, 0.17, 0.2, 0.15, 0.06, 0.08, 0.12, 0.04])]
    c1 = np.where(htype == "意外致困", "意外灾害", c1)
    c2 = causes_main[rng.integers(0, 7, n)]
    two = (rng.random(n) < 0.4) & (c2 != c1)
    causes = np.where(two, np.char.add(np.char.add(c1, "、"), c2), c1)
    a0, a1 = dnum(first - 4, 1, 2), dnum(last, 12, 15)
    archived = rng.integers(a0, a1 + 1, n)
    exit_after = np.maximum(120, rng.exponential(365 * 6.0, n)).astype(np.int64)
    exited = archived + exit_after
    jan1 = np.array([dnum(int(y), 1, 1) for y in range(first - 6, last + 12)])
    exited = np.where(np.isin(exited, jan1), exited + 1, exited)
    open_ = exited > dnum(last, 12, 31)
    reason = np.array(["脱困", "不符合条件", "死亡", "其他"])[
        rng.choice(4, n, p=[0.7, 0.12, 0.05, 0.13])
    ]
    path = np.array(["就业创业", "社会保险", "医疗保障", "社会救助兜底"])[
        rng.choice(4, n, p=[0.4, 0.25, 0.15, 0.2])
    ]
    relieved = np.maximum(archived, exited - rng.integers(0, 90, n))
    base = pl.DataFrame(
        {
            "pid": hh["pid"],
            "unit_code": hh["unit_code"],
            "hardship_type": htype,
            "household_size": size.astype(np.int64),
            "causes": causes,
            "a_on": archived,
            "e_on": np.where(open_, -1, exited),
            "exit_reason": strs(np.where(open_, None, reason)),
            "exit_path": strs(np.where(~open_ & (reason == "脱困"), path, None)),
            "r_on": np.where(~open_ & (reason == "脱困"), relieved, -1),
            "hukou": np.where(rng.random(n) < 0.8, "城镇", "农村"),
            "is_member": np.where(rng.random(n) < 0.93, "是", "否"),
            "inc_f": rng.random(n),
            "exit_f": rng.uniform(1.15, 2.2, n),
            "reenter": rng.random(n),
            "gap": rng.integers(30, 200, n),
            "gap0": rng.random(n),
        }
    )
    # a household that left for 其他 / 不符合条件 comes back: a second record (same day for some)
    back = (
        base.filter(
            (pl.col("e_on") >= 0)
            & pl.col("exit_reason").is_in(["其他", "不符合条件"])
            & (pl.col("reenter") < 0.45)
        )
        .with_columns(
            a_on=pl.col("e_on") + pl.when(pl.col("gap0") < 0.4).then(0).otherwise(pl.col("gap")),
            e_on=pl.lit(-1, pl.Int64),
            exit_reason=pl.lit(None, pl.String),
            exit_path=pl.lit(None, pl.String),
            r_on=pl.lit(-1, pl.Int64),
            inc_f=pl.col("inc_f").reverse(),
        )
        .filter(pl.col("a_on") <= dnum(last, 12, 31))
    )
    rec = pl.concat([base.with_columns(rec_seq=pl.lit(0)), back.with_columns(rec_seq=pl.lit(1))])
    rec = rec.with_columns(
        pl.when(pl.col(c) < 0).then(None).otherwise(pl.col(c)).cast(pl.Int32).cast(pl.Date).alias(c)
        for c in ("a_on", "e_on", "r_on")
    ).rename({"a_on": "archived_on", "e_on": "exited_on", "r_on": "relieved_on"})
    # incomes against the line of the archiving / exit year (model dibao, also before 2017)
    dib = pl.DataFrame(
        [(u, y, v) for (u, y), v in w.dibao.items()], schema=["unit_code", "y", "d"], orient="row"
    )
    rec = rec.with_columns(
        ya=pl.col("archived_on").dt.year().cast(pl.Int64),
        ye=pl.col("exited_on").dt.year().cast(pl.Int64),
    )
    rec = rec.join(dib.rename({"y": "ya", "d": "d_a"}), on=["unit_code", "ya"], how="left")
    rec = rec.join(dib.rename({"y": "ye", "d": "d_e"}), on=["unit_code", "ye"], how="left")
    line_a = pl.col("d_a") * 12 * pl.col("household_size")
    f = (
        pl.when(pl.col("hardship_type") == "深度困难")
        .then(0.35 + 0.6 * pl.col("inc_f"))
        .when(pl.col("hardship_type") == "相对困难")
        .then(1.02 + 0.43 * pl.col("inc_f"))
        .otherwise(0.5 + 2.0 * pl.col("inc_f"))
    )
    line_e = pl.col("d_e") * 12 * pl.col("household_size")
    rec = rec.with_columns(
        household_income=(line_a * f).floor(),
        income_at_exit=pl.when(pl.col("exit_reason").is_in(["脱困", "不符合条件", "其他"])).then(
            (line_e * pl.col("exit_f")).ceil()
        ),
    )
    # archive numbers: <unit>-<year archived>-<seq>
    rec = rec.sort("unit_code", "archived_on", "pid").with_columns(
        archive_no=pl.concat_str(
            pl.col("unit_code"),
            pl.lit("-"),
            pl.col("ya").cast(pl.String),
            pl.lit("-"),
            (pl.col("pid").rank("ordinal").over("unit_code", "ya").cast(pl.Int64))
            .cast(pl.String)
            .str.zfill(5),
        )
    )
    people = w.persons.select(
        "pid", "id_number", "name", "phone", "employer", "address", "account_no"
    )
    rec = rec.join(people, on="pid", how="left")
    return rec.select(
        "pid",
        "rec_seq",
        "unit_code",
        "archive_no",
        "name",
        "id_number",
        "phone",
        "employer",
        "address",
        "hukou",
        "is_member",
        "hardship_type",
        "causes",
        "household_size",
        "household_income",
        "archived_on",
        "relieved_on",
        "exited_on",
        "exit_reason",
        "exit_path",
        "income_at_exit",
        "account_no",
    )


# ---------------------------------------------------------------- building the world


def build_world(scale: str, seed: int, years: tuple[int, ...]) -> World:
    years = tuple(sorted(years))
    units = gu.build_units(scale, seed)
    parent, level, children, anc = _unit_tree(units)
    dib, standards = _dibao(units, parent, years, seed)
    n_hh = _allocate(units, HOUSEHOLDS[scale], rng_for(seed, "alloc"))
    persons = _persons(units, n_hh, years, seed)
    rng = rng_for(seed, "schedule")
    codes = units["unit_code"].to_list()
    sched = []
    for y in years:
        k = len(codes)
        sched.append(
            pl.DataFrame(
                {
                    "unit_code": codes,
                    "year": [y] * k,
                    "live_day": rng.integers(5, 21, k),
                    "warm_day": rng.integers(8, 26, k),
                    "edu_day": rng.integers(1, 21, k),
                    "med1_day": rng.integers(10, 28, k),
                    "med2_day": rng.integers(10, 28, k),
                    "train_day": rng.integers(5, 28, k),
                    "intro_day": rng.integers(5, 28, k),
                    "legal_day": rng.integers(5, 28, k),
                }
            )
        )
    w = World(
        scale,
        seed,
        years,
        units,
        parent,
        level,
        children,
        anc,
        dib,
        standards,
        persons,
        pl.DataFrame(),
        pl.concat(sched),
    )
    w.records = _records(w, seed)
    return w
