"""Recording one verdict and seeing its unit's workbook rewritten, beside a one-county re-run.

    python -m bench.review --scale M            # 3 rounds, alternated
    python -m bench.review --scale S --rounds 1 # a quick check that it works

Over a copy of the scale's data folder (bench/out/<scale>/review-data, made once from the
pipeline's; the journal rows the rounds record stay there), each round times, as command lines
in fresh processes (interpreter start-up, imports and Dagster included, as an auditor waits):

- ``bangfu review set FINDING_ID --status … --by bench``: the journal row, then the output
  stage over the unit, the units above it and its next year (the workbook and report
  re-rendered through Dagster);
- ``bangfu run --year Y --unit U``: the one-county re-run of the same county.

The statuses alternate (确认 / 待核实) so every round records a row and re-renders.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys

from bench.common import OUT, data_dir, ensure_lake, landing_dir, log, run_child, save


def _target(data) -> tuple[int, str, str]:
    """(year, county, finding_id): the last year's county with the most findings."""
    import polars as pl

    from warehouse import tables
    from warehouse.store import Warehouse, default_url

    wh = Warehouse(default_url(data))
    found = wh.read(tables.findings, stage="unit")
    wh.dispose()
    year = int(found["year"].max())
    mine = found.filter(pl.col("year") == year)
    unit = mine.group_by("unit_code").len().sort(["len", "unit_code"], descending=[True, False])
    code = unit["unit_code"][0]
    fid = mine.filter(pl.col("unit_code") == code).sort("finding_id")["finding_id"][0]
    return year, code, fid


def measure(scale: str, rounds: int) -> dict:
    ensure_lake(scale)
    data = OUT / scale / "review-data"
    if not (data / "warehouse.db").exists():
        log(f"copying {data_dir(scale)} → {data} (once)")
        shutil.rmtree(data, ignore_errors=True)
        shutil.copytree(data_dir(scale), data, symlinks=True)
    year, unit, fid = _target(data)
    env = {"DAGSTER_HOME": str(data / "dagster_home")}
    log(f"{scale}: {year} {unit}, finding {fid}, {rounds} rounds")
    sets, reruns = [], []
    for i in range(rounds):
        status = "确认" if i % 2 == 0 else "待核实"
        r = run_child(
            "bangfu.cli",
            ["review", "set", fid, "--status", status, "--by", "bench", "--data", str(data)],
            env=env,
        )
        sets.append(r["wall_s"])
        r = run_child(
            "bangfu.cli",
            ["run", "--landing", str(landing_dir(scale)), "--data", str(data),
             "--year", str(year), "--unit", unit],
            env=env,
        )  # fmt: skip
        reruns.append(r["wall_s"])
        log(f"round {i + 1}: review set {sets[-1]:.1f} s, one-county re-run {reruns[-1]:.1f} s")
    return {
        "scale": scale,
        "year": year,
        "unit": unit,
        "review_set_s": sets,
        "one_county_rerun_s": reruns,
        "review_set_median_s": statistics.median(sets),
        "one_county_rerun_median_s": statistics.median(reruns),
    }


def table(res: dict) -> str:
    return "\n".join(
        [
            f"scale {res['scale']}, {res['year']} {res['unit']} (wall seconds, command lines):",
            "| what | rounds | median |",
            "|---|---|---|",
            f"| `bangfu review set` + the unit's re-render | "
            f"{', '.join(f'{x:.1f}' for x in res['review_set_s'])} | "
            f"{res['review_set_median_s']:.1f} |",
            f"| one-county re-run (`bangfu run --year --unit`) | "
            f"{', '.join(f'{x:.1f}' for x in res['one_county_rerun_s'])} | "
            f"{res['one_county_rerun_median_s']:.1f} |",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.review", description=__doc__.split("\n")[0])
    ap.add_argument("--scale", default="M", choices=["S", "M", "L"])
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args(argv)
    res = measure(a.scale, a.rounds)
    save(res, a.scale, "review")
    print(table(res))


if __name__ == "__main__":
    sys.exit(main())
