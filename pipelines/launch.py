"""Launching and reading Dagster runs for `bangfu run` and `bangfu review`: ranged runs executed
in this process, tagged with this host and process (so that a later run can mark failed the runs
of a process that died), and what a finished run says — its own error, the outputs it reported
changed."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Any

import dagster as dg

from assets.partitions import split_keys
from bangfu.envvars import temporary_env
from bangfu.lake import host_name, pid_alive
from bangfu.parse import mask_ids_in_text
from pipelines.dagster_private import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

# Every run `bangfu run` starts is tagged with its host and process id, so that a later
# `bangfu run` can tell a run whose process died (kill -9, power cut: it stays "started" for
# ever, in the UI and for a queued coordinator's concurrency limit) from one still running.
HOST_TAG, PID_TAG = "bangfu/host", "bangfu/pid"

# A ranged run announces its assets with ONE planned event each (the range as a subset) instead
# of one per partition: at scale L that is 6,432 fewer event-log writes per year before the unit
# stage starts. Dagster's trade-off: partitions of a ranged run that FAILS are
# not marked failed in the partition status; `bangfu run` names such failures itself (exit 1).
PLANNED_SUBSET_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


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


def execute(defs: dg.Definitions, job_name: str, instance: dg.DagsterInstance, *, tags, run_config):
    """Run the job in this process (what `bangfu run` launches: its tags, one planned event per
    range); a failure is in the result, not raised."""
    job = defs.resolve_job_def(job_name)
    tags = {**tags, HOST_TAG: host_name(), PID_TAG: str(os.getpid())}
    with temporary_env(PLANNED_SUBSET_ENV, "true"):
        return job.execute_in_process(
            instance=instance, tags=tags, run_config=run_config, raise_on_error=False
        )


def range_tags(start: str, end: str) -> dict[str, str]:
    """The tags of a ranged run over the partitions ``start`` … ``end``."""
    return {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}


@dataclass(frozen=True, eq=False)
class Launched:
    """A finished ranged run: its job, its range, Dagster's result, its wall seconds."""

    job_name: str
    start: str
    end: str
    result: Any  # dg.ExecuteInProcessResult
    seconds: float

    @property
    def ok(self) -> bool:
        return self.result.success

    @property
    def run_id(self) -> str:
        return self.result.run_id

    @property
    def failure(self) -> str:
        return failure_text(self.result)


@dataclass(frozen=True, eq=False)
class Launcher:
    """Launches the jobs of one code location on one instance."""

    defs: dg.Definitions
    instance: dg.DagsterInstance

    def description(self, job_name: str) -> str | None:
        return self.defs.resolve_job_def(job_name).description

    def run(self, job_name: str, start: str, end: str, run_config: dict) -> Launched:
        """One ranged run over ``start`` … ``end``, awaited."""
        t0 = time.perf_counter()
        result = execute(
            self.defs, job_name, self.instance, tags=range_tags(start, end), run_config=run_config
        )
        return Launched(job_name, start, end, result, time.perf_counter() - t0)


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


def failure_text(result) -> str:
    """The first failure's own error of a run (see :func:`error_text`), or ""."""
    for ev in result.all_events:
        if ev.is_failure and ev.event_specific_data is not None:
            err = getattr(ev.event_specific_data, "error", None)
            if err is not None:
                return error_text(err)
    return ""


# "bangfu.readers.ReferenceDataError: msg" → "msg": our own errors already say what is wrong.
_OWN_ERROR_PREFIX = re.compile(
    r"^(?:[\w.]+\.)?(?:ReferenceDataError|LedgerRejected|PipelineError): "
)


def error_text(err) -> str:
    """The asset's own error, not Dagster's wrapper around it ("Error occurred while executing
    op …"): the innermost cause names the file and what is wrong. ID numbers masked."""
    while getattr(err, "cause", None) is not None:
        err = err.cause
    lines = (err.message or "").strip().splitlines()
    text = _OWN_ERROR_PREFIX.sub("", lines[0]) if lines else (err.cls_name or "")
    return mask_ids_in_text(text)[:500]
