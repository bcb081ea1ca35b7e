"""The model half of ``bangfu generate``: clean canonical ledgers plus planted anomalies.

This module holds what its parts share: the constants of the synthetic world, seeded random
streams, :class:`World`, :class:`Scenario` and the roll-up of figures. ``world.build_world``
builds the world once (persons, archive records), :mod:`bangfu.generate.clean` one clean year of
ledgers and :mod:`bangfu.generate.bookkeeping` its 会计明细账; ``scenario.build_scenario`` plants
the anomalies into a :class:`Scenario`: reference frames, one dict of canonical frames per
(year, unit) — columns exactly ``spec.names`` with the dtypes of ``frames.KIND_DTYPES`` — and
``planted``, the truth of the findings the rules must produce (``kind`` 'fire') and of the near
misses they must not produce (``kind`` 'near_miss').

Clean data is clean by construction (no rule of rules.md fires on it); anomalies are planted
afterwards by the registry of :mod:`bangfu.generate.anomalies`, one small function per rule code.
Everything is vectorised over households (loops run over units, years and rules only).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from bangfu.frames import sheet_schema
from bangfu.sheets import SHEETS_BY_KEY

HOUSEHOLDS = {"S": 3_000, "M": 60_000, "L": 1_000_000}
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
