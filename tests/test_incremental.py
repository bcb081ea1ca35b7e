"""Partial runs leave nothing stale (issue #21): after a changed ledger and a re-run of that
county alone, every workbook and report equals what a run from scratch writes."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest
from incremental_kit import (
    copy_tree,
    csv_county,
    differing_outputs,
    drop_archive_rows,
    scratch_run,
)

from bangfu import output_digests
from warehouse import tables
from warehouse.store import Warehouse, default_url


@pytest.fixture
def changed(s_run, tmp_path, monkeypatch):
    """A copy of the S landing folder and full run, one county's 2019 archive five rows shorter."""
    monkeypatch.delenv("BANGFU_WAREHOUSE_URL", raising=False)
    landing = copy_tree(s_run["landing"], tmp_path / "landing")
    data = copy_tree(s_run["data"], tmp_path / "data")
    monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
    county = csv_county(landing, 2019)
    drop_archive_rows(landing, 2019, county)
    return landing, data, county


def _units(landing) -> pl.DataFrame:
    return pl.read_csv(landing / "reference" / "units.csv", infer_schema_length=0)


def test_one_county_rerun_equals_run_from_scratch(changed, tmp_path):
    from pipelines.runner import run_pipeline

    landing, data, county = changed
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

    scratch = tmp_path / "scratch"
    scratch_run(landing, scratch)
    assert differing_outputs(data, scratch) == []


def test_rerun_with_nothing_changed_writes_only_what_was_asked(s_run, tmp_path, monkeypatch):
    """The digests of a from-scratch run equal the recorded ones: nothing else is stale."""
    monkeypatch.delenv("BANGFU_WAREHOUSE_URL", raising=False)
    from bangfu.lake import Lake
    from bangfu.settings import AuditSettings
    from bangfu.stages import stale_outputs

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
