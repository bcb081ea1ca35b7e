"""The year overview (<data>/overview/<year>.xlsx) and the report figures, over the session's
scale-S run: the ranking and the Benford figures recomputed here without bangfu.overview, the
charts rendered by LibreOffice, every report's figures read back."""

from __future__ import annotations

import csv
import io
import math
import shutil
import sqlite3
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import polars as pl
import pytest
from openpyxl import load_workbook

from tests.support.office import office_program, pdf_text, pdftotext_program, to_pdf

CHART_NS = "http://schemas.openxmlformats.org/drawingml/2006/chart"
DRAWING_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
SHEETS = ["概览", "单位排名", "目标完成", "评估比率", "同比", "本福特检验"]


# ---------------------------------------------------------------- helpers (independent of bangfu)
def _units(landing: Path) -> dict[str, dict]:
    with open(landing / "reference" / "units.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {
        r["单位代码"]: {
            "name": r["单位名称"],
            "level": r["级别"],
            "parent": r["上级单位代码"] or None,
        }
        for r in rows
    }


def _ancestors(units: dict[str, dict], code: str) -> list[str]:
    out = []
    while code is not None:
        out.append(code)
        code = units[code]["parent"]
    return out


def _table(ws, first_header: str) -> list[dict]:
    """The rows of the block whose header row starts with ``first_header`` (until a blank row)."""
    rows = list(ws.iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r and r[0] == first_header)
    header = rows[start]
    out = []
    for r in rows[start + 1 :]:
        if r[0] is None:
            break
        out.append(dict(zip(header, r, strict=False)))
    return out


def _expected_ranking(db: Path, units: dict[str, dict], year: int, dismissed=()) -> list[tuple]:
    con = sqlite3.connect(db)
    found = con.execute(
        "SELECT unit_code, amount, severity, finding_id FROM findings WHERE year = ?", (year,)
    ).fetchall()
    paid = dict(
        con.execute(
            "SELECT unit_code, paid_total FROM unit_year_metrics WHERE year = ?", (year,)
        ).fetchall()
    )
    con.close()
    amount, high = Counter(), Counter()
    for unit, amt, sev, fid in found:
        if fid in dismissed:
            continue
        for a in _ancestors(units, unit):
            amount[a] += float(amt or 0)
            high[a] += sev == "高"
    out = []
    for code, u in units.items():
        p = float(paid.get(code) or 0)
        ratio = amount[code] / p if p > 0 else 0.0
        out.append((u["level"], -ratio, -high[code], code, round(amount[code], 2), ratio))
    out.sort(key=lambda t: ({"省": 0, "市": 1, "县": 2}[t[0]], t[1], t[2], t[3]))
    ranked, seen = [], Counter()
    for level, _r, _h, code, amt, ratio in out:
        seen[level] += 1
        ranked.append((seen[level], code, level, amt, ratio))
    return ranked


# ---------------------------------------------------------------- the workbook
def test_overview_workbook_for_every_year(s_run):
    assert s_run["summary"].ok
    for year in s_run["summary"].years:
        path = s_run["data"] / "overview" / f"{year}.xlsx"
        wb = load_workbook(path, read_only=True)
        assert wb.sheetnames == SHEETS
        wb.close()


def test_ranking_agrees_with_warehouse(s_run):
    """单位排名 recomputed from the warehouse's findings and metrics with sqlite3 and units.csv."""
    units = _units(s_run["landing"])
    for year in s_run["summary"].years:
        expected = _expected_ranking(s_run["data"] / "warehouse.db", units, year)
        wb = load_workbook(s_run["data"] / "overview" / f"{year}.xlsx", read_only=True)
        got = _table(wb["单位排名"], "排名")
        wb.close()
        assert len(got) == len(units)  # every unit exactly once
        assert [(r["排名"], r["单位代码"], r["级别"]) for r in got] == [e[:3] for e in expected]
        for r, e in zip(got, expected, strict=True):
            assert r["问题金额（元）"] == pytest.approx(e[3], abs=0.005)
            assert r["问题金额占比"] == pytest.approx(e[4], rel=1e-9, abs=1e-12)
            assert r["单位名称"] == units[r["单位代码"]]["name"]
        assert any(r["问题金额占比"] > 0 for r in got)


def _lake_amounts(lake: Path, year: int) -> list[tuple[str, float]]:
    out = []
    for f in (lake / "payments" / f"year={year}").glob("unit=*/data.parquet"):
        frame = pl.read_parquet(f, columns=["unit_code", "category", "amount"])
        out += [(u, a) for u, c, a in frame.rows() if c == "医疗救助" and a is not None]
    for f in (lake / "ledger" / f"year={year}").glob("unit=*/data.parquet"):
        frame = pl.read_parquet(f, columns=["unit_code", "debit"])
        out += [(u, a) for u, a in frame.rows() if a is not None]
    return [(u, a) for u, a in out if a >= 10]


def test_benford_mad_agrees_with_lake(s_run):
    """MAD and n of every tested unit recomputed from the lake's Parquet, digit by digit."""
    units = _units(s_run["landing"])
    year = max(s_run["summary"].years)
    per_unit: dict[str, Counter] = {}
    for unit, amount in _lake_amounts(s_run["data"] / "lake", year):
        digits = int(str(round(amount * 100))[:2])
        for a in _ancestors(units, unit):
            per_unit.setdefault(a, Counter())[digits] += 1
    wb = load_workbook(s_run["data"] / "overview" / f"{year}.xlsx", read_only=True)
    got = {r["单位代码"]: r for r in _table(wb["本福特检验"], "单位代码")}
    wb.close()
    tested = {u for u, c in per_unit.items() if sum(c.values()) >= 300}
    tested |= {u for u, v in units.items() if v["level"] == "省"}
    assert set(got) == tested and len(tested) > 1
    for unit in tested:
        counts = per_unit.get(unit, Counter())
        n = sum(counts.values())
        mad = sum(abs(counts[d] / n - math.log10(1 + 1 / d)) for d in range(10, 100)) / 90
        assert got[unit]["金额个数 n"] == n
        assert got[unit]["平均绝对偏差 MAD"] == pytest.approx(mad, rel=1e-9)
        cls = (
            "接近"
            if mad <= 0.0012
            else "可接受"
            if mad <= 0.0018
            else "边缘"
            if mad <= 0.0022
            else "不符合"
        )
        assert got[unit]["符合程度"] == cls
        top = max(range(10, 100), key=lambda d: (counts[d] / n - math.log10(1 + 1 / d), -d))
        assert got[unit]["超出期望最多的前五个首两位数字（超出百分点）"].startswith(f"{top}（")


def _copy_ledgers(src: Path, dst: Path, year: int) -> None:
    """The year's payments and ledger partitions of ``src`` lake copied into ``dst``."""
    for sheet in ("payments", "ledger"):
        shutil.copytree(src / sheet / f"year={year}", dst / sheet / f"year={year}")


def _counts_by_hand(lake: Path, year: int) -> dict[tuple[str, int], int]:
    """(unit, first two digits) → count, from the lake's Parquet row by row."""
    out: Counter = Counter()
    for unit, amount in _lake_amounts(lake, year):
        out[(unit, int(str(round(amount * 100))[:2]))] += 1
    return dict(out)


def test_kept_benford_counts_follow_the_ledgers(s_run, tmp_path, monkeypatch):
    """The Benford counts kept in the lake equal a full recount after a unit's payments change
    and another unit's ledger is removed, and only the changed partitions are read again."""
    from bangfu import benford
    from bangfu.lake import Lake

    year = max(s_run["summary"].years)
    root = tmp_path / "lake"
    _copy_ledgers(s_run["data"] / "lake", root, year)
    lake = Lake(root)

    def as_dict(frame: pl.DataFrame) -> dict:
        return {(u, d): c for u, d, c in frame.select("unit_code", "digits", "count").rows()}

    first = benford.benford_counts(lake, year)
    assert lake.has(benford.BENFORD_DATASET, year, "all")
    assert as_dict(first) == _counts_by_hand(root, year) != {}

    units = sorted(p.name[5:] for p in (root / "payments" / f"year={year}").iterdir())
    changed, gone = units[0], units[-1]
    paid = pl.read_parquet(lake.path("payments", year, changed))
    medical = paid.filter(pl.col("category") == benford.MEDICAL)
    assert medical.height > 1
    lake.write("payments", year, changed, paid.filter(pl.col("category") != benford.MEDICAL))
    lake.remove("ledger", year, gone)
    read: list = []
    amounts = benford._amounts
    monkeypatch.setattr(benford, "_amounts", lambda lk, y, u: read.append(u) or amounts(lk, y, u))
    again = benford.benford_counts(lake, year)
    assert read == [sorted([changed, gone])]
    assert as_dict(again) == _counts_by_hand(root, year) != as_dict(first)
    read.clear()
    assert as_dict(benford.benford_counts(lake, year)) == as_dict(again) and read == []

    # counts kept by another definition, or an unreadable file: everything counted again
    kept = pl.read_parquet(lake.path(benford.BENFORD_DATASET, year, "all"))
    lake.write(benford.BENFORD_DATASET, year, "all", kept.with_columns(pl.lit("0").alias("spec")))
    assert as_dict(benford.benford_counts(lake, year)) == as_dict(again)
    assert len(read[-1]) >= len(units) - 1
    lake.path(benford.BENFORD_DATASET, year, "all").write_bytes(b"not parquet")
    assert as_dict(benford.benford_counts(lake, year)) == as_dict(again)


def _cell_by_cell(path: Path, ov) -> None:
    """The overview workbook written as openpyxl's normal mode writes it, cell by cell: the
    reference the fast writer must equal."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    from bangfu import overview_workbook as ow

    wb = Workbook()
    wb.remove(wb.active)
    for spec in ow.SHEETS:
        ws = wb.create_sheet(spec.name)
        ws.cell(1, 1, f"{ov.year} 年度帮扶资金审计总览 — {spec.name}").font = Font(
            bold=True, size=14
        )
        row = 2
        if spec.note:
            ws.cell(2, 1, spec.note).alignment = Alignment(wrap_text=False)
            row = 3
        row += 1
        placed = {}
        for block in spec.blocks:
            frame = block.frame(ov)
            cols = block.cols(ov) if callable(block.cols) else block.cols
            ws.cell(row, 1, block.title).font = Font(bold=True, size=12)
            head = row + 1
            for j, col in enumerate(cols, start=1):
                c = ws.cell(head, j, col.header)
                c.font, c.fill = Font(bold=True), ow.HEADER_FILL
                c.alignment = Alignment(wrap_text=True, vertical="center")
                dim = ws.column_dimensions[get_column_letter(j)]
                dim.width = max(dim.width or 0, ow.WIDTHS[col.kind])
            records = frame.to_dicts()
            for i, rec in enumerate(records, start=head + 1):
                for j, col in enumerate(cols, start=1):
                    v = rec.get(col.field)
                    v = None if isinstance(v, float) and math.isnan(v) else v
                    cell = ws.cell(i, j, v)
                    if col.kind != "text":
                        cell.number_format = ow.FORMATS[col.kind]
                    if col.mark and v:
                        cell.font = ow.MARK_FONT
            placed[block.key] = {
                "head": head,
                "first": head + 1,
                "last": head + len(records),
                "col": {c.field: j for j, c in enumerate(cols, start=1)},
                "width": len(cols),
                "frame": frame,
            }
            row = head + len(records) + 2
        ws.freeze_panes = ws.cell(placed[spec.blocks[0].key]["first"], 1)
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
        for chart in spec.charts:
            where = placed[chart.block]
            ow._add_chart(
                ws, chart, where, f"{get_column_letter(where['width'] + 2)}{where['head']}"
            )
        if "benford_digits" in placed:
            ow._benford_charts(ws, placed["benford_digits"], ov)
    wb.save(path)


def _workbook_view(path: Path) -> dict:
    """Per sheet: frozen panes, print setup, column widths and every cell that has a value or a
    style (value, number format, bold, size, colour, fill, wrap); the chart and drawing parts."""
    wb = load_workbook(path)
    out: dict = {}
    for ws in wb.worksheets:
        setup = ws.page_setup
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                f = c.font
                key = (
                    c.value,
                    c.number_format,
                    bool(f.b),
                    f.sz,
                    f.color.rgb if f.color is not None else None,
                    c.fill.fgColor.rgb if c.fill.fill_type else None,
                    c.alignment.wrap_text,
                    c.alignment.vertical,
                )
                if c.value is not None or key[1:] != (
                    "General",
                    False,
                    11.0,
                    None,
                    None,
                    None,
                    None,
                ):
                    cells[c.coordinate] = key
        out[ws.title] = {
            "freeze": ws.freeze_panes,
            "setup": (
                setup.orientation,
                str(setup.paperSize),
                setup.fitToWidth,
                setup.fitToHeight,
                ws.sheet_properties.pageSetUpPr.fitToPage,
            ),
            "widths": {k: v.width for k, v in ws.column_dimensions.items()},
            "cells": cells,
        }
    wb.close()
    with zipfile.ZipFile(path) as zf:
        out["parts"] = {
            n: zf.read(n) for n in zf.namelist() if n.startswith(("xl/charts/", "xl/drawings/"))
        }
    return out


def test_overview_writer_equals_cell_by_cell(s_run, tmp_path):
    """The fast writer's workbook holds what openpyxl's normal mode, cell by cell, writes: every
    cell's value, number format and font, widths, frozen panes, print setup, chart parts."""
    from bangfu.lake import Lake
    from bangfu.overview import year_overview
    from bangfu.overview_workbook import write_overview_workbook
    from warehouse.store import Warehouse

    lake = Lake(s_run["data"] / "lake")
    wh = Warehouse(f"sqlite:///{s_run['data'] / 'warehouse.db'}")
    ov = year_overview(lake, wh, lake.read_single("ref_units"), max(s_run["summary"].years))
    wh.dispose()
    write_overview_workbook(tmp_path / "fast.xlsx", ov)
    _cell_by_cell(tmp_path / "slow.xlsx", ov)
    fast, slow = _workbook_view(tmp_path / "fast.xlsx"), _workbook_view(tmp_path / "slow.xlsx")
    assert list(fast) == [*SHEETS, "parts"]
    assert (
        len(fast["parts"]) >= 8
        and sum(len(s["cells"]) for s in slow.values() if "cells" in s) > 1000
    )
    for name in SHEETS:
        for what in ("freeze", "setup", "widths"):
            assert fast[name][what] == slow[name][what], (name, what)
        diff = {
            k: (fast[name]["cells"].get(k), slow[name]["cells"].get(k))
            for k in set(fast[name]["cells"]) | set(slow[name]["cells"])
            if fast[name]["cells"].get(k) != slow[name]["cells"].get(k)
        }
        assert not diff, (name, sorted(diff.items())[:5])
    assert fast["parts"] == slow["parts"]


@pytest.mark.office
def test_overview_charts_render_in_libreoffice(s_run, tmp_path):
    """The workbook holds native chart parts, and LibreOffice draws them: each chart's title is
    text of the PDF it makes (the titles appear in no cell)."""
    office_program(), pdftotext_program()  # both needed before anything is done
    year = max(s_run["summary"].years)
    src = s_run["data"] / "overview" / f"{year}.xlsx"
    with zipfile.ZipFile(src) as zf:
        charts = [n for n in zf.namelist() if n.startswith("xl/charts/chart")]
        titles = []
        for name in charts:
            root = ElementTree.fromstring(zf.read(name))
            assert any(el.tag == f"{{{CHART_NS}}}barChart" for el in root.iter()), name
            titles.append(next(el.text for el in root.iter(f"{{{DRAWING_NS}}}t")))
    assert len(charts) >= 4
    assert any("规则" in t for t in titles) and any("首两位数字" in t for t in titles)
    text = pdf_text(to_pdf(src, tmp_path))
    flat = "".join(text.split())
    for title in titles:
        assert "".join(title.split()) in flat, title


def test_dismissed_findings_do_not_count(s_run, tmp_path):
    """排除 (the latest journal row of a finding, review.md) leaves the ranking and the counts;
    a later 确认 over an earlier 排除 counts again."""
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text

    from bangfu.lake import Lake
    from bangfu.overview import ranking_problems, year_overview
    from warehouse import tables
    from warehouse.store import Warehouse

    db = tmp_path / "warehouse.db"
    with sqlite3.connect(s_run["data"] / "warehouse.db") as src, sqlite3.connect(db) as dst:
        src.backup(dst)  # WAL included
    wh = Warehouse(f"sqlite:///{db}")
    lake = Lake(s_run["data"] / "lake")
    units = lake.read_single("ref_units")
    year = max(s_run["summary"].years)
    before = year_overview(lake, wh, units, year)
    assert not before.reviewed  # no reviews table yet: nothing excluded

    reviews = getattr(tables, "reviews", None)
    if reviews is None:  # the review contract's journal, as review.md defines it
        reviews = Table(
            "reviews",
            MetaData(),
            Column("review_id", Integer, primary_key=True, autoincrement=True),
            Column("year", Integer),
            Column("unit_code", String(6)),
            Column("target_kind", String(16)),
            Column("target_key", String(40)),
            Column("value", String(32)),
            Column("note", Text),
            Column("decided_by", Text),
            Column("decided_at", DateTime(timezone=True)),
            Column("source", Text),
        )
    reviews.metadata.create_all(wh.engine, tables=[reviews])
    found = wh.read(tables.findings, year=year).filter(pl.col("amount").is_not_null())
    found = found.with_columns(pl.col("amount").cast(pl.Float64)).sort("amount", descending=True)
    big, second = found.row(0, named=True), found.row(1, named=True)
    now = datetime.now(UTC)

    def row(f, value):
        return {
            "year": year,
            "unit_code": f["unit_code"],
            "target_kind": "finding",
            "target_key": f["finding_id"],
            "value": value,
            "note": "测试",
            "decided_by": "测试人",
            "decided_at": now,
            "source": "cli",
        }

    with wh.engine.begin() as conn:  # in journal order: the last row of a finding is current
        for r in (row(big, "确认"), row(big, "排除"), row(second, "排除"), row(second, "确认")):
            conn.execute(reviews.insert(), [r])
    after = year_overview(lake, wh, units, year)
    assert after.reviewed
    units_map = _units(s_run["landing"])
    expected = _expected_ranking(db, units_map, year, dismissed={big["finding_id"]})
    got = after.ranking.select("rank", "unit_code", "level", "problem_amount").rows()
    assert [g[:3] for g in got] == [e[:3] for e in expected]
    by_unit = dict(zip(after.ranking["unit_code"], after.ranking["problem_amount"], strict=True))
    was = dict(zip(before.ranking["unit_code"], before.ranking["problem_amount"], strict=True))
    for code in units_map:
        drop = float(big["amount"]) if code in _ancestors(units_map, big["unit_code"]) else 0.0
        assert by_unit[code] == pytest.approx(was[code] - drop, abs=0.005), code
    province = after.summary.filter(pl.col("level") == "省").row(0, named=True)
    assert province["review_排除"] == 1 and province["review_确认"] == 1
    assert province["findings"] == before.summary.filter(pl.col("level") == "省")["findings"][0] - 1
    assert ranking_problems(units, after.ranking) == []
    wh.dispose()


def test_ranking_check_names_what_is_wrong(s_run):
    from bangfu.lake import Lake
    from bangfu.overview import ranking_problems
    from warehouse.store import Warehouse

    lake = Lake(s_run["data"] / "lake")
    units = lake.read_single("ref_units")
    from bangfu.overview import year_overview

    wh = Warehouse(f"sqlite:///{s_run['data'] / 'warehouse.db'}")
    rank = year_overview(lake, wh, units, max(s_run["summary"].years)).ranking
    wh.dispose()
    assert ranking_problems(units, rank) == []
    doubled = pl.concat([rank, rank.head(1)])
    short = rank.slice(1)
    assert any("2 次" in p for p in ranking_problems(units, doubled))
    assert any("未排名" in p for p in ranking_problems(units, short))


def test_overview_metadata_and_check_in_dagster(s_run, monkeypatch):
    import dagster as dg

    monkeypatch.setenv("DAGSTER_HOME", str(s_run["home"]))
    instance = dg.DagsterInstance.get()
    try:
        units = _units(s_run["landing"])
        for year in s_run["summary"].years:
            recs = instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey("year_overview"), asset_partitions=[str(year)]
                ),
                limit=1,
            ).records
            assert recs, year
            meta = recs[0].asset_materialization.metadata
            table = meta["top_ten"]
            assert isinstance(table, dg.TableMetadataValue)
            names = [r.data["单位名称"] for r in table.records]
            assert names and all(n in {u["name"] for u in units.values()} for n in names)
            benford = meta["benford_provinces"].value
            assert any(c in benford for c in ("接近", "可接受", "边缘", "不符合")), benford
            assert meta["units_ranked"].value == len(units)
        key = dg.AssetCheckKey(dg.AssetKey("year_overview"), "every_unit_ranked_once")
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])
        assert latest[key].status.value == "SUCCEEDED"
    finally:
        instance.dispose()


# ---------------------------------------------------------------- report figures
def test_every_report_has_its_figures(s_run):
    """Each draft report: the trend figure; the findings figure when the unit has findings; the
    ranking figure for a city or province; each a readable PNG followed by its caption and a
    table of its numbers."""
    from docx import Document
    from docx.oxml.ns import qn
    from PIL import Image

    units = _units(s_run["landing"])
    parents = {u["parent"] for u in units.values() if u["parent"]}
    con = sqlite3.connect(s_run["data"] / "warehouse.db")
    with_findings = set(con.execute("SELECT DISTINCT year, unit_code FROM findings").fetchall())
    con.close()
    reports = sorted((s_run["data"] / "reports").glob("*/*.docx"))
    assert len(reports) == len(units) * len(s_run["summary"].years)
    for path in reports:
        year, unit = int(path.parent.name), path.stem
        want = ["trend"]
        if unit in parents:
            want.append("ranking")
        if (year, unit) in with_findings:
            want.append("findings")
        doc = Document(path)
        shapes = doc.inline_shapes
        assert len(shapes) == len(want), (path, len(shapes), want)
        captions = [p.text for p in doc.paragraphs if p.text.startswith("图 ")]
        assert [c.split()[1] for c in captions] == [str(i) for i in range(1, len(want) + 1)]
        for shape in shapes:
            rid = shape._inline.graphic.graphicData.pic.blipFill.blip.embed
            blob = doc.part.related_parts[rid].blob
            img = Image.open(io.BytesIO(blob))
            img.load()
            assert img.format == "PNG" and img.width >= 500 and img.height >= 100
            assert len(img.convert("RGB").getcolors(maxcolors=1_000_000) or []) > 10
        # each figure's numbers stand in a table right after its caption
        body = list(doc.element.body.iterchildren())
        texts = ["".join(t.text or "" for t in el.iter(qn("w:t"))) for el in body]
        caps = [i for i, t in enumerate(texts) if body[i].tag == qn("w:p") and t.startswith("图 ")]
        assert len(caps) == len(want)
        for i in caps:
            assert body[i + 1].tag == qn("w:tbl"), (path, texts[i])


def test_figures_can_be_left_out(s_run, tmp_path, monkeypatch):
    """BANGFU_REPORT_FIGURES=0: the same report without pictures; by default with them."""
    from docx import Document

    from bangfu.lake import Lake
    from bangfu.settings import AuditSettings
    from bangfu.stages.outputs import run_workbooks
    from warehouse.store import Warehouse

    lake = Lake(s_run["data"] / "lake")
    db = tmp_path / "warehouse.db"  # run_workbooks records what it wrote: in a copy
    with sqlite3.connect(s_run["data"] / "warehouse.db") as src, sqlite3.connect(db) as dst:
        src.backup(dst)  # WAL included
    wh = Warehouse(f"sqlite:///{db}")
    units = lake.read_single("ref_units")
    city = units.filter(pl.col("level") == "市")["unit_code"][0]
    year = max(s_run["summary"].years)
    shapes = {}
    for flag in ("1", "0"):
        monkeypatch.setenv("BANGFU_REPORT_FIGURES", flag)
        out = tmp_path / flag
        run_workbooks(
            lake,
            wh,
            AuditSettings(),
            [(year, city)],
            units=units,
            paths={"report": lambda y, u, out=out: out / f"{u}.docx"},
            workers=1,
        )
        doc = Document(out / f"{city}.docx")
        shapes[flag] = len(doc.inline_shapes)
    wh.dispose()
    assert shapes == {"1": 3, "0": 0}
