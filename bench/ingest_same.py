"""Does another code tree ingest a landing folder exactly as this one does?

    python -m bench.ingest_same --other DIR --landing DIR [--scratch DIR]

For a restructure that must change no behaviour: each tree (this checkout, and ``--other``,
e.g. ``git archive main | tar -x -C /tmp/old``) ingests the landing in a child process of its
own (reference files, then every (year, unit) partition through
``bangfu.ingest.ingest_partitions`` into a fresh lake and SQLite warehouse); then every lake
Parquet file is compared as a frame and every warehouse table row for row (time stamps and
surrogate ids left out). Exit status 0 when all are equal, 1 otherwise (the differences named).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
STAMPS = {"ingested_at", "rejected_at", "id"}

CHILD = """
import sys
tree, landing, out = sys.argv[1:4]
sys.path.insert(0, tree)
from pathlib import Path
import bangfu
assert bangfu.__file__.startswith(tree), bangfu.__file__
from bangfu import readers
from bangfu.ingest import LandingScan, ingest_partitions
from bangfu.lake import Lake
from warehouse.store import Warehouse
out, landing = Path(out), Path(landing)
codes = readers.read_units(landing / "reference" / "units.csv", landing=landing)["unit_code"]
wh = Warehouse(f"sqlite:///{out / 'warehouse.db'}")
wh.create_all()
scan = LandingScan.scan(landing, set(codes))
keys = [(y, u) for y in scan.years for u in codes]
ingest_partitions(
    landing=landing, lake=Lake(out / "lake"), warehouse=wh, scan=scan, keys=keys, processes=1
)
wh.dispose()
"""


def ingest(tree: Path, landing: Path, out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("BANGFU_WAREHOUSE_URL", "PYTHONPATH")}
    subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(landing), str(out)],
        check=True,
        env=env,
        cwd=out,
    )


def differences(a: Path, b: Path) -> list[str]:
    import polars as pl

    out: list[str] = []
    files_a = {p.relative_to(a / "lake") for p in (a / "lake").rglob("*.parquet")}
    files_b = {p.relative_to(b / "lake") for p in (b / "lake").rglob("*.parquet")}
    out += [f"lake file in one tree only: {p}" for p in sorted(files_a ^ files_b)]
    for p in sorted(files_a & files_b):
        if not pl.read_parquet(a / "lake" / p).equals(pl.read_parquet(b / "lake" / p)):
            out.append(f"lake file differs: {p}")
    ca, cb = sqlite3.connect(a / "warehouse.db"), sqlite3.connect(b / "warehouse.db")
    tables = [r[0] for r in ca.execute("select name from sqlite_master where type='table'")]
    for t in tables:
        cols = [r[1] for r in ca.execute(f"pragma table_info({t})") if r[1] not in STAMPS]
        q = f"select {', '.join(cols)} from {t} order by {', '.join(cols)}"
        ra, rb = ca.execute(q).fetchall(), cb.execute(q).fetchall()
        if ra != rb:
            out.append(f"warehouse table {t}: {len(ra)} rows against {len(rb)}, not equal")
        elif ra:
            print(f"  {t}: {len(ra)} rows equal")
    print(f"  lake: {len(files_a & files_b)} files compared")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ingest_same", description=__doc__)
    ap.add_argument("--other", type=Path, required=True, help="the other code tree")
    ap.add_argument("--landing", type=Path, required=True)
    ap.add_argument("--scratch", type=Path, default=None)
    args = ap.parse_args(argv)
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="bangfu-ingest-same-"))
    for name, tree in (("this", HERE), ("other", args.other.resolve())):
        print(f"ingesting {args.landing} with {tree} …")
        ingest(tree, args.landing.resolve(), scratch / name)
    diffs = differences(scratch / "other", scratch / "this")
    for d in diffs:
        print("DIFFERS:", d)
    print("same" if not diffs else f"{len(diffs)} difference(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
