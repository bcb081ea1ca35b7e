"""Cross-unit rules (need every unit's archive of the year) and roll-up rules (need rolled figures)."""

from __future__ import annotations

import polars as pl

from bangfu.rules.basis import B2016_7, BARCH, BGUIDE
from bangfu.rules.common import ID, SOURCE, Context, U, day, masked_id, rec_subject, txt
from bangfu.rules.registry import rule


def _s(*parts) -> pl.Expr:
    return pl.concat_str([pl.lit(x) if isinstance(x, str) else x for x in parts])


@rule(
    "DUPLICATE_ARCHIVE",
    "cross",
    "重复建档",
    f"{BARCH}：一户一档，困难职工家庭只能在一处建档",
)
def duplicate_archive(ctx: Context) -> pl.DataFrame:
    """The same ID has records in two units (or two in one unit) whose periods in the archive
    overlap during the year. Periods are half-open, [archived_on, exited_on), an open record
    running to the year's end, so leaving and coming back on one day is no overlap. Fires on
    each record involved; needs every unit's archive of the year."""
    y = ctx.year
    start, end = pl.date(y, 1, 1), pl.date(y + 1, 1, 1)
    a = (
        ctx.f("archive")
        .filter(pl.col(ID).is_not_null())
        .with_columns(
            pl.max_horizontal(pl.col("archived_on"), start).alias("_s"),
            pl.min_horizontal(pl.col("exited_on").fill_null(end), end).alias("_e"),
        )
    )
    # A record whose in-year half-open period is empty overlaps nothing.
    a = a.filter(pl.col("_s") < pl.col("_e"))
    right = a.select(
        ID,
        pl.col("_rid").alias("_rid_o"),
        pl.col(U).alias("_u_o"),
        pl.col("archive_no").alias("_a_o"),
        pl.col("_s").alias("_s_o"),
        pl.col("_e").alias("_e_o"),
    )
    pairs = (
        a.select("_rid", ID, "_s", "_e")
        .join(right, on=ID, how="inner")
        .filter(
            (pl.col("_rid") != pl.col("_rid_o"))
            & (pl.max_horizontal("_s", "_s_o") < pl.min_horizontal("_e", "_e_o"))
        )
    )
    others = (
        pairs.sort("_rid", "_u_o", "_a_o")
        .group_by("_rid", maintain_order=True)
        .agg(
            pl.concat_str([txt("_u_o"), pl.lit("单位档案"), txt("_a_o")]).str.join("、").alias("_o")
        )
    )
    hit = a.join(others, on="_rid", how="inner")
    detail = _s(
        rec_subject(),
        "（在档至",
        pl.when(pl.col("exited_on").is_null()).then(pl.lit("年末")).otherwise(day("exited_on")),
        "）与",
        pl.col("_o"),
        f"在{y}年的在档期间重叠，重复建档。",
    )
    return hit.select(U, ID, "archive_no", *SOURCE, detail.alias("detail"))


def region_to_unit(
    codes: pl.DataFrame, units: pl.DataFrame, col: str = "region_code"
) -> pl.DataFrame:
    """Adds ``unit_code``: the unit whose code is ``col``, else its nearest ancestor in units.csv
    (county → its city xxxx00 → its province xx0000, the administrative-code hierarchy)."""
    known = units.select(pl.col("unit_code").alias("_k")).unique()
    cands = [
        pl.col(col),
        pl.concat_str([pl.col(col).str.slice(0, 4), pl.lit("00")]),
        pl.concat_str([pl.col(col).str.slice(0, 2), pl.lit("0000")]),
    ]
    out = codes.with_columns([c.alias(f"_c{i}") for i, c in enumerate(cands)])
    found = []
    for i in range(len(cands)):
        out = out.join(
            known.with_columns(pl.col("_k").alias(f"_m{i}")),
            left_on=f"_c{i}",
            right_on="_k",
            how="left",
        )
        found.append(pl.col(f"_m{i}"))
    out = out.with_columns(pl.coalesce(found).alias(U))
    return out.drop([f"_c{i}" for i in range(len(cands))] + [f"_m{i}" for i in range(len(cands))])


@rule(
    "MISSED_CANDIDATE",
    "cross",
    "民政低保、特困在职人员未建档（疑似漏评）",
    f"{BARCH}建档条件；{B2016_7}：应建尽建、应保尽保；"
    "《关于加强工会组织与民政部门困难职工家庭数据比对和信息共享工作的通知》",
    keys=(ID,),
    settings=("roster_types", "no_employer_values"),
)
def missed_candidate(ctx: Context) -> pl.DataFrame:
    """A person on the year's civil roster as 低保 or 特困, with an employer (not empty, 无, 无业 or 待业),
    who is in no unit's archive that year (疑似漏评). The subject is the roster person (key
    id_number); the unit is the one whose code is the roster row's 区划代码, else its nearest
    ancestor."""
    s = ctx.settings
    if ctx.roster is None:
        return pl.DataFrame()
    r = ctx.roster.with_columns(pl.col("employer").str.replace_all(r"\s", "").alias("_emp"))
    r = r.filter(
        pl.col(ID).is_not_null()
        & pl.col("roster_type").is_in(list(s.roster_types))
        & pl.col("_emp").is_not_null()
        & (pl.col("_emp") != "")
        & ~pl.col("_emp").is_in(list(s.no_employer_values))
    )
    archived = ctx.f("archive").select(ID).drop_nulls().unique()
    r = r.join(archived, on=ID, how="anti")
    r = region_to_unit(r, ctx.units).filter(pl.col(U).is_not_null())
    r = r.sort(U, ID, "source_row").unique([U, ID], keep="first", maintain_order=True)
    detail = _s(
        txt("name", "（无姓名）"),
        "（",
        masked_id(ID),
        f"）在{ctx.year}年民政比对名单（区划",
        txt("region_code"),
        "）中为",
        txt("roster_type"),
        "对象，有工作单位",
        pl.col("employer"),
        "，家庭人均月收入",
        txt(pl.col("income_per_capita_monthly").round(2).cast(pl.String), "未填"),
        f"元，但不在{ctx.year}年任何单位的困难职工档案中，疑似漏评。",
    )
    return r.select(U, ID, *SOURCE, detail.alias("detail"))


# ---------------------------------------------------------------- roll-up rules
# Context.frames["rolled"] holds the rolled-up unit_year_metrics of the year.


@rule(
    "TARGET_NOT_MET",
    "rollup",
    "未完成年度解困脱困目标",
    f"{B2016_7}：年度解困脱困任务目标；{BGUIDE}第二章一、政策落实情况",
)
def target_not_met(ctx: Context) -> pl.DataFrame:
    """The unit's rolled-up 解困 or 脱困 count for the year is below the target in its own 解困脱困目标
    sheet."""
    m = ctx.f("rolled")
    short_r = (pl.col("relieved") < pl.col("target_relieved")).fill_null(False)
    short_e = (pl.col("exited_out_of_hardship") < pl.col("target_exited")).fill_null(False)
    m = m.filter(short_r | short_e)

    def part(flag, label, got, target):
        return pl.when(flag).then(
            _s(
                f"{label}",
                pl.col(got).cast(pl.String),
                "人，低于目标",
                pl.col(target).cast(pl.String),
                "人",
            )
        )

    detail = _s(
        f"{ctx.year}年（含下级）",
        pl.concat_str(
            [
                part(short_r, "解困", "relieved", "target_relieved"),
                part(short_e, "脱困", "exited_out_of_hardship", "target_exited"),
            ],
            separator="，",
            ignore_nulls=True,
        ),
        "，未完成年度解困脱困目标。",
    )
    return m.select(U, detail.alias("detail"))


@rule(
    "EVAL_RATE_ALERT",
    "rollup",
    "第三方评估指标超出警戒值",
    f"{BGUIDE}第二章三、帮扶实效情况：解困脱困成效的考核与第三方评估；"
    "参照国家脱贫攻坚成效评估：漏评率、错退率不高于2%，群众认可度不低于90%",
    settings=("missed_rate_alert", "wrong_exit_rate_alert", "recognition_rate_min"),
)
def eval_rate_alert(ctx: Context) -> pl.DataFrame:
    """The unit's rolled-up 漏评率 or 错退率 is above its alert threshold, or its 群众认可度 below it (rates
    pooled over the subtree)."""
    s = ctx.settings
    m = ctx.f("rolled")
    miss = (pl.col("missed_rate") > s.missed_rate_alert).fill_null(False)
    wexit = (pl.col("wrong_exit_rate") > s.wrong_exit_rate_alert).fill_null(False)
    recog = (pl.col("recognition_rate") < s.recognition_rate_min).fill_null(False)
    m = m.filter(miss | wexit | recog)

    def pct(c):  # one decimal, from whole tenths: 893 / 10 as a float prints 89.30000000000001
        tenths = (pl.col(c) * 1000).round(0).cast(pl.Int64)
        return pl.format("{}.{}", tenths // 10, tenths % 10)

    detail = _s(
        f"{ctx.year}年第三方评估（含下级）",
        pl.concat_str(
            [
                pl.when(miss).then(
                    _s("漏评率", pct("missed_rate"), f"%，高于{s.missed_rate_alert:.0%}")
                ),
                pl.when(wexit).then(
                    _s("错退率", pct("wrong_exit_rate"), f"%，高于{s.wrong_exit_rate_alert:.0%}")
                ),
                pl.when(recog).then(
                    _s(
                        "群众认可度",
                        pct("recognition_rate"),
                        f"%，低于{s.recognition_rate_min:.0%}",
                    )
                ),
            ],
            separator="；",
            ignore_nulls=True,
        ),
        "。",
    )
    return m.select(U, detail.alias("detail"))
