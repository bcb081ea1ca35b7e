"""What a `bangfu run` reports: its :class:`RunSummary`, filled as its runs finish, with the
progress lines it echoes, and the files the landing folder could not use."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bangfu.ingest import LandingScan
from pipelines.launch import Launched
from warehouse import tables
from warehouse.store import Warehouse, default_url

Echo = Callable[[str], None]


@dataclass
class RunSummary:
    years: list[int]
    units: list[str]
    runs: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # human-readable, files named
    failed_stages: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    # (year, unit) outputs of years not run whose inputs the run changed (written at the end)
    later_outputs: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.failed_stages

    def add_stage_run(self, run: Launched, echo: Echo) -> None:
        """A stage's ranged run finished: its time, its id, its failure; one line echoed (two
        when it failed)."""
        self.stage_seconds[run.job_name] = self.stage_seconds.get(run.job_name, 0.0) + run.seconds
        echo(f"   {run.start} … {run.end}: {run.seconds:.1f} 秒")
        self.runs.append(run.run_id)
        if not run.ok:
            self.failed_stages.append(f"{run.job_name} [{run.start} … {run.end}]: {run.failure}")
            echo(f"   ✗ {run.job_name} [{run.start} … {run.end}] 失败")


def rejections(
    data: Path, years: Iterable[int], units: Iterable[str], scan: LandingScan
) -> list[str]:
    """The run's rejected ledger files (the warehouse's ``rejected_files``) and the landing
    folder's rejected files that name no known (year, unit), one human-readable line each."""
    wh = Warehouse(default_url(data))
    frame = wh.read(tables.rejected_files, year=list(years), unit_code=list(units))
    out = [
        f"{r['year']} {r['unit_code']} {r['source_file']}: {r['reason']}"
        for r in frame.iter_rows(named=True)
    ]
    out.extend(f"{r.path}: {r.message}" for r in scan.orphans)
    wh.dispose()
    return out
