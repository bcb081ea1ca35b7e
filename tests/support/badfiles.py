"""A bad-input corpus made by code (issue #7): no committed binaries.

:func:`build_corpus` takes a small valid landing folder (scale S, two years, half the unit-years
in the CSV form) and plants one hostile or broken file per victim unit-year, plus the misplaced
files that name no unit. Every plant is recorded as a :class:`Planted` row saying what the
pipeline must do with it (reject the file, reject it as an orphan, keep the rows with a warning,
quarantine a row) and a regular expression its message must match.

The units.csv cases (a cycle, a missing parent) are tiny landings of their own:
:func:`units_landing`. :func:`run_cli` runs `bangfu …` in this process, recording what it opened.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import shutil
import struct
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest

from bangfu.sheets import LEDGER_SHEETS

YEARS = (2018, 2019)
BOMB_BYTES = 256 * 1024**2  # declared uncompressed size: past the 200 MB default limit
LONG_CELL = 2_000_000  # the case: past csv's default field limit too
LONG_CELL_OK = 40_000  # past Excel's 32,767, under csv's default 131,072
UNKNOWN_CODE = "999999"
_SPACES = re.compile(r"[\s\u3000\u200b\u200c\u200d\u2060\ufeff]")
SPECS = {s.key: s for s in LEDGER_SHEETS}


@dataclass(frozen=True)
class Planted:
    kind: str
    year: int | None
    unit: str | None  # the partition it belongs to; None for orphans that name no unit
    path: str  # as the pipeline names it: relative to landing, '/'-separated
    outcome: str  # rejected | orphan | kept | quarantined
    reason: str  # regex the message must match
    note: str = ""


@dataclass
class Corpus:
    landing: Path
    outside: Path  # a folder outside the landing (symlink targets)
    planted: list[Planted] = field(default_factory=list)
    good: list[tuple[int, str]] = field(default_factory=list)  # untouched unit-years
    forms: dict[tuple[int, str], str] = field(default_factory=dict)  # original form
    extra: dict[str, object] = field(default_factory=dict)

    def by_kind(self, kind: str) -> Planted:
        return next(p for p in self.planted if p.kind == kind)

    @property
    def truth_ingest(self) -> pl.DataFrame:
        return pl.read_csv(self.landing / "truth" / "ingest.csv", infer_schema_length=0).cast(
            {"year": pl.Int64, "rows_read": pl.Int64, "rows_kept": pl.Int64}
        )


# ====================================================================== base landing
def generate_base(out: Path) -> Path:
    """Scale S, seed 0, 2018–2019, half CSV: 11 units × 2 years."""
    from bangfu.generate.landing import generate

    generate(out, scale="S", seed=0, years=YEARS, csv_share=0.5)
    return out


def ledger_forms(landing: Path) -> dict[tuple[int, str], str]:
    out = {}
    for ydir in sorted((landing / "ledgers").iterdir()):
        for e in sorted(ydir.iterdir()):
            out[(int(ydir.name), e.stem)] = "csv" if e.is_dir() else "xlsx"
    return out


# ====================================================================== CSV helpers
def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("gb18030"), "gb18030"


def _encode(text: str, enc: str) -> bytes:
    return (b"\xef\xbb\xbf" + text.encode("utf-8")) if enc == "utf-8-sig" else text.encode(enc)


def sheet_csv(folder: Path, key: str) -> Path:
    """The CSV file of a sheet (file names may carry stray spaces)."""
    title = SPECS[key].title
    return next(p for p in folder.iterdir() if _SPACES.sub("", p.stem) == title)


def read_csv_rows(path: Path) -> tuple[list[list[str]], str, str]:
    text, enc = _decode(path.read_bytes())
    eol = "\r\n" if "\r\n" in text else "\n"
    return list(csv.reader(io.StringIO(text, newline=""))), enc, eol


def write_csv_rows(path: Path, rows: list[list[str]], enc: str, eol: str) -> None:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator=eol).writerows(rows)
    path.write_bytes(_encode(buf.getvalue(), enc))


def header_index(rows: list[list[str]], key: str) -> tuple[int, dict[str, int]]:
    """(index of the header row, canonical name → column index) for sheet ``key``."""
    spec = SPECS[key]
    aliases = spec.header_aliases()
    required = {c.name for c in spec.required_columns}
    for i, row in enumerate(rows[:20]):
        mapping: dict[str, int] = {}
        for j, cell in enumerate(row):
            name = aliases.get(_SPACES.sub("", cell))
            if name is not None and name not in mapping:
                mapping[name] = j
        if required <= set(mapping):
            return i, mapping
    raise AssertionError(f"no header row in {key}")


def kept_rows(landing: Path, year: int, unit: str, sheet: str) -> set[int]:
    """Row numbers of data rows the generator's truth says are kept (located, not quarantined)."""
    loc = pl.read_csv(landing / "truth" / "locations.csv", infer_schema_length=0)
    q = pl.read_csv(landing / "truth" / "quarantine.csv", infer_schema_length=0)
    f = (pl.col("year") == str(year)) & (pl.col("unit_code") == unit) & (pl.col("sheet") == sheet)
    located = {int(x) for x in loc.filter(f)["row_number"]}
    return located - {int(x) for x in q.filter(f)["row_number"]}


def _edit_csv(
    landing: Path,
    year: int,
    unit: str,
    key: str,
    edit: Callable[[list[list[str]], int, dict], None],
) -> Path:
    path = sheet_csv(landing / "ledgers" / str(year) / unit, key)
    rows, enc, eol = read_csv_rows(path)
    h, mapping = header_index(rows, key)
    edit(rows, h, mapping)
    write_csv_rows(path, rows, enc, eol)
    return path


def _data_row_indices(rows, h, mapping, landing, year, unit, key) -> list[int]:
    """Indices into ``rows`` of kept data rows (line number = index + 1, no multi-line cells)."""
    kept = kept_rows(landing, year, unit, SPECS[key].title)
    return [i for i in range(h + 1, len(rows)) if i + 1 in kept]


# ====================================================================== xlsx helpers
def rename_sheet(path: Path, old_title: str, new_name: str) -> None:
    """Rename a sheet inside an xlsx by rewriting xl/workbook.xml (data untouched)."""
    src = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("workbook.xml"):
                text = data.decode("utf-8")
                text, n = re.subn(
                    r'name="([^"]*)"',
                    lambda m: f'name="{new_name}"' if _SPACES.sub("", m[1]) == old_title else m[0],
                    text,
                )
                assert new_name in text, "sheet not found"
                data = text.encode("utf-8")
            dst.writestr(info, data)
    path.write_bytes(buf.getvalue())


def write_zip_bomb(path: Path, declared: int = BOMB_BYTES) -> None:
    """A real deflate bomb: a few hundred KB on disk, ``declared`` bytes once inflated, with just
    enough of an xlsx package (workbook.xml, rels) to look like a workbook."""
    wb = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="救助发放明细" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/></Relationships>'
    )
    chunk = b"\0" * (4 * 1024**2)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", wb)
        zf.writestr("xl/_rels/workbook.xml.rels", rels)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as w:
            for _ in range(declared // len(chunk)):
                w.write(chunk)


def write_xls_bomb(path: Path, declared: int = 3 * 1024**3) -> None:
    """A 1.5 kB compound document (the .xls container) whose one stream, ``Workbook``, declares
    ``declared`` bytes: a reader that trusts it would allocate that much."""
    end, free, fat_sect = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 0x28, 0, 1, 1, 0, 4096, end, 0, end, 0)
    struct.pack_into("<109I", header, 0x4C, 0, *([free] * 108))  # FAT in sector 0
    fat = struct.pack("<128I", fat_sect, end, *([free] * 126))  # directory in sector 1
    directory = bytearray(512)
    for i, (name, kind, child, size) in enumerate(
        [("Root Entry", 5, 1, 0), ("Workbook", 2, free, declared)]
    ):
        entry = memoryview(directory)[i * 128 : (i + 1) * 128]
        raw = name.encode("utf-16-le") + b"\0\0"
        entry[: len(raw)] = raw
        struct.pack_into("<HBB", entry, 64, len(raw), kind, 1)
        struct.pack_into("<III", entry, 68, free, free, child)
        struct.pack_into("<IQ", entry, 116, end if kind == 5 else 2, size)
    for i in (2, 3):  # unused entries
        struct.pack_into("<III", directory, i * 128 + 68, free, free, free)
    path.write_bytes(bytes(header) + fat + bytes(directory) + b"\0" * 512)


def write_empty_workbook(path: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("Sheet1")
    wb.close()


def _replace(entry: Path) -> None:
    """Remove a unit-year ledger in whichever form it is."""
    if entry.is_symlink() or entry.is_file():
        entry.unlink()
    elif entry.is_dir():
        shutil.rmtree(entry)


def _entry(landing: Path, year: int, unit: str) -> Path:
    base = landing / "ledgers" / str(year)
    return base / unit if (base / unit).is_dir() else base / f"{unit}.xlsx"


# ====================================================================== the corpus
def build_corpus(landing: Path, outside: Path) -> Corpus:
    """Plant the bad files into ``landing`` (a fresh :func:`generate_base` folder)."""
    landing, outside = Path(landing), Path(outside)
    outside.mkdir(parents=True, exist_ok=True)
    forms = ledger_forms(landing)
    corpus = Corpus(landing=landing, outside=outside, forms=dict(forms))
    xlsx = [k for k, f in sorted(forms.items()) if f == "xlsx"]
    csvs = [k for k, f in sorted(forms.items()) if f == "csv"]
    # a healthy xlsx and CSV folder to copy from (kept good: never victims)
    donor_xlsx, donor_csv = xlsx.pop(0), csvs.pop(0)
    donor_xlsx_path = _entry(landing, *donor_xlsx)
    donor_csv_path = _entry(landing, *donor_csv)
    used: set[tuple[int, str]] = set()
    add = corpus.planted.append

    def take(pool: list[tuple[int, str]], pred=lambda k: True) -> tuple[int, str]:
        k = next(k for k in pool if k not in used and pred(k))
        used.add(k)
        return k

    def rel(p: Path) -> str:
        return p.relative_to(landing).as_posix()

    # --- a year folder holding another year's ledger: 2019/U is the 2018 ledger of U
    y, u = take(xlsx, lambda k: k[0] == 2019 and forms.get((2018, k[1])) == "xlsx")
    _replace(_entry(landing, y, u))
    shutil.copyfile(_entry(landing, 2018, u), landing / "ledgers" / "2019" / f"{u}.xlsx")
    add(
        Planted(
            "other_year",
            y,
            u,
            f"ledgers/{y}/{u}.xlsx",
            "kept",
            "",
            note=f"the 2018 ledger of {u} filed under 2019",
        )
    )
    corpus.extra["other_year_source"] = (2018, u)

    # --- xlsx victims
    y, u = take(xlsx)
    p = _entry(landing, y, u)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) * 3 // 5])
    add(Planted("truncated_xlsx", y, u, rel(p), "rejected", r"损坏|corrupt"))

    y, u = take(xlsx)
    p = _entry(landing, y, u)
    p.write_text(
        "<html><body><table><tr><td>发放编号</td><td>金额</td></tr>"
        "<tr><td>FF1</td><td>100</td></tr></table></body></html>",
        encoding="utf-8",
    )
    add(Planted("not_xlsx", y, u, rel(p), "rejected", r"不是 xlsx|not an xlsx"))

    y, u = take(xlsx)
    p = _entry(landing, y, u)
    write_zip_bomb(p)
    add(Planted("zip_bomb", y, u, rel(p), "rejected", r"压缩炸弹|refused without inflating"))

    y, u = take(xlsx)
    p = _entry(landing, y, u)
    write_empty_workbook(p)
    add(Planted("empty_workbook", y, u, rel(p), "rejected", r"缺少必需工作表.*困难职工档案"))

    y, u = take(xlsx)
    p = _entry(landing, y, u)
    rename_sheet(p, "会计明细账", "会计账簿")
    add(Planted("sheet_renamed", y, u, rel(p), "rejected", r"缺少必需工作表：会计明细账"))

    y, u = take(xlsx)
    p = _entry(landing, y, u)
    target = outside / f"secret_{y}_{u}.xlsx"
    shutil.copyfile(p, target)
    p.unlink()
    p.symlink_to(target)
    corpus.extra["symlink_target"] = target
    add(Planted("symlink_outside", y, u, rel(p), "rejected", r"落地目录之外|outside the landing"))

    # --- both forms: the xlsx of U and a CSV folder of U in the same year
    y, u = take(xlsx)
    p = _entry(landing, y, u)
    shutil.copytree(donor_csv_path, p.parent / u)
    add(
        Planted(
            "both_forms",
            y,
            u,
            rel(p.parent / u),
            "rejected",
            rf"两种形式.*ledgers/{y}/{u}\b.*ledgers/{y}/{u}",
        )
    )

    # --- the other workbook forms (issue #20): a hostile .xls, an .et sent instead of a ledger
    y, u = take(csvs)
    _replace(_entry(landing, y, u))
    p = landing / "ledgers" / str(y) / f"{u}.xls"
    write_xls_bomb(p)
    add(Planted("xls_bomb", y, u, rel(p), "rejected", r"超过上限.*refused unread"))

    y, u = take(csvs)
    _replace(_entry(landing, y, u))
    p = landing / "ledgers" / str(y) / f"{u}.et"
    p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 WPS")
    add(Planted("wps_et", y, u, rel(p), "rejected", r"WPS 表格文件.*另存为 \.xlsx"))

    # --- CSV victims
    y, u = take(csvs)

    def drop_amount(rows, h, mapping):
        j = mapping["amount"]
        for r in rows:
            if len(r) > j:
                del r[j]

    p = _edit_csv(landing, y, u, "payments", drop_amount)
    add(Planted("missing_column", y, u, rel(p), "rejected", r"救助发放明细.*缺少必需列：金额"))

    y, u = take(csvs)
    dup_value: list[str] = []

    def dup_payment_no(rows, h, mapping):
        j = mapping["payment_no"]
        a, b = _data_row_indices(rows, h, mapping, landing, y, u, "payments")[:2]
        rows[b][j] = rows[a][j]
        dup_value.append(rows[a][j])

    p = _edit_csv(landing, y, u, "payments", dup_payment_no)
    corpus.extra["dup_payment_no"] = dup_value[0]
    add(Planted("dup_payment_no", y, u, rel(p), "kept", r"发放编号有 1 个重复值"))

    y, u = take(csvs)

    def dup_header(rows, h, mapping):
        # a second 姓名 column at the end, holding something else on the data rows
        data = set(_data_row_indices(rows, h, mapping, landing, y, u, "payments"))
        for i, r in enumerate(rows):
            r.append("姓名" if i == h else ("张三" if i in data else ""))

    p = _edit_csv(landing, y, u, "payments", dup_header)
    add(Planted("dup_header", y, u, rel(p), "kept", r"表头“姓名”重复"))

    y, u = take(csvs)
    p = sheet_csv(landing / "ledgers" / str(y) / u, "archive")
    text, _enc = _decode(p.read_bytes())
    p.write_bytes(text.encode("big5", errors="replace"))
    add(Planted("big5_csv", y, u, rel(p), "rejected", r"不是 UTF-8 或 GB18030|neither UTF-8"))

    y, u = take(csvs)
    p = sheet_csv(landing / "ledgers" / str(y) / u, "ledger")
    text, _enc = _decode(p.read_bytes())
    p.write_bytes(text.encode("utf-16"))
    add(Planted("utf16_csv", y, u, rel(p), "rejected", r"UTF-16"))

    y, u = take(csvs)
    p, line = plant_long_cell(landing, y, u, LONG_CELL_OK)
    corpus.extra["long_cell_line"] = line
    add(
        Planted(
            "long_cell",
            y,
            u,
            rel(p),
            "quarantined",
            r"32767",
            note=f"a {LONG_CELL_OK}-character 摘要 on line {line}",
        )
    )

    # --- files that name no unit: orphans
    y, u = donor_xlsx  # a PDF beside a readable ledger: reported, the ledger read
    p = landing / "ledgers" / str(y) / f"{u}.pdf"
    p.write_bytes(b"%PDF-1.4\n")
    add(Planted("pdf_beside", y, None, rel(p), "orphan", r"PDF 文件.*另存为 \.xlsx"))

    y = YEARS[-1]
    p = landing / "ledgers" / str(y) / f"{UNKNOWN_CODE}.xlsx"
    shutil.copyfile(donor_xlsx_path, p)
    add(Planted("unknown_code", y, None, rel(p), "orphan", r"不是机构名录中的单位代码"))

    folder = landing / "ledgers" / f"{y}备份"
    folder.mkdir()
    p = folder / f"{donor_xlsx[1]}.xlsx"
    shutil.copyfile(donor_xlsx_path, p)
    add(Planted("not_a_year", None, None, rel(folder), "orphan", r"不是年度文件夹"))

    corpus.good = sorted(k for k in forms if k not in used)
    return corpus


def plant_long_cell(
    landing: Path, year: int, unit: str, length: int = LONG_CELL
) -> tuple[Path, int]:
    """Put a ``length``-character 摘要 into a kept row of a CSV 会计明细账; → (file, line)."""
    where: list[int] = []

    def long_memo(rows, h, mapping):
        i = _data_row_indices(rows, h, mapping, landing, year, unit, "ledger")[0]
        rows[i][mapping["memo"]] = "长" * length
        where.append(i + 1)

    p = _edit_csv(landing, year, unit, "ledger", long_memo)
    return p, where[0]


# ====================================================================== units.csv cases
def units_landing(
    base: Path, out: Path, mutate: Callable[[list[list[str]]], None], ledger: Path
) -> Path:
    """A tiny landing: the reference files of ``base`` with units.csv edited by ``mutate``, and
    one xlsx ``ledger`` (so that "no ledger was read" means something)."""
    out = Path(out)
    shutil.copytree(base / "reference", out / "reference")
    ydir = out / "ledgers" / str(YEARS[-1])
    ydir.mkdir(parents=True)
    shutil.copyfile(ledger, ydir / ledger.name)
    path = out / "reference" / "units.csv"
    rows, enc, eol = read_csv_rows(path)
    mutate(rows)
    write_csv_rows(path, rows, enc, eol)
    return out


# ====================================================================== `bangfu …` in-process
class _Tee(io.TextIOBase):
    """Writes to a text buffer and to the process's standard error file: Dagster's log lines
    are kept for the test AND reach the step's captured log (Dagster captures the file
    descriptor, as it does in a real `bangfu run`), which the UI shows."""

    def __init__(self, kept: io.StringIO):
        self.kept = kept

    def write(self, text: str) -> int:
        self.kept.write(text)
        sys.__stderr__.write(text)
        return len(text)

    def flush(self) -> None:
        sys.__stderr__.flush()

    def fileno(self) -> int:  # Dagster captures a step's output by this descriptor
        return sys.__stderr__.fileno()


def run_cli(argv: list[str], home: Path, watch: list[Path] = ()) -> dict:
    """`bangfu …` in-process with its own DAGSTER_HOME; stdout, stderr and files opened."""
    from bangfu.cli import main

    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as mp,
        OpenRecorder(*watch) as rec,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(_Tee(err)),
    ):
        mp.setenv("DAGSTER_HOME", str(home))
        mp.delenv("BANGFU_WAREHOUSE_URL", raising=False)
        t = time.perf_counter()
        code = main(argv)
        seconds = time.perf_counter() - t
    return {
        "code": code,
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
        "opened": rec.opened,
        "seconds": seconds,
    }


# ====================================================================== "was it read?"
class OpenRecorder:
    """Records every file the process opens under ``roots`` (``open`` audit events: builtins.open,
    io.open, os.open, Path.read_bytes …) while active. Audit hooks cannot be removed, so one
    hook is installed once and stays idle outside ``with`` blocks."""

    _active: list[OpenRecorder] = []
    _installed = False

    def __init__(self, *roots: Path):
        self.roots = [str(Path(r).resolve()) for r in roots]
        self.opened: list[str] = []

    @classmethod
    def _hook(cls, event: str, args: tuple) -> None:
        if event != "open" or not cls._active or not args:
            return
        path = args[0]
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        if not isinstance(path, str):
            return  # a file descriptor
        for rec in cls._active:
            if any(path.startswith(r) for r in rec.roots):
                rec.opened.append(path)

    def __enter__(self) -> OpenRecorder:
        if not OpenRecorder._installed:
            import sys

            sys.addaudithook(OpenRecorder._hook)
            OpenRecorder._installed = True
        OpenRecorder._active.append(self)
        return self

    def __exit__(self, *exc) -> None:
        OpenRecorder._active.remove(self)
