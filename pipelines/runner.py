"""Drive the asset graph for `bangfu run` / `bangfu demo`: few ranged runs, not one per partition.

A Dagster run costs seconds and every partition's events tens of milliseconds, so each stage is
launched as ranged runs over rectangles of (year × unit) partitions, and the assets compute the
whole range with polars. Runs go to the instance in $DAGSTER_HOME and show in the UI.

The steps of a run, in order, are here; what they use lives by job: ``pipelines.home`` (the data
folder and the Dagster instance), ``pipelines.plan`` (what to run, before anything runs),
``pipelines.launch`` (launching runs and reading their results), ``pipelines.summary`` (what the
run reports). ``rematerialise`` re-writes outputs after a judgment (``bangfu review``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import dagster as dg

from assets.partitions import years_partitions
from bangfu.ingest import LandingScan, prestart_workers
from bangfu.lake import Lake, sweep_stale_temp
from bangfu.pool import discard_prestarted
from bangfu.review.state import with_units_above
from pipelines import definitions
from pipelines.dagster_private import defs_state_storage
from pipelines.errors import PipelineError
from pipelines.home import (
    PartitionOrder,
    data_lock,
    instance_in_use,
    private_files,
    register_partitions,
)
from pipelines.launch import (
    Launched,
    Launcher,
    changed_outputs,
    execute,
    fail_orphaned_runs,
    failure_text,
)
from pipelines.plan import (
    REFERENCE_RECORD,
    RunPlan,
    RunRequest,
    plan_run,
    reference_state,
    render_ranges,
    rerender_config,
    run_config,
)
from pipelines.summary import Echo, RunSummary, rejections
from warehouse.store import Warehouse, default_url


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
    """Audit the landing folder into the data folder: the reference data when they changed, then
    the unit, year and output stages as ranged runs over the chosen years and units (None: all),
    and the outputs the inbox's judgments and the run's changes touched elsewhere."""
    request = RunRequest.of(landing, data, years, units, settings_overrides)
    with private_files():
        # the ingest's worker processes start now, while this process sets Dagster up (one core)
        prestart_workers(request.landing, request.years, request.units)
        try:
            return _run_pipeline(request, echo, instance)
        finally:
            discard_prestarted()


def _run_pipeline(
    request: RunRequest, echo: Echo, instance: dg.DagsterInstance | None
) -> RunSummary:
    data = request.data
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    if data.stat().st_mode & 0o077:
        echo(
            f"注意：数据目录 {data} 其他用户可访问，其中含个人信息，建议 chmod 700 / "
            "the data folder is readable by other users"
        )
    with instance_in_use(data, instance) as instance, data_lock(data, echo):
        # under the lock: temporary files a killed run left in the lake and the outputs
        # (never a live writer's: see sweep_stale_temp; never the landing folder)
        # A partial run sweeps the lake partitions it was asked for, not the whole lake (at
        # national scale a walk of tens of thousands of folders); a full run sweeps it all.
        outputs = ("workbooks", "reports", "quality", "overview")
        lake_dirs = Lake(data / "lake").partition_dirs(request.years, request.units)
        stale = sweep_stale_temp([*lake_dirs, *(data / name for name in outputs)])
        if stale:
            echo(
                f"已清除上次中断留下的临时文件 {len(stale)} 个 / removed {len(stale)} stale temp files"
            )
        orphans = fail_orphaned_runs(instance)
        if orphans:
            echo(
                f"上次中断的 Dagster 运行 {len(orphans)} 个已标记为失败 / marked failed: {orphans}"
            )
        with defs_state_storage(instance):  # Dagster's current one is ours for this run
            return _run_stages(request, instance, echo)


def _run_stages(request: RunRequest, instance: dg.DagsterInstance, echo: Echo) -> RunSummary:
    launcher = Launcher(definitions.build_defs(request.landing, request.data), instance)
    config = run_config(request.settings_overrides)
    lake = Lake(request.data / "lake")
    scan = _read_reference(request, launcher, lake, config, echo)
    all_units = lake.read_single("ref_units")["unit_code"].to_list()
    register_partitions(instance, scan.years, all_units)
    plan = plan_run(request, scan.years, all_units, PartitionOrder.of(instance), config)
    summary = RunSummary(years=list(plan.years), units=list(plan.units))
    reviewed = pick_up_inbox(request.data, echo)
    if not plan.years:
        echo("落地目录 ledgers/ 下没有任何年度台账。")
        return summary

    _run_stage_jobs(launcher, plan, summary, echo)
    if summary.later_outputs:  # later years whose three-year tables show a changed year
        _write_later_outputs(launcher, plan, summary, echo)
    # judgments from the inbox on partitions this run did not cover (another county, the
    # units above a county re-run, another year): their outputs too
    covered = {(y, u) for y in plan.years for u in plan.units}
    rest = [
        k for k in with_units_above(reviewed, lake.read_single("ref_units")) if k not in covered
    ]
    if rest:
        runs = render_units(launcher, rest, plan.order, config, echo)
        summary.runs.extend(r.run_id for r in runs)
        if not all(r.ok for r in runs):
            summary.failed_stages.append("output_stage_job [复核意见涉及的单位]")
    # the year stage wrote the overviews of this run's years (and the years after them)
    judged = {y for y, _u in reviewed} - set(plan.years)
    run = refresh_overviews(launcher, judged, config, echo) if judged else None
    if run is not None:
        summary.runs.append(run.run_id)
        if not run.ok:
            summary.failed_stages.append(f"overview_job: {run.failure}")
    summary.failures.extend(rejections(request.data, plan.years, plan.units, scan))
    return summary


def _read_reference(
    request: RunRequest, launcher: Launcher, lake: Lake, config: dict, echo: Echo
) -> LandingScan:
    """① The reference job, unless the reference files and the unassignable landing files are
    what its last run read; the landing folder's scan."""
    state, scan = reference_state(request.landing, lake)
    record = request.data / REFERENCE_RECORD
    recorded = record.read_text(encoding="ascii").strip() if record.exists() else None
    if scan is not None and recorded == state:
        echo("① 参考数据未变，跳过 / reference data unchanged since they were read")
    else:
        echo("① 参考数据 reference data …")
        result = execute(
            launcher.defs, "reference_job", launcher.instance, tags={}, run_config=config
        )
        if not result.success:
            raise PipelineError(failure_text(result) or "参考数据读入失败 (reference data failed)")
        state, scan = reference_state(request.landing, lake)
        if scan is not None:
            record.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            record.write_text(state + "\n", encoding="ascii")
    assert scan is not None  # the reference job wrote ref_units
    return scan


def _run_stage_jobs(launcher: Launcher, plan: RunPlan, summary: RunSummary, echo: Echo) -> None:
    """②–④ Each stage job over its ranges, in order. After a partial run's year stage, the
    output stage also covers the other units it found affected; later years' affected outputs
    are left in ``summary.later_outputs``."""
    output_units = list(plan.units)
    for n, job_name in enumerate(definitions.STAGE_JOBS, start=2):
        echo(f"{'①②③④⑤⑥'[n - 1]} {launcher.description(job_name)} …")
        for start, end in plan.ranges(job_name, output_units):
            run = launcher.run(job_name, start, end, plan.job_config(job_name))
            summary.add_stage_run(run, echo)
            if definitions.is_year_job(job_name) and plan.partial:
                extra, later = plan.affected_outputs(changed_outputs(run.result))
                # added to, not reset: with --year A --year C (two year ranges) the units
                # A's year stage found affected stay in the output stage
                output_units = list(dict.fromkeys([*output_units, *extra]))
                if extra or later:
                    echo(f"   受影响的其他单位 / outputs affected: {len(extra) + len(later)}")
                summary.later_outputs.extend(later)


def _write_later_outputs(
    launcher: Launcher, plan: RunPlan, summary: RunSummary, echo: Echo
) -> None:
    echo(f"   以后年度受影响的工作簿 / later years' outputs: {len(summary.later_outputs)}")
    config = plan.later_config()
    for year, start, end in plan.later_runs(summary.later_outputs):
        run = launcher.run("output_stage_job", start, end, config)
        summary.runs.append(run.run_id)
        if not run.ok:
            summary.failed_stages.append(f"output_stage_job [{year}]: {run.failure}")


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


def render_units(
    launcher: Launcher,
    keys: Iterable[tuple[int, str]],
    order: PartitionOrder,
    config: dict,
    echo: Echo,
) -> list[Launched]:
    """Ranged runs of the output stage (reviews + audit_workbooks) over exactly these keys."""
    runs = []
    for start, end in render_ranges(keys, order):
        run = launcher.run("output_stage_job", start, end, config)
        echo(f"   工作簿与报告 {start} … {end}: {run.seconds:.1f} 秒")
        if not run.ok:
            echo(f"   ✗ output_stage_job [{start} … {end}]: {run.failure}")
        runs.append(run)
    return runs


def refresh_overviews(
    launcher: Launcher, years: Iterable[int], config: dict, echo: Echo
) -> Launched | None:
    """The overviews of these years (those of the data) rewritten after judgments
    (year_overview also rewrites the next year's, whose 同比 sheet shows these years); one
    ranged run over the years. None when no year is of the data."""
    known = {int(y) for y in launcher.instance.get_dynamic_partitions(years_partitions.name)}
    years = sorted(set(years) & known)
    if not years:
        return None
    run = launcher.run("overview_job", str(years[0]), str(years[-1]), config)
    echo(f"   审计总览 {years[0]} … {years[-1]}: {run.seconds:.1f} 秒")
    if not run.ok:
        echo(f"   ✗ overview_job [{years[0]} … {years[-1]}]: {run.failure}")
    return run


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
    units = Lake(data / "lake").read_single("ref_units")
    if units is None:
        raise PipelineError(f"{data} 中没有机构名录：请先运行 bangfu run")
    keys = with_units_above(keys, units)
    landing = Path(landing or os.environ.get("BANGFU_LANDING") or (data / "landing")).resolve()
    with (
        instance_in_use(data, instance) as instance,
        private_files(),
        data_lock(data, echo),
        defs_state_storage(instance),
    ):
        launcher = Launcher(definitions.build_defs(landing, data), instance)
        config = rerender_config(data, keys)
        echo(f"重新生成 {len(keys)} 个（年度，单位）的工作簿与报告 …")
        runs = render_units(launcher, keys, PartitionOrder.of(instance), config, echo)
        overviews = refresh_overviews(launcher, {y for y, _u in keys}, config, echo)
        return all(r.ok for r in [*runs, *([overviews] if overviews else [])])
