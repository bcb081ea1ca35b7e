"""Partial runs leave nothing stale (issue #21): after a changed ledger and a re-run of that
county alone, every workbook and report equals what a run from scratch writes."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from bangfu import output_digests
from tests.support.daemon_kit import (
    daemon,
    daemon_state,
    materialized,
    new_runs,
    wait_until_settled,
    workspace,
)
from tests.support.incremental_kit import (
    copy_tree,
    csv_county,
    differing_outputs,
    drop_archive_rows,
    scratch_run,
)
from warehouse import tables
from warehouse.store import Warehouse, default_url


@pytest.fixture(scope="module")
def scratch(s_landing, tmp_path_factory):
    """The S landing folder with one county's 2019 archive five rows shorter, and a run from
    scratch over it (what every partial run must end up equal to)."""
    root = tmp_path_factory.mktemp("scratch")
    landing = copy_tree(s_landing, root / "landing")
    county = csv_county(landing, 2019)
    drop_archive_rows(landing, 2019, county)
    scratch_run(landing, root / "data")
    return {"landing": landing, "data": root / "data", "county": county}


@pytest.fixture
def changed(s_run_copy, scratch, tmp_path):
    """A copy of the full S run (data and Dagster instance) over the original landing folder,
    and a copy of the changed landing folder."""
    landing = copy_tree(scratch["landing"], tmp_path / "landing")
    return landing, s_run_copy["data"], scratch["county"]


def _units(landing) -> pl.DataFrame:
    return pl.read_csv(landing / "reference" / "units.csv", infer_schema_length=0)


def test_one_county_rerun_equals_run_from_scratch(changed, scratch):
    from pipelines.runner import run_pipeline

    landing, data, county = changed
    # before the re-run the county's outputs are stale: the comparison sees it
    assert f"workbooks/2019/{county}.xlsx" in differing_outputs(data, scratch["data"])
    lines: list[str] = []
    summary = run_pipeline(landing, data, years=[2019], units=[county], echo=lines.append)
    assert summary.ok, summary.failures + summary.failed_stages

    # the outputs the run wrote: the county and the units above it, nothing of 2017/2018
    instance = dg.DagsterInstance.get()
    written = set()
    for run_id in summary.runs:
        run = instance.get_run_by_id(run_id)
        if run.job_name != "output_stage_job":
            continue
        for rec in instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records:
            meta = rec.event_log_entry.asset_materialization.metadata
            if "workbook" in meta:
                written.add(rec.event_log_entry.asset_materialization.partition)
    units = _units(landing)
    parent = dict(zip(units["单位代码"], units["上级单位代码"], strict=True))
    chain = [county]
    while parent.get(chain[-1]):
        chain.append(parent[chain[-1]])
    assert {f"{u}|2019" for u in chain} <= written, (written, chain)
    assert all(p.endswith("|2019") for p in written), written

    assert differing_outputs(data, scratch["data"]) == []


def test_rerun_with_nothing_changed_writes_only_what_was_asked(s_run, tmp_path, monkeypatch):
    """The digests of a from-scratch run equal the recorded ones: nothing else is stale."""
    monkeypatch.delenv("BANGFU_WAREHOUSE_URL", raising=False)
    from bangfu.lake import Lake
    from bangfu.settings import AuditSettings
    from bangfu.stages.outputs import stale_outputs

    data = s_run["data"]
    wh = Warehouse(default_url(data))
    try:
        units = Lake(data / "lake").read_single("ref_units")
        stale = stale_outputs(
            Lake(data / "lake"), wh, AuditSettings(), [2017, 2018, 2019], units=units
        )
        assert stale.is_empty(), stale
        recorded = wh.read(tables.rendered_outputs)
        assert recorded.height == len(list((data / "workbooks").rglob("*.xlsx")))
    finally:
        wh.dispose()


def test_digest_moves_with_a_finding_and_only_for_its_unit(s_run):
    data = s_run["data"]
    wh = Warehouse(default_url(data))
    try:
        before = output_digests.input_digests(wh, 2019, "c")
        one = wh.read(tables.findings, year=2019)
        assert one.height
        victim = one["unit_code"][0]
        same = output_digests.input_digests(wh, 2019, "c", [victim])
        # one unit read alone digests as in the whole year's read
        assert same["inputs_digest"].to_list() == (
            before.filter(pl.col("unit_code") == victim)["inputs_digest"].to_list()
        )
        assert (
            output_digests.input_digests(wh, 2019, "d", [victim])["inputs_digest"][0]
            != (same["inputs_digest"][0])
        )
    finally:
        wh.dispose()


# ---------------------------------------------------------------- the daemon's path
def test_daemon_path_equals_run_from_scratch(changed, scratch, tmp_path, monkeypatch):
    """dagster-daemon over the code location, sensors as they start by default: after one
    changed ledger, the landing sensor, the automation sensor and their runs settle with every
    output equal to a run from scratch, having re-written only the affected units."""
    landing, data, county = changed
    home = data / "dagster_home"
    instance = dg.DagsterInstance.get()
    runs_before = {r.run_id for r in instance.get_runs()}
    env = {
        "DAGSTER_HOME": str(home),
        "BANGFU_DATA": str(data),
        "BANGFU_LANDING": str(landing),
        "BANGFU_SENSOR_INTERVAL": "2",
    }
    log = tmp_path / "daemon.log"

    def ids() -> list[str]:
        return [r.run_id for r in new_runs(instance, runs_before)]

    def state() -> str:
        return daemon_state(instance, runs_before, log)

    with daemon(workspace(tmp_path), env, log) as proc:
        wait_until_settled(
            proc, instance, lambda: bool(materialized(instance, ids(), "audit_workbooks")), state
        )

    failed = [
        r.run_id for r in new_runs(instance, runs_before) if r.status != dg.DagsterRunStatus.SUCCESS
    ]
    assert not failed, state()
    assert set(materialized(instance, ids(), "ledgers")) == {f"{county}|2019"}, state()
    announced = set(materialized(instance, ids(), "unit_audit_inputs"))
    written = set(materialized(instance, ids(), "audit_workbooks"))
    assert f"{county}|2019" in written
    assert written == announced, (written, announced, state())  # only the affected units
    assert len(written) < 11, written
    assert differing_outputs(data, scratch["data"]) == [], state()
