"""Ledger rules (subject: one voucher, key voucher_no) and unit rules (subject: the unit-year)."""

from __future__ import annotations

import polars as pl

from bangfu.rules.basis import B2015, B2016_7, BGUIDE
from bangfu.rules.common import ID, Context, U, cents, txt, yuan
from bangfu.rules.registry import rule

LIVING = "生活救助"


def _s(*parts) -> pl.Expr:
    return pl.concat_str([pl.lit(x) if isinstance(x, str) else x for x in parts])


def _first_lines(ctx: Context) -> pl.DataFrame:
    """Each voucher's first line in the ledger (lowest source_row): the finding's source."""
    first = pl.col("source_row").arg_min()
    return (
        ctx.f("ledger")
        .group_by(U, "voucher_no")
        .agg(
            *[pl.col(c).get(first) for c in ("source_file", "source_sheet", "posted_on")],
            pl.col("source_row").min(),
        )
    )


@rule(
    "SPEND_OUT_OF_SCOPE",
    "ledger",
    "超范围开支帮扶资金",
    f"{B2015}：帮扶资金不得用于帮扶中心工作人员工资、办公费用，各种奖金、津贴和福利补助，"
    f"购买车辆、手机等交通工具及通讯设备，帮扶中心基本建设投资；{BGUIDE}开支范围情况审定表",
    settings=("assistance_subjects", "forbidden_vocab"),
)
def spend_out_of_scope(ctx: Context) -> pl.DataFrame:
    """A debit line under a 帮扶 subject (科目名称 containing 困难职工帮扶费 or 帮扶补助) whose 摘要 names spending
    the 开支范围审定表 forbids (staff wages and office costs, bonuses and welfare, vehicles and phones,
    construction), judged by a vocabulary; `amount` is the debit."""
    s = ctx.settings
    vocab = list(s.forbidden_vocab)
    if not vocab:
        return pl.DataFrame()
    lines = ctx.f("ledger").filter(
        pl.col("account_name").str.contains_any(list(s.assistance_subjects)).fill_null(False)
        & (cents(pl.col("debit").fill_null(0)) > 0)
        & pl.col("memo").str.contains_any(vocab).fill_null(False)
    )
    lines = lines.with_columns(
        cents("debit").alias("_d"),
        pl.col("memo").str.extract_many(vocab).list.unique(maintain_order=True).alias("_words"),
    ).sort(U, "voucher_no", "source_row")
    per = lines.group_by(U, "voucher_no", maintain_order=True).agg(
        pl.col("_d").sum(),
        pl.col("memo").unique(maintain_order=True).str.join("；").alias("_memos"),
        pl.col("account_name").unique(maintain_order=True).str.join("、").alias("_acct"),
        pl.col("_words")
        .list.explode(keep_nulls=False, empty_as_null=False)
        .unique(maintain_order=True)
        .str.join("、")
        .alias("_w"),
    )
    v = per.join(_first_lines(ctx), on=[U, "voucher_no"], how="left")
    detail = _s(
        "凭证",
        txt("voucher_no"),
        "在",
        pl.col("_acct"),
        "科目借方列支",
        yuan("_d"),
        "元，摘要为“",
        pl.col("_memos"),
        "”，涉及",
        pl.col("_w"),
        "，属帮扶资金开支范围禁止的支出。",
    )
    return v.select(
        U,
        "voucher_no",
        "source_file",
        "source_sheet",
        "source_row",
        (pl.col("_d") / 100).alias("amount"),
        detail.alias("detail"),
    )


@rule(
    "LEDGER_MISMATCH",
    "ledger",
    "救助发放明细与会计账簿不符（账表不符）",
    f"{B2015}：帮扶资金专账核算；{BGUIDE}第二章（内部控制：财务信息真实完整）",
    settings=("ledger_tolerance_cents",),
)
def ledger_mismatch(ctx: Context) -> pl.DataFrame:
    """For a 凭证号 that payments name, the payments' total differs from the voucher's debits in the
    ledger by more than 0.01 元 (`amount` the difference), or the voucher is missing from the
    ledger (`amount` the payments' total). Payments without a 凭证号 are not tested."""
    tol = ctx.settings.ledger_tolerance_cents
    first = pl.col("source_row").arg_min()
    p = (
        ctx.payments()
        .filter(pl.col("voucher_no").is_not_null())
        .group_by(U, "voucher_no")
        .agg(
            pl.col("_c").sum().alias("_pay"),
            pl.len().alias("_np"),
            pl.col("source_file").get(first).alias("_pf"),
            pl.col("source_sheet").get(first).alias("_ps"),
            pl.col("source_row").min().alias("_pr"),
        )
    )
    led = (
        ctx.f("ledger")
        .group_by(U, "voucher_no")
        .agg(cents(pl.col("debit").fill_null(0)).sum().alias("_debit"))
    )
    v = p.join(led, on=[U, "voucher_no"], how="left").join(
        _first_lines(ctx), on=[U, "voucher_no"], how="left"
    )
    absent = pl.col("_debit").is_null()
    v = v.with_columns(
        pl.when(absent)
        .then(pl.col("_pay"))
        .otherwise((pl.col("_pay") - pl.col("_debit")).abs())
        .alias("_amt")
    ).filter(absent | (pl.col("_amt") > tol))
    for c, pc in (("source_file", "_pf"), ("source_sheet", "_ps"), ("source_row", "_pr")):
        v = v.with_columns(pl.when(absent).then(pl.col(pc)).otherwise(pl.col(c)).alias(c))
    detail = (
        pl.when(absent)
        .then(
            _s(
                "凭证",
                txt("voucher_no"),
                "对应",
                pl.col("_np").cast(pl.String),
                "笔救助发放合计",
                yuan("_pay"),
                "元，会计明细账中无此凭证。",
            )
        )
        .otherwise(
            _s(
                "凭证",
                txt("voucher_no"),
                "对应",
                pl.col("_np").cast(pl.String),
                "笔救助发放合计",
                yuan("_pay"),
                "元，会计明细账借方合计",
                yuan("_debit"),
                "元，相差",
                yuan("_amt"),
                "元。",
            )
        )
    )
    return v.select(
        U,
        "voucher_no",
        "source_file",
        "source_sheet",
        "source_row",
        (pl.col("_amt") / 100).alias("amount"),
        detail.alias("detail"),
    )


# ---------------------------------------------------------------- unit rules
@rule(
    "PAY_FLAT_AMOUNT",
    "unit",
    "未按困难程度分档或差额发放救助金",
    f"{BGUIDE}第二章：是否根据困难程度分档或者差额发放救助金；救助金精准发放情况审定表",
    settings=("flat_share", "flat_min_households", "flat_min_types"),
)
def pay_flat_amount(ctx: Context) -> pl.DataFrame:
    """At least 90 % of the unit-year's 生活救助 payments carry one identical amount, paid to at least
    10 archived households of at least two hardship types (未按困难程度分档或差额发放). Key category 生活救助;
    `amount` the 生活救助 total."""
    s = ctx.settings
    p = ctx.payments().filter(pl.col("category") == LIVING)
    tot = p.group_by(U).agg(pl.len().alias("_n_all"), pl.col("_c").sum().alias("_total"))
    mode = (
        p.group_by(U, "_c")
        .agg(pl.len().alias("_n"))
        .sort([U, "_n", "_c"], descending=[False, True, False])
        .unique(U, keep="first", maintain_order=True)
    )
    hh = ctx.latest_records().select(U, ID, "hardship_type")
    spread = (
        p.join(mode.select(U, "_c"), on=[U, "_c"], how="inner")
        .join(hh, on=[U, ID], how="inner")
        .group_by(U)
        .agg(
            pl.col(ID).n_unique().alias("_hh"),
            pl.col("hardship_type").n_unique().alias("_types"),
            pl.col("hardship_type").unique().sort().str.join("、").alias("_tnames"),
        )
    )
    share = round(s.flat_share * 10000)
    u = (
        tot.join(mode, on=U)
        .join(spread, on=U, how="left")
        .filter(
            (pl.col("_n") * 10000 >= share * pl.col("_n_all"))
            & (pl.col("_hh").fill_null(0) >= s.flat_min_households)
            & (pl.col("_types").fill_null(0) >= s.flat_min_types)
        )
    )
    detail = _s(
        f"{ctx.year}年生活救助共",
        pl.col("_n_all").cast(pl.String),
        "笔、合计",
        yuan("_total"),
        "元，其中",
        pl.col("_n").cast(pl.String),
        "笔（",
        (pl.col("_n") * 1000 / pl.col("_n_all"))
        .round(0)
        .cast(pl.Int64)
        .truediv(10)
        .cast(pl.String),
        "%）为同一金额",
        yuan("_c"),
        "元，发放给",
        pl.col("_hh").cast(pl.String),
        "户不同困难类别（",
        pl.col("_tnames"),
        "）的建档家庭，未按困难程度分档或差额发放。",
    )
    return u.select(
        U,
        pl.lit(LIVING).alias("category"),
        (pl.col("_total") / 100).alias("amount"),
        detail.alias("detail"),
    )


@rule(
    "NO_PLAN",
    "unit",
    "未制定解困脱困工作方案",
    f"{B2016_7}：各级工会制定解困脱困规划和年度工作方案；{BGUIDE}第二章一、政策落实情况",
)
def no_plan(ctx: Context) -> pl.DataFrame:
    """The year's 解困脱困目标 row says 工作方案 无 (only that explicit value fires)."""
    t = ctx.f("targets")
    t = t.filter((pl.col("target_year") == ctx.year) & (pl.col("has_plan") == "无"))
    return (
        t.select(U)
        .unique()
        .select(
            U,
            pl.lit(f"{ctx.year}年解困脱困目标表载明未制定工作方案（工作方案：无）。").alias(
                "detail"
            ),
        )
    )


@rule(
    "ALLOCATION_NOT_FACTOR",
    "unit",
    "资金分配未采用因素法",
    f"{BGUIDE}第二章三、帮扶实效情况：资金分配方法是否使用因素法；预算管理与绩效评价审定表四",
)
def allocation_not_factor(ctx: Context) -> pl.DataFrame:
    """A 预算执行 row gives a 分配方法 other than 因素法 (once per unit-year)."""
    b = ctx.f("budget").filter(
        pl.col("allocation_method").is_not_null() & (pl.col("allocation_method") != "因素法")
    )
    per = (
        b.sort(U, "source_row")
        .group_by(U, maintain_order=True)
        .agg(
            pl.concat_str([txt("fund"), pl.lit("采用"), pl.col("allocation_method")])
            .unique(maintain_order=True)
            .str.join("、")
            .alias("_m")
        )
    )
    return per.select(
        U, _s(f"{ctx.year}年预算执行中", pl.col("_m"), "分配资金，未采用因素法。").alias("detail")
    )


@rule(
    "NO_PERFORMANCE_EVALUATION",
    "unit",
    "未开展预算绩效评价",
    f"{BGUIDE}第二章三、帮扶实效情况：是否实施全程预算绩效管理；预算管理与绩效评价审定表一、二",
)
def no_performance_evaluation(ctx: Context) -> pl.DataFrame:
    """A 预算执行 row says 绩效评价 无 (once per unit-year)."""
    b = ctx.f("budget").filter(pl.col("has_evaluation") == "无")
    per = (
        b.sort(U, "source_row")
        .group_by(U, maintain_order=True)
        .agg(txt("fund").unique(maintain_order=True).str.join("、").alias("_f"))
    )
    return per.select(
        U, _s(f"{ctx.year}年预算执行表载明", pl.col("_f"), "未开展绩效评价。").alias("detail")
    )
