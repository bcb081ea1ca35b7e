"""What the stages share: the key and progress types, the warehouse replacements of findings and
run settings, the narrow summary of the findings a stage computed, and its timings. No Dagster."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

import polars as pl

from bangfu import rules
from bangfu.settings import AuditSettings
from warehouse import tables
from warehouse.store import Replacement

Keys = Sequence[tuple[int, str]]
Progress = Callable[[int, int], None]  # (done, total)

# Narrow view of the findings a stage computed: what its checks and metadata need, kept for the
# whole run (the full rows are written per chunk and dropped).
SUMMARY_COLUMNS = ("finding_id", "unit_code", "rule_code", "amount")


def summary(found: pl.DataFrame) -> pl.DataFrame:
    return found.select(SUMMARY_COLUMNS)


def summaries_of(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The summaries of a stage's chunks or years as one frame (empty: no finding computed)."""
    return pl.concat(parts) if parts else summary(rules.empty_findings())


def findings_replacement(stage: str, frame: pl.DataFrame, **match) -> Replacement:
    """Replace the warehouse's findings of ``stage`` matching ``match`` by ``frame``."""
    return Replacement(tables.findings, {**match, "stage": stage}, frame, stamp={"stage": stage})


def settings_replacement(settings: AuditSettings, years: Iterable[int]) -> Replacement:
    rows = rules.run_settings_rows(settings, years)
    return Replacement(tables.run_settings, {"settings_hash": settings.hash()}, rows)


class timed:
    """Add the block's wall time to ``into[key]``."""

    def __init__(self, into: dict, key: str):
        self.into, self.key = into, key

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        self.into[self.key] = self.into.get(self.key, 0.0) + time.perf_counter() - self.t0
