"""`make bench`: every benchmark end to end; writes bench/results/<date>.json and .md.

    python -m bench                 # S then M
    python -m bench --scale L       # S, M and L (or BENCH_L=1): L = bench.national (hours)
    python -m bench --scales L --year 2019   # L only, one year
    python -m bench --reuse         # take each module's last saved result when present
    python -m bench --scales S      # just S

Per scale: bench.pipeline (Dagster run + pure replay: per-stage wall time, rows/s, peak RSS,
Dagster overhead; cProfile'd at M), bench.rules (polars vs DuckDB), bench.workbooks, and
bench.ingest when it exists (run as ``python -m bench.ingest --scale X``, its output included
verbatim). bench.orchestration runs once, at M and at scale L's unit list; bench.review (one
`bangfu review set` with its unit's re-render, beside a one-county re-run) once, at M. At L: bench.national
(the full run with its per-step times and peak RSS, next to the floor read, DuckDB and openpyxl
write-only, each alone; pandas + openpyxl extrapolated from a sample; a one-county re-run; the
same run at M for the time per household); the S/M modules run at L only with ``--l-all``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bench import national, orchestration, overview, pipeline, review, rules, workbooks
from bench.common import BENCH, PY, REPO, RESULTS, load_saved, log, machine, save

NOTE = (
    "Machine shared with other engineers' test runs (2 cores): figures are noisy. Comparisons "
    "that matter (polars vs DuckDB, Dagster vs pure replay) are measured in the same bench run, "
    "polars/DuckDB alternated; the Dagster-vs-pure comparison is sequential."
)


def run_ingest(scale: str) -> dict:
    """bench/ingest.py belongs to another engineer: run it as is and keep what it prints."""
    if not (BENCH / "ingest.py").exists():
        return {"status": "bench/ingest.py not present"}
    import subprocess

    t0 = time.perf_counter()
    p = subprocess.run(
        [PY, "-m", "bench.ingest", "--scale", scale], cwd=REPO, capture_output=True, text=True
    )
    return {
        "rc": p.returncode,
        "wall_s": round(time.perf_counter() - t0, 2),
        "stdout": p.stdout[-20000:],
        "stderr_tail": p.stderr[-2000:] if p.returncode else "",
    }


def step(scale: str, name: str, fn, reuse: bool) -> dict:
    if reuse and (saved := load_saved(scale, name)) is not None:
        log(f"{scale}: reusing {name} measured {saved.get('measured_at')}")
        return saved
    res = fn()
    save(res, scale, name)
    return {"measured_at": time.strftime("%Y-%m-%d %H:%M:%S"), **res}


def per_household(results: dict) -> dict:
    out = {}
    for scale, r in results.items():
        p = r.get("pipeline")
        if p:
            out[scale] = p["seconds_per_household"]
    nat = (results.get("L") or {}).get("national")
    if "M" in out and "L" in out:
        out["M_to_L_ratio_dagster"] = round(out["L"]["dagster"] / out["M"]["dagster"], 2)
    elif nat and "L_over_M_per_household" in nat["summary"]:
        out["M_to_L_ratio_dagster"] = nat["summary"]["L_over_M_per_household"]
        out["note"] = (
            f"bench.national: runs over {nat['years']} at L and at M, measured the same day"
        )
    else:
        out["note"] = "L not measured in this run (python -m bench --scale L): no M→L figure"
    return out


def markdown(doc: dict) -> str:
    lines = [
        f"# bangfu benchmarks — {doc['date']}",
        "",
        f"Machine: {doc['machine']}. {NOTE}",
        "",
    ]
    for scale, r in doc["scales"].items():
        lines += [f"## Scale {scale}", ""]
        if "pipeline" in r:
            lines += [pipeline.table(r["pipeline"]), ""]
        if "rules" in r:
            lines += [rules.table(r["rules"]), ""]
        if "workbooks" in r:
            lines += [workbooks.table(r["workbooks"]), ""]
        if r.get("overview"):
            lines += [overview.table(r["overview"]), ""]
        if "national" in r:
            lines += [national.table(r["national"]), ""]
        ing = r.get("ingest_bench")
        if ing:
            body = ing.get("stdout") or ing.get("status") or f"no output (rc {ing.get('rc')})"
            if ing.get("rc"):
                body += "\n" + ing.get("stderr_tail", "")[-600:]
            lines += [
                "**bench.ingest** (another module, output verbatim):",
                "",
                "```",
                body,
                "```",
                "",
            ]
    if doc.get("orchestration"):
        lines += ["## Orchestration", "", orchestration.table(doc["orchestration"]), ""]
    if doc.get("review"):
        lines += [
            "## A recorded verdict against a one-county re-run",
            "",
            review.table(doc["review"]),
            "",
        ]
    hh = doc["per_household"]
    lines += ["## Time per household", ""]
    for scale in ("S", "M", "L"):
        if scale in hh:
            v = hh[scale]
            lines.append(
                f"- {scale}: {v['dagster'] * 1000:.3f} ms/household with Dagster, "
                f"{v['pure'] * 1000:.3f} ms pure"
            )
    if "note" in hh and "M_to_L_ratio_dagster" in hh:
        lines.append(f"- {hh['note']}")
    lines.append(f"- M→L: {hh.get('M_to_L_ratio_dagster', hh.get('note'))}")
    lines += ["", "## Targets", ""]
    for t in doc["targets"]:
        lines.append(f"- {t}")
    return "\n".join(lines) + "\n"


def targets(doc: dict) -> list[str]:
    out = []
    for scale, r in doc["scales"].items():
        if "national" in r:
            out += [f"issue 4 ({scale}): {t}" for t in r["national"]["summary"]["targets"]]
        if "rules" in r:
            x = r["rules"]
            out.append(
                f"issue 5 ({scale}): polars/DuckDB {x['ratio_polars_to_duckdb']}× vs ≤ 1.5× → "
                + ("met" if x["target_met"] else "missed")
            )
        if "pipeline" in r:
            ov = r["pipeline"]["dagster_overhead"]
            share, how = ov["share"], "vs pure replay, sequential"
            if "profiled_same_run" in ov:
                share, how = ov["profiled_same_run"]["dagster_share"], "cProfile, same run"
            out.append(
                f"issue 3 ({scale}): Dagster overhead {share:.1%} ({how}) vs ≤ 20 % → "
                + ("met" if share <= 0.20 else f"missed by {share - 0.2:.1%} points")
            )
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=["L"], help="also run scale L")
    ap.add_argument("--scales", help="comma-separated scales, e.g. S or S,M")
    ap.add_argument("--reuse", action="store_true", help="reuse saved module results")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--skip-ingest", action="store_true", help="do not run bench.ingest")
    ap.add_argument("--year", type=int, action="append", help="L: only these years")
    ap.add_argument("--l-all", action="store_true", help="L: also the S/M modules (hours)")
    a = ap.parse_args(argv)
    scales = a.scales.split(",") if a.scales else ["S", "M"]
    if (a.scale == "L" or os.environ.get("BENCH_L") == "1") and "L" not in scales:
        scales.append("L")
    doc: dict = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "note": NOTE}
    doc["scales"] = {}
    for scale in scales:
        r: dict = {}
        profile = scale == "M" and not a.no_profile
        jobs = {
            "pipeline": lambda s=scale, p=profile: pipeline.measure(s, profile=p),
            "rules": lambda s=scale: rules.measure(s),
            "workbooks": lambda s=scale: workbooks.measure(s),
            "overview": lambda s=scale: overview.measure(s),
        }
        if scale == "L":
            nat = {
                "national": lambda: national.measure("L", a.year, reuse_run=a.reuse),
                # the whole year's overview; the reports' figures over a sample of 300 units
                "overview": lambda: overview.measure(
                    "L", a.year, units=300, data=national.run_data("L")
                ),
            }
            jobs = {**jobs, **nat} if a.l_all else nat
        for name, fn in jobs.items():
            r[name] = step(scale, name, fn, a.reuse)
        if scale == "L" and not a.l_all:
            pass  # bench.national's floor replaces bench.ingest at L
        elif not a.skip_ingest:
            r["ingest_bench"] = step(scale, "ingest_bench", lambda s=scale: run_ingest(s), a.reuse)
        else:
            r["ingest_bench"] = load_saved(scale, "ingest_bench") or {"status": "skipped"}
        doc["scales"][scale] = r
    if "M" in scales:
        doc["orchestration"] = step(
            "M", "orchestration", lambda: orchestration.measure("M"), a.reuse
        )
        doc["review"] = step("M", "review", lambda: review.measure("M", 3), a.reuse)
    if doc.get("orchestration") and "pipeline" in doc["scales"].get("M", {}):
        pipe = doc["scales"]["M"]["pipeline"]
        doc["orchestration"]["dagster_overhead"] = orchestration.overhead_from(pipe, "M")
    doc["per_household"] = per_household(doc["scales"])
    doc["targets"] = targets(doc)
    RESULTS.mkdir(parents=True, exist_ok=True)
    # L alone (--scales L) gets a file of its own: it must not replace the day's S/M results
    stem = RESULTS / (doc["date"] + ("-L" if scales == ["L"] else ""))
    Path(f"{stem}.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
    md = markdown(doc)
    Path(f"{stem}.md").write_text(md, encoding="utf-8")
    print(md)
    log(f"wrote {stem}.json and {stem}.md")


if __name__ == "__main__":
    sys.exit(main())
