"""The full pipeline at a scale: per-stage wall time, rows/s, peak RSS and Dagster's overhead.

    python -m bench.pipeline --scale S            # Dagster run + pure replay, prints a table
    python -m bench.pipeline --scale M --profile  # also a cProfile'd Dagster run (latest year)

Method
------
1. **Dagster run** — ``pipelines.runner.run_pipeline`` (what ``bangfu run`` does) over the whole
   landing folder into a fresh ``bench/out/<scale>/data``, in its own process: total wall time,
   ``RunSummary.stage_seconds`` per job, the step start/end times Dagster recorded for every
   asset step (``instance.get_run_step_stats``), and the process's peak RSS.
2. **Pure replay** — the asset bodies without Dagster: the same ``bangfu.stages`` functions the
   assets call (``run_unit_findings``, ``run_cross_findings``, ``run_metrics``,
   ``run_workbooks``) over the same partitions and the same lake/warehouse, with the same writes,
   one fresh process per stage, so each stage gets its own peak RSS (for workbooks, the summed
   RSS of the process and its worker pool, sampled). "validate" is the time spent inside the pandera
   checks (the sheet models of ``checks.schemas.SCHEMAS``), measured by wrapping those models
   during the ingest replay; it is part of ingest's time.
3. **Dagster overhead** = Dagster run wall time − pure replay time of the same stages; its share
   is that over the Dagster run's wall time. ``outside steps`` is the part spent outside the asset
   steps (launching runs, planning, run events), from Dagster's own step timings; the rest of the
   overhead is inside the steps (per-partition materialisation events, metadata, checks).
   The two runs are sequential on a shared machine: the difference carries that noise.
"""

from __future__ import annotations

import argparse
import contextlib
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
PURE_STAGES = ("ingest", "findings", "metrics", "workbooks")  # workbooks: + reports
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
@contextlib.contextmanager
def timed_validation(t: dict):
    """Every sheet model's ``validate`` (checks.schemas.SCHEMAS, which the readers look their
    model up in) timed into ``t["validate"]`` inside the block."""
    from checks import schemas

    models = dict(schemas.SCHEMAS)

    class Timed:
        def __init__(self, model):
            self.model = model

        def validate(self, df, **kw):
            with timed(t, "validate"):
                return self.model.validate(df, **kw)

    schemas.SCHEMAS.update({key: Timed(model) for key, model in models.items()})
    try:
        yield
    finally:
        schemas.SCHEMAS.update(models)


def child_pure(
    scale: str,
    stage: str,
    years: list[int] | None,
    units: list[str] | None,
    workers: int | None = None,
) -> None:
    """Replay one stage's asset bodies without Dagster (see the module docstring)."""
    import polars as pl

    from bangfu import readers, rules
    from bangfu.lake import Lake
    from bangfu.stages.findings import run_cross_findings, run_unit_findings
    from bangfu.stages.metrics import run_metrics
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
        rows_read = rows_kept = ok = 0
        with timed(t, "ingest"), timed_validation(t):
            scan = LandingScan.scan(landing, set(all_units["unit_code"].to_list()))
            for year, unit in keys:
                o = ingest_unit_year(
                    landing=landing, lake=lake, warehouse=wh, scan=scan, year=year, unit_code=unit
                )
                rows_read += o.rows_read
                rows_kept += o.rows_kept
                ok += o.status == "ok"
        out.update(rows=rows_read, rows_kept=rows_kept, ledgers=ok)

    elif stage == "findings":
        tu: dict[str, float] = {}
        tc: dict[str, float] = {}
        with timed(t, "unit_findings"):
            run_unit_findings(lake, wh, settings, keys, units=all_units, timings=tu)
        with timed(t, "cross_findings"):
            run_cross_findings(lake, wh, settings, years, units=all_units, timings=tc)
        t["findings"] = t["unit_findings"] + t["cross_findings"]
        for k in ("read", "compute", "write"):
            t[k] = tu.get(k, 0.0) + tc.get(k, 0.0)
        out["rows"] = int(tu.get("rows", 0))

    elif stage == "metrics":
        tm: dict[str, float] = {}
        with timed(t, "metrics"):
            run_metrics(lake, wh, settings, years, units=all_units, timings=tm)
        t.update({k: tm[k] for k in ("read", "compute", "write") if k in tm})
        out["rows"] = int(tm.get("rows", 0))

    elif stage == "workbooks":  # the audit_workbooks asset: workbook and report per unit
        out.update(write_outputs(data, lake, wh, all_units, keys, settings, t, workers))
    else:
        raise SystemExit(f"unknown stage {stage}")
    wh.dispose()
    out["seconds"] = {k: round(v, 3) for k, v in t.items()}
    emit(out)


def write_outputs(data, lake, wh, all_units, keys, settings, t, workers=None) -> dict:
    """The audit_workbooks asset body (bangfu.stages.outputs.run_workbooks): workbook and report
    per unit in the worker pool. Its wall time is split into "workbooks" and "reports" by the two
    writers' shares of the time spent inside them (summed over the workers)."""
    from bangfu.pool import workers_default
    from bangfu.stages.outputs import run_workbooks
    from resources import DataResource

    res = DataResource(path=str(data))
    workers = workers or workers_default()
    with TreeRss() as rss, timed(t, "outputs"):
        o = run_workbooks(
            lake,
            wh,
            settings,
            keys,
            units=all_units,
            paths={"workbook": res.workbook_path, "report": res.report_path},
            workers=workers,
        )
    wb, rp = o.seconds.get("workbook", 0.0), o.seconds.get("report", 0.0)
    t["workbook_writer_cpu"], t["report_writer_cpu"] = wb, rp
    share = wb / (wb + rp) if wb + rp else 1.0
    t["workbooks"], t["reports"] = t["outputs"] * share, t["outputs"] * (1 - share)
    return {
        "files": o.written,
        "rows": o.rows,
        "workers": workers,
        "tree_peak_rss_mb": rss.peak_mb,
    }


class TreeRss:
    """Peak of the summed RSS of this process and its children (the worker pool), sampled every
    0.2 s — wait4's ru_maxrss is the largest single process, not the sum."""

    def __init__(self, every: float = 0.2):
        self.every, self.peak_mb = every, 0.0

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(self.every):
            total = 0
            for p in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            self.peak_mb = max(self.peak_mb, round(total / 2**20, 1))

    def __enter__(self):
        import threading

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


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
        # one replay of audit_workbooks, its wall split by the two writers' shares
        "reports": ps["workbooks"]["reports"],
    }
    ledger_rows = sum(d["rows"].values())
    rows = {
        "ingest": pure["ingest"]["result"]["rows"],
        "validate": pure["ingest"]["result"]["rows"],
        "findings": pure["findings"]["result"]["rows"],
        "metrics": pure["metrics"]["result"]["rows"],
        "workbooks": pure["workbooks"]["result"]["rows"],
        "reports": pure["workbooks"]["result"]["rows"],
    }
    rss = {
        "ingest": pure["ingest"]["peak_rss_mb"],
        "validate": pure["ingest"]["peak_rss_mb"],
        "findings": pure["findings"]["peak_rss_mb"],
        "metrics": pure["metrics"]["peak_rss_mb"],
        "workbooks": pure["workbooks"]["result"]["tree_peak_rss_mb"],
        "reports": pure["workbooks"]["result"]["tree_peak_rss_mb"],
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
    wr = pure["workbooks"]["result"]
    for s in ("workbooks", "reports"):
        stages[s]["files"] = wr["files"]
        stages[s]["files_per_s"] = rate(wr["files"], sec[s])
        stages[s]["workers"] = wr["workers"]
    stages["workbooks"]["note"] = (
        "dagster_step_s is audit_workbooks = workbooks + reports; pure: one replay of the asset "
        f"({wr['workers']} worker processes), wall split by the writers' time shares; peak RSS "
        "summed over the parent and its workers"
    )
    stages["reports"]["note"] = "share of the same replay as workbooks (see there)"
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
    ap.add_argument("--workers", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child == "dagster":
        return child_dagster(a.scale, a.year, a.pstats)
    if a.child == "pure":
        return child_pure(a.scale, a.stage, a.year, a.unit, a.workers)
    import json

    res = measure(a.scale, profile=a.profile)
    save(res, a.scale, "pipeline")
    print(table(res))
    print(json.dumps(res, indent=1, ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    main()
