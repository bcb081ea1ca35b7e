"""Partial runs leave nothing stale (issue #21): after three counties' ledgers changed (the
session's ``changed`` fixture), a re-run of two of them alone and then the daemon's landing
sensor and automation leave every workbook and report equal to what a run from scratch
writes."""

from __future__ import annotations

import dagster as dg
import polars as pl

from bangfu import output_digests
from tests.support.daemon_kit import (
    daemon,
    daemon_state,
    materialized,
    new_runs,
    wait_until_settled,
    workspace,
)
from tests.support.incremental_kit import chain, differing_outputs
from warehouse import tables
from warehouse.store import Warehouse, default_url


def written_workbooks(instance: dg.DagsterInstance, run_ids) -> set[str]:
    """The partitions whose workbook the runs wrote (not those left as they were)."""
    return set(materialized(instance, run_ids, "audit_workbooks"))


def test_partial_rerun_then_the_daemon_path_equal_run_from_scratch(changed, tmp_path):
    """Three counties' ledgers of one year changed. First `bangfu run --year Y --unit A --unit B`
    re-runs two of them: the outputs of Y and of the next year (which shows Y's figures) are
    written again for those counties and the units above them, nothing of another year. Then
    dagster-daemon over the code location, sensors as they start by default: the landing sensor
    takes the third county alone (the run ingested the other two), the automation follows, and
    once settled every workbook and report equals a run from scratch, only the affected units'
    having been written again."""
    from pipelines.runner import run_pipeline

    landing, data, counties, year = (changed[k] for k in ("landing", "data", "counties", "year"))
    by_cli, by_daemon = counties[:2], counties[2]
    workbook = f"workbooks/{year}/{{}}.xlsx".format
    # before the re-run every changed county's outputs are stale: the comparison sees it
    stale = differing_outputs(data, changed["scratch"])
    assert {workbook(c) for c in counties} <= set(stale), stale

    # ---- the command line, two counties
    summary = run_pipeline(landing, data, years=[year], units=by_cli, echo=lambda _line: None)
    assert summary.ok, summary.failures + summary.failed_stages
    instance = dg.DagsterInstance.get()
    output_runs = [
        r for r in summary.runs if instance.get_run_by_id(r).job_name == "output_stage_job"
    ]
    written = written_workbooks(instance, output_runs)
    above = {u for c in by_cli for u in chain(changed["units"], c)}
    assert {f"{u}|{year}" for u in above} <= written, (written, above)
    assert all(int(p.split("|")[1]) in (year, year + 1) for p in written), written
    stale = set(differing_outputs(data, changed["scratch"]))
    assert not {workbook(c) for c in by_cli} & stale, stale
    assert workbook(by_daemon) in stale, stale

    # ---- the daemon, the third county
    runs_before = {r.run_id for r in instance.get_runs()}
    env = {
        "DAGSTER_HOME": str(data / "dagster_home"),
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
        wait_until_settled(proc, instance, lambda: bool(written_workbooks(instance, ids())), state)

    failed = [
        r.run_id for r in new_runs(instance, runs_before) if r.status != dg.DagsterRunStatus.SUCCESS
    ]
    assert not failed, state()
    assert materialized(instance, ids(), "ledgers") == [f"{by_daemon}|{year}"], state()
    announced = set(materialized(instance, ids(), "unit_audit_inputs"))
    written = written_workbooks(instance, ids())
    assert f"{by_daemon}|{year}" in written, state()
    assert written == announced, (written, announced, state())  # only the affected units
    assert len(written) < len(list((data / "workbooks").rglob("*.xlsx"))) / 2, written
    assert differing_outputs(data, changed["scratch"]) == [], state()


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
