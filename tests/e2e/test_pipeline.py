"""End to end over scale S: ingestion and findings against the generator's own truth."""

from __future__ import annotations

import polars as pl
import pytest
from openpyxl import load_workbook

from bangfu.frames import METRICS_SCHEMA
from warehouse import tables
from warehouse.store import Warehouse, default_url

UNIT_RULES = {
    "PAY_FLAT_AMOUNT",
    "TARGET_NOT_MET",
    "NO_PLAN",
    "ALLOCATION_NOT_FACTOR",
    "NO_PERFORMANCE_EVALUATION",
    "EVAL_RATE_ALERT",
}
VOUCHER_RULES = {"SPEND_OUT_OF_SCOPE", "LEDGER_MISMATCH"}


def subject_key(row: dict) -> tuple:
    """(year, unit, rule, subject) — the matching key of the acceptance checks."""
    rc = row["rule_code"]
    if rc == "MISSED_CANDIDATE":
        key = row["id_number"]
    elif rc in VOUCHER_RULES:
        key = row["voucher_no"]
    elif rc in UNIT_RULES:
        key = row.get("category") or ""
    elif row.get("payment_no"):
        key = "P:" + row["payment_no"]
    else:
        key = "A:" + (row.get("archive_no") or "")
    return (int(row["year"]), row["unit_code"], rc, key)


@pytest.fixture(scope="module")
def wh(s_run):
    w = Warehouse(default_url(s_run["data"]))
    yield w
    w.dispose()


def test_run_succeeds_with_few_runs(s_run):
    summary = s_run["summary"]
    assert summary.ok, summary.failures + summary.failed_stages
    # one ranged run per stage, not one per partition
    assert len(summary.runs) == 3


def test_ingest_log_matches_truth(s_run, wh):
    truth = pl.read_csv(s_run["landing"] / "truth" / "ingest.csv", infer_schema_length=0)
    got = wh.read(tables.ingest_log)
    assert got.height == truth.height
    t = {
        (int(r["year"]), r["unit_code"], r["sheet"]): (
            int(r["rows_read"]),
            int(r["rows_kept"]),
            int(r["rows_quarantined"]),
        )
        for r in truth.iter_rows(named=True)
    }
    g = {
        (int(r["year"]), r["unit_code"], r["sheet"]): (
            r["rows_read"],
            r["rows_kept"],
            r["rows_quarantined"],
        )
        for r in got.iter_rows(named=True)
    }
    assert g == t
    assert all(r[0] == r[1] + r[2] for r in g.values())


def test_quarantine_matches_truth(s_run, wh):
    truth = pl.read_csv(s_run["landing"] / "truth" / "quarantine.csv", infer_schema_length=0)
    got = wh.read(tables.quarantine).filter(pl.col("unit_code").is_not_null())
    key = lambda r: (int(r["year"]), r["unit_code"], r["sheet"], int(r["row_number"]))  # noqa: E731
    assert truth.height > 0
    assert {key(r) for r in got.iter_rows(named=True)} == {
        key(r) for r in truth.iter_rows(named=True)
    }
    # every quarantine row names its column(s) and a reason
    assert got.filter(pl.col("reason").is_null() | pl.col("column").is_null()).height == 0


def test_findings_precision_and_recall_per_rule(s_run, wh):
    truth = pl.read_csv(s_run["landing"] / "truth" / "findings.csv", infer_schema_length=0)
    truth = truth.filter(pl.col("kind") == "fire")
    got = wh.read(tables.findings)
    t = {subject_key(r) for r in truth.iter_rows(named=True)}
    g = {subject_key(r) for r in got.iter_rows(named=True)}
    rules = {k[2] for k in t}
    assert len(rules) == 30, sorted(rules)
    report = {}
    for rc in sorted(rules | {k[2] for k in g}):
        tt = {k for k in t if k[2] == rc}
        gg = {k for k in g if k[2] == rc}
        report[rc] = (len(tt & gg) / len(gg) if gg else 0.0, len(tt & gg) / len(tt) if tt else 0.0)
    assert all(p == 1.0 and r == 1.0 for p, r in report.values()), {
        rc: pr for rc, pr in report.items() if pr != (1.0, 1.0)
    }


def test_findings_rows_are_complete_and_masked(wh):
    got = wh.read(tables.findings)
    assert got["finding_id"].n_unique() == got.height
    assert got.filter(pl.col("detail").is_null() | pl.col("basis").is_null()).height == 0
    # detail never carries a whole ID number
    whole_id = r"(^|[^0-9])[0-9]{17}[0-9X]([^0-9]|$)"
    assert got.filter(pl.col("detail").str.contains(whole_id)).height == 0
    # source rows point into the input for every subject-level finding
    subject = got.filter(pl.col("payment_no").is_not_null() | pl.col("archive_no").is_not_null())
    assert subject.filter(pl.col("source_row").is_null()).height == 0
    settings = wh.read(tables.run_settings)
    assert set(got["settings_hash"].unique()) <= set(settings["settings_hash"].unique())


def test_metrics_row_per_unit_and_year(s_run, wh):
    units = pl.read_csv(s_run["landing"] / "reference" / "units.csv", infer_schema_length=0)
    metrics = wh.read(tables.unit_year_metrics)
    assert metrics.height == units.height * 3
    assert set(METRICS_SCHEMA) <= set(metrics.columns)
    for col in ("missed_rate", "wrong_exit_rate", "wrong_entry_rate", "recognition_rate"):
        vals = metrics[col].drop_nulls().cast(pl.Float64)
        assert ((vals >= 0) & (vals <= 1)).all()
    # roll-up: the province's paid_total is the sum of every unit's own payments
    lake_pay = pl.read_parquet(s_run["data"] / "lake" / "payments" / "**" / "*.parquet")
    prov = metrics.filter(pl.col("level") == "省").sort("year")
    own = lake_pay.group_by("year").agg(pl.col("amount").sum()).sort("year")
    assert [round(float(x), 2) for x in prov["paid_total"]] == [round(x, 2) for x in own["amount"]]


def test_workbooks_and_reports_written(s_run):
    data = s_run["data"]
    books = sorted((data / "workbooks").glob("*/*.xlsx"))
    reports = sorted((data / "reports").glob("*/*.docx"))
    assert len(books) == len(reports) == 33


@pytest.fixture
def copy_wh(s_run_copy):
    w = Warehouse(default_url(s_run_copy["data"]))
    yield w
    w.dispose()


def test_one_county_rerun_touches_only_that_county(s_run_copy, copy_wh):
    """In a copy of the S run's data folder (DAGSTER_HOME the copy's): the session's run stays
    as the other tests read it."""
    import dagster as dg

    from pipelines.runner import run_pipeline

    s_run, wh = s_run_copy, copy_wh
    units = pl.read_csv(s_run["landing"] / "reference" / "units.csv", infer_schema_length=0)
    county = units.filter(pl.col("级别") == "县")["单位代码"][0]
    before = wh.read(tables.findings).sort("finding_id")
    lake_file = (
        s_run["data"] / "lake" / "payments" / "year=2019" / f"unit={county}" / "data.parquet"
    )
    other = next(
        p
        for p in (s_run["data"] / "lake" / "payments" / "year=2019").glob("unit=*/data.parquet")
        if county not in str(p)
    )
    other_mtime = other.stat().st_mtime_ns
    lake_bytes = lake_file.read_bytes()
    metrics_before = wh.read(tables.unit_year_metrics)

    summary = run_pipeline(s_run["landing"], s_run["data"], years=[2019], units=[county])
    assert summary.ok and len(summary.runs) == 3
    # the year stage recomputed only this county's own metrics, and the roll-ups are unchanged
    year_run = dg.DagsterInstance.get().get_run_by_id(summary.runs[1])
    assert year_run.job_name == "year_stage_job"
    assert year_run.run_config["ops"]["unit_year_metrics"]["config"]["only_units"] == [county]
    assert wh.read(tables.unit_year_metrics).equals(metrics_before)

    instance = dg.DagsterInstance.get()
    for run_id in summary.runs:
        for rec in instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records:
            mat = rec.event_log_entry.asset_materialization
            if isinstance(mat.partition, str) and "|" in mat.partition:
                assert mat.partition == f"{county}|2019", mat.partition
            else:  # year-wide assets: cross-unit findings and roll-ups
                assert mat.partition == "2019"
    # other units untouched, this unit rewritten byte-equal; findings exactly one copy each
    assert other.stat().st_mtime_ns == other_mtime
    assert lake_file.read_bytes() == lake_bytes
    after = wh.read(tables.findings).sort("finding_id")
    assert after["finding_id"].to_list() == before["finding_id"].to_list()


def test_per_partition_metadata_matches_warehouse(s_run, wh, monkeypatch):
    """Each (year, unit) partition's unit_findings materialisation carries that partition's own
    findings count (added once per ranged run, not one range listing per partition)."""
    import dagster as dg

    monkeypatch.setenv("DAGSTER_HOME", str(s_run["home"]))
    instance = dg.DagsterInstance.get()
    try:
        per_unit = (
            wh.read(tables.findings, stage="unit")
            .group_by("year", "unit_code")
            .len()
            .sort("year", "unit_code")
        )
        assert per_unit.height > 5
        for r in per_unit.iter_rows(named=True):
            key = f"{r['unit_code']}|{r['year']}"
            recs = instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey("unit_findings"), asset_partitions=[key]
                ),
                limit=1,
            ).records
            assert recs, key
            assert recs[0].asset_materialization.metadata["findings"].value == r["len"], key
    finally:
        instance.dispose()


def test_pipeline_writes_quality_report_matching_truth(s_run):
    """After the S run each year's report lists exactly the generator's quarantined rows."""
    truth = pl.read_csv(s_run["landing"] / "truth" / "quarantine.csv", infer_schema_length=0)
    for year in (2017, 2018, 2019):
        path = s_run["data"] / "quality" / f"{year}.xlsx"
        ws = load_workbook(path, read_only=True)["隔离明细"]
        rows = [r + (None,) * 8 for r in ws.iter_rows(min_row=2, values_only=True)]
        got = {(r[0], r[3], int(r[4])) for r in rows if r[4] is not None}
        want = {
            (r["unit_code"], r["sheet"], int(r["row_number"]))
            for r in truth.filter(pl.col("year") == str(year)).iter_rows(named=True)
        }
        assert got == want, (year, sorted(got ^ want)[:5])
