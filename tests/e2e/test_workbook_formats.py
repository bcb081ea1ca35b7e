"""Issue #20: ledgers as real offices save them. The same workbooks re-saved by LibreOffice as
.xlsx, .xls and .ods read exactly like the originals; hostile, renamed and unreadable files are
refused with their message. Contract: input-ledgers.md, landing folder and "Hostile files".

LibreOffice (soffice) is part of the test set-up: under CI=true a missing soffice FAILS.
"""

from __future__ import annotations

import shutil
import struct
import zipfile
from pathlib import Path

import fastexcel
import polars as pl
import pytest

from bangfu import readers as R
from bangfu.generate import office
from bangfu.ingest import LandingScan, ingest_partitions
from bangfu.lake import Lake
from bangfu.sheets import LEDGER_SHEETS
from tests.support import missing
from tests.support.ledgers import UNIT, YEAR, workbook_sheets, write_xlsx
from warehouse import tables
from warehouse.store import Warehouse

FORMS = ("xlsx", "xls", "ods")


def _need_soffice() -> None:
    if office.soffice() is None:
        missing("LibreOffice (soffice) is not installed", "install libreoffice-calc")


def _read(path: Path, landing: Path, **kw) -> R.LedgerResult:
    return R.read_ledger(path, landing=landing, year=YEAR, unit_code=UNIT, **kw)


def _without_source(df: pl.DataFrame) -> pl.DataFrame:
    return df.drop([c for c in ("source_file", "source_sha256") if c in df.columns])


# ====================================================================== the hand-built workbook
@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """The reader tests' workbook (title rows, merged titles, blank and total rows, an ID typed
    as a number, dates as cells and as text …) and LibreOffice's .xlsx, .xls and .ods of it."""
    _need_soffice()
    root = tmp_path_factory.mktemp("formats")
    original = write_xlsx(root / "original" / f"{UNIT}.xlsx")
    # every sheet three blank rows down and two columns right: rows as the office suite shows
    sheets = {
        name: ([None] * 3 + titles, *rest) for name, (titles, *rest) in workbook_sheets().items()
    }
    offset = write_xlsx(root / "original" / "offset.xlsx", sheets, offset_col=2)
    out = {"original": original, "offset": offset}
    for form in FORMS:
        out[form], out[f"offset.{form}"] = office.convert([original, offset], form, root / form)
    return out


def _in_landing(src: Path, landing: Path, suffix: str | None = None) -> Path:
    target = landing / "ledgers" / str(YEAR) / f"{UNIT}{suffix or src.suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    return target


@pytest.mark.office
@pytest.mark.parametrize("form", FORMS)
def test_saved_by_libreoffice_reads_as_the_original(saved, form, tmp_path):
    want = _read(_in_landing(saved["original"], tmp_path / "a"), tmp_path / "a")
    got = _read(_in_landing(saved[form], tmp_path / "b"), tmp_path / "b")
    assert got.form == form
    assert got.sheets.keys() == want.sheets.keys()
    for key, sheet in want.sheets.items():
        mine = got.sheets[key]
        assert _without_source(mine.frame).equals(_without_source(sheet.frame)), key
        assert _without_source(mine.quarantine).equals(_without_source(sheet.quarantine)), key
        assert set(mine.frame["source_file"]) <= {f"ledgers/{YEAR}/{UNIT}.{form}"}
    assert _without_source(got.log).equals(_without_source(want.log))
    # the ID typed as a number lost its digits in every form, and says so
    reasons = got.sheets["payments"].quarantine["reason"].to_list()
    assert any("数字格式存储" in r for r in reasons)


@pytest.mark.office
@pytest.mark.parametrize("form", FORMS)
def test_rows_numbered_as_the_office_suite_shows_them(saved, form, tmp_path):
    """Sheets that start below blank rows and right of blank columns: every form numbers the
    rows from the sheet's row 1, as the original .xlsx does."""
    plain = _read(_in_landing(saved["original"], tmp_path / "a"), tmp_path / "a")
    want = _read(_in_landing(saved["offset"], tmp_path / "b"), tmp_path / "b")
    got = _read(_in_landing(saved[f"offset.{form}"], tmp_path / "c"), tmp_path / "c")
    pay = want.sheets["payments"]
    assert pay.frame["source_row"].to_list() == [
        r + 3 for r in plain.sheets["payments"].frame["source_row"].to_list()
    ]
    for key, sheet in want.sheets.items():
        assert _without_source(got.sheets[key].frame).equals(_without_source(sheet.frame)), key
        assert _without_source(got.sheets[key].quarantine).equals(
            _without_source(sheet.quarantine)
        ), key


@pytest.mark.office
def test_xlsm_reads_as_xlsx(saved, tmp_path):
    want = _read(_in_landing(saved["original"], tmp_path / "a"), tmp_path / "a")
    got = _read(_in_landing(saved["original"], tmp_path / "b", ".xlsm"), tmp_path / "b")
    assert got.form == "xlsm"
    for key, sheet in want.sheets.items():
        assert _without_source(got.sheets[key].frame).equals(_without_source(sheet.frame))


# ====================================================================== hostile and renamed
@pytest.mark.office
def test_xls_declaring_more_than_the_limit_is_refused_unread(saved, tmp_path, monkeypatch):
    data = bytearray(saved["xls"].read_bytes())
    at = data.find("Workbook".encode("utf-16-le"))
    assert at >= 0 and data[at + 66] == 2  # the directory entry of the Workbook stream
    struct.pack_into("<I", data, at + 120, 3 * 1024**3)  # declares 3 GB
    path = _in_landing(saved["xls"], tmp_path)
    path.write_bytes(bytes(data))
    opened = []
    monkeypatch.setattr(fastexcel, "read_excel", lambda *a: opened.append(a))
    with pytest.raises(R.LedgerRejected, match="超过上限.*refused unread"):
        _read(path, tmp_path)
    # within the default limit but more than the file holds: corrupt, also unread
    struct.pack_into("<I", data, at + 120, len(data) + 4096)
    path.write_bytes(bytes(data))
    with pytest.raises(R.LedgerRejected, match="损坏.*more bytes than the file holds"):
        _read(path, tmp_path)
    # the true sizes, under a small limit
    shutil.copyfile(saved["xls"], path)
    with pytest.raises(R.LedgerRejected, match="超过上限"):
        _read(path, tmp_path, max_uncompressed_bytes=1024)
    assert opened == []


@pytest.mark.office
def test_ods_inflating_past_the_limit_is_refused_unread(saved, tmp_path, monkeypatch):
    path = _in_landing(saved["ods"], tmp_path)
    declared = sum(i.file_size for i in zipfile.ZipFile(path).infolist())
    opened = []
    monkeypatch.setattr(fastexcel, "read_excel", lambda *a: opened.append(a))
    with pytest.raises(R.LedgerRejected, match="压缩炸弹"):
        _read(path, tmp_path, max_uncompressed_bytes=declared - 1)
    assert opened == []


@pytest.mark.office
@pytest.mark.parametrize(
    ("source", "suffix", "pattern"),
    [
        ("xlsx", ".xls", r"扩展名为 \.xls，内容却是xlsx 工作簿.*rename it to \.xlsx"),
        ("ods", ".xls", r"扩展名为 \.xls，内容却是ods 表格"),
        ("xls", ".ods", r"扩展名为 \.ods，内容却是xls 工作簿"),
        ("xls", ".xlsx", r"扩展名为 \.xlsx，内容却是xls 工作簿"),
        ("text", ".ods", r"不是 ods 工作簿（内容是文本或网页.*另存为 \.xlsx"),
        ("html", ".xls", r"不是 xls 工作簿（内容是文本或网页"),
        ("empty", ".xls", r"不是 xls 工作簿（内容是空文件"),
        ("zip", ".ods", r"不是 ods 工作簿（是其他软件的压缩包"),
        ("truncated", ".xls", r"损坏"),
    ],
)
def test_renamed_or_fake_file_gets_a_clear_message(saved, tmp_path, source, suffix, pattern):
    path = tmp_path / "ledgers" / str(YEAR) / f"{UNIT}{suffix}"
    path.parent.mkdir(parents=True)
    if source in FORMS:
        shutil.copyfile(saved[source], path)
    elif source == "text":
        path.write_text("档案编号,姓名\nDA1,张三\n", encoding="utf-8")
    elif source == "html":
        path.write_text("<html><table><tr><td>档案编号</td></tr></table></html>", "utf-8")
    elif source == "empty":
        path.write_bytes(b"")
    elif source == "zip":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("readme.txt", "hello")
    else:
        data = saved["xls"].read_bytes()
        path.write_bytes(data[:1000])
    with pytest.raises(R.LedgerRejected, match=pattern) as exc:
        _read(path, tmp_path)
    assert exc.value.path == f"ledgers/{YEAR}/{UNIT}{suffix}"


# ====================================================================== discovery
def test_every_workbook_form_is_discovered(tmp_path):
    ledgers = tmp_path / "ledgers" / str(YEAR)
    ledgers.mkdir(parents=True)
    codes = {"330101", "330102", "330103", "330104"}
    for code, suffix in zip(sorted(codes), (".xlsx", ".xlsm", ".xls", ".ODS"), strict=True):
        (ledgers / f"{code}{suffix}").write_bytes(b"")
    found, rejected = R.discover_ledgers(tmp_path, codes)
    assert rejected == []
    assert [(f.unit_code, f.form) for f in found] == [
        ("330101", "xlsx"),
        ("330102", "xlsm"),
        ("330103", "xls"),
        ("330104", "ods"),
    ]


def test_a_unit_year_in_several_forms_is_rejected_naming_every_file(tmp_path):
    ledgers = tmp_path / "ledgers" / str(YEAR)
    (ledgers / UNIT).mkdir(parents=True)
    for suffix in (".xlsx", ".xls", ".ods"):
        (ledgers / f"{UNIT}{suffix}").write_bytes(b"")
    found, rejected = R.discover_ledgers(tmp_path, {UNIT})
    assert found == []
    (r,) = rejected
    assert (r.year, r.unit_code) == (YEAR, UNIT)
    assert "四种形式" in r.message
    for name in (f"{UNIT}.xlsx", f"{UNIT}.xls", f"{UNIT}.ods", f"{UNIT} "):
        assert f"ledgers/{YEAR}/{name}" in r.message + " "


@pytest.mark.parametrize(
    ("suffix", "what"),
    [(".et", "WPS 表格文件"), (".numbers", "Apple Numbers"), (".pdf", "PDF 文件")],
)
def test_unreadable_formats_say_what_to_do(tmp_path, suffix, what):
    ledgers = tmp_path / "ledgers" / str(YEAR)
    ledgers.mkdir(parents=True)
    (ledgers / f"{UNIT}{suffix}").write_bytes(b"%PDF-1.4 or whatever")
    (ledgers / f"330103{suffix}").write_bytes(b"beside a readable ledger")
    write_xlsx(ledgers / "330103.xlsx")
    found, rejected = R.discover_ledgers(tmp_path, {UNIT, "330103"})
    assert [f.unit_code for f in found] == ["330103"]
    by_path = {r.path: r for r in rejected}
    alone = by_path[f"ledgers/{YEAR}/{UNIT}{suffix}"]
    # the unit's only file: its partition is refused, saying what to do
    assert (alone.year, alone.unit_code) == (YEAR, UNIT)
    assert what in alone.message and "另存为 .xlsx" in alone.message
    assert f"ledgers/{YEAR}/{UNIT}{suffix}" in alone.message
    # beside a readable ledger it is reported, and the ledger is read
    beside = by_path[f"ledgers/{YEAR}/330103{suffix}"]
    assert beside.unit_code is None and "另存为 .xlsx" in beside.message
    # read_ledger on such a file refuses it the same way
    with pytest.raises(R.LedgerRejected, match="另存为 .xlsx"):
        _read(ledgers / f"{UNIT}{suffix}", tmp_path)


# ====================================================================== the generator's ledgers
def _pick_ledgers(landing: Path, n: int = 3) -> list[tuple[int, str]]:
    """The generator's .xlsx ledgers of one year with the most kinds of quarantined rows (lost
    ID digits first), so the comparison covers what bad rows the generator plants."""
    q = pl.read_csv(landing / "truth" / "quarantine.csv", schema_overrides={"unit_code": pl.String})
    q = q.filter(pl.col("source_file").str.ends_with(".xlsx"))
    ranked = (
        q.group_by("year", "unit_code")
        .agg(
            ids=(pl.col("kind") == "id_lost_digits").any(),
            kinds=pl.col("kind").n_unique(),
        )
        .sort(["ids", "kinds", "year", "unit_code"], descending=[True, True, False, False])
    )
    year = ranked["year"][0]  # one year folder: one LibreOffice start per form
    ranked = ranked.filter(pl.col("year") == year)
    return [(int(y), u) for y, u in ranked.select("year", "unit_code").head(n).iter_rows()]


def _ingest_landing(landing: Path, data: Path, keys, units: set[str]) -> dict:
    wh = Warehouse(f"sqlite:///{data / 'warehouse.db'}")
    wh.create_all()
    lake = Lake(data / "lake")
    outcomes = ingest_partitions(
        landing=landing,
        lake=lake,
        warehouse=wh,
        scan=LandingScan.scan(landing, units),
        keys=keys,
        processes=1,
    )
    out = {"status": {(o.year, o.unit_code): o.status for o in outcomes}}
    for y, u in keys:
        for spec in LEDGER_SHEETS:
            if lake.has(spec.key, y, u):
                out[(spec.key, y, u)] = _without_source(pl.read_parquet(lake.path(spec.key, y, u)))
    order = ["year", "unit_code", "sheet"]
    out["ingest_log"] = _without_source(
        wh.read(tables.ingest_log).drop("ingested_at", strict=False)
    ).sort(order)
    out["quarantine"] = _without_source(wh.read(tables.quarantine)).sort([*order, "row_number"])
    out["quarantine_files"] = set(wh.read(tables.quarantine)["source_file"])
    wh.dispose()
    return out


@pytest.mark.office
def test_generated_ledgers_saved_in_each_form_ingest_alike(s_landing, tmp_path):
    """The lake and the warehouse's ingest_log and quarantine of the generator's ledgers equal,
    row for row, those of the same ledgers saved by LibreOffice as .xlsx, .xls and .ods."""
    _need_soffice()
    keys = _pick_ledgers(s_landing)
    units = set(pl.read_csv(s_landing / "reference" / "units.csv", infer_schema=False)[:, 0])
    originals = [s_landing / "ledgers" / str(y) / f"{u}.xlsx" for y, u in keys]

    def landing_with(form: str | None) -> Path:
        landing = tmp_path / (form or "original")
        shutil.copytree(s_landing / "reference", landing / "reference")
        for year in sorted({y for y, _u in keys}):
            ydir = landing / "ledgers" / str(year)
            ydir.mkdir(parents=True)
            srcs = [p for (y, _u), p in zip(keys, originals, strict=True) if y == year]
            if form is None:
                for src in srcs:
                    shutil.copyfile(src, ydir / src.name)
            else:  # one LibreOffice start per year folder
                office.convert(srcs, form, ydir)
        return landing

    want = _ingest_landing(landing_with(None), tmp_path / "data-original", keys, units)
    assert set(want["status"].values()) == {"ok"}
    assert want["quarantine"].height > 0
    for form in FORMS:
        got = _ingest_landing(landing_with(form), tmp_path / f"data-{form}", keys, units)
        assert got["status"] == want["status"], form
        assert got.keys() == want.keys(), form
        for k, frame in want.items():
            if isinstance(frame, pl.DataFrame):
                assert got[k].equals(frame), (form, k)
        assert {p.rsplit(".", 1)[1] for p in got["quarantine_files"]} == {form}


@pytest.mark.office
@pytest.mark.slow
def test_generator_writes_a_share_of_its_ledgers_in_each_form(tmp_path):
    """`bangfu generate --formats xls=…,ods=…`: those ledgers are LibreOffice's .xls and .ods,
    named so in the truth, and the ingest reads them as the truth says."""
    _need_soffice()
    from bangfu.generate.landing import generate

    landing = tmp_path / "landing"
    generate(landing, scale="S", seed=0, years=(2019,), workbook_shares={"xls": 0.4, "ods": 0.4})
    files = sorted((landing / "ledgers" / "2019").iterdir())
    suffixes = {p.suffix for p in files if p.is_file()}
    assert {".xls", ".ods"} <= suffixes
    truth = pl.read_csv(
        landing / "truth" / "ingest.csv", schema_overrides={"unit_code": pl.String}
    ).sort("year", "unit_code", "sheet")
    assert {p.suffix for p in map(Path, truth["source_file"])} >= {".xls", ".ods"}
    units = set(pl.read_csv(landing / "reference" / "units.csv", infer_schema=False)[:, 0])
    keys = sorted({(int(y), u) for y, u in truth.select("year", "unit_code").iter_rows()})
    got = _ingest_landing(landing, tmp_path / "data", keys, units)
    counts = ["year", "unit_code", "sheet", "rows_read", "rows_kept", "rows_quarantined"]
    assert got["ingest_log"].select(counts).equals(truth.select(counts))
