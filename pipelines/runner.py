"""Drive the asset graph for `bangfu run` / `bangfu demo`: few ranged runs, not one per partition.

A Dagster run costs seconds and every partition's events tens of milliseconds, so each stage is
launched as ranged runs over rectangles of (year × unit) partitions, and the assets compute the
whole range with polars. Runs go to the instance in $DAGSTER_HOME and show in the UI.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from assets.partitions import (
    contiguous_blocks,
    multi_key,
    split_keys,
    units_partitions,
    years_partitions,
)
from assets.reference import REFERENCE_STATE_FILE
from bangfu.envvars import temporary_env
from bangfu.ingest import LandingScan, prestart_workers
from bangfu.lake import Lake, host_name, pid_alive, sweep_stale_temp
from bangfu.pool import discard_prestarted
from bangfu.review.state import with_units_above
from pipelines import definitions
from pipelines.dagster_private import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    defs_state_storage,
)
from pipelines.storage import EVENT_BATCH_SIZE
from resources import settings_config
from warehouse import tables
from warehouse.store import Warehouse, default_url

Echo = Callable[[str], None]


class PipelineError(Exception):
    """A failure that stops the whole run (e.g. units.csv is not a tree)."""


class UsageError(PipelineError):
    """The run asked for something the landing folder does not hold (a year, a unit): a usage
    error of the command line (exit status 2), found once units.csv has been read."""


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


_OLD_INSTANCE_YAML = "telemetry:\n  enabled: false\n"  # what earlier versions wrote


def instance_yaml(home: Path) -> str:
    """The embedded instance's dagster.yaml: Dagster's default SQLite storage, with the event
    log writing a ranged run's partition events in batches (pipelines.storage)."""
    events = (Path(home) / "history" / "runs").as_posix()
    return (
        f"{_OLD_INSTANCE_YAML}"
        "event_log_storage:\n"
        "  module: pipelines.storage\n"
        "  class: BatchingSqliteEventLogStorage\n"
        "  config:\n"
        f"    base_dir: {events}\n"
    )


def dagster_home(data: Path) -> Path:
    """$DAGSTER_HOME, else <data>/dagster_home (created with :func:`instance_yaml`; a home with
    the earlier minimal file gets the new one). Also turns on Dagster's batched event writes
    (``DAGSTER_EVENT_BATCH_SIZE``) for this process unless the environment sets them."""
    home = Path(os.environ.get("DAGSTER_HOME") or (Path(data) / "dagster_home")).resolve()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    cfg = home / "dagster.yaml"
    if not cfg.exists() or cfg.read_text(encoding="utf-8") == _OLD_INSTANCE_YAML:
        cfg.write_text(instance_yaml(home), encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)
    return home


def register_partitions(
    instance: dg.DagsterInstance, years: Iterable[int], units: Iterable[str]
) -> None:
    """Add new years (ascending) and units (units.csv order) to the dynamic partitions."""
    for pdef, keys in (
        (years_partitions, [str(y) for y in sorted(years)]),
        (units_partitions, list(units)),
    ):
        known = set(instance.get_dynamic_partitions(pdef.name))
        new = [k for k in keys if k not in known]
        if new:
            instance.add_dynamic_partitions(pdef.name, new)


def run_pipeline(
    landing: Path,
    data: Path,
    *,
    years: Sequence[int] | None = None,
    units: Sequence[str] | None = None,
    settings_overrides: str | None = None,
    echo: Echo = print,
    instance: dg.DagsterInstance | None = None,
) -> RunSummary:
    landing, data = Path(landing).resolve(), Path(data).resolve()
    # Everything the run writes holds personal data (ID numbers, names, phones): create it
    # private — lake folders 0700, Parquet, SQLite warehouse, workbooks and reports 0600 —
    # whatever the caller's umask, and put the umask back afterwards.
    old_umask = os.umask(0o077)
    # the ingest's worker processes start now, while this process sets Dagster up (one core)
    prestart_workers(landing, years, units)
    try:
        return _run_pipeline(
            landing,
            data,
            years=years,
            units=units,
            settings_overrides=settings_overrides,
            echo=echo,
            instance=instance,
        )
    finally:
        discard_prestarted()
        os.umask(old_umask)


def _run_pipeline(
    landing: Path,
    data: Path,
    *,
    years: Sequence[int] | None,
    units: Sequence[str] | None,
    settings_overrides: str | None,
    echo: Echo,
    instance: dg.DagsterInstance | None,
) -> RunSummary:
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    if data.stat().st_mode & 0o077:
        echo(
            f"注意：数据目录 {data} 其他用户可访问，其中含个人信息，建议 chmod 700 / "
            "the data folder is readable by other users"
        )
    if instance is None:
        dagster_home(data)
        instance = dg.DagsterInstance.get()
    with data_lock(data, echo):
        # under the lock: temporary files a killed run left in the lake and the outputs
        # (never a live writer's: see sweep_stale_temp; never the landing folder)
        # A partial run sweeps the lake partitions it was asked for, not the whole lake (at
        # national scale a walk of tens of thousands of folders); a full run sweeps it all.
        outputs = ("workbooks", "reports", "quality", "overview")
        lake_dirs = Lake(data / "lake").partition_dirs(years, units)
        stale = sweep_stale_temp([*lake_dirs, *(data / name for name in outputs)])
        if stale:
            echo(
                f"已清除上次中断留下的临时文件 {len(stale)} 个 / removed {len(stale)} stale temp files"
            )
        return _locked(landing, data, instance, years, units, settings_overrides, echo)


@contextmanager
def data_lock(data: Path, echo: Echo):
    """One `bangfu run` at a time per data folder: two runs over the same county would
    interleave their lake and warehouse writes, so the second waits for the first."""
    with open(data / ".run.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            echo("另一个运行正在使用此数据目录，等待其结束 / waiting for the running pipeline …")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _locked(landing, data, instance, years, units, settings_overrides, echo) -> RunSummary:
    orphans = fail_orphaned_runs(instance)
    if orphans:
        echo(f"上次中断的 Dagster 运行 {len(orphans)} 个已标记为失败 / marked failed: {orphans}")
    with defs_state_storage(instance):  # Dagster's current one is ours for this run
        return _run_stages(landing, data, instance, years, units, settings_overrides, echo)


# Every run `bangfu run` starts is tagged with its host and process id, so that a later
# `bangfu run` can tell a run whose process died (kill -9, power cut: it stays "started" for
# ever, in the UI and for a queued coordinator's concurrency limit) from one still running.
HOST_TAG, PID_TAG = "bangfu/host", "bangfu/pid"


def fail_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the unfinished runs that `bangfu run` started on this host in a process that
    no longer exists; returns their run ids. Runs of live processes, of other hosts and of
    the daemon are left alone."""
    unfinished = [
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
    ]
    runs = instance.get_runs(
        filters=dg.RunsFilter(statuses=unfinished, tags={HOST_TAG: host_name()})
    )
    out = []
    for run in runs:
        pid = run.tags.get(PID_TAG, "")
        if pid.isdigit() and not pid_alive(int(pid)):
            instance.report_run_failed(
                run, message=f"运行进程 {pid} 已终止（中断），未完成 / its process {pid} died"
            )
            out.append(run.run_id)
    return out


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


def _run_stages(landing, data, instance, years, units, settings_overrides, echo) -> RunSummary:
    defs = definitions.build_defs(landing, data)
    # INFO on the console: progress and errors, not Dagster's step-by-step DEBUG chatter.
    run_config: dict = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    if settings_overrides:
        try:
            overrides = settings_config(json.loads(settings_overrides))
        except (ValueError, TypeError) as exc:  # bad JSON, unknown name, value of a wrong type
            raise UsageError(f"--settings 无效 / invalid: {exc}") from exc
        run_config["resources"] = {"audit_settings": {"config": overrides}}

    lake = Lake(data / "lake")
    state, scan = reference_state(landing, lake)
    record = data / REFERENCE_RECORD
    recorded = record.read_text(encoding="ascii").strip() if record.exists() else None
    if scan is not None and recorded == state:
        echo("① 参考数据未变，跳过 / reference data unchanged since they were read")
    else:
        echo("① 参考数据 reference data …")
        result = _execute(defs, "reference_job", instance, tags={}, run_config=run_config)
        if not result.success:
            raise PipelineError(_failure_text(result) or "参考数据读入失败 (reference data failed)")
        state, scan = reference_state(landing, lake)
        if scan is not None:
            record.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            record.write_text(state + "\n", encoding="ascii")
    assert scan is not None  # the reference job wrote ref_units
    all_units = lake.read_single("ref_units")["unit_code"].to_list()
    present_years = scan.years
    register_partitions(instance, present_years, all_units)

    chosen_years = sorted(set(years)) if years else present_years
    missing_years = [y for y in chosen_years if y not in present_years]
    if missing_years:
        raise UsageError(
            f"落地目录中没有这些年度的台账：{missing_years}。请检查 --year 或 {landing / 'ledgers'}。"
        )
    chosen_units = list(dict.fromkeys(units)) if units else all_units
    unknown = [u for u in chosen_units if u not in set(all_units)]
    if unknown:
        raise UsageError(f"units.csv 中没有这些单位代码：{unknown}。请检查 --unit。")
    summary = RunSummary(years=chosen_years, units=chosen_units)
    reviewed = pick_up_inbox(data, echo)
    if not chosen_years:
        echo("落地目录 ledgers/ 下没有任何年度台账。")
        return summary

    year_order = instance.get_dynamic_partitions(years_partitions.name)
    unit_order = instance.get_dynamic_partitions(units_partitions.name)
    year_blocks = contiguous_blocks([str(y) for y in chosen_years], year_order)
    unit_blocks = contiguous_blocks(chosen_units, unit_order)

    # --unit: the year stage recomputes only the chosen units' own metrics (the roll-ups above
    # them, and every cross-unit finding, are recomputed whole). A partial run also asks it which
    # outputs its figures changed (the units above, the units whose cross-unit findings moved,
    # the later years showing this one), so that exactly those are written again; a full run
    # writes every output of its years anyway.
    partial = bool(units) or chosen_years != present_years
    year_config = {
        "only_units": chosen_units if units else None,
        "announce_changed_outputs": partial,
    }
    job_config: dict[str, dict] = {
        "year_stage_job": {**run_config, "ops": {"unit_year_metrics": {"config": year_config}}},
        "output_stage_job": {
            **run_config,
            "ops": {
                "audit_workbooks": {
                    "config": {"only_changed": partial, "force_units": chosen_units}
                }
            },
        },
    }
    output_units = list(chosen_units)
    for n, job_name in enumerate(definitions.STAGE_JOBS, start=2):
        job = defs.resolve_job_def(job_name)
        echo(f"{'①②③④⑤⑥'[n - 1]} {job.description} …")
        if definitions.is_year_job(job_name):
            ranges = [(y0, y1) for y0, y1 in year_blocks]
        else:
            blocks = unit_blocks
            if job_name == "output_stage_job" and output_units != chosen_units:
                blocks = merged_blocks(output_units, unit_order)
            ranges = [
                (str(multi_key(int(y0), u0)), str(multi_key(int(y1), u1)))
                for y0, y1 in year_blocks
                for u0, u1 in blocks
            ]
        for start, end in ranges:
            tags = {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}
            t0 = time.perf_counter()
            result = _execute(
                defs, job_name, instance, tags=tags, run_config=job_config.get(job_name, run_config)
            )
            summary.stage_seconds[job_name] = summary.stage_seconds.get(job_name, 0.0) + (
                time.perf_counter() - t0
            )
            echo(f"   {start} … {end}: {time.perf_counter() - t0:.1f} 秒")
            summary.runs.append(result.run_id)
            if not result.success:
                summary.failed_stages.append(
                    f"{job_name} [{start} … {end}]: {_failure_text(result)}"
                )
                echo(f"   ✗ {job_name} [{start} … {end}] 失败")
            if definitions.is_year_job(job_name) and partial:
                changed = changed_outputs(result)
                extra = sorted({u for y, u in changed if y in chosen_years} - set(chosen_units))
                output_units = list(dict.fromkeys([*chosen_units, *extra]))
                later = sorted({(y, u) for y, u in changed if y not in chosen_years})
                if extra or later:
                    echo(f"   受影响的其他单位 / outputs affected: {len(extra) + len(later)}")
                summary.later_outputs.extend(later)
    if summary.later_outputs:  # later years whose three-year tables show a changed year
        _write_later_outputs(defs, instance, summary, run_config, unit_order, echo)
    # judgments from the inbox on partitions this run did not cover (another county, the
    # units above a county re-run, another year): their outputs too
    covered = {(y, u) for y in chosen_years for u in chosen_units}
    rest = [
        k for k in with_units_above(reviewed, lake.read_single("ref_units")) if k not in covered
    ]
    if rest:
        ok = _render_units(defs, instance, rest, year_order, unit_order, run_config, echo, summary)
        if not ok:
            summary.failed_stages.append("output_stage_job [复核意见涉及的单位]")
    summary.failures.extend(_rejections(data, chosen_years, chosen_units, scan))
    return summary


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


def changed_outputs(result) -> list[tuple[int, str]]:
    """The (year, unit) outputs a year-stage run reported as changed (unit_audit_inputs)."""
    out = []
    for ev in result.all_events:
        if ev.event_type_value != "ASSET_MATERIALIZATION":
            continue
        mat = ev.step_materialization_data.materialization
        if mat.asset_key.to_user_string() == "unit_audit_inputs" and mat.partition:
            out.extend(split_keys([mat.partition]))
    return out


def _write_later_outputs(defs, instance, summary, run_config, unit_order, echo) -> None:
    by_year: dict[int, list[str]] = {}
    for y, u in summary.later_outputs:
        by_year.setdefault(y, []).append(u)
    echo(f"   以后年度受影响的工作簿 / later years' outputs: {len(summary.later_outputs)}")
    config = {
        **run_config,
        "ops": {"audit_workbooks": {"config": {"only_changed": True, "force_units": []}}},
    }
    for year, year_units in sorted(by_year.items()):
        for u0, u1 in merged_blocks(year_units, unit_order):
            tags = {
                ASSET_PARTITION_RANGE_START_TAG: str(multi_key(year, u0)),
                ASSET_PARTITION_RANGE_END_TAG: str(multi_key(year, u1)),
            }
            result = _execute(defs, "output_stage_job", instance, tags=tags, run_config=config)
            summary.runs.append(result.run_id)
            if not result.success:
                summary.failed_stages.append(f"output_stage_job [{year}]: {_failure_text(result)}")


# ------------------------------------------------------------------ auditors' judgments
def pick_up_inbox(data: Path, echo: Echo) -> list[tuple[int, str]]:
    """Import the workbooks waiting in ``<data>/reviews/inbox/`` (each to done/ or refused/);
    returns the (year, unit) partitions whose judgments changed."""
    from bangfu.review.returned import affected, inbox_files, process_inbox

    if not inbox_files(data):
        return []
    echo("复核意见收件箱 reviews/inbox …")
    wh = Warehouse(default_url(data))
    try:
        return affected(process_inbox(wh, data, echo=lambda line: echo(f"   {line}")))
    finally:
        wh.dispose()


def _render_units(defs, instance, keys, year_order, unit_order, run_config, echo, summary) -> bool:
    """Ranged runs of the output stage (reviews + audit_workbooks) over exactly these keys."""
    ok = True
    by_year: dict[int, list[str]] = {}
    for y, u in keys:
        if str(y) in year_order and u in unit_order:
            by_year.setdefault(y, []).append(u)
    for year, units in sorted(by_year.items()):
        for u0, u1 in contiguous_blocks(units, unit_order):
            start, end = str(multi_key(year, u0)), str(multi_key(year, u1))
            tags = {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}
            t0 = time.perf_counter()
            result = _execute(defs, "output_stage_job", instance, tags=tags, run_config=run_config)
            echo(f"   工作簿与报告 {start} … {end}: {time.perf_counter() - t0:.1f} 秒")
            if summary is not None:
                summary.runs.append(result.run_id)
            if not result.success:
                ok = False
                echo(f"   ✗ output_stage_job [{start} … {end}]: {_failure_text(result)}")
    return ok


# the settings the workbooks read (thresholds printed beside the rates)
_WORKBOOK_SETTINGS = ("missed_rate_alert", "wrong_exit_rate_alert", "recognition_rate_min")


def _settings_in_force(data: Path, keys) -> dict:
    """The workbook thresholds of the run that wrote these partitions' findings (a run with
    ``--settings``), so a re-render after a judgment does not fall back to the defaults."""
    from sqlalchemy import select

    from bangfu.settings import AuditSettings

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


def rematerialise(
    data: Path,
    keys: Iterable[tuple[int, str]],
    *,
    landing: Path | None = None,
    echo: Echo = print,
    instance: dg.DagsterInstance | None = None,
) -> bool:
    """Re-materialise the outputs of these (year, unit) partitions and of the units above them
    through Dagster (``bangfu review``: a recorded judgment shows in its unit's workbook and
    report, and the run in the UI). Nothing else is recomputed."""
    data = Path(data).resolve()
    if instance is None:
        dagster_home(data)
        instance = dg.DagsterInstance.get()
    units = Lake(data / "lake").read_single("ref_units")
    if units is None:
        raise PipelineError(f"{data} 中没有机构名录：请先运行 bangfu run")
    keys = with_units_above(keys, units)
    landing = Path(landing or os.environ.get("BANGFU_LANDING") or (data / "landing")).resolve()
    old_umask = os.umask(0o077)
    try:
        with data_lock(data, echo), defs_state_storage(instance):
            defs = definitions.build_defs(landing, data)
            run_config: dict = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
            overrides = _settings_in_force(data, keys)
            if overrides:
                run_config["resources"] = {"audit_settings": {"config": settings_config(overrides)}}
            echo(f"重新生成 {len(keys)} 个（年度，单位）的工作簿与报告 …")
            return _render_units(
                defs,
                instance,
                keys,
                instance.get_dynamic_partitions(years_partitions.name),
                instance.get_dynamic_partitions(units_partitions.name),
                run_config,
                echo,
                None,
            )
    finally:
        os.umask(old_umask)


# A ranged run announces its assets with ONE planned event each (the range as a subset) instead
# of one per partition: at scale L that is 6,432 fewer event-log writes per year before the unit
# stage starts. Dagster's trade-off: partitions of a ranged run that FAILS are
# not marked failed in the partition status; `bangfu run` names such failures itself (exit 1).
PLANNED_SUBSET_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


def _execute(defs, job_name, instance, *, tags, run_config):
    job = defs.resolve_job_def(job_name)
    tags = {**tags, HOST_TAG: host_name(), PID_TAG: str(os.getpid())}
    with temporary_env(PLANNED_SUBSET_ENV, "true"):
        return job.execute_in_process(
            instance=instance, tags=tags, run_config=run_config, raise_on_error=False
        )


def _failure_text(result) -> str:
    for ev in result.all_events:
        if ev.is_failure and ev.event_specific_data is not None:
            err = getattr(ev.event_specific_data, "error", None)
            if err is not None:
                return _error_text(err)
    return ""


# "bangfu.readers.ReferenceDataError: msg" → "msg": our own errors already say what is wrong.
_OWN_ERROR_PREFIX = re.compile(
    r"^(?:[\w.]+\.)?(?:ReferenceDataError|LedgerRejected|PipelineError): "
)


def _error_text(err) -> str:
    """The asset's own error, not Dagster's wrapper around it ("Error occurred while executing
    op …"): the innermost cause names the file and what is wrong. ID numbers masked."""
    from bangfu.parse import mask_ids_in_text

    while getattr(err, "cause", None) is not None:
        err = err.cause
    lines = (err.message or "").strip().splitlines()
    text = _OWN_ERROR_PREFIX.sub("", lines[0]) if lines else (err.cls_name or "")
    return mask_ids_in_text(text)[:500]


def _rejections(data: Path, years, units, scan: LandingScan) -> list[str]:
    wh = Warehouse(default_url(data))
    frame = wh.read(tables.rejected_files, year=list(years), unit_code=list(units))
    out = [
        f"{r['year']} {r['unit_code']} {r['source_file']}: {r['reason']}"
        for r in frame.iter_rows(named=True)
    ]
    out.extend(f"{r.path}: {r.message}" for r in scan.orphans)
    wh.dispose()
    return out
