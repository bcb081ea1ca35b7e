"""Does another code tree ingest a landing folder exactly as this one does?

    python -m bench.ingest_same --other DIR --landing DIR [--scratch DIR]

For a restructure that must change no behaviour: each tree (this checkout, and ``--other``,
e.g. ``git archive main | tar -x -C /tmp/old``) ingests the landing in a child process of its
own (reference files, then every (year, unit) partition through
``bangfu.ingest.ingest_partitions`` into a fresh lake and SQLite warehouse); then every lake
Parquet file is compared as a frame and every warehouse table row for row, as bench.same_run
compares them (the columns both trees have; time stamps and
surrogate ids left out). Exit status 0 when all are equal, 1 otherwise (the differences named).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.same_run import lake_differences, tree_parser, verdict, warehouse_differences

HERE = Path(__file__).resolve().parent.parent

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
    """Lake files and warehouse tables, compared as bench.same_run compares them."""
    return lake_differences(a / "lake", b / "lake") + warehouse_differences(
        a / "warehouse.db", b / "warehouse.db"
    )


def main(argv: list[str] | None = None) -> int:
    args = tree_parser("python -m bench.ingest_same", __doc__).parse_args(argv)
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="bangfu-ingest-same-"))
    for name, tree in (("this", HERE), ("other", args.other.resolve())):
        print(f"ingesting {args.landing} with {tree} …")
        ingest(tree, args.landing.resolve(), scratch / name)
    return verdict(differences(scratch / "other", scratch / "this"))


if __name__ == "__main__":
    sys.exit(main())
