"""One (year, unit)'s workbook and draft report, as a worker process of the output stage writes
them: the task it receives (small frames, the lake path, the target files) and what it does with
it. The writers are imported only here, in the process that writes. No Dagster here."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from bangfu.lake import Lake
from bangfu.ledger_frames import ledger_frames
from bangfu.settings import AuditSettings


@dataclass
class OutputTask:
    """Everything a worker needs for one (year, unit): small frames, the lake path, the targets."""

    year: int
    unit: dict
    metrics: pl.DataFrame
    findings: pl.DataFrame
    lake_root: str
    paths: dict[str, str]  # output kind → file path
    dibao_monthly: float | None
    edu_standard: float | None
    medical_standard: float | None
    settings: AuditSettings
    below_ranking: list[dict] | None = None  # a city's or province's units below, ranked
    inputs_digest: str | None = None  # bangfu.output_digests: what the files are made from
    review: Any = None  # bangfu.review.state.UnitReview: the judgments the files show


def count_formula_cells(xlsx_path) -> int:
    """Formula elements in a workbook's sheets, counted from the XML without loading it."""
    import re
    import zipfile

    pattern = re.compile(rb"<(?:\w+:)?f[ >/]")
    with zipfile.ZipFile(xlsx_path) as zf:
        return sum(
            len(pattern.findall(zf.read(name)))
            for name in zf.namelist()
            if name.startswith("xl/worksheets/") and name.endswith(".xml")
        )


def write_unit_outputs(task: OutputTask) -> dict:
    """One (year, unit)'s workbook and/or report (the kinds in ``task.paths``), in this process.

    Returns plain values (paths, counts, formula cells, writer seconds, ledger rows); any error is
    re-raised as a RuntimeError naming the unit (also across the process pool)."""
    from bangfu.forms.report import write_unit_report
    from bangfu.forms.workbook import build_context, write_unit_workbook

    try:
        ledger = ledger_frames(Lake(task.lake_root), task.year, [task.unit["unit_code"]])
        args = dict(
            year=task.year,
            unit=task.unit,
            metrics=task.metrics,
            findings=task.findings,
            ledger=ledger,
            dibao_monthly=task.dibao_monthly,
            edu_standard=task.edu_standard,
            medical_standard=task.medical_standard,
            settings=task.settings,
        )
        out: dict = {"rows": sum(f.height for f in ledger.values()), "seconds": {}}
        t0 = time.perf_counter()
        args["prepared"] = build_context(**args, review=task.review)  # once for both files
        t_ctx = time.perf_counter() - t0
        if "workbook" in task.paths:
            t0 = time.perf_counter()
            wb = write_unit_workbook(Path(task.paths["workbook"]), **args)
            out["workbook"] = str(wb["path"])
            out["sheets"] = len(wb["sheets"])
            out["findings"] = wb["counts"].get("findings", 0)
            out["evidence_sheets"] = wb["counts"].get("evidence_sheets", 0)
            out["formula_cells"] = count_formula_cells(wb["path"])
            out["seconds"]["workbook"] = time.perf_counter() - t0
        if "report" in task.paths:
            t0 = time.perf_counter()
            rp = write_unit_report(
                Path(task.paths["report"]), **args, below_ranking=task.below_ranking
            )
            out["report"] = str(rp["path"])
            out["seconds"]["report"] = time.perf_counter() - t0
        # the shared context counts for each file in proportion (writer seconds add up)
        share = t_ctx / max(len(out["seconds"]), 1)
        out["seconds"] = {k: v + share for k, v in out["seconds"].items()}
        return out
    except Exception as exc:
        raise RuntimeError(
            f"{task.year} {task.unit.get('unit_code')}（{task.unit.get('unit_name') or ''}）: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
