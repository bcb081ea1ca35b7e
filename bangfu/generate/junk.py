"""Planted unreadable ("junk") rows of a rendered sheet: extra rows built on a template data
row, each with the columns and kind of failure a correct reader quarantines it for."""

from __future__ import annotations

import numpy as np
import polars as pl

from bangfu.generate.cells import NUM
from bangfu.sheets import SheetSpec

JUNK_KINDS = (
    "required_empty",
    "bad_date",
    "bad_amount",
    "nonpositive_amount",
    "id_lost_digits",
    "long_cell",
    "exit_no_date",
    "exit_no_path",
    "bad_pairing",
    "bad_optional_int",
    "bad_optional_date",
    "multi",
)
LONG_CELL_CHARS = 32_800  # > 32,767, Excel's own limit: CSV only


def applicable_junk(spec: SheetSpec, df: pl.DataFrame, form: str) -> list[str]:
    """Junk kinds that can be planted in this sheet (needs a template data row)."""
    if df.height == 0:
        return []
    kinds = []
    by = {c.name: c for c in spec.columns}
    req = [c for c in spec.columns if c.required]
    if req:
        kinds.append("required_empty")
    if any(c.kind == "date" and c.required for c in req):
        kinds.append("bad_date")
    if any(c.kind == "amount" and (c.required or c.must_exist) for c in spec.columns):
        kinds.append("bad_amount")
    if spec.key == "payments":
        kinds += ["nonpositive_amount", "multi"]
    if "id_number" in by and by["id_number"].required:
        kinds.append("id_lost_digits")
    if form == "csv" and any(c.kind == "text" for c in spec.columns):
        kinds.append("long_cell")
    if spec.key == "archive":
        kinds += ["exit_no_date", "exit_no_path"]
    if spec.key == "evaluation":
        kinds.append("bad_pairing")
    if any(c.kind == "int" and not c.required for c in spec.columns):
        kinds.append("bad_optional_int")
    if any(c.kind == "date" and not c.required for c in spec.columns):
        kinds.append("bad_optional_date")
    return kinds


def _fresh(prefix: str, k: int) -> str:
    return f"{prefix}{k:03d}"


def junk_rows(
    kinds: list[str],
    spec: SheetSpec,
    body: pl.DataFrame,
    pos: dict[str, str],
    form: str,
    rng: np.random.Generator,
    year: int,
    fresh_prefix: str,
) -> tuple[list[dict], list[tuple[str, str]]]:
    """Unreadable extra rows built on a template data row; returns rows and (columns, kind)."""
    rows, truth = [], []
    by = {c.name: c for c in spec.columns}
    key_cols = [n for n in ("payment_no", "voucher_no", "archive_no", "sample_no") if n in pos]
    for j, kind in enumerate(kinds):
        row = dict(body.row(int(rng.integers(body.height)), named=True))
        for n in key_cols:
            row[pos[n]] = _fresh(f"{fresh_prefix}{n[0].upper()}", j)

        def put(name: str, value: str | None, row=row) -> None:
            row[pos[name]] = value

        failing: list[str] = []
        if kind == "required_empty":
            req = [c for c in spec.columns if c.required and c.name in pos]
            c = req[int(rng.integers(len(req)))]
            put(c.name, [None, " ", "\u3000"][int(rng.integers(3))])
            failing = [c.name]
        elif kind in ("bad_date", "bad_optional_date"):
            cands = [
                c
                for c in spec.columns
                if c.kind == "date" and c.required == (kind == "bad_date") and c.name in pos
            ]
            c = cands[int(rng.integers(len(cands)))]
            put(c.name, [f"{year}-02-30", "明天", f"{year}.13.01", "去年底"][int(rng.integers(4))])
            failing = [c.name]
        elif kind == "bad_amount":
            cands = [
                c
                for c in spec.columns
                if c.kind == "amount" and (c.required or c.must_exist) and c.name in pos
            ]
            c = cands[int(rng.integers(len(cands)))]
            put(c.name, ["约500", "五百元", "500元左右"][int(rng.integers(3))])
            failing = [c.name]
        elif kind == "nonpositive_amount":
            v = ["0", "-200.00", "0.00元"][int(rng.integers(3))]
            put("amount", NUM + v.removesuffix("元") if form == "xlsx" and j % 2 else v)
            failing = ["amount"]
        elif kind == "id_lost_digits":
            digits = f"520102{int(rng.integers(1960, 2000))}{int(rng.integers(101, 1229)):04d}"
            digits += f"{int(rng.integers(1, 999)):03d}{int(rng.integers(10))}"
            lost = digits[:15] + "000"  # Excel keeps 15 significant digits
            if form == "xlsx":
                put("id_number", NUM + lost)
            else:
                put("id_number", f"{digits[0]}.{digits[1:6].rstrip('0') or '0'}E+17")
            failing = ["id_number"]
        elif kind == "long_cell":
            cands = [c for c in spec.columns if c.kind == "text" and c.name in pos]
            c = cands[int(rng.integers(len(cands)))]
            put(c.name, "很长的说明" * (LONG_CELL_CHARS // 5 + 1))
            failing = [c.name]
        elif kind == "exit_no_date":
            put("status", "已退档")
            put("exited_on", None)
            put("exit_reason", "其他")
            put("exit_path", None)
            failing = ["exited_on"]
        elif kind == "exit_no_path":
            put("status", "已退档")
            put("exited_on", f"{year}-12-20")
            put("exit_reason", "脱困")
            put("exit_path", None)
            failing = ["exit_path"]
        elif kind == "bad_pairing":
            put("sample_type", "在档户")
            put("verdict", "错退")
            failing = ["verdict"]
        elif kind == "bad_optional_int":
            cands = [
                c for c in spec.columns if c.kind == "int" and not c.required and c.name in pos
            ]
            c = cands[int(rng.integers(len(cands)))]
            put(c.name, ["约7", "不详", "七天"][int(rng.integers(3))])
            failing = [c.name]
        elif kind == "multi":
            put("id_number", None)
            put("paid_on", f"{year}-02-30")
            failing = ["paid_on", "id_number"]
        order = [c.name for c in spec.columns]
        failing.sort(key=order.index)
        rows.append(row)
        truth.append(("、".join(by[n].header for n in failing), kind))
    return rows, truth
