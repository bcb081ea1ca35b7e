"""Auditors' judgments (review.md) over a copy of the S run: the command line, the workbook round
trip, the inbox, and what the judgments change in the outputs (the values and the journal
alone: tests/unit/test_review_journal.py)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from bangfu.cli import main
from bangfu.review.returned import file_away, import_file, review_dirs
from bangfu.review.values import AUDIT
from tests.support import missing
from tests.support.reviewkit import (
    UNIT,
    YEAR,
    fill,
    findings,
    journal_rows,
    listing,
    report_text,
    sheet_rows,
    warehouse,
    workbook,
)


@pytest.fixture
def data(s_run_copy):
    """A private copy of the S run's data folder (DAGSTER_HOME the copy's)."""
    return s_run_copy["data"]


# ---------------------------------------------------------------- the command line
def test_cli_refuses_whole_commands_and_records_nothing(data, capsys):
    fids = [f["finding_id"] for f in findings(data)]
    d = ["--data", str(data), "--no-render"]
    cases = [
        ["review", "set", fids[0], "--status", "bogus", "--by", "张三"],  # value
        ["review", "set", fids[0], "nosuchfinding", "--status", "确认", "--by", "张三"],  # id
        ["review", "set", fids[0], "--status", "排除", "--by", "张三"],  # note
        ["review", "set", fids[0], "--status", "确认"],  # name
        ["review", "opinion", "--year", "2019", "--unit", UNIT, "--rule", "NOPE",
         "--evidence", "无异议", "--by", "张三"],  # no such 取证单
        ["review", "opinion", "--year", "2019", "--unit", UNIT, "--form", "四",
         "--audit", "1", "--by", "张三"],  # no such 底稿
        ["review", "opinion", "--year", "2019", "--unit", UNIT, "--form", "五",
         "--audit", "3", "--by", "张三"],  # 3 needs a note
    ]  # fmt: skip
    for argv in cases:
        assert main([*argv, *d]) == 1, argv
        err = capsys.readouterr().err
        assert "已拒绝" in err, (argv, err)
    out = capsys.readouterr()
    assert journal_rows(data) == []
    assert main(["review", "set", fids[0], "--by", "x", *d]) == 2  # --status missing: usage
    assert main(["review", "opinion", "--year", "2019", "--unit", UNIT, "--by", "x", *d]) == 2
    assert main(["review", "set", *fids[:2], "--status", "confirmed", "--by", "张三", *d]) == 0
    assert [r["value"] for r in journal_rows(data)] == ["确认", "确认"]
    assert main(["review", "list", "--status", "确认", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert fids[0] in out and fids[1] in out and "共 2 条" in out
    assert main(["review", "list", "--summary", "--data", str(data)]) == 0
    assert "待核实" in capsys.readouterr().out


def test_personal_data_in_notes_is_masked_when_printed(data, capsys):
    fid = findings(data)[0]["finding_id"]
    note = "核实人 330103199001011234，电话 13812345678"
    d = ["--data", str(data), "--no-render"]
    assert main(["review", "set", fid, "--status", "排除", "--note", note, "--by", "张三", *d]) == 0
    assert journal_rows(data)[0]["note"] == note  # whole in the warehouse
    assert main(["review", "history", fid, "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "330103********1234" in out and "138****5678" in out
    assert "330103199001011234" not in out and "13812345678" not in out


# ---------------------------------------------------------------- the workbook round trip
def test_filled_workbook_in_the_inbox_is_taken_by_the_next_run(data, s_run, tmp_path):
    from pipelines.runner import run_pipeline

    rows = findings(data)
    keep, drop, fixed = rows[0]["finding_id"], rows[1]["finding_id"], rows[2]["finding_id"]
    dropped = next(f for f in rows if f["finding_id"] == drop)
    listed = listing(workbook(data))
    qz = listed[keep]["取证单索引号"]
    filled = fill(
        workbook(data),
        review_dirs(data)["inbox"] / f"{UNIT}-返回.xlsx",
        verdicts={
            keep: ("确认", "", "张三"),
            drop: ("排除", "经核实属正常发放", "张三"),
            fixed: ("rectified", "已追回", "李四"),
        },
        evidence={qz: ("有异议", "单位称已补正", "王五")},
        audit={"DG-05": (1, "", "赵主审")},
    )
    lines: list[str] = []
    # a one-county run of ANOTHER county still takes the inbox and re-renders this unit
    summary = run_pipeline(
        s_run["landing"], data, years=[YEAR], units=["330182"], echo=lines.append
    )
    assert summary.ok, lines
    assert not filled.exists() and (review_dirs(data)["done"] / filled.name).exists()
    got = journal_rows(data)
    assert sorted((r["target_kind"], r["target_key"], r["value"]) for r in got) == sorted(
        [
            ("finding", keep, "确认"),
            ("finding", drop, "排除"),
            ("finding", fixed, "已整改"),
            ("evidence", listed[keep]["规则"].split()[0], "有异议"),
            ("workpaper", "五", AUDIT.values[0]),
        ]
    )
    assert all(r["source"].startswith(f"workbook:{filled.name}#") for r in got)
    _assert_outputs_show(data, keep, drop, fixed, dropped)
    # the same file again adds nothing; full and one-county re-runs change nothing
    again = fill(workbook(data), tmp_path / "again.xlsx")
    assert import_file(warehouse(data), again).recorded == []
    before = journal_rows(data)
    assert run_pipeline(s_run["landing"], data, echo=lines.append).ok
    assert run_pipeline(s_run["landing"], data, years=[YEAR], units=[UNIT], echo=lines.append).ok
    assert journal_rows(data) == before
    _assert_outputs_show(data, keep, drop, fixed, dropped)


def _assert_outputs_show(data, keep, drop, fixed, dropped):
    listed = listing(workbook(data))
    assert listed[keep]["复核结论"] == "确认" and listed[keep]["复核人"] == "张三"
    assert listed[drop]["复核结论"] == "排除" and listed[drop]["复核说明"] == "经核实属正常发放"
    assert listed[drop]["取证单索引号"] == "（已排除）"
    assert listed[fixed]["复核结论"] == "已整改"
    excluded = sheet_rows(workbook(data), "已排除发现")
    assert any(r[0] == drop and r[3] == "经核实属正常发放" for r in excluded)
    evidence = " ".join(str(v) for r in sheet_rows(workbook(data), "二 审计取证单") for v in r if v)
    assert drop not in evidence and keep in evidence and "有异议。说明：单位称已补正" in evidence
    papers = " ".join(str(v) for r in sheet_rows(workbook(data), "一 审计工作底稿") for v in r if v)
    assert "1 予以认可" in papers and "赵主审" in papers
    index = " ".join(str(v) for r in sheet_rows(workbook(data), "目录") for v in r if v)
    assert "确认 1 条，排除 1 条，已整改 1 条" in index
    report = report_text(data)
    assert "尚有" in report and "待核实" in report and "已追回" in report
    assert dropped["detail"] not in report
    above = " ".join(
        str(v) for r in sheet_rows(workbook(data, unit="330100"), "目录") for v in r if v
    )
    assert "下级单位复核进度" in above and "排除 1 条" in above


@pytest.mark.parametrize(
    "case",
    ["not_bangfu", "unknown_id", "bad_value", "no_note", "no_name", "bad_audit", "conflict"],
)
def test_every_refusal_refuses_the_whole_file(data, tmp_path, case):
    from openpyxl import Workbook

    rows = findings(data)
    ok_row = {rows[0]["finding_id"]: ("确认", "", "张三")}  # valid: must not be recorded either
    src, path = workbook(data), tmp_path / f"{case}.xlsx"
    expect = {
        "not_bangfu": "不是 bangfu 写出的",
        "unknown_id": "未知的 finding_id",
        "bad_value": "不是可接受的复核结论",
        "no_note": "必须填写说明",
        "no_name": "缺少复核人",
        "bad_audit": "不是可接受的审核意见",
        "conflict": "冲突",
    }[case]
    if case == "not_bangfu":
        wb = Workbook()
        wb.active.append(["finding_id", "复核结论"])
        wb.save(path)
    elif case == "unknown_id":
        fill(src, path, verdicts=ok_row)
        from openpyxl import load_workbook

        wb = load_workbook(path)
        ws = wb["审计发现明细"]
        ws.cell(3, 4).value = "ffffffffffffffffffff"
        ws.cell(3, 16).value = "确认"
        ws.cell(3, 18).value = "张三"
        wb.save(path)
    elif case == "bad_value":
        fill(src, path, verdicts={**ok_row, rows[1]["finding_id"]: ("作废", "", "张三")})
    elif case == "no_note":
        fill(src, path, verdicts={**ok_row, rows[1]["finding_id"]: ("排除", "", "张三")})
    elif case == "no_name":
        fill(src, path, verdicts={**ok_row, rows[1]["finding_id"]: ("确认", "", "")})
    elif case == "bad_audit":
        fill(src, path, verdicts=ok_row, audit={"DG-06": ("4", "", "赵")})
    else:  # conflict: recorded after the workbook was written
        d = ["--data", str(data), "--no-render"]
        fid = rows[1]["finding_id"]
        assert (
            main(["review", "set", fid, "--status", "排除", "--note", "重复", "--by", "李四", *d])
            == 0
        )
        fill(src, path, verdicts={**ok_row, fid: ("确认", "", "张三")})
    before = journal_rows(data)
    inbox = review_dirs(data)["inbox"]
    inbox.mkdir(parents=True)
    dropped = shutil.copy(path, inbox / path.name)
    outcome = import_file(warehouse(data), dropped)
    assert not outcome.ok and expect in outcome.reasons(), outcome.reasons()
    where = file_away(outcome, data, move=True)
    assert where.parent == review_dirs(data)["refused"] and not dropped.exists()
    reasons = where.with_suffix(".txt").read_text(encoding="utf-8")
    assert expect in reasons
    if case != "not_bangfu":
        assert "工作表「" in reasons and "行" in reasons and "列" in reasons
    assert journal_rows(data) == before
    # the command line: exit 1, nothing recorded
    assert main(["review", "import", str(path), "--data", str(data), "--no-render"]) == 1
    assert journal_rows(data) == before


def test_a_file_saved_by_libreoffice_round_trips(data, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        missing("LibreOffice (soffice) is not installed")
    rows = findings(data)
    fid = rows[3]["finding_id"]
    filled = fill(
        workbook(data), tmp_path / "filled" / f"{UNIT}.xlsx",
        verdicts={fid: ("排除", "与凭证核对无误", "张三")}, audit={"DG-08": ("2", "补充抽样", "赵主审")},
    )  # fmt: skip
    out = tmp_path / "lo"
    proc = subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path}/lo-profile", "--headless",
         "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out), str(filled)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    saved = out / filled.name
    assert saved.exists(), proc.stdout + proc.stderr
    outcome = import_file(warehouse(data), saved)
    assert outcome.ok, outcome.reasons()
    got = sorted((r["target_kind"], r["value"], r["note"]) for r in outcome.recorded)
    assert got == [
        ("finding", "排除", "与凭证核对无误"),
        ("workpaper", AUDIT.values[1], "补充抽样"),
    ]
    assert [r["source"].split("#")[0] for r in outcome.recorded] == [f"workbook:{UNIT}.xlsx"] * 2


# ---------------------------------------------------------------- concurrency and kills
def test_kill_during_an_import_loses_nothing_and_records_nothing_half(data, tmp_path):
    from tests.support.faultkit import finish, kill_group, start_child, wait_for

    rows = findings(data)
    d = ["--data", str(data), "--no-render"]
    assert main(["review", "set", rows[0]["finding_id"], "--status", "确认", "--by", "甲", *d]) == 0
    before = journal_rows(data)
    verdicts = {f["finding_id"]: ("确认", "", "张三") for f in rows[1:6]}
    filled = fill(workbook(data), tmp_path / "in" / f"{UNIT}.xlsx", verdicts=verdicts)
    flag = tmp_path / "paused.flag"
    cli = ["-m", "bangfu.cli", "review", "import", str(filled), *d]
    child = start_child(cli, data, pause=f"reviews:insert={flag}")
    wait_for(flag.exists, child)
    kill_group(child)
    assert journal_rows(data) == before  # the uncommitted rows are gone, the old ones kept
    assert not (review_dirs(data)["done"] / filled.name).exists()
    code, out = finish(start_child(cli, data))
    assert code == 0, out
    after = journal_rows(data)
    assert after[: len(before)] == before and len(after) == len(before) + 5


# ---------------------------------------------------------------- the graph
def test_a_judgment_rerenders_exactly_its_unit_and_those_above(data, capsys):
    import dagster as dg

    from assets.partitions import multi_key

    fid = findings(data)[0]["finding_id"]
    stamps = {p: p.stat().st_mtime_ns for p in (data / "workbooks").rglob("*.xlsx")}
    argv = ["review", "opinion", "--year", "2019", "--unit", UNIT, "--form", "七", "--audit", "2",
            "--note", "请补充 330103199001011234 的入户记录", "--by", "赵主审", "--data", str(data)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr()
    assert (
        main(["review", "set", fid, "--status", "确认", "--by", "张三", "--data", str(data)]) == 0
    )
    changed = sorted(p.stem for p, t in stamps.items() if p.stat().st_mtime_ns != t)
    assert changed == ["330000", "330100", UNIT], changed
    assert all(p.parent.name == str(YEAR) for p, t in stamps.items() if p.stat().st_mtime_ns != t)
    instance = dg.DagsterInstance.get()
    got = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey("reviews"), asset_partitions=[str(multi_key(YEAR, UNIT))]
        ),
        limit=1,
    ).records[0]
    meta = got.asset_materialization.metadata
    assert meta["复核结论_确认"].value == 1 and "下城区总工会" in meta["unit"].value
    opinions = meta["opinions"].value
    assert "330103********1234" in opinions and "330103199001011234" not in opinions
    assert "责成采取进一步审计措施" in opinions
    first_rule = findings(data)[0]["rule_code"]
    from bangfu.forms.rule_homes import rule_info

    assert f"{first_rule} {rule_info(first_rule).title}" in meta["by_rule"].value
    papers = " ".join(str(v) for r in sheet_rows(workbook(data), "一 审计工作底稿") for v in r if v)
    assert "2 责成采取进一步审计措施。说明：请补充" in papers


def test_a_verdict_outlives_its_finding_and_applies_again_when_it_returns(data, s_run, tmp_path):
    from pipelines.runner import run_pipeline

    landing = tmp_path / "landing"
    shutil.copytree(s_run["landing"], landing, symlinks=True)
    target = next(
        f for f in findings(data) if f["payment_no"] and (f["source_file"] or "").endswith(".csv")
    )
    fid, ledger = target["finding_id"], landing / target["source_file"]
    original = ledger.read_bytes()
    d = ["--data", str(data), "--no-render"]
    assert main(["review", "set", fid, "--status", "确认", "--note", "", "--by", "张三", *d]) == 0
    lines = original.split(b"\n")
    ledger.write_bytes(b"\n".join(x for x in lines if target["payment_no"].encode() not in x))
    log: list[str] = []
    assert run_pipeline(landing, data, years=[YEAR], units=[UNIT], echo=log.append).ok, log
    assert fid not in {f["finding_id"] for f in findings(data)}
    gone = listing(workbook(data))[fid]
    assert gone["取证单索引号"] == "已消除" and "本次数据不再出现" in gone["审计发现"]
    assert gone["复核结论"] == "确认"
    ledger.write_bytes(original)
    assert run_pipeline(landing, data, years=[YEAR], units=[UNIT], echo=log.append).ok, log
    back = listing(workbook(data))[fid]
    assert back["复核结论"] == "确认" and back["取证单索引号"].startswith("QZ-")
    assert [r["target_key"] for r in journal_rows(data)] == [fid]


def test_the_sensor_takes_the_inbox_and_requests_the_affected_outputs(data):
    import dagster as dg

    from pipelines.dagster_private import ASSET_PARTITION_RANGE_END_TAG as RANGE_END
    from pipelines.dagster_private import ASSET_PARTITION_RANGE_START_TAG as RANGE_START
    from tests.support.sensors import covered, tick

    rows = findings(data)
    filled = fill(
        workbook(data),
        review_dirs(data)["inbox"] / "返回.xlsx",
        verdicts={rows[0]["finding_id"]: ("确认", "", "张三")},
    )
    instance = dg.DagsterInstance.get()
    result = tick(instance, data / "landing-unused", None, data=data)
    reqs = [r for r in result.run_requests if r.job_name == "output_stage_job"]
    got = set().union(*(covered(instance, r) for r in reqs))
    assert {(YEAR, UNIT), (YEAR, "330100"), (YEAR, "330000")} <= got
    assert all(y == YEAR for y, _u in got)  # 2020 is not a year of the data
    overviews = [r for r in result.run_requests if r.job_name == "overview_job"]
    ranges = [(r.tags[RANGE_START], r.tags[RANGE_END]) for r in overviews]
    assert ranges == [(str(YEAR), str(YEAR))], ranges
    assert not filled.exists() and (review_dirs(data)["done"] / filled.name).exists()
    assert [r["value"] for r in journal_rows(data)] == ["确认"]


def test_last_years_confirmed_findings_are_followed_up_by_subject(data):
    last = findings(data, year=YEAR - 1)
    now = {f["subject_id"] for f in findings(data)}
    again = next(f for f in last if f["subject_id"] in now)
    fixed = next(f for f in last if f["subject_id"] not in now)
    assert (
        again["finding_id"]
        != next(f for f in findings(data) if f["subject_id"] == again["subject_id"])["finding_id"]
    )
    d = ["--data", str(data)]
    assert (
        main(
            [
                "review",
                "set",
                again["finding_id"],
                "--status",
                "确认",
                "--by",
                "张三",
                *d,
                "--no-render",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "review",
                "set",
                fixed["finding_id"],
                "--status",
                "已整改",
                "--note",
                "已退回",
                "--by",
                "张三",
                *d,
            ]
        )
        == 0
    )
    rows = sheet_rows(workbook(data), "上年度问题整改情况")
    status = {r[0]: r[4] for r in rows if r and r[0] in (again["finding_id"], fixed["finding_id"])}
    assert status == {again["finding_id"]: "仍存在", fixed["finding_id"]: "已整改"}
    assert "上年度问题整改情况" in report_text(data) and "仍存在" in report_text(data)


def test_a_judgment_rewrites_the_overviews_it_changes(data, capsys, tmp_path):
    """排除 leaves a finding out of the overview of its year, and of the next year's 同比: both
    overviews equal ones built afresh from the warehouse; the years before are left alone."""
    from bangfu import overview
    from bangfu.lake import Lake
    from bangfu.overview_workbook import write_overview_workbook
    from tests.support.incremental_kit import workbook_values

    year = YEAR - 1
    fid = max(findings(data, year=year), key=lambda f: f["amount"] or 0)["finding_id"]
    stamps = {p.name: p.stat().st_mtime_ns for p in (data / "overview").glob("*.xlsx")}
    before = workbook_values(data / "overview" / f"{year}.xlsx")
    argv = ["review", "set", fid, "--status", "排除", "--note", "凭证已补", "--by", "张三"]
    assert main([*argv, "--data", str(data)]) == 0, capsys.readouterr()

    changed = sorted(
        n for n, t in stamps.items() if (data / "overview" / n).stat().st_mtime_ns != t
    )
    assert changed == [f"{year}.xlsx", f"{YEAR}.xlsx"], changed
    assert workbook_values(data / "overview" / f"{year}.xlsx") != before
    lake, wh = Lake(data / "lake"), warehouse(data)
    try:
        units = lake.read_single("ref_units")
        for y in (year, YEAR):
            fresh = tmp_path / f"{y}.xlsx"
            ov = overview.year_overview(lake, wh, units, y, keep_counts=False)
            write_overview_workbook(fresh, ov)
            assert workbook_values(data / "overview" / f"{y}.xlsx") == workbook_values(fresh), y
    finally:
        wh.dispose()
