"""The model half of ``bangfu generate``: clean canonical frames, planted anomalies, truth."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from bangfu.frames import sheet_schema
from bangfu.generate import build_scenario
from bangfu.generate.anomalies import PLANTERS
from bangfu.generate.model import gb11643_ok
from bangfu.generate.plant_payments import invalid_id
from bangfu.sheets import LEDGER_SHEETS, SHEETS_BY_KEY

RULE_CODES = {
    "PAY_UNARCHIVED",
    "PAY_OUTSIDE_ARCHIVE_PERIOD",
    "PAY_OVER_STANDARD",
    "PAY_DUPLICATE",
    "PAY_CASH",
    "PAY_SHARED_ACCOUNT",
    "PAY_STAFF_RELATED",
    "MED_NON_INSURANCE_RECEIPT",
    "MED_RECEIPT_WRONG_YEAR",
    "MED_OVER_SELF_PAY",
    "PAY_UNLISTED_PROJECT",
    "ID_INVALID",
    "ARCHIVE_INCOME_OVER_LINE",
    "ARCHIVE_PROCEDURE_INCOMPLETE",
    "ARCHIVE_PUBLICITY_SHORT",
    "ECON_CHECK_INCOMPLETE",
    "ECON_CHECK_MISMATCH",
    "EXIT_PROCEDURE_INCOMPLETE",
    "EXIT_CAUSE_NOT_ELIMINATED",
    "EXIT_NO_NOTICE",
    "DUPLICATE_ARCHIVE",
    "MISSED_CANDIDATE",
    "SPEND_OUT_OF_SCOPE",
    "LEDGER_MISMATCH",
    "PAY_FLAT_AMOUNT",
    "TARGET_NOT_MET",
    "NO_PLAN",
    "ALLOCATION_NOT_FACTOR",
    "NO_PERFORMANCE_EVALUATION",
    "EVAL_RATE_ALERT",
}
YEARS = (2017, 2018, 2019)


@pytest.fixture(scope="module")
def s0():
    return build_scenario("S", seed=0, years=YEARS)


def test_registry_covers_every_rule():
    assert set(PLANTERS) == RULE_CODES


def test_reproducible(s0):
    again = build_scenario("S", seed=0, years=YEARS)
    assert sorted(again.ledgers) == sorted(s0.ledgers)
    for key, sheets in s0.ledgers.items():
        assert sorted(again.ledgers[key]) == sorted(sheets)
        for k, df in sheets.items():
            assert_frame_equal(again.ledgers[key][k], df)
    assert_frame_equal(again.planted, s0.planted)
    assert_frame_equal(again.units, s0.units)
    assert_frame_equal(again.standards, s0.standards)
    for y in YEARS:
        assert_frame_equal(again.civil_roster[y], s0.civil_roster[y])
    assert again.dropped_optional_sheets == s0.dropped_optional_sheets


def test_other_seed_differs(s0):
    other = build_scenario("S", seed=1, years=YEARS)
    assert not other.planted.equals(s0.planted)


def test_schemas_are_canonical(s0):
    for (year, unit), sheets in s0.ledgers.items():
        for spec in LEDGER_SHEETS:
            if spec.required:
                assert spec.key in sheets, (year, unit, spec.key)
        for key, df in sheets.items():
            assert df.schema == pl.Schema(sheet_schema(SHEETS_BY_KEY[key], with_meta=False)), key
    for key, df in (("units", s0.units), ("standards", s0.standards)):
        assert df.schema == pl.Schema(sheet_schema(SHEETS_BY_KEY[key], with_meta=False))
    for df in s0.civil_roster.values():
        assert df.schema == pl.Schema(sheet_schema(SHEETS_BY_KEY["civil_roster"], with_meta=False))


def test_units_tree_and_names(s0):
    u = s0.units
    assert u["level"].value_counts().sort("level").rows() == [("县", 8), ("市", 2), ("省", 1)]
    assert "浙江省总工会" in u["unit_name"].to_list()
    assert "杭州市总工会" in u["unit_name"].to_list()
    codes = set(u["unit_code"])
    assert all(p is None or p in codes for p in u["parent_code"])
    assert set(u["unit_code"]) == {c for (_, c) in s0.ledgers}


def test_every_rule_planted_in_every_year(s0):
    fires = s0.planted.filter(pl.col("kind") == "fire")
    for y in YEARS:
        got = set(fires.filter(pl.col("year") == y)["rule_code"])
        assert got == RULE_CODES, RULE_CODES - got
    assert set(s0.planted["kind"]) == {"fire", "near_miss"}
    assert s0.planted.filter(pl.col("kind") == "near_miss")["rule_code"].n_unique() >= 20


def test_truth_keys_by_rule_kind(s0):
    p = s0.planted.filter(pl.col("kind") == "fire")
    pay = p.filter(
        pl.col("rule_code").str.starts_with("PAY_") | pl.col("rule_code").str.starts_with("MED_")
    ).filter(pl.col("rule_code") != "PAY_FLAT_AMOUNT")
    assert pay["payment_no"].null_count() == 0 and pay["id_number"].null_count() == 0
    led = p.filter(pl.col("rule_code").is_in(["SPEND_OUT_OF_SCOPE", "LEDGER_MISMATCH"]))
    assert led["voucher_no"].null_count() == 0
    flat = p.filter(pl.col("rule_code") == "PAY_FLAT_AMOUNT")
    assert set(flat["category"]) == {"生活救助"}
    assert p.filter(pl.col("rule_code") == "MISSED_CANDIDATE")["id_number"].null_count() == 0
    assert p.select(pl.struct(pl.all()).is_duplicated().any()).item() is False


def test_planted_subjects_exist(s0):
    p = s0.planted
    for r in p.filter(pl.col("payment_no").is_not_null()).iter_rows(named=True):
        pay = s0.ledgers[(r["year"], r["unit_code"])]["payments"]
        hit = pay.filter(pl.col("payment_no") == r["payment_no"])
        assert hit.height == 1 and hit["id_number"][0] == r["id_number"]
    for r in p.filter(pl.col("archive_no").is_not_null()).iter_rows(named=True):
        arch = s0.ledgers[(r["year"], r["unit_code"])]["archive"]
        hit = arch.filter(pl.col("archive_no") == r["archive_no"])
        assert hit.height == 1 and hit["id_number"][0] == r["id_number"]


def test_ids_valid_except_planted_invalid(s0):
    bad = set(
        s0.planted.filter((pl.col("rule_code") == "ID_INVALID") & (pl.col("kind") == "fire"))[
            "id_number"
        ]
    )
    seen_bad = set()
    for (year, _), sheets in s0.ledgers.items():
        for key in ("archive", "payments"):
            for i in sheets[key]["id_number"].unique():
                if not gb11643_ok(i, year):
                    seen_bad.add(i)
        for i in sheets.get("staff", pl.DataFrame({"id_number": []}))["id_number"]:
            assert gb11643_ok(i, year)
    assert seen_bad == bad
    for y, df in s0.civil_roster.items():
        assert all(gb11643_ok(i, y) for i in df["id_number"])


def test_ids_unique_per_household(s0):
    """Across the country one ID is one person: outside DUPLICATE_ARCHIVE plants, no ID is
    archived in two units."""
    dup = set(s0.planted.filter(pl.col("rule_code") == "DUPLICATE_ARCHIVE")["id_number"])
    for y in YEARS:
        a = pl.concat(
            [
                sh["archive"].select("id_number").unique().with_columns(u=pl.lit(u))
                for (yy, u), sh in s0.ledgers.items()
                if yy == y
            ]
        )
        multi = set(a.filter(pl.len().over("id_number") > 1)["id_number"])
        assert multi <= dup


def test_households_persist_across_years(s0):
    unit = next(u for (y, u) in s0.ledgers if y == 2017 and len(u) == 6 and u[4:] != "00")
    a17 = s0.ledgers[(2017, unit)]["archive"]
    a18 = s0.ledgers[(2018, unit)]["archive"]
    still = a17.filter(pl.col("status") == "在档")["archive_no"]
    assert still.is_in(a18["archive_no"].implode()).mean() > 0.95


def test_invalid_id_helper():
    import numpy as np

    good = "11010519491231002X"
    assert gb11643_ok(good, 2019)
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert not gb11643_ok(invalid_id(good, rng), 2019)


def test_metrics_are_exercised(s0):
    arch = pl.concat([sh["archive"] for sh in s0.ledgers.values()])
    assert arch["relieved_on"].is_not_null().any()
    paths = set(arch.filter(pl.col("exit_reason") == "脱困")["exit_path"])
    assert paths == {"就业创业", "社会保险", "医疗保障", "社会救助兜底"}
    assert set(arch["exit_reason"].drop_nulls()) == {"脱困", "不符合条件", "死亡", "其他"}
    ev = pl.concat([sh["evaluation"] for sh in s0.ledgers.values() if "evaluation" in sh])
    assert set(ev["verdict"]) == {"符合", "错评", "错退", "漏评"}
    assert set(ev["satisfaction"].drop_nulls()) == {"满意", "基本满意", "不满意"}
    assert ev["satisfaction"].null_count() > 0
    tg = [sh["targets"] for (y, _), sh in s0.ledgers.items() if "targets" in sh]
    assert all(
        set(t["target_year"]) == {y, y + 1}
        for (y, _), t in zip(
            [k for k, sh in s0.ledgers.items() if "targets" in sh], tg, strict=True
        )
    )
    fu = pl.concat([sh["followup"] for sh in s0.ledgers.values() if "followup" in sh])
    assert fu.height > 0
    cats = set(pl.concat([sh["payments"] for sh in s0.ledgers.values()])["category"])
    assert {
        "生活救助",
        "助学救助",
        "医疗救助",
        "职业培训",
        "职业介绍",
        "法律援助",
        "送温暖",
    } <= cats


def test_dropped_optional_sheets(s0):
    assert s0.dropped_optional_sheets
    for year, unit, key in s0.dropped_optional_sheets:
        assert not SHEETS_BY_KEY[key].required
        assert key not in s0.ledgers[(year, unit)]


def test_ledger_matches_payments_outside_plants(s0):
    """Every payment's voucher debits equal the payment, except planted LEDGER_MISMATCH."""
    planted = s0.planted.filter(pl.col("rule_code") == "LEDGER_MISMATCH")
    for (year, unit), sh in s0.ledgers.items():
        deb = sh["ledger"].group_by("voucher_no").agg(pl.col("debit").sum())
        j = (
            sh["payments"]
            .join(deb, on="voucher_no", how="left")
            .filter((pl.col("debit").fill_null(0) - pl.col("amount")).abs() > 0.001)
        )
        mine = set(
            planted.filter((pl.col("year") == year) & (pl.col("unit_code") == unit))["voucher_no"]
        )
        assert set(j["voucher_no"]) <= mine


def test_clean_archive_dates_and_status(s0):
    for (year, _), sh in s0.ledgers.items():
        a = sh["archive"]
        assert (a["archived_on"] <= dt.date(year, 12, 31)).all()
        gone = a.filter(pl.col("status") == "已退档")
        assert gone["exited_on"].is_not_null().all()
        assert (gone["exited_on"].dt.year() == year).all()
        assert a.filter(pl.col("exit_reason") == "脱困")["exit_path"].is_not_null().all()


@pytest.mark.slow
def test_scale_m_builds():
    sc = build_scenario("M", seed=0)
    assert 80 <= sc.units.height <= 120
    n = sum(sh["payments"].height for (y, _), sh in sc.ledgers.items() if y == 2018)
    assert n > 150_000


def _landing_files(root) -> dict[str, object]:
    """Every file of a landing folder by relative path: bytes, an xlsx as its zip members
    (without docProps/core.xml, which carries the time of writing), the manifest as JSON."""
    import json
    import zipfile

    out: dict[str, object] = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(root).as_posix()
        if p.suffix == ".xlsx":
            with zipfile.ZipFile(p) as zf:
                out[rel] = {n: zf.read(n) for n in zf.namelist() if n != "docProps/core.xml"}
        elif p.name == "manifest.json":
            m = json.loads(p.read_text(encoding="utf-8"))
            m["dropped_optional_sheets"] = sorted(m["dropped_optional_sheets"] or [])
            out[rel] = m
        else:
            out[rel] = p.read_bytes()
    return out


@pytest.mark.slow
def test_generate_streams_years_with_the_same_files(tmp_path):
    """generate() writes one year at a time (scale L must not hold the country's three years);
    the folder is the one the whole scenario gives, file for file."""
    from bangfu.generate.landing import generate
    from bangfu.generate.writer import write_landing

    years = (2018, 2019)
    streamed, whole = tmp_path / "streamed", tmp_path / "whole"
    info = generate(streamed, scale="S", seed=2, years=years, csv_share=0.5)
    scen = build_scenario("S", seed=2, years=years)
    write_landing(scen, whole, 2, csv_share=0.5)
    a, b = _landing_files(streamed), _landing_files(whole)
    assert info["ledgers"] == len(scen.ledgers) == 22
    assert info["planted_findings"] == scen.planted.height
    assert sorted(a) == sorted(b)
    assert any(k.startswith("reference/civil_roster/") for k in a)
    assert any(k.endswith(".xlsx") for k in a) and any(k.startswith("ledgers/2019/") for k in a)
    differ = [k for k in a if a[k] != b[k]]
    assert differ == []
