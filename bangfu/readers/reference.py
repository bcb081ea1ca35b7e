"""Reference files (units.csv, standards.csv, civil rosters), read by the same reader."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from bangfu.readers.common import (
    ReferenceDataError,
    SheetResult,
    _BadEncoding,
    _Context,
    _inside,
    _MissingColumns,
    _outside_message,
    _rel,
    _sha256,
)
from bangfu.readers.csv_sheets import _read_csv_raw
from bangfu.readers.validate import _process
from bangfu.sheets import (
    CIVIL_ROSTER,
    STANDARDS,
    UNITS,
    SheetSpec,
)


# ====================================================================== reference files
def _read_reference_csv(
    path: Path | str, spec: SheetSpec, *, year: int | None, landing: Path | None = None
) -> SheetResult:
    path = Path(path)
    rel = _rel(path, landing) if landing is not None else path.as_posix()
    if landing is not None and not _inside(path, landing):
        raise ReferenceDataError(_outside_message(rel))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReferenceDataError(f"无法读取 {rel} / cannot read ({exc})") from None
    try:
        raw = _read_csv_raw(data, spec, rel)
    except _BadEncoding as exc:
        raise ReferenceDataError(str(exc)) from None
    except _MissingColumns as exc:
        raise ReferenceDataError(
            f"{rel}：缺少必需列 {'、'.join(exc.missing)} / required column(s) missing"
        ) from None
    return _process(raw, spec, _Context(year, None, rel, _sha256(data)))


def read_units(path: Path | str, *, landing: Path | None = None) -> pl.DataFrame:
    """机构名录 → frame; raises ReferenceDataError unless it forms one tree of units."""
    res = _read_reference_csv(path, UNITS, year=None, landing=landing)
    rel = res.source_file
    if res.quarantine.height:
        bad = "；".join(
            f"第 {r['row_number']} 行 {r['reason']}" for r in res.quarantine.head(5).to_dicts()
        )
        raise ReferenceDataError(f"{rel}：机构名录有无法读取的行：{bad} / unreadable rows")
    df = res.frame
    dups = df.filter(pl.col("unit_code").is_duplicated())["unit_code"].unique().sort().to_list()
    if dups:
        raise ReferenceDataError(f"{rel}：单位代码重复：{'、'.join(dups)} / duplicate unit code")
    parent = dict(zip(df["unit_code"], df["parent_code"], strict=True))
    level = dict(zip(df["unit_code"], df["level"], strict=True))
    for code, par in parent.items():
        if par is not None and par not in parent:
            raise ReferenceDataError(
                f"{rel}：单位 {code} 的上级单位代码 {par} 不在名录中 / parent not in the file"
            )
    # a cycle first: it also breaks the level order, and "成环" is the message that helps
    for code in parent:
        seen = {code}
        cur = parent[code]
        while cur is not None:
            if cur in seen:
                raise ReferenceDataError(
                    f"{rel}：上级单位关系成环（经过 {code}）/ cycle in parent codes"
                )
            seen.add(cur)
            cur = parent.get(cur)
    rank = {"省": 0, "市": 1, "县": 2}
    for code, par in parent.items():
        if par is not None and rank[level[code]] <= rank[level[par]]:
            raise ReferenceDataError(
                f"{rel}：单位 {code}（{level[code]}）的上级 {par} 级别为{level[par]}，"
                f"级别不符 / bad level: a unit must be below its parent"
            )
    return df


def read_standards(
    path: Path | str, *, landing: Path | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    res = _read_reference_csv(path, STANDARDS, year=None, landing=landing)
    return res.frame, res.quarantine


def read_civil_roster(
    path: Path | str, year: int, *, landing: Path | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    res = _read_reference_csv(path, CIVIL_ROSTER, year=year, landing=landing)
    return res.frame, res.quarantine
