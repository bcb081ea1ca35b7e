"""Metrics + findings in polars next to the same computations as plain DuckDB SQL (issue 5).

    python -m bench.rules --scale M [--repeat 3]

Both engines start from the same Parquet lake (``bench/out/<scale>/data/lake``) and compute, per
year, the metrics (own figures + roll-up over the unit tree) and the findings that
``bench.duckdb_peer.DuckPeer`` implements: PAY_UNARCHIVED, PAY_OUTSIDE_ARCHIVE_PERIOD,
PAY_OVER_STANDARD, PAY_DUPLICATE, LEDGER_MISMATCH, DUPLICATE_ARCHIVE.

- **polars (like for like)**: read the six sheets the peer reads from the lake, run exactly those
  six rules (``unit_findings(rule_codes=…)`` and the DUPLICATE_ARCHIVE rule of the registry),
  ``own_metrics`` + ``rollup``. Parquet reading is included, as it is in DuckDB's queries.
- **duckdb**: ``DuckPeer`` over ``read_parquet`` globs of the same files, the same queries.
- **polars (everything)**, for information: what the assets compute — all eleven sheets, all
  thirty rules, cross-unit and roll-up findings.

Each engine runs in its own fresh process (own peak RSS), one warm-up pass then ``--repeat``
timed passes over all years; the processes alternate (polars, duckdb, duckdb, polars …) so both
see the same background load, and the medians are compared. Target: polars ≤ 1.5 × DuckDB.
Row counts per finding are compared between the engines as a sanity check.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.common import data_dir, emit, ensure_lake, log, run_child, save

PEER_RULES = (
    "PAY_UNARCHIVED",
    "PAY_OUTSIDE_ARCHIVE_PERIOD",
    "PAY_OVER_STANDARD",
    "PAY_DUPLICATE",
    "LEDGER_MISMATCH",
)
PEER_SHEETS = ("archive", "payments", "ledger", "unit_standards", "targets", "evaluation")
TARGET = 1.5


def _years_and_present(scale):
    import polars as pl

    from bangfu.lake import Lake
    from bangfu.stages.reading import present_units

    lake = Lake(data_dir(scale) / "lake")
    years = sorted(int(p.name[5:]) for p in (lake.root / "ingest_status").glob("year=*"))
    return lake, {y: present_units(lake, y) for y in years}, pl


def polars_pass(scale: str, everything: bool) -> dict:
    import polars as pl

    from bangfu import rules
    from bangfu.frames import sheet_schema
    from bangfu.ledger_frames import ledger_frames
    from bangfu.rules.registry import rules_of, run
    from bangfu.sheets import SHEETS_BY_KEY
    from bangfu.stages import reading

    lake, present_by_year, _ = _years_and_present(scale)
    units = lake.read_single("ref_units")
    standards = reading.standards(lake)
    no_std = pl.DataFrame(
        schema={"region_code": pl.String, "year": pl.Int64, "dibao_monthly": pl.Float64}
    )
    dup_rule = [r for r in rules_of(("cross",)) if r.code == "DUPLICATE_ARCHIVE"]
    counts: dict[str, int] = {}
    for year, present in present_by_year.items():
        if everything:
            frames = ledger_frames(lake, year, present)
            roster = reading.roster(lake, year)
            f = rules.unit_findings(
                frames,
                units,
                standards,
                roster,
                year,
                sheets_present=reading.sheets_present(lake, year, present),
            )
            cf = rules.cross_unit_findings(frames["archive"], units, roster, year)
            missed = cf.filter(pl.col("rule_code") == "MISSED_CANDIDATE")
            own = rules.own_metrics(frames, units, roster, year, missed, present)
            rolled = rules.rollup(own, units, year, present)
            rf = rules.rollup_findings(rolled)
            found = pl.concat([f, cf, rf])
        else:
            frames = {
                k: lake.read(k, [year], present, schema=sheet_schema(SHEETS_BY_KEY[k]))
                for k in PEER_SHEETS
            }
            f = rules.unit_findings(frames, units, standards, None, year, rule_codes=PEER_RULES)
            ctx = rules._context(rules._conform_frames(frames), units, no_std, None, year, None)
            cf = run(dup_rule, ctx)
            own = rules.own_metrics(frames, units, None, year, None, present)
            rolled = rules.rollup(own, units, year, present)
            found = pl.concat([f, cf])
        for code, n in found.group_by("rule_code").len().iter_rows():
            counts[code] = counts.get(code, 0) + n
        counts["metrics_rows"] = counts.get("metrics_rows", 0) + rolled.height
    return counts


def duckdb_pass(scale: str) -> dict:
    from bench.duckdb_peer import DuckPeer

    lake, present_by_year, _ = _years_and_present(scale)
    counts: dict[str, int] = {}
    for year, present in present_by_year.items():
        tables = {
            k: (lake.root / k / f"year={year}" / "*" / "data.parquet").as_posix()
            for k in PEER_SHEETS
        }
        tables["units"] = lake.single_path("ref_units")
        tables["standards"] = lake.single_path("ref_standards")
        peer = DuckPeer(tables)
        for code, frame in (
            ("PAY_UNARCHIVED", peer.pay_unarchived()),
            ("PAY_OUTSIDE_ARCHIVE_PERIOD", peer.pay_outside_archive_period()),
            ("PAY_OVER_STANDARD", peer.pay_over_standard(year)),
            ("PAY_DUPLICATE", peer.pay_duplicate()),
            ("LEDGER_MISMATCH", peer.ledger_mismatch()),
            ("DUPLICATE_ARCHIVE", peer.duplicate_archive(year)),
            ("metrics_rows", peer.rollup(year, present)),
        ):
            counts[code] = counts.get(code, 0) + frame.height
        peer.con.close()
    return counts


def child(scale: str, engine: str, repeat: int) -> None:
    fn = {
        "polars": lambda: polars_pass(scale, False),
        "duckdb": lambda: duckdb_pass(scale),
        "polars_all": lambda: polars_pass(scale, True),
    }[engine]
    t0 = time.perf_counter()
    counts = fn()  # warm-up (page cache, lazy imports, DuckDB extension loading)
    warm = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    emit({"engine": engine, "warmup_s": round(warm, 3), "times_s": times, "counts": counts})


def measure(scale: str, repeat: int = 3) -> dict:
    ensure_lake(scale)
    order = ["polars", "duckdb", "duckdb", "polars", "polars_all"]
    runs: dict[str, list[dict]] = {}
    for engine in order:
        log(f"{scale}: rules with {engine} …")
        r = run_child("bench.rules", ["--child", engine, "--scale", scale, "--repeat", str(repeat)])
        runs.setdefault(engine, []).append(r)
    out: dict = {"scale": scale, "repeat_per_process": repeat, "engines": {}}
    for engine, rs in runs.items():
        times = [t for r in rs for t in r["result"]["times_s"]]
        out["engines"][engine] = {
            "median_s": round(statistics.median(times), 3),
            "min_s": round(min(times), 3),
            "times_s": [round(t, 3) for t in times],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
            "counts": rs[0]["result"]["counts"],
        }
    e = out["engines"]
    ratio = e["polars"]["median_s"] / e["duckdb"]["median_s"]
    codes = sorted(set(e["duckdb"]["counts"]) | set(e["polars"]["counts"]))
    agree = {c: (e["polars"]["counts"].get(c, 0), e["duckdb"]["counts"].get(c, 0)) for c in codes}
    out.update(
        ratio_polars_to_duckdb=round(ratio, 2),
        ratio_polars_all_to_duckdb=round(e["polars_all"]["median_s"] / e["duckdb"]["median_s"], 2),
        target=TARGET,
        target_met=ratio <= TARGET,
        counts_polars_vs_duckdb=agree,
        counts_agree=all(a == b for a, b in agree.values()),
    )
    return out


def table(res: dict) -> str:
    e = res["engines"]
    lines = [
        f"**rules at {res['scale']}** — metrics + the six peer findings, all years, from Parquet "
        f"(median of {len(e['polars']['times_s'])} passes per engine, processes alternated)",
        "",
        "| engine | median s | min s | peak RSS MB |",
        "|---|---:|---:|---:|",
    ]
    names = {
        "polars": "polars (same six rules + metrics)",
        "duckdb": "DuckDB SQL (DuckPeer)",
        "polars_all": "polars, everything the assets compute (30 rules)",
    }
    for k in ("polars", "duckdb", "polars_all"):
        v = e[k]
        lines.append(
            f"| {names[k]} | {v['median_s']:.3f} | {v['min_s']:.3f} | {v['peak_rss_mb']:.0f} |"
        )
    verdict = "met" if res["target_met"] else "MISSED"
    lines += [
        "",
        f"polars / DuckDB = {res['ratio_polars_to_duckdb']:.2f}× (target ≤ {res['target']}×: "
        f"{verdict}); all 30 rules / DuckDB's six = {res['ratio_polars_all_to_duckdb']:.2f}×. "
        f"Result row counts agree: {res['counts_agree']}.",
    ]
    if not res["counts_agree"]:
        diff = {c: v for c, v in res["counts_polars_vs_duckdb"].items() if v[0] != v[1]}
        lines.append(f"Differences (polars, duckdb): {diff}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.rules", description=__doc__.split("\n")[0])
    ap.add_argument("--scale", default="M", choices=["S", "M", "L"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", choices=["polars", "duckdb", "polars_all"], help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return child(a.scale, a.child, a.repeat)
    res = measure(a.scale, a.repeat)
    save(res, a.scale, "rules")
    print(table(res))


if __name__ == "__main__":
    sys.exit(main())
