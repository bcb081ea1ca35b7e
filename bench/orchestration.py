"""Dagster's own costs at scale M and at scale L's unit list (issue 3).

    python -m bench.orchestration --scale M   # M, then the L unit list (~3,200 units)

For each landing folder, in a fresh process:

- **definitions load**: ``import pipelines.definitions`` (Dagster + every asset module, and the
  module-level ``defs``), then ``build_defs(landing, data)`` + ``resolve_all_job_defs()``
  (median of 3). The graph does not depend on the number of units (dynamic partitions).
- **sensor ticks**: ``landing_sensor`` evaluated with ``build_sensor_context`` over an
  ephemeral instance holding the landing's units and years: the first tick (no cursor: every
  file hashed), a tick with nothing changed (median of 5), and a tick after one changed ledger
  file (median of 5; the change is simulated in the cursor — one file's recorded size, mtime and
  hash differ — so the sensor stats every file, re-hashes that one and requests its partition,
  exactly as for a real change, without touching the shared landing folder).
- **full-year backfill**: the runs ``bangfu run --year Y`` launches (runner.contiguous_blocks over
  the registered partition order: reference + one ranged run per stage job), the runs the sensor
  requests when every ledger of a year changed (``ranged_requests``), and the time Dagster takes
  to expand that year's range into partition keys.
- **Dagster overhead**: from ``bench.pipeline``'s run at the scale (Dagster run wall time minus the
  pure replay of the same asset bodies); not measured at the L unit list (that needs the L
  landing, ~7 min and ~12 GB to generate, and a full L run): extrapolated and marked as such.

The "L unit list" landing (bench/out/L3000/landing) is built from hard links to M's ledger files:
scale L's units.csv, and for every unit and year a copy of one of M's ledgers, 90 % in the CSV
form as the L generator writes them — the file count and layout of L, not its content.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from bench.common import (
    OUT,
    emit,
    ensure_landing,
    landing_dir,
    load_saved,
    log,
    run_child,
    save,
)

L_UNITS = OUT / "L3000" / "landing"


def build_l_unit_landing(src: Path, dst: Path) -> None:
    from bangfu.generate.units import build_units

    if (dst / "reference" / "units.csv").exists():
        return
    tmp = dst.with_name("landing.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "reference").mkdir(parents=True)
    for p in (src / "reference").rglob("*"):
        target = tmp / "reference" / p.relative_to(src / "reference")
        if p.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif p.name != "units.csv":
            os.link(p, target)
    units = build_units("L", 0)
    header = (src / "reference" / "units.csv").read_text(encoding="utf-8").splitlines()[0]
    units.rename(dict(zip(units.columns, header.split(","), strict=True))).write_csv(
        tmp / "reference" / "units.csv"
    )
    codes = units["unit_code"].to_list()
    for ydir in sorted((src / "ledgers").iterdir()):
        xlsx = sorted(p for p in ydir.iterdir() if p.suffix == ".xlsx")
        csvs = sorted(p for p in ydir.iterdir() if p.is_dir())
        out = tmp / "ledgers" / ydir.name
        out.mkdir(parents=True)
        for i, code in enumerate(codes):
            if i % 10 == 0:  # 10 % xlsx, as scale L's csv_share = 0.9
                os.link(xlsx[i % len(xlsx)], out / f"{code}.xlsx")
            else:
                (out / code).mkdir()
                for f in csvs[i % len(csvs)].iterdir():
                    os.link(f, out / code / f.name)
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)


def child(landing: Path) -> None:
    out: dict = {"landing": str(landing)}
    t0 = time.perf_counter()
    import dagster as dg

    out["import_dagster_s"] = round(time.perf_counter() - t0, 3)
    scratch = OUT / "orchestration_scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    os.environ["BANGFU_DATA"] = str(scratch)
    os.environ["BANGFU_LANDING"] = str(landing)
    t0 = time.perf_counter()
    from pipelines import definitions

    out["import_definitions_s"] = round(time.perf_counter() - t0, 3)
    builds = []
    for _ in range(3):
        t0 = time.perf_counter()
        defs = definitions.build_defs(landing, scratch)
        defs.resolve_all_job_defs()
        builds.append(time.perf_counter() - t0)
    out["build_defs_s"] = round(statistics.median(builds), 3)
    out["definitions_load_s"] = round(
        out["import_dagster_s"] + out["import_definitions_s"] + out["build_defs_s"], 3
    )

    from assets.partitions import (
        contiguous_blocks,
        unit_year_partitions,
        units_partitions,
        years_partitions,
    )
    from bangfu import readers
    from pipelines.automation import decode_cursor, encode_cursor, landing_sensor, ranged_requests
    from resources import DataResource, LandingResource, WarehouseResource

    units = readers.read_units(landing / "reference" / "units.csv")["unit_code"].to_list()
    years = sorted(p.name for p in (landing / "ledgers").iterdir() if p.name.isdigit())
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(years_partitions.name, years)
    instance.add_dynamic_partitions(units_partitions.name, units)
    files = sum(1 for _ in (landing / "ledgers").rglob("*") if _.is_file())
    out.update(units=len(units), years=years, ledger_files=files)
    res = LandingResource(path=str(landing))

    def tick(cursor):
        empty = str(landing.parent / "bench-sensor-data")  # nothing ingested yet
        resources = {
            "landing": res,
            "data": DataResource(path=empty),
            "warehouse": WarehouseResource(data_path=empty),
        }
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as ctx:
            t0 = time.perf_counter()
            r = landing_sensor(ctx)
            return time.perf_counter() - t0, r

    first_s, r0 = tick(None)
    cursor = r0.cursor
    out["sensor_first_tick_s"] = round(first_s, 3)
    out["sensor_first_tick_requests"] = len(r0.run_requests or [])
    same = [tick(cursor) for _ in range(5)]
    out["sensor_tick_unchanged_s"] = round(statistics.median(t for t, _ in same), 4)
    fp = decode_cursor(cursor)
    victim = next(k for k in sorted(fp) if k.startswith("ledgers/"))
    fp[victim] = (fp[victim][0] + 1, fp[victim][1] - 1, "0" * 64)
    changed_cursor = encode_cursor(fp)
    one = [tick(changed_cursor) for _ in range(5)]
    out["sensor_tick_one_changed_s"] = round(statistics.median(t for t, _ in one), 4)
    out["sensor_tick_one_changed_requests"] = len(one[0][1].run_requests or [])
    out["changed_file"] = victim
    out["cursor_kb"] = round(len(cursor) / 1024, 1)

    year = years[-1]
    y_blocks = contiguous_blocks([year], years)
    u_blocks = contiguous_blocks(units, units)
    out["backfill_year"] = int(year)
    out["backfill_runs_bangfu_run"] = 1 + 3 * len(y_blocks) * len(u_blocks)
    out["backfill_runs_sensor_all_changed"] = len(
        ranged_requests({(int(year), u) for u in units}, units, run_key_prefix="bench")
    )
    t0 = time.perf_counter()
    keys = unit_year_partitions.get_partition_keys(dynamic_partitions_store=instance)
    year_keys = [k for k in keys if k.keys_by_dimension["year"] == year]
    out["partition_keys_year"] = len(year_keys)
    out["partition_keys_expand_s"] = round(time.perf_counter() - t0, 3)
    emit(out)


def measure(scale: str = "M") -> dict:
    ensure_landing(scale)
    log("building the L-unit-list landing (hard links to M's ledgers) when missing …")
    build_l_unit_landing(landing_dir(scale), L_UNITS)
    res: dict = {"scale": scale}
    for name, landing in ((scale, landing_dir(scale)), ("L_units", L_UNITS)):
        log(f"orchestration over {name} …")
        r = run_child("bench.orchestration", ["--child", str(landing)])
        res[name] = {**r["result"], "peak_rss_mb": r["peak_rss_mb"]}
    res["dagster_overhead"] = overhead_from(load_saved(scale, "pipeline"), scale)
    res["dagster_overhead_L_units"] = (
        "not measured: needs the L landing (~7 min, ~12 GB to generate) and a full L run"
    )
    return res


def overhead_from(pipe: dict | None, scale: str) -> dict:
    """Dagster's overhead at the scale, from bench.pipeline's result (see its docstring)."""
    if not pipe:
        return {"note": f"run python -m bench.pipeline --scale {scale} first"}
    ov = pipe["dagster_overhead"]
    share, how = ov["share"], "Dagster run minus pure replay (sequential runs)"
    if "profiled_same_run" in ov:
        share, how = ov["profiled_same_run"]["dagster_share"], ov["profiled_same_run"]["method"]
    return {
        "scale": scale,
        "share": share,
        "method": how,
        "vs_pure_replay_share": ov["share"],
        "outside_steps_share": round(ov["outside_steps_s"] / pipe["dagster_run"]["wall_s"], 3),
        "dagster_wall_s": pipe["dagster_run"]["wall_s"],
        "target_share": 0.20,
        "target_met": share <= 0.20,
        "from": f"bench.pipeline at {scale}, measured {pipe.get('measured_at')}",
    }


def table(res: dict) -> str:
    s, big = res[res["scale"]], res["L_units"]
    rows = [
        ("units", s["units"], big["units"]),
        ("ledger files", s["ledger_files"], big["ledger_files"]),
        ("definitions load s (import dagster + definitions + build)", s["definitions_load_s"],
         big["definitions_load_s"]),
        ("  of which build_defs + resolve jobs s", s["build_defs_s"], big["build_defs_s"]),
        ("sensor first tick s (hashes every file)", s["sensor_first_tick_s"],
         big["sensor_first_tick_s"]),
        ("sensor tick, nothing changed s", s["sensor_tick_unchanged_s"],
         big["sensor_tick_unchanged_s"]),
        ("sensor tick, one file changed s", s["sensor_tick_one_changed_s"],
         big["sensor_tick_one_changed_s"]),
        ("  runs requested for it", s["sensor_tick_one_changed_requests"],
         big["sensor_tick_one_changed_requests"]),
        ("sensor cursor kB", s["cursor_kb"], big["cursor_kb"]),
        ("full-year backfill: runs `bangfu run --year` launches", s["backfill_runs_bangfu_run"],
         big["backfill_runs_bangfu_run"]),
        ("full-year change: runs the sensor requests", s["backfill_runs_sensor_all_changed"],
         big["backfill_runs_sensor_all_changed"]),
        ("partition keys of the year / expand s",
         f"{s['partition_keys_year']} / {s['partition_keys_expand_s']}",
         f"{big['partition_keys_year']} / {big['partition_keys_expand_s']}"),
    ]  # fmt: skip
    lines = [
        f"**orchestration** at {res['scale']} and at scale L's unit list",
        "",
        f"| | {res['scale']} | L unit list |",
        "|---|---:|---:|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
    ]
    ov = res["dagster_overhead"]
    if "share" in ov:
        lines += [
            "",
            f"Dagster overhead at {ov['scale']}: {ov['share']:.1%} of the run (target ≤ 20 %: "
            f"{'met' if ov['target_met'] else 'MISSED'}; {ov['method']}). Other estimates: "
            f"outside the asset steps {ov['outside_steps_share']:.1%}, Dagster run minus pure "
            f"replay {ov['vs_pure_replay_share']:.1%}. At the L unit list: "
            f"{res['dagster_overhead_L_units']}.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m bench.orchestration", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--scale", default="M", choices=["S", "M"])
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return child(a.child)
    res = measure(a.scale)
    save(res, a.scale, "orchestration")
    print(table(res))


if __name__ == "__main__":
    sys.exit(main())
