"""Ingestion against its floor: how far is the whole ingest from a bare ``polars.read_excel``?

    python -m bench.ingest [--scale S|M] [--landing DIR] [--workers N] [--rounds N]
    python -m bench.ingest --formats [--scale S|M] [--format-files N] [--rounds N]

The issue's target: the whole ingestion (parse, normalise, validate, write Parquet and the
warehouse, Dagster overhead included) within 2× a bare read of the same files. In ONE run, each
step in a fresh child process (own wall time, CPU time and peak RSS, bench.common.run_child):

(a) **floor** — ``polars.read_excel(path, sheet_id=0)`` of every ledger .xlsx (all sheets),
    ``polars.read_csv`` of every ledger CSV (no header, all text, UTF-8-lossy: no GB18030
    decoding, and a file's width is its first line's, so the floor is a little optimistic for
    CSV) and of the reference CSVs (units.csv, standards.csv, civil_roster/*.csv);
(b) **pure** — the reference files, then ``bangfu.ingest.ingest_partitions`` over every
    (year, unit) partition, no Dagster: reading, parsing, validation, quarantine, lake Parquet
    and warehouse writes;
(c) **dagster** — the whole ingestion as ``bangfu run`` drives it (pipelines.runner), from the
    worker processes' early start (``prestart_workers``, as ``run_pipeline`` does first), the
    instance and the definitions to the last materialisation: ``reference_job`` (units.csv,
    standards, civil roster, landing inventory), the landing scan and partition registration,
    then the ``ledgers`` asset as ranged runs over every partition (``execute_in_process`` on a
    DAGSTER_HOME instance with the partition-range tags). ``unit_stage_job`` would also run
    ``unit_findings``; to time ingestion alone the child defines an ephemeral job selecting only
    ``ledgers`` (AssetSelection), so nothing is subtracted. Only the imports are left out (the
    floor's imports are left out too); their time is printed beside.

Times are measured inside each child after its imports; CPU = the child's process time over
the same span (every thread), which the other engineers' load on this shared machine disturbs
far less than wall time. rows/s uses the ledger data rows the ingest read (title, header, blank
and total rows excluded) for every step, so the three rates compare like with like. Landing:
bench/out/<scale>/landing, generated once when absent. Scratch: bench/out/<scale>/ingest_bench/.

``--formats``: the workbook forms side by side. The landing's .xlsx ledgers (the first N with
``--format-files``) are saved by LibreOffice as .xls and as .ods once (cached in
bench/out/<scale>/formats/<form>/); for each form, in rounds interleaved as above, (a) the same
bare calamine read (``polars.read_excel(path, sheet_id=0)``, every sheet) and (b) the pure
ingest of those ledgers. The table prints each form's (b) against its own (a), and (a) against
the .xlsx floor.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from bench.common import OUT, emit, ensure_landing, landing_dir, log, run_child, save

MODULE = "bench.ingest"


def _scratch(scale: str) -> Path:
    return OUT / scale / "ingest_bench"


WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")


def _ledger_files(landing: Path) -> tuple[list[Path], list[Path]]:
    """(workbooks of every form, CSV files) of the landing's ledgers."""
    root = landing / "ledgers"
    books = sorted(p for p in root.glob("*/*") if p.suffix.lower() in WORKBOOK_SUFFIXES)
    csvs = sorted(root.glob("*/*/*.csv"))
    return books, csvs


# ------------------------------------------------------------------ children
def _cpu() -> float:
    """CPU seconds of this process (every thread) and of its finished worker processes (the
    ingest's spawned readers are reaped before the clock stops)."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def _reference_files(landing: Path) -> list[Path]:
    ref = landing / "reference"
    return [ref / "units.csv", ref / "standards.csv", *sorted((ref / "civil_roster").glob("*.csv"))]


def child_floor(landing: Path) -> None:
    import logging

    import polars as pl

    logging.disable(logging.WARNING)  # fastexcel's "could not determine dtype" chatter
    xlsx, csvs = _ledger_files(landing)

    def bare_csv(p: Path) -> int:
        return pl.read_csv(
            p,
            has_header=False,
            infer_schema=False,
            encoding="utf8-lossy",
            truncate_ragged_lines=True,
        ).height

    t0, c0 = time.perf_counter(), _cpu()
    for p in _reference_files(landing):
        bare_csv(p)
    t_ref = time.perf_counter() - t0
    t1 = time.perf_counter()
    rows = 0
    for p in xlsx:
        rows += sum(df.height for df in pl.read_excel(p, sheet_id=0).values())
    t_xlsx = time.perf_counter() - t1
    for p in csvs:
        rows += bare_csv(p)
    wall = time.perf_counter() - t0
    emit(
        {
            "seconds": round(wall, 3),
            "cpu_seconds": round(_cpu() - c0, 3),
            "reference_seconds": round(t_ref, 3),
            "xlsx_seconds": round(t_xlsx, 3),
            "files_xlsx": len(xlsx),
            "files_csv": len(csvs),
            "raw_rows": rows,
        }
    )


def _reference(landing: Path, data: Path):
    """What reference_units / reference_standards put in the lake (the ingest needs units)."""
    import polars as pl

    from bangfu import readers
    from bangfu.lake import Lake

    lake = Lake(data / "lake")
    ref = landing / "reference"
    units = readers.read_units(ref / "units.csv", landing=landing)
    lake.write_single("ref_units", units)
    lake.write_single("ref_standards", readers.read_standards(ref / "standards.csv")[0])
    rosters = [
        readers.read_civil_roster(p, int(p.stem))[0].with_columns(pl.lit(int(p.stem)).alias("year"))
        for p in sorted((ref / "civil_roster").glob("*.csv"))
    ]
    if rosters:
        lake.write_single("ref_civil_roster", pl.concat(rosters, how="diagonal_relaxed"))
    return lake, units


def child_pure(landing: Path, data: Path, workers: int | None) -> None:
    import logging

    from bangfu.ingest import LandingScan, ingest_partitions
    from warehouse.store import Warehouse, default_url

    logging.disable(logging.WARNING)
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    os.environ.pop("BANGFU_WAREHOUSE_URL", None)
    t0, c0 = time.perf_counter(), _cpu()
    lake, units = _reference(landing, data)
    t_ref = time.perf_counter() - t0
    wh = Warehouse(default_url(data))
    wh.create_all()
    t1 = time.perf_counter()
    scan = LandingScan.scan(landing, set(units["unit_code"].to_list()))
    keys = [(y, u) for y in scan.years for u in units["unit_code"].to_list()]
    outcomes = ingest_partitions(
        landing=landing, lake=lake, warehouse=wh, scan=scan, keys=keys, workers=workers
    )
    wh.dispose()
    emit(
        {
            "seconds": round(time.perf_counter() - t0, 3),
            "cpu_seconds": round(_cpu() - c0, 3),
            "ledger_seconds": round(time.perf_counter() - t1, 3),
            "reference_seconds": round(t_ref, 3),
            "partitions": len(keys),
            "ledgers_ok": sum(o.status == "ok" for o in outcomes),
            "ledgers_rejected": sum(o.status == "rejected" for o in outcomes),
            "rows": sum(o.rows_read for o in outcomes),
            "rows_kept": sum(o.rows_kept for o in outcomes),
            "rows_quarantined": sum(o.rows_quarantined for o in outcomes),
        }
    )


def child_dagster(landing: Path, data: Path) -> None:
    # a fresh folder and instance, set up before the Dagster modules are imported
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True, exist_ok=True)
    os.environ.pop("DAGSTER_HOME", None)
    os.environ.pop("BANGFU_WAREHOUSE_URL", None)
    t_import = time.perf_counter()
    import dagster as dg
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from assets import ingest as ingest_assets
    from assets.partitions import contiguous_blocks, multi_key, units_partitions, years_partitions
    from bangfu.ingest import LandingScan, prestart_workers
    from bangfu.lake import Lake
    from bangfu.pool import discard_prestarted
    from pipelines import definitions
    from pipelines.home import dagster_home, register_partitions
    from pipelines.launch import execute

    t_import = time.perf_counter() - t_import
    # the whole ingestion from here: instance, definitions, reference run, scan, registration,
    # ledger runs (what `bangfu run` does before its findings)
    t0, c0 = time.perf_counter(), _cpu()
    prestart_workers(landing)  # as pipelines.runner.run_pipeline does first
    dagster_home(data)
    instance = dg.DagsterInstance.get()
    ingest_job = dg.define_asset_job(
        "bench_ingest_only_job", selection=dg.AssetSelection.assets(ingest_assets.ledgers)
    )
    defs = dg.Definitions.merge(
        definitions.build_defs(landing, data), dg.Definitions(jobs=[ingest_job])
    )
    run_config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

    t1 = time.perf_counter()
    # pipelines.launch.execute: what `bangfu run` launches (its tags, one planned event per range)
    ref = execute(defs, "reference_job", instance, tags={}, run_config=run_config)
    t_ref = time.perf_counter() - t1
    if not ref.success:
        sys.exit("reference_job failed")
    all_units = Lake(data / "lake").read_single("ref_units")["unit_code"].to_list()
    scan = LandingScan.scan(landing, set(all_units))
    register_partitions(instance, scan.years, all_units)
    year_blocks = contiguous_blocks(
        [str(y) for y in scan.years], instance.get_dynamic_partitions(years_partitions.name)
    )
    unit_blocks = contiguous_blocks(
        all_units, instance.get_dynamic_partitions(units_partitions.name)
    )
    t1 = time.perf_counter()
    runs = []
    for y0, y1 in year_blocks:
        for u0, u1 in unit_blocks:
            tags = {
                ASSET_PARTITION_RANGE_START_TAG: str(multi_key(int(y0), u0)),
                ASSET_PARTITION_RANGE_END_TAG: str(multi_key(int(y1), u1)),
            }
            res = execute(defs, "bench_ingest_only_job", instance, tags=tags, run_config=run_config)
            if not res.success:
                sys.exit(f"ingest run {tags} failed")
            runs.append(res.run_id)
    discard_prestarted()
    wall = time.perf_counter() - t0
    cpu = _cpu() - c0
    t_ledgers = time.perf_counter() - t1
    step_s = sum(
        st.end_time - st.start_time
        for run_id in runs
        for st in instance.get_run_step_stats(run_id)
        if st.start_time and st.end_time
    )
    meta_rows = 0
    for run_id in runs:
        for rec in instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records:
            md = rec.event_log_entry.asset_materialization.metadata
            if "rows_read" in md and "partitions" in md:
                meta_rows += md["rows_read"].value
    emit(
        {
            "seconds": round(wall, 3),
            "cpu_seconds": round(cpu, 3),
            "ledger_runs_seconds": round(t_ledgers, 3),
            "asset_step_seconds": round(step_s, 3),
            "reference_seconds": round(t_ref, 3),
            "import_seconds": round(t_import, 3),
            "runs": len(runs),
            "rows": meta_rows,
        }
    )


# ------------------------------------------------------------------ parent
def _row(name: str, r: dict, rows: int, floor: dict) -> str:
    s, cpu = r["result"]["seconds"], r["result"]["cpu_seconds"]
    fs, fc = floor["result"]["seconds"], floor["result"]["cpu_seconds"]
    return (
        f"| {name} | {rows:,} | {s:,.2f} | {rows / s:,.0f} | {s / fs:.2f}× | {cpu:,.2f} "
        f"| {cpu / fc:.2f}× | {r.get('peak_tree_rss_mb', r['peak_rss_mb']):,.0f} |"
    )


FORMS = ("xlsx", "xls", "ods")


def _form_landings(landing: Path, scale: str, n_files: int | None) -> dict[str, Path]:
    """The landing's first ``n_files`` .xlsx ledgers in each workbook form, each form in a
    landing folder of its own (reference files copied); LibreOffice saves .xls and .ods once."""
    from bangfu.generate.office import convert

    books = [p for p in _ledger_files(landing)[0] if p.suffix == ".xlsx"][:n_files]
    tag = "all" if n_files is None else str(n_files)
    out: dict[str, Path] = {}
    for form in FORMS:
        target = OUT / scale / "formats" / f"{form}-{tag}"
        out[form] = target
        if (target / "done").exists():
            continue
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(landing / "reference", target / "reference")
        for year in sorted({p.parent.name for p in books}):
            srcs = [p for p in books if p.parent.name == year]
            ydir = target / "ledgers" / year
            ydir.mkdir(parents=True)
            if form == "xlsx":
                for p in srcs:
                    shutil.copyfile(p, ydir / p.name)
            else:
                log(f"LibreOffice: {len(srcs)} ledgers of {year} → .{form} …")
                convert(srcs, form, ydir)
        (target / "done").write_text("ok")
    return out


def _formats_main(args, landing: Path) -> int:
    landings = _form_landings(landing, args.scale, args.format_files)
    scratch = _scratch(args.scale) / "formats"
    rounds: list[dict[str, dict]] = []
    for n in range(1, args.rounds + 1):
        this: dict[str, dict] = {}
        for form in FORMS:  # the forms back to back in every round (the VM's speed drifts)
            common = ["--landing", str(landings[form])]
            log(f"round {n}: .{form}: bare calamine read, then the pure ingest …")
            this[f"{form}_floor"] = run_child(MODULE, ["--child", "floor", *common])
            this[f"{form}_pure"] = run_child(
                MODULE, ["--child", "pure", *common, "--data", str(scratch / form)]
            )
        rounds.append(this)
    lines = [
        f"## ingest by workbook form — {landing} ({args.format_files or 'all'} .xlsx ledgers, "
        f"saved by LibreOffice as .xls and .ods)",
        "",
        f"Medians of {len(rounds)} round(s). (a) bare calamine read: `polars.read_excel(path, "
        "sheet_id=0)`, every sheet, the same call for every form. (b) pure ingest "
        "(`ingest_partitions`, reference files included).",
        "",
        "| form | files | MB | raw rows | (a) bare s | (a) × xlsx (a) | (b) ingest s "
        "| (b) × own (a) | rows read | quarantined |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def median(key: str, field: str) -> float:
        values = sorted(r[key]["result"][field] for r in rounds)
        return values[len(values) // 2]

    xlsx_floor = median("xlsx_floor", "seconds")
    for form in FORMS:
        fr, pr = rounds[0][f"{form}_floor"]["result"], rounds[0][f"{form}_pure"]["result"]
        books = _ledger_files(landings[form])[0]
        mb = sum(p.stat().st_size for p in books) / 1024**2
        floor_s, pure_s = median(f"{form}_floor", "seconds"), median(f"{form}_pure", "seconds")
        lines.append(
            f"| .{form} | {fr['files_xlsx']} | {mb:,.1f} | {fr['raw_rows']:,} | {floor_s:,.2f} "
            f"| {floor_s / xlsx_floor:.2f}× | {pure_s:,.2f} | {pure_s / floor_s:.2f}× "
            f"| {pr['rows']:,} | {pr['rows_quarantined']:,} |"
        )
    print("\n".join(lines))
    save(
        {"landing": str(landing), "rounds": rounds},
        args.scale if args.landing is None else "custom",
        "ingest-formats",
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n")[0])
    ap.add_argument("--scale", default="S", choices=["S", "M", "L"])
    ap.add_argument(
        "--landing", type=Path, help="landing folder (default bench/out/<scale>/landing)"
    )
    ap.add_argument("--workers", type=int, default=None, help="stage-1 reader threads")
    ap.add_argument(
        "--rounds", type=int, default=3, help="(a), (b), (c) this many times, interleaved"
    )
    ap.add_argument(
        "--formats", action="store_true", help=".xlsx, .xls and .ods side by side (LibreOffice)"
    )
    ap.add_argument(
        "--format-files", type=int, default=None, help="--formats: the first N .xlsx ledgers"
    )
    ap.add_argument("--child", choices=["floor", "pure", "dagster"], help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        landing = args.landing.resolve()
        if args.child == "floor":
            child_floor(landing)
        elif args.child == "pure":
            child_pure(landing, args.data.resolve(), args.workers)
        else:
            child_dagster(landing, args.data.resolve())
        return 0

    if args.landing is None:
        ensure_landing(args.scale)
        landing = landing_dir(args.scale).resolve()
    else:
        landing = args.landing.resolve()
    if args.formats:
        return _formats_main(args, landing)
    scratch = _scratch(args.scale)
    common = ["--landing", str(landing)]
    log(f"ingest bench over {landing}, {args.rounds} round(s)")
    load0 = os.getloadavg()
    extra = ["--workers", str(args.workers)] if args.workers else []
    rounds: list[dict] = []
    for n in range(1, args.rounds + 1):
        # (a), (b), (c) back to back in every round: this VM's CPU speed drifts by tens of per
        # cent over minutes, so each round's ratios compare like with like
        log(f"round {n}: (a) floor: bare polars.read_excel / read_csv …")
        floor = run_child(MODULE, ["--child", "floor", *common])
        log(f"round {n}: (b) pure batch ingest …")
        pure = run_child(
            MODULE, ["--child", "pure", *common, "--data", str(scratch / "pure"), *extra]
        )
        log(f"round {n}: (c) Dagster: reference run, then the ledgers asset as ranged runs …")
        dag = run_child(MODULE, ["--child", "dagster", *common, "--data", str(scratch / "dagster")])
        rounds.append({"floor": floor, "pure": pure, "dagster": dag})
        log(
            f"round {n}: floor {floor['result']['seconds']:.1f} s, pure "
            f"{pure['result']['seconds']:.1f} s, Dagster {dag['result']['seconds']:.1f} s "
            f"→ {dag['result']['seconds'] / floor['result']['seconds']:.2f}×"
        )
    load1 = os.getloadavg()

    ratios = sorted(
        (r["dagster"]["result"]["seconds"] / r["floor"]["result"]["seconds"], i)
        for i, r in enumerate(rounds)
    )
    _median_ratio, mid = ratios[len(ratios) // 2]  # the round with the median wall ratio
    floor, pure, dag = (rounds[mid][k] for k in ("floor", "pure", "dagster"))
    rows = pure["result"]["rows"]
    if dag["result"]["rows"] != rows:
        log(f"warning: Dagster run read {dag['result']['rows']:,} rows, pure {rows:,}")
    fs = floor["result"]["seconds"]
    fr, pr, dr = floor["result"], pure["result"], dag["result"]
    met = dr["seconds"] <= 2 * fs
    per_round = "; ".join(
        f"round {i + 1}: floor {r['floor']['result']['seconds']:.1f} s, (b) "
        f"{r['pure']['result']['seconds']:.1f} s, (c) {r['dagster']['result']['seconds']:.1f} s "
        f"= {r['dagster']['result']['seconds'] / r['floor']['result']['seconds']:.2f}× wall, "
        f"{r['dagster']['result']['cpu_seconds'] / r['floor']['result']['cpu_seconds']:.2f}× CPU"
        for i, r in enumerate(rounds)
    )
    from bangfu.ingest import PROCESS_MIN_BYTES  # the children are measured, not this process

    lines = [
        f"## ingest — {landing}",
        "",
        f"{pr['partitions']} partitions, {pr['ledgers_ok']} ledgers read, "
        f"{pr['ledgers_rejected']} rejected; {fr['files_xlsx']} xlsx + "
        f"{fr['files_csv']} CSV files; {rows:,} ledger data rows "
        f"({pr['rows_kept']:,} kept, {pr['rows_quarantined']:,} quarantined). "
        f"Reader threads: {args.workers or 'default'}; cpus: {os.cpu_count()}; worker "
        f"processes: {os.environ.get('BANGFU_WORKERS') or 'default (the CPUs)'}; load average "
        f"{load0[0]:.1f} before, {load1[0]:.1f} after.",
        "",
        f"The table is the round (of {len(rounds)}) with the median (c)/(a) wall ratio. "
        f"Every round: {per_round}.",
        "",
        "| step | rows | wall s | rows/s | wall × floor | CPU s | CPU × floor "
        "| peak RSS MB (with workers) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        _row("(a) floor: bare read_excel + read_csv", floor, rows, floor),
        _row("(b) pure ingest, reference files included (no Dagster)", pure, rows, floor),
        _row("(c) Dagster: whole ingestion (reference run + ledger runs)", dag, rows, floor),
        "",
        f"(a) read {fr['raw_rows']:,} raw rows (titles, headers, blanks included); xlsx part "
        f"{fr['xlsx_seconds']:.2f} s, reference CSVs {fr['reference_seconds']:.2f} s; one "
        f"process, one polars thread pool. (b) and (c) use worker processes when the ledgers "
        f"total at least {PROCESS_MIN_BYTES // 1024**2} MB (bangfu.ingest; CPU includes theirs). (b) reference files {pr['reference_seconds']:.2f} s, ledgers "
        f"{pr['ledger_seconds']:.2f} s. (c) from the instance and definitions to the last "
        f"materialisation: reference_job {dr['reference_seconds']:.2f} s, then "
        f"{dr['runs']} ranged run(s) of an ephemeral job selecting only `ledgers` "
        f"{dr['ledger_runs_seconds']:.2f} s (its asset step {dr['asset_step_seconds']:.2f} s); "
        f"Dagster's own overhead ≈ {dr['seconds'] - pr['seconds']:.2f} s over the pure "
        f"ingest. Importing Dagster and the project (not included) took "
        f"{dr['import_seconds']:.2f} s.",
        f"Target: (c) ≤ 2× floor (wall) → {'MET' if met else 'NOT met'} "
        f"({dr['seconds'] / fs:.2f}×; CPU {dr['cpu_seconds'] / fr['cpu_seconds']:.2f}×).",
    ]
    print("\n".join(lines))
    save(
        {"landing": str(landing), "floor": floor, "pure": pure, "dagster": dag, "rounds": rounds},
        args.scale if args.landing is None else "custom",
        "ingest",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
