"""The render half of ``bangfu generate``: files on disk match the truth the writer declares.

Files are read back raw (openpyxl, the csv module), never with the project's reader.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import openpyxl
import polars as pl
import pytest

from bangfu.frames import KIND_DTYPES
from bangfu.generate.junk import JUNK_KINDS
from bangfu.generate.writer import write_landing
from bangfu.sheets import (
    ARCHIVE_STEPS,
    CATEGORIES,
    ECON_ITEMS,
    EXIT_STEPS,
    FUNDS,
    HARDSHIP_TYPES,
    HEADER_SYNONYMS,
    LEDGER_SHEETS,
    PAYMENT_ONLY_SYNONYMS,
    SHEETS_BY_KEY,
    SHEETS_BY_TITLE,
    TOTAL_MARKERS,
    VALUE_SYNONYMS,
    SheetSpec,
)

# ---------------------------------------------------------------- a small canonical scenario


@dataclass
class Scenario:
    units: pl.DataFrame
    standards: pl.DataFrame
    civil_roster: dict[int, pl.DataFrame]
    ledgers: dict[tuple[int, str], dict[str, pl.DataFrame]]
    planted: pl.DataFrame
    scale: str = "T"
    dropped_optional_sheets: list = field(default_factory=list)


def _canon(spec: SheetSpec, data: dict[str, list]) -> pl.DataFrame:
    n = len(next(iter(data.values())))
    cols = {}
    for c in spec.columns:
        vals = data.get(c.name, [None] * n)
        cols[c.name] = pl.Series(c.name, vals, dtype=KIND_DTYPES[c.kind])
    return pl.DataFrame(cols)


def _id(rng: np.random.Generator) -> str:
    body = f"330102{rng.integers(1960, 2000)}{rng.integers(1, 13):02d}{rng.integers(1, 28):02d}"
    body += f"{rng.integers(0, 1000):03d}"
    return body + "0123456789X"[rng.integers(11)]


def _date(rng: np.random.Generator, year: int) -> dt.date:
    return dt.date(year, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365)))


def make_ledger(rng: np.random.Generator, year: int, unit: str, n_arch: int, n_pay: int):
    ids = [_id(rng) for _ in range(n_arch)]
    arch_no = [f"DA{unit}{year}{i:04d}" for i in range(n_arch)]
    status = [("已退档" if rng.random() < 0.3 else "在档") for _ in range(n_arch)]
    reason = [("脱困" if rng.random() < 0.6 else "死亡") if s == "已退档" else None for s in status]
    archive = _canon(
        SHEETS_BY_KEY["archive"],
        {
            "archive_no": arch_no,
            "name": [f"职工{i}" for i in range(n_arch)],
            "id_number": ids,
            "phone": [
                f"13{rng.integers(100000000, 999999999)}" if rng.random() < 0.8 else None
                for _ in range(n_arch)
            ],
            "employer": ["杭州某厂" for _ in range(n_arch)],
            "address": [f"上城区某路{i}号" for i in range(n_arch)],
            "hukou": [["城镇", "农村"][rng.integers(2)] for _ in range(n_arch)],
            "is_member": ["是"] * n_arch,
            "hardship_type": [HARDSHIP_TYPES[rng.integers(3)] for _ in range(n_arch)],
            "causes": ["本人大病、失业"] * n_arch,
            "household_size": [int(rng.integers(1, 6)) for _ in range(n_arch)],
            "household_income": [round(float(rng.uniform(0, 60000)), 2) for _ in range(n_arch)],
            "archived_on": [_date(rng, year - 1) for _ in range(n_arch)],
            "relieved_on": [None] * n_arch,
            "status": status,
            "exited_on": [_date(rng, year) if s == "已退档" else None for s in status],
            "exit_reason": reason,
            "exit_path": ["就业创业" if r == "脱困" else None for r in reason],
            "income_at_exit": [12345.6 if s == "已退档" else None for s in status],
        },
    )
    procs = {
        "archive_no": [],
        "procedure": [],
        "step": [],
        "done_on": [],
        "evidence": [],
        "publicity_days": [],
    }
    for a in arch_no[: max(1, n_arch // 2)]:
        for st in ARCHIVE_STEPS:
            procs["archive_no"].append(a)
            procs["procedure"].append("建档")
            procs["step"].append(st)
            procs["done_on"].append(_date(rng, year - 1))
            procs["evidence"].append("有")
            procs["publicity_days"].append(7 if st == "公示" else None)
    procs["archive_no"].append(arch_no[0])
    procs["procedure"].append("退档")
    procs["step"].append(EXIT_STEPS[1])
    procs["done_on"].append(None)
    procs["evidence"].append("无")
    procs["publicity_days"].append(None)
    econ = _canon(
        SHEETS_BY_KEY["econ_checks"],
        {
            "archive_no": [arch_no[i % n_arch] for i in range(len(ECON_ITEMS) * 2)],
            "item": list(ECON_ITEMS) * 2,
            "provided": ["是", "否"] * len(ECON_ITEMS),
            "match_result": ["相符"] * (2 * len(ECON_ITEMS)),
        },
    )
    cats = [CATEGORIES[rng.integers(len(CATEGORIES))] for _ in range(n_pay)]
    pay = _canon(
        SHEETS_BY_KEY["payments"],
        {
            "payment_no": [f"FF{year}{i:05d}" for i in range(n_pay)],
            "paid_on": [_date(rng, year) for _ in range(n_pay)],
            "archive_no": [
                arch_no[rng.integers(n_arch)] if rng.random() < 0.9 else None for _ in range(n_pay)
            ],
            "name": [f"职工{rng.integers(n_arch)}" for _ in range(n_pay)],
            "id_number": [ids[rng.integers(n_arch)] for _ in range(n_pay)],
            "category": cats,
            "fund": [FUNDS[rng.integers(4)] for _ in range(n_pay)],
            "amount": [
                round(float(rng.choice([500, 1000, 2000.5, 1234567.89, 0.01])), 2)
                for _ in range(n_pay)
            ],
            "method": ["银行转账"] * n_pay,
            "account_no": [f"6222{rng.integers(10**11, 10**12)}" for _ in range(n_pay)],
            "voucher_no": [f"记{year}-{i:04d}" for i in range(n_pay)],
            "med_total": [30000.0 if c == "医疗救助" else None for c in cats],
            "med_self_pay": [12000.5 if c == "医疗救助" else None for c in cats],
            "receipt_type": ["医保票据" if c == "医疗救助" else None for c in cats],
            "receipt_year": [year if c == "医疗救助" else None for c in cats],
            "school_stage": ["本科" if c == "助学救助" else None for c in cats],
        },
    )
    ledger = _canon(
        SHEETS_BY_KEY["ledger"],
        {
            "posted_on": [_date(rng, year) for _ in range(n_pay)],
            "voucher_no": [f"记{year}-{i:04d}" for i in range(n_pay)],
            "account_code": ["5010301"] * n_pay,
            "account_name": ["维权支出—困难职工帮扶费"] * n_pay,
            "memo": ["发放困难职工生活救助金"] * n_pay,
            "debit": [500.0] * n_pay,
            "credit": [0.0] * n_pay,
            "fund": [FUNDS[0]] * n_pay,
        },
    )
    return {
        "archive": archive,
        "procedures": _canon(SHEETS_BY_KEY["procedures"], procs),
        "econ_checks": econ,
        "payments": pay,
        "ledger": ledger,
        "unit_standards": _canon(
            SHEETS_BY_KEY["unit_standards"],
            {
                "category": ["生活救助", "医疗救助"],
                "hardship_type": ["深度困难", "相对困难"],
                "annual_cap": [5000.0, 20000.0],
            },
        ),
        "targets": _canon(
            SHEETS_BY_KEY["targets"],
            {
                "year": [year, year + 1],
                "target_relieved": [10, 12],
                "target_exited": [3, 4],
                "has_plan": ["有", None],
                "has_assessment": ["有", None],
            },
        ),
        "evaluation": _canon(
            SHEETS_BY_KEY["evaluation"],
            {
                "sample_no": ["Y1", "Y2", "Y3"],
                "id_number": ids[:3],
                "name": ["a", "b", "c"],
                "sample_type": ["在档户", "退档户", "非建档户"],
                "verdict": ["符合", "错退", "漏评"],
                "satisfaction": ["满意", None, "不满意"],
            },
        ),
        "followup": _canon(
            SHEETS_BY_KEY["followup"],
            {
                "archive_no": arch_no[:2],
                "survey_mode": ["电话", "入户"],
                "surveyed_on": [_date(rng, year), None],
                "got_notice": ["是", "否"],
            },
        ),
        "staff": _canon(
            SHEETS_BY_KEY["staff"],
            {
                "name": ["王主席"],
                "id_number": [_id(rng)],
                "post": ["主席"],
                "phone": ["057188001234"],
                "address": [None],
            },
        ),
        "budget": _canon(
            SHEETS_BY_KEY["budget"],
            {
                "fund": list(FUNDS),
                "opening_balance": [1000.0, 0.0, 12.5, None],
                "received": [1e6, 2e5, 3e4, 0.0],
                "spent": [9e5, 2e5, 3e4, 0.0],
                "closing_balance": [101000.0, 0.0, 12.5, 0.0],
                "recovered": [None] * 4,
                "allocation_method": ["因素法", "平均分配", None, None],
                "has_evaluation": ["有", "无", None, None],
            },
        ),
    }


def make_scenario(n_counties: int = 10, years=(2018, 2019), n_pay: int = 40, seed: int = 1):
    rng = np.random.default_rng(seed)
    codes = ["330000", "330100"] + [f"3301{i + 2:02d}" for i in range(n_counties)]
    units = pl.DataFrame(
        {
            "unit_code": codes,
            "unit_name": ["浙江省总工会", "杭州市总工会"]
            + [f"第{i}区总工会" for i in range(n_counties)],
            "level": ["省", "市"] + ["县"] * n_counties,
            "parent_code": [None, "330000"] + ["330100"] * n_counties,
        }
    )
    standards = pl.DataFrame(
        {
            "region_code": ["330000"] * len(years),
            "year": list(years),
            "dibao_monthly": [800.0] * len(years),
            "edu_standard": [None] * len(years),
            "medical_standard": [5000.0] * len(years),
        },
        schema_overrides={"edu_standard": pl.Float64, "year": pl.Int64},
    )
    roster = {
        y: pl.DataFrame(
            {
                "id_number": [_id(rng) for _ in range(5)],
                "name": ["甲"] * 5,
                "roster_type": ["低保"] * 5,
                "income_per_capita_monthly": [500.0] * 5,
                "employer": [None] * 5,
                "region_code": ["330102"] * 5,
            },
            schema_overrides={"employer": pl.String},
        )
        for y in years
    }
    ledgers = {}
    for y in years:
        for u in codes:
            ledgers[(y, u)] = make_ledger(rng, y, u, n_arch=12, n_pay=n_pay)
    planted = pl.DataFrame(
        {
            "year": [years[-1], years[-1]],
            "unit_code": ["330102", "330100"],
            "rule_code": ["PAY_NO_ARCHIVE", "NO_PLAN"],
            "payment_no": [f"FF{years[-1]}00003", None],
        }
    )
    return Scenario(units, standards, roster, ledgers, planted)


# ---------------------------------------------------------------- raw readers


def _nfkc_nospace(s: str) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", s))


def read_raw(landing: Path, source_file: str, sheet: str) -> list[list]:
    """Every row of a sheet as a list of raw cell values (xlsx) or strings (CSV)."""
    path = landing / source_file
    if path.suffix == ".xlsx":
        wb = openpyxl.load_workbook(path, read_only=False, data_only=True)
        ws = next(ws for ws in wb.worksheets if _nfkc_nospace(ws.title) == sheet)
        return [list(r) for r in ws.iter_rows(values_only=True)]
    data = path.read_bytes()
    text = _decode(data)
    return [list(r) for r in csv.reader(io.StringIO(text, newline=""))]


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _is_blank(row: list) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def _header_index(rows: list[list], spec: SheetSpec) -> int:
    aliases = spec.header_aliases()
    need = {c.name for c in spec.required_columns}
    for i, row in enumerate(rows[:20]):
        got = {aliases.get(_nfkc_nospace(str(v))) for v in row if v is not None}
        if need <= got:
            return i
    raise AssertionError("no header")


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> tuple[Path, Scenario, dict]:
    scen = make_scenario()
    out = tmp_path_factory.mktemp("landing")
    calls = []
    paths = write_landing(
        scen,
        out,
        seed=7,
        csv_share=0.4,
        junk_share=0.6,
        bad_files=True,
        progress=lambda d, t: calls.append((d, t)),
    )
    return out, scen, {"paths": paths, "calls": calls}


def _truth(out: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(out / "truth" / name, infer_schema=False)


# ---------------------------------------------------------------- tests


def test_layout_and_truth_files(landing):
    out, scen, info = landing
    for name in (
        "ingest.csv",
        "quarantine.csv",
        "findings.csv",
        "rejected.csv",
        "manifest.json",
        "locations.csv",
        "variations.csv",
    ):
        assert (out / "truth" / name).exists(), name
    assert (out / "reference" / "units.csv").exists()
    assert (out / "reference" / "standards.csv").exists()
    assert sorted(p.name for p in (out / "reference" / "civil_roster").iterdir()) == [
        "2018.csv",
        "2019.csv",
    ]
    calls = info["calls"]
    assert calls[-1][0] == calls[-1][1] and [d for d, _ in calls] == list(range(1, len(calls) + 1))
    m = json.loads((out / "truth" / "manifest.json").read_text("utf-8"))
    assert m["seed"] == 7 and m["years"] == [2018, 2019] and m["scale"] == "T"
    forms = [f for y in m["forms"].values() for f in y.values()]
    assert "xlsx" in forms and any(f.startswith("csv:") for f in forms)
    units_txt = _decode((out / "reference" / "units.csv").read_bytes())
    assert units_txt.splitlines()[0] == "单位代码,单位名称,级别,上级单位代码"


def test_reference_roundtrip(landing):
    out, scen, _ = landing
    got = pl.read_csv(out / "reference" / "units.csv", infer_schema=False, encoding="utf8-lossy")
    got = got.rename({got.columns[0]: got.columns[0].lstrip("\ufeff")})
    assert got["单位代码"].to_list() == scen.units["unit_code"].to_list()
    assert got["上级单位代码"].to_list() == scen.units["parent_code"].to_list()


@pytest.mark.slow
def test_ingest_truth_matches_files(landing):
    out, scen, _ = landing
    ingest = _truth(out, "ingest.csv")
    quarantine = _truth(out, "quarantine.csv")
    rejected = _truth(out, "rejected.csv")
    victims = {(r["year"], r["unit_code"]) for r in rejected.iter_rows(named=True) if r["year"]}
    expected = {(str(y), u) for y, u in scen.ledgers} - victims
    assert {(r[0], r[1]) for r in ingest.select("year", "unit_code").unique().iter_rows()} == (
        expected
    )
    for r in ingest.iter_rows(named=True):
        spec = SHEETS_BY_TITLE[r["sheet"]]
        rows = read_raw(out, r["source_file"], r["sheet"])
        canon = scen.ledgers[(int(r["year"]), r["unit_code"])][spec.key]
        assert int(r["rows_kept"]) == canon.height
        assert int(r["rows_read"]) == int(r["rows_kept"]) + int(r["rows_quarantined"])
        h = _header_index(rows, spec)
        below = rows[h + 1 :]
        blanks = sum(_is_blank(x) for x in below)
        totals = sum(
            1 for x in below if x and isinstance(x[0], str) and x[0].strip() in TOTAL_MARKERS
        )
        if r["source_file"].endswith(".xlsx"):
            assert len(below) - blanks - totals == int(r["rows_read"]), r
            assert h + 1 + blanks + totals == int(r["rows_skipped"]), r
        else:
            # csv.reader yields [] for an empty line, so blank lines count the same way
            assert len(below) - blanks - totals == int(r["rows_read"]), r
        q = quarantine.filter(
            (pl.col("year") == r["year"])
            & (pl.col("unit_code") == r["unit_code"])
            & (pl.col("sheet") == r["sheet"])
        )
        assert q.height == int(r["rows_quarantined"])


def _norm_amount(v) -> float | None:
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return round(float(v), 2)
    s = _nfkc_nospace(v).replace(",", "").removesuffix("元")
    return round(float(s), 2) if s else None


def _norm_date(v) -> dt.date | None:
    if v is None or v == "":
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    s = _nfkc_nospace(v)
    for f in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d"):
        try:
            return dt.datetime.strptime(s, f).date()
        except ValueError:
            pass
    raise AssertionError(f"bad date {v!r}")


def _norm(v, kind: str):
    if isinstance(v, str) and not v.strip():
        v = None
    if kind == "amount":
        return _norm_amount(v)
    if kind == "date":
        return _norm_date(v)
    if v is None:
        return None
    if kind == "int":
        return int(float(v)) if not isinstance(v, str) else int(v)
    s = unicodedata.normalize("NFKC", str(v)) if kind in ("id", "phone") else str(v)
    if kind == "id":
        return re.sub(r"[\s']", "", s).upper()
    if kind == "phone":
        return re.sub(r"[\s\-]", "", s).removeprefix("+86")
    if kind == "text":
        return s.strip()
    s = re.sub(r"\s", "", s)
    return VALUE_SYNONYMS.get(s, s) if kind == "enum" else s


@pytest.mark.slow
def test_values_roundtrip(landing):
    """Data rows, read raw and normalised as the contract says, equal the canonical frames."""
    out, scen, _ = landing
    ingest = _truth(out, "ingest.csv")
    quarantine = _truth(out, "quarantine.csv")
    qrows = {
        (r[0], r[1], r[2], int(r[3]))
        for r in quarantine.select("year", "unit_code", "sheet", "row_number").iter_rows()
    }
    for r in ingest.iter_rows(named=True):
        spec = SHEETS_BY_TITLE[r["sheet"]]
        rows = read_raw(out, r["source_file"], r["sheet"])
        h = _header_index(rows, spec)
        aliases = spec.header_aliases()
        colmap = {
            aliases[_nfkc_nospace(str(v))]: j
            for j, v in enumerate(rows[h])
            if v is not None and _nfkc_nospace(str(v)) in aliases
        }
        got = []
        for i, row in enumerate(rows[h + 1 :], start=h + 2):
            if _is_blank(row) or (isinstance(row[0], str) and row[0].strip() in TOTAL_MARKERS):
                continue
            if (r["year"], r["unit_code"], r["sheet"], i) in qrows:
                continue
            got.append(
                {
                    c.name: _norm(row[colmap[c.name]], c.kind) if c.name in colmap else None
                    for c in spec.columns
                }
            )
        canon = scen.ledgers[(int(r["year"]), r["unit_code"])][spec.key]
        if spec.key == "ledger":  # empty debit / credit reads as 0
            got = [{**g, "debit": g["debit"] or 0.0, "credit": g["credit"] or 0.0} for g in got]
        assert got == canon.to_dicts(), (r["source_file"], r["sheet"])


@pytest.mark.slow
def test_quarantine_rows_point_at_junk(landing):
    out, scen, _ = landing
    q = _truth(out, "quarantine.csv")
    assert q.height > 0
    assert set(q["kind"]) == set(JUNK_KINDS)  # every kind planted at least once
    for r in q.iter_rows(named=True):
        spec = SHEETS_BY_TITLE[r["sheet"]]
        rows = read_raw(out, r["source_file"], r["sheet"])
        row = rows[int(r["row_number"]) - 1]
        h = _header_index(rows, spec)
        aliases = spec.header_aliases()
        colmap = {
            aliases[_nfkc_nospace(str(v))]: j
            for j, v in enumerate(rows[h])
            if v is not None and _nfkc_nospace(str(v)) in aliases
        }
        by_header = {c.header: c for c in spec.columns}
        for header in r["column"].split("、"):
            c = by_header[header]
            v = row[colmap[c.name]]
            if r["kind"] == "required_empty" or (r["kind"] == "multi" and c.kind == "id"):
                assert v is None or not str(v).strip()
            elif r["kind"] == "id_lost_digits":
                assert isinstance(v, float) or "E+17" in v
            elif r["kind"] == "long_cell":
                assert len(v) > 32767
            elif r["kind"] in ("bad_date", "bad_optional_date", "multi"):
                with pytest.raises((AssertionError, ValueError)):
                    _norm_date(v)
            elif r["kind"] == "nonpositive_amount":
                assert _norm_amount(v) <= 0
            elif r["kind"] in ("exit_no_date", "exit_no_path"):
                assert v is None
                assert row[colmap["status"]] == "已退档"
            elif r["kind"] == "bad_pairing":
                assert v == "错退" and row[colmap["sample_type"]] == "在档户"
            elif r["kind"] == "bad_amount":
                with pytest.raises(ValueError):
                    float(_nfkc_nospace(v).replace(",", "").removesuffix("元"))
            elif r["kind"] == "bad_optional_int":
                with pytest.raises(ValueError):
                    int(v)
        # junk rows carry fresh keys, never a canonical one
        canon = scen.ledgers[(int(r["year"]), r["unit_code"])][spec.key]
        for key in ("payment_no", "archive_no", "voucher_no"):
            if key in colmap and key in canon.columns and row[colmap[key]]:
                assert _norm(row[colmap[key]], "code") not in set(canon[key].drop_nulls())


def test_variations_present(landing):
    out, _, _ = landing
    m = json.loads((out / "truth" / "manifest.json").read_text("utf-8"))
    seen = set(m["variation_counts"])
    want = {
        "title_rows_1",
        "title_rows_2",
        "title_rows_3",
        "merged_title",
        "header_spaces",
        "shuffled_columns",
        "extra_columns",
        "blank_rows",
        "value_spaces",
        "value_synonym",
        "date:excel",
        "date:iso",
        "date:slash",
        "date:dot",
        "date:chinese",
        "date:compact",
        "amount:number",
        "amount:yuan",
        "amount:thousands",
        "amount:fullwidth",
        "id:lower_x",
        "id:spaces",
        "id:apostrophe",
        "id:fullwidth",
        "zero_as_empty",
        "encoding:utf-8",
        "encoding:utf-8-sig",
        "encoding:gb18030",
    }
    assert want <= seen, want - seen
    assert {f"total:{t}" for t in TOTAL_MARKERS} <= seen
    syns = {s for v in HEADER_SYNONYMS.values() for s in v} | {"日期"}
    assert {f"header_synonym:{s}" for s in syns} <= seen, {
        f"header_synonym:{s}" for s in syns
    } - seen
    assert PAYMENT_ONLY_SYNONYMS


def test_merged_title_and_excel_dates(landing):
    out, _, _ = landing
    merged = dates = floats = 0
    for p in sorted((out / "ledgers").glob("*/*.xlsx")):
        try:
            wb = openpyxl.load_workbook(p)
        except Exception:
            continue
        for ws in wb.worksheets:
            if any(str(r).startswith("A1:") for r in ws.merged_cells.ranges):
                merged += 1
                assert re.search(r"\d{4}年度", ws["A1"].value)
            for row in ws.iter_rows(values_only=True):
                dates += sum(isinstance(v, dt.datetime) for v in row)
                floats += sum(isinstance(v, float) for v in row)
    assert merged and dates and floats


def test_csv_encodings(landing):
    out, _, _ = landing
    m = json.loads((out / "truth" / "manifest.json").read_text("utf-8"))
    for y, units in m["forms"].items():
        for u, f in units.items():
            if not f.startswith("csv:") or f"{y}/{u}" in "".join(m["rejected_unit_years"]):
                continue
            enc = f.split(":")[1]
            for p in (out / "ledgers" / y / u).glob("*.csv"):
                data = p.read_bytes()
                if enc == "utf-8-sig":
                    assert data.startswith(b"\xef\xbb\xbf")
                    data[3:].decode("utf-8")
                elif enc == "utf-8":
                    assert not data.startswith(b"\xef\xbb\xbf")
                    data.decode("utf-8")
                else:
                    with pytest.raises(UnicodeDecodeError):
                        data.decode("utf-8")
                    data.decode("gb18030")


def test_rejections(landing):
    out, scen, _ = landing
    rej = _truth(out, "rejected.csv")
    assert set(rej["kind"]) == {"corrupt_xlsx", "both_forms", "unknown_unit", "not_a_year"}
    for r in rej.iter_rows(named=True):
        assert (out / r["path"]).exists()
    corrupt = rej.filter(pl.col("kind") == "corrupt_xlsx")["path"][0]
    with pytest.raises(Exception):  # noqa: B017
        openpyxl.load_workbook(out / corrupt)
    both = rej.filter(pl.col("kind") == "both_forms")
    assert both.height == 2 and all((out / p).exists() for p in both["path"])
    unknown = rej.filter(pl.col("kind") == "unknown_unit")["unit_code"][0]
    assert unknown not in set(scen.units["unit_code"])
    findings = _truth(out, "findings.csv")
    victims = {
        (r["year"], r["unit_code"])
        for r in rej.iter_rows(named=True)
        if r["kind"] in ("corrupt_xlsx", "both_forms")
    }
    assert not any((y, u) in victims for y, u in findings.select("year", "unit_code").iter_rows())


def test_locations(landing):
    out, scen, _ = landing
    loc = _truth(out, "locations.csv")
    r = loc.filter(
        (pl.col("key") == "payment_no")
        & (pl.col("value") == "FF201900003")
        & (pl.col("unit_code") == "330102")
    )
    if r.height:  # unit-year may have been a planted rejection
        rr = r.row(0, named=True)
        rows = read_raw(out, rr["source_file"], rr["sheet"])
        assert "FF201900003" in [_nfkc_nospace(str(v)) for v in rows[int(rr["row_number"]) - 1]]


def test_reproducible(tmp_path):
    scen = make_scenario(n_counties=2, years=(2019,), n_pay=15)
    a, b = tmp_path / "a", tmp_path / "b"
    write_landing(scen, a, seed=3, bad_files=True, csv_share=0.5, junk_share=1.0)
    write_landing(scen, b, seed=3, bad_files=True, csv_share=0.5, junk_share=1.0)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files_a:
        if rel.suffix in (".csv", ".json"):
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    c = tmp_path / "c"
    write_landing(scen, c, seed=4, bad_files=True, csv_share=0.5, junk_share=1.0)
    assert (a / "truth" / "variations.csv").read_bytes() != (
        c / "truth" / "variations.csv"
    ).read_bytes()


def test_ledger_sheets_all_rendered(landing):
    out, _, _ = landing
    ingest = _truth(out, "ingest.csv")
    assert set(ingest["sheet"]) == {s.title for s in LEDGER_SHEETS}
