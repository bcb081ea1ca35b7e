"""Workbooks per second at a scale — all units, one year — and peak memory (issue 2).

    python -m bench.workbooks --scale M [--year 2019]

Writes every present unit's 审定表 workbook of one year (the latest by default) with
``bangfu.forms.workbook.write_unit_workbook`` exactly as the ``audit_workbooks`` asset does (same
inputs read from the lake and the warehouse, same formula-cell check), without Dagster, in a
fresh process: workbooks/s over the whole loop (reads included), the time inside the writer
alone, and the process's peak RSS. The draft reports (.docx) are timed the same way, apart.
"""

from __future__ import annotations

import argparse
import sys

from bench.common import data_dir, ensure_lake, landing_dir, log, rate, run_child, save


def measure(scale: str, year: int | None = None) -> dict:
    ensure_lake(scale)
    if year is None:
        year = max(int(p.name[5:]) for p in (data_dir(scale) / "lake" / "ingest_status").iterdir())
    out: dict = {"scale": scale, "year": year, "landing": str(landing_dir(scale))}
    for stage in ("workbooks", "reports"):
        log(f"{scale}: {stage} of {year}, all units …")
        r = run_child(
            "bench.pipeline", ["--child", "pure", "--scale", scale, stage, "--year", str(year)]
        )
        res = r["result"]
        total, write = res["seconds"][stage], res["seconds"].get("write", 0.0)
        out[stage] = {
            "files": res["files"],
            "seconds": round(total, 2),
            "per_s": rate(res["files"], total),
            "writer_seconds": round(write, 2),
            "per_s_writer_only": rate(res["files"], write),
            "peak_rss_mb": r["peak_rss_mb"],
            "ledger_rows": res["rows"],
        }
    return out


def table(res: dict) -> str:
    lines = [
        f"**workbooks at {res['scale']}**, {res['year']}, all units (fresh process each)",
        "",
        "| output | files | s | files/s | files/s (writer only) | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for k in ("workbooks", "reports"):
        v = res[k]
        lines.append(
            f"| {k} | {v['files']} | {v['seconds']:.2f} | {v['per_s']} | "
            f"{v['per_s_writer_only']} | {v['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m bench.workbooks", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--scale", default="M", choices=["S", "M", "L"])
    ap.add_argument("--year", type=int)
    a = ap.parse_args(argv)
    res = measure(a.scale, a.year)
    save(res, a.scale, "workbooks")
    print(table(res))


if __name__ == "__main__":
    sys.exit(main())
