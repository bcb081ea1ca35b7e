"""The model half of ``bangfu generate``: clean canonical ledgers plus planted anomalies.

``build_scenario`` returns a :class:`Scenario`: reference frames, one dict of canonical frames
per (year, unit) — columns exactly ``spec.names`` with the dtypes of ``frames.KIND_DTYPES`` — and
``planted``, the truth of the findings the rules must produce (``kind`` 'fire') and of the near
misses they must not produce (``kind`` 'near_miss').

Clean data is clean by construction (no rule of rules.md fires on it); anomalies are planted
afterwards by the registry of :mod:`bangfu.generate.anomalies`, one small function per rule code.
Everything is vectorised over households (loops run over units, years and rules only).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from bangfu.frames import sheet_schema
from bangfu.generate import units as gu
from bangfu.sheets import ARCHIVE_STEPS, ECON_ITEMS, EXIT_STEPS, SHEETS_BY_KEY

# S12: 12 counties × about 2,000 households each (cities and province hold their own share)
HOUSEHOLDS = {"S": 3_000, "S12": 27_000, "M": 60_000, "L": 1_000_000}
LIVING_MONTHS = (2, 4, 6, 8, 10, 12)
HELP_FUNDS = ("中央财政专项帮扶资金", "地方财政", "工会经费")
WARMTH_FUND = "送温暖资金"
HELP_ACCOUNT = ("5010301", "维权支出—困难职工帮扶费")
WARMTH_ACCOUNT = ("5010302", "维权支出—送温暖费")
TRANSFER_ACCOUNT = ("5040101", "补助下级支出—帮扶补助")
BANK_ACCOUNT = ("1002", "银行存款")
CASH_ACCOUNT = ("1001", "库存现金")
WAGE_ACCOUNT = ("5010101", "行政支出—工资福利支出")
OFFICE_ACCOUNT = ("5010102", "行政支出—商品和服务支出")
# per-payment 生活救助 amount ≈ factor × dibao (6 payments a year stay far below every cap)
LIVING_FACTOR = {"深度困难": 0.8, "相对困难": 0.55, "意外致困": 0.9}
WARMTH_AMOUNT = {"深度困难": 800.0, "相对困难": 500.0, "意外致困": 600.0}
# the unit's own 救助标准 (annual caps) as multiples of dibao, or fixed amounts
LIVING_CAP = {"深度困难": 10, "相对困难": 8, "意外致困": 9}
EDU_CAP = 5000.0
MED_CAP = {"深度困难": 20000.0, "相对困难": 15000.0, "意外致困": 20000.0}
EDU_AMOUNT = {
    "义务教育": 1000.0,
    "高中": 1500.0,
    "中职": 1500.0,
    "大专": 2500.0,
    "本科": 3000.0,
    "研究生": 3000.0,
}
OPTIONAL_DROPPABLE = ("evaluation", "followup", "staff", "budget", "unit_standards", "targets")

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏"
    "吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严"
)
GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国玉志红梅海燕丹萍鹏飞辉凤春晓东文斌宇浩凯"
    "俊峰琳雪玲淑珍德永红金荣福保林根宝云彩凤翠莲建新利民卫庆福顺长春秋菊"
)
STREETS = [
    "解放路",
    "人民路",
    "中山路",
    "建设路",
    "新华路",
    "和平路",
    "文化路",
    "胜利路",
    "长江路",
    "工农路",
    "北京路",
    "湖滨路",
    "朝阳路",
    "跃进路",
    "团结路",
    "光明街",
    "幸福里",
    "东风路",
    "育才路",
    "城东路",
    "城西路",
    "环城北路",
    "滨河路",
    "青年路",
]
BRANDS = [
    "华信",
    "恒达",
    "新光",
    "永安",
    "东方",
    "宏发",
    "金桥",
    "瑞丰",
    "天成",
    "鑫源",
    "联合",
    "前进",
    "红星",
    "光明",
    "长城",
    "海通",
    "明珠",
    "振华",
    "兴业",
    "富强",
]
INDUSTRIES = [
    "机械",
    "纺织",
    "电子",
    "建材",
    "物流",
    "食品",
    "化工",
    "服装",
    "印刷",
    "汽配",
    "电器",
    "包装",
    "塑料",
    "五金",
    "制药",
    "家具",
]
SUFFIXES = ["有限公司", "股份有限公司", "厂", "集团有限公司"]
PUBLIC_EMPLOYERS = [
    "环境卫生管理所",
    "公交公司",
    "自来水公司",
    "市政工程管理处",
    "供销合作社",
    "第一人民医院",
    "粮食储备库",
    "邮政分公司",
]
PHONE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "177",
    "180",
    "181",
    "182",
    "183",
    "186",
    "187",
    "188",
    "189",
    "199",
]
BANK_BINS = ["621700", "622202", "622848", "621226", "622588", "623058", "621799", "622908"]
STAFF_POSTS = ["主席", "副主席", "经费审查委员会主任", "帮扶中心主任", "帮扶中心干事", "财务会计"]
GB11643_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
GB11643_CHECK = "10X98765432"
BIRTH_FIRST = dt.date(1950, 1, 1)
BIRTH_DAYS = (dt.date(2000, 12, 31) - BIRTH_FIRST).days + 1
EPOCH = dt.date(1970, 1, 1)


def dnum(y: int, m: int, d: int) -> int:
    return (dt.date(y, m, d) - EPOCH).days


def strs(arr) -> pl.Series:
    """A String series from a numpy array that may hold None."""
    return pl.Series(list(arr), dtype=pl.String)


def rng_for(seed: int, *tags: object) -> np.random.Generator:
    """An independent, reproducible stream per (seed, tags)."""
    key = [seed] + [sum(ord(c) * (i + 1) for i, c in enumerate(str(t))) for t in tags]
    return np.random.default_rng(key)


def conform(df: pl.DataFrame, key: str) -> pl.DataFrame:
    """Exactly the canonical columns of sheet ``key``, in order, with their dtypes."""
    schema = sheet_schema(SHEETS_BY_KEY[key], with_meta=False)
    cols = [
        (pl.col(c) if c in df.columns else pl.lit(None)).cast(t).alias(c) for c, t in schema.items()
    ]
    return df.select(cols)


def check_char(first17: np.ndarray) -> np.ndarray:
    """GB 11643 check characters of an (n, 17) digit matrix."""
    total = (first17 * GB11643_WEIGHTS).sum(axis=1) % 11
    return np.array(list(GB11643_CHECK))[total]


def check_char_of(first17: str) -> str:
    return str(check_char(np.array([[int(c) for c in first17]]))[0])


def gb11643_ok(id_number: str, year: int) -> bool:
    """Pure-python GB 11643 test (used by tests and plant self-checks)."""
    if len(id_number) != 18 or not id_number[:17].isdigit() or id_number[17] not in "0123456789X":
        return False
    try:
        born = dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return False
    if not 1900 <= born.year <= year:
        return False
    return check_char_of(id_number[:17]) == id_number[17]


# ---------------------------------------------------------------- scenario


@dataclass
class Scenario:
    units: pl.DataFrame
    standards: pl.DataFrame
    civil_roster: dict[int, pl.DataFrame]
    ledgers: dict[tuple[int, str], dict[str, pl.DataFrame]]
    planted: pl.DataFrame
    scale: str = "S"
    seed: int = 0
    years: tuple[int, ...] = ()
    # (year, unit_code, sheet_key) of optional sheets deliberately absent from ``ledgers``
    dropped_optional_sheets: set[tuple[int, str, str]] = field(default_factory=set)


PLANTED_SCHEMA = {
    "year": pl.Int64(),
    "unit_code": pl.String(),
    "rule_code": pl.String(),
    "id_number": pl.String(),
    "archive_no": pl.String(),
    "payment_no": pl.String(),
    "voucher_no": pl.String(),
    "category": pl.String(),
    "kind": pl.String(),  # 'fire' | 'near_miss'
    "amount": pl.Float64(),  # the finding's amount where rules.md defines one (else null)
    "note": pl.String(),  # what was planted (variant)
}


# ---------------------------------------------------------------- the world


@dataclass
class World:
    """Everything the clean model knows: units, dibao, persons and archive records."""

    scale: str
    seed: int
    years: tuple[int, ...]
    units: pl.DataFrame
    parent: dict[str, str | None]
    level: dict[str, str]
    children: dict[str, list[str]]
    anc: dict[str, list[str]]
    dibao: dict[tuple[str, int], float]  # effective dibao per (unit, year), model years
    standards: pl.DataFrame
    persons: pl.DataFrame  # every synthetic person: pid, unit_code, role, role_year, …
    records: pl.DataFrame  # every archive record (hidden columns: pid, rec_seq)
    schedule: pl.DataFrame  # unit_code, year → pay days
    _spare: dict[tuple[int, str], list[dict]] = field(default_factory=dict)

    def dibao_frame(self, year: int) -> pl.DataFrame:
        codes = self.units["unit_code"].to_list()
        return pl.DataFrame({"unit_code": codes, "dibao": [self.dibao[(c, year)] for c in codes]})

    def spare(self, year: int, unit: str) -> dict:
        """A fresh person of ``unit`` (never in any archive, roster or staff) for a plant."""
        key = (year, unit)
        if key not in self._spare:
            self._spare[key] = (
                self.persons.filter(
                    (pl.col("unit_code") == unit)
                    & (pl.col("role") == "spare")
                    & (pl.col("role_year") == year)
                )
                .sort("pid")
                .to_dicts()
            )
        if not self._spare[key]:
            raise RuntimeError(f"no spare persons left for {unit} {year}")
        return self._spare[key].pop()


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


# ---------------------------------------------------------------- ledger


def ledger_lines(voucher_no, posted_on, account, memo, debit, fund) -> list[dict]:
    """A voucher: a debit line under ``account`` and its credit line under 银行存款."""
    return [
        {
            "posted_on": posted_on,
            "voucher_no": voucher_no,
            "account_code": account[0],
            "account_name": account[1],
            "memo": memo,
            "debit": debit,
            "credit": None,
            "fund": fund,
        },
        {
            "posted_on": posted_on,
            "voucher_no": voucher_no,
            "account_code": BANK_ACCOUNT[0],
            "account_name": BANK_ACCOUNT[1],
            "memo": memo,
            "debit": None,
            "credit": debit,
            "fund": fund,
        },
    ]


MEMO = {
    "生活救助": "发放困难职工生活救助金",
    "助学救助": "发放困难职工子女助学救助金",
    "医疗救助": "发放困难职工医疗救助金",
    "职业培训": "支付困难职工职业培训补贴",
    "职业介绍": "支付困难职工职业介绍补贴",
    "法律援助": "支付困难职工法律援助费用",
    "送温暖": "春节送温暖慰问困难职工",
}


def build_ledger(
    year: int, unit: str, pay: pl.DataFrame, children: list[str], rng
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Give every payment without a 凭证号 its own voucher (one voucher per payment, as the
    payments sheet wants 凭证号 unique) and write the 会计明细账: a debit line equal to the
    payment and a credit line per voucher, plus wage / office vouchers under non-帮扶 subjects and,
    for a city or province, transfers to the units below (补助下级支出—帮扶补助)."""
    pay = pay.sort("paid_on", "payment_no")
    missing = pay["voucher_no"].is_null()
    start = _max_voucher(pay["voucher_no"]) + 1
    vno = pl.Series(range(start, start + int(missing.sum()))).cast(pl.String).str.zfill(5)
    filled = pay.filter(missing).with_columns(voucher_no=pl.concat_str(pl.lit("记"), vno))
    pay = pl.concat([pay.filter(~missing), filled]).sort("payment_no")
    p = pay.filter(pl.col("voucher_no").is_not_null())
    warm = pl.col("fund") == WARMTH_FUND
    memo = pl.concat_str(
        pl.col("paid_on").dt.month().cast(pl.String),
        pl.lit("月"),
        pl.col("category").replace_strict(MEMO, default="发放困难职工帮扶资金"),
    )
    debit = p.select(
        posted_on="paid_on",
        voucher_no="voucher_no",
        account_code=pl.when(warm)
        .then(pl.lit(WARMTH_ACCOUNT[0]))
        .otherwise(pl.lit(HELP_ACCOUNT[0])),
        account_name=pl.when(warm)
        .then(pl.lit(WARMTH_ACCOUNT[1]))
        .otherwise(pl.lit(HELP_ACCOUNT[1])),
        memo=memo,
        debit="amount",
        credit=pl.lit(None, pl.Float64),
        fund="fund",
    )
    cash = pl.col("method") == "现金"
    credit = p.select(
        posted_on="paid_on",
        voucher_no="voucher_no",
        account_code=pl.when(cash).then(pl.lit(CASH_ACCOUNT[0])).otherwise(pl.lit(BANK_ACCOUNT[0])),
        account_name=pl.when(cash).then(pl.lit(CASH_ACCOUNT[1])).otherwise(pl.lit(BANK_ACCOUNT[1])),
        memo=memo,
        debit=pl.lit(None, pl.Float64),
        credit="amount",
        fund="fund",
    )
    lines = pl.concat([debit, credit]).sort("voucher_no", "credit", nulls_last=False)
    other = []
    n = _max_voucher(pay["voucher_no"]) + 1
    for m in range(1, 13):
        other += ledger_lines(
            f"记{n:05d}",
            dt.date(year, m, 25),
            WAGE_ACCOUNT,
            f"支付{m}月机关工作人员工资",
            float(round(rng.uniform(6e4, 9e4), 2)),
            "工会经费",
        )
        n += 1
    for q in (3, 9):
        other += ledger_lines(
            f"记{n:05d}",
            dt.date(year, q, 12),
            OFFICE_ACCOUNT,
            "购买办公用品",
            float(round(rng.uniform(2e3, 8e3), 2)),
            "工会经费",
        )
        n += 1
    for c in children:
        other += ledger_lines(
            f"记{n:05d}",
            dt.date(year, 4, 18),
            TRANSFER_ACCOUNT,
            f"拨付{gu.union_name(c)}帮扶资金",
            float(round(rng.uniform(1e5, 5e5), -2)),
            "中央财政专项帮扶资金",
        )
        n += 1
    led = pl.concat([lines, conform(pl.DataFrame(other), "ledger")], how="vertical_relaxed")
    return conform(pay, "payments"), conform(led, "ledger")


def _max_voucher(v: pl.Series) -> int:
    nums = v.drop_nulls().str.extract(r"(\d+)$").cast(pl.Int64, strict=False).drop_nulls()
    return int(nums.max()) if len(nums) else 0


# ---------------------------------------------------------------- metrics helpers (targets)


def own_counts(frames: dict[str, dict[str, pl.DataFrame]], year: int) -> dict[str, tuple[int, int]]:
    """unit → (relieved, exited_out_of_hardship) of its own ledger, distinct ID numbers."""
    out = {}
    for u, sh in frames.items():
        a = sh["archive"]
        rel = a.filter(pl.col("relieved_on").dt.year() == year)["id_number"].n_unique()
        ex = a.filter((pl.col("exited_on").dt.year() == year) & (pl.col("exit_reason") == "脱困"))[
            "id_number"
        ].n_unique()
        out[u] = (rel, ex)
    return out


def rollup(own: dict[str, tuple], anc: dict[str, list[str]]) -> dict[str, tuple]:
    """Add each unit's own figures to itself and every ancestor."""
    tot: dict[str, list] = {u: [0] * len(v) for u, v in own.items()}
    for u, v in own.items():
        for a in anc[u]:
            if a in tot:
                tot[a] = [x + y for x, y in zip(tot[a], v, strict=True)]
    return {u: tuple(v) for u, v in tot.items()}


def build_scenario(
    scale: str = "S", seed: int = 0, years: tuple[int, ...] = (2017, 2018, 2019)
) -> Scenario:
    """Clean ledgers for ``years`` at ``scale`` with every rule of rules.md planted; seeded."""
    from bangfu.generate.anomalies import plant_scenario

    return plant_scenario(build_world(scale, seed, tuple(years)))
