"""One clean year of every unit's ledger (:func:`clean_year`): no rule of rules.md fires on
it; anomalies are planted afterwards (:mod:`bangfu.generate.anomalies`)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl

from bangfu.generate.model import (
    EDU_AMOUNT,
    EDU_CAP,
    HELP_FUNDS,
    LIVING_CAP,
    LIVING_FACTOR,
    LIVING_MONTHS,
    MED_CAP,
    STAFF_POSTS,
    WARMTH_AMOUNT,
    WARMTH_FUND,
    World,
    conform,
    rng_for,
    strs,
)
from bangfu.sheets import ARCHIVE_STEPS, ECON_ITEMS, EXIT_STEPS

# ---------------------------------------------------------------- one clean year


def _window(year: int) -> tuple[pl.Expr, pl.Expr]:
    """First and last day a record may be paid in ``year`` (exit day excluded: clean data stays
    strictly inside the archive period)."""
    jan1, dec31 = dt.date(year, 1, 1), dt.date(year, 12, 31)
    a = pl.max_horizontal(pl.col("archived_on"), pl.lit(jan1))
    b = pl.min_horizontal(
        pl.coalesce(pl.col("exited_on") - pl.duration(days=1), pl.lit(dec31)), pl.lit(dec31)
    )
    return a, b


def year_archive(w: World, year: int) -> pl.DataFrame:
    """Records in the archive at any time during the year, as the year's ledger shows them."""
    jan1, dec31 = dt.date(year, 1, 1), dt.date(year, 12, 31)
    r = w.records.filter(
        (pl.col("archived_on") <= dec31)
        & (pl.col("exited_on").is_null() | (pl.col("exited_on") >= jan1))
    )
    gone = pl.col("exited_on").is_not_null() & (pl.col("exited_on") <= dec31)
    return r.with_columns(
        status=pl.when(gone).then(pl.lit("已退档")).otherwise(pl.lit("在档")),
        exited_on=pl.when(gone).then(pl.col("exited_on")),
        exit_reason=pl.when(gone).then(pl.col("exit_reason")),
        exit_path=pl.when(gone).then(pl.col("exit_path")),
        income_at_exit=pl.when(gone).then(pl.col("income_at_exit")),
        relieved_on=pl.when(pl.col("relieved_on") <= dec31).then(pl.col("relieved_on")),
    )


def _steps(
    recs: pl.DataFrame, day_col: str, steps: tuple[str, ...], procedure: str, rng
) -> pl.DataFrame:
    """Complete procedure rows: every step with a date ≤ the record's date and evidence 有."""
    n, k = recs.height, len(steps)
    if n == 0:
        return pl.DataFrame(
            schema={
                "archive_no": pl.String,
                "procedure": pl.String,
                "step": pl.String,
                "done_on": pl.Date,
                "evidence": pl.String,
                "publicity_days": pl.Int64,
            }
        )
    gaps = rng.integers(1, 8, (n, k - 1))
    offs = np.concatenate(
        [np.cumsum(gaps[:, ::-1], axis=1)[:, ::-1], np.zeros((n, 1), int)], axis=1
    )
    base = recs[day_col].cast(pl.Int32).to_numpy()
    done = (base[:, None] - offs).ravel()
    pub_idx = steps.index("公示")
    pub = np.full((n, k), -1)
    pub[:, pub_idx] = np.where(rng.random(n) < 0.3, 5, rng.integers(6, 11, n))
    return pl.DataFrame(
        {
            "archive_no": np.repeat(recs["archive_no"].to_numpy(), k),
            "procedure": procedure,
            "step": np.tile(np.array(steps), n),
            "done_on": pl.Series(done).cast(pl.Int32).cast(pl.Date),
            "evidence": "有",
            "publicity_days": pl.Series(pub.ravel()).cast(pl.Int64),
        }
    ).with_columns(
        pl.when(pl.col("publicity_days") >= 0)
        .then(pl.col("publicity_days"))
        .alias("publicity_days")
    )


def archive_side_rows(recs: pl.DataFrame, rng) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Clean 建档 procedure and 经济状况核查 rows for records archived in the year."""
    proc = _steps(recs, "archived_on", ARCHIVE_STEPS, "建档", rng)
    n = recs.height
    econ = pl.DataFrame(
        {
            "archive_no": np.repeat(recs["archive_no"].to_numpy(), len(ECON_ITEMS)) if n else [],
            "item": np.tile(np.array(ECON_ITEMS), n) if n else [],
        },
        schema={"archive_no": pl.String, "item": pl.String},
    ).with_columns(provided=pl.lit("是"), match_result=pl.lit("相符"))
    return proc, econ


def _payments(w: World, year: int, arch: pl.DataFrame, rng) -> pl.DataFrame:
    sched = w.schedule.filter(pl.col("year") == year).drop("year")
    a, b = _window(year)
    act = (
        arch.join(sched, on="unit_code")
        .join(w.dibao_frame(year), on="unit_code")
        .with_columns(a=a, b=b)
        .filter(pl.col("a") <= pl.col("b"))
    )
    n = act.height
    act = act.with_columns(
        u1=pl.Series(rng.random(n)),
        u2=pl.Series(rng.random(n)),
        u3=pl.Series(rng.random(n)),
        u4=pl.Series(rng.random(n)),
        fund=pl.Series(np.array(HELP_FUNDS)[rng.choice(3, n, p=[0.65, 0.2, 0.15])]),
    )
    keep = ["unit_code", "archive_no", "name", "id_number", "account_no", "a", "b"]
    parts = []

    def events(df: pl.DataFrame, paid: pl.Expr, category: str, amount: pl.Expr, **extra):
        out = df.with_columns(paid_on=paid).filter(
            (pl.col("paid_on") >= pl.col("a")) & (pl.col("paid_on") <= pl.col("b"))
        )
        return out.select(
            *keep,
            "paid_on",
            category=pl.lit(category),
            amount=amount,
            fund=extra.pop("fund", pl.col("fund")),
            method=extra.pop("method", pl.lit("银行转账")),
            **extra,
        )

    living = (
        pl.col("dibao") * pl.col("hardship_type").replace_strict(LIVING_FACTOR) / 10
    ).round() * 10 + 20 * pl.min_horizontal(pl.col("household_size"), 5)
    for m in LIVING_MONTHS:
        parts.append(events(act, pl.date(year, m, pl.col("live_day")), "生活救助", living))
    warm = pl.col("hardship_type").replace_strict(WARMTH_AMOUNT) + pl.when(
        pl.col("household_size") >= 4
    ).then(200.0).otherwise(0.0)
    wm = (
        pl.when(pl.col("u1") < 0.8)
        .then(pl.lit("银行转账"))
        .when(pl.col("u1") < 0.92)
        .then(pl.lit("现金"))
        .otherwise(pl.lit("实物"))
    )
    parts.append(
        events(
            act,
            pl.date(year, 1, pl.col("warm_day")),
            "送温暖",
            warm,
            fund=pl.lit(WARMTH_FUND),
            method=wm,
        )
    )
    stages = list(EDU_AMOUNT)
    edu = act.filter(pl.col("causes").str.contains("子女教育"))
    edu = edu.with_columns(
        school_stage=pl.Series(
            np.array(stages)[rng.integers(0, len(stages), edu.height)], dtype=pl.String
        )
    )
    parts.append(
        events(
            edu,
            pl.date(year, 9, pl.col("edu_day")),
            "助学救助",
            pl.col("school_stage").replace_strict(EDU_AMOUNT),
            school_stage=pl.col("school_stage"),
        )
    )
    sick = act.filter(pl.col("causes").str.contains("大病"))
    for mo, col, u in ((4, "med1_day", "u2"), (10, "med2_day", "u3")):
        s = sick.filter(pl.col(u) < 0.75)
        k = s.height
        tot = np.round(rng.uniform(3000, 60000, k), 2)
        selfp = np.round(tot * rng.uniform(0.25, 0.6, k), 2)
        amt = np.round(np.minimum(selfp * rng.uniform(0.3, 0.8, k), 6000), 2)
        s = s.with_columns(
            med_total=pl.Series(tot), med_self_pay=pl.Series(selfp), amt=pl.Series(amt)
        )
        parts.append(
            events(
                s,
                pl.date(year, mo, pl.col(col)),
                "医疗救助",
                pl.col("amt"),
                med_total=pl.col("med_total"),
                med_self_pay=pl.col("med_self_pay"),
                receipt_type=pl.lit("医保票据"),
                receipt_year=pl.lit(year),
            )
        )
    jobless = act.filter(pl.col("causes").str.contains("失业"))
    parts.append(
        events(
            jobless.filter(pl.col("u4") < 0.5),
            pl.date(year, 5, pl.col("train_day")),
            "职业培训",
            (800 + 100 * (pl.col("u2") * 8).floor()),
        )
    )
    parts.append(
        events(
            jobless.filter(pl.col("u4") >= 0.8),
            pl.date(year, 6, pl.col("intro_day")),
            "职业介绍",
            (300 + 200 * (pl.col("u3") * 2).floor()),
        )
    )
    legal = act.filter(pl.col("causes").str.contains("工伤") & (pl.col("u4") < 0.4))
    parts.append(
        events(
            legal,
            pl.date(year, 7, pl.col("legal_day")),
            "法律援助",
            1000 * (1 + (pl.col("u1") * 3).floor()),
        )
    )
    # 送温暖 reaches a few needy workers outside the archive too (never PAY_UNARCHIVED)
    out = w.persons.filter((pl.col("role") == "warm_out") & (pl.col("role_year") == year)).join(
        sched, on="unit_code"
    )
    k = out.height
    cash = rng.random(k) < 0.3
    parts.append(
        out.select(
            "unit_code",
            archive_no=pl.lit(None, pl.String),
            name="name",
            id_number="id_number",
            account_no=pl.when(pl.Series(cash)).then(None).otherwise(pl.col("account_no")),
            a=pl.lit(None, pl.Date),
            b=pl.lit(None, pl.Date),
            paid_on=pl.date(year, 1, pl.col("warm_day")),
            category=pl.lit("送温暖"),
            amount=pl.lit(500.0),
            fund=pl.lit(WARMTH_FUND),
            method=pl.when(pl.Series(cash)).then(pl.lit("现金")).otherwise(pl.lit("银行转账")),
        )
    )
    pay = (
        pl.concat(parts, how="diagonal_relaxed")
        .with_columns(
            account_no=pl.when(pl.col("method") == "银行转账").then(pl.col("account_no")),
            cat_order=pl.col("category").replace_strict(
                {
                    c: i
                    for i, c in enumerate(
                        [
                            "送温暖",
                            "生活救助",
                            "医疗救助",
                            "职业培训",
                            "职业介绍",
                            "法律援助",
                            "助学救助",
                        ]
                    )
                },
                return_dtype=pl.Int64,
            ),
        )
        .sort("unit_code", "paid_on", "cat_order", "archive_no", "id_number")
    )
    pay = pay.with_columns(
        payment_no=pl.concat_str(
            pl.lit(f"FF{year}"),
            (pl.int_range(pl.len()).over("unit_code") + 1).cast(pl.String).str.zfill(6),
        ),
    )
    return pay.with_columns(pl.col("amount").round(2))


def _evaluation(w: World, year: int, arch: pl.DataFrame, rng) -> pl.DataFrame:
    """Samples with every verdict, but rates never past the alert thresholds (≤ 2 %, ≥ 90 %)."""
    dec31 = dt.date(year, 12, 31)
    ins = arch.filter(pl.col("exited_on").is_null()).with_columns(
        r=pl.Series(rng.random(arch.filter(pl.col("exited_on").is_null()).height))
    )
    ins = ins.filter(pl.col("r").rank("ordinal").over("unit_code") <= 30).with_columns(
        sample_type=pl.lit("在档户")
    )
    outs = w.records.filter(
        pl.col("exited_on").is_not_null()
        & (pl.col("exited_on") <= dec31)
        & (pl.col("exited_on") >= dt.date(year - 2, 1, 1))
    )
    outs = outs.with_columns(r=pl.Series(rng.random(outs.height)))
    outs = outs.filter(pl.col("r").rank("ordinal").over("unit_code") <= 50).with_columns(
        sample_type=pl.lit("退档户")
    )
    non = w.persons.filter(
        (pl.col("role") == "eval_out") & (pl.col("role_year") == year)
    ).with_columns(sample_type=pl.lit("非建档户"))
    cols = ["unit_code", "id_number", "name", "sample_type"]
    s = pl.concat([ins.select(cols), outs.select(cols), non.select(cols)])
    n = s.height
    s = s.with_columns(
        r=pl.Series(rng.random(n)),
        pos=pl.int_range(pl.len()).over("unit_code", "sample_type"),
        cnt=pl.len().over("unit_code", "sample_type"),
    ).join(
        pl.DataFrame({"unit_code": w.units["unit_code"], "ucoin": rng.random(w.units.height)}),
        on="unit_code",
        how="left",
    )
    # one 漏评 in 50 非建档户 (exactly 2 %) or one 错退 in 50 退档户 in about half the units;
    # one 错评 per 30 在档户 (错评率 has no alert threshold)
    wrong = (pl.col("pos") == 0) & (pl.col("cnt") >= 50) & (pl.col("ucoin") < 0.5)
    verdict = (
        pl.when((pl.col("sample_type") == "非建档户") & wrong)
        .then(pl.lit("漏评"))
        .when((pl.col("sample_type") == "退档户") & wrong)
        .then(pl.lit("错退"))
        .when((pl.col("sample_type") == "在档户") & (pl.col("pos") == 0) & (pl.col("cnt") >= 20))
        .then(pl.lit("错评"))
        .otherwise(pl.lit("符合"))
    )
    s = s.with_columns(verdict=verdict).sort("unit_code", "sample_type", "pos")
    # satisfaction: ~5 % unanswered; 不满意 at most 10 % of the answers in each unit
    s = s.with_columns(answered=pl.col("r") >= 0.05)
    s = s.with_columns(
        apos=pl.when(pl.col("answered")).then(
            pl.col("answered").cast(pl.Int64).cum_sum().over("unit_code") - 1
        ),
        acnt=pl.col("answered").sum().over("unit_code"),
        sat_r=pl.Series(rng.random(n)),
    )
    unhappy = (pl.col("apos") % 10 == 9) & (pl.col("sat_r") < 0.8)
    s = s.with_columns(
        satisfaction=pl.when(~pl.col("answered"))
        .then(None)
        .when(unhappy)
        .then(pl.lit("不满意"))
        .when(pl.col("sat_r") < 0.62)
        .then(pl.lit("满意"))
        .otherwise(pl.lit("基本满意")),
    )
    s = s.with_columns(
        sample_no=pl.concat_str(
            pl.lit(f"PG{year}-"),
            (pl.int_range(pl.len()).over("unit_code") + 1).cast(pl.String).str.zfill(4),
        )
    )
    return s


def _followup(year: int, arch: pl.DataFrame, rng) -> pl.DataFrame:
    gone = arch.filter(pl.col("exited_on").is_not_null())
    n = gone.height
    gone = gone.with_columns(r=pl.Series(rng.random(n))).filter(pl.col("r") < 0.7)
    n = gone.height

    def yn(p):
        return pl.Series(np.where(rng.random(n) < p, "是", "否"))

    sat = np.array(["满意", "基本满意", "不满意"])[rng.choice(3, n, p=[0.6, 0.32, 0.08])]
    return gone.select(
        "unit_code",
        "archive_no",
        survey_mode=pl.Series(np.where(rng.random(n) < 0.6, "电话", "入户")),
        surveyed_on=pl.min_horizontal(
            pl.col("exited_on") + pl.duration(days=pl.Series(rng.integers(7, 41, n))),
            pl.lit(dt.date(year, 12, 31)),
        ),
        got_notice=pl.lit("是"),
        knows_reason=yn(0.95),
        agrees=yn(0.9),
        revisited=yn(0.7),
        living_ok=yn(0.85),
        satisfaction=pl.Series(sat),
    )


def _roster(w: World, year: int, arch: pl.DataFrame, rng) -> pl.DataFrame:
    """That year's civil roster: some archived households (never one leaving that year) and
    needy people outside the archive who are not employed (or only 低收入)."""
    dec31 = dt.date(year, 12, 31)
    stay = arch.filter(pl.col("exited_on").is_null() | (pl.col("exited_on") > dec31))
    stay = stay.filter(
        pl.Series(
            rng.random(stay.height)
            < np.where(stay["hardship_type"].to_numpy() == "深度困难", 0.4, 0.08)
        )
    )
    k = stay.height
    a = stay.select(
        "id_number",
        "name",
        roster_type=pl.Series(
            np.array(["低保", "特困", "低收入"])[rng.choice(3, k, p=[0.75, 0.1, 0.15])]
        ),
        income_per_capita_monthly=(
            pl.col("household_income") / 12 / pl.col("household_size")
        ).round(2),
        employer="employer",
        region_code=pl.col("id_number").str.slice(0, 6),
    )
    out = w.persons.filter((pl.col("role") == "roster_out") & (pl.col("role_year") == year))
    k = out.height
    low = rng.random(k) < 0.4
    jobless = np.array([None, "无", "无业", "待业"], dtype=object)[rng.integers(0, 4, k)]
    b = out.select(
        "id_number",
        "name",
        roster_type=pl.Series(
            np.where(low, "低收入", np.where(rng.random(k) < 0.85, "低保", "特困"))
        ),
        income_per_capita_monthly=pl.Series(np.round(rng.uniform(150, 900, k), 2)),
        employer=pl.when(pl.Series(low)).then(pl.col("employer")).otherwise(strs(jobless)),
        region_code=pl.col("id_number").str.slice(0, 6),
    )
    return pl.concat([a, b]).sort("region_code", "id_number")


def _budget(year: int, pay: pl.DataFrame, codes: list[str], rng) -> pl.DataFrame:
    spent = pay.group_by("unit_code", "fund").agg(spent=pl.col("amount").sum().round(2))
    grid = pl.DataFrame(
        {
            "unit_code": np.repeat(codes, 4),
            "fund": np.tile(np.array(list(HELP_FUNDS) + [WARMTH_FUND]), len(codes)),
        }
    )
    g = grid.join(spent, on=["unit_code", "fund"], how="left").with_columns(
        pl.col("spent").fill_null(0.0)
    )
    n = g.height
    opening = np.round(rng.uniform(0, 200000, n), 2)
    closing = np.round(rng.uniform(0, 150000, n), 2)
    return g.with_columns(
        opening_balance=pl.Series(opening),
        closing_balance=pl.Series(closing),
        received=(pl.col("spent") + pl.Series(closing) - pl.Series(opening)).round(2).clip(0),
        recovered=pl.lit(0.0),
        allocation_method=pl.lit("因素法"),
        has_evaluation=pl.lit("有"),
    )


def _unit_standards(w: World, year: int) -> pl.DataFrame:
    rows = []
    for u in w.units["unit_code"].to_list():
        d = w.dibao[(u, year)]
        for ht in LIVING_CAP:
            rows.append((u, "生活救助", ht, float(math.ceil(LIVING_CAP[ht] * d / 100) * 100)))
            rows.append((u, "助学救助", ht, EDU_CAP))
            rows.append((u, "医疗救助", ht, MED_CAP[ht]))
    return pl.DataFrame(
        rows, schema=["unit_code", "category", "hardship_type", "annual_cap"], orient="row"
    )


def _staff(w: World) -> pl.DataFrame:
    st = w.persons.filter(pl.col("role") == "staff").sort("pid")
    return st.with_columns(
        post=pl.Series(STAFF_POSTS * (st.height // len(STAFF_POSTS))),
    ).select("unit_code", "name", "id_number", "post", "phone", "address")


def _split(df: pl.DataFrame, key: str, codes: list[str]) -> dict[str, pl.DataFrame]:
    parts = {k[0]: v for k, v in df.partition_by("unit_code", as_dict=True).items()}
    empty = conform(df.clear(), key)
    return {u: conform(parts[u], key) if u in parts else empty for u in codes}


def clean_year(w: World, year: int) -> dict[str, dict[str, pl.DataFrame]]:
    """unit → sheet → canonical frame of one clean ledger year (no 会计明细账 yet: it is
    written from the final payments, see :func:`build_ledger`)."""
    rng = rng_for(w.seed, "year", year)
    codes = w.units["unit_code"].to_list()
    arch = year_archive(w, year)
    jan1, dec31 = dt.date(year, 1, 1), dt.date(year, 12, 31)
    new = arch.filter(pl.col("archived_on") >= jan1).sort("archive_no")
    proc_a, econ = archive_side_rows(new, rng)
    gone = arch.filter(pl.col("exited_on").is_not_null() & (pl.col("exited_on") <= dec31))
    proc_e = _steps(gone.sort("archive_no"), "exited_on", EXIT_STEPS, "退档", rng)
    unit_of = arch.select("archive_no", "unit_code")
    proc = pl.concat([proc_a, proc_e]).join(unit_of, on="archive_no")
    econ = econ.join(unit_of, on="archive_no")
    pay = _payments(w, year, arch, rng)
    sheets = {
        "archive": arch,
        "procedures": proc,
        "econ_checks": econ,
        "payments": pay,
        "unit_standards": _unit_standards(w, year),
        "evaluation": _evaluation(w, year, arch, rng),
        "followup": _followup(year, arch, rng),
        "staff": _staff(w),
        "budget": _budget(year, pay, codes, rng),
        "targets": pl.DataFrame(
            {
                "unit_code": codes * 2,
                "target_year": [year] * len(codes) + [year + 1] * len(codes),
                "target_relieved": 0,
                "target_exited": 0,
                "has_plan": "有",
                "has_assessment": "有",
            }
        ),
    }
    split = {k: _split(v, k, codes) for k, v in sheets.items()}
    out = {u: {k: split[k][u] for k in split} for u in codes}
    return out


def year_roster(w: World, year: int) -> pl.DataFrame:
    return _roster(w, year, year_archive(w, year), rng_for(w.seed, "roster", year))
