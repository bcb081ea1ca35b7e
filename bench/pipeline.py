"""The full pipeline at a scale: per-stage wall time, rows/s, peak RSS and Dagster's overhead.

    python -m bench.pipeline --scale S            # Dagster run + pure replay, prints a table
    python -m bench.pipeline --scale M --profile  # also a cProfile'd Dagster run (latest year)

Method
------
1. **Dagster run** — ``pipelines.runner.run_pipeline`` (what ``bangfu run`` does) over the whole
   landing folder into a fresh ``bench/out/<scale>/data``, in its own process: total wall time,
   ``RunSummary.stage_seconds`` per job, the step start/end times Dagster recorded for every
   asset step (``instance.get_run_step_stats``), and the process's peak RSS.
2. **Pure replay** — the same work the asset bodies do (the same pure functions of ``bangfu``,
   ``warehouse`` and ``bangfu.forms`` over the same partitions and the same lake/warehouse, with
   the same writes) without Dagster, one fresh process per stage, so each stage gets its own peak
   RSS. "validate" is the time spent inside the pandera check (``readers._schema_failures``),
   measured by wrapping it during the ingest replay; it is part of ingest's time.
3. **Dagster overhead** = Dagster run wall time − pure replay time of the same stages; its share
   is that over the Dagster run's wall time. ``outside steps`` is the part spent outside the asset
   steps (launching runs, planning, run events), from Dagster's own step timings; the rest of the
   overhead is inside the steps (per-partition materialisation events, metadata, checks).
   The two runs are sequential on a shared machine: the difference carries that noise.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import time
from pathlib import Path

from bench.common import (
    HOUSEHOLDS,
    REPO,
    data_dir,
    emit,
    ensure_landing,
    landing_dir,
    log,
    rate,
    run_child,
    save,
    timed,
)

STAGES = ("ingest", "validate", "findings", "metrics", "workbooks", "reports")
PURE_STAGES = ("ingest", "findings", "metrics", "workbooks", "reports")
# Dagster job → the pure stages it runs.
JOB_STAGES = {
    "reference_job": ("reference",),
    "unit_stage_job": ("ingest", "unit_findings"),
    "year_stage_job": ("cross_findings", "metrics"),
    "output_stage_job": ("workbooks", "reports"),
}
ASSET_FNS = {
    "reference_units",
    "reference_standards",
    "landing_inventory",
    "ledgers",
    "unit_findings",
    "cross_unit_findings",
    "unit_year_metrics",
    "audit_workbooks",
}
STEP_STAGE = {
    "ledgers": "ingest",
    "unit_findings": "findings",
    "cross_unit_findings": "findings",
    "unit_year_metrics": "metrics",
    "audit_workbooks": "workbooks+reports",
}


# ------------------------------------------------------------------ child: the Dagster run
def child_dagster(scale: str, years: list[int] | None, profile: Path | None) -> None:
    import json

    import dagster as dg
    import polars as pl

    from pipelines.runner import run_pipeline

    # The timed full run fills the lake the other modules read; a partial or profiled run gets a
    # folder of its own so that lake stays whole.
    data = data_dir(scale) if not (years or profile) else data_dir(scale).with_name("data_partial")
    shutil.rmtree(data, ignore_errors=True)
    os.environ.pop("DAGSTER_HOME", None)
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    summary = run_pipeline(
        landing_dir(scale), data, years=years, echo=lambda s: print(s, file=sys.stderr)
    )
    if prof:
        prof.disable()
    wall = time.perf_counter() - t0
    out: dict = {
        "wall_s": round(wall, 3),
        "ok": summary.ok,
        "failures": summary.failures[:20],
        "failed_stages": summary.failed_stages,
        "stage_seconds": {k: round(v, 3) for k, v in summary.stage_seconds.items()},
        "runs": len(summary.runs) + 1,  # + the reference run
        "years": summary.years,
        "units": len(summary.units),
    }
    if prof:
        prof.dump_stats(profile)
        out["profile"] = str(profile)
        out["top"] = top_costs(profile)
    instance = dg.DagsterInstance.get()
    steps: dict[str, float] = {}
    for run_id in summary.runs:
        for st in instance.get_run_step_stats(run_id):
            if st.start_time and st.end_time:
                steps[st.step_key] = steps.get(st.step_key, 0.0) + st.end_time - st.start_time
    out["step_seconds"] = {k: round(v, 3) for k, v in steps.items()}
    out["rows"] = lake_rows(data)
    if not profile and summary.ok and not years:
        (data / "bench_ok.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    del pl
    emit(out)


def lake_rows(data: Path) -> dict[str, int]:
    """Rows in the lake per ledger sheet (all years), from the Parquet metadata."""
    import polars as pl

    from bangfu.sheets import LEDGER_SHEETS

    counts = {}
    for spec in LEDGER_SHEETS:
        files = sorted((data / "lake" / spec.key).glob("year=*/unit=*/data.parquet"))
        counts[spec.key] = (
            int(pl.scan_parquet(files).select(pl.len()).collect().item()) if files else 0
        )
    return counts


def top_costs(path: Path, n: int = 3) -> dict[str, list[dict]]:
    """The n largest costs: by own time (tottime) and by cumulative time in project code."""
    st = pstats.Stats(str(path))
    rows = []
    for (file, line, fn), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{Path(file).name}:{line}:{fn}", "file": file, "calls": nc,
                     "tottime_s": round(tt, 2), "cumtime_s": round(ct, 2)})  # fmt: skip
    own = sorted(rows, key=lambda r: -r["tottime_s"])[:n]
    project = [
        r
        for r in rows
        if any(f"{REPO / p}/" in r["file"] for p in ("bangfu", "warehouse", "checks", "assets"))
        and "__init__" not in r["function"]
    ]
    # Project functions by cumulative time, skipping those that only wrap a bigger one below.
    cum = sorted(project, key=lambda r: -r["cumtime_s"])[: 4 * n]
    for r in own + cum:
        r.pop("file", None)
    # Same-run split: time inside the asset bodies vs the whole run_pipeline call.
    bodies = total = 0.0
    for (file, _line, fn), (_cc, _nc, _tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        if fn in ASSET_FNS and f"{REPO / 'assets'}/" in file:
            bodies += ct
        elif fn == "run_pipeline" and file.endswith("runner.py"):
            total = ct
    split = {
        "run_pipeline_s": round(total, 2),
        "asset_bodies_s": round(bodies, 2),
        "dagster_s": round(total - bodies, 2),
        "dagster_share": round((total - bodies) / total, 3) if total else None,
    }
    return {"by_own_time": own, "by_cumulative_time_project": cum, "bodies_split": split}


# ------------------------------------------------------------------ child: the pure replay
def child_pure(scale: str, stage: str, years: list[int] | None, units: list[str] | None) -> None:
    """Replay one stage's asset bodies without Dagster (see the module docstring)."""
    import polars as pl

    from assets import loaders
    from assets.common import grouped
    from bangfu import readers, rules
    from bangfu.lake import Lake
    from warehouse.store import Warehouse, default_url

    data = data_dir(scale)
    lake = Lake(data / "lake")
    wh = Warehouse(default_url(data))
    all_units = lake.read_single("ref_units")
    status_years = sorted(int(p.name[5:]) for p in (data / "lake" / "ingest_status").glob("year=*"))
    years = years or status_years
    unit_list = units or all_units["unit_code"].to_list()
    keys = [(y, u) for y in years for u in unit_list]
    t: dict[str, float] = {}
    out: dict = {"stage": stage, "partitions": len(keys)}
    settings = rules.AuditSettings.from_mapping({})

    if stage == "ingest":
        from bangfu.ingest import LandingScan, ingest_unit_year

        landing = landing_dir(scale).resolve()
        with timed(t, "reference"):
            ref = landing / "reference"
            lake.write_single("ref_units", readers.read_units(ref / "units.csv"))
            lake.write_single("ref_standards", readers.read_standards(ref / "standards.csv")[0])
            rosters = [
                readers.read_civil_roster(p, int(p.stem))[0].with_columns(
                    pl.lit(int(p.stem)).alias("year")
                )
                for p in sorted((ref / "civil_roster").glob("*.csv"))
            ]
            if rosters:
                lake.write_single("ref_civil_roster", pl.concat(rosters, how="diagonal_relaxed"))
        inner = readers._schema_failures

        def wrapped(df, spec):
            with timed(t, "validate"):
                return inner(df, spec)

        readers._schema_failures = wrapped
        rows_read = rows_kept = ok = 0
        with timed(t, "ingest"):
            scan = LandingScan.scan(landing, set(all_units["unit_code"].to_list()))
            for year, unit in keys:
                o = ingest_unit_year(
                    landing=landing, lake=lake, warehouse=wh, scan=scan, year=year, unit_code=unit
                )
                rows_read += o.rows_read
                rows_kept += o.rows_kept
                ok += o.status == "ok"
        readers._schema_failures = inner
        out.update(rows=rows_read, rows_kept=rows_kept, ledgers=ok)

    elif stage == "findings":
        from assets.findings import settings_replacement
        from warehouse import tables
        from warehouse.store import Replacement

        standards = loaders.standards(lake)
        rows = 0
        for year, ulist in grouped(keys).items():
            with timed(t, "unit_findings"):
                present = loaders.present_units(lake, year, ulist)
                with timed(t, "read"):
                    frames = loaders.ledger_frames(lake, year, present)
                rows += sum(f.height for f in frames.values())
                with timed(t, "compute"):
                    found = rules.unit_findings(
                        frames,
                        all_units,
                        standards,
                        loaders.roster(lake, year),
                        year,
                        settings,
                        sheets_present=loaders.sheets_present(lake, year, present),
                    ).filter(pl.col("unit_code").is_in(present))
                for unit in ulist:
                    lake.write(
                        "findings_unit", year, unit, found.filter(pl.col("unit_code") == unit)
                    )
                r = Replacement(
                    tables.findings,
                    {"year": year, "unit_code": ulist, "stage": "unit"},
                    found,
                    stamp={"stage": "unit"},
                )
                wh.replace([r, settings_replacement(settings, [year])])
            with timed(t, "cross_findings"):
                present = loaders.present_units(lake, year)
                archive = loaders.ledger_frames(lake, year, present)["archive"]
                with timed(t, "compute"):
                    cf = rules.cross_unit_findings(
                        archive, all_units, loaders.roster(lake, year), year, settings
                    )
                lake.write("findings_cross", year, "all", cf)
                r = Replacement(
                    tables.findings, {"year": year, "stage": "cross"}, cf, stamp={"stage": "cross"}
                )
                wh.replace([r, settings_replacement(settings, [year])])
        t["findings"] = t["unit_findings"] + t["cross_findings"]
        out["rows"] = rows

    elif stage == "metrics":
        from assets.findings import settings_replacement
        from warehouse import tables
        from warehouse.store import Replacement

        rows = 0
        with timed(t, "metrics"):
            for year in years:
                present = loaders.present_units(lake, year)
                with timed(t, "read"):
                    frames = loaders.ledger_frames(lake, year, present)
                    earlier = wh.read(tables.findings, year=year, stage=["unit", "cross"])
                rows += sum(f.height for f in frames.values())
                missed = earlier.filter(pl.col("rule_code") == "MISSED_CANDIDATE")
                with timed(t, "compute"):
                    own = rules.own_metrics(
                        frames, all_units, loaders.roster(lake, year), year, missed, present
                    )
                    rolled = rules.rollup(own, all_units, year, present)
                    rf = rules.rollup_findings(rolled, None, settings)
                    everything = pl.concat(
                        [earlier.select(rf.columns).cast(rf.schema), rf] if earlier.height else [rf]
                    )
                    rolled = rules.with_findings_total(rolled, all_units, everything)
                lake.write("metrics", year, "all", rolled)
                wh.replace(
                    [
                        Replacement(tables.unit_year_metrics, {"year": year}, rolled),
                        Replacement(
                            tables.findings,
                            {"year": year, "stage": "rollup"},
                            rf,
                            stamp={"stage": "rollup"},
                        ),
                        settings_replacement(settings, [year]),
                    ]
                )
        out["rows"] = rows

    elif stage in ("workbooks", "reports"):
        out.update(write_outputs(stage, data, lake, wh, all_units, keys, settings, t))
    else:
        raise SystemExit(f"unknown stage {stage}")
    wh.dispose()
    out["seconds"] = {k: round(v, 3) for k, v in t.items()}
    emit(out)


def write_outputs(stage, data, lake, wh, all_units, keys, settings, t) -> dict:
    """The audit_workbooks asset body for one kind of file (workbooks or reports)."""
    import polars as pl

    from assets import loaders
    from assets.common import grouped
    from assets.workbooks import AUDITED_YEARS, _rows
    from bangfu import rules
    from bangfu.forms.report import write_unit_report
    from bangfu.forms.workbook import write_unit_workbook
    from checks.asset_checks import count_formula_cells
    from resources import DataResource
    from warehouse import tables

    res = DataResource(path=str(data))
    thresholds = {
        "missed_rate": settings.missed_rate_alert,
        "wrong_exit_rate": settings.wrong_exit_rate_alert,
        "recognition_rate": settings.recognition_rate_min,
    }
    unit_rows = {r["unit_code"]: r for r in all_units.iter_rows(named=True)}
    written = rows = 0
    with timed(t, stage):
        for year, unit_list in grouped(keys).items():
            present = set(loaders.present_units(lake, year, unit_list))
            years = list(range(year - AUDITED_YEARS + 1, year + 1))
            metrics = wh.read(tables.unit_year_metrics, year=years, unit_code=unit_list)
            found = wh.read(tables.findings, year=year, unit_code=unit_list)
            ctx = rules.unit_context(all_units, loaders.standards(lake), [year])
            for unit in unit_list:
                if unit not in present:
                    continue
                std = ctx.filter(pl.col("unit_code") == unit).row(0, named=True)
                ledger = loaders.ledger_frames(lake, year, [unit])
                rows += sum(f.height for f in ledger.values())
                args = dict(
                    year=year,
                    unit=unit_rows[unit],
                    metrics=_rows(metrics, unit),
                    findings=_rows(found, unit),
                    ledger=ledger,
                    dibao_monthly=std.get("dibao_monthly"),
                    edu_standard=std.get("edu_standard"),
                    medical_standard=std.get("medical_standard"),
                    thresholds=thresholds,
                )
                with timed(t, "write"):
                    if stage == "workbooks":
                        wb = write_unit_workbook(res.workbook_path(year, unit), **args)
                        count_formula_cells(wb["path"])
                    else:
                        write_unit_report(res.report_path(year, unit), **args)
                written += 1
    return {"files": written, "rows": rows}


# ------------------------------------------------------------------ parent
def measure(scale: str, *, profile: bool = False) -> dict:
    gen = ensure_landing(scale)
    log(f"{scale}: Dagster run (bangfu run) in a fresh process …")
    dag = run_child("bench.pipeline", ["--child", "dagster", "--scale", scale])
    pure: dict[str, dict] = {}
    for stage in PURE_STAGES:
        log(f"{scale}: pure replay of {stage} …")
        pure[stage] = run_child("bench.pipeline", ["--child", "pure", "--scale", scale, stage])
    res = summarise(scale, dag, pure)
    res["raw"] = {"dagster": dag, "pure": pure}  # to re-summarise without measuring again
    if gen:
        res["generate"] = {"wall_s": gen["wall_s"], "peak_rss_mb": gen["peak_rss_mb"]}
    if profile:
        res["profile"] = profile_run(scale)
        add_profile_overhead(res)
    return res


def add_profile_overhead(res: dict) -> None:
    sp = res["profile"]["bodies_split"]
    res["dagster_overhead"]["profiled_same_run"] = {
        **sp,
        "year": res["profile"]["year"],
        "method": "cProfile'd Dagster run of the latest year: run_pipeline's cumulative time "
        "minus the cumulative time inside the asset functions (same process, same run).",
    }


def profile_run(scale: str) -> dict:
    """cProfile over a Dagster run of the latest year (a third of the full run's work)."""
    years = sorted(int(p.name) for p in (landing_dir(scale) / "ledgers").iterdir() if p.is_dir())
    path = data_dir(scale).parent / "profile.pstats"
    log(f"{scale}: cProfile'd Dagster run of {years[-1]} …")
    r = run_child(
        "bench.pipeline",
        ["--child", "dagster", "--scale", scale, "--year", str(years[-1]), "--pstats", str(path)],
    )
    return {"year": years[-1], "wall_s": r["wall_s"], "pstats": str(path), **r["result"]["top"]}


def summarise(scale: str, dag: dict, pure: dict[str, dict]) -> dict:
    d = dag["result"]
    ps = {k: v["result"]["seconds"] for k, v in pure.items()}
    sec = {
        "reference": ps["ingest"]["reference"],
        "ingest": ps["ingest"]["ingest"],
        "validate": ps["ingest"].get("validate", 0.0),
        "unit_findings": ps["findings"]["unit_findings"],
        "cross_findings": ps["findings"]["cross_findings"],
        "findings": ps["findings"]["findings"],
        "metrics": ps["metrics"]["metrics"],
        "workbooks": ps["workbooks"]["workbooks"],
        # The asset reads each unit's ledger once for both files; the replay reads it in both
        # processes, so reports count only the time inside the report writer.
        "reports": ps["reports"].get("write", ps["reports"]["reports"]),
    }
    ledger_rows = sum(d["rows"].values())
    rows = {
        "ingest": pure["ingest"]["result"]["rows"],
        "validate": pure["ingest"]["result"]["rows"],
        "findings": pure["findings"]["result"]["rows"],
        "metrics": pure["metrics"]["result"]["rows"],
        "workbooks": pure["workbooks"]["result"]["rows"],
        "reports": pure["reports"]["result"]["rows"],
    }
    rss = {
        "ingest": pure["ingest"]["peak_rss_mb"],
        "validate": pure["ingest"]["peak_rss_mb"],
        "findings": pure["findings"]["peak_rss_mb"],
        "metrics": pure["metrics"]["peak_rss_mb"],
        "workbooks": pure["workbooks"]["peak_rss_mb"],
        "reports": pure["reports"]["peak_rss_mb"],
    }
    steps = d["step_seconds"]
    dagster_step = {
        "ingest": steps.get("ledgers"),
        "validate": None,
        "findings": (steps.get("unit_findings") or 0) + (steps.get("cross_unit_findings") or 0),
        "metrics": steps.get("unit_year_metrics"),
        "workbooks": steps.get("audit_workbooks"),
        "reports": None,
    }
    stages = {
        s: {
            "pure_s": round(sec[s], 2),
            "dagster_step_s": None if dagster_step[s] is None else round(dagster_step[s], 2),
            "rows": rows[s],
            "rows_per_s": rate(rows[s], sec[s]),
            "peak_rss_mb": rss[s],
        }
        for s in STAGES
    }
    for s in ("workbooks", "reports"):
        n = pure[s]["result"]["files"]
        stages[s]["files"] = n
        stages[s]["files_per_s"] = rate(n, sec[s])
    stages["workbooks"]["note"] = "dagster_step_s is audit_workbooks = workbooks + reports"
    stages["reports"]["note"] = "writer time only (ledger reads are counted under workbooks)"
    stages["reports"]["with_reads_s"] = round(ps["reports"]["reports"], 2)
    stages["validate"]["note"] = "inside ingest (pandera), not added to the total"
    jobs = {}
    for job, parts in JOB_STAGES.items():
        wall = d["stage_seconds"].get(job)
        if job == "reference_job":  # run_pipeline does not time it: whole wall minus the rest
            wall = d["wall_s"] - sum(d["stage_seconds"].values())
        p = sum(sec[x] for x in parts)
        jobs[job] = {
            "dagster_wall_s": round(wall, 2),
            "pure_s": round(p, 2),
            "overhead_s": round(wall - p, 2),
            "overhead_share": round((wall - p) / wall, 3) if wall else None,
        }
    pure_total = sum(sec[x] for parts in JOB_STAGES.values() for x in parts)
    outside_steps = sum(d["stage_seconds"].values()) - sum(steps.values())
    hh = HOUSEHOLDS[scale]
    return {
        "scale": scale,
        "households": hh,
        "units": d["units"],
        "years": d["years"],
        "ledger_rows_in_lake": ledger_rows,
        "dagster_run": {
            "wall_s": d["wall_s"],
            "process_wall_s": dag["wall_s"],
            "peak_rss_mb": dag["peak_rss_mb"],
            "runs_launched": d["runs"],
            "ok": d["ok"],
            "failures": d["failures"],
            "stage_seconds": d["stage_seconds"],
            "step_seconds": steps,
        },
        "stages": stages,
        "jobs": jobs,
        "pure_total_s": round(pure_total, 2),
        "dagster_overhead": {
            "seconds": round(d["wall_s"] - pure_total, 2),
            "share": round((d["wall_s"] - pure_total) / d["wall_s"], 3),
            "outside_steps_s": round(outside_steps, 2),
            "target_share": 0.20,
            "method": "Dagster run wall (run_pipeline) minus the pure replay of the same asset "
            "bodies without Dagster, each stage in its own process; outside_steps_s = stage "
            "wall minus Dagster's recorded step durations. Sequential runs on a shared machine.",
        },
        "seconds_per_household": {
            "dagster": round(d["wall_s"] / hh, 6),
            "pure": round(pure_total / hh, 6),
        },
    }


def table(res: dict) -> str:
    """Markdown table of one scale's stages."""
    lines = [
        f"**{res['scale']}** — {res['units']} units × {len(res['years'])} years, "
        f"{res['households']:,} households, {res['ledger_rows_in_lake']:,} ledger rows in the lake",
        "",
        "| stage | pure s | Dagster step s | rows | rows/s | files/s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s, v in res["stages"].items():
        step = "–" if v["dagster_step_s"] is None else f"{v['dagster_step_s']:,.2f}"
        lines.append(
            f"| {s} | {v['pure_s']:,.2f} | {step} | {v['rows']:,} | "
            f"{v['rows_per_s'] or 0:,.0f} | {v.get('files_per_s') or ''} | {v['peak_rss_mb']:,.0f} |"
        )
    dr, ov = res["dagster_run"], res["dagster_overhead"]
    lines += [
        "",
        f"Dagster run: {dr['wall_s']:,.1f} s wall, {dr['runs_launched']} runs, peak RSS "
        f"{dr['peak_rss_mb']:,.0f} MB. Pure replay total {res['pure_total_s']:,.1f} s. "
        f"Dagster overhead vs the pure replay: {ov['seconds']:,.1f} s = {ov['share']:.1%} of the "
        f"run (sequential runs: noisy); outside the asset steps alone: "
        f"{ov['outside_steps_s']:,.1f} s = {ov['outside_steps_s'] / dr['wall_s']:.1%}.",
        "",
        "| job | Dagster wall s | pure s | overhead s | share |",
        "|---|---:|---:|---:|---:|",
    ]
    for job, v in res["jobs"].items():
        share = "–" if v["overhead_share"] is None else f"{v['overhead_share']:.1%}"
        lines.append(
            f"| {job} | {v['dagster_wall_s']:,.2f} | {v['pure_s']:,.2f} | "
            f"{v['overhead_s']:,.2f} | {share} |"
        )
    if "profile" in res:
        p = res["profile"]
        lines += ["", f"cProfile of the Dagster run of {p['year']} ({p['wall_s']:,.1f} s):"]
        for r in p["by_own_time"]:
            lines.append(f"- own {r['tottime_s']:,.1f} s, {r['calls']:,} calls: `{r['function']}`")
        for r in p["by_cumulative_time_project"][:3]:
            lines.append(f"- cumulative {r['cumtime_s']:,.1f} s: `{r['function']}`")
        sp = p["bodies_split"]
        lines.append(
            f"- same run: {sp['asset_bodies_s']:,.1f} s inside the asset bodies of "
            f"{sp['run_pipeline_s']:,.1f} s → Dagster {sp['dagster_s']:,.1f} s = "
            f"{sp['dagster_share']:.1%} (target ≤ 20 %)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m bench.pipeline", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--scale", default="S", choices=["S", "M", "L"])
    ap.add_argument("--profile", action="store_true", help="also a cProfile'd run (latest year)")
    ap.add_argument("--child", choices=["dagster", "pure"], help=argparse.SUPPRESS)
    ap.add_argument("stage", nargs="?", help=argparse.SUPPRESS)
    ap.add_argument("--year", type=int, action="append", help=argparse.SUPPRESS)
    ap.add_argument("--unit", action="append", help=argparse.SUPPRESS)
    ap.add_argument("--pstats", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child == "dagster":
        return child_dagster(a.scale, a.year, a.pstats)
    if a.child == "pure":
        return child_pure(a.scale, a.stage, a.year, a.unit)
    import json

    res = measure(a.scale, profile=a.profile)
    save(res, a.scale, "pipeline")
    print(table(res))
    print(json.dumps(res, indent=1, ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    main()
