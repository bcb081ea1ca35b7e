"""Workbooks per second at a scale — all units, one year — and peak memory (issues 2 and 4).

    python -m bench.workbooks --scale M [--year 2019] [--workers 1,2]

Writes every present unit's 审定表 workbook and draft report (.docx) of one year exactly as the
``audit_workbooks`` asset does (``bangfu.stages.outputs.run_workbooks``: same inputs read from
the lake and the warehouse, same formula-cell check, same worker pool), without Dagster, in a
fresh process per worker count, one after the other on the same files: (year, unit)s per second
over the whole loop (reads included), files per second for each kind (the wall split by the
writers' time shares), the writers' own time summed over the workers, and the peak of the summed
RSS of the process and its workers.
"""

from __future__ import annotations

import argparse
import sys

from bench.common import data_dir, ensure_lake, landing_dir, log, rate, run_child, save


def measure(scale: str, year: int | None = None, workers: list[int] | None = None) -> dict:
    ensure_lake(scale)
    if year is None:
        year = max(int(p.name[5:]) for p in (data_dir(scale) / "lake" / "ingest_status").iterdir())
    out: dict = {"scale": scale, "year": year, "landing": str(landing_dir(scale)), "runs": []}
    for n in workers or [1, 0]:  # 0: the default (BANGFU_WORKERS or the usable CPUs)
        log(f"{scale}: workbooks + reports of {year}, all units, workers={n or 'default'} …")
        args = ["--child", "pure", "--scale", scale, "workbooks", "--year", str(year)]
        r = run_child("bench.pipeline", args + (["--workers", str(n)] if n else []))
        res = r["result"]
        sec = res["seconds"]
        out["runs"].append(
            {
                "workers": res["workers"],
                "units": res["files"],
                "seconds": round(sec["outputs"], 2),
                "units_per_s": rate(res["files"], sec["outputs"]),
                "workbooks_per_s": rate(res["files"], sec["workbooks"]),
                "reports_per_s": rate(res["files"], sec["reports"]),
                "workbook_writer_cpu_s": round(sec["workbook_writer_cpu"], 2),
                "report_writer_cpu_s": round(sec["report_writer_cpu"], 2),
                "peak_rss_mb_summed": res["tree_peak_rss_mb"],
                "peak_rss_mb_largest_process": r["peak_rss_mb"],
                "ledger_rows": res["rows"],
            }
        )
    return out


def table(res: dict) -> str:
    lines = [
        f"**workbooks at {res['scale']}**, {res['year']}, all units: workbook + report per unit as "
        "the audit_workbooks asset writes them (fresh process per row, same files)",
        "",
        "| workers | units | s | units/s | workbooks/s | reports/s | writer CPU s (wb / rp) "
        "| peak RSS MB (summed) |",
        "|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for v in res["runs"]:
        lines.append(
            f"| {v['workers']} | {v['units']} | {v['seconds']:.2f} | {v['units_per_s']} | "
            f"{v['workbooks_per_s']} | {v['reports_per_s']} | {v['workbook_writer_cpu_s']:.1f} / "
            f"{v['report_writer_cpu_s']:.1f} | {v['peak_rss_mb_summed']:.0f} |"
        )
    lines.append(
        "\nworkbooks/s and reports/s: units over the wall time split by the two writers' shares."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m bench.workbooks", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--scale", default="M", choices=["S", "M", "L"])
    ap.add_argument("--year", type=int)
    ap.add_argument(
        "--workers", default="1,0", help="worker counts to run, comma-separated (0: default)"
    )
    a = ap.parse_args(argv)
    res = measure(a.scale, a.year, [int(x) for x in a.workers.split(",")])
    save(res, a.scale, "workbooks")
    print(table(res))


if __name__ == "__main__":
    sys.exit(main())
