"""Production storage: the Dagster instance AND the warehouse in PostgreSQL (issue #3).

The instance is configured by deploy/dagster.yaml itself (credentials from the environment), so
this test also proves the shipped configuration loads. Under CI=true a missing PostgreSQL
fails the test (conftest.pg_url), it is never skipped.
"""

from __future__ import annotations

import shutil

import dagster as dg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pipelines.runner import run_pipeline
from tests.support import REPO as ROOT

YEAR = 2019

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_instance(pg_url, tmp_path, monkeypatch):
    url = make_url(pg_url)
    monkeypatch.setenv("BANGFU_PG_HOST", url.host or "127.0.0.1")
    monkeypatch.setenv("BANGFU_PG_USER", url.username or "postgres")
    monkeypatch.setenv("BANGFU_PG_PASSWORD", url.password or "")
    monkeypatch.setenv("BANGFU_PG_DB", url.database)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.from_config(str(home))
    yield instance
    instance.dispose()


def ledgers_partitions_of_run(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=100_000
    ).records
    return [
        r.event_log_entry.asset_materialization.partition
        for r in records
        if r.event_log_entry.asset_materialization.asset_key == dg.AssetKey("ledgers")
    ]


def test_pipeline_on_postgres_instance_and_warehouse(
    s_landing, pg_url, pg_instance, tmp_path, monkeypatch
):
    from dagster_postgres import (
        PostgresEventLogStorage,
        PostgresRunStorage,
        PostgresScheduleStorage,
    )

    instance = pg_instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    monkeypatch.setenv("BANGFU_WAREHOUSE_URL", pg_url)

    landing = tmp_path / "landing"
    shutil.copytree(s_landing / "reference", landing / "reference")
    shutil.copytree(s_landing / "ledgers" / str(YEAR), landing / "ledgers" / str(YEAR))
    data = tmp_path / "data"
    units_csv = (landing / "reference" / "units.csv").read_text("utf-8").splitlines()[1:]
    units = [line.split(",")[0] for line in units_csv if line.strip()]
    county = next(line.split(",")[0] for line in units_csv if line.split(",")[2] == "县")

    summary = run_pipeline(landing, data, years=[YEAR], instance=instance, echo=lambda _: None)
    assert summary.ok, summary.failures + summary.failed_stages
    assert len(summary.runs) == 3  # ranged: one run per stage

    # runs and events are in PostgreSQL
    runs = instance.get_runs()
    assert len(runs) == 4  # reference_job + three stages
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from runs")).scalar() == 4
        assert conn.execute(text("select count(*) from event_logs")).scalar() > 0
    expected = {f"{u}|{YEAR}" for u in units}
    assert instance.get_materialized_partitions(dg.AssetKey("ledgers")) == expected
    assert instance.get_materialized_partitions(dg.AssetKey("unit_findings")) == expected
    assert instance.get_materialized_partitions(dg.AssetKey("audit_workbooks")) == expected
    assert instance.get_materialized_partitions(dg.AssetKey("unit_year_metrics")) == {str(YEAR)}
    assert sorted(ledgers_partitions_of_run(instance, summary.runs[0])) == sorted(expected)

    # the warehouse is PostgreSQL, not a SQLite file in the data folder
    assert not (data / "warehouse.db").exists()

    def counts(conn):
        return {
            t: conn.execute(text(f"select count(*) from {t}")).scalar()
            for t in ("ingest_log", "findings", "unit_year_metrics")
        }

    def findings(conn):
        return conn.execute(
            text("select finding_id, stage from findings order by finding_id, stage")
        ).all()

    with engine.connect() as conn:
        first = counts(conn)
        before = findings(conn)
    assert first["ingest_log"] > 0 and first["findings"] > 0
    assert first["unit_year_metrics"] == len(units)

    # one county again: only its partitions materialised, each findings row exactly once
    again = run_pipeline(
        landing, data, years=[YEAR], units=[county], instance=instance, echo=lambda _: None
    )
    assert again.ok, again.failures + again.failed_stages
    assert ledgers_partitions_of_run(instance, again.runs[0]) == [f"{county}|{YEAR}"]
    for run_id in again.runs:
        assert set(ledgers_partitions_of_run(instance, run_id)) <= {f"{county}|{YEAR}"}
    with engine.connect() as conn:
        assert counts(conn) == first
        after = findings(conn)
        dup = conn.execute(
            text("select count(*) - count(distinct finding_id) from findings")
        ).scalar()
    assert dup == 0
    assert after == before
    assert len(instance.get_runs()) == 7  # the re-run skips the unchanged reference data
    engine.dispose()
