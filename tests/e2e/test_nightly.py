"""The nightly path (issue #21): three ledgers of one year change, and `dagster-daemon run`
fires nightly_schedule's tick; the automation (`bangfu_automation`) then runs the year stage
and the outputs whose inputs changed. Once settled, every workbook and report equals a run
from scratch over the same landing folder, and only the affected units' outputs were written
again. Also: the schedule leaves what a queued or running run ingests, and its cron comes from
BANGFU_NIGHTLY_CRON."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path

import dagster as dg
import polars as pl

from assets.partitions import multi_key, split_keys, unit_year_partitions
from pipelines.automation import (
    NIGHTLY_CRON,
    NIGHTLY_CRON_ENV,
    in_flight,
    nightly_cron,
    nightly_schedule,
)
from pipelines.dagster_private import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from resources import LandingResource, WarehouseResource
from tests.support.daemon_kit import (
    daemon,
    daemon_state,
    materialized,
    new_runs,
    wait_until_settled,
    workspace,
)
from tests.support.incremental_kit import YEAR, chain, differing_outputs, output_files
from warehouse import tables
from warehouse.store import Warehouse, sqlite_url

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


# ---------------------------------------------------------------- what changed where
def rows_by_partition(data: Path) -> dict[tuple[str, int, str], list[str]]:
    """Every findings and metrics row of the warehouse as text, by (table, year, unit)."""
    wh = Warehouse(sqlite_url(data))
    try:
        out = {}
        for table in (tables.findings, tables.unit_year_metrics):
            frame = wh.read(table)
            rows = frame.select(
                pl.col("year").cast(pl.Int64),
                "unit_code",
                pl.concat_str(
                    [pl.col(c).cast(pl.String).fill_null("∅") for c in frame.columns],
                    separator="\x1f",
                ).alias("row"),
            )
            for year, unit, found in (
                rows.group_by("year", "unit_code").agg(pl.col("row").sort()).iter_rows()
            ):
                out[(table.name, year, unit)] = found
        return out
    finally:
        wh.dispose()


def moved(before: Path, after: Path) -> set[tuple[int, str]]:
    """The (year, unit) partitions whose findings or metrics differ between two warehouses."""
    a, b = rows_by_partition(before), rows_by_partition(after)
    return {(key[1], key[2]) for key in set(a) | set(b) if a.get(key) != b.get(key)}


# ---------------------------------------------------------------- the schedule's state
def repository_origin(ws: Path):
    """The origin Dagster gives the repository of the workspace's code location (the same for
    this process and the daemon reading the same workspace file)."""
    from dagster._core.definitions.repository_definition.valid_definitions import (
        SINGLETON_REPOSITORY_NAME,
    )
    from dagster._core.remote_origin import RemoteRepositoryOrigin
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    (location,) = WorkspaceFileTarget(paths=[str(ws)]).create_origins()
    return RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME)


def instigator_origin(ws: Path, name: str):
    from dagster._core.remote_origin import RemoteInstigatorOrigin

    return RemoteInstigatorOrigin(repository_origin(ws), name)


def nightly_only(instance: dg.DagsterInstance, ws: Path, since: float):
    """What an operator who takes ledgers only at night sets (`dagster sensor stop
    landing_sensor`, `dagster schedule start nightly_schedule`), the schedule turned on at
    ``since``. Returns the schedule's state."""
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.definitions.sensor_definition import SensorType
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        ScheduleInstigatorData,
        SensorInstigatorData,
    )

    instance.add_instigator_state(
        InstigatorState(
            instigator_origin(ws, "landing_sensor"),
            InstigatorType.SENSOR,
            InstigatorStatus.STOPPED,
            SensorInstigatorData(sensor_type=SensorType.STANDARD),
        )
    )
    return instance.add_instigator_state(
        InstigatorState(
            instigator_origin(ws, "nightly_schedule"),
            InstigatorType.SCHEDULE,
            InstigatorStatus.RUNNING,
            ScheduleInstigatorData("* * * * *", start_timestamp=since),
        )
    )


def test_nightly_run_after_three_changed_ledgers_equals_run_from_scratch(changed, s_run, tmp_path):
    """The daemon, the landing sensor off and the schedule on every minute (turned on a minute
    ago, so the daemon's first look at the clock finds a tick due): one tick requests the three
    partitions, the automation follows, and the outputs end up as a run from scratch writes."""
    from dagster._core.scheduler.instigation import TickStatus

    landing, data, counties, units = (changed[k] for k in ("landing", "data", "counties", "units"))
    instance = dg.DagsterInstance.get()
    before = {r.run_id for r in instance.get_runs()}
    ws = workspace(tmp_path)
    schedule = nightly_only(instance, ws, since=time.time() - 61)
    env = {
        "DAGSTER_HOME": str(data / "dagster_home"),
        "BANGFU_DATA": str(data),
        "BANGFU_LANDING": str(landing),
        "BANGFU_SENSOR_INTERVAL": "2",
        NIGHTLY_CRON_ENV: "* * * * *",
    }
    log = tmp_path / "daemon.log"

    def state() -> str:
        return daemon_state(instance, before, log)

    def done() -> bool:
        ids = [r.run_id for r in new_runs(instance, before)]
        return bool(materialized(instance, ids, "audit_workbooks"))

    started = time.monotonic()
    with daemon(ws, env, log) as proc:
        wait_until_settled(proc, instance, done, state)
    took = time.monotonic() - started

    runs = new_runs(instance, before)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), state()
    ids = [r.run_id for r in runs]

    # the schedule: one tick with runs, the three partitions once; any later tick skipped
    ticks = instance.get_ticks(schedule.instigator_origin_id, schedule.selector_id)
    fired = [t for t in ticks if t.status == TickStatus.SUCCESS]
    assert len(fired) == 1, [(t.status, t.skip_reason) for t in ticks]
    assert {t.status for t in ticks} <= {TickStatus.SUCCESS, TickStatus.SKIPPED}, state()
    unit_stage = {r.run_id for r in runs if r.job_name == "unit_stage_job"}
    assert set(fired[0].run_ids) == unit_stage, state()
    ingested = materialized(instance, ids, "ledgers")
    assert sorted(ingested) == sorted(f"{c}|{YEAR}" for c in counties), state()

    # re-rendered: every output whose inputs moved, and nothing else
    written = set(materialized(instance, ids, "audit_workbooks"))
    announced = set(materialized(instance, ids, "unit_audit_inputs"))
    assert written == announced, (written, announced, state())
    outputs = output_partitions(changed["scratch"])
    years = {int(k.split("|")[1]) for k in outputs}
    moves = moved(s_run["data"], changed["scratch"])
    chains = {(YEAR, a) for c in counties for a in chain(units, c)}
    # findings and metrics moved: the unit's outputs of the year and the next year's (which
    # show this year's metrics) are written again
    must = moves | {(y + 1, u) for y, u in chains if y + 1 in years}
    may = {
        (y + k, a)
        for y, u in moves | chains
        for a in chain(units, u)
        for k in (0, 1, 2)
        if y + k in years
    }
    as_keys = {str(multi_key(y, u)) for y, u in must} & outputs
    assert as_keys <= written, (sorted(as_keys - written), state())
    assert written <= {str(multi_key(y, u)) for y, u in may}, sorted(written)
    assert not any(k.endswith(f"|{YEAR - 1}") for k in written), sorted(written)
    assert len(written) < len(outputs) / 2, sorted(written)

    assert differing_outputs(data, changed["scratch"]) == [], state()
    print(
        f"\nnightly path: {len(runs)} runs, {len(written)} of {len(outputs)}"
        f" outputs written again, daemon {took:.0f} s"
    )


def output_partitions(data: Path) -> set[str]:
    """The (year, unit) partitions with a workbook, as partition keys (unit|year)."""
    return {
        f"{Path(rel).stem}|{Path(rel).parent.name}"
        for rel in output_files(data)
        if rel.startswith("workbooks/")
    }


# ---------------------------------------------------------------- runs in flight
def _queued_run(
    instance, ws, tags, job_name="unit_stage_job", status=dg.DagsterRunStatus.QUEUED
) -> None:
    """A run as the daemon's queue holds it (a queued run names the job's code location)."""
    from dagster._core.remote_origin import RemoteJobOrigin

    instance.add_run(
        dg.DagsterRun(
            job_name=job_name,
            run_id=str(uuid.uuid4()),
            status=status,
            tags=tags,
            remote_job_origin=RemoteJobOrigin(repository_origin(ws), job_name),
        )
    )


def _range(start, end) -> dict[str, str]:
    return {
        ASSET_PARTITION_RANGE_START_TAG: str(multi_key(*start)),
        ASSET_PARTITION_RANGE_END_TAG: str(multi_key(*end)),
    }


def test_in_flight_reads_the_unit_stage_runs_not_yet_ended(tmp_path):
    ws = workspace(tmp_path)
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("ledger_years", ["2017", "2018", "2019"])
        instance.add_dynamic_partitions("units", ["330102", "330103", "330104", "330205"])
        _queued_run(instance, ws, _range((2018, "330103"), (2019, "330104")))
        _queued_run(
            instance,
            ws,
            {PARTITION_NAME_TAG: str(multi_key(2017, "330205"))},
            status=dg.DagsterRunStatus.STARTED,
        )
        # ended, or another stage: not in flight
        _queued_run(
            instance,
            ws,
            _range((2017, "330102"), (2019, "330205")),
            status=dg.DagsterRunStatus.SUCCESS,
        )
        _queued_run(
            instance, ws, _range((2017, "330102"), (2017, "330102")), job_name="year_stage_job"
        )
        assert in_flight(instance) == {
            (2018, "330103"),
            (2018, "330104"),
            (2019, "330103"),
            (2019, "330104"),
            (2017, "330205"),
        }

        # the tag Dagster gives a one-partition run is the one read
        @dg.asset(partitions_def=unit_year_partitions)
        def probe():
            return None

        job = dg.Definitions(
            assets=[probe], jobs=[dg.define_asset_job("j", selection=[probe])]
        ).resolve_job_def("j")
        key = str(multi_key(2019, "330205"))
        result = job.execute_in_process(instance=instance, partition_key=key)
        assert instance.get_run_by_id(result.run_id).tags[PARTITION_NAME_TAG] == key
        assert split_keys([key]) == [(2019, "330205")]


def test_nightly_schedule_leaves_what_a_queued_run_ingests(changed, tmp_path):
    """A ledger the landing sensor's run is ingesting when the tick comes is not requested
    again; once that run has ended, the changed ledgers not ingested are."""
    landing, data, counties = (changed[k] for k in ("landing", "data", "counties"))
    instance = dg.DagsterInstance.get()
    ws = workspace(tmp_path)

    def tick():
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=dt.datetime(2024, 3, 1, 2, 0, tzinfo=SHANGHAI),
            resources={
                "landing": LandingResource(path=str(landing)),
                "warehouse": WarehouseResource(data_path=str(data)),
            },
        ) as ctx:
            result = nightly_schedule(ctx)
        if isinstance(result, dg.SkipReason):
            return result
        keys = set()
        for r in result:
            rng = dg.PartitionKeyRange(
                r.tags[ASSET_PARTITION_RANGE_START_TAG], r.tags[ASSET_PARTITION_RANGE_END_TAG]
            )
            keys |= set(
                split_keys(
                    unit_year_partitions.get_partition_keys_in_range(
                        rng, dynamic_partitions_store=instance
                    )
                )
            )
        return keys

    everything = {(YEAR, c) for c in counties}
    assert tick() == everything
    one = (YEAR, counties[0])
    _queued_run(instance, ws, _range(one, one))
    assert tick() == everything - {one}
    _queued_run(instance, ws, {PARTITION_NAME_TAG: str(multi_key(YEAR, counties[1]))})
    _queued_run(instance, ws, _range((YEAR, counties[2]), (YEAR, counties[2])))
    skipped = tick()
    assert isinstance(skipped, dg.SkipReason) and "排队或运行" in skipped.skip_message
    for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED])):
        instance.report_run_canceled(run)
    assert tick() == everything


def test_nightly_cron_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(NIGHTLY_CRON_ENV, raising=False)
    assert nightly_cron() == NIGHTLY_CRON == "0 2 * * *"
    assert nightly_schedule.cron_schedule == NIGHTLY_CRON
    monkeypatch.setenv(NIGHTLY_CRON_ENV, "30 22 * * 1-5")
    assert nightly_cron() == "30 22 * * 1-5"
