"""Builders of small canonical frames for the rule tests."""

from __future__ import annotations

import datetime as dt

import polars as pl

from bangfu.frames import sheet_schema
from bangfu.sheets import SHEETS_BY_KEY

YEAR = 2019
PROV, CITY, C1, C2, CITY2, C3 = "520000", "520100", "520102", "520103", "520200", "520201"

UNITS = pl.DataFrame(
    {
        "unit_code": [PROV, CITY, C1, C2, CITY2, C3],
        "unit_name": [
            "贵州省总工会",
            "贵阳市总工会",
            "南明区总工会",
            "云岩区总工会",
            "六盘水市总工会",
            "钟山区总工会",
        ],
        "level": ["省", "市", "县", "县", "市", "县"],
        "parent_code": [None, PROV, CITY, CITY, PROV, CITY2],
    }
)
# dibao: province 600, city 700 (its counties inherit 700), CITY2 / C3 inherit the province's 600.
STANDARDS = pl.DataFrame(
    {
        "region_code": [PROV, CITY, PROV, C3],
        "year": [YEAR, YEAR, YEAR - 1, YEAR - 1],
        "dibao_monthly": [600.0, 700.0, 550.0, 999.0],
        "edu_standard": [None, None, None, None],
        "medical_standard": [None, None, None, None],
    },
    schema_overrides={"edu_standard": pl.Float64, "medical_standard": pl.Float64},
)

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_id(seq: int, born: str = "19800101", region: str = "520102") -> str:
    """A GB 11643-valid ID number."""
    body = f"{region}{born}{seq % 1000:03d}"
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]
    return body + check


def d(s: str | None) -> dt.date | None:
    return None if s is None else dt.date.fromisoformat(s)


def frame(key: str, rows: list[dict], unit: str = C1, year: int = YEAR) -> pl.DataFrame:
    """A canonical frame of sheet ``key``: given columns, the rest null, meta columns filled
    (source_row = 3, 4, … unless given; unit_code per row may be given)."""
    spec = SHEETS_BY_KEY[key]
    schema = sheet_schema(spec)
    out = []
    for i, r in enumerate(rows):
        row = {c: None for c in schema}
        row.update(
            year=year,
            unit_code=unit,
            source_file=f"ledgers/{year}/{r.get('unit_code', unit)}.xlsx",
            source_sheet=spec.title,
            source_row=i + 3,
        )
        for k, v in r.items():
            if k in schema and schema[k] == pl.Date() and isinstance(v, str):
                v = d(v)
            row[k] = v
        out.append(row)
    return pl.DataFrame(out, schema=schema) if out else pl.DataFrame(schema=schema)


def arch(archive_no: str, id_number: str, **kw) -> dict:
    base = dict(
        archive_no=archive_no,
        name=kw.pop("name", f"户{archive_no}"),
        id_number=id_number,
        hardship_type="深度困难",
        household_size=3,
        household_income=10000.0,
        archived_on="2018-01-10",
        status="在档",
    )
    base.update(kw)
    return base


def pay(payment_no: str, id_number: str, amount: float, paid_on: str = "2019-03-01", **kw) -> dict:
    base = dict(
        payment_no=payment_no,
        paid_on=paid_on,
        name=kw.pop("name", "张三"),
        id_number=id_number,
        category="生活救助",
        fund="中央财政专项帮扶资金",
        amount=amount,
        method="银行转账",
    )
    base.update(kw)
    return base


def roster_frame(rows: list[dict]) -> pl.DataFrame:
    schema = sheet_schema(SHEETS_BY_KEY["civil_roster"])
    out = []
    for i, r in enumerate(rows):
        row = {c: None for c in schema}
        row.update(
            year=YEAR,
            source_file=f"reference/civil_roster/{YEAR}.csv",
            source_sheet="民政比对名单",
            source_row=i + 2,
        )
        row.update(r)
        out.append(row)
    return pl.DataFrame(out, schema=schema)


# ---------------------------------------------------------------- synthetic data (numpy)
def synth(
    n_payments: int = 3000,
    n_archive: int = 600,
    seed: int = 7,
    n_cities: int = 4,
    counties_per_city: int = 4,
) -> dict:
    """A random multi-unit year (YEAR) with every rule given a chance to fire. Returns
    {'units', 'standards', 'roster', 'frames': {sheet key: frame}}."""
    import numpy as np

    rng = np.random.default_rng(seed)
    codes, names, levels, parents = [PROV], ["省总"], ["省"], [None]
    for c in range(1, n_cities + 1):
        city = f"52{c:02d}00"
        codes.append(city), names.append(f"市{c}"), levels.append("市"), parents.append(PROV)
        for k in range(1, counties_per_city + 1):
            codes.append(f"52{c:02d}{k:02d}"), names.append(f"县{c}{k}"), levels.append("县")
            parents.append(city)
    units = pl.DataFrame(
        {"unit_code": codes, "unit_name": names, "level": levels, "parent_code": parents}
    )
    standards = pl.DataFrame(
        {
            "region_code": [PROV] + codes[1 : 1 + n_cities : 2],
            "year": YEAR,
            "dibao_monthly": [600.0] + [700.0] * len(codes[1 : 1 + n_cities : 2]),
        }
    )
    ucodes = np.array(codes)
    W = np.array(WEIGHTS)

    def ids(n: int) -> np.ndarray:
        region = rng.choice(ucodes, n)
        born = (np.datetime64("1950-01-01") + rng.integers(0, 18000, n)).astype("datetime64[D]")
        body = np.char.add(
            np.char.add(region, np.char.replace(born.astype(str), "-", "")),
            np.char.zfill(rng.integers(0, 1000, n).astype(str), 3),
        )
        digits = np.array([list(b) for b in body]).astype(int) if n else np.zeros((0, 17), int)
        check = np.array(list("10X98765432"))[(digits * W).sum(1) % 11] if n else np.array([])
        out = np.char.add(body, check)
        bad = rng.random(n) < 0.01
        return np.where(bad, np.char.add(body, "0"), out)

    persons = ids(max(int(n_archive * 0.97), 1))
    a_unit = rng.choice(ucodes, n_archive)
    a_id = rng.choice(persons, n_archive)
    day0 = np.datetime64(f"{YEAR}-01-01")
    arch_on = day0 + rng.integers(-2500, 365, n_archive)
    exited = rng.random(n_archive) < 0.3
    exit_on = np.where(exited, arch_on + rng.integers(1, 900, n_archive), np.datetime64("NaT"))
    exit_on = np.where(exit_on > day0 + 364, np.datetime64("NaT"), exit_on)
    has_exit = ~np.isnat(exit_on)
    reason = np.where(has_exit, rng.choice(["脱困", "脱困", "不符合条件", "死亡"], n_archive), None)
    path = np.where(
        reason == "脱困",
        rng.choice(["就业创业", "社会保险", "医疗保障", "社会救助兜底"], n_archive),
        None,
    )
    size = rng.integers(1, 6, n_archive)
    archive = pl.DataFrame(
        {
            "archive_no": np.char.add("A", np.arange(n_archive).astype(str)),
            "name": "某某",
            "id_number": a_id,
            "phone": np.char.add("139", rng.integers(10**7, 10**8, n_archive).astype(str)),
            "address": np.char.add("某路", rng.integers(0, n_archive, n_archive).astype(str)),
            "hardship_type": rng.choice(["深度困难", "相对困难", "意外致困"], n_archive),
            "household_size": size,
            "household_income": (rng.integers(2000, 40000, n_archive) * size).astype(float),
            "archived_on": arch_on.astype("datetime64[D]"),
            "relieved_on": np.where(
                rng.random(n_archive) < 0.1,
                day0 + rng.integers(0, 365, n_archive),
                np.datetime64("NaT"),
            ).astype("datetime64[D]"),
            "status": np.where(has_exit, "已退档", "在档"),
            "exited_on": exit_on.astype("datetime64[D]"),
            "exit_reason": reason,
            "exit_path": path,
            "income_at_exit": np.where(has_exit, rng.integers(5000, 80000, n_archive), None),
            "unit_code": a_unit,
        }
    )
    # payments: 85 % to archived people of the same unit
    pick = rng.integers(0, n_archive, n_payments)
    to_arch = rng.random(n_payments) < 0.85
    stranger = ids(n_payments)
    p_unit = np.where(to_arch, a_unit[pick], rng.choice(ucodes, n_payments))
    p_id = np.where(to_arch, a_id[pick], stranger)
    cat = rng.choice(
        ["生活救助"] * 6 + ["助学救助", "医疗救助", "职业培训", "法律援助", "送温暖", "慰问金"],
        n_payments,
    )
    amount = np.where(
        rng.random(n_payments) < 0.6,
        rng.choice([500.0, 800.0, 1000.0, 2000.0], n_payments),
        rng.integers(100, 300000, n_payments) / 100,
    )
    paid_on = (day0 + rng.integers(0, 365, n_payments)).astype("datetime64[D]")
    order = np.lexsort((rng.random(n_payments), p_unit))
    vno = np.char.add("V", (np.arange(n_payments) // 3).astype(str))[np.argsort(order)]
    payments = pl.DataFrame(
        {
            "payment_no": np.char.add("P", np.arange(n_payments).astype(str)),
            "paid_on": paid_on,
            "name": "某某",
            "id_number": p_id,
            "category": cat,
            "fund": rng.choice(
                ["中央财政专项帮扶资金", "送温暖资金", "工会经费", "地方财政"], n_payments
            ),
            "amount": amount,
            "method": rng.choice(["银行转账"] * 9 + ["现金"], n_payments),
            "account_no": np.char.add(
                "62", rng.integers(0, max(n_payments, 10), n_payments).astype(str)
            ),
            "voucher_no": np.where(rng.random(n_payments) < 0.95, vno, None),
            "receipt_type": np.where(
                cat == "医疗救助", rng.choice(["医保票据", "非医保票据"], n_payments), None
            ),
            "receipt_year": np.where(
                cat == "医疗救助", rng.choice([YEAR, YEAR, YEAR - 1], n_payments), None
            ),
            "med_self_pay": np.where(cat == "医疗救助", rng.integers(100, 5000, n_payments), None),
            "unit_code": p_unit,
        }
    )
    ledger = (
        payments.filter(pl.col("voucher_no").is_not_null())
        .group_by("unit_code", "voucher_no")
        .agg(pl.col("amount").sum().round(2).alias("debit"))
        .with_columns(
            pl.when(pl.col("voucher_no").str.ends_with("7"))
            .then(pl.col("debit") + 1)
            .otherwise(pl.col("debit")),
            pl.lit("维权支出—困难职工帮扶费").alias("account_name"),
            pl.when(pl.col("voucher_no").str.ends_with("9"))
            .then(pl.lit("发放工资"))
            .otherwise(pl.lit("发放救助金"))
            .alias("memo"),
            pl.lit(0.0).alias("credit"),
        )
        .filter(~pl.col("voucher_no").str.ends_with("3"))
    )
    ustd = (
        pl.DataFrame({"unit_code": codes})
        .join(pl.DataFrame({"category": ["生活救助", "医疗救助"]}), how="cross")
        .join(
            pl.DataFrame(
                {"hardship_type": ["深度困难", "相对困难"], "annual_cap": [6000.0, 4000.0]}
            ),
            how="cross",
        )
    )
    n_ev = max(n_archive // 5, 1)
    evaluation = pl.DataFrame(
        {
            "sample_type": (st := rng.choice(["在档户", "退档户", "非建档户"], n_ev)),
            "verdict": np.where(
                rng.random(n_ev) < 0.05,
                np.select([st == "在档户", st == "退档户"], ["错评", "错退"], "漏评"),
                "符合",
            ),
            "satisfaction": rng.choice(["满意", "基本满意", "不满意", None], n_ev),
            "unit_code": rng.choice(ucodes, n_ev),
        }
    )
    targets = pl.DataFrame(
        {
            "target_year": YEAR,
            "target_relieved": rng.integers(0, 10, len(codes)),
            "target_exited": rng.integers(0, 10, len(codes)),
            "has_plan": rng.choice(["有", "无", None], len(codes)),
            "unit_code": codes,
        }
    )
    n_r = max(n_archive // 10, 1)
    roster = pl.DataFrame(
        {
            "id_number": np.where(rng.random(n_r) < 0.5, rng.choice(a_id, n_r), ids(n_r)),
            "name": "某某",
            "roster_type": rng.choice(["低保", "特困", "低收入"], n_r),
            "employer": rng.choice(["某厂", "无", None, "待业"], n_r),
            "region_code": rng.choice(ucodes, n_r),
        }
    )

    def canon(key: str, df: pl.DataFrame) -> pl.DataFrame:
        schema = sheet_schema(SHEETS_BY_KEY[key])
        df = df.with_columns(
            [
                pl.Series(c, df.get_column(c).to_list(), strict=False)
                for c, t in df.schema.items()
                if t == pl.Object
            ]
        )
        df = df.with_columns(
            pl.lit(YEAR, pl.Int64).alias("year"),
            pl.concat_str([pl.lit(f"ledgers/{YEAR}/"), pl.col("unit_code"), pl.lit(".xlsx")]).alias(
                "source_file"
            )
            if key != "civil_roster"
            else pl.lit(f"reference/civil_roster/{YEAR}.csv").alias("source_file"),
            pl.lit(SHEETS_BY_KEY[key].title).alias("source_sheet"),
        )
        if "unit_code" in df.columns:
            df = df.with_columns((pl.int_range(pl.len()).over("unit_code") + 3).alias("source_row"))
        else:
            df = df.with_columns((pl.int_range(pl.len()) + 2).alias("source_row"))
        return df.select(
            [
                (pl.col(c) if c in df.columns else pl.lit(None)).cast(t).alias(c)
                for c, t in schema.items()
            ]
        )

    frames = {
        "archive": canon("archive", archive),
        "payments": canon("payments", payments),
        "ledger": canon("ledger", ledger),
        "unit_standards": canon("unit_standards", ustd),
        "evaluation": canon("evaluation", evaluation),
        "targets": canon("targets", targets),
    }
    return {
        "units": units,
        "standards": standards,
        "roster": canon("civil_roster", roster).drop("unit_code", "year", strict=False),
        "frames": frames,
    }
