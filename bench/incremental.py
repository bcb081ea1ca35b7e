"""Incremental runs against the full run, in one command (issue #21).

    python -m bench.incremental [--scale S12] [--year 2019] [--share-scale L] [--out DIR]

In one run, on a landing folder generated at ``--scale`` (default S12: 12 counties × about
2,000 households × 3 years):

1. the full ``bangfu run`` against its floor measured right after it: a bare read of the same
   ledgers (polars ``read_excel`` of every sheet, ``read_csv`` of every CSV sheet) plus a bare
   xlsxwriter write of the same workbook cell values the run wrote;
2. a one-county re-run (five archive rows removed from one CSV county, ``--unit --year``);
3. a nightly run after three ledgers changed (``--unit a --unit b --unit c --year``);
4. with ``--share-scale`` (L for the issue's 2 % target), the one-county re-run's share of a
   full year at that scale (generated for ``--year`` only).

Every run is a fresh ``bangfu`` process (start-up and imports included). On a shared machine
the figures are indicative: compare the ratios printed by one run, not seconds across runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.common import REPO

ARCHIVE = "困难职工档案.csv"


def _bangfu(*args: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bangfu.cli", *args], cwd=REPO, capture_output=True, text=True
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(
            f"bangfu {' '.join(args)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return seconds


def _generate(out: Path, scale: str, years: tuple[int, ...]) -> Path:
    from bangfu.generate.landing import generate

    landing = out / f"landing-{scale}-{'-'.join(map(str, years))}"
    if not (landing / "ledgers").is_dir():
        generate(landing, scale=scale, seed=0, years=years)
    return landing


def _csv_counties(landing: Path, year: int) -> list[str]:
    root = landing / "ledgers" / str(year)
    return [d.name for d in sorted(root.iterdir()) if d.is_dir() and (d / ARCHIVE).exists()]


def _drop_rows(landing: Path, year: int, unit: str, n: int = 5) -> None:
    path = landing / "ledgers" / str(year) / unit / ARCHIVE
    lines = path.read_bytes().split(b"\n")
    mid = len(lines) // 2
    path.write_bytes(b"\n".join(lines[:mid] + lines[mid + n :]))


def _floor(landing: Path, data: Path) -> dict[str, float]:
    """Bare read of every ledger sheet, and bare xlsxwriter write of the run's workbook values."""
    import polars as pl
    import xlsxwriter
    from openpyxl import load_workbook

    t0 = time.perf_counter()
    for path in sorted((landing / "ledgers").rglob("*")):
        if path.suffix == ".xlsx":
            pl.read_excel(path, sheet_id=0, engine="calamine", raise_if_empty=False)
        elif path.suffix == ".csv":
            pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True, encoding="utf8-lossy")
    read = time.perf_counter() - t0
    books = []
    for path in sorted((data / "workbooks").rglob("*.xlsx")):  # values loaded outside the clock
        wb = load_workbook(path, read_only=True, data_only=True)
        books.append({ws.title: list(ws.iter_rows(values_only=True)) for ws in wb})
        wb.close()
    out = data.parent / "floor-write"
    out.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    for i, book in enumerate(books):
        wb = xlsxwriter.Workbook(str(out / f"{i}.xlsx"), {"constant_memory": True})
        for title, rows in book.items():
            ws = wb.add_worksheet(title[:31])
            for r, row in enumerate(rows):
                for c, v in enumerate(row):
                    if v is not None:
                        ws.write(r, c, v)
        wb.close()
    return {"read": read, "write": time.perf_counter() - t0}


def measure(out: Path, scale: str, year: int, share_scale: str | None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    res: dict = {"scale": scale, "year": year}
    landing = _generate(out, scale, (year - 2, year - 1, year))
    data = out / f"data-{scale}"
    res["full_run_s"] = _bangfu("run", "--landing", str(landing), "--data", str(data))
    floor = _floor(landing, data)
    res["floor_read_s"], res["floor_write_s"] = floor["read"], floor["write"]
    res["full_vs_floor"] = res["full_run_s"] / (floor["read"] + floor["write"])
    counties = _csv_counties(landing, year)
    _drop_rows(landing, year, counties[0])
    res["one_county_s"] = _bangfu(
        "run", "--landing", str(landing), "--data", str(data), "--year", str(year),
        "--unit", counties[0],
    )  # fmt: skip
    res["one_county_share"] = res["one_county_s"] / res["full_run_s"]
    three = (counties * 3)[1:4]
    for unit in three:
        _drop_rows(landing, year, unit)
    res["nightly_3_s"] = _bangfu(
        "run", "--landing", str(landing), "--data", str(data), "--year", str(year),
        *[a for u in dict.fromkeys(three) for a in ("--unit", u)],
    )  # fmt: skip
    if share_scale:
        big = _generate(out, share_scale, (year,))
        big_data = out / f"data-{share_scale}-{year}"
        full = _bangfu("run", "--landing", str(big), "--data", str(big_data))
        unit = _csv_counties(big, year)[0]
        _drop_rows(big, year, unit)
        one = _bangfu(
            "run", "--landing", str(big), "--data", str(big_data), "--year", str(year),
            "--unit", unit,
        )  # fmt: skip
        res[f"{share_scale}_full_year_s"], res[f"{share_scale}_one_county_s"] = full, one
        res[f"{share_scale}_one_county_share"] = one / full
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="S12", choices=["S", "S12", "M", "L"])
    ap.add_argument("--year", type=int, default=2019)
    ap.add_argument("--share-scale", default=None, choices=["S", "S12", "M", "L"])
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "incremental")
    a = ap.parse_args(argv)
    res = measure(a.out, a.scale, a.year, a.share_scale)
    print(f"scale {res['scale']}, year {res['year']} (indicative: one run on this machine)")
    print(
        f"full run {res['full_run_s']:.1f} s vs floor {res['floor_read_s']:.1f} s read + "
        f"{res['floor_write_s']:.1f} s write: {res['full_vs_floor']:.2f}× (target ≤ 3×)"
    )
    print(
        f"one-county re-run {res['one_county_s']:.1f} s = {100 * res['one_county_share']:.1f} %"
        " of the full run (target ≤ 10 %)"
    )
    print(f"nightly run, 3 changed ledgers: {res['nightly_3_s']:.1f} s")
    if a.share_scale:
        s = a.share_scale
        print(
            f"{s}: one-county re-run {res[f'{s}_one_county_s']:.1f} s of a full year "
            f"{res[f'{s}_full_year_s']:.1f} s = {100 * res[f'{s}_one_county_share']:.1f} %"
            " (target ≤ 2 %)"
        )
    print("BENCH_RESULT " + json.dumps(res))


if __name__ == "__main__":
    main()
