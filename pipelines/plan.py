"""Planning a `bangfu run` before anything is launched: what the command line asked, whether the
reference data must be read again, the years and units to run, each stage's ranged runs and their
run config, and which outputs a partial run's year stage says must be written again. Nothing is
launched here (pipelines.launch) and nothing echoed (pipelines.runner)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from assets.partitions import contiguous_blocks, multi_key
from assets.reference import REFERENCE_STATE_FILE
from bangfu.ingest import LandingScan
from bangfu.lake import Lake
from bangfu.settings import AuditSettings
from pipelines import definitions
from pipelines.errors import UsageError
from pipelines.home import PartitionOrder
from resources import settings_config
from warehouse import tables
from warehouse.store import Warehouse, default_url

Keys = Iterable[tuple[int, str]]


@dataclass(frozen=True)
class RunRequest:
    """What `bangfu run` was asked: the two folders, the years and units (None or empty: all),
    the ``--settings`` overrides (JSON)."""

    landing: Path
    data: Path
    years: tuple[int, ...] | None = None
    units: tuple[str, ...] | None = None
    settings_overrides: str | None = None

    @classmethod
    def of(
        cls,
        landing: Path,
        data: Path,
        years: Sequence[int] | None = None,
        units: Sequence[str] | None = None,
        settings_overrides: str | None = None,
    ) -> RunRequest:
        return cls(
            landing=Path(landing).resolve(),
            data=Path(data).resolve(),
            years=None if years is None else tuple(years),
            units=None if units is None else tuple(units),
            settings_overrides=settings_overrides,
        )


# ------------------------------------------------------------------ the reference data
# What the last reference run of `bangfu run` read (reference_units removes it whenever it runs,
# so a reference run of the daemon or the UI is never mistaken for this one's).
REFERENCE_RECORD = REFERENCE_STATE_FILE


def reference_state(landing: Path, lake: Lake) -> tuple[str, LandingScan | None]:
    """The reference files' content and the landing folder's unassignable files (which
    landing_inventory records) as one digest, with the scan it used; no scan before the
    reference data were read once."""
    units = lake.read_single("ref_units")
    if units is None:
        return "", None
    scan = LandingScan.scan(landing, set(units["unit_code"].to_list()))
    h = hashlib.sha256(str(landing).encode())
    ref = landing / "reference"
    for path in sorted(ref.rglob("*")) if ref.is_dir() else []:
        if path.is_file() and not path.name.startswith((".", "~$")):
            h.update(f"\0{path.relative_to(ref).as_posix()}\0".encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
    for r in scan.orphans:
        h.update(f"\0{r.path}\0{r.message}".encode())
    return h.hexdigest(), scan


# ------------------------------------------------------------------ run config
def run_config(settings_overrides: str | None) -> dict:
    """The run config every job of `bangfu run` gets: INFO on the console (progress and errors,
    not Dagster's step-by-step DEBUG chatter) and the ``--settings`` overrides."""
    config: dict = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    if settings_overrides:
        try:
            overrides = settings_config(json.loads(settings_overrides))
        except (ValueError, TypeError) as exc:  # bad JSON, unknown name, value of a wrong type
            raise UsageError(f"--settings 无效 / invalid: {exc}") from exc
        config["resources"] = {"audit_settings": {"config": overrides}}
    return config


# the settings the workbooks read (thresholds printed beside the rates)
_WORKBOOK_SETTINGS = ("missed_rate_alert", "wrong_exit_rate_alert", "recognition_rate_min")


def rerender_config(data: Path, keys: Keys) -> dict:
    """The run config of re-rendering these partitions' outputs (`bangfu review`): warnings only
    on the console, and the workbook thresholds of the run that wrote their findings."""
    config: dict = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    overrides = _settings_in_force(data, list(keys))
    if overrides:
        config["resources"] = {"audit_settings": {"config": settings_config(overrides)}}
    return config


def _settings_in_force(data: Path, keys: list[tuple[int, str]]) -> dict:
    """The workbook thresholds of the run that wrote these partitions' findings (a run with
    ``--settings``), so a re-render after a judgment does not fall back to the defaults."""
    wh = Warehouse(default_url(data))
    f, rs = tables.findings, tables.run_settings
    try:
        with wh.engine.connect() as conn:
            hashes = conn.execute(
                select(f.c.settings_hash)
                .where(
                    f.c.year.in_({y for y, _u in keys}), f.c.unit_code.in_({u for _y, u in keys})
                )
                .distinct()
            ).fetchall()
            if len(hashes) != 1:  # none, or several runs' settings: keep the defaults
                return {}
            rows = conn.execute(
                select(rs.c.key, rs.c.value).where(
                    rs.c.settings_hash == hashes[0][0], rs.c.key.in_(_WORKBOOK_SETTINGS)
                )
            ).fetchall()
    finally:
        wh.dispose()
    default = AuditSettings()
    return {k: float(v) for k, v in rows if float(v) != getattr(default, k)}


# ------------------------------------------------------------------ the ranged runs
# Unchanged partitions between two that must be written cost a digest comparison and one event
# each inside a ranged run; a Dagster run costs far more. Blocks closer than this become one run.
MAX_GAP = 64


def merged_blocks(wanted: Iterable[str], order: Sequence[str], max_gap: int = MAX_GAP):
    """contiguous_blocks, with blocks at most ``max_gap`` keys apart joined into one."""
    pos = {k: i for i, k in enumerate(order)}
    out: list[tuple[str, str]] = []
    for a, b in contiguous_blocks(wanted, order):
        if out and pos[a] - pos[out[-1][1]] - 1 <= max_gap:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _by_year(keys: Keys) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for y, u in keys:
        out.setdefault(y, []).append(u)
    return out


def render_ranges(keys: Keys, order: PartitionOrder) -> list[tuple[str, str]]:
    """The ranges of output runs covering exactly these (year, unit) keys (those of partitions
    the instance knows), year by year."""
    by_year = _by_year((y, u) for y, u in keys if str(y) in order.years and u in order.units)
    return [
        (str(multi_key(year, u0)), str(multi_key(year, u1)))
        for year, units in sorted(by_year.items())
        for u0, u1 in contiguous_blocks(units, order.units)
    ]


@dataclass(frozen=True, eq=False)
class RunPlan:
    """What `bangfu run` runs once the reference data are read: its years and units, whether it
    is partial (some units or years only), the ranged runs of each stage and their run config."""

    years: tuple[int, ...]
    units: tuple[str, ...]
    partial: bool
    order: PartitionOrder
    year_blocks: tuple[tuple[str, str], ...]
    unit_blocks: tuple[tuple[str, str], ...]
    run_config: dict
    job_configs: dict[str, dict]

    def job_config(self, job_name: str) -> dict:
        return self.job_configs.get(job_name, self.run_config)

    def ranges(self, job_name: str, output_units: list[str]) -> list[tuple[str, str]]:
        """The (start, end) partition ranges of the job's runs; the output stage's cover
        ``output_units`` (the run's units and those its year stage found affected)."""
        if definitions.is_year_job(job_name):
            return list(self.year_blocks)
        blocks = list(self.unit_blocks)
        if job_name == "output_stage_job" and output_units != list(self.units):
            blocks = merged_blocks(output_units, self.order.units)
        return [
            (str(multi_key(int(y0), u0)), str(multi_key(int(y1), u1)))
            for y0, y1 in self.year_blocks
            for u0, u1 in blocks
        ]

    def affected_outputs(
        self, changed: Iterable[tuple[int, str]]
    ) -> tuple[list[str], list[tuple[int, str]]]:
        """Of the outputs a year-stage run reported changed: the other units of the run's years,
        and the (year, unit) pairs of later years (whose three-year tables show a changed year)."""
        changed = list(changed)
        extra = sorted({u for y, u in changed if y in self.years} - set(self.units))
        later = sorted({(y, u) for y, u in changed if y not in self.years})
        return extra, later

    def later_runs(self, later: Keys) -> list[tuple[int, str, str]]:
        """(year, start, end) of the output runs writing ``later`` years' affected outputs."""
        return [
            (year, str(multi_key(year, u0)), str(multi_key(year, u1)))
            for year, year_units in sorted(_by_year(later).items())
            for u0, u1 in merged_blocks(year_units, self.order.units)
        ]

    def later_config(self) -> dict:
        """Their run config: only the outputs whose inputs moved."""
        return {
            **self.run_config,
            "ops": {"audit_workbooks": {"config": {"only_changed": True, "force_units": []}}},
        }


def plan_run(
    request: RunRequest,
    present_years: list[int],
    all_units: list[str],
    order: PartitionOrder,
    config: dict,
) -> RunPlan:
    """The plan of the request over the landing folder's years and units.csv's units; a year or
    unit the landing folder does not hold is a :class:`UsageError`."""
    chosen_years = sorted(set(request.years)) if request.years else present_years
    missing_years = [y for y in chosen_years if y not in present_years]
    if missing_years:
        raise UsageError(
            f"落地目录中没有这些年度的台账：{missing_years}。"
            f"请检查 --year 或 {request.landing / 'ledgers'}。"
        )
    chosen_units = list(dict.fromkeys(request.units)) if request.units else all_units
    unknown = [u for u in chosen_units if u not in set(all_units)]
    if unknown:
        raise UsageError(f"units.csv 中没有这些单位代码：{unknown}。请检查 --unit。")

    # --unit: the year stage recomputes only the chosen units' own metrics (the roll-ups above
    # them, and every cross-unit finding, are recomputed whole). A partial run also asks it which
    # outputs its figures changed (the units above, the units whose cross-unit findings moved,
    # the later years showing this one), so that exactly those are written again; a full run
    # writes every output of its years anyway.
    partial = bool(request.units) or chosen_years != present_years
    year_config = {
        "only_units": chosen_units if request.units else None,
        "announce_changed_outputs": partial,
    }
    job_configs: dict[str, dict] = {
        "year_stage_job": {**config, "ops": {"unit_year_metrics": {"config": year_config}}},
        "output_stage_job": {
            **config,
            "ops": {
                "audit_workbooks": {
                    "config": {"only_changed": partial, "force_units": chosen_units}
                }
            },
        },
    }
    return RunPlan(
        years=tuple(chosen_years),
        units=tuple(chosen_units),
        partial=partial,
        order=order,
        year_blocks=tuple(contiguous_blocks([str(y) for y in chosen_years], order.years)),
        unit_blocks=tuple(contiguous_blocks(chosen_units, order.units)),
        run_config=config,
        job_configs=job_configs,
    )
