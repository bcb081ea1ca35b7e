"""Scale L (the whole country): the full run next to its floor and its peers (issue 4).

    python -m bench.national --scale L [--year 2019] [--sample 24] [--county CODE] [--reuse-run]
                             [--landing DIR]   # default bench/out/<scale>/landing

Everything below is measured in this one invocation, each part alone in a fresh child process
(own wall time and peak RSS, ``bench.common.run_child``), on the same landing folder and years:

- **run** — ``pipelines.runner.run_pipeline`` (what ``bangfu run`` does) over the years, into a
  folder of this module's own (``bench/out/<scale>/national/data``): wall time, per job, per
  asset step (Dagster's step timings), peak RSS. ``--reuse-run`` takes the last saved one.
- **(a) floor** — ``bench.ingest``'s bare read, unchanged (``--child floor``): ``polars.read_excel``
  of every ledger .xlsx (all sheets), ``polars.read_csv`` of every ledger CSV (all text). It
  reads a view of the landing folder that holds only the measured years (symlinks).
- **(b) DuckDB** — ``bench.rules.duckdb_pass`` (``bench.duckdb_peer``: metrics + roll-up
  and the six peer findings as plain SQL over the run's Parquet lake), one pass, cold process.
- **(c) openpyxl write-only** — for every 审定表 workbook the run wrote: the same sheets (names),
  the same number of rows and of cells per sheet, written with ``openpyxl.Workbook(write_only=
  True)`` as plain values (row number, then text and numbers alternating by column), no styles,
  widths, merges, formulas or layout logic. Sheet and cell counts are read from each workbook's
  XML before the clock starts.
- **(d) pandas + openpyxl**, the way such audits are scripted today: a seeded sample of the
  unit-years (as many CSV units as the landing's share), every ledger file read with
  ``pandas.read_excel(engine="openpyxl", sheet_name=None, header=None, dtype=str)`` or
  ``pandas.read_csv(header=None, dtype=str)`` (UTF-8, else GB18030) and every text cell
  stripped; no audit logic, so it is a lower bound for such a script. The same files are read
  with the floor's polars calls in the same child for the ratio. **Extrapolated** to all
  unit-years by bytes, per form (xlsx / CSV), and labelled so.
- **one county** — ``bangfu run --unit CODE --year Y`` over the run's data folder (a re-run), the
  CLI as a user runs it (interpreter start and imports included). The county is the one whose
  ledger size is the median among the year's counties unless ``--county`` is given.
- **M, same years** — the same run at scale M (when its landing folder exists), for the time
  per household from M to L.

Targets (issue 4): run ≤ 1.5 × (a + b + c); run's peak RSS ≤ 8 GiB; seconds per household L/M ≤
1.15; one-county re-run ≤ 2 % of the run. With ``--year`` the comparison is for those years only
(the run, the peers and M alike).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from bench.common import (
    HOUSEHOLDS,
    OUT,
    emit,
    ensure_landing,
    landing_dir,
    load_saved,
    log,
    run_child,
    save,
    with_packages,
)

MODULE = "bench.national"
GIB = 1024.0  # MB per GiB
TARGET_RUN = 1.5
TARGET_RATIO = 1.15
TARGET_COUNTY = 0.02
TARGET_RSS_MB = 8 * GIB


def work_dir(scale: str) -> Path:
    return OUT / scale / "national"


def run_data(scale: str) -> Path:
    return work_dir(scale) / "data"


def ledger_years(landing: Path) -> list[int]:
    return sorted(int(p.name) for p in (landing / "ledgers").iterdir() if p.name.isdigit())


def landing_view(scale: str, years: list[int], src: Path) -> Path:
    """A landing folder holding only ``years``: symlinks to the reference folder and the years'
    ledger folders (so bench.ingest's floor, which reads every ledger it finds, reads these)."""
    src = src.resolve()
    view = work_dir(scale) / ("view_" + "_".join(map(str, years)))
    shutil.rmtree(view, ignore_errors=True)
    (view / "ledgers").mkdir(parents=True)
    (view / "reference").symlink_to(src / "reference", target_is_directory=True)
    for y in years:
        (view / "ledgers" / str(y)).symlink_to(src / "ledgers" / str(y), target_is_directory=True)
    return view


def _ledger_files(root: Path, years: list[int]) -> dict[tuple[int, str], list[Path]]:
    """(year, unit) → its ledger files (one .xlsx, or the CSV sheets of its folder)."""
    out: dict[tuple[int, str], list[Path]] = {}
    for y in years:
        for p in sorted((root / "ledgers" / str(y)).iterdir()):
            if p.suffix == ".xlsx":
                out[(y, p.stem)] = [p]
            elif p.is_dir():
                out[(y, p.name)] = sorted(p.glob("*.csv"))
    return out


# ------------------------------------------------------------------ children
def child_run(landing: Path, data: Path, years: list[int] | None) -> None:
    """The full pipeline (bangfu run) over ``years`` into ``data`` (emptied first)."""
    import dagster as dg

    from pipelines.runner import run_pipeline

    shutil.rmtree(data, ignore_errors=True)
    os.environ.pop("DAGSTER_HOME", None)
    t0 = time.perf_counter()
    summary = run_pipeline(landing, data, years=years, echo=lambda s: print(s, file=sys.stderr))
    wall = time.perf_counter() - t0
    steps: dict[str, float] = {}
    instance = dg.DagsterInstance.get()
    for run_id in summary.runs:
        for st in instance.get_run_step_stats(run_id):
            if st.start_time and st.end_time:
                steps[st.step_key] = steps.get(st.step_key, 0.0) + st.end_time - st.start_time
    emit(
        {
            "wall_s": round(wall, 3),
            "ok": summary.ok,
            "failures": summary.failures[:20],
            "stage_seconds": {k: round(v, 3) for k, v in summary.stage_seconds.items()},
            "step_seconds": {k: round(v, 3) for k, v in sorted(steps.items())},
            "years": summary.years,
            "units": len(summary.units),
        }
    )


def child_duckdb(data: Path) -> None:
    """bench.rules' DuckDB pass (DuckPeer over the lake's Parquet), once, over ``data``."""
    import bench.rules as br

    br.data_dir = lambda scale: data  # the pass reads data_dir(scale)/lake: point it at ours
    t0 = time.perf_counter()
    counts = br.duckdb_pass("-")
    emit({"seconds": round(time.perf_counter() - t0, 3), "counts": counts})


def _sheet_shapes(path: Path) -> list[tuple[str, int, int]]:
    """(sheet name, rows, cells) of every sheet of an xlsx, from its XML (no openpyxl)."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as zf:
        book = zf.read("xl/workbook.xml").decode("utf-8")
        rels = zf.read("xl/_rels/workbook.xml.rels").decode("utf-8")
        target = {
            m.group(1): m.group(2)
            for m in re.finditer(r'<Relationship[^>]*Id="([^"]+)"[^>]*Target="([^"]+)"', rels)
        }
        target.update(
            {
                m.group(2): m.group(1)
                for m in re.finditer(r'<Relationship[^>]*Target="([^"]+)"[^>]*Id="([^"]+)"', rels)
            }
        )
        out = []
        for m in re.finditer(r"<sheet\b([^>]*)/?>", book):
            attrs = dict(re.findall(r'([\w:]+)="([^"]*)"', m.group(1)))
            name = attrs["name"].replace("&amp;", "&")
            t = target[attrs["r:id"]].lstrip("/")
            xml = zf.read(t if t.startswith("xl/") else "xl/" + t)
            out.append((name, xml.count(b"<row "), xml.count(b"<c ")))
    return out


def child_openpyxl(data: Path, years: list[int], scratch: Path) -> None:
    """The same sheets / rows / cells as the run's workbooks, written by openpyxl write-only."""
    from openpyxl import Workbook

    books = [p for y in years for p in sorted((data / "workbooks" / str(y)).glob("*.xlsx"))]
    t0 = time.perf_counter()
    shapes = [(p, _sheet_shapes(p)) for p in books]
    prep = time.perf_counter() - t0
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    text = ["困难职工帮扶资金审计", "生活救助", "已核实", "符合", "问题描述：未建档发放"]
    cells = rows = sheets = 0
    t0 = time.perf_counter()
    for i, (_p, sh) in enumerate(shapes):
        wb = Workbook(write_only=True)
        for name, n_rows, n_cells in sh:
            ws = wb.create_sheet(name)
            k = max(1, -(-n_cells // n_rows)) if n_rows else 0
            left = n_cells
            for r in range(n_rows):
                w = min(k, left)
                left -= w
                ws.append(
                    [r + 1]
                    + [
                        text[(r + c) % len(text)] if c % 2 else round(1000.5 + r * 3.25 + c, 2)
                        for c in range(1, w)
                    ]
                )
            cells += n_cells
            rows += n_rows
            sheets += 1
        wb.save(scratch / f"{i:05d}.xlsx")
    wall = time.perf_counter() - t0
    emit(
        {
            "seconds": round(wall, 3),
            "shape_read_seconds": round(prep, 3),
            "workbooks": len(books),
            "sheets": sheets,
            "rows": rows,
            "cells": cells,
        }
    )


def child_pandas(landing: Path, years: list[int], sample: int, seed: int) -> None:
    """pandas + openpyxl reading a seeded sample of unit-years; polars on the same files."""
    import logging

    import numpy as np
    import pandas as pd
    import polars as pl

    logging.disable(logging.WARNING)
    files = _ledger_files(landing, years)
    keys = sorted(files)
    csv_keys = [k for k in keys if files[k] and files[k][0].suffix == ".csv"]
    xlsx_keys = [k for k in keys if files[k] and files[k][0].suffix == ".xlsx"]
    rng = np.random.default_rng(seed)
    n_csv = round(sample * len(csv_keys) / max(1, len(keys)))
    n_xlsx = max(1, sample - n_csv) if xlsx_keys else 0
    n_csv = min(len(csv_keys), sample - n_xlsx)
    pick = {
        "xlsx": [xlsx_keys[i] for i in sorted(rng.choice(len(xlsx_keys), n_xlsx, replace=False))]
        if n_xlsx
        else [],
        "csv": [csv_keys[i] for i in sorted(rng.choice(len(csv_keys), n_csv, replace=False))]
        if n_csv
        else [],
    }

    def read_csv_pandas(p: Path) -> pd.DataFrame:
        for enc in ("utf-8-sig", "gb18030"):
            try:
                return pd.read_csv(p, header=None, dtype=str, encoding=enc, keep_default_na=False)
            except UnicodeDecodeError:
                continue
        raise ValueError(p)

    def strip(df: pd.DataFrame) -> int:
        for c in df.columns:
            df[c] = df[c].str.strip()
        return len(df)

    out: dict = {"sample_seed": seed, "forms": {}}
    for form, ks in pick.items():
        paths = [p for k in ks for p in files[k]]
        size = sum(p.stat().st_size for p in paths)
        t0 = time.perf_counter()
        rows = 0
        for p in paths:
            if form == "xlsx":
                for df in pd.read_excel(
                    p, engine="openpyxl", sheet_name=None, header=None, dtype=str
                ).values():
                    rows += strip(df)
            else:
                rows += strip(read_csv_pandas(p))
        t_pd = time.perf_counter() - t0
        t0 = time.perf_counter()
        for p in paths:
            if form == "xlsx":
                pl.read_excel(p, sheet_id=0)
            else:
                pl.read_csv(
                    p,
                    has_header=False,
                    infer_schema=False,
                    encoding="utf8-lossy",
                    truncate_ragged_lines=True,
                )
        t_pl = time.perf_counter() - t0
        all_paths = [p for k in (xlsx_keys if form == "xlsx" else csv_keys) for p in files[k]]
        total = sum(p.stat().st_size for p in all_paths)
        out["forms"][form] = {
            "unit_years_sampled": len(ks),
            "unit_years_total": len(xlsx_keys if form == "xlsx" else csv_keys),
            "files": len(paths),
            "bytes_sampled": size,
            "bytes_total": total,
            "raw_rows_sampled": rows,
            "pandas_seconds": round(t_pd, 3),
            "polars_seconds": round(t_pl, 3),
            "pandas_over_polars": round(t_pd / t_pl, 2) if t_pl else None,
            "extrapolated_seconds": round(t_pd * total / size, 1) if size else 0.0,
        }
    out["extrapolated_seconds"] = round(
        sum(v["extrapolated_seconds"] for v in out["forms"].values()), 1
    )
    emit(out)


def pyspy_top(path: Path, n: int = 8) -> dict[str, list[tuple[str, float]]]:
    """The largest costs in a ``py-spy record --format raw`` file: share of samples per leaf
    frame (own time), per project function anywhere on the stack (cumulative), and per
    (project function, leaf library call) pair."""
    import re

    own: dict[str, int] = {}
    cum: dict[str, int] = {}
    pair: dict[str, int] = {}
    total = 0
    proj = re.compile(r"\((?:bangfu|assets|pipelines|resources|checks|warehouse|bench)/")
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        k = int(count)
        total += k
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";") if "(" in f]
        if not frames:
            continue
        leaf = frames[-1]
        own[leaf] = own.get(leaf, 0) + k
        mine = [f for f in frames if proj.search(f)]
        for f in set(mine):
            cum[f] = cum.get(f, 0) + k
        if mine:
            key = f"{mine[-1]} → {leaf}"
            pair[key] = pair.get(key, 0) + k

    def top(d: dict[str, int]) -> list[tuple[str, float]]:
        return [(f, round(c / total, 4)) for f, c in sorted(d.items(), key=lambda x: -x[1])[:n]]

    return {"samples": total, "own": top(own), "project_cumulative": top(cum), "pairs": top(pair)}


# ------------------------------------------------------------------ parent
def median_county(landing: Path, year: int) -> str:
    import csv

    with (landing / "reference" / "units.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    head = rows[0]
    i_code, i_level = head.index("单位代码"), head.index("级别")
    counties = {r[i_code] for r in rows[1:] if r[i_level] == "县"}
    files = _ledger_files(landing, [year])
    sizes = sorted(
        (sum(p.stat().st_size for p in fs), u) for (_, u), fs in files.items() if u in counties
    )
    return sizes[len(sizes) // 2][1]


def measure(
    scale: str = "L",
    years: list[int] | None = None,
    sample: int = 24,
    county: str | None = None,
    reuse_run: bool = False,
    with_m: bool = True,
    landing: Path | None = None,
) -> dict:
    if landing is None:
        ensure_landing(scale)
        landing = landing_dir(scale)
    landing = landing.resolve()
    largs = ["--landing", str(landing)]
    years = years or ledger_years(landing)
    yargs = [a for y in years for a in ("--year", str(y))]
    data = run_data(scale).resolve()
    res: dict = {"scale": scale, "years": years, "landing": str(landing), "data": str(data)}
    manifest = landing / "truth" / "manifest.json"
    if manifest.exists():
        m = json.loads(manifest.read_text(encoding="utf-8"))
        res["landing_counts"] = {k: m["counts"].get(k) for k in ("units", "xlsx", "csv")}
        res["landing_counts"]["csv_share"] = m.get("csv_share")

    saved = load_saved(scale, "national_run") if reuse_run else None
    if saved and saved.get("years") == years:
        log(f"{scale}: reusing the run measured {saved.get('measured_at')}")
        run = saved
    else:
        log(f"{scale}: the full run (bangfu run) over {years} into {data} …")
        run = run_child(
            MODULE, ["--child", "run", "--scale", scale, "--data", str(data), *largs, *yargs]
        )
        run["years"] = years
        save(run, scale, "national_run")
    res["run"] = run

    view = landing_view(scale, years, landing)
    log(f"{scale}: (a) floor — bench.ingest's bare read over {view} …")
    res["floor"] = run_child("bench.ingest", ["--child", "floor", "--landing", str(view)])
    log(f"{scale}: (b) DuckDB SQL over the lake …")
    res["duckdb"] = run_child(MODULE, ["--child", "duckdb", "--scale", scale, "--data", str(data)])
    log(f"{scale}: (c) the run's workbooks again with openpyxl write-only …")
    res["openpyxl"] = run_child(
        MODULE, ["--child", "openpyxl", "--scale", scale, "--data", str(data), *yargs]
    )
    shutil.rmtree(work_dir(scale) / "openpyxl_out", ignore_errors=True)
    log(f"{scale}: (d) pandas + openpyxl on a sample of {sample} unit-years …")
    res["pandas"] = run_child(
        MODULE,
        ["--child", "pandas", "--scale", scale, "--sample", str(sample), *largs, *yargs],
        python=with_packages("pandas>=2.2"),
    )
    y = years[-1]
    code = county or median_county(landing, y)
    log(f"{scale}: one county re-run: bangfu run --unit {code} --year {y} …")
    res["county"] = run_child(
        "bangfu.cli",
        ["run", "--landing", str(landing), "--data", str(data), "--unit", code, "--year", str(y)],
    )
    res["county"]["unit"] = code
    if with_m and scale != "M" and (landing_dir("M") / "ledgers").is_dir():
        m_years = [x for x in years if (landing_dir("M") / "ledgers" / str(x)).is_dir()]
        m_data = run_data("M").resolve()
        log(f"M: the same run over {m_years} for the time per household …")
        res["run_M"] = run_child(
            MODULE,
            ["--child", "run", "--scale", "M", "--data", str(m_data)]
            + [a for x in m_years for a in ("--year", str(x))],
        )
        res["run_M"]["years"] = m_years
    spy = OUT / scale / f"pyspy_{'_'.join(map(str, years))}.txt"
    if spy.exists():  # a py-spy record of the run (raw format), made next to it by hand
        res["profile"] = {"file": str(spy), **pyspy_top(spy)}
    gen = load_saved(scale, "generate")
    if gen:  # figures of the landing's generation, saved by hand (bench/out/<scale>/…)
        res["generate"] = gen
    res["summary"] = summarise(res)
    return res


def summarise(res: dict) -> dict:
    run = res["run"]
    wall = run["wall_s"]
    a = res["floor"]["result"]["seconds"]
    b = res["duckdb"]["result"]["seconds"]
    c = res["openpyxl"]["result"]["seconds"]
    peers = a + b + c
    s: dict = {
        "run_s": wall,
        # what the machine must hold: the run's process and its pool workers together
        "run_peak_rss_mb": run.get("peak_tree_rss_mb") or run["peak_rss_mb"],
        "floor_s": a,
        "duckdb_s": b,
        "openpyxl_s": c,
        "peers_s": round(peers, 2),
        "run_over_peers": round(wall / peers, 2),
        "pandas_extrapolated_s": res["pandas"]["result"]["extrapolated_seconds"],
        "county_s": res["county"]["wall_s"],
        "county_share": round(res["county"]["wall_s"] / wall, 4),
    }
    hh_years = len(res["years"])
    s["s_per_household_year"] = wall / (HOUSEHOLDS[res["scale"]] * hh_years)
    if "run_M" in res:
        m = res["run_M"]
        s["M_run_s"] = m["wall_s"]
        s["M_s_per_household_year"] = m["wall_s"] / (HOUSEHOLDS["M"] * len(m["years"]))
        s["L_over_M_per_household"] = round(
            s["s_per_household_year"] / s["M_s_per_household_year"], 2
        )
    s["targets"] = targets(s)
    return s


def targets(s: dict) -> list[str]:
    def verdict(ok: bool, miss: str) -> str:
        return "met" if ok else f"MISSED ({miss})"

    out = [
        f"full run {s['run_s']:,.0f} s ≤ {TARGET_RUN} × (a + b + c) = "
        f"{TARGET_RUN * s['peers_s']:,.0f} s → "
        + verdict(s["run_over_peers"] <= TARGET_RUN, f"{s['run_over_peers']:.2f}×"),
        f"peak RSS {s['run_peak_rss_mb'] / GIB:.2f} GiB ≤ 8 GiB → "
        + verdict(s["run_peak_rss_mb"] <= TARGET_RSS_MB, f"{s['run_peak_rss_mb'] / GIB:.2f} GiB"),
        f"one-county re-run {s['county_s']:,.1f} s ≤ 2 % of the run → "
        + verdict(s["county_share"] <= TARGET_COUNTY, f"{s['county_share']:.1%}"),
    ]
    if "L_over_M_per_household" in s:
        r = s["L_over_M_per_household"]
        out.append(
            f"time per household L/M {r:.2f} ≤ {TARGET_RATIO} → "
            + verdict(r <= TARGET_RATIO, f"{r / TARGET_RATIO - 1:.0%} over")
        )
    else:
        out.append("time per household L/M: M not measured in this run")
    return out


def table(res: dict) -> str:
    s = res["summary"]
    run = res["run"]
    r = run.get("result") or {}
    fl, dk, op, pd_ = (res[k]["result"] for k in ("floor", "duckdb", "openpyxl", "pandas"))
    lc = res.get("landing_counts") or {}
    lines = [
        f"**national ({res['scale']})** — years {', '.join(map(str, res['years']))}; landing "
        f"{lc.get('units', '?')} units, {lc.get('xlsx', '?')} xlsx + {lc.get('csv', '?')} CSV "
        f"unit-years (CSV share {lc.get('csv_share', '?')}); each row alone in a fresh process",
        "",
        "| what | s | peak RSS MB | note |",
        "|---|---:|---:|---|",
        f"| full run (`bangfu run`) | {run['wall_s']:,.1f} | {run['peak_rss_mb']:,.0f} "
        f"(with its workers {run.get('peak_tree_rss_mb') or 0:,.0f}) | "
        f"ok={r.get('ok')}; jobs: "
        + ", ".join(f"{k} {v:,.0f}" for k, v in (r.get("stage_seconds") or {}).items())
        + " |",
        f"| (a) floor: bare polars read_excel + read_csv | {fl['seconds']:,.1f} | "
        f"{res['floor']['peak_rss_mb']:,.0f} | {fl['files_xlsx']} xlsx + {fl['files_csv']} CSV "
        f"files, {fl['raw_rows']:,} raw rows |",
        f"| (b) DuckDB SQL over the lake (DuckPeer) | {dk['seconds']:,.1f} | "
        f"{res['duckdb']['peak_rss_mb']:,.0f} | metrics + roll-up + six findings |",
        f"| (c) openpyxl write-only, same sheets/rows/cells | {op['seconds']:,.1f} | "
        f"{res['openpyxl']['peak_rss_mb']:,.0f} | {op['workbooks']:,} workbooks, "
        f"{op['cells']:,} cells, plain values |",
        f"| (d) pandas + openpyxl read, **extrapolated** | {pd_['extrapolated_seconds']:,.0f} | "
        f"{res['pandas']['peak_rss_mb']:,.0f} | "
        + "; ".join(
            f"{f}: {v['unit_years_sampled']}/{v['unit_years_total']} unit-years sampled, "
            f"{v['pandas_seconds']:.1f} s (polars {v['polars_seconds']:.1f} s, "
            f"{v['pandas_over_polars']}×)"
            for f, v in pd_["forms"].items()
        )
        + " |",
        f"| one county re-run (`bangfu run --unit {res['county']['unit']} --year "
        f"{res['years'][-1]}`) | {res['county']['wall_s']:,.1f} | "
        f"{res['county']['peak_rss_mb']:,.0f} | CLI, start-up included |",
    ]
    if "run_M" in res:
        lines.append(
            f"| M, same years (for the ratio) | {res['run_M']['wall_s']:,.1f} | "
            f"{res['run_M']['peak_rss_mb']:,.0f} | {HOUSEHOLDS['M']:,} households |"
        )
    steps = r.get("step_seconds") or {}
    if steps:
        lines += ["", "Run's asset steps (Dagster step timings, summed over runs): "]
        lines.append(", ".join(f"{k} {v:,.1f} s" for k, v in steps.items()))
    prof = res.get("profile")
    if prof:
        lines += ["", f"py-spy profile of the run ({prof['samples']:,} samples, {prof['file']}):"]
        for title, key in (
            ("project functions, cumulative", "project_cumulative"),
            ("own time (leaf frames)", "own"),
            ("project function → leaf call", "pairs"),
        ):
            top = "; ".join(f"`{f}` {share:.1%}" for f, share in prof[key][:5])
            lines.append(f"- {title}: {top}")
    gen = res.get("generate")
    if gen:
        lines += ["", "Generating the landing folder:", ""]
        lines += [f"- {k}: {v}" for k, v in gen.items() if k != "measured_at"]
    lines += ["", "Targets:", ""] + [f"- {t}" for t in s["targets"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m bench.national", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--scale", default="L", choices=["S", "M", "L"])
    ap.add_argument("--year", type=int, action="append", help="only these years (repeatable)")
    ap.add_argument("--sample", type=int, default=24, help="unit-years read with pandas")
    ap.add_argument("--county", help="unit code of the one-county re-run")
    ap.add_argument("--reuse-run", action="store_true", help="reuse the saved full run")
    ap.add_argument("--no-m", action="store_true", help="skip the M run (per-household ratio)")
    ap.add_argument("--landing", type=Path, help="landing folder (default bench/out/<scale>/…)")
    ap.add_argument("--pyspy", type=Path, help="only summarise a py-spy raw profile")
    ap.add_argument(
        "--child", choices=["run", "duckdb", "openpyxl", "pandas"], help=argparse.SUPPRESS
    )
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.pyspy:
        print(json.dumps(pyspy_top(a.pyspy), indent=1, ensure_ascii=False))
        return None
    landing = (a.landing or landing_dir(a.scale)).resolve()
    if a.child == "run":
        return child_run(landing, a.data, a.year)
    if a.child == "duckdb":
        return child_duckdb(a.data)
    years = a.year or ledger_years(landing)
    if a.child == "openpyxl":
        return child_openpyxl(a.data, years, work_dir(a.scale) / "openpyxl_out")
    if a.child == "pandas":
        return child_pandas(landing, years, a.sample, seed=0)
    res = measure(a.scale, a.year, a.sample, a.county, a.reuse_run, not a.no_m, a.landing)
    save(res, a.scale, "national")
    print(table(res))


if __name__ == "__main__":
    sys.exit(main())
