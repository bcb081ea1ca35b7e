"""The year overview's time, and what the report figures add to the report stage (issue 18).

    python -m bench.overview --scale L [--year 2017] [--rounds 2] [--units N]

In one fresh process over the scale's lake and warehouse (``bench/out/<scale>/data``, made by
the pipeline once): the overview of one year read and computed (``bangfu.overview.year_overview``:
warehouse findings and metrics, the lake's payments and ledger debits) and written
(``bangfu.overview_workbook``), then the draft reports of the year's units (all, or the first
``--units``) written exactly as the output stage writes them
(``bangfu.stages.outputs.run_workbooks``, reports only, in this process), alternately with and
without the figures (``BANGFU_REPORT_FIGURES`` 1 / 0), ``--rounds`` times each after one warm-up
unit:
the medians, the difference per report and its share of the report stage.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import data_dir, emit, ensure_lake, log, run_child, save


def child(
    scale: str, year: int | None, rounds: int, n_units: int | None, data: Path | None = None
) -> None:
    from bangfu import overview
    from bangfu.envvars import temporary_env
    from bangfu.forms import charts
    from bangfu.lake import Lake
    from bangfu.overview_workbook import write_overview_workbook
    from bangfu.settings import AuditSettings
    from bangfu.stages.outputs import run_workbooks
    from bangfu.stages.reading import present_units
    from warehouse.store import Warehouse, default_url

    data = data or data_dir(scale)
    lake = Lake(data / "lake")
    wh = Warehouse(default_url(data))
    units = lake.read_single("ref_units")
    if year is None:
        year = max(int(p.name[5:]) for p in (data / "lake" / "ingest_status").glob("year=*"))
    out: dict = {"scale": scale, "year": year, "units": units.height}
    tmp = Path(tempfile.mkdtemp(prefix="bench-overview-"))

    t0 = time.perf_counter()
    ov = overview.year_overview(lake, wh, units, year)
    t1 = time.perf_counter()
    written = write_overview_workbook(tmp / f"{year}.xlsx", ov)
    t2 = time.perf_counter()
    out["overview"] = {
        "compute_s": round(t1 - t0, 3),
        "write_s": round(t2 - t1, 3),
        "total_s": round(t2 - t0, 3),
        "units_ranked": ov.ranking.height,
        "benford_units": ov.benford.height,
        "charts": sum(written["charts"].values()),
        "bytes": (tmp / f"{year}.xlsx").stat().st_size,
    }

    present = present_units(lake, year)
    keys = [(year, u) for u in (present[:n_units] if n_units else present)]
    settings = AuditSettings()

    def reports(on: bool) -> dict:
        path = tmp / ("on" if on else "off")
        t = time.perf_counter()
        with temporary_env(charts.FIGURES_ENV, "1" if on else "0"):
            res = run_workbooks(
                lake,
                wh,
                settings,
                keys,
                units=units,
                paths={"report": lambda y, u: path / str(y) / f"{u}.docx"},
                workers=1,
            )
        return {"wall_s": time.perf_counter() - t, "writer_s": res.seconds.get("report", 0.0)}

    log(f"{scale} {year}: warm-up …")
    run_workbooks(  # imports, the font, the first figure
        lake,
        wh,
        settings,
        keys[:1],
        units=units,
        paths={"report": lambda y, u: tmp / "warm" / f"{u}.docx"},
        workers=1,
    )
    runs: dict[bool, list[dict]] = {True: [], False: []}
    for r in range(rounds):
        for on in (False, True) if r % 2 == 0 else (True, False):
            log(f"{scale} {year}: {len(keys)} reports, figures {'on' if on else 'off'} …")
            runs[on].append(reports(on))
    med = {
        on: {k: statistics.median(x[k] for x in runs[on]) for k in ("wall_s", "writer_s")}
        for on in runs
    }
    n = max(len(keys), 1)
    out["reports"] = {
        "reports": len(keys),
        "rounds": rounds,
        "with_figures_s": round(med[True]["wall_s"], 3),
        "without_figures_s": round(med[False]["wall_s"], 3),
        "added_per_report_ms": round(1000 * (med[True]["wall_s"] - med[False]["wall_s"]) / n, 2),
        "added_share": round(med[True]["wall_s"] / med[False]["wall_s"] - 1, 4)
        if med[False]["wall_s"]
        else None,
        "figure_bytes_per_report": _figure_bytes(tmp / "on", n),
    }
    emit(out)


def _figure_bytes(folder: Path, n: int) -> int:
    import zipfile

    total = 0
    for f in folder.glob("*/*.docx"):
        with zipfile.ZipFile(f) as zf:
            total += sum(i.file_size for i in zf.infolist() if i.filename.startswith("word/media/"))
    return total // n


def table(res: dict) -> str:
    o, r = res["overview"], res["reports"]
    return "\n".join(
        [
            f"**overview at {res['scale']}**, {res['year']}, {res['units']} units",
            "",
            "| step | figure |",
            "|---|---:|",
            f"| overview read + computed | {o['compute_s']:.2f} s |",
            f"| overview workbook written ({o['charts']} charts, {o['bytes'] // 1024} kB) "
            f"| {o['write_s']:.2f} s |",
            f"| overview in all | {o['total_s']:.2f} s |",
            f"| {r['reports']} reports without figures (median of {r['rounds']}) "
            f"| {r['without_figures_s']:.2f} s |",
            f"| {r['reports']} reports with figures | {r['with_figures_s']:.2f} s |",
            f"| added per report | {r['added_per_report_ms']:.1f} ms "
            f"({(r['added_share'] or 0) * 100:.1f} %) |",
            f"| figure PNG bytes per report | {r['figure_bytes_per_report'] // 1024} kB |",
        ]
    )


def measure(
    scale: str,
    year: int | None = None,
    rounds: int = 2,
    units: int | None = None,
    data: Path | None = None,
) -> dict:
    """Fill the scale's lake once (unless ``data`` names another run's data folder, e.g.
    bench.national's), then measure in a fresh process (see the module)."""
    if data is None:
        ensure_lake(scale)
    args = ["--child", "--scale", scale, "--rounds", str(rounds)]
    args += ["--data", str(data)] if data else []
    args += ["--year", str(year)] if year else []
    args += ["--units", str(units)] if units else []
    r = run_child("bench.overview", args)
    return {**r["result"], "peak_rss_mb": r["peak_rss_mb"]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m bench.overview", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--scale", default="M", choices=["S", "M", "L"])
    ap.add_argument("--year", type=int)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--units", type=int, help="only the year's first N present units' reports")
    ap.add_argument("--data", type=Path, help="another run's data folder (default: the scale's)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        child(a.scale, a.year, a.rounds, a.units, a.data)
        return
    res = measure(a.scale, a.year, a.rounds, a.units, a.data)
    save(res, a.scale, "overview")
    print(table(res))


if __name__ == "__main__":
    sys.exit(main())
