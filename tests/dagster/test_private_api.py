"""The libraries' private API the product relies on, one module per library
(pipelines.dagster_private, bangfu.forms.openpyxl_private): these tests fail when a release of
the library changes what those modules use, before a run or a workbook goes wrong. The batched
event log writes are checked against Dagster's own in tests/dagster/test_storage.py."""

from __future__ import annotations

import zipfile

import dagster as dg
import pytest
from openpyxl import Workbook, load_workbook

from bangfu.forms.openpyxl_private import set_sheet_markup, write_package
from pipelines.dagster_private import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    add_partition_metadata_at_once,
    defs_state_storage,
)

# ---------------------------------------------------------------- openpyxl
SHEET_DATA = (
    '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>项目</t></is></c>'
    '<c r="B1"><v>2</v></c></row>'
    '<row r="2"><c r="A2" t="inlineStr"><is><t>合并</t></is></c></row></sheetData>'
).encode()
MERGES = b'<mergeCells count="1"><mergeCell ref="A2:B2"/></mergeCells>'


def test_openpyxl_sheet_takes_finished_markup(tmp_path):
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("表")
    ws.freeze_panes = "A2"
    ws.page_setup.orientation = "landscape"
    set_sheet_markup(ws, SHEET_DATA, MERGES)
    path = tmp_path / "w.xlsx"
    write_package(wb, path)

    with zipfile.ZipFile(path) as z:
        xml = z.read("xl/worksheets/sheet1.xml")
    # the markup whole, where the schema wants it: after the views, before the print setup
    assert xml.count(SHEET_DATA) == 1 and xml.count(MERGES) == 1
    assert xml.index(b"<sheetViews") < xml.index(SHEET_DATA) < xml.index(MERGES)
    assert xml.index(MERGES) < xml.index(b"<pageMargins") < xml.index(b"<pageSetup")
    got = load_workbook(path)["表"]
    assert [[c.value for c in row] for row in got.iter_rows()] == [["项目", 2], ["合并", None]]
    assert {str(r) for r in got.merged_cells.ranges} == {"A2:B2"}
    assert got.freeze_panes == "A2" and got.page_setup.orientation == "landscape"


def test_openpyxl_sheet_without_merges(tmp_path):
    wb = Workbook(write_only=True)
    set_sheet_markup(wb.create_sheet("表"), SHEET_DATA, None)
    write_package(wb, tmp_path / "w.xlsx")
    with zipfile.ZipFile(tmp_path / "w.xlsx") as z:
        xml = z.read("xl/worksheets/sheet1.xml")
    assert SHEET_DATA in xml and b"<mergeCells" not in xml


# ---------------------------------------------------------------- Dagster
KEYS = ["a", "b", "c", "d"]
took_fast_path: list[bool] = []


@dg.asset(
    partitions_def=dg.StaticPartitionsDefinition(KEYS),
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def ranged(context):  # (no annotation: a string under `from __future__ import annotations`)
    context.add_asset_metadata({"seen": "before"}, partition_key="b")
    entries = [(k, {"rows": i}) for i, k in enumerate(context.partition_keys)]
    took_fast_path.append(add_partition_metadata_at_once(context, entries))
    return dg.MaterializeResult()


def test_dagster_ranged_metadata_goes_into_the_step_accumulator():
    took_fast_path.clear()
    instance = dg.DagsterInstance.ephemeral()
    job = dg.Definitions(
        assets=[ranged], jobs=[dg.define_asset_job("j", selection=[ranged])]
    ).resolve_job_def("j")
    tags = {ASSET_PARTITION_RANGE_START_TAG: "a", ASSET_PARTITION_RANGE_END_TAG: "c"}
    assert job.execute_in_process(instance=instance, tags=tags).success
    assert took_fast_path == [True]  # the private path was found, not the public fallback
    mats = instance.fetch_materializations(dg.AssetKey("ranged"), limit=10).records
    got = {r.partition_key: r.asset_materialization.metadata for r in mats}
    assert sorted(got) == ["a", "b", "c"]
    assert {k: m["rows"].value for k, m in got.items()} == {"a": 0, "b": 1, "c": 2}
    assert got["b"]["seen"].value == "before"  # metadata added before is kept


def test_dagster_ranged_metadata_rejects_a_partition_outside_the_run():
    @dg.asset(
        partitions_def=dg.StaticPartitionsDefinition(KEYS),
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def outside(context):
        add_partition_metadata_at_once(context, [("d", {"rows": 1})])

    job = dg.Definitions(
        assets=[outside], jobs=[dg.define_asset_job("j", selection=[outside])]
    ).resolve_job_def("j")
    tags = {ASSET_PARTITION_RANGE_START_TAG: "a", ASSET_PARTITION_RANGE_END_TAG: "b"}
    with pytest.raises(dg.DagsterInvariantViolationError, match="not being targeted"):
        job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), tags=tags)


def test_dagster_defs_state_storage_is_the_instances_for_the_block(tmp_path):
    from dagster._core.storage.defs_state.base import DefsStateStorage

    instance = dg.DagsterInstance.local_temp(str(tmp_path))
    before = DefsStateStorage.get()
    with defs_state_storage(instance):
        assert DefsStateStorage.get() is instance.defs_state_storage is not None
    assert DefsStateStorage.get() is before
