"""Does another code tree's whole run write what this one writes?

    python -m bench.same_run --other DIR --landing DIR [--scratch DIR]

For issue #16's guard ("the lake, warehouse rows and workbooks the same as before the
restructure"): each tree (this checkout, and ``--other``, e.g. ``git archive 86dfb6f | tar -x
-C /tmp/old``) runs ``bangfu run --landing … --data …`` over the same landing folder in a
process of its own (this environment's Python, the tree first on the path). Then:

- every lake Parquet file is compared as a frame, and every warehouse table row for row over
  the columns both trees have (time stamps and surrogate ids left out), as
  ``bench.ingest_same`` does;
- every workbook's sheets are compared cell by cell as text (calamine), sheet by sheet, and
  every report's paragraphs and table rows as text;
- what only one tree writes (files, tables, columns, sheets) is listed by name.

Changes of behaviour made on purpose after the other tree are data, not exceptions in the code:
``KNOWN_CHANGES`` rewrites the other tree's text as each named commit changed it (e.g. no more
``。。`` before 依据), and a sheet or report that only *gained* rows, columns or paragraphs (the
review cycle's verdict columns, the report's figures) is listed as "extended", with every one of
the other tree's rows still there in order. Exit status 0 when everything is equal or extended,
1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
STAMPS = {"ingested_at", "rejected_at", "id"}
# Written at each run by design (run ids, times of writing, the Dagster instance).
SKIP_TABLE_COLUMNS = STAMPS | {"run_id", "written_at", "computed_at", "created_at", "updated_at"}


# (commit that made the change, what it changed, old text pattern, new text): applied to the
# other tree's text (workbook cells, report paragraphs, findings' detail) before comparing.
def _thousands(m: re.Match) -> str:
    """A whole number field of a report table's row (text with tabs) with separators."""
    return f"{int(m[1]):,}{m[2] or ''}" if "\t" in m.string else m[0]


KNOWN_CHANGES: tuple[tuple[str, str, re.Pattern, object], ...] = (
    ("fef7ffa", "no full stop of a finding before its basis", re.compile("。(。|（依据)"), r"\1"),
    ("dd1917e", "findings joined as clauses: no full stop before ；", re.compile("。；"), "；"),
    ("dd1917e", "findings joined as clauses: no full stop before 等", re.compile("。等"), "等"),
    ("dd1917e", "a joined finding's evidence slip inside its sentence",
     re.compile("(?<!）)。（见取证单 ([^）]+)）"), r"（见取证单 \1）。"),
    ("dd1917e", "the over-standard answer's clauses end without the last one's full stop",
     re.compile("^(是。超出 .*)。$", re.S), r"\1"),
    ("fef7ffa", "EVAL_RATE_ALERT prints rates from whole tenths",
     re.compile(r"(\d+\.\d+?)0{6,}\d+"), r"\1"),
    ("fef7ffa", "the report's tables print numbers (not the year) with thousands separators",
     re.compile(r"(?<=\t)(\d{4,})(\.\d+)?(?![^\t])"), _thousands),
    ("536fab9", "the findings sheet's table of contents line names the review's columns",
     re.compile("审计发现明细（全部）"), "审计发现明细（全部，含复核结论）"),
)  # fmt: skip


def as_changed(text: str | None) -> str | None:
    """The other tree's text as the known changes since then would write it."""
    if text is None:
        return None
    for _commit, _what, pattern, new in KNOWN_CHANGES:
        text = pattern.sub(new, text)
    return text


def extended(old: list[tuple], new: list[tuple]) -> bool:
    """Every old row is, in order, the start of a new row (whose further cells the old one left
    empty): the new sheet only added rows and columns."""
    it = iter(new)
    for row in old:
        width = len(row)
        while width and row[width - 1] is None:
            width -= 1
        if not any(tuple(n[:width]) == row[:width] and not any(n[width : len(row)]) for n in it):
            return False
    return True


def run(tree: Path, landing: Path, data: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("BANGFU_WAREHOUSE_URL", "DAGSTER_HOME")}
    env["PYTHONPATH"] = str(tree)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bangfu.cli", "run", "--landing", str(landing), "--data", str(data)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: bangfu run failed\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def lake_differences(a: Path, b: Path) -> list[str]:
    """Parquet files compared as frames over the columns both have, the other tree's text as
    the known changes write it; a column only one has is named once per dataset."""
    import polars as pl

    files_a = {p.relative_to(a) for p in a.rglob("*.parquet")}
    files_b = {p.relative_to(b) for p in b.rglob("*.parquet")}
    out = [f"lake file only in {_side(p in files_a)}: {p}" for p in sorted(files_a ^ files_b)]
    columns_only: set[tuple[str, str]] = set()
    for p in sorted(files_a & files_b):
        fa, fb = pl.read_parquet(a / p), pl.read_parquet(b / p)
        dataset = p.parts[0]
        for c in set(fa.columns) ^ set(fb.columns):
            if (dataset, c) not in columns_only:
                columns_only.add((dataset, c))
                out.append(f"lake {dataset}: column only in {_side(c in fa.columns)}: {c}")
        common = [c for c in fa.columns if c in fb.columns]
        fa = fa.select(common).with_columns(
            pl.col(c).map_elements(as_changed, return_dtype=pl.String)
            for c in common
            if fa.schema[c] == pl.String
        )
        if not fa.equals(fb.select(common)):
            out.append(f"lake file differs: {p} ({fa.shape} against {fb.select(common).shape})")
    print(f"  lake: {len(files_a & files_b)} files in both compared")
    return out


def _side(in_other: bool) -> str:
    return "other" if in_other else "this"


def warehouse_differences(a: Path, b: Path) -> list[str]:
    with closing(sqlite3.connect(a)) as ca, closing(sqlite3.connect(b)) as cb:
        return _table_differences(ca, cb)


def _table_differences(ca: sqlite3.Connection, cb: sqlite3.Connection) -> list[str]:
    q_tables = "select name from sqlite_master where type='table' and name not like 'sqlite_%'"
    ta = {r[0] for r in ca.execute(q_tables)}
    tb = {r[0] for r in cb.execute(q_tables)}
    out = [f"warehouse table only in {_side(t in ta)}: {t}" for t in sorted(ta ^ tb)]
    for t in sorted(ta & tb):
        cols_a = [r[1] for r in ca.execute(f"pragma table_info({t})")]
        cols_b = {r[1] for r in cb.execute(f"pragma table_info({t})")}
        for c in sorted((set(cols_a) ^ cols_b) - SKIP_TABLE_COLUMNS):
            out.append(f"warehouse table {t}: column only in {_side(c in cols_a)}: {c}")
        cols = [c for c in cols_a if c in cols_b and c not in SKIP_TABLE_COLUMNS]
        q = f"select {', '.join(cols)} from {t} order by {', '.join(cols)}"
        ra = sorted((tuple(map(_changed_cell, r)) for r in ca.execute(q)), key=repr)
        rb = sorted(cb.execute(q).fetchall(), key=repr)
        if ra != rb:
            out.append(
                f"warehouse table {t}: {len(ra)} rows against {len(rb)}, "
                f"{len(set(ra) ^ set(rb))} rows in one only (columns compared: {', '.join(cols)})"
            )
        else:
            print(f"  warehouse {t}: {len(ra)} rows equal")
    return out


def _changed_cell(value):
    return as_changed(value) if isinstance(value, str) else value


def sheets(path: Path) -> dict[str, list[tuple]]:
    import fastexcel

    reader = fastexcel.read_excel(str(path))
    return {
        name: reader.load_sheet(name, header_row=None, dtypes="string").to_polars().rows()
        for name in reader.sheet_names
    }


def report_text(path: Path) -> list[str]:
    from docx import Document

    doc = Document(str(path))
    out = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        out += ["\t".join(c.text for c in row.cells) for row in table.rows]
    return out


def output_differences(a: Path, b: Path) -> list[str]:
    """Workbooks by sheet and cell; reports by paragraph; the other tree's text as the known
    changes write it. Results are summed up by sheet name across files (the forms repeat per
    unit), so the listing stays readable; sheets and reports that only gained rows or columns
    are listed as extended, not as differences."""
    kinds = {"workbooks": "*.xlsx", "reports": "*.docx", "quality": "*.xlsx", "overview": "*.xlsx"}
    fa: dict[str, Path] = {}
    fb: dict[str, Path] = {}
    for sub, pattern in kinds.items():
        fa |= {str(p.relative_to(a)): p for p in (a / sub).rglob(pattern)}
        fb |= {str(p.relative_to(b)): p for p in (b / sub).rglob(pattern)}
    out = [f"output only in {_side(r in fa)}: {r}" for r in sorted(set(fa) ^ set(fb))]
    tally: dict[str, Counter] = {k: Counter() for k in ("equal", "extended", "differs", "only")}
    for rel in sorted(set(fa) & set(fb)):
        if rel.endswith(".docx"):
            pair = {
                "report": (
                    [(t,) for t in report_text(fa[rel])],
                    [(t,) for t in report_text(fb[rel])],
                )
            }
        else:
            sa, sb = sheets(fa[rel]), sheets(fb[rel])
            for name in set(sa) ^ set(sb):
                tally["only"][(name, _side(name in sa))] += 1
            pair = {name: (sa[name], sb[name]) for name in set(sa) & set(sb)}
        for name, (old, new) in pair.items():
            old = [tuple(map(as_changed, row)) for row in old]
            kind = "equal" if old == new else "extended" if extended(old, new) else "differs"
            tally[kind][name] += 1
            if kind == "differs" and tally[kind][name] == 1:
                out.append(f"{name} differs first in {rel}")
    print(f"  outputs: {len(set(fa) & set(fb))} files in both")
    print(f"  sheets and reports equal: {dict(sorted(tally['equal'].items()))}")
    print(f"  extended (every old row kept, in order): {dict(sorted(tally['extended'].items()))}")
    for (name, side), n in sorted(tally["only"].items()):
        print(f"  sheet only in {side}: {name} ({n} workbooks)")
    out += [f"{name} differs in {n} files" for name, n in sorted(tally["differs"].items())]
    return out


def tree_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """The options of a comparison of two code trees over one landing folder."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("--other", type=Path, required=True, help="the other code tree")
    ap.add_argument("--landing", type=Path, required=True)
    ap.add_argument("--scratch", type=Path, default=None)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = tree_parser("python -m bench.same_run", __doc__)
    ap.add_argument("--reuse", action="store_true", help="compare the runs already in --scratch")
    args = ap.parse_args(argv)
    scratch = (args.scratch or Path(tempfile.mkdtemp(prefix="bangfu-same-run-"))).resolve()
    landing = args.landing.resolve()
    for name, tree in (("other", args.other.resolve()), ("this", HERE)):
        if args.reuse:
            break
        print(f"bangfu run over {landing} with {tree} …", flush=True)
        seconds = run(tree, landing, scratch / name)
        print(f"  {seconds:.1f} s", flush=True)
    a, b = scratch / "other", scratch / "this"
    diffs = lake_differences(a / "lake", b / "lake")
    diffs += warehouse_differences(a / "warehouse.db", b / "warehouse.db")
    diffs += output_differences(a, b)
    return verdict(diffs)


def verdict(diffs: list[str]) -> int:
    """Print what this tree added and what differs; the exit status (1: something differs).
    What only this tree has (datasets, tables, columns, files) was added since, not changed."""
    added = [d for d in diffs if "only in this" in d]
    diffs = [d for d in diffs if d not in added]
    for d in added:
        print("ADDED:", d)
    for d in diffs:
        print("DIFFERS:", d)
    print("known changes applied to the other tree's text:")
    for commit, what, _pattern, _new in KNOWN_CHANGES:
        print(f"  {commit}: {what}")
    print("same" if not diffs else f"{len(diffs)} difference(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
