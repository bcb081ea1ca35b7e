"""`bangfu generate`: build the scenario (model) and write it as a landing folder (render)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from bangfu.generate.anomalies import plant_years
from bangfu.generate.model import PLANTED_SCHEMA
from bangfu.generate.scenario import build_scenario
from bangfu.generate.world import build_world
from bangfu.generate.writer import LandingWriter, write_landing

# Scale L writes most units in the CSV form: xlsx writing goes cell by cell, far slower.
CSV_SHARE = {"S": 0.25, "M": 0.25, "L": 0.9}


def generate(
    out: Path,
    *,
    scale: str = "S",
    seed: int = 0,
    years: Sequence[int] = (2017, 2018, 2019),
    bad_files: bool = False,
    csv_share: float | None = None,
    workbook_shares: dict[str, float] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """Write a synthetic landing folder with its truth in ``out/truth``; return a short summary.

    Without ``bad_files`` the folder is written one year at a time (a year is planted, written
    and dropped before the next is built), so memory holds the world (units, persons, archive
    records) and one year's ledgers, never the country's three years at once. With
    ``bad_files`` the rejection victims are chosen over every year, so the whole scenario is
    built first. Both give the same files for the same arguments.

    ``workbook_shares`` (e.g. ``{"xls": 0.1, "ods": 0.1}``): share of the workbook ledgers that
    LibreOffice re-saves in each other form, as an office suite would have saved them; needs
    LibreOffice (``soffice``). Without it no LibreOffice is needed and the folder is as before.
    """
    out = Path(out)
    share = CSV_SHARE[scale] if csv_share is None else csv_share
    if bad_files:
        scenario = build_scenario(scale, seed, tuple(years))
        paths = write_landing(
            scenario,
            out,
            seed,
            csv_share=share,
            bad_files=True,
            progress=progress,
            workbook_shares=workbook_shares,
        )
        return {
            "units": scenario.units.height,
            "ledgers": len(scenario.ledgers),
            "planted_findings": scenario.planted.height,
            "truth": str(paths["manifest"].parent),
        }
    w = build_world(scale, seed, tuple(years))
    writer = LandingWriter(
        out,
        seed,
        units=w.units,
        standards=w.standards,
        years=list(w.years),
        roster_years=list(w.years),
        n_unit_years=len(w.years) * w.units.height,
        scale=scale,
        csv_share=share,
        progress=progress,
        workbook_shares=workbook_shares,
    )
    truth: list[dict] = []
    dropped: set = set()
    n_ledgers = 0
    for y, frames, roster, t, d in plant_years(w):
        writer.roster(y, roster)
        truth += t
        dropped |= d
        for u in sorted(frames):
            writer.unit_year(y, u, frames.pop(u))
            n_ledgers += 1
        del frames, roster
    planted = pl.DataFrame(truth, schema=PLANTED_SCHEMA, orient="row")
    paths = writer.finish(planted, dropped)
    return {
        "units": w.units.height,
        "ledgers": n_ledgers,
        "planted_findings": planted.height,
        "truth": str(paths["manifest"].parent),
    }
