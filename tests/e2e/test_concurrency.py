"""Issue #7 item 4 (concurrency): runs at the same time lose nothing and never interleave.

- Two counties at once into one PostgreSQL warehouse. The design shares ONE data folder (one
  lake) and one warehouse between concurrent Dagster runs — the production instance
  (deploy/dagster.yaml) runs up to four at once, the sensor requesting a ranged run per block
  of units — so two unit-stage runs over disjoint units run in two processes at once, the first
  held inside its findings transaction until the second waits on it; then the year and output
  stages. (Two data folders sharing one warehouse are not a supported set-up: the year stage
  replaces a whole year's roll-ups from its own lake.)
- The same county twice at once with `bangfu run` on one data folder: serialised by the
  data-folder lock (pipelines.home.data_lock); both finish, their Dagster runs never overlap,
  and the result equals a single run's.
"""

from __future__ import annotations

import time

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from sqlalchemy import create_engine, text

from pipelines.dagster_private import defs_state_storage
from tests.support.faultkit import (
    UNITS,
    YEAR,
    diff_snapshots,
    finish,
    lake_hashes,
    snapshot,
    start_child,
    start_run,
    wait_for,
    warehouse_rows,
)

pytestmark = pytest.mark.slow

# One stage's ranged run in a process of its own, as the run launcher starts it.
STAGE_CHILD = """
import sys
from pathlib import Path
import dagster as dg
from pipelines.dagster_private import defs_state_storage
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG as END,
    ASSET_PARTITION_RANGE_START_TAG as START,
)
from pipelines import definitions
landing, data, job, start, end = sys.argv[1:6]
instance = dg.DagsterInstance.get()
job_def = definitions.build_defs(Path(landing), Path(data)).resolve_job_def(job)
with defs_state_storage(instance):
    result = job_def.execute_in_process(
        instance=instance, tags={START: start, END: end}, raise_on_error=False
    )
sys.exit(0 if result.success else 1)
"""


def _key(unit: str) -> str:
    from assets.partitions import multi_key

    return str(multi_key(YEAR, unit))


def _execute(defs, job: str, instance, start: str | None = None, end: str | None = None):
    tags = {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}
    with defs_state_storage(instance):
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance, tags=tags if start else {}, raise_on_error=False
        )
    assert result.success, job
    return result


def _lock_waiters(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_two_counties_at_once_into_postgres_lose_nothing(
    small_landing, small_baseline, pg_url, tmp_path, monkeypatch
):
    from pipelines import definitions
    from pipelines.home import dagster_home, register_partitions

    data = tmp_path / "data"
    monkeypatch.setenv("BANGFU_WAREHOUSE_URL", pg_url)
    monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
    dagster_home(data)
    instance = dg.DagsterInstance.get()
    defs = definitions.build_defs(small_landing, data)
    _execute(defs, "reference_job", instance)
    register_partitions(instance, [YEAR], UNITS)

    # A: the province and the city; B: the two counties. A stops inside its findings
    # transaction (findings and run_settings rows written, not committed) until B waits on it.
    flag = tmp_path / "paused"
    blocks = [(UNITS[0], UNITS[1]), (UNITS[2], UNITS[3])]
    args = [
        ["-c", STAGE_CHILD, str(small_landing), str(data), "unit_stage_job", _key(u0), _key(u1)]
        for u0, u1 in blocks
    ]
    a = start_child(args[0], data, pause=f"warehouse:run_settings={flag}", warehouse_url=pg_url)
    wait_for(flag.exists, a)
    b = start_child(args[1], data, warehouse_url=pg_url)
    wait_for(lambda: _lock_waiters(pg_url) > 0, b)
    flag.unlink()
    for proc in (a, b):
        code, out = finish(proc)
        assert code == 0, out[-3000:]

    # then the later stages once, as their automation conditions would request them
    for job in definitions.STAGE_JOBS:
        if job == "unit_stage_job":
            continue
        if definitions.is_year_job(job):
            _execute(defs, job, instance, str(YEAR), str(YEAR))
        else:
            _execute(defs, job, instance, _key(UNITS[0]), _key(UNITS[-1]))
    assert diff_snapshots(snapshot(data, pg_url), small_baseline["snapshot"]) == []


def test_same_county_twice_at_once_is_serialised(small_landing, small_baseline, tmp_path):
    county = "330103"
    data = tmp_path / "data"
    flag = tmp_path / "paused"
    first = start_run(small_landing, data, "--unit", county, pause=f"lake:payments={flag}")
    wait_for(flag.exists, first)  # the first holds the lock, in the middle of ingestion
    second = start_run(small_landing, data, "--unit", county)
    wait_for(lambda: "等待" in second.output(), second)
    time.sleep(0.5)  # the second stays blocked while the first is held
    assert second.poll() is None and "①" not in second.output().split("等待", 1)[1]
    flag.unlink()
    for proc in (first, second):
        code, out = finish(proc)
        assert code == 0, out[-3000:]

    # never interleaved: no two of the seven Dagster runs overlap in time (the second run skips
    # the reference job: the reference files are what the first one read)
    instance = dg.DagsterInstance.from_config(str(data / "dagster_home"))
    records = sorted(instance.get_run_records(), key=lambda r: r.start_time)
    assert len(records) == 2 * len({r.dagster_run.job_name for r in records}) - 1 >= 5
    assert sum(r.dagster_run.job_name == "reference_job" for r in records) == 1
    for earlier, later in zip(records, records[1:], strict=False):
        assert earlier.end_time <= later.start_time, (earlier.dagster_run.job_name, later)
    instance.dispose()

    # the result equals a single run's: the county's partitions as in the baseline
    want = small_baseline["snapshot"]
    mine = {k: v for k, v in lake_hashes(data).items() if f"unit={county}/" in k}
    assert mine == {k: v for k, v in want["lake"].items() if f"unit={county}/" in k}
    assert "findings_unit/year=2019/unit=330103/data.parquet" in mine
    got = warehouse_rows(f"sqlite:///{data / 'warehouse.db'}")

    def own(table: str) -> tuple[list, list]:
        # (year, unit_code, …): the county's rows, each once; of the findings the unit stage's
        def keep(r):
            return r[1] == county and (table != "findings" or r[-1] == "unit")

        return [r for r in got[table] if keep(r)], [r for r in want["warehouse"][table] if keep(r)]

    for table in ("ingest_log", "quarantine", "rejected_files", "findings"):
        mine_rows, want_rows = own(table)
        assert mine_rows == want_rows, table
    assert own("ingest_log")[0] and own("findings")[0], "nothing to compare"
