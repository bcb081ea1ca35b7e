"""Payment rules (subject: one payment, key payment_no) and ID_INVALID."""

from __future__ import annotations

import polars as pl

from bangfu.rules.basis import ART3, ART4, ART5, B2015, BGUIDE, GB11643
from bangfu.rules.common import (
    ID,
    SOURCE,
    Context,
    U,
    cents,
    day,
    id_valid,
    pay_subject,
    rec_subject,
    txt,
    yuan,
)
from bangfu.rules.registry import rule

PAY_OUT = [U, ID, "archive_no", "payment_no", "voucher_no", "category", *SOURCE]
LIVING, EDUCATION, MEDICAL = "生活救助", "助学救助", "医疗救助"


def _emit(p: pl.DataFrame, detail: pl.Expr, amount: pl.Expr | None = None) -> pl.DataFrame:
    amount = pl.col("_c") / 100 if amount is None else amount
    return p.select(*PAY_OUT, amount.cast(pl.Float64).alias("amount"), detail.alias("detail"))


def _group_sort(p: pl.DataFrame, group: list[str], order: list[str]) -> pl.DataFrame:
    """Rows of a group together, each group in ``order``. A hash of the group keys leads the
    sort (much cheaper than comparing several strings); the keys follow, so a collision can
    never merge two groups."""
    h = pl.struct(group).hash().alias("_gh")
    return p.with_columns(h).sort(["_gh", *group, *order], nulls_last=True).drop("_gh")


def _sentence(*parts: pl.Expr | str) -> pl.Expr:
    return pl.concat_str([pl.lit(x) if isinstance(x, str) else x for x in parts])


@rule(
    "PAY_UNARCHIVED",
    "payment",
    "向未建档人员发放帮扶资金",
    f"依档帮扶：{ART3}；{ART4}",
    settings=("warmth_fund",),
)
def pay_unarchived(ctx: Context) -> pl.DataFrame:
    """A 帮扶资金 payment (any fund but 送温暖资金) to an ID number with no record in the unit's archive.
    送温暖资金 may reach people outside the archive."""
    p = ctx.payments().filter(pl.col("_hb"))
    archived = ctx.f("archive").select(U, ID).unique()
    p = p.join(archived, on=[U, ID], how="anti")
    return _emit(p, _sentence(pay_subject(), "，该身份证号在本单位困难职工档案中无记录。"))


@rule(
    "PAY_OUTSIDE_ARCHIVE_PERIOD",
    "payment",
    "在建档前或退档后发放帮扶资金",
    f"先建档、后帮扶：{ART3}",
    settings=("warmth_fund",),
)
def pay_outside_period(ctx: Context) -> pl.DataFrame:
    """A 帮扶资金 payment to someone in the unit's archive, but on a day none of their records covers
    (archived_on ≤ paid_on ≤ exited_on, an open record having no end): paid before archiving or
    after leaving."""
    p = ctx.payments().filter(pl.col("_hb"))
    a = ctx.f("archive").select(
        U, ID, pl.col("archived_on").alias("_a_on"), pl.col("exited_on").alias("_e_on")
    )
    j = p.select("_rid", U, ID, "paid_on").join(a, on=[U, ID], how="inner")
    covered = (pl.col("_a_on") <= pl.col("paid_on")) & (
        pl.col("_e_on").is_null() | (pl.col("paid_on") <= pl.col("_e_on"))
    )
    per = j.group_by("_rid").agg(
        covered.fill_null(False).any().alias("_cov"),
        pl.col("_a_on").min().alias("_first"),
        pl.col("_e_on").max().alias("_last_exit"),
        pl.col("_e_on").is_null().any().alias("_open"),
    )
    p = p.join(per.filter(~pl.col("_cov")), on="_rid", how="inner")
    before = pl.col("paid_on") < pl.col("_first")
    why = (
        pl.when(before)
        .then(pl.concat_str([pl.lit("早于其最早建档日期"), day("_first")]))
        .when(~pl.col("_open") & (pl.col("paid_on") > pl.col("_last_exit")))
        .then(pl.concat_str([pl.lit("晚于其退档日期"), day("_last_exit")]))
        .otherwise(pl.lit("不在其任何一份档案的在档期间内"))
    )
    return _emit(p, _sentence(pay_subject(), "，发放日期", why, "，不在档期间发放。"))


@rule(
    "PAY_OVER_STANDARD",
    "payment",
    "超标准发放救助金",
    f"{ART5}；本单位救助标准",
    settings=("living_cap_months", "education_cap_months", "cap_months_by_year"),
)
def pay_over_standard(ctx: Context) -> pl.DataFrame:
    """A household's payments in one category exceed, within the year, the smallest cap that
    exists: the unit's own 救助标准 for its hardship type; for 生活救助 12 months of dibao; for 助学救助 10
    months. The household is its ID number, its hardship type that of its latest archive record;
    payments count in paid_on, payment_no order whatever the fund. Fires on the payment that
    crosses the cap and every later one; `amount` is the excess it carries."""
    s, year = ctx.settings, ctx.year
    hh = ctx.latest_records().select(U, ID, pl.col("hardship_type").alias("_htype"))
    p = ctx.payments().join(hh, on=[U, ID], how="inner")
    std = (
        ctx.f("unit_standards")
        .group_by(U, "category", "hardship_type")
        .agg(cents("annual_cap").min().alias("_cap_std"))
        .rename({"hardship_type": "_htype"})
    )
    p = p.join(std, on=[U, "category", "_htype"], how="left").join(ctx.dibao(), on=U, how="left")
    months = (
        pl.when(pl.col("category") == LIVING)
        .then(pl.lit(s.cap_months(year, "living")))
        .when(pl.col("category") == EDUCATION)
        .then(pl.lit(s.cap_months(year, "education")))
        .otherwise(None)
    )
    p = p.with_columns((pl.col("dibao_c") * months).alias("_cap_dibao"), months.alias("_months"))
    p = p.with_columns(pl.min_horizontal("_cap_std", "_cap_dibao").alias("_cap"))
    # running total in date order: sort once, then cum_sum over the (unit, id, category) groups
    # (a window keeps each group's rows in frame order, here paid_on, payment_no)
    p = _group_sort(
        p.filter(pl.col("_cap").is_not_null()),
        [U, ID, "category"],
        ["paid_on", "payment_no", "_rid"],
    )
    p = p.with_columns(pl.col("_c").cum_sum().over([U, ID, "category"]).alias("_cum"))
    p = p.filter(pl.col("_cum") > pl.col("_cap"))
    p = p.with_columns(pl.min_horizontal("_c", pl.col("_cum") - pl.col("_cap")).alias("_excess"))
    cap_parts = pl.concat_str(
        [
            pl.when(pl.col("_cap_std").is_not_null())
            .then(pl.concat_str([pl.lit("本单位救助标准"), yuan("_cap_std"), pl.lit("元")]))
            .otherwise(pl.lit("")),
            pl.when(pl.col("_cap_std").is_not_null() & pl.col("_cap_dibao").is_not_null())
            .then(pl.lit("、"))
            .otherwise(pl.lit("")),
            pl.when(pl.col("_cap_dibao").is_not_null())
            .then(
                pl.concat_str(
                    [
                        pl.lit("低保标准"),
                        yuan("dibao_c"),
                        pl.lit("元×"),
                        pl.col("_months").cast(pl.String),
                        pl.lit("个月="),
                        yuan("_cap_dibao"),
                        pl.lit("元"),
                    ]
                )
            )
            .otherwise(pl.lit("")),
        ]
    )
    detail = _sentence(
        pay_subject(),
        "后，该户（",
        txt("_htype"),
        f"）{year}年",
        txt("category"),
        "累计",
        yuan("_cum"),
        "元，超过年度上限",
        yuan("_cap"),
        "元（",
        cap_parts,
        "），本笔超标",
        yuan("_excess"),
        "元。",
    )
    return _emit(p, detail, pl.col("_excess") / 100)


@rule(
    "PAY_DUPLICATE",
    "payment",
    "重复发放救助金",
    f"{B2015}第三条（实名制、依档帮扶）；{BGUIDE}第二章：是否存在滥发帮扶资金的行为",
    settings=("duplicate_window_days",),
)
def pay_duplicate(ctx: Context) -> pl.DataFrame:
    """A payment to the same ID, in the same category and for the same amount (to the cent, any
    fund) as an earlier one of the unit-year made at most 15 days before it. Fires on the later
    payment."""
    w = ctx.settings.duplicate_window_days
    part = [U, ID, "category", "_c"]
    order = ["paid_on", "payment_no", "_rid"]
    # One sort by (group, paid_on, payment_no); the previous row is the previous payment of the
    # same group when every group key equals the shifted one (cheaper than a sorted window).
    p = _group_sort(ctx.payments(), part, order)
    same = pl.all_horizontal([pl.col(k).eq_missing(pl.col(k).shift(1)) for k in part])
    p = p.with_columns(
        pl.when(same).then(pl.col("paid_on").shift(1)).alias("_prev_on"),
        pl.when(same).then(pl.col("payment_no").shift(1)).alias("_prev_no"),
    )
    gap = (pl.col("paid_on") - pl.col("_prev_on")).dt.total_days()
    p = p.filter(gap.is_not_null() & (gap <= w)).with_columns(gap.alias("_gap"))
    detail = _sentence(
        pay_subject(),
        "，与",
        day("_prev_on"),
        "同项目同金额的发放（发放编号",
        txt("_prev_no"),
        "）相隔",
        pl.col("_gap").cast(pl.String),
        f"天（不超过{w}天），疑似重复发放。",
    )
    return _emit(p, detail)


@rule(
    "PAY_CASH",
    "payment",
    "以现金方式发放帮扶资金",
    f"救助金应通过银行账户实名发放，现金发放无法核实实际领取人（实名制：{ART3}）；"
    f"{BGUIDE}第二章二、内部控制情况",
    settings=("warmth_fund",),
)
def pay_cash(ctx: Context) -> pl.DataFrame:
    """A 帮扶资金 payment made in 现金: assistance goes through bank accounts in the recipient's name."""
    p = ctx.payments().filter(pl.col("_hb") & (pl.col("method") == "现金"))
    return _emit(p, _sentence(pay_subject(), "，以现金方式发放，未通过银行账户。"))


@rule(
    "PAY_SHARED_ACCOUNT",
    "payment",
    "多名救助对象共用同一收款账号",
    f"实名制：{ART3}；{BGUIDE}第二章（内部控制、防范舞弊）",
)
def pay_shared_account(ctx: Context) -> pl.DataFrame:
    """A 收款账号 that received payments for two or more different ID numbers in the unit-year; fires
    on each of those payments."""
    p = ctx.payments().filter(pl.col("account_no").is_not_null())
    p = p.with_columns(pl.col(ID).n_unique().over([U, "account_no"]).alias("_n"))
    p = p.filter(pl.col("_n") >= 2)
    detail = _sentence(
        pay_subject(),
        "，收款账号",
        txt("account_no"),
        "本年共收取",
        pl.col("_n").cast(pl.String),
        "个不同身份证号的救助金。",
    )
    return _emit(p, detail)


@rule(
    "PAY_STAFF_RELATED",
    "payment",
    "向工会干部或其关联人员发放救助金（优亲厚友）",
    f"{BGUIDE}第二章：是否存在优亲厚友的行为；{ART4}",
)
def pay_staff_related(ctx: Context) -> pl.DataFrame:
    """The recipient is one of the unit's 工会干部 (same ID), or one of the recipient's archive records
    shares a 联系电话 or 家庭住址 with a staff member (优亲厚友)."""
    staff = ctx.f("staff")
    if staff.height == 0:
        return pl.DataFrame()
    st = staff.select(U, ID, pl.col("name").alias("_sname"), "phone", "_addr")
    arch = ctx.f("archive").select(U, ID, "archive_no", "phone", "_addr")
    by_id = st.select(U, ID, pl.concat_str([pl.lit("本人即工会干部"), txt("_sname")]).alias("_why"))
    by_phone = arch.filter(pl.col("phone").is_not_null()).join(
        st.filter(pl.col("phone").is_not_null()).select(U, "phone", "_sname"),
        on=[U, "phone"],
    )
    by_phone = by_phone.select(
        U,
        ID,
        pl.concat_str(
            [
                pl.lit("档案"),
                txt("archive_no"),
                pl.lit("的联系电话与工会干部"),
                txt("_sname"),
                pl.lit("相同"),
            ]
        ).alias("_why"),
    )
    by_addr = arch.filter(pl.col("_addr").is_not_null()).join(
        st.filter(pl.col("_addr").is_not_null()).select(U, "_addr", "_sname"),
        on=[U, "_addr"],
    )
    by_addr = by_addr.select(
        U,
        ID,
        pl.concat_str(
            [
                pl.lit("档案"),
                txt("archive_no"),
                pl.lit("的家庭住址与工会干部"),
                txt("_sname"),
                pl.lit("相同"),
            ]
        ).alias("_why"),
    )
    why = (
        pl.concat([by_id, by_phone, by_addr])
        .unique(maintain_order=True)
        .sort(U, ID, "_why")
        .group_by(U, ID, maintain_order=True)
        .agg(pl.col("_why").str.join("，"))
    )
    p = ctx.payments().join(why, on=[U, ID], how="inner")
    return _emit(p, _sentence(pay_subject(), "，", pl.col("_why"), "。"))


@rule(
    "MED_NON_INSURANCE_RECEIPT",
    "payment",
    "医疗救助以非医保票据为依据",
    f"{ART5}（医疗救助以医保报销后个人自付部分为限，应以医保票据为依据）",
)
def med_non_insurance(ctx: Context) -> pl.DataFrame:
    """A 医疗救助 payment that rests on a 非医保票据."""
    p = ctx.payments().filter(
        (pl.col("category") == MEDICAL) & (pl.col("receipt_type") == "非医保票据")
    )
    return _emit(p, _sentence(pay_subject(), "，所依据的票据为非医保票据。"))


@rule(
    "MED_RECEIPT_WRONG_YEAR",
    "payment",
    "医疗救助票据年度与发放年度不符",
    f"{ART5}（医疗救助按年度核定个人自付部分）",
)
def med_wrong_year(ctx: Context) -> pl.DataFrame:
    """A 医疗救助 payment whose 票据年度 is not the year it was paid."""
    p = ctx.payments().filter(
        (pl.col("category") == MEDICAL)
        & pl.col("receipt_year").is_not_null()
        & (pl.col("receipt_year") != pl.col("paid_on").dt.year().cast(pl.Int64))
    )
    detail = _sentence(
        pay_subject(),
        "，所依据票据的年度为",
        pl.col("receipt_year").cast(pl.String),
        "年，与发放年度不符。",
    )
    return _emit(p, detail)


@rule(
    "MED_OVER_SELF_PAY",
    "payment",
    "医疗救助超过医保报销后个人自付金额",
    f"{ART5}",
)
def med_over_self_pay(ctx: Context) -> pl.DataFrame:
    """A 医疗救助 payment larger than the 医保报销后自付金额 it covers."""
    p = ctx.payments().with_columns(cents("med_self_pay").alias("_self"))
    p = p.filter(
        (pl.col("category") == MEDICAL)
        & pl.col("_self").is_not_null()
        & (pl.col("_c") > pl.col("_self"))
    )
    detail = _sentence(
        pay_subject(),
        "，超过医保报销后个人自付金额",
        yuan("_self"),
        "元，超出",
        yuan(pl.col("_c") - pl.col("_self")),
        "元。",
    )
    return _emit(p, detail)


@rule(
    "PAY_UNLISTED_PROJECT",
    "payment",
    "自行设立救助项目、扩大帮扶资金救助范围",
    f"{ART5}；{BGUIDE}第二章：是否自行设立救助项目",
    settings=("listed_projects", "warmth_fund"),
)
def pay_unlisted(ctx: Context) -> pl.DataFrame:
    """A 帮扶资金 payment whose 救助项目 is not one of the listed projects (自行设立救助项目); 送温暖 paid from a 帮扶资金
    fund fires too."""
    listed = list(ctx.settings.listed_projects)
    p = ctx.payments().filter(pl.col("_hb") & ~pl.col("category").is_in(listed).fill_null(False))
    detail = _sentence(
        pay_subject(),
        "，",
        txt("category"),
        "不属于帮扶资金规定的救助项目（",
        "、".join(listed),
        "）。",
    )
    return _emit(p, detail)


@rule(
    "ID_INVALID",
    "payment",
    "身份证号码不符合国家标准",
    f"{GB11643}：18位，前17位为数字、第18位为数字或X，出生日期真实，校验码正确；实名制：{ART3}",
    keys=("_subject",),
    settings=("id_birth_year_min",),
)
def id_invalid(ctx: Context) -> pl.DataFrame:
    """An ID number that fails GB 11643 (18 characters, 17 digits then a digit or X, a real birth
    date from 1900 to the ledger year's end, the right check character). Fires on every payment
    and every archive record carrying it."""
    ids = pl.concat([ctx.payments().select(ID), ctx.f("archive").select(ID)]).unique()
    bad = ids.filter(~id_valid(ctx.year, ID, ctx.settings.id_birth_year_min))
    p = ctx.payments().join(bad, on=ID, how="semi", nulls_equal=True)
    p = _emit(
        p, _sentence(pay_subject(), "，身份证号码不符合GB 11643（位数、出生日期或校验码错误）。")
    )
    p = p.with_columns(
        pl.concat_str([pl.lit("payment:"), pl.col("payment_no").fill_null("")]).alias("_subject")
    )
    a = ctx.f("archive").join(bad, on=ID, how="semi", nulls_equal=True)
    a = a.select(
        U,
        ID,
        "archive_no",
        *SOURCE,
        pl.concat_str(
            [rec_subject(), pl.lit("，身份证号码不符合GB 11643（位数、出生日期或校验码错误）。")]
        ).alias("detail"),
        pl.concat_str([pl.lit("archive:"), pl.col("archive_no").fill_null("")]).alias("_subject"),
    )
    return pl.concat([p, a], how="diagonal_relaxed")
