"""Soak: consecutive nightly runs with a few ledger files changed each night (issue #7 item 6).

    python -m bench.soak --scale M --nights 10

Works on its own copy of the scale's landing folder (bench/out/<scale>/soak/landing; the
landing is generated once like the other benchmarks) and its own data folder, so nothing else
is touched. Night 0 is the initial full load (`bangfu run`, every partition). Then each night:

1. a few ledgers change: in ``--changes`` CSV-form ledgers (a different few each night) one
   payment row of 救助发放明细 is copied as a new payment (a new 发放编号) — new data, one row
   each;
2. the nightly path runs in a fresh process: the nightly schedule
   (pipelines.automation.nightly_schedule) is evaluated against the instance and the warehouse
   and its ranged unit-stage run requests are executed; the later stages follow for the
   affected years and partitions (what their eager automation conditions request in
   production, where the daemon launches them; here they are executed directly, in the same
   process and order as `bangfu run` does).

Per night it prints the wall time and the peak RSS of that process (os.wait4: its own, never
inherited from an earlier night), the Dagster instance's size (DAGSTER_HOME bytes, runs, event
rows), the lake's bytes and files, and the warehouse's row counts; at the end, the growth per
night of each against what the new data explains. Results go to bench/results/soak-<date>.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path

from bench.common import OUT, RESULTS, emit, ensure_landing, landing_dir, log, machine, run_child

PAYMENTS_TITLE = "救助发放明细"


# ---------------------------------------------------------------- the landing changes
def _decode(raw: bytes) -> tuple[str, str]:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise ValueError("neither UTF-8 nor GB18030")


def _clean(cell: str) -> str:
    return "".join(cell.split()).replace("\u3000", "")


def add_payment(csv_path: Path, night: int) -> str:
    """Copy one payment row of a 救助发放明细 CSV as a new payment (new 发放编号), in the file's
    own encoding and line ending; returns the new 发放编号."""
    raw = csv_path.read_bytes()
    text, enc = _decode(raw)
    newline = "\r\n" if "\r\n" in text else "\n"
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = next(i for i, r in enumerate(rows) if any(_clean(c) == "发放编号" for c in r))
    col = next(j for j, c in enumerate(rows[header]) if _clean(c) == "发放编号")
    data = [i for i in range(header + 1, len(rows)) if len(rows[i]) > col and rows[i][col].strip()]
    src = data[(night * 7) % len(data)]
    new = list(rows[src])
    new[col] = f"{new[col].strip()}N{night:02d}"
    rows.insert(src + 1, new)
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator=newline).writerows(rows)
    body = out.getvalue()
    csv_path.write_bytes(body.encode("utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else enc))
    return new[col]


def csv_ledgers(landing: Path) -> list[tuple[int, str, Path]]:
    """(year, unit, payments CSV) of every CSV-form ledger, in a fixed order."""
    out = []
    for year_dir in sorted((landing / "ledgers").iterdir()):
        for unit_dir in sorted(p for p in year_dir.iterdir() if p.is_dir()):
            pay = [p for p in unit_dir.glob("*.csv") if PAYMENTS_TITLE in _clean(p.stem)]
            if pay:
                out.append((int(year_dir.name), unit_dir.name, pay[0]))
    return out


# ---------------------------------------------------------------- measurements
def folder_bytes(root: Path) -> tuple[int, int]:
    size = files = 0
    for p in root.rglob("*"):
        if p.is_file():
            size += p.stat().st_size
            files += 1
    return size, files


def instance_counts(home: Path) -> dict:
    """Runs and event rows of the (SQLite) Dagster instance in `home`."""
    hist = home / "history"
    out = {"runs": 0, "event_rows": 0}
    runs_db = hist / "runs.db"
    if runs_db.exists():
        with sqlite3.connect(runs_db) as c:
            out["runs"] = c.execute("select count(*) from runs").fetchone()[0]
    # one event-log database per run, plus index.db (the asset events again, indexed)
    for db in sorted((hist / "runs").glob("*.db")) if (hist / "runs").exists() else []:
        if db.name == "index.db":
            continue
        with sqlite3.connect(db) as c:
            out["event_rows"] += c.execute("select count(*) from event_logs").fetchone()[0]
    return out


def lake_rows(dataset: Path) -> int:
    import polars as pl

    files = sorted(dataset.rglob("data.parquet"))
    return pl.scan_parquet(files).select(pl.len()).collect().item() if files else 0


def warehouse_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as c:
        names = [
            r[0]
            for r in c.execute("select name from sqlite_master where type='table' order by name")
        ]
        return {n: c.execute(f'select count(*) from "{n}"').fetchone()[0] for n in names}


def measure(data: Path) -> dict:
    home = data / "dagster_home"
    lake_b, lake_f = folder_bytes(data / "lake")
    home_b, _ = folder_bytes(home)
    wb_b, wb_f = folder_bytes(data / "workbooks")
    stale = [p for p in (data / "lake").rglob(".*.tmp")]
    return {
        "dagster_home_mb": round(home_b / 2**20, 2),
        **instance_counts(home),
        "lake_mb": round(lake_b / 2**20, 2),
        "lake_bytes": lake_b,
        "lake_files": lake_f,
        "lake_payment_rows": lake_rows(data / "lake" / "payments"),
        "workbooks_files": wb_f,
        "warehouse_db_mb": round((data / "warehouse.db").stat().st_size / 2**20, 2),
        "warehouse": warehouse_counts(data / "warehouse.db"),
        "temp_files_left": len(stale),
    }


# ---------------------------------------------------------------- the nightly child
def child_night(landing: Path, data: Path) -> None:
    """Evaluate the nightly schedule and execute what it requests, then the later stages."""
    import datetime as dt
    import warnings

    warnings.filterwarnings("ignore")
    import dagster as dg
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from assets.partitions import contiguous_blocks, multi_key, split_keys, units_partitions
    from pipelines import definitions
    from pipelines.automation import nightly_schedule
    from pipelines.dagster_private import defs_state_storage
    from pipelines.home import dagster_home
    from resources import LandingResource, WarehouseResource

    t0 = time.perf_counter()
    dagster_home(data)
    instance = dg.DagsterInstance.get()
    defs = definitions.build_defs(landing, data)
    config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    timings: dict[str, float] = {}
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=dt.datetime.now(dt.UTC),
        resources={
            "landing": LandingResource(path=str(landing)),
            "warehouse": WarehouseResource(data_path=str(data)),
        },
    ) as ctx:
        t = time.perf_counter()
        requests = nightly_schedule(ctx)
    timings["schedule_tick_s"] = round(time.perf_counter() - t, 2)
    requests = [] if isinstance(requests, dg.SkipReason) else list(requests)
    keys: set[tuple[int, str]] = set()
    failed: list[str] = []

    def execute(job: str, tags: dict) -> None:
        t = time.perf_counter()
        with defs_state_storage(instance):
            result = defs.resolve_job_def(job).execute_in_process(
                instance=instance, tags=tags, run_config=config, raise_on_error=False
            )
        timings[job] = round(timings.get(job, 0.0) + time.perf_counter() - t, 2)
        if not result.success:
            failed.append(f"{job} {tags}")

    for req in requests:
        start = req.tags[ASSET_PARTITION_RANGE_START_TAG]
        end = req.tags[ASSET_PARTITION_RANGE_END_TAG]
        execute(req.job_name, dict(req.tags))
        (y0, u0), (_, u1) = split_keys([start])[0], split_keys([end])[0]
        order = instance.get_dynamic_partitions(units_partitions.name)
        keys |= {(y0, u) for u in order[order.index(u0) : order.index(u1) + 1]}
    years = sorted({y for y, _ in keys})
    unit_order = instance.get_dynamic_partitions(units_partitions.name)
    for job in definitions.STAGE_JOBS:
        if job == "unit_stage_job" or not keys:
            continue
        if definitions.is_year_job(job):
            for y in years:
                execute(job, _range(str(y), str(y)))
        else:
            for y in years:
                units = [u for yy, u in keys if yy == y]
                for u0, u1 in contiguous_blocks(units, unit_order):
                    execute(job, _range(str(multi_key(y, u0)), str(multi_key(y, u1))))
    emit(
        {
            "requests": len(requests),
            "partitions": sorted(f"{y}|{u}" for y, u in keys),
            "failed": failed,
            "inside_s": round(time.perf_counter() - t0, 2),
            **timings,
        }
    )


def _range(start: str, end: str) -> dict:
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    return {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}


# ---------------------------------------------------------------- the parent
def soak(scale: str, nights: int, changes: int, fresh: bool) -> Path:
    root = OUT / scale / "soak"
    landing, data = root / "landing", root / "data"
    ensure_landing(scale)
    if fresh or not (landing / "ledgers").exists():
        shutil.rmtree(root, ignore_errors=True)
        log(f"copying the {scale} landing folder to {landing} …")
        for sub in ("reference", "ledgers"):
            shutil.copytree(landing_dir(scale) / sub, landing / sub)
    env = {"DAGSTER_HOME": str(data / "dagster_home")}
    env.pop("BANGFU_WAREHOUSE_URL", None)
    os.environ.pop("BANGFU_WAREHOUSE_URL", None)
    results: list[dict] = []
    candidates = csv_ledgers(landing)
    if not candidates:
        sys.exit("no CSV-form ledger in the landing folder to change")

    log(f"night 0: initial full load (bangfu run) of {landing} …")
    r = run_child(
        "bangfu.cli",
        ["run", "--landing", str(landing), "--data", str(data)],
        env=env,
        check=False,
    )
    results.append({"night": 0, "changed": [], "rc": r["rc"], **_row(r), **measure(data)})
    _print(results[-1])
    for night in range(1, nights + 1):
        changed = []
        for k in range(changes):
            year, unit, path = candidates[((night - 1) * changes + k) % len(candidates)]
            changed.append(f"{year}|{unit} {add_payment(path, night)}")
        r = run_child(
            "bench.soak",
            ["--child-night", "--landing", str(landing), "--data", str(data)],
            env=env,
            check=False,
        )
        row = {"night": night, "changed": changed, "rc": r["rc"], **_row(r), **measure(data)}
        res = r.get("result") or {}
        row["partitions_run"] = res.get("partitions", [])
        row["failed"] = res.get("failed", ["(no result)"])
        row["stage_s"] = {k: v for k, v in res.items() if k.endswith("_job") or k.endswith("_s")}
        results.append(row)
        _print(row)
    return _write(scale, nights, changes, results)


def _row(r: dict) -> dict:
    return {"wall_s": r["wall_s"], "peak_rss_mb": r["peak_rss_mb"]}


def _print(row: dict) -> None:
    wh = row["warehouse"]
    print(
        f"night {row['night']:>2}: rc {row['rc']}  {row['wall_s']:8.1f} s  "
        f"peak RSS {row['peak_rss_mb']:7.1f} MB  DAGSTER_HOME {row['dagster_home_mb']:7.2f} MB "
        f"({row['runs']} runs, {row['event_rows']} event rows)  lake {row['lake_mb']:7.2f} MB "
        f"/{row['lake_files']} files/{row['lake_payment_rows']} payment rows  warehouse {row['warehouse_db_mb']:.2f} MB "
        f"ingest_log {wh.get('ingest_log')} quarantine {wh.get('quarantine')} "
        f"findings {wh.get('findings')} metrics {wh.get('unit_year_metrics')}  "
        f"temp files {row['temp_files_left']}",
        flush=True,
    )


def _write(scale: str, nights: int, changes: int, results: list[dict]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    day = time.strftime("%Y-%m-%d")
    path = RESULTS / f"soak-{day}.md"
    nightly = results[1:]
    lines = [
        f"# Soak at {scale}: {nights} nightly runs, {changes} ledgers changed per night ({day})",
        "",
        f"`python -m bench.soak --scale {scale} --nights {nights} --changes {changes}` on "
        f"{json.dumps(machine(), ensure_ascii=False)}. The machine is shared by several "
        "engineers at once (2 cores): wall times are noisy.",
        "",
        "Night 0 is the initial full load (`bangfu run`); nights 1… evaluate the nightly "
        "schedule and execute its requests and the later stages of the affected partitions, "
        "each night in a fresh process (peak RSS is that process's own).",
        "",
        "| night | rc | wall s | peak RSS MB | DAGSTER_HOME MB | runs | event rows | lake MB "
        "| lake files | lake payment rows | warehouse MB | ingest_log | quarantine | findings "
        "| metrics | temp files | partitions run |",
        "|" + "---|" * 17,
    ]
    for r in results:
        wh = r["warehouse"]
        lines.append(
            f"| {r['night']} | {r['rc']} | {r['wall_s']:.1f} | {r['peak_rss_mb']:.0f} "
            f"| {r['dagster_home_mb']:.2f} | {r['runs']} | {r['event_rows']} | {r['lake_mb']:.2f} "
            f"| {r['lake_files']} | {r['lake_payment_rows']} | {r['warehouse_db_mb']:.2f} "
            f"| {wh.get('ingest_log')} "
            f"| {wh.get('quarantine')} | {wh.get('findings')} | {wh.get('unit_year_metrics')} "
            f"| {r['temp_files_left']} | {len(r.get('partitions_run', [])) or 'all'} |"
        )
    if len(nightly) >= 2:
        first, last = nightly[0], nightly[-1]
        n = len(nightly) - 1

        def per_night(key):
            return (last[key] - first[key]) / n

        walls = [r["wall_s"] for r in nightly]
        rss = [r["peak_rss_mb"] for r in nightly]
        lines += [
            "",
            "## Flat or not",
            "",
            f"- wall time per night: min {min(walls):.1f} s, max {max(walls):.1f} s, first "
            f"{walls[0]:.1f} s, last {walls[-1]:.1f} s",
            f"- peak RSS per night: min {min(rss):.0f} MB, max {max(rss):.0f} MB, first "
            f"{rss[0]:.0f} MB, last {rss[-1]:.0f} MB",
            f"- DAGSTER_HOME grows {per_night('dagster_home_mb'):.2f} MB/night, "
            f"{per_night('runs'):.1f} runs/night, {per_night('event_rows'):.0f} event rows/night "
            "(the run history is kept by design)",
            f"- lake grows {per_night('lake_bytes') / 1024:.1f} kB/night, "
            f"{per_night('lake_files'):.1f} files/night, "
            f"{per_night('lake_payment_rows'):+.1f} payment rows/night "
            f"(new payments added per night: {len(last['changed'])})",
            "- warehouse rows per night: "
            + ", ".join(
                f"{t} {(last['warehouse'][t] - first['warehouse'][t]) / n:+.1f}"
                for t in sorted(last["warehouse"])
            ),
            f"- stale temporary files after any night: {max(r['temp_files_left'] for r in results)}",
            f"- failed stages: {sum(len(r.get('failed', [])) for r in nightly)}",
        ]
    lines += ["", "## Nights", ""]
    for r in nightly:
        lines.append(
            f"- night {r['night']}: changed {', '.join(r['changed'])}; ran "
            f"{', '.join(r.get('partitions_run', []))}; stage seconds "
            f"{json.dumps(r.get('stage_s', {}), ensure_ascii=False)}"
            + (f"; FAILED {r['failed']}" if r.get("failed") else "")
        )
    text = "\n".join(lines) + "\n"
    if path.exists():  # another scale's soak the same day: keep both
        text = path.read_text(encoding="utf-8") + "\n\n" + text
    path.write_text(text, encoding="utf-8")
    log(f"results: {path}")
    return path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    p.add_argument("--scale", choices=["S", "M", "L"], default="S")
    p.add_argument("--nights", type=int, default=10)
    p.add_argument("--changes", type=int, default=3, help="ledgers changed per night")
    p.add_argument("--keep", action="store_true", help="reuse bench/out/<scale>/soak as it is")
    p.add_argument("--child-night", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--landing", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child_night:
        child_night(args.landing.resolve(), args.data.resolve())
        return
    soak(args.scale, args.nights, args.changes, fresh=not args.keep)


if __name__ == "__main__":
    main()
