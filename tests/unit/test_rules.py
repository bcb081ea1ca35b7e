"""Rules of docs/RULES.md: each finding fires on a hand-built case and not on its near miss; metrics
against hand-computed values; one unit alone = the same unit run with many; DuckDB oracle."""

from __future__ import annotations

import polars as pl
import pytest

from bangfu.frames import FINDINGS_SCHEMA, METRICS_SCHEMA
from bangfu.rules import (
    RULES,
    cross_unit_findings,
    own_metrics,
    rollup,
    rollup_findings,
    unit_context,
    unit_findings,
)
from bangfu.rules.common import id_valid
from bangfu.rules.registry import ORDER
from bangfu.settings import DEFAULT_SEVERITIES, AuditSettings
from bangfu.sheets import ARCHIVE_STEPS, ECON_ITEMS, EXIT_STEPS
from tests.support.rules_fixtures import (
    C1,
    C2,
    C3,
    CITY,
    CITY2,
    PROV,
    STANDARDS,
    UNITS,
    YEAR,
    arch,
    frame,
    make_id,
    pay,
    roster_frame,
    synth,
)

I = {n: make_id(n) for n in range(1, 40)}  # noqa: E741 - valid ID numbers
BANG = "维权支出—困难职工帮扶费"


def run(
    rule: str | None = None,
    unit: str = C1,
    roster=None,
    settings=None,
    sheets_present=None,
    standards=STANDARDS,
    **sheets,
) -> pl.DataFrame:
    frames = {}
    for k, rows in sheets.items():
        frames[k] = (
            pl.concat([frame(k, [r], r.get("unit_code", unit)) for r in rows])
            if rows
            else frame(k, [])
        )
        frames[k] = frames[k].with_columns(
            (pl.int_range(pl.len()).over("unit_code") + 3).alias("source_row")
        )
    f = unit_findings(
        frames, UNITS, standards, roster, YEAR, settings, sheets_present=sheets_present
    )
    assert dict(f.schema) == FINDINGS_SCHEMA
    return f.filter(pl.col("rule_code") == rule) if rule else f


def subj(f: pl.DataFrame, key: str = "payment_no") -> list:
    return sorted(f.get_column(key).to_list())


def amounts(f: pl.DataFrame, key: str = "payment_no") -> dict:
    return dict(zip(f.get_column(key).to_list(), f.get_column("amount").to_list(), strict=True))


# ---------------------------------------------------------------- settings & registry
def test_registry_has_every_rule_once():
    assert set(RULES) == set(DEFAULT_SEVERITIES) == set(ORDER)
    assert len(RULES) == 30 == len(ORDER)
    assert [r.code for r in sorted(RULES.values(), key=lambda r: r.order)] == list(ORDER)
    for r in RULES.values():
        assert (
            r.basis
            and r.title
            and r.kind in ("payment", "archive", "ledger", "unit", "cross", "rollup")
        )


def test_settings_hash_rows_overrides():
    s = AuditSettings()
    assert s.duplicate_window_days == 15 and s.relative_line_factor == 1.5
    assert s.publicity_min_days == 5 and s.flat_share == 0.9 and s.recognition_rate_min == 0.9
    assert s.hash() == AuditSettings().hash() and len(s.hash()) == 64
    t = s.overrides(duplicate_window_days=10, severities={"PAY_CASH": "中"})
    assert (
        t.hash() != s.hash()
        and t.severity("PAY_CASH") == "中"
        and t.severity("PAY_UNARCHIVED") == "高"
    )
    assert (
        AuditSettings.from_mapping(
            {"duplicate_window_days": "10", "severities": {"PAY_CASH": "中"}}
        )
        == t
    )
    rows = dict(s.rows([2018, 2019]))
    assert rows["cap.2019.living_months"] == "12" and rows["cap.2018.education_months"] == "10"
    assert rows["severity.PAY_CASH"] == "低"
    c = s.overrides(cap_months_by_year={2018: {"living": 6}})
    assert c.cap_months(2018, "living") == 6 and c.cap_months(2019, "living") == 12
    with pytest.raises(ValueError):
        s.overrides(no_such_setting=1)
    with pytest.raises(ValueError):
        s.overrides(severities={"PAY_CASH": "x"})


def test_unit_context_walks_parent_chain_within_year():
    ctx = unit_context(UNITS, STANDARDS, [YEAR, YEAR - 1])
    got = {(r["unit_code"], r["year"]): r["dibao_monthly"] for r in ctx.iter_rows(named=True)}
    assert got[(C1, YEAR)] == 700.0  # city's row
    assert got[(C3, YEAR)] == 600.0  # C3's own row is for YEAR-1 only → province
    assert got[(C3, YEAR - 1)] == 999.0
    assert got[(C1, YEAR - 1)] == 550.0
    anc = dict(zip(ctx["unit_code"], ctx["ancestors"].to_list(), strict=True))
    assert anc[C1] == [CITY, PROV] and anc[PROV] == []


def test_id_valid_gb11643():
    x_id = next(make_id(n) for n in range(1000) if make_id(n).endswith("X"))
    cases = {
        I[1]: True,
        x_id: True,
        x_id.lower(): False,  # rules see normalised IDs; raw lower-case is not valid text
        I[1][:-1] + ("0" if I[1][-1] != "0" else "1"): False,  # check char
        I[1][:17]: False,  # 17 chars
        make_id(5, born="20190230"): False,  # no such date
        make_id(5, born="20200101"): False,  # after the ledger year
        make_id(5, born="20191231"): True,
        make_id(5, born="18991231"): False,
        make_id(5, born="19000101"): True,
        "52010219800101001Ｘ": False,
    }
    df = pl.DataFrame({"id_number": list(cases)})
    got = df.select(id_valid(YEAR)).to_series().to_list()
    assert got == list(cases.values())


# ---------------------------------------------------------------- payments
def test_pay_unarchived():
    f = run(
        "PAY_UNARCHIVED",
        archive=[arch("A1", I[1]), arch("B1", I[2], unit_code=C2)],
        payments=[
            pay("P1", I[1], 100.0),
            pay("P2", I[2], 200.0, fund="工会经费"),  # archived only in another unit → fires
            pay("P3", I[2], 300.0, fund="送温暖资金"),  # warmth may reach people outside
            pay("P4", I[3], 400.0, fund="地方财政"),
        ],
    )
    assert subj(f) == ["P2", "P4"] and amounts(f) == {"P2": 200.0, "P4": 400.0}
    row = f.row(0, named=True)
    assert (
        row["unit_code"] == C1 and row["source_row"] == 4 and row["source_sheet"] == "救助发放明细"
    )
    assert I[2] not in row["detail"] and I[2][:6] + "********" + I[2][-4:] in row["detail"]
    assert row["severity"] == "高" and "第三条" in row["basis"]


def test_amounts_are_the_nearest_cent_however_many_rows():
    """polars divides a column of cents by 100 through the reciprocal when it has several rows
    (119687 / 100 → 1196.8700000000001) but exactly for one: findings round to the cent, so a
    unit's amounts do not depend on what else was computed with it (chunked stages)."""
    alone = run("PAY_UNARCHIVED", payments=[pay("P1", I[3], 1196.87)])
    many = run(
        "PAY_UNARCHIVED",
        payments=[pay("P1", I[3], 1196.87), *[pay(f"Q{i}", I[4], 1721.67) for i in range(5)]],
    )
    assert amounts(alone)["P1"] == amounts(many)["P1"] == 1196.87
    assert all(a == 1721.67 for k, a in amounts(many).items() if k != "P1")


def test_pay_outside_archive_period():
    f = run(
        "PAY_OUTSIDE_ARCHIVE_PERIOD",
        archive=[
            arch("A1", I[1], archived_on="2019-03-01", exited_on="2019-06-30", status="已退档"),
            arch("A2", I[1], archived_on="2019-09-01"),
            # status says 已退档 but no exit date: the dates decide, the record is open
            arch("A3", I[2], archived_on="2019-01-01", status="已退档"),
        ],
        payments=[
            pay("P1", I[1], 10.0, "2019-03-01"),  # on archiving day: covered
            pay("P2", I[1], 10.0, "2019-06-30"),  # on exit day: covered
            pay("P3", I[1], 10.0, "2019-02-28"),  # before
            pay("P4", I[1], 10.0, "2019-07-01"),  # after exit, before re-entry
            pay("P5", I[1], 10.0, "2019-07-01", fund="送温暖资金"),
            pay("P6", I[1], 10.0, "2019-10-01"),
            pay("P7", I[2], 10.0, "2019-12-01"),
            pay("P8", I[9], 10.0, "2019-12-01"),  # not archived at all: PAY_UNARCHIVED's
        ],
    )
    assert subj(f) == ["P3", "P4"]


def test_pay_over_standard_running_total_and_caps():
    f = run(
        "PAY_OVER_STANDARD",
        archive=[
            arch("A1", I[1]),
            arch("A2", I[2], hardship_type="相对困难"),
            arch("A3", I[4], archived_on="2017-01-01"),  # older record: 深度困难
            arch("A4", I[4], archived_on="2018-06-01", hardship_type="相对困难"),  # most recent
            arch("A5", I[5], archived_on="2018-06-01", hardship_type="相对困难"),
            arch(
                "10", I[5], archived_on="2018-06-01", hardship_type="深度困难"
            ),  # same day, 10 > A5? no: numeric wins
        ],
        unit_standards=[
            dict(category="生活救助", hardship_type="深度困难", annual_cap=6000.0),
            dict(category="生活救助", hardship_type="相对困难", annual_cap=1000.0),
        ],
        payments=[
            # I1 深度: cap min(6000, 12 × 700) = 6000; in date order a, b, d, c; any fund counts
            pay("P01", I[1], 3000.0, "2019-03-01"),
            pay("P02", I[1], 3000.0, "2019-04-01", fund="送温暖资金"),  # cum 6000 = cap: no
            pay("P03", I[1], 500.0, "2019-06-01"),  # cum 6600 → 500
            pay("P04", I[1], 100.0, "2019-05-01"),  # cum 6100 → 100
            # I2 相对: 生活 cap min(1000, 8400) = 1000; 助学 cap 10 × 700 = 7000, no standard
            pay("P05", I[2], 800.0),
            pay("P06", I[2], 300.0, "2019-03-02"),  # cum 1100 → 100
            pay("P07", I[2], 7000.0, category="助学救助"),  # = 7000: no
            pay("P08", I[2], 7000.01, "2019-04-01", category="助学救助"),  # cum 14000.01 → 7000.01
            pay("P09", I[2], 99999.0, category="医疗救助"),  # no cap exists: untested
            pay("P10", I[3], 99999.0),  # not archived: untested
            pay("P11", I[4], 1500.0),  # most recent record 相对 → cap 1000 → 500
            pay(
                "P12", I[5], 1500.0
            ),  # A5 vs '10' same day: non-numeric A5 < numeric 10 → 深度 6000
        ],
    )
    assert amounts(f) == {"P03": 500.0, "P04": 100.0, "P06": 100.0, "P08": 7000.01, "P11": 500.0}
    assert "6000.00" in f.filter(pl.col("payment_no") == "P03")["detail"][0]


def test_pay_over_standard_no_dibao_no_standard_is_untested():
    std = STANDARDS.filter(pl.col("year") != YEAR)
    f = run(
        "PAY_OVER_STANDARD",
        standards=std,
        archive=[arch("A1", I[1])],
        payments=[pay("P1", I[1], 99999.0)],
    )
    assert f.height == 0


def test_pay_duplicate_window():
    f = run(
        "PAY_DUPLICATE",
        archive=[arch("A1", I[1])],
        payments=[
            pay("P1", I[1], 500.0, "2019-03-01"),
            pay("P2", I[1], 500.0, "2019-03-16"),  # 15 days: fires
            pay("P3", I[1], 500.0, "2019-04-01"),  # 16 days after P2: no
            pay("P4", I[1], 500.0, "2019-04-01", category="助学救助"),  # other category
            pay("P5", I[1], 500.0, "2019-04-01"),  # same day as P3, later payment_no: fires
            pay("P6", I[1], 500.01, "2019-04-02"),  # another amount
            pay("P7", I[1], 500.0, "2019-04-10", fund="送温暖资金"),  # any fund: fires
            pay("P8", I[2], 500.0, "2019-04-10"),  # another person
        ],
    )
    assert subj(f) == ["P2", "P5", "P7"] and amounts(f)["P2"] == 500.0


def test_pay_cash():
    f = run(
        "PAY_CASH",
        archive=[arch("A1", I[1])],
        payments=[
            pay("P1", I[1], 1.0, method="现金"),
            pay("P2", I[1], 2.0, method="现金", fund="送温暖资金"),
            pay("P3", I[1], 3.0),
        ],
    )
    assert subj(f) == ["P1"]


def test_pay_shared_account():
    f = run(
        "PAY_SHARED_ACCOUNT",
        archive=[arch("A1", I[1])],
        payments=[
            pay("P1", I[1], 1.0, account_no="6222001"),
            pay("P2", I[2], 1.0, account_no="6222001", fund="送温暖资金"),
            pay("P3", I[3], 1.0, account_no="6222002"),
            pay("P4", I[3], 1.0, account_no="6222002"),
            pay("P5", I[4], 1.0),
            pay("P6", I[5], 1.0),  # both without account: empty never matches
            pay("Q1", I[6], 1.0, account_no="6222002", unit_code=C2),  # other unit
        ],
    )
    assert subj(f) == ["P1", "P2"]


def test_pay_staff_related():
    f = run(
        "PAY_STAFF_RELATED",
        staff=[
            dict(name="李四", id_number=I[9], phone="13800000000", address="幸福路 1号"),
            dict(name="王五", id_number=I[8]),
        ],
        archive=[
            arch("A1", I[1], phone="138-0000-0000"),
            arch("A2", I[2], address="幸福路1号"),
            arch("A3", I[3], phone="13900000000"),
            arch("A4", I[4]),  # no phone, no address: never matches 王五's empty ones
        ],
        payments=[
            pay("P1", I[9], 1.0, fund="送温暖资金"),
            pay("P2", I[1], 1.0),
            pay("P3", I[2], 1.0),
            pay("P4", I[3], 1.0),
            pay("P5", I[4], 1.0),
        ],
    )
    assert subj(f) == ["P1", "P2", "P3"]
    assert "李四" in f.filter(pl.col("payment_no") == "P2")["detail"][0]


def test_med_rules():
    m = dict(category="医疗救助")
    sheets = dict(
        archive=[arch("A1", I[1])],
        payments=[
            pay(
                "P1",
                I[1],
                1000.01,
                receipt_type="非医保票据",
                receipt_year=2018,
                med_self_pay=1000.0,
                **m,
            ),
            pay(
                "P2",
                I[1],
                1000.0,
                receipt_type="医保票据",
                receipt_year=YEAR,
                med_self_pay=1000.0,
                **m,
            ),
            pay("P3", I[1], 5000.0, **m),  # nothing to test against
            pay(
                "P4", I[1], 2000.0, receipt_type="非医保票据", receipt_year=2018, med_self_pay=10.0
            ),
        ],
    )
    assert subj(run("MED_NON_INSURANCE_RECEIPT", **sheets)) == ["P1"]
    assert subj(run("MED_RECEIPT_WRONG_YEAR", **sheets)) == ["P1"]
    f = run("MED_OVER_SELF_PAY", **sheets)
    assert amounts(f) == {"P1": 1000.01}


def test_pay_unlisted_project():
    f = run(
        "PAY_UNLISTED_PROJECT",
        archive=[arch("A1", I[1])],
        payments=[
            pay("P1", I[1], 1.0, category="慰问金", fund="工会经费"),
            pay("P2", I[1], 1.0, category="送温暖", fund="中央财政专项帮扶资金"),
            pay("P3", I[1], 1.0, category="送温暖", fund="送温暖资金"),
            pay("P4", I[1], 1.0, category="法律援助"),
            pay("P5", I[1], 1.0, category="慰问金", fund="送温暖资金"),
        ],
    )
    assert subj(f) == ["P1", "P2"]


def test_id_invalid_on_payments_and_archive():
    bad = I[1][:-1] + ("0" if I[1][-1] != "0" else "1")
    f = run(
        "ID_INVALID",
        archive=[arch("A1", bad), arch("A2", I[2])],
        payments=[
            pay("P1", bad, 5.0),
            pay("P2", I[2], 5.0),
            pay("P3", make_id(3, born="20200101"), 5.0),
        ],
    )
    assert sorted(zip(f["payment_no"], f["archive_no"], strict=True), key=str) == sorted(
        [("P1", None), ("P3", None), (None, "A1")], key=str
    )
    assert f["finding_id"].n_unique() == 3
    assert f.filter(pl.col("archive_no") == "A1")["source_sheet"][0] == "困难职工档案"
    assert f.filter(pl.col("archive_no") == "A1")["amount"][0] is None


# ---------------------------------------------------------------- archive records
def test_archive_income_over_line_boundaries():
    # C1 dibao 700; household of 3: deep line 25,200 元/年, relative line 37,800 元/年
    recs = [
        arch("A1", I[1], archived_on="2019-02-01", household_income=25200.0),
        arch("A2", I[2], archived_on="2019-02-01", household_income=25199.99),
        arch(
            "A3", I[3], archived_on="2019-02-01", hardship_type="相对困难", household_income=37800.0
        ),
        arch(
            "A4",
            I[4],
            archived_on="2019-02-01",
            hardship_type="相对困难",
            household_income=37799.99,
        ),
        arch("A5", I[5], archived_on="2019-02-01", hardship_type="意外致困", household_income=1e6),
        arch(
            "A6", I[6], archived_on="2018-12-31", household_income=99999.0
        ),  # not archived in year
    ]
    f = run("ARCHIVE_INCOME_OVER_LINE", archive=recs)
    assert subj(f, "archive_no") == ["A1", "A3"]
    assert f["amount"].null_count() == 2 and f["payment_no"].null_count() == 2
    # no dibao for the year → no data, never fires
    assert (
        run(
            "ARCHIVE_INCOME_OVER_LINE",
            archive=recs,
            standards=STANDARDS.filter(pl.col("year") != YEAR),
        ).height
        == 0
    )


def _steps(archive_no: str, steps, procedure="建档", done="2019-02-01", **over):
    return [
        {
            "archive_no": archive_no,
            "procedure": procedure,
            "step": s,
            "done_on": done,
            "evidence": "有",
            **over.get(s, {}),
        }
        for s in steps
    ]


def test_archive_procedure_incomplete():
    on = dict(archived_on="2019-03-01")
    f = run(
        "ARCHIVE_PROCEDURE_INCOMPLETE",
        archive=[
            arch("A1", I[1], **on),
            arch("A2", I[2], **on),
            arch("A3", I[3], **on),
            arch("A4", I[4], **on),
            arch("A5", I[5], **on),
            arch("A6", I[6], archived_on="2018-03-01"),  # archived before the year
            arch("A7", I[7], **on),
        ],
        procedures=_steps("A1", ARCHIVE_STEPS)
        + _steps("A2", [s for s in ARCHIVE_STEPS if s != "公示"])
        + _steps("A3", ARCHIVE_STEPS, 审批={"done_on": None})
        + _steps("A4", ARCHIVE_STEPS, 入户调查={"evidence": "无"})
        + _steps("A5", ARCHIVE_STEPS, 建档={"done_on": "2019-03-02"})
        + _steps("A7", list(reversed(ARCHIVE_STEPS)), done="2019-03-01")  # order not tested
        + _steps("A7", ["公示"], procedure="退档", 公示={"evidence": "无"}),
    )
    assert subj(f, "archive_no") == ["A2", "A3", "A4", "A5"]
    d = dict(zip(f["archive_no"], f["detail"], strict=True))
    assert (
        "公示" in d["A2"]
        and "审批" in d["A3"]
        and "入户调查" in d["A4"]
        and "建档（2019年3月2日）" in d["A5"]
    )
    # a unit without the procedures sheet reports nothing for its records; unless it is known
    # to hold the (empty) sheet
    other = dict(
        archive=[arch("B1", I[8], unit_code=C2, **on)], procedures=_steps("A1", ARCHIVE_STEPS)
    )
    assert run("ARCHIVE_PROCEDURE_INCOMPLETE", **other).height == 0
    g = run("ARCHIVE_PROCEDURE_INCOMPLETE", sheets_present={"procedures": [C1, C2]}, **other)
    assert subj(g, "archive_no") == ["B1"]


def test_archive_publicity_short():
    f = run(
        "ARCHIVE_PUBLICITY_SHORT",
        archive=[
            arch(a, I[n], archived_on="2019-03-01")
            for n, a in enumerate(["A1", "A2", "A3", "A4"], 1)
        ]
        + [arch("A5", I[5], archived_on="2018-03-01")],
        procedures=[
            dict(archive_no="A1", procedure="建档", step="公示", publicity_days=4),
            dict(archive_no="A2", procedure="建档", step="公示", publicity_days=5),
            dict(archive_no="A3", procedure="建档", step="公示"),
            dict(archive_no="A4", procedure="退档", step="公示", publicity_days=3),
            dict(archive_no="A5", procedure="建档", step="公示", publicity_days=1),
        ],
    )
    assert subj(f, "archive_no") == ["A1"]


def test_econ_checks():
    def items(a, **over):
        return [
            {
                "archive_no": a,
                "item": i,
                "provided": "是",
                "match_result": "相符",
                **over.get(i, {}),
            }
            for i in ECON_ITEMS
        ]

    sheets = dict(
        archive=[arch(f"A{n}", I[n], archived_on="2019-03-01") for n in range(1, 7)]
        + [arch("A7", I[7], archived_on="2018-03-01")],
        econ_checks=items("A1")
        + [r for r in items("A2") if r["item"] != "房产"]
        + items("A3", 银行存款={"provided": "否"})
        + items("A4", 债权={"match_result": "未比对"})
        + items("A5", 债权={"match_result": None})
        + items("A6", 家庭收入={"match_result": "不符"})
        + items("A7", 家庭收入={"match_result": "不符"}),
    )
    assert subj(run("ECON_CHECK_INCOMPLETE", **sheets), "archive_no") == ["A2", "A3", "A4"]
    assert subj(run("ECON_CHECK_MISMATCH", **sheets), "archive_no") == ["A6"]


def test_exit_procedure_incomplete():
    ex = dict(status="已退档", exit_reason="死亡")
    f = run(
        "EXIT_PROCEDURE_INCOMPLETE",
        archive=[
            arch("A1", I[1], exited_on="2019-05-01", **ex),
            arch("A2", I[2], exited_on="2019-05-01", **ex),
            arch("A3", I[3], exited_on="2018-05-01", **ex),
            arch("A4", I[4], exited_on="2019-06-01"),  # status 在档, but the dates decide
            arch("A5", I[5], exited_on="2019-12-31", **ex),
            arch("A6", I[6]),  # never left
        ],
        procedures=_steps("A1", EXIT_STEPS, procedure="退档")
        + _steps("A2", EXIT_STEPS[:-1], procedure="退档")
        + _steps("A5", EXIT_STEPS, procedure="退档", 公示={"evidence": "无"})
        + _steps("A6", ARCHIVE_STEPS),
    )
    assert subj(f, "archive_no") == ["A2", "A4", "A5"]
    assert "书面通知" in f.filter(pl.col("archive_no") == "A2")["detail"][0]


def test_exit_cause_not_eliminated():
    # dibao 700, household of 2 → 16,800 元/年
    t = dict(
        status="已退档",
        exit_reason="脱困",
        exit_path="就业创业",
        household_size=2,
        exited_on="2019-05-01",
    )
    roster = roster_frame(
        [
            dict(id_number=I[4], roster_type="低保", region_code=C1),
            dict(id_number=I[5], roster_type="低收入", region_code=C1),
        ]
    )
    recs = [
        arch("A1", I[1], income_at_exit=16800.0, **t),
        arch("A2", I[2], income_at_exit=16800.01, **t),
        arch("A3", I[3], income_at_exit=100.0, **{**t, "exit_reason": "其他"}),
        arch("A4", I[4], income_at_exit=50000.0, **t),
        arch("A5", I[5], income_at_exit=50000.0, **t),
        arch("A6", I[6], income_at_exit=100.0, **{**t, "exited_on": "2018-05-01"}),
    ]
    f = run("EXIT_CAUSE_NOT_ELIMINATED", roster=roster, archive=recs)
    assert subj(f, "archive_no") == ["A1", "A4"]
    assert "低保" in f.filter(pl.col("archive_no") == "A4")["detail"][0]
    assert subj(run("EXIT_CAUSE_NOT_ELIMINATED", archive=recs), "archive_no") == ["A1"]


def test_exit_no_notice_points_at_archive_row():
    f = run(
        "EXIT_NO_NOTICE",
        archive=[arch("A1", I[1]), arch("A2", I[2])],
        followup=[
            dict(archive_no="A2", got_notice="否", survey_mode="电话"),
            dict(archive_no="A1", got_notice="是"),
        ],
    )
    assert subj(f, "archive_no") == ["A2"]
    r = f.row(0, named=True)
    assert r["source_sheet"] == "困难职工档案" and r["source_row"] == 4 and r["id_number"] == I[2]


# ---------------------------------------------------------------- cross-unit
def test_duplicate_archive_half_open_periods():
    a = pl.concat(
        [
            frame("archive", [arch("R1", I[1], archived_on="2018-01-01")], unit=C1),
            frame("archive", [arch("R2", I[1], archived_on="2019-06-01")], unit=C2),
            # leave and re-enter the same day: no overlap
            frame(
                "archive",
                [
                    arch(
                        "S1",
                        I[2],
                        archived_on="2017-01-01",
                        exited_on="2019-05-01",
                        status="已退档",
                    ),
                    arch("S2", I[2], archived_on="2019-05-01"),
                ],
                unit=C1,
            ),
            # one day of overlap across units
            frame(
                "archive",
                [
                    arch(
                        "T1",
                        I[3],
                        archived_on="2017-01-01",
                        exited_on="2019-05-02",
                        status="已退档",
                    )
                ],
                unit=C1,
            ),
            frame("archive", [arch("T2", I[3], archived_on="2019-05-01")], unit=C3),
            # overlap only before the year
            frame(
                "archive",
                [
                    arch(
                        "U1",
                        I[4],
                        archived_on="2017-01-01",
                        exited_on="2019-01-01",
                        status="已退档",
                    ),
                    arch(
                        "U2",
                        I[4],
                        archived_on="2018-06-01",
                        exited_on="2018-12-31",
                        status="已退档",
                    ),
                ],
                unit=C1,
            ),
            # three records: each fires once
            frame(
                "archive",
                [
                    arch("V1", I[5], archived_on="2019-01-01"),
                    arch("V2", I[5], archived_on="2019-02-01"),
                ],
                unit=C1,
            ),
            frame("archive", [arch("V3", I[5], archived_on="2019-03-01")], unit=C2),
        ]
    )
    f = cross_unit_findings(a, UNITS, None, YEAR)
    got = sorted(zip(f["unit_code"], f["archive_no"], strict=True))
    assert got == [
        (C1, "R1"),
        (C1, "T1"),
        (C1, "V1"),
        (C1, "V2"),
        (C2, "R2"),
        (C2, "V3"),
        (C3, "T2"),
    ]
    assert f["finding_id"].n_unique() == f.height and set(f["rule_code"]) == {"DUPLICATE_ARCHIVE"}


def test_missed_candidate():
    a = pl.concat(
        [
            frame("archive", [arch("A1", I[1])], unit=C1),
            frame("archive", [arch("B1", I[14], exited_on="2019-01-05", status="已退档")], unit=C2),
        ]
    )
    roster = roster_frame(
        [
            dict(id_number=I[10], name="甲", roster_type="低保", employer="某公司", region_code=C1),
            dict(id_number=I[11], roster_type="特困", employer="无业", region_code=C1),
            dict(id_number=I[12], roster_type="低保", employer=None, region_code=C1),
            dict(id_number=I[13], roster_type="低收入", employer="某公司", region_code=C1),
            dict(
                id_number=I[14], roster_type="低保", employer="某公司", region_code=C1
            ),  # in C2's archive
            dict(
                id_number=I[15], roster_type="特困", employer="某厂", region_code="520105"
            ),  # → city
            dict(
                id_number=I[16], roster_type="低保", employer="某厂", region_code="520301"
            ),  # → province
            dict(id_number=I[17], roster_type="低保", employer="待业", region_code=C1),
            dict(id_number=I[18], roster_type="低保", employer="无", region_code=C1),
            dict(
                id_number=I[1], roster_type="低保", employer="某厂", region_code=C3
            ),  # archived in C1
        ]
    )
    f = cross_unit_findings(a, UNITS, roster, YEAR)
    f = f.filter(pl.col("rule_code") == "MISSED_CANDIDATE")
    got = sorted(zip(f["unit_code"], f["id_number"], strict=True))
    assert got == sorted([(C1, I[10]), (CITY, I[15]), (PROV, I[16])])
    assert f.filter(pl.col("id_number") == I[10])["source_row"][0] == 2
    assert f["source_file"][0].startswith("reference/civil_roster")
    assert (
        cross_unit_findings(a, UNITS, None, YEAR)
        .filter(pl.col("rule_code") == "MISSED_CANDIDATE")
        .height
        == 0
    )


# ---------------------------------------------------------------- ledger
def test_spend_out_of_scope():
    f = run(
        "SPEND_OUT_OF_SCOPE",
        ledger=[
            dict(voucher_no="V1", account_name="银行存款", memo="付款", debit=0.0, credit=5000.0),
            dict(
                voucher_no="V1",
                account_name=BANG,
                memo="支付帮扶中心人员工资",
                debit=3000.0,
                credit=0.0,
            ),
            dict(voucher_no="V1", account_name=BANG, memo="购买手机", debit=2000.0, credit=0.0),
            dict(
                voucher_no="V2", account_name="管理费用", memo="发放工资", debit=100.0, credit=0.0
            ),
            dict(
                voucher_no="V3",
                account_name="补助下级支出—帮扶补助",
                memo="发放生活救助",
                debit=9.0,
                credit=0.0,
            ),
            dict(voucher_no="V4", account_name=BANG, memo="车辆维修退款", debit=0.0, credit=300.0),
            dict(
                voucher_no="V5",
                account_name="补助下级支出—帮扶补助",
                memo="会议费",
                debit=50.0,
                credit=0.0,
            ),
        ],
    )
    assert amounts(f, "voucher_no") == {"V1": 5000.0, "V5": 50.0}
    assert f.filter(pl.col("voucher_no") == "V1")["source_row"][0] == 3  # the voucher's first line
    assert f.filter(pl.col("voucher_no") == "V1")["source_sheet"][0] == "会计明细账"


def test_ledger_mismatch():
    f = run(
        "LEDGER_MISMATCH",
        archive=[arch("A1", I[1])],
        payments=[
            pay("P1", I[1], 500.0, voucher_no="V1"),
            pay("P2", I[1], 300.0, voucher_no="V1"),
            pay("P3", I[1], 100.0, voucher_no="V2"),
            pay("P4", I[1], 50.0, voucher_no="V3"),
            pay("P5", I[1], 100.0, voucher_no="V4"),
            pay("P6", I[1], 70.0),  # no voucher: not tested
        ],
        ledger=[
            dict(
                voucher_no="V1", account_name=BANG, memo="救助", debit=800.01, credit=0.0
            ),  # 0.01: ok
            dict(voucher_no="V2", account_name=BANG, memo="救助", debit=99.98, credit=0.0),  # 0.02
            dict(voucher_no="V4", account_name=BANG, memo="救助", debit=60.0, credit=0.0),
            dict(voucher_no="V4", account_name=BANG, memo="救助", debit=40.0, credit=0.0),
            dict(voucher_no="V4", account_name="银行存款", memo="付", debit=None, credit=100.0),
        ],
    )
    assert amounts(f, "voucher_no") == {"V2": 0.02, "V3": 50.0}
    assert f.filter(pl.col("voucher_no") == "V3")["source_sheet"][0] == "救助发放明细"


# ---------------------------------------------------------------- unit rules
def _flat(amounts_by_hh: list[list[float]], types=("深度困难", "相对困难")):
    archive = [
        arch(f"A{n}", I[n], hardship_type=types[n % len(types)])
        for n in range(1, len(amounts_by_hh) + 1)
    ]
    payments = [
        pay(f"P{n}-{k}", I[n], a, f"2019-0{k % 9 + 1}-01")
        for n, amts in enumerate(amounts_by_hh, 1)
        for k, a in enumerate(amts)
    ]
    return run("PAY_FLAT_AMOUNT", archive=archive, payments=payments)


def test_pay_flat_amount():
    f = _flat([[500.0]] * 10 + [[600.0]])  # 10/11 ≥ 90 %, 10 households, 2 types
    assert f.height == 1 and f["category"][0] == "生活救助" and f["amount"][0] == 5600.0
    assert f["source_row"][0] is None and f["payment_no"][0] is None
    assert (
        _flat([[500.0, 500.0]] * 8 + [[500.0], [500.0, 600.0, 600.0]]).height == 1
    )  # 18/20 = 90 %
    assert _flat([[500.0, 500.0]] * 7 + [[500.0]] * 3 + [[600.0, 600.0]]).height == 0  # 17/19
    assert _flat([[500.0]] * 10 + [[600.0], [600.0]]).height == 0  # 10/12
    assert _flat([[500.0]] * 9 + [[600.0]]).height == 0  # 9 households only
    assert _flat([[500.0]] * 12, types=("深度困难",)).height == 0  # one hardship type


def test_no_plan_allocation_evaluation():
    f = run(
        targets=[
            dict(target_year=YEAR, target_relieved=1, target_exited=1, has_plan="无"),
            dict(
                target_year=YEAR + 1,
                target_relieved=1,
                target_exited=1,
                has_plan="无",
                unit_code=C2,
            ),
            dict(target_year=YEAR, target_relieved=1, target_exited=1, unit_code=C3),
        ],
        budget=[
            dict(fund="中央财政专项帮扶资金", allocation_method="因素法", has_evaluation="无"),
            dict(fund="工会经费", allocation_method="平均分配", has_evaluation="无"),
            dict(fund="地方财政", allocation_method="其他"),
            dict(fund="工会经费", allocation_method="因素法", has_evaluation="有", unit_code=C2),
            dict(fund="工会经费", unit_code=C3),
        ],
    )
    for code in ("NO_PLAN", "ALLOCATION_NOT_FACTOR", "NO_PERFORMANCE_EVALUATION"):
        g = f.filter(pl.col("rule_code") == code)
        assert g["unit_code"].to_list() == [C1], code
        assert g["source_row"][0] is None


# ---------------------------------------------------------------- metrics
def _metrics_frames():
    ex = dict(status="已退档", exit_reason="脱困")
    archive = pl.concat(
        [
            frame(
                "archive",
                [
                    arch("A1", I[1], archived_on="2018-05-01"),  # start, end
                    arch("A1b", I[1], archived_on="2019-02-01"),  # same household: counted once
                    arch(
                        "A2",
                        I[2],
                        archived_on="2017-01-01",
                        exited_on="2019-01-01",
                        exit_path="就业创业",
                        **ex,
                    ),
                    arch("A3", I[3], archived_on="2019-12-31"),  # new, end
                    arch(
                        "A4",
                        I[4],
                        archived_on="2018-01-01",
                        exited_on="2019-12-31",
                        exit_path="社会救助兜底",
                        **ex,
                    ),
                    arch("A5", I[5], archived_on="2016-01-01", relieved_on="2019-06-01"),
                    arch(
                        "A6",
                        I[6],
                        archived_on="2016-01-01",
                        exited_on="2018-12-31",
                        exit_path="就业创业",
                        **ex,
                    ),
                    arch(
                        "A7",
                        I[7],
                        archived_on="2016-01-01",
                        exited_on="2019-03-01",
                        status="已退档",
                        exit_reason="死亡",
                    ),
                ],
                unit=C1,
            ),
            frame(
                "archive",
                [arch("B1", I[8], archived_on="2019-03-01", relieved_on="2019-09-01")],
                unit=C2,
            ),
            frame("archive", [arch("K1", I[9], archived_on="2015-03-01")], unit=CITY),
        ]
    )
    payments = pl.concat(
        [
            frame(
                "payments",
                [
                    pay("P1", I[1], 100.10),
                    pay("P2", I[1], 200.20),
                    pay("P3", I[3], 300.0),
                    pay("P4", I[1], 50.0, category="职业介绍"),
                    pay("P5", I[2], 60.0, category="职业培训"),
                    pay("P6", I[9], 70.0, category="送温暖", fund="送温暖资金"),
                    pay("P7", I[9], 80.0, category="慰问金"),
                ],
                unit=C1,
            ),
            frame("payments", [pay("Q1", I[8], 1000.0)], unit=C2),
        ]
    )
    evaluation = pl.concat(
        [
            frame(
                "evaluation",
                [dict(sample_type="非建档户", verdict="漏评", satisfaction="满意")]
                + [dict(sample_type="非建档户", verdict="符合", satisfaction="不满意")] * 9
                + [dict(sample_type="退档户", verdict="错退", satisfaction="基本满意")]
                + [dict(sample_type="在档户", verdict="错评")],
                unit=C1,
            ),
            frame(
                "evaluation",
                [dict(sample_type="非建档户", verdict="符合", satisfaction="满意")] * 90,
                unit=C2,
            ),
        ]
    )
    targets = pl.concat(
        [
            frame("targets", [dict(target_year=YEAR, target_relieved=1, target_exited=5)], unit=C1),
            frame(
                "targets",
                [
                    dict(target_year=YEAR, target_relieved=2, target_exited=2),
                    dict(target_year=YEAR + 1, target_relieved=99, target_exited=99),
                ],
                unit=CITY,
            ),
        ]
    )
    return {"archive": archive, "payments": payments, "evaluation": evaluation, "targets": targets}


def test_own_metrics_hand_computed():
    frames = _metrics_frames()
    roster = roster_frame([dict(id_number=I[2], roster_type="特困", region_code=C1)])
    missed = pl.DataFrame(
        {
            "unit_code": [C1, C1, C2],
            "id_number": ["x", "x", "y"],
            "rule_code": ["MISSED_CANDIDATE"] * 3,
        }
    )
    own = own_metrics(frames, UNITS, roster, YEAR, missed, present_units=[C1, C2, CITY])
    r = {row["unit_code"]: row for row in own.iter_rows(named=True)}
    c1 = r[C1]
    assert (c1["archived_at_start"], c1["archived_at_end"], c1["newly_archived"]) == (5, 3, 2)
    assert (c1["relieved"], c1["exited_out_of_hardship"]) == (1, 2)
    assert (c1["exited_by_path_employment"], c1["exited_by_path_social_assistance"]) == (1, 1)
    assert (c1["roster_missed"], c1["roster_wrong_exit"]) == (1, 1)
    assert c1["paid_total"] == pytest.approx(860.30) and c1["paid_living"] == pytest.approx(600.30)
    assert c1["paid_training"] == 110.0 and c1["paid_warmth"] == 70.0 and c1["paid_legal"] == 0.0
    assert c1["per_household_living"] == pytest.approx(300.15)  # 600.30 / 2 households
    assert (c1["missed_num"], c1["missed_den"], c1["missed_rate"]) == (1, 10, 0.1)
    assert c1["wrong_exit_rate"] == 1.0 and c1["wrong_entry_rate"] == 1.0
    assert c1["recognition_rate"] == pytest.approx(2 / 11)
    assert (c1["target_relieved"], c1["target_exited"]) == (1, 5)
    assert r[CITY]["paid_total"] == 0.0 and r[CITY]["missed_rate"] is None
    no_roster = own_metrics(frames, UNITS, None, YEAR, None)
    assert no_roster["roster_missed"].null_count() == no_roster.height


def test_rollup_subtree_pooled_rates_targets_complete():
    frames = _metrics_frames()
    own = own_metrics(frames, UNITS, None, YEAR, None, present_units=[C1, C2, CITY])
    fnd = pl.DataFrame({"unit_code": [C1, C1, C2, CITY, C3]})
    m = rollup(own, UNITS, YEAR, [C1, C2, CITY], fnd)
    assert list(m.columns[: len(METRICS_SCHEMA)]) == list(METRICS_SCHEMA)
    assert m.height == UNITS.height
    r = {row["unit_code"]: row for row in m.iter_rows(named=True)}
    city, prov = r[CITY], r[PROV]
    assert city["archived_at_end"] == 3 + 1 + 1 and city["newly_archived"] == 2 + 1
    assert city["relieved"] == 2 and city["paid_total"] == pytest.approx(1860.30)
    assert city["missed_rate"] == pytest.approx(1 / 100)  # pooled (1 + 0) / (10 + 90), not mean
    assert (city["target_relieved"], city["target_exited"]) == (2, 2)  # own, not summed
    assert city["complete"] is True and city["findings_total"] == 4
    assert prov["complete"] is False and prov["findings_total"] == 5
    assert prov["archived_at_end"] == city["archived_at_end"] and prov["target_relieved"] is None
    assert r[CITY2]["archived_at_end"] is None and r[CITY2]["complete"] is False
    assert r[C1]["level"] == "县" and r[C1]["missed_rate"] == 0.1


def test_rollup_findings():
    frames = _metrics_frames()
    own = own_metrics(frames, UNITS, None, YEAR, None, present_units=[C1, C2, CITY])
    m = rollup(own, UNITS, YEAR, [C1, C2, CITY])
    f = rollup_findings(m)
    assert dict(f.schema) == FINDINGS_SCHEMA
    t = f.filter(pl.col("rule_code") == "TARGET_NOT_MET")
    # C1: relieved 1 ≥ 1 but exited 2 < 5; CITY: relieved 2 ≥ 2, exited 2 ≥ 2
    assert t["unit_code"].to_list() == [C1]
    e = f.filter(pl.col("rule_code") == "EVAL_RATE_ALERT")
    # C1: 漏评 10 % > 2 %; CITY pooled 1 % ≤ 2 % but 错退 1/1 and 认可度 92/101 ≥ 90 %
    assert sorted(e["unit_code"].to_list()) == sorted([C1, CITY, PROV])
    near = m.with_columns(
        pl.lit(0.02).alias("missed_rate"),
        pl.lit(0.02).alias("wrong_exit_rate"),
        pl.lit(0.9).alias("recognition_rate"),
    )
    assert rollup_findings(near).filter(pl.col("rule_code") == "EVAL_RATE_ALERT").height == 0


# ---------------------------------------------------------------- properties
@pytest.fixture(scope="module")
def world():
    return synth(n_payments=4000, n_archive=800, seed=11)


def test_one_unit_equals_its_rows_when_run_with_many(world):
    frames, units, std, roster = (
        world["frames"],
        world["units"],
        world["standards"],
        world["roster"],
    )
    many = unit_findings(frames, units, std, roster, YEAR)
    assert many["rule_code"].n_unique() >= 15
    assert many["finding_id"].n_unique() == many.height
    for unit in many["unit_code"].unique().sort().to_list()[:6]:
        alone = unit_findings(
            {k: v.filter(pl.col("unit_code") == unit) for k, v in frames.items()},
            units,
            std,
            roster,
            YEAR,
        )
        assert alone.equals(many.filter(pl.col("unit_code") == unit)), unit


def test_findings_stable_across_runs(world):
    a = unit_findings(world["frames"], world["units"], world["standards"], world["roster"], YEAR)
    b = unit_findings(world["frames"], world["units"], world["standards"], world["roster"], YEAR)
    assert a.equals(b)
    assert (a["detail"].str.contains(r"[0-9]{17}[0-9X]")).sum() == 0  # no whole ID in details


def test_duckdb_peer_agrees(world):
    from bench.duckdb_peer import DuckPeer

    frames, units, std, roster = (
        world["frames"],
        world["units"],
        world["standards"],
        world["roster"],
    )
    peer = DuckPeer({**frames, "units": units, "standards": std})
    f = unit_findings(frames, units, std, roster, YEAR)
    cf = cross_unit_findings(frames["archive"], units, roster, YEAR)

    def ours(code, key):
        g = pl.concat([f, cf]).filter(pl.col("rule_code") == code)
        return g.select("unit_code", key, "amount").sort("unit_code", key)

    for code, theirs, key in [
        ("PAY_UNARCHIVED", peer.pay_unarchived(), "payment_no"),
        ("PAY_OUTSIDE_ARCHIVE_PERIOD", peer.pay_outside_archive_period(), "payment_no"),
        ("PAY_OVER_STANDARD", peer.pay_over_standard(YEAR), "payment_no"),
        ("PAY_DUPLICATE", peer.pay_duplicate(), "payment_no"),
        ("LEDGER_MISMATCH", peer.ledger_mismatch(), "voucher_no"),
    ]:
        mine = ours(code, key)
        assert mine.height > 0, code
        assert mine[key].to_list() == theirs[key].to_list(), code
        assert mine["amount"].round(2).to_list() == theirs["amount"].round(2).to_list(), code
    dup = ours("DUPLICATE_ARCHIVE", "archive_no").select("unit_code", "archive_no")
    assert dup.height > 0 and dup.equals(
        peer.duplicate_archive(YEAR).select("unit_code", "archive_no")
    )

    present = frames["archive"]["unit_code"].unique().to_list()[:-2]
    own = own_metrics(frames, units, None, YEAR, None)
    m = rollup(own, units, YEAR, present).sort("unit_code")
    d = peer.rollup(YEAR, present).sort("unit_code")
    assert m["unit_code"].to_list() == d["unit_code"].to_list()
    for c in [
        "archived_at_start",
        "archived_at_end",
        "newly_archived",
        "relieved",
        "exited_out_of_hardship",
        "exited_by_path_employment",
        "exited_by_path_social_assistance",
        "missed_num",
        "recognition_den",
        "complete",
    ]:
        assert m[c].to_list() == d[c].to_list(), c
    for c in [
        "paid_total",
        "paid_living",
        "paid_training",
        "paid_warmth",
        "missed_rate",
        "wrong_exit_rate",
        "recognition_rate",
    ]:
        a, b = m[c].to_list(), d[c].to_list()
        assert [x is None for x in a] == [x is None for x in b], c
        assert [round(x, 6) for x in a if x is not None] == [
            round(x, 6) for x in b if x is not None
        ], c


# ---------------------------------------------------------------- stages (bangfu.stages) over a lake
def _lake_world(folder, world):
    """The world written as a lake (one file per sheet and unit) and an empty SQLite warehouse."""
    from bangfu.lake import Lake
    from warehouse.store import Warehouse, default_url

    lake = Lake(folder / "lake")
    present: set[str] = set()
    for key, f in world["frames"].items():
        for (unit,), part in f.partition_by("unit_code", as_dict=True).items():
            lake.write(key, YEAR, unit, part)
            present.add(unit)
    for unit in present:
        status = {"year": [YEAR], "unit_code": [unit], "status": ["ok"]}
        lake.write("ingest_status", YEAR, unit, pl.DataFrame(status))
    lake.write_single("ref_units", world["units"])
    lake.write_single("ref_standards", world["standards"])
    roster = world["roster"].with_columns(pl.lit(YEAR, pl.Int64).alias("year"))
    lake.write_single("ref_civil_roster", roster)
    wh = Warehouse(default_url(folder))
    wh.create_all()
    return lake, wh, sorted(present)


def test_stages_in_chunks_equal_the_whole_year(tmp_path, world, monkeypatch):
    """Findings and metrics computed one unit per chunk equal those of the whole year at once,
    and the unit findings equal the rules run straight over the frames."""
    from bangfu.stages.findings import count_findings, run_cross_findings, run_unit_findings
    from bangfu.stages.metrics import run_metrics
    from bangfu.stages.reading import unit_chunks
    from warehouse import tables

    settings = AuditSettings()
    out = {}
    for mb in ("1000", "0"):  # 0 MB: every unit is a chunk of its own
        monkeypatch.setenv("BANGFU_CHUNK_MB", mb)
        lake, wh, present = _lake_world(tmp_path / mb, world)
        n_chunks = len(unit_chunks(lake, YEAR, present))
        assert n_chunks == (1 if mb == "1000" else len(present))
        keys = [(YEAR, u) for u in present]
        seen: list[str] = []
        summary = run_unit_findings(
            lake,
            wh,
            settings,
            keys,
            units=world["units"],
            on_unit=lambda y, u, f, seen=seen: seen.append(u),
        )
        assert sorted(seen) == present
        cross = run_cross_findings(lake, wh, settings, [YEAR], units=world["units"])
        (ym,) = run_metrics(lake, wh, settings, [YEAR], units=world["units"])
        stored = wh.read(tables.findings).drop("stage").sort("finding_id")
        assert count_findings(wh, stage="unit", years=[YEAR]) == summary.height
        assert count_findings(wh, stage="cross", years=[YEAR]) == cross.height
        out[mb] = (stored, ym.rolled.sort("unit_code"), summary.sort("finding_id"))
        wh.dispose()
    assert out["0"][0].equals(out["1000"][0])
    assert out["0"][1].equals(out["1000"][1])
    assert out["0"][2].equals(out["1000"][2])
    direct = unit_findings(
        world["frames"], world["units"], world["standards"], world["roster"], YEAR, settings
    )
    assert out["0"][2]["finding_id"].to_list() == direct["finding_id"].sort().to_list()
    assert out["0"][1]["findings_total"].max() == out["0"][0].height  # the province counts all


def test_metrics_of_changed_units_equal_the_whole_year(tmp_path, world):
    """`bangfu run --unit`: own figures recomputed for the changed unit only, the others' taken
    from the year's metrics_own, roster_missed recounted from the cross findings — the result
    equals recomputing every unit."""
    from sqlalchemy import delete

    from bangfu.stages.findings import run_cross_findings, run_unit_findings
    from bangfu.stages.metrics import run_metrics
    from warehouse import tables

    settings = AuditSettings()
    lake, wh, present = _lake_world(tmp_path, world)
    keys = [(YEAR, u) for u in present]
    run_unit_findings(lake, wh, settings, keys, units=world["units"])
    run_cross_findings(lake, wh, settings, [YEAR], units=world["units"])
    (before,) = run_metrics(lake, wh, settings, [YEAR], units=world["units"])
    assert lake.has("metrics_own", YEAR, "all")

    # the changed unit: half its payments and one archive record gone
    changed = next(u for u in present if lake.read("payments", [YEAR], [u]).height > 1)
    pay = lake.read("payments", [YEAR], [changed])
    lake.write("payments", YEAR, changed, pay.head(pay.height // 2))
    arch = lake.read("archive", [YEAR], [changed])
    lake.write("archive", YEAR, changed, arch.head(arch.height - 1))
    # and the cross-unit findings moved: another unit's MISSED_CANDIDATE findings are gone
    missed = wh.read(tables.findings).filter(pl.col("rule_code") == "MISSED_CANDIDATE")
    other = next(u for u in missed["unit_code"].unique().sort() if u != changed)
    f = tables.findings
    with wh.engine.begin() as conn:
        conn.execute(delete(f).where(f.c.rule_code == "MISSED_CANDIDATE", f.c.unit_code == other))

    (partial,) = run_metrics(lake, wh, settings, [YEAR], units=world["units"], only_units=[changed])
    (whole,) = run_metrics(lake, wh, settings, [YEAR], units=world["units"])
    assert partial.own.equals(whole.own)
    assert partial.rolled.equals(whole.rolled)
    assert not whole.rolled.equals(before.rolled)  # the change shows
    own_before = before.own.filter(pl.col("unit_code") == other)["roster_missed"].item()
    own_after = whole.own.filter(pl.col("unit_code") == other)["roster_missed"].item()
    assert own_before > 0 and own_after == 0
    wh.dispose()


def test_workbook_pool_names_the_failed_unit_and_writes_the_others(tmp_path, world):
    """A unit whose report cannot be written fails alone, named (personal data masked); the
    others' files are written (in a spawned worker pool as in the asset, and in-process)."""
    from bangfu.stages.outputs import OutputError, run_workbooks

    lake, wh, present = _lake_world(tmp_path, world)
    bad, good = present[0], present[1:3]
    blocker = I[1]  # named like an ID number: the error quoting the path must mask it
    (tmp_path / blocker).write_text("a file where a folder is wanted")

    def path(year, unit):
        folder = tmp_path / (blocker if unit == bad else "reports") / str(year)
        return folder / f"{unit}.docx"

    for workers in (2, 1):
        for p in (tmp_path / "reports").glob("*/*.docx"):
            p.unlink()
        written: list[str] = []
        with pytest.raises(OutputError) as err:
            run_workbooks(
                lake,
                wh,
                AuditSettings(),
                [(YEAR, u) for u in [bad, *good]],
                units=world["units"],
                paths={"report": path},
                workers=workers,
                on_unit=lambda y, u, res, written=written: written.append(u),
            )
        assert f"{YEAR} {bad}" in str(err.value)
        assert blocker not in str(err.value) and blocker[:6] + "********" in str(err.value)
        assert [f[1] for f in err.value.failures] == [bad]
        assert sorted(written) == good
        # the good units' reports and nothing else (atomic writes leave no temporary file)
        files = sorted(p.name for p in (tmp_path / "reports").rglob("*") if p.is_file())
        assert files == [f"{u}.docx" for u in good]
    wh.dispose()
