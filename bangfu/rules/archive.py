"""Archive-record rules (subject: one record, key archive_no)."""

from __future__ import annotations

import polars as pl

from bangfu.rules.basis import ART4, B2016_7, BARCH, BGUIDE
from bangfu.rules.common import (
    ID,
    SOURCE,
    Context,
    U,
    cents,
    day,
    in_year,
    milli,
    rec_subject,
    txt,
    yuan,
)
from bangfu.rules.registry import rule
from bangfu.sheets import ARCHIVE_STEPS, ECON_ITEMS, EXIT_STEPS

REC_OUT = [U, ID, "archive_no", *SOURCE]


def _emit(a: pl.DataFrame, detail: pl.Expr) -> pl.DataFrame:
    return a.select(*REC_OUT, detail.alias("detail"))


def _s(*parts) -> pl.Expr:
    return pl.concat_str([pl.lit(x) if isinstance(x, str) else x for x in parts])


def archived_in_year(ctx: Context) -> pl.DataFrame:
    return ctx.f("archive").filter(in_year("archived_on", ctx.year))


def exited_in_year(ctx: Context) -> pl.DataFrame:
    return ctx.f("archive").filter(in_year("exited_on", ctx.year))


def _listed(flag: str, label: str = "step") -> pl.Expr:
    """In a per-record aggregation: the labels whose flag is set, joined with 、 (order kept)."""
    return pl.col(label).filter(pl.col(flag)).str.join("、")


def _step_grid(ctx: Context, recs: pl.DataFrame, procedure: str, steps) -> pl.DataFrame:
    """One row per (record, required step) with the step's state in the procedure log:
    _lack (no row with a 完成日期), _noev (a row with 证明材料 无), _late (dated after archiving)."""
    grid = recs.select("_rid", U, "archive_no", "archived_on").join(
        pl.DataFrame({"step": list(steps), "_ord": list(range(len(steps)))}), how="cross"
    )
    log = (
        ctx.f("procedures")
        .filter(pl.col("procedure") == procedure)
        .group_by(U, "archive_no", "step")
        .agg(
            pl.col("done_on").is_not_null().any().alias("_done"),
            (pl.col("evidence") == "无").fill_null(False).any().alias("_noev"),
            pl.col("done_on").max().alias("_last_on"),
        )
    )
    grid = grid.join(log, on=[U, "archive_no", "step"], how="left").with_columns(
        (~pl.col("_done").fill_null(False)).alias("_lack"),
        pl.col("_noev").fill_null(False),
        (pl.col("_last_on") > pl.col("archived_on")).fill_null(False).alias("_late"),
    )
    return grid.sort("_rid", "_ord")


@rule(
    "ARCHIVE_INCOME_OVER_LINE",
    "archive",
    "不符合建档条件的家庭被建档",
    f"{BARCH}建档条件：家庭人均收入低于当地城市低保标准，或高于低保标准但不超过50%且因病、"
    f"因学、因残等特殊原因致困，或因意外致困；{ART4}",
    settings=("deep_line_factor", "relative_line_factor"),
)
def archive_income_over_line(ctx: Context) -> pl.DataFrame:
    """A record archived in the year whose per-capita monthly income is at least dibao for 深度困难, or
    at least 1.5 × dibao for 相对困难 (不符合建档条件); 意外致困 has no income test. Compared without division:
    household_income ≥ factor × dibao × 12 × household_size."""
    s = ctx.settings
    a = archived_in_year(ctx).join(ctx.dibao(), on=U, how="inner")
    factor = (
        pl.when(pl.col("hardship_type") == "深度困难")
        .then(pl.lit(milli(s.deep_line_factor)))
        .when(pl.col("hardship_type") == "相对困难")
        .then(pl.lit(milli(s.relative_line_factor)))
        .otherwise(None)
    )
    a = a.with_columns(
        cents("household_income").alias("_inc"),
        (pl.col("dibao_c") * 12 * pl.col("household_size")).alias("_line1"),
        factor.alias("_f"),
    )
    a = a.filter(
        pl.col("_f").is_not_null() & (pl.col("_inc") * 1000 >= pl.col("_f") * pl.col("_line1"))
    )
    per_cap = (pl.col("_inc") / (12 * pl.col("household_size"))).round(0).cast(pl.Int64)
    line = (pl.col("_f") * pl.col("dibao_c") / 1000).round(0).cast(pl.Int64)
    detail = _s(
        rec_subject(),
        "，",
        txt("hardship_type"),
        "，家庭年收入",
        yuan("_inc"),
        "元、家庭人口",
        pl.col("household_size").cast(pl.String),
        "人，人均月收入",
        yuan(per_cap),
        "元，不低于建档线",
        yuan(line),
        "元（当年低保标准",
        yuan("dibao_c"),
        "元×",
        (pl.col("_f") / 1000).cast(pl.String),
        "），不符合建档条件。",
    )
    return _emit(a, detail)


@rule(
    "ARCHIVE_PROCEDURE_INCOMPLETE",
    "archive",
    "建档程序不完整",
    f"{BARCH}建档程序：本人申请、入户调查、基层工会审批、上级工会审核、数据比对、公示、审批、建档；"
    f"{BGUIDE}建档程序审定表",
)
def archive_procedure_incomplete(ctx: Context) -> pl.DataFrame:
    """A record archived in the year lacks one of the eight 建档 steps (a step without 完成日期 counts as
    lacking), has a step whose 证明材料 is 无, or has a step dated after archiving. The order of the
    steps is not judged."""
    recs = archived_in_year(ctx).filter(pl.col(U).is_in(ctx.present("procedures")))
    grid = _step_grid(ctx, recs, "建档", ARCHIVE_STEPS)
    grid = grid.with_columns(
        pl.concat_str([pl.col("step"), pl.lit("（"), day("_last_on"), pl.lit("）")]).alias(
            "_late_txt"
        )
    )
    per = (
        grid.group_by("_rid", maintain_order=True)
        .agg(
            _listed("_lack"),
            pl.col("step").filter(pl.col("_noev")).str.join("、").alias("_noev_steps"),
            pl.col("_late_txt").filter(pl.col("_late")).str.join("、").alias("_late_steps"),
        )
        .rename({"step": "_lack_steps"})
    )
    per = per.filter(
        (pl.col("_lack_steps") != "")
        | (pl.col("_noev_steps") != "")
        | (pl.col("_late_steps") != "")
    )
    a = recs.join(per, on="_rid", how="inner")

    def part(col: str, label: str) -> pl.Expr:
        return pl.when(pl.col(col) != "").then(_s(f"，{label}", pl.col(col))).otherwise(pl.lit(""))

    detail = _s(
        rec_subject(),
        "的建档程序不完整",
        part("_lack_steps", "缺少（或未填完成日期）："),
        part("_noev_steps", "证明材料为无："),
        part("_late_steps", "晚于建档日期完成："),
        "（见程序记录）。",
    )
    return _emit(a, detail)


@rule(
    "ARCHIVE_PUBLICITY_SHORT",
    "archive",
    "建档公示时间不足",
    f"{BARCH}建档程序：公示（不少于5天）；{BGUIDE}建档程序审定表（六）公示",
    settings=("publicity_min_days",),
)
def archive_publicity_short(ctx: Context) -> pl.DataFrame:
    """A record archived in the year whose 建档 公示 step gives 公示天数 and fewer than 5 days."""
    n = ctx.settings.publicity_min_days
    short = (
        ctx.f("procedures")
        .filter(
            (pl.col("procedure") == "建档")
            & (pl.col("step") == "公示")
            & pl.col("publicity_days").is_not_null()
        )
        .group_by(U, "archive_no")
        .agg(pl.col("publicity_days").min().alias("_days"))
        .filter(pl.col("_days") < n)
    )
    a = archived_in_year(ctx).join(short, on=[U, "archive_no"], how="inner")
    detail = _s(rec_subject(), "的建档公示仅", pl.col("_days").cast(pl.String), f"天，少于{n}天。")
    return _emit(a, detail)


def _econ_grid(ctx: Context) -> tuple[pl.DataFrame, pl.DataFrame]:
    recs = archived_in_year(ctx).filter(pl.col(U).is_in(ctx.present("econ_checks")))
    grid = recs.select("_rid", U, "archive_no").join(
        pl.DataFrame({"item": list(ECON_ITEMS), "_ord": list(range(len(ECON_ITEMS)))}), how="cross"
    )
    log = (
        ctx.f("econ_checks")
        .group_by(U, "archive_no", "item")
        .agg(
            (pl.col("provided") == "否").fill_null(False).any().alias("_no"),
            (pl.col("match_result") == "未比对").fill_null(False).any().alias("_unmatched"),
            (pl.col("match_result") == "不符").fill_null(False).any().alias("_mismatch"),
            pl.len().alias("_n"),
        )
    )
    grid = grid.join(log, on=[U, "archive_no", "item"], how="left").with_columns(
        pl.col("_n").is_null().alias("_lack"),
        pl.col("_no").fill_null(False),
        pl.col("_unmatched").fill_null(False),
        pl.col("_mismatch").fill_null(False),
    )
    return recs, grid.sort("_rid", "_ord")


@rule(
    "ECON_CHECK_INCOMPLETE",
    "archive",
    "家庭经济状况核查不规范",
    f"{BARCH}：建档前对家庭经济状况进行核查并开展数据比对；{BGUIDE}家庭经济状况核对情况审定表",
)
def econ_check_incomplete(ctx: Context) -> pl.DataFrame:
    """A record archived in the year misses one of the eleven 核查项目, or one says 是否提供 否, or 比对结果
    未比对."""
    recs, grid = _econ_grid(ctx)
    per = grid.group_by("_rid", maintain_order=True).agg(
        _listed("_lack", "item").alias("_l"),
        _listed("_no", "item").alias("_n"),
        _listed("_unmatched", "item").alias("_u"),
    )
    per = per.filter((pl.col("_l") != "") | (pl.col("_n") != "") | (pl.col("_u") != ""))
    a = recs.join(per, on="_rid", how="inner")

    def part(col: str, label: str) -> pl.Expr:
        return pl.when(pl.col(col) != "").then(_s(f"，{label}", pl.col(col))).otherwise(pl.lit(""))

    detail = _s(
        rec_subject(),
        "的家庭经济状况核查不完整",
        part("_l", "缺少核查项目："),
        part("_n", "未提供："),
        part("_u", "未比对："),
        "。",
    )
    return _emit(a, detail)


@rule(
    "ECON_CHECK_MISMATCH",
    "archive",
    "家庭经济状况核查比对结果不符仍予建档",
    f"{BARCH}：数据比对结果不符的不得建档；{BGUIDE}家庭经济状况核对情况审定表（二）比对结果是否相符",
)
def econ_check_mismatch(ctx: Context) -> pl.DataFrame:
    """A record archived in the year has a 核查项目 whose 比对结果 is 不符."""
    recs, grid = _econ_grid(ctx)
    per = grid.group_by("_rid", maintain_order=True).agg(_listed("_mismatch", "item").alias("_m"))
    a = recs.join(per.filter(pl.col("_m") != ""), on="_rid", how="inner")
    return _emit(a, _s(rec_subject(), "的家庭经济状况核查中", pl.col("_m"), "比对结果为不符。"))


@rule(
    "EXIT_PROCEDURE_INCOMPLETE",
    "archive",
    "退档程序不完整",
    f"{BARCH}退档程序：退档申请或认定、入户调查、上级工会审核确认、数据比对、公示、审批、书面通知；"
    f"{BGUIDE}退档程序审定表",
)
def exit_procedure_incomplete(ctx: Context) -> pl.DataFrame:
    """A record that left the archive in the year, for any reason, lacks one of the seven 退档 steps
    (a step without 完成日期 counts as lacking) or has a step whose 证明材料 is 无."""
    recs = exited_in_year(ctx).filter(pl.col(U).is_in(ctx.present("procedures")))
    grid = _step_grid(ctx, recs, "退档", EXIT_STEPS)
    per = grid.group_by("_rid", maintain_order=True).agg(
        _listed("_lack").alias("_l"), _listed("_noev").alias("_n")
    )
    per = per.filter((pl.col("_l") != "") | (pl.col("_n") != ""))
    a = recs.join(per, on="_rid", how="inner")

    def part(col: str, label: str) -> pl.Expr:
        return pl.when(pl.col(col) != "").then(_s(f"，{label}", pl.col(col))).otherwise(pl.lit(""))

    detail = _s(
        rec_subject(),
        "于",
        day("exited_on"),
        "退档（",
        txt("exit_reason", "原因未填"),
        "），退档程序不完整",
        part("_l", "缺少（或未填完成日期）："),
        part("_n", "证明材料为无："),
        "（见程序记录）。",
    )
    return _emit(a, detail)


@rule(
    "EXIT_CAUSE_NOT_ELIMINATED",
    "archive",
    "致困原因未消除即作脱困退档（错退）",
    f"{B2016_7}：脱困标准为家庭人均收入稳定高于当地低保标准、致困因素消除；{BARCH}动态管理；"
    f"{BGUIDE}第二章：脱困职工的致困原因是否消除",
    settings=("exit_line_factor", "roster_types"),
)
def exit_cause_not_eliminated(ctx: Context) -> pl.DataFrame:
    """A record that left as 脱困 in the year although its income at exit is at most dibao × 12 ×
    household_size, or its ID is on that year's civil roster as 低保 or 特困: a candidate 错退."""
    s = ctx.settings
    a = (
        exited_in_year(ctx)
        .filter(pl.col("exit_reason") == "脱困")
        .join(ctx.dibao(), on=U, how="left")
    )
    a = a.with_columns(
        cents("income_at_exit").alias("_inc"),
        (pl.col("dibao_c") * 12 * pl.col("household_size")).alias("_line1"),
    )
    low = (pl.col("_inc") * 1000 <= milli(s.exit_line_factor) * pl.col("_line1")).fill_null(False)
    roster = ctx.roster_ids()
    if roster is not None:
        a = a.join(roster, on=ID, how="left")
    else:
        a = a.with_columns(pl.lit(None, pl.String).alias("_rtype"))
    a = a.filter(low | pl.col("_rtype").is_not_null()).with_columns(low.alias("_low"))
    inc_txt = (
        pl.when(pl.col("_low"))
        .then(
            _s(
                "，退档时家庭年收入",
                yuan("_inc"),
                "元（",
                pl.col("household_size").cast(pl.String),
                "人）不高于低保线",
                yuan((pl.col("_line1") * milli(s.exit_line_factor) / 1000).round(0).cast(pl.Int64)),
                "元（低保标准",
                yuan("dibao_c"),
                "元×12个月×家庭人口）",
            )
        )
        .otherwise(pl.lit(""))
    )
    roster_txt = (
        pl.when(pl.col("_rtype").is_not_null())
        .then(_s(f"，且在{ctx.year}年民政比对名单中为", pl.col("_rtype"), "对象"))
        .otherwise(pl.lit(""))
    )
    detail = _s(
        rec_subject(),
        "于",
        day("exited_on"),
        "以脱困退档（",
        txt("exit_path", "脱困方式未填"),
        "）",
        inc_txt,
        roster_txt,
        "，致困原因未消除。",
    )
    return _emit(a, detail)


@rule(
    "EXIT_NO_NOTICE",
    "archive",
    "退档未书面通知本人",
    f"{BARCH}退档程序：将退档情况书面通知职工本人；{BGUIDE}退档（脱困）职工电话调查表、入户调查表",
)
def exit_no_notice(ctx: Context) -> pl.DataFrame:
    """The follow-up survey of an exited household says 收到书面通知 否."""
    f = (
        ctx.f("followup")
        .filter(pl.col("got_notice") == "否")
        .sort("source_row")
        .unique([U, "archive_no"], keep="first", maintain_order=True)
        .select(
            U,
            "archive_no",
            "survey_mode",
            "surveyed_on",
            pl.col("source_row").alias("_f_row"),
            *[pl.col(c).alias(f"_f_{c}") for c in SOURCE],
        )
    )
    rec = (
        ctx.f("archive")
        .sort("source_row")
        .unique([U, "archive_no"], keep="first", maintain_order=True)
        .select(U, "archive_no", ID, "name", "archived_on", "exited_on", *SOURCE)
    )
    a = f.join(rec, on=[U, "archive_no"], how="left")
    found = pl.col("source_row").is_not_null()
    a = a.with_columns(
        [pl.when(found).then(pl.col(c)).otherwise(pl.col(f"_f_{c}")).alias(c) for c in SOURCE]
    )
    detail = _s(
        pl.when(found).then(rec_subject()).otherwise(_s("档案", txt("archive_no"))),
        "，退档回访（",
        txt("survey_mode", "方式未填"),
        "，",
        day("surveyed_on"),
        "，回访表第",
        pl.col("_f_row").cast(pl.String),
        "行）答复未收到书面退档通知。",
    )
    return _emit(a, detail)
