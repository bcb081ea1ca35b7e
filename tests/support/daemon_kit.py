"""Helpers of the tests that drive `dagster-daemon run` itself over a copy of a run's instance
(the code location of workspace.yaml, its sensors and schedule, runs launched by the daemon):
start it, wait until its runs have settled, read what the runs wrote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[2]

UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def workspace(tmp_path: Path) -> Path:
    """workspace.yaml's code location, loaded from the repository wherever the test runs."""
    ws = tmp_path / "workspace.yaml"
    ws.write_text(
        "load_from:\n"
        "  - python_module:\n"
        "      module_name: pipelines.definitions\n"
        "      attribute: defs\n"
        f"      working_directory: {REPO}\n",
        encoding="utf-8",
    )
    return ws


def busy(instance: dg.DagsterInstance) -> bool:
    """A run queued or running, or a backfill with runs still to launch. A backfill whose
    partitions have all been launched, in runs that have all ended, is done: the backfill
    daemon marks it so only at its next pass (every 30 s), and nothing is waited for then."""
    from dagster._core.execution.backfill import BulkActionStatus

    if instance.get_runs_count(dg.RunsFilter(statuses=UNFINISHED)):
        return True
    for backfill in instance.get_backfills(status=BulkActionStatus.REQUESTED):
        data = backfill.asset_backfill_data
        if data is None or not (data.target_subset - data.requested_subset).is_empty:
            return True
    return False


def new_runs(instance: dg.DagsterInstance, before: set[str]) -> list[dg.DagsterRun]:
    return [r for r in instance.get_runs() if r.run_id not in before]


def daemon_state(instance: dg.DagsterInstance, before: set[str], log: Path) -> str:
    """The runs the daemon launched and the end of its log, for a failure message."""
    lines = [
        f"{r.job_name} {r.status.value} {r.tags.get('dagster/asset_partition_range_start', '')}"
        f"…{r.tags.get('dagster/asset_partition_range_end', '')} {r.asset_selection or ''}"
        for r in reversed(new_runs(instance, before))
    ]
    tail = log.read_text(errors="replace")[-2500:] if log.exists() else ""
    return "\n".join(lines) + "\n--- daemon log ---\n" + tail


def materialized(instance: dg.DagsterInstance, run_ids, asset: str) -> list[str]:
    """The partitions of ``asset`` the runs materialised, once per materialisation (an
    `audit_workbooks` partition counts only when a workbook was written, not when it was
    left as it was)."""
    out = []
    for run_id in run_ids:
        for rec in instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records:
            mat = rec.event_log_entry.asset_materialization
            if mat.asset_key.to_user_string() == asset and (
                asset != "audit_workbooks" or "workbook" in mat.metadata
            ):
                out.append(mat.partition)
    return out


@contextmanager
def daemon(ws: Path, env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`dagster-daemon run -w ws` with ``env`` added to the environment; stopped (with its code
    server and run workers) at the end of the block."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(ws)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its code server and run workers end with it
        )
        try:
            yield proc
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def automation_ticked_since(instance: dg.DagsterInstance, since: float) -> bool:
    """The automation sensor has ended a tick that started after ``since``."""
    from dagster._core.scheduler.instigation import TickStatus

    from pipelines.automation import automation_sensor

    for state in instance.all_instigator_state():
        if state.instigator_name == automation_sensor.name:
            ended = [TickStatus.SKIPPED, TickStatus.SUCCESS, TickStatus.FAILURE]
            return bool(
                instance.get_ticks(
                    state.instigator_origin_id, state.selector_id, after=since, statuses=ended
                )
            )
    return False


def last_run_ended(instance: dg.DagsterInstance) -> float:
    return max((r.end_time or 0.0 for r in instance.get_run_records()), default=0.0)


def wait_until_settled(
    proc: subprocess.Popen,
    instance: dg.DagsterInstance,
    done: Callable[[], bool],
    describe: Callable[[], str],
    *,
    poll: float = 1.0,
    timeout: float = 900,
) -> None:
    """Until ``done()``, nothing is queued or running, and the automation sensor has looked at
    what the last run wrote (a tick started after that run ended, and ended requesting nothing:
    it would have queued a run). Bounded: a loaded machine runs ticks and runs slowly."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(poll)
        assert proc.poll() is None, "the daemon ended:\n" + describe()
        if (
            done()
            and not busy(instance)
            and automation_ticked_since(instance, last_run_ended(instance))
            and not busy(instance)  # what that tick requested is queued by now
        ):
            return
    raise AssertionError("the daemon did not settle:\n" + describe())
