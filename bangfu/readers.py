"""One generic reader for every ledger sheet and reference file, driven by bangfu.sheets.

Workbooks (.xlsx, .xlsm, .xls, .ods) go through fastexcel (calamine), after the container checks
of bangfu.workbook_files; CSV is decoded as UTF-8 (with or without BOM) or
GB18030, anything else is refused. Cells are parsed with whole-column polars expressions
(bangfu.parse) and checked with the pandera models of checks.schemas; a row that fails becomes
exactly one quarantine row. Nothing here imports Dagster.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import functools
import hashlib
import io
import logging
import os
import re
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree as ET

import fastexcel
import pandera.errors as pa_errors
import polars as pl

from bangfu import parse as P
from bangfu import workbook_files as W
from bangfu.frames import INGEST_LOG_SCHEMA, QUARANTINE_SCHEMA, sheet_schema
from bangfu.sheets import (
    CIVIL_ROSTER,
    LEDGER_SHEETS,
    STANDARDS,
    TOTAL_MARKERS,
    UNITS,
    SheetSpec,
)
from checks.schemas import DATAFRAME_CHECK_COLUMNS, schema_for

_log = logging.getLogger(__name__)

HEADER_SEARCH_ROWS = 20
DEFAULT_MAX_UNCOMPRESSED = 200 * 1024**2


# ====================================================================== results and errors
class LedgerRejected(Exception):
    """The whole file is refused; the message (Chinese, then English) names the file."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


class ReferenceDataError(Exception):
    """A reference file (units.csv …) is unusable: the run stops before any ledger is read."""


class _MissingColumns(Exception):
    def __init__(self, spec: SheetSpec, missing: list[str]):
        self.spec = spec
        self.missing = missing
        super().__init__("、".join(missing))


class _BadEncoding(Exception):
    pass


@dataclass
class SheetResult:
    spec: SheetSpec
    source_file: str  # relative to landing, '/'-separated
    source_sha256: str
    frame: pl.DataFrame  # frames.sheet_schema(spec)
    quarantine: pl.DataFrame  # QUARANTINE_SCHEMA
    rows_read: int
    rows_kept: int
    rows_quarantined: int
    rows_skipped: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class LedgerResult:
    year: int
    unit_code: str
    source_file: str
    form: str  # 'xlsx' | 'xlsm' | 'xls' | 'ods' | 'csv'
    sheets: dict[str, SheetResult]  # by SheetSpec.key
    log: pl.DataFrame  # INGEST_LOG_SCHEMA, one row per sheet read
    warnings: list[str]  # ledger-level warnings (sheet warnings stay on each SheetResult)


@dataclass(frozen=True)
class LedgerFile:
    year: int
    unit_code: str
    path: Path
    form: str  # 'xlsx' | 'xlsm' | 'xls' | 'ods' | 'csv'


@dataclass(frozen=True)
class Rejection:
    year: int | None
    unit_code: str | None
    path: str  # relative to landing, '/'-separated
    message: str


# ====================================================================== paths
def _rel(path: Path, landing: Path) -> str:
    try:
        return PurePosixPath(Path(path).absolute().relative_to(Path(landing).absolute())).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _inside(path: Path, landing: Path) -> bool:
    """True when the path, after following every link, stays inside the landing folder."""
    try:
        return Path(path).resolve().is_relative_to(Path(landing).resolve())
    except (OSError, RuntimeError):  # link loops
        return False


def _outside_message(rel: str) -> str:
    return (
        f"文件是指向落地目录之外的链接，拒绝读取 / the file links outside the landing folder: {rel}"
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _norm_name(s: str) -> str:
    return re.sub(P.SPACE_PATTERN, "", s or "")


# ====================================================================== raw tables
@dataclass
class _Raw:
    """A sheet as rows of strings: columns c0..cN, ``__row`` (Excel row / CSV line), and for
    ID columns read with their cell type a Boolean ``n<j>`` (cell was not text)."""

    frame: pl.DataFrame
    header_row: int  # row number of the header (Excel / CSV numbering)
    mapping: dict[str, int]  # canonical name → column index j of c<j>
    warnings: list[str]


def _detect_header(
    rows: Iterable[tuple[int, list[str | None]]], spec: SheetSpec
) -> tuple[int, dict[str, int], list[str]]:
    """First of rows 1–20 holding every required column (after synonyms, spaces removed)."""
    aliases = spec.header_aliases()
    required = {c.name for c in spec.required_columns}
    best: tuple[int, set[str]] = (-1, set())
    for row_no, cells in rows:
        if row_no > HEADER_SEARCH_ROWS:
            break
        mapping: dict[str, int] = {}
        dups: list[str] = []
        for j, cell in enumerate(cells):
            if cell is None:
                continue
            name = aliases.get(_norm_name(str(cell)))
            if name is None:
                continue
            if name in mapping:
                dups.append(_norm_name(str(cell)))
            else:
                mapping[name] = j
        found = set(mapping)
        if required <= found:
            warnings = [
                f"{spec.title}：表头“{d}”重复，使用第一个同名列 / duplicate header, first one used"
                for d in dups
            ]
            return row_no, mapping, warnings
        if len(found & required) > len(best[1]):
            best = (row_no, found & required)
    missing = [c.header for c in spec.required_columns if c.name not in best[1]]
    raise _MissingColumns(spec, missing)


def _raw_from_rows(row_nos: list[int], rows: list[list[str | None]]) -> pl.DataFrame:
    width = max((len(r) for r in rows), default=0)
    cols = {f"c{j}": [r[j] if j < len(r) else None for r in rows] for j in range(width)}
    cols["__row"] = row_nos
    return pl.DataFrame(cols, schema={**{k: pl.String for k in cols}, "__row": pl.Int64})


# ---------------------------------------------------------------------- CSV
def _decode_csv(data: bytes, rel: str) -> tuple[str, str]:
    """(text, encoding). UTF-8 with/without BOM, else GB18030; UTF-16 & co. refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        raise _BadEncoding(
            f"CSV 文件编码不是 UTF-8 或 GB18030（疑似 UTF-16），拒绝读取 / "
            f"CSV is not UTF-8 or GB18030 (looks like UTF-16): {rel}"
        )
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    else:
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            pass
        else:
            if not _looks_mojibake(text):
                return text, "gb18030"
            raise _BadEncoding(
                f"CSV 文件编码不是 UTF-8 或 GB18030（疑似 Big5 等其他编码），拒绝读取 / "
                f"CSV is neither UTF-8 nor GB18030 (Big5 or another encoding?): {rel}"
            )
    raise _BadEncoding(
        f"CSV 文件编码不是 UTF-8 或 GB18030，拒绝读取 / CSV is neither UTF-8 nor GB18030: {rel}"
    )


def _looks_mojibake(text: str, sample: int = 20_000) -> bool:
    """Bytes of another double-byte encoding (Big5 …) decode as GB18030 without error but into
    mostly rare characters: more than a quarter outside GB2312 means it is not GB text."""
    chars = _ASCII.sub("", text[: sample * 4])[:sample]
    if not chars:
        return False
    # every non-ASCII character GB2312 has is two bytes in it: the rest are the rare ones
    rare = len(chars) - len(chars.encode("gb2312", errors="ignore")) // 2
    return rare > len(chars) / 4


_ASCII = re.compile(r"[\x00-\x7f]+")


def _csv_rows(text: str) -> tuple[list[int], list[list[str | None]]]:
    # the default field limit (131,072) would reject a whole file for one huge cell; the
    # reader quarantines cells over Excel's 32,767 characters row by row instead
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    reader = csv.reader(io.StringIO(text, newline=""))
    row_nos: list[int] = []
    rows: list[list[str | None]] = []
    last = 0
    for rec in reader:
        row_nos.append(last + 1)  # the line the record starts on
        last = reader.line_num
        rows.append([v if v != "" else None for v in rec])
    return row_nos, rows


# A CSV the csv module and polars' reader are known to split alike: every field either bare
# (no quote, comma or line break) or quoted with inner quotes doubled; lines end in \n or \r\n.
_WELL_QUOTED_CSV = (
    r'^(?:(?:"(?:[^"]|"")*"|[^",\r\n]*)(?:,(?:"(?:[^"]|"")*"|[^",\r\n]*))*(?:\r\n|\n|$))*$'
)
_CSV_WIDTHS = (32, 256)  # columns tried in turn; a wider file goes through the csv module


def _csv_frame_fast(text: str) -> pl.DataFrame | None:
    """The csv module's records (``_csv_rows``) as polars reads them, or None when polars might
    split the text differently (stray quotes, a lone carriage return, very wide rows). Row
    numbers: a record starts one line below where the previous one ended, and a record spans
    1 + the line breaks inside its quoted fields."""
    if not text or text.count("\r") != text.count("\r\n"):
        return None
    if text.startswith("\ufeff"):  # polars drops a leading BOM, the csv module keeps it
        return None
    quoted = '"' in text
    if quoted and not pl.Series([text]).str.contains(_WELL_QUOTED_CSV)[0]:
        return None
    data = text.encode("utf-8")
    df = None
    for width in _CSV_WIDTHS:  # a narrow schema is much cheaper; wider only when needed
        try:
            df = pl.read_csv(
                data,
                has_header=False,
                schema={f"c{j}": pl.String for j in range(width)},
                missing_columns="insert",
                raise_if_empty=False,
            )
        except (pl.exceptions.PolarsError, OSError, ValueError):
            continue
        break
    if df is None:
        return None
    width = _filled_width(df, quoted)
    cols = [f"c{j}" for j in range(width)]
    if not cols:  # nothing but blank lines
        return df.select(__row=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
    # as many lines as records: no record spans lines (no line break inside a quoted field)
    lines = text.count("\n") + (not text.endswith("\n"))
    if lines == df.height:
        row = pl.int_range(1, pl.len() + 1, dtype=pl.Int64)
    else:
        per_record = (
            pl.sum_horizontal(
                [pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in cols]
            ).cast(pl.Int64)
            + 1
        )
        row = per_record.cum_sum() - per_record + 1
    # polars reads an unquoted empty field as null; only a quoted empty field ("" between
    # separators or line ends) gives an empty string, which the csv module's reading makes None
    if quoted and _EMPTY_QUOTED.search(text):
        return df.select(*[pl.col(c).replace("", None) for c in cols], __row=row)
    return df.select(*cols, __row=row)


_EMPTY_QUOTED = re.compile(r'(?:^|,)""(?:,|\r?$)', re.M)


def _filled_width(df: pl.DataFrame, quoted: bool) -> int:
    """The csv module's width: the longest record, i.e. up to the last non-empty field.
    Null counts are known without a scan; only a quoted file can hold empty strings (""), so
    only there is a candidate column checked for a non-empty value."""
    nulls = df.null_count().row(0)
    for j in range(df.width - 1, -1, -1):
        if nulls[j] == df.height:
            continue
        if not quoted or df.get_column(f"c{j}").str.len_bytes().max():
            return j + 1
    return 0


# Below this many lines the csv module is the quicker reader: polars' read_csv has a fixed cost
# per file, larger than the csv module's whole read of a short sheet, and most of a county's
# eleven sheets are a few dozen lines; the two break even at about 1,000 lines.
CSV_MODULE_MAX_LINES = 1000


def _csv_frame(text: str) -> pl.DataFrame:
    """The raw frame of a CSV text: the csv module's records (``_csv_rows``); read by polars
    when the file is long enough for that to pay and is split alike (``_csv_frame_fast``)."""
    if text.count("\n") >= CSV_MODULE_MAX_LINES:
        fast = _csv_frame_fast(text)
        if fast is not None:
            return fast
    row_nos, rows = _csv_rows(text)
    return _raw_from_rows(row_nos, rows)


def _read_csv_raw(data: bytes, spec: SheetSpec, rel: str) -> _Raw:
    text, _encoding = _decode_csv(data, rel)
    raw = _csv_frame(text)
    head = raw.head(HEADER_SEARCH_ROWS).to_dict(as_series=False)  # no query per file
    row_nos = head.pop("__row")
    cells = [list(r) for r in zip(*head.values(), strict=True)] if head else [[] for _ in row_nos]
    header_row, mapping, warnings = _detect_header(zip(row_nos, cells, strict=True), spec)
    return _Raw(raw, header_row, mapping, warnings)


# ---------------------------------------------------------------------- xlsx
_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL_REF = re.compile(r"^([A-Z]+)([0-9]+)$")


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _xlsx_sheet_members(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → worksheet part inside the zip."""
    wb_name = next(n for n in zf.namelist() if n.endswith("workbook.xml"))
    base = PurePosixPath(wb_name).parent
    rels_name = (base / "_rels" / "workbook.xml.rels").as_posix()
    rels = {
        r.get("Id"): r.get("Target")
        for r in ET.fromstring(zf.read(rels_name)).iter(f"{_NS_PKG}Relationship")
    }
    out: dict[str, str] = {}
    for s in ET.fromstring(zf.read(wb_name)).iter(f"{_NS_MAIN}sheet"):
        target = rels.get(s.get(f"{_NS_REL}id"))
        if target is None:
            continue
        member = target.lstrip("/") if target.startswith("/") else (base / target).as_posix()
        out[s.get("name")] = member
    return out


def _peek_rows(
    zf: zipfile.ZipFile, member: str, sst: _SharedStrings | None = None
) -> list[tuple[int, dict[int, tuple[str, str]]]]:
    """The first rows (≤ 20) of a worksheet as {column index: (cell type, text)}, streaming
    the XML so a big sheet is not parsed here."""
    rows: list[tuple[int, dict[int, tuple[str, str]]]] = []
    sst_needed: set[int] = set()
    next_row = 1
    with zf.open(member) as fh:
        for el in _row_elements(fh):
            r = int(el.get("r") or next_row)
            next_row = r + 1
            if r > HEADER_SEARCH_ROWS:
                break
            cells: dict[int, tuple[str, str]] = {}
            next_col = 0
            for c in el.iter(f"{_NS_MAIN}c"):
                ref = _CELL_REF.match(c.get("r") or "")
                j = _col_index(ref.group(1)) if ref else next_col
                next_col = j + 1
                t = c.get("t") or "n"
                v = c.find(f"{_NS_MAIN}v")
                if t == "inlineStr":
                    text = "".join(x.text or "" for x in c.iter(f"{_NS_MAIN}t"))
                    cells[j] = ("str", text)
                elif v is not None and v.text is not None:
                    cells[j] = (t, v.text)
                    if t == "s":
                        sst_needed.add(int(v.text))
            rows.append((r, cells))
            el.clear()
            if r == HEADER_SEARCH_ROWS:
                break
    if sst_needed:
        sst = sst if sst is not None else _SharedStrings(zf)
        for _r, cells in rows:
            for j, (t, text) in list(cells.items()):
                if t == "s":
                    cells[j] = ("str", sst.get(int(text)))
    return rows


_PEEK_CHUNK = 4096  # the first 20 rows are a few kB: iterparse's 16 kB reads parsed far more


def _row_elements(fh) -> Iterator[ET.Element]:
    """The worksheet's ``<row>`` elements as they complete, reading the part a small chunk at a
    time so that stopping after the first rows parses little more than those rows."""
    parser = ET.XMLPullParser(events=("end",))
    tag = f"{_NS_MAIN}row"
    while chunk := fh.read(_PEEK_CHUNK):
        parser.feed(chunk)
        for _ev, el in parser.read_events():
            if el.tag == tag:
                yield el
    parser.close()
    for _ev, el in parser.read_events():
        if el.tag == tag:
            yield el


class _SharedStrings:
    """The workbook's shared strings, looked up by index for the peeks (a later sheet's headers
    sit deep in the table, after every earlier sheet's strings).

    Fast path: the part's bytes split once at each ``<si>`` and only the strings asked for parsed
    (a few dozen per sheet) — parsing every element up to a deep index would cost, for every
    workbook, time in proportion to the whole table. Parts this split cannot index safely (``<si>`` with attributes, empty ``<si/>``,
    prefixed tags, anything that fails to parse) are read by streaming the XML in order."""

    def __init__(self, zf: zipfile.ZipFile):
        self._zf = zf
        self._pieces: list[bytes] | None = None
        self._found: dict[int, str] = {}
        self._streamed: _StreamedStrings | None = None

    def get(self, i: int) -> str:
        if self._streamed is not None:
            return self._streamed.get(i)
        if i in self._found:
            return self._found[i]
        if self._pieces is None:
            self._pieces = self._split()
            if self._pieces is None:
                self._streamed = _StreamedStrings(self._zf)
                return self._streamed.get(i)
        if i >= len(self._pieces):
            return ""
        piece = self._pieces[i]
        end = piece.find(b"</si>")
        try:
            el = ET.fromstring(_SI_OPEN + (piece if end < 0 else piece[:end]) + b"</si>")
        except ET.ParseError:
            self._streamed = _StreamedStrings(self._zf)
            return self._streamed.get(i)
        self._found[i] = text = _si_text(el)
        return text

    def _split(self) -> list[bytes] | None:
        name = _shared_strings_name(self._zf)
        if name is None:
            return []
        data = self._zf.read(name)
        if _SI_UNUSUAL.search(data):
            return None
        return data.split(b"<si>")[1:]


_SI_OPEN = f'<si xmlns="{_NS_MAIN[1:-1]}">'.encode()
# <si> with attributes or self-closed, or any prefixed si: the split would miscount
_SI_UNUSUAL = re.compile(rb"<si[\s/]|<[A-Za-z_][\w.-]*:si[\s/>]")


def _shared_strings_name(zf: zipfile.ZipFile) -> str | None:
    return next((n for n in zf.namelist() if n.endswith("sharedStrings.xml")), None)


def _si_text(el: ET.Element) -> str:
    """The text of one <si>: its <t>, or its rich-text runs' <t>s (phonetic runs skipped)."""
    parts = []
    for child in el:
        if child.tag == f"{_NS_MAIN}t":
            parts.append(child.text or "")
        elif child.tag == f"{_NS_MAIN}r":
            parts.extend(t.text or "" for t in child.iter(f"{_NS_MAIN}t"))
    return "".join(parts)


class _StreamedStrings:
    """Shared strings parsed in order, only as far as asked (the general XML path)."""

    def __init__(self, zf: zipfile.ZipFile):
        self._zf = zf
        self._strings: list[str] = []
        self._events: Iterator | None = None
        self._done = False

    def _start(self) -> None:
        name = _shared_strings_name(self._zf)
        if name is None:
            self._done = True
            return
        self._fh = self._zf.open(name)
        self._events = ET.iterparse(self._fh, events=("end",))

    def get(self, i: int) -> str:
        if self._events is None and not self._done:
            self._start()
        while len(self._strings) <= i and not self._done:
            el = next((el for _ev, el in self._events if el.tag == f"{_NS_MAIN}si"), None)
            if el is None:
                self._done = True
                self._fh.close()
                break
            self._strings.append(_si_text(el))
            el.clear()
        return self._strings[i] if i < len(self._strings) else ""


_RUST_ESCAPE = re.compile(r"\\(u\{([0-9a-fA-F]+)\}|.)", re.S)
_RUST_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}


def _rust_unescape(s: str) -> str:
    def sub(m: re.Match) -> str:
        if m.group(2):
            return chr(int(m.group(2), 16))
        return _RUST_SIMPLE.get(m.group(1), m.group(1))

    return _RUST_ESCAPE.sub(sub, s)


def _read_xlsx_raw(
    reader: fastexcel.ExcelReader,
    zf: zipfile.ZipFile,
    name: str,
    member: str | None,
    spec: SheetSpec,
    sst: _SharedStrings | None = None,
) -> _Raw:
    """Read one sheet once. ID columns are read typed (float) so that an ID typed as a number
    is known as such; their text cells come back through fastexcel's cell errors."""
    peek = None
    if member is not None:
        try:
            peek = _peek_rows(zf, member, sst)
        except (KeyError, ET.ParseError, ValueError):
            peek = None
    if peek is not None and peek:
        min_row = peek[0][0]
        min_col = min((j for _r, cells in peek for j in cells), default=0)
        width = max((j for _r, cells in peek for j in cells), default=0) - min_col + 1
        rows = [
            (r, [cells.get(min_col + k, (None, None))[1] for k in range(width)])
            for r, cells in peek
            if cells
        ]
        header_row, mapping, warnings = _detect_header(rows, spec)
        id_cols = [mapping[c.name] for c in spec.columns if c.kind == "id" and c.name in mapping]
        raw = _load_typed(reader, name, min_row, min_col, width, id_cols)
        # the peek and calamine agree on where the sheet starts? (else the safe path below)
        if raw is not None and _header_matches(raw, header_row, mapping, spec):
            return _Raw(raw, header_row, mapping, warnings)
    first_row = peek[0][0] if peek else 1
    return _read_xlsx_raw_safe(reader, name, spec, first_row)


def _load_typed(
    reader: fastexcel.ExcelReader,
    name: str,
    first_row: int,
    first_col: int,
    width: int,
    id_cols: list[int],
    **options,
) -> pl.DataFrame | None:
    """Load a sheet: every column seen in the peek as text; ID columns as :func:`_load_id_text`
    finds them, else typed (see :func:`_restore_id_text`). ``options`` go to calamine's
    load (``skip_rows=0``: from row 1, leading blank rows included)."""
    if id_cols:
        text = _load_id_text(reader, name, first_row, first_col, width, id_cols, **options)
        if text is not None:
            return text
    # dtypes keys are absolute column indices (column A = 0)
    dtypes: dict[str | int, str] = {
        first_col + j: ("duration" if j in id_cols else "string") for j in range(width)
    }
    sheet = _load_from(reader, name, first_col, dtypes, **options)
    if sheet is None:
        return None
    if not id_cols:  # every column text: nothing can fail to convert
        return _as_text_cells(pl.DataFrame(sheet.to_arrow()), first_row)
    rb, errors = sheet.to_arrow_with_errors()
    df = pl.DataFrame(rb)
    for j in id_cols:
        if j >= df.width or df.dtypes[j] not in (pl.Duration, pl.Null):
            return None
    df = df.select(
        *[
            (pl.col(c) if j in id_cols else pl.col(c).cast(pl.String)).alias(f"c{j}")
            for j, c in enumerate(df.columns)
        ],
        (pl.int_range(pl.len(), dtype=pl.Int64) + first_row).alias("__row"),
    )
    return _restore_id_text(df, id_cols, errors)


def _load_from(
    reader: fastexcel.ExcelReader, name: str, first_col: int, dtypes: dict, **options
) -> fastexcel.ExcelSheet | None:
    """The whole sheet (no header row, every row typed by ``dtypes``, keyed by absolute column
    index); None when calamine's first column is not the peek's ``first_col``."""
    sheet = reader.load_sheet(
        name, header_row=None, dtypes=dtypes, schema_sample_rows=None, **options
    )
    if not sheet.selected_columns or sheet.selected_columns[0].absolute_index != first_col:
        return None
    return sheet


def _load_id_text(
    reader: fastexcel.ExcelReader,
    name: str,
    first_row: int,
    first_col: int,
    width: int,
    id_cols: list[int],
    **options,
) -> pl.DataFrame | None:
    """The sheet with its ID columns as text, when every ID cell is a text cell (nearly always):
    calamine types the ID columns itself, strictly (one type per column), and a column it finds
    to be text holds no number or date. None when a column mixes types or is not text; the
    caller then reads the cells one by one through their conversion errors, which made about a
    quarter of the xlsx reading time when done for every sheet."""
    dtypes: dict[str | int, str] = {
        first_col + j: "string" for j in range(width) if j not in id_cols
    }
    try:
        sheet = _load_from(reader, name, first_col, dtypes, dtype_coercion="strict", **options)
    except fastexcel.FastExcelError:  # mixed types in a column (or worse: the typed load tells)
        return None
    if sheet is None:
        return None
    df = pl.DataFrame(sheet.to_arrow())
    if any(j >= df.width or df.dtypes[j] not in (pl.String, pl.Null) for j in id_cols):
        return None
    return _as_text_cells(df, first_row)


def _as_text_cells(df: pl.DataFrame, first_row: int) -> pl.DataFrame:
    """Columns named c<j>, empty (null-typed) ones as String, and ``__row``. Only what needs it
    is cast: an expression per column per sheet cost more than the rest of this step."""
    df.columns = [f"c{j}" for j in range(df.width)]
    return df.with_columns(
        *[pl.col(c).cast(pl.String) for c, dtype in df.schema.items() if dtype == pl.Null],
        (pl.int_range(pl.len(), dtype=pl.Int64) + first_row).alias("__row"),
    )


def _format_number(v: float) -> str:
    if v == int(v) and abs(v) < 1e21:
        return str(int(v))
    return repr(v)


_TEXT_ERROR = ("Expected duration but got 'String(\"", "\")'")


def _restore_id_text(
    df: pl.DataFrame, id_cols: list[int], errors: fastexcel.CellErrors | None
) -> pl.DataFrame | None:
    """ID columns are loaded with the "duration" dtype, which no text or number cell converts
    to: every such cell comes back as a cell error naming its type and value
    (``String("…")`` or ``Float(1.2e17)``). Text cells are restored as written; any other cell
    (a number, a date) is shown as its value and flagged ``n<j>``."""
    errs = errors.errors if errors is not None else []
    rows, cols = (
        (list(v) for v in zip(*(e.offset_position for e in errs), strict=True))
        if errs
        else ([], [])
    )
    ef = pl.DataFrame(
        {"row": rows, "col": cols, "detail": [e.detail for e in errs]},
        schema={"row": pl.Int64, "col": pl.Int64, "detail": pl.String},
    )
    # nearly every error is a text cell: its text is cut out of the message without a regex;
    # the rest (numbers, booleans, anything unexpected) go through the general patterns
    head, tail = _TEXT_ERROR
    d = pl.col("detail")
    is_text = (d.str.len_bytes() >= len(head) + len(tail)) & d.str.starts_with(head)
    is_text = is_text & d.str.ends_with(tail)
    text_rows = ef.filter(is_text).select(
        "row",
        "col",
        inner=pl.lit(None, pl.String),
        text=d.str.slice(len(head)).str.strip_suffix(tail),
        number=pl.lit(None, pl.String),
        iso=pl.lit(None, pl.String),
    )
    other = (
        ef.filter(~is_text)
        .select("row", "col", inner=d.str.extract(r"(?s)^Expected \w+ but got '(.*?)'?$", 1))
        .with_columns(
            text=pl.col("inner").str.extract(r'(?s)^String\("(.*)"\)$', 1),
            number=pl.col("inner").str.extract(r"^(?:Float|Int)\((.*)\)$", 1),
            # an .ods date or time cell: shown as the xlsx path shows a date cell
            iso=pl.col("inner")
            .str.extract(r'^(?:DateTimeIso|DurationIso)\("(.*)"\)$', 1)
            .str.replace("T", " ", literal=True)
            .str.strip_suffix(" 00:00:00"),
        )
    )
    ef = pl.concat([text_rows, other], how="vertical")
    out = []
    for j in id_cols:
        sub = ef.filter(pl.col("col") == j, pl.col("row") < df.height)
        text = sub["text"]
        escaped = text.str.contains("\\", literal=True).fill_null(False)
        if escaped.any():
            at = escaped.arg_true()
            text = text.scatter(at, text.gather(at).map_elements(_rust_unescape, pl.String))
        number = sub["number"].cast(pl.Float64, strict=False)
        shown_number = (
            number.map_elements(_format_number, pl.String)
            if number.is_not_null().any()
            else pl.Series(values=[None] * sub.height, dtype=pl.String)
        )
        shown = text.fill_null(shown_number).fill_null(sub["iso"]).fill_null(sub["inner"])
        converted = df[f"c{j}"]  # a date cell converts to a duration
        col = (
            _duration_as_text(converted)
            if converted.dtype != pl.Null
            else pl.Series(values=[None] * df.height, dtype=pl.String)
        )
        flag = converted.is_not_null()
        if sub.height:
            col = col.scatter(sub["row"], shown)
            flag = flag.scatter(sub["row"], text.is_null())
        out.append(col.alias(f"c{j}"))
        out.append(flag.alias(f"n{j}"))
    return df.with_columns(out)


def _duration_as_text(converted: pl.Series) -> pl.Series:
    """A date or time typed into an ID column comes back from calamine as a duration since
    Excel's epoch; show it as the date (and time) the sheet displays, so the quarantine names
    the value the auditor sees (it is not an ID and fails validation)."""
    shown = (pl.lit(dt.datetime(1899, 12, 30)) + pl.lit(converted)).dt.strftime("%Y-%m-%d %H:%M:%S")
    return (
        pl.select(shown.str.strip_suffix(" 00:00:00").alias(converted.name))
        .to_series()
        .cast(pl.String)
    )


def _header_matches(
    raw: pl.DataFrame, header_row: int, mapping: dict[str, int], spec: SheetSpec
) -> bool:
    """Does calamine's frame hold the peeked header where we expect it?"""
    if raw.height == 0 or header_row < raw["__row"][0]:
        return False
    hdr = raw.slice(header_row - raw["__row"][0], 1)  # __row counts up from the first row
    if hdr.height != 1 or hdr["__row"][0] != header_row:
        return False
    aliases = spec.header_aliases()
    for name, j in mapping.items():
        col = f"c{j}"
        if col not in hdr.columns or aliases.get(_norm_name(hdr[col][0] or "")) != name:
            return False
    return True


def _read_xlsx_raw_safe(
    reader: fastexcel.ExcelReader, name: str, spec: SheetSpec, first_row: int | None
) -> _Raw:
    """Fallback when the peek cannot be trusted: read as text, then the ID columns again typed
    (two passes over the sheet; correct, slower). ``first_row`` None: read from row 1."""
    options = {"skip_rows": 0} if first_row is None else {}
    first_row = first_row or 1
    sheet = reader.load_sheet(name, header_row=None, dtypes="string", **options)
    base = sheet.selected_columns[0].absolute_index if sheet.selected_columns else 0
    text = pl.DataFrame(sheet)
    text = text.rename({c: f"c{j}" for j, c in enumerate(text.columns)})
    text = text.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + first_row).alias("__row"))
    rows = [(r[-1], list(r[:-1])) for r in text.head(HEADER_SEARCH_ROWS).iter_rows()]
    header_row, mapping, warnings = _detect_header(rows, spec)
    id_cols = [mapping[c.name] for c in spec.columns if c.kind == "id" and c.name in mapping]
    if id_cols:
        typed = pl.DataFrame(
            reader.load_sheet(
                name,
                header_row=None,
                use_columns=[base + j for j in id_cols],
                dtypes={base + j: "boolean" for j in id_cols},
                **options,
            )
        )  # a text cell never converts to a boolean; a number or a boolean does
        text = text.with_columns(
            pl.Series(f"n{j}", typed[:, k].is_not_null()) for k, j in enumerate(id_cols)
        )
    return _Raw(text, header_row, mapping, warnings)


def _read_calamine_raw(reader: fastexcel.ExcelReader, name: str, spec: SheetSpec) -> _Raw:
    """One sheet of an .xls or .ods, which has no sheet XML to peek at: loaded as text from row 1
    (so rows are numbered as the office suite shows them) to find the header, then, when the
    sheet has ID columns, loaded again with them typed as the xlsx path types them
    (:func:`_load_typed`), so an ID typed as a number is told from one typed as text alike."""
    sheet = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string")
    base = sheet.selected_columns[0].absolute_index if sheet.selected_columns else 0
    text = _as_text_cells(pl.DataFrame(sheet.to_arrow()), 1)
    rows = [(r[-1], list(r[:-1])) for r in text.head(HEADER_SEARCH_ROWS).iter_rows()]
    header_row, mapping, warnings = _detect_header(rows, spec)
    id_cols = [mapping[c.name] for c in spec.columns if c.kind == "id" and c.name in mapping]
    if id_cols:
        typed = _load_typed(reader, name, 1, base, text.width - 1, id_cols, skip_rows=0)
        if typed is None:
            return _read_xlsx_raw_safe(reader, name, spec, None)
        text = typed
    return _Raw(text, header_row, mapping, warnings)


# ====================================================================== rows → frames
_KIND_PARSERS = {
    "text": P.normalise_text,
    "code": P.normalise_code,
    "enum": P.normalise_enum,
    "id": P.normalise_id,
    "phone": P.normalise_phone,
    "date": P.parse_date,
    "amount": P.parse_amount,
    "int": P.parse_int,
}
_PARSE_REASONS = {
    "date": "不是有效日期",
    "amount": "不是有效金额",
    "int": "不是整数",
}
_AMOUNT_ZERO_WHEN_EMPTY = {("ledger", "debit"), ("ledger", "credit")}


@dataclass(frozen=True)
class _Context:
    year: int | None
    unit_code: str | None
    source_file: str
    source_sha256: str


def _check_reason(check: str, spec: SheetSpec, name: str) -> str:
    if check == "not_nullable":
        return "必填项为空"
    if check.startswith("isin"):
        return "取值不在规定范围内（" + "/".join(spec.column(name).vocab) + "）"
    m = re.match(r"^greater_than_or_equal_to\((.*)\)$", check)
    if m:
        return f"应不小于 {m.group(1)}"
    m = re.match(r"^greater_than\((.*)\)$", check)
    if m:
        return f"应大于 {m.group(1)}"
    if check.startswith("str_matches"):
        return "格式不符"
    return check


def _schema_failures(df: pl.DataFrame, spec: SheetSpec) -> pl.DataFrame:
    """Run the sheet's pandera model; (i, name, reason) for every failing cell."""
    out_schema = {"__i": pl.Int64, "name": pl.String, "reason": pl.String}
    try:
        schema_for(spec.key).validate(df, lazy=True)
    except pa_errors.SchemaErrors as exc:
        fc = exc.failure_cases
    else:
        return pl.DataFrame(schema=out_schema)
    rows: list[tuple[int, str, str]] = []
    for column, check, index in fc.select("column", "check", "index").iter_rows():
        if index is None:
            raise RuntimeError(f"{spec.title}: schema failure without a row: {column} {check}")
        if column in DATAFRAME_CHECK_COLUMNS or check in DATAFRAME_CHECK_COLUMNS:
            for name in DATAFRAME_CHECK_COLUMNS.get(check, ()):
                rows.append((index, name, check))
        else:
            rows.append((index, column, _check_reason(check, spec, column)))
    return pl.DataFrame(rows, schema=out_schema, orient="row")


@dataclass
class _Piece:
    """One sheet of one file after stage 1 (per file: read, find the header, map the columns).

    ``frame`` holds the body rows only (below the header): ``__row``, ``__skip`` (blank or total
    row), ``__raw_<name>`` (String, the cell as written; null when the column is absent) for
    every column of the spec and ``__num_<name>`` (Boolean: the ID cell was not text) for every
    ID column. Pieces of one sheet kind from many files concatenate as they are."""

    spec: SheetSpec
    ctx: _Context
    frame: pl.DataFrame
    header_row: int
    warnings: list[str]


def _piece_schema(spec: SheetSpec) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {"__row": pl.Int64(), "__skip": pl.Boolean()}
    schema.update({f"__raw_{c.name}": pl.String() for c in spec.columns})
    schema.update({f"__num_{c.name}": pl.Boolean() for c in spec.columns if c.kind == "id"})
    return schema


def _to_piece(raw: _Raw, spec: SheetSpec, ctx: _Context) -> _Piece:
    """Stage 1's last step: body rows, blank/total flags (over every cell, contract column or
    not), the contract's columns under their canonical names.

    A row is skipped when it is blank or its first non-blank cell is a total marker. The first
    cell column settles most rows (it has content without the markers' last characters), so
    the full test over every cell runs only on the rest, typically a few per cent: testing every
    cell of every row cost more than the rest of the stage."""
    df = raw.frame
    cell_cols = tuple(c for c in df.columns if _CELL_COL.fullmatch(c))
    flags = tuple(c for c in df.columns if _FLAG_COL.fullmatch(c))
    exprs = _piece_exprs(
        spec, cell_cols[0] if cell_cols else None, flags, tuple(sorted(raw.mapping.items()))
    )
    body = _below(df, raw.header_row)
    frame = body.select(exprs)  # __skip: "may be skipped" until the full test below
    if cell_cols:
        at = frame["__skip"].arg_true()
        if at.len():
            skip = body[at].select(_skip_expr(cell_cols)).to_series()
            frame = frame.with_columns(frame["__skip"].scatter(at, skip))
    return _Piece(spec, ctx, frame, raw.header_row, list(raw.warnings))


def _below(df: pl.DataFrame, header_row: int) -> pl.DataFrame:
    """The rows after the header row. Row numbers ascend (every reader numbers rows in order),
    so that is a slice, which copies nothing; a filter copied every cell of the sheet."""
    rows = df.get_column("__row")
    if rows.is_sorted():  # the header is among the first rows: search those in Python
        first = rows.head(HEADER_SEARCH_ROWS + 1).to_list()
        at = bisect.bisect_right(first, header_row)
        if at < len(first) or len(first) == rows.len():
            return df.slice(at)
    return df.filter(pl.col("__row") > header_row)


_CELL_COL = re.compile(r"c[0-9]+")
_FLAG_COL = re.compile(r"n[0-9]+")
# a cell without any of these (spaces aside) is no total marker
_MARKER_CHARS = sorted({m[-1] for m in TOTAL_MARKERS})
# the first cell (of the \x1f-joined cells) holding something other than spaces
_FIRST_FILLED = r"(?:^|\x1f)([^\x1f]*[^\s\u200b\u200c\u200d\u2060\ufeff\x1f][^\x1f]*)"


@functools.lru_cache(maxsize=1024)
def _skip_expr(cell_cols: tuple[str, ...]) -> pl.Expr:
    """True for a blank row or a total row (its first non-blank cell is a total marker)."""
    joined = pl.concat_str(
        [pl.col(c).cast(pl.String) for c in cell_cols], separator="\x1f", ignore_nulls=True
    )
    first = joined.str.extract(_FIRST_FILLED, 1)
    total = P.remove_spaces(first).str.replace(r"[:：]$", "").is_in(list(TOTAL_MARKERS))
    return (first.is_null() | total.fill_null(False)).alias("__skip")


@functools.lru_cache(maxsize=1024)
def _piece_exprs(
    spec: SheetSpec,
    first_col: str | None,
    flags: tuple[str, ...],
    mapping: tuple[tuple[str, int], ...],
) -> list[pl.Expr]:
    """The select of _to_piece; built once per sheet kind and layout (thousands of sheets share
    a handful of layouts, and building the expressions costs more than running them)."""
    where = dict(mapping)
    if first_col is not None:
        c0 = pl.col(first_col)
        marker = c0.str.contains_any(_MARKER_CHARS)
        may_skip = (~P.has_content(c0) | marker).fill_null(True)
    else:
        may_skip = pl.lit(True)
    cols: list[pl.Expr] = [pl.col("__row").cast(pl.Int64), may_skip.alias("__skip")]
    nums: list[pl.Expr] = []
    for col in spec.columns:
        j = where.get(col.name)
        src = pl.col(f"c{j}").cast(pl.String) if j is not None else pl.lit(None, pl.String)
        cols.append(src.alias(f"__raw_{col.name}"))
        if col.kind == "id":
            flag = f"n{j}"
            num = pl.col(flag).fill_null(False) if flag in flags else pl.lit(False)
            nums.append(num.alias(f"__num_{col.name}"))
    return [*cols, *nums]


def _gather(values: list, dtype: pl.DataType) -> pl.Expr:
    """A per-piece constant, spread over the rows by their piece index ``__s``."""
    return pl.lit(pl.Series(values=values, dtype=dtype)).gather(pl.col("__s"))


def _process(raw: _Raw, spec: SheetSpec, ctx: _Context) -> SheetResult:
    """One sheet alone (reference files, read_sheet_rows): the batch path over one piece."""
    return _process_pieces(spec, [_to_piece(raw, spec, ctx)])[0]


def _process_pieces(spec: SheetSpec, pieces: list[_Piece]) -> list[SheetResult]:
    """Stage 2: ONE parse / validation / quarantine split for a sheet kind over the pieces of many
    files, then split back per piece. Row order within a piece is kept; results in piece order."""
    schema_in = _piece_schema(spec)
    body = pl.concat(
        [
            p.frame.lazy()
            .select(list(schema_in))
            .cast(schema_in)
            .with_columns(__s=pl.lit(k, dtype=pl.Int64))
            for k, p in enumerate(pieces)
        ],
        how="vertical",
    ).collect()
    counts = body.group_by("__s").agg(__n=pl.len(), __skipped=pl.col("__skip").sum().cast(pl.Int64))
    count_of = {s: (n, sk) for s, n, sk in counts.iter_rows()}
    body = body.filter(~pl.col("__skip")).drop("__skip").with_row_index("__i")

    # stage 1: parse every column once
    values: list[pl.Expr] = []
    for col in spec.columns:
        src = pl.col(f"__raw_{col.name}")
        value = P.FAST_PARSERS.get(col.kind, _KIND_PARSERS[col.kind])(src)
        if (spec.key, col.name) in _AMOUNT_ZERO_WHEN_EMPTY:
            value = value.fill_null(pl.when(P.is_blank(src)).then(pl.lit(0.0)))
        values.append(value.alias(col.name))
    parsed = body.lazy().with_columns(values).collect()  # lazy: common subexpressions once
    parsed = _full_parse_remainder(parsed, spec)

    # stage 2: per-column parse errors, from the raw and the parsed value
    parsed = parsed.with_columns(
        _on_rows(
            parsed, P.may_look_scientific(f"__raw_{c.name}"), P.looks_scientific(f"__raw_{c.name}")
        )
        .fill_null(False)
        .alias(f"__sci_{c.name}")
        for c in spec.columns
        if c.kind == "id"
    )
    errors: list[pl.Expr] = []
    for col in spec.columns:
        src, value = pl.col(f"__raw_{col.name}"), pl.col(col.name)
        err = pl.when(src.str.len_chars() > P.EXCEL_CELL_LIMIT).then(
            pl.lit(f"单元格超过 {P.EXCEL_CELL_LIMIT} 个字符（Excel 上限）")
        )
        if col.kind == "id":
            err = err.when(pl.col(f"__num_{col.name}")).then(
                pl.lit("身份证号以数字格式存储，位数已丢失，应以文本录入")
            )
            err = err.when(pl.col(f"__sci_{col.name}")).then(
                pl.lit("身份证号为科学计数法，位数已丢失，应以文本录入")
            )
        if col.kind in _PARSE_REASONS:
            err = err.when(value.is_null() & P.has_content(src)).then(
                pl.lit(_PARSE_REASONS[col.kind])
            )
        errors.append(err.otherwise(None).alias(f"__err_{col.name}"))
    err_frame = parsed.lazy().select("__i", *errors).collect()

    # schema failures on the parsed values (parse failures were nulled; their reason wins)
    fails = _schema_failures(parsed.select(spec.names), spec)
    err_cols = [c for c in err_frame.columns if c.startswith("__err_")]
    parse_fails = (
        err_frame.lazy()
        .unpivot(on=err_cols, index="__i", variable_name="name", value_name="reason")
        .filter(pl.col("reason").is_not_null())
        .with_columns(pl.col("__i").cast(pl.Int64), pl.col("name").str.replace("^__err_", ""))
        .collect()
    )
    order = pl.DataFrame(
        {
            "name": spec.names,
            "__order": list(range(len(spec.columns))),
            "header": [c.header for c in spec.columns],
        }
    )
    all_fails = (
        pl.concat([parse_fails, fails], how="vertical_relaxed")
        .unique(subset=["__i", "name"], keep="first", maintain_order=True)
        .join(order, on="name", how="left", maintain_order="left")
    )
    bad_idx = all_fails["__i"].unique().implode()
    bad = parsed.filter(pl.col("__i").is_in(bad_idx))
    raw_long = (
        bad.lazy()
        .select("__i", *[f"__raw_{n}" for n in spec.names])
        .unpivot(index="__i", variable_name="name", value_name="raw")
        .with_columns(pl.col("__i").cast(pl.Int64), pl.col("name").str.replace("^__raw_", ""))
    )
    years = [p.ctx.year for p in pieces]
    units = [p.ctx.unit_code for p in pieces]
    files = [p.ctx.source_file for p in pieces]
    quarantine = (
        all_fails.lazy()
        .join(raw_long, on=["__i", "name"], how="left")
        .sort("__i", "__order")
        .group_by("__i", maintain_order=True)
        .agg(
            column=pl.col("header").str.join("、"),
            value=pl.col("raw").fill_null("").str.join("、"),
            reason=pl.concat_str([pl.col("header"), pl.lit("："), pl.col("reason")]).str.join("；"),
        )
        .join(
            bad.lazy().select(pl.col("__i").cast(pl.Int64), "__row", "__s"),
            on="__i",
            how="left",
        )
        .sort("__i")
        .select(
            "__s",
            year=_gather(years, pl.Int64()),
            unit_code=_gather(units, pl.String()),
            source_file=_gather(files, pl.String()),
            sheet=pl.lit(spec.title),
            row_number=pl.col("__row"),
            column=pl.col("column"),
            value=pl.col("value"),
            reason=pl.col("reason"),
        )
        .cast(QUARANTINE_SCHEMA)
        .collect()
    )

    schema = sheet_schema(spec)
    meta = {
        "year": _gather(years, pl.Int64()),
        "unit_code": _gather(units, pl.String()),
        "source_file": _gather(files, pl.String()),
        "source_sheet": pl.lit(spec.title),
        "source_row": pl.col("__row"),
    }
    # a sheet's own 年度 column (targets, standards) keeps its value over the ledger year
    frame = (
        parsed.lazy()
        .filter(~pl.col("__i").is_in(bad_idx))
        .select(
            "__s",
            *[pl.col(n) for n in spec.names],
            *[e.alias(k) for k, e in meta.items() if k not in spec.names],
        )
        .select("__s", *schema)
        .cast(schema)
        .collect()
    )

    dup_warnings: dict[int, list[str]] = {}
    for key in spec.unique_keys:
        header = spec.column(key).header
        dup = (
            frame.lazy()
            .filter(pl.col(key).is_not_null())
            .group_by("__s", key)
            .agg(pl.len().alias("n"))
            .filter(pl.col("n") > 1)
            .sort("__s", key)
            .group_by("__s", maintain_order=True)
            .agg(n=pl.len(), examples=pl.col(key).head(5))
            .collect()
        )
        for s, n, examples in dup.iter_rows():
            examples = P.mask_ids_in_text("、".join(examples))
            dup_warnings.setdefault(s, []).append(
                f"{spec.title}：{header}有 {n} 个重复值（如 {examples}），各行均保留 / "
                f"duplicate {key} values kept on every row"
            )

    frames = _split(frame, len(pieces))
    quarantines = _split(quarantine, len(pieces))
    out = []
    for k, p in enumerate(pieces):
        n, skipped = count_of.get(k, (0, 0))
        out.append(
            SheetResult(
                spec=spec,
                source_file=p.ctx.source_file,
                source_sha256=p.ctx.source_sha256,
                frame=frames[k],
                quarantine=quarantines[k],
                rows_read=n - skipped,
                rows_kept=frames[k].height,
                rows_quarantined=quarantines[k].height,
                rows_skipped=p.header_row + skipped,
                warnings=p.warnings + dup_warnings.get(k, []),
            )
        )
    return out


def _split(frame: pl.DataFrame, n: int) -> list[pl.DataFrame]:
    """Rows by their piece index ``__s`` (dropped); an empty frame for a piece without rows."""
    parts = frame.partition_by("__s", as_dict=True, include_key=False, maintain_order=True)
    empty = frame.clear().drop("__s")
    return [parts.get((k,), empty) for k in range(n)]


def _on_rows(frame: pl.DataFrame, where: pl.Expr, expr: pl.Expr) -> pl.Series:
    """``expr`` over ``frame`` evaluated only on the rows ``where`` holds (null elsewhere): for a
    costly expression that a cheap test shows is needed on few rows."""
    mask = frame.select(where.fill_null(False)).to_series()
    at = mask.arg_true()
    out = frame.clear(1).select(expr).to_series().clear(frame.height)
    if at.len():
        out = out.scatter(at, frame[at].select(expr).to_series())
    return out


def _full_parse_remainder(parsed: pl.DataFrame, spec: SheetSpec) -> pl.DataFrame:
    """Run the full parsers on the cells the fast path left null (``__i`` is the position)."""
    needs = [c for c in spec.columns if c.kind in P.FAST_PARSERS]
    if not needs or parsed.height == 0:
        return parsed
    # one pass finds every cell that needs the full parser; the remainder is usually tiny
    flags = parsed.select(
        [(pl.col(c.name).is_null() & P.has_content(f"__raw_{c.name}")).alias(c.name) for c in needs]
    )
    updates = []
    for col in needs:
        mask = flags[col.name]
        if not mask.any():
            continue
        rest = parsed.filter(mask)
        fixed = rest.select(
            pl.col("__i"), P.FULL_PARSERS[col.kind](pl.col(f"__raw_{col.name}")).alias(col.name)
        )
        updates.append(parsed[col.name].scatter(fixed["__i"], fixed[col.name]))
    return parsed.with_columns(updates) if updates else parsed


def read_sheet_rows(
    raw: pl.DataFrame,
    spec: SheetSpec,
    *,
    year: int | None,
    unit_code: str | None,
    source_file: str,
    source_sha256: str = "",
) -> SheetResult:
    """The generic reader on a sheet already loaded as text: ``raw`` has String columns
    ``c0..cN`` and an Int64 ``__row`` (Excel row / CSV line), optionally Boolean ``n<j>``
    flags for ID cells that were numbers. Finds the header, skips title/blank/total rows,
    parses, validates, splits kept rows from quarantined ones."""
    rows = [
        (r[0], list(r[1:]))
        for r in raw.select("__row", *[c for c in raw.columns if re.fullmatch(r"c[0-9]+", c)])
        .head(HEADER_SEARCH_ROWS * 2)
        .iter_rows()
    ]
    header_row, mapping, warnings = _detect_header(rows, spec)
    ctx = _Context(year, unit_code, source_file, source_sha256)
    return _process(_Raw(raw, header_row, mapping, warnings), spec, ctx)


# ====================================================================== ledgers
def _log_frame(year: int, unit_code: str, results: Iterable[SheetResult]) -> pl.DataFrame:
    rows = [
        {
            "year": year,
            "unit_code": unit_code,
            "sheet": r.spec.title,
            "source_file": r.source_file,
            "source_sha256": r.source_sha256,
            "rows_read": r.rows_read,
            "rows_kept": r.rows_kept,
            "rows_quarantined": r.rows_quarantined,
            "rows_skipped": r.rows_skipped,
        }
        for r in results
    ]
    return pl.DataFrame(rows, schema=INGEST_LOG_SCHEMA)


def _missing_columns_message(spec: SheetSpec, missing: list[str]) -> str:
    return (
        f"工作表“{spec.title}”缺少必需列：{'、'.join(missing)}（前 {HEADER_SEARCH_ROWS} 行中"
        f"未找到含全部必需列的表头行）/ sheet {spec.title} lacks required column(s)"
    )


def _match_specs(names: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Sheet / file names (spaces removed) → spec key; warnings for unknown or repeated ones."""
    by_title = {s.title: s for s in LEDGER_SHEETS}
    found: dict[str, str] = {}
    warnings: list[str] = []
    for name in names:
        spec = by_title.get(_norm_name(name))
        if spec is None:
            continue
        if spec.key in found:
            warnings.append(
                f"工作表“{spec.title}”出现多次，只读取第一个（{found[spec.key]}）/ "
                f"sheet {spec.title} appears twice, first one read"
            )
            continue
        found[spec.key] = name
    return found, warnings


def _require_sheets(found: dict[str, str], rel: str) -> None:
    missing = [s.title for s in LEDGER_SHEETS if s.required and s.key not in found]
    if missing:
        raise LedgerRejected(
            rel, f"缺少必需工作表：{'、'.join(missing)} / required sheet(s) missing"
        )


def _missing_column(spec: SheetSpec, exc: _MissingColumns, rel: str, warnings: list[str]):
    msg = _missing_columns_message(spec, exc.missing)
    if spec.required:
        raise LedgerRejected(rel, msg)
    warnings.append(f"{msg}；该可选工作表不读取 / optional sheet left out")


@dataclass
class _Loaded:
    """A ledger after stage 1: its sheets as pieces, ready for the per-kind batch."""

    year: int
    unit_code: str
    source_file: str
    form: str
    pieces: dict[str, _Piece]  # by SheetSpec.key, in LEDGER_SHEETS order
    warnings: list[str]

    @property
    def rows(self) -> int:
        return sum(p.frame.height for p in self.pieces.values())


def _load_ledger(
    path: Path, landing: Path, year: int, unit_code: str, max_uncompressed_bytes: int
) -> _Loaded:
    """Stage 1 for one file (I/O bound, thread-safe): open, find headers, map columns."""
    rel = _rel(path, landing)
    if not _inside(path, landing):
        raise LedgerRejected(rel, _outside_message(rel))
    if path.is_dir():
        return _load_csv_ledger(path, landing, rel, year, unit_code)
    if not path.is_file():
        raise LedgerRejected(rel, "文件不存在 / file not found")
    form = W.WORKBOOK_SUFFIXES.get(path.suffix.lower())
    if form is None:
        raise LedgerRejected(rel, W.unreadable_message(path.suffix, rel))
    data = path.read_bytes()  # read once: hashed, checked and parsed from these bytes
    sha = _sha256(data)
    try:
        zf = W.check_workbook(data, form, max_uncompressed_bytes)
    except W.WorkbookRefused as exc:
        raise LedgerRejected(rel, exc.message) from None
    try:
        pieces, warnings = _load_workbook(data, zf, form, rel, _Context(year, unit_code, rel, sha))
    except BaseException as exc:
        if not _is_panic(exc):
            raise
        # calamine gave up on the file's structure (a Rust panic): that file is refused
        raise LedgerRejected(
            rel, f"文件损坏或不是 {form} 工作簿 / corrupt file or not an {form} workbook ({exc})"
        ) from None
    return _Loaded(year, unit_code, rel, form, pieces, warnings)


def _is_panic(exc: BaseException) -> bool:
    """A panic inside a Rust extension (pyo3's PanicException derives from BaseException)."""
    return type(exc).__name__ == "PanicException"


def _load_workbook(
    data: bytes, zf: zipfile.ZipFile | None, form: str, rel: str, ctx: _Context
) -> tuple[dict[str, _Piece], list[str]]:
    """Stage 1 of a workbook of any format: its sheets matched to specs and read as pieces. An
    xlsx / xlsm (``zf`` open) peeks at its sheet XML; an .xls or .ods is read by calamine alone."""
    try:
        reader = fastexcel.read_excel(data)
        sheet_names = reader.sheet_names
        members = _xlsx_sheet_members(zf) if zf is not None else {}
    except Exception as exc:  # noqa: BLE001 - calamine raises many kinds for broken files
        raise LedgerRejected(
            rel, f"文件损坏或不是 {form} 工作簿 / corrupt file or not an {form} workbook ({exc})"
        ) from None
    found, warnings = _match_specs(sheet_names)
    _require_sheets(found, rel)
    pieces: dict[str, _Piece] = {}
    sst = _SharedStrings(zf) if zf is not None else None
    for spec in LEDGER_SHEETS:
        if spec.key not in found:
            continue
        name = found[spec.key]
        try:
            if zf is not None:
                raw = _read_xlsx_raw(reader, zf, name, members.get(name), spec, sst)
            else:
                raw = _read_calamine_raw(reader, name, spec)
        except _MissingColumns as exc:
            _missing_column(spec, exc, rel, warnings)
            continue
        except fastexcel.FastExcelError as exc:
            raise LedgerRejected(
                rel, f"工作表“{name}”无法读取 / sheet {name} cannot be read ({exc})"
            ) from None
        pieces[spec.key] = _to_piece(raw, spec, ctx)
    return pieces, warnings


def _load_csv_ledger(folder: Path, landing: Path, rel: str, year: int, unit_code: str) -> _Loaded:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".csv")
    by_stem = {p.stem: p for p in files}
    found, warnings = _match_specs(by_stem)
    _require_sheets(found, rel)
    pieces: dict[str, _Piece] = {}
    for spec in LEDGER_SHEETS:
        if spec.key not in found:
            continue
        p = by_stem[found[spec.key]]
        prel = _rel(p, landing)
        if not _inside(p, landing):
            raise LedgerRejected(prel, _outside_message(prel))
        data = p.read_bytes()
        ctx = _Context(year, unit_code, prel, _sha256(data))
        try:
            raw = _read_csv_raw(data, spec, prel)
        except _BadEncoding as exc:
            raise LedgerRejected(prel, str(exc)) from None
        except _MissingColumns as exc:
            _missing_column(spec, exc, prel, warnings)
            continue
        pieces[spec.key] = _to_piece(raw, spec, ctx)
    return _Loaded(year, unit_code, rel, "csv", pieces, warnings)


def _internal_error(rel: str, exc: Exception) -> LedgerRejected:
    """An unexpected failure while reading one file: that file is refused, the others go on."""
    _log.error("internal error while reading %s", rel, exc_info=exc)
    return LedgerRejected(
        rel,
        f"读取时发生内部错误（{type(exc).__name__}），请将此文件与日志报告给维护者；其余单位不受"
        f"影响。 Internal error while reading: {P.mask_ids_in_text(str(exc))[:300]}",
    )


def _process_batch(loaded: list[_Loaded]) -> list[LedgerResult | LedgerRejected]:
    """Stage 2 over a batch of ledgers: one _process_pieces per sheet kind. If the batch of a
    kind fails, that kind is redone file by file so only the failing file is refused."""
    sheets: list[dict[str, SheetResult]] = [{} for _ in loaded]
    failed: dict[int, LedgerRejected] = {}
    for spec in LEDGER_SHEETS:
        owners = [i for i, ld in enumerate(loaded) if spec.key in ld.pieces]
        if not owners:
            continue
        try:
            results = _process_pieces(spec, [loaded[i].pieces[spec.key] for i in owners])
        except Exception:  # noqa: BLE001 - find the file at fault, spare the others
            results = []
            for i in owners:
                try:
                    results.extend(_process_pieces(spec, [loaded[i].pieces[spec.key]]))
                except Exception as exc:  # noqa: BLE001
                    failed.setdefault(i, _internal_error(loaded[i].source_file, exc))
                    results.append(None)
        for i, res in zip(owners, results, strict=True):
            if res is not None:
                sheets[i][spec.key] = res
    out: list[LedgerResult | LedgerRejected] = []
    for i, ld in enumerate(loaded):
        if i in failed:
            out.append(failed[i])
            continue
        res = sheets[i]
        out.append(
            LedgerResult(
                ld.year,
                ld.unit_code,
                ld.source_file,
                ld.form,
                res,
                _log_frame(ld.year, ld.unit_code, res.values()),
                ld.warnings,
            )
        )
    return out


DEFAULT_BATCH_ROWS = 400_000


def default_workers() -> int:
    """Threads for stage 1: calamine and polars release the GIL while they parse."""
    return max(1, min(4, os.cpu_count() or 1))


def read_ledgers(
    files: Sequence[LedgerFile],
    *,
    landing: Path | str,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
    workers: int | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Iterator[list[tuple[LedgerFile, LedgerResult | LedgerRejected]]]:
    """Read many ledgers at once, yielding them batch by batch (in ``files`` order).

    Stage 1 (per file, ``workers`` threads): open, find headers, map columns to canonical
    names. Stage 2 (per sheet kind over every file of the batch): one parse, normalisation,
    pandera validation and quarantine split. A batch closes once it holds ``batch_rows`` raw
    rows, which bounds memory. A file that cannot be read is a LedgerRejected in its slot; it
    never affects the other files of the batch."""
    landing = Path(landing)
    workers = workers or default_workers()

    def load(f: LedgerFile) -> _Loaded | LedgerRejected:
        try:
            return _load_ledger(Path(f.path), landing, f.year, f.unit_code, max_uncompressed_bytes)
        except LedgerRejected as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop the others
            return _internal_error(_rel(Path(f.path), landing), exc)

    batch: list[tuple[LedgerFile, _Loaded | LedgerRejected]] = []
    rows = 0

    def flush() -> list[tuple[LedgerFile, LedgerResult | LedgerRejected]]:
        ok = [(i, x) for i, (_f, x) in enumerate(batch) if isinstance(x, _Loaded)]
        done = dict(zip([i for i, _ in ok], _process_batch([x for _, x in ok]), strict=True))
        return [(f, done.get(i, x)) for i, (f, x) in enumerate(batch)]  # type: ignore[misc]

    for f, loaded in zip(files, _ordered_map(load, files, workers), strict=True):
        batch.append((f, loaded))
        rows += loaded.rows if isinstance(loaded, _Loaded) else 0
        if rows >= batch_rows:
            yield flush()
            batch, rows = [], 0
    if batch:
        yield flush()


def _ordered_map(fn, items: Sequence, workers: int) -> Iterator:
    """``map`` over threads, results in order, at most ``2 × workers`` items in flight (so a
    long list is not all loaded into memory ahead of the batches that consume it)."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="bangfu-read") as ex:
        pending: deque = deque()
        it = iter(items)
        for item in it:
            pending.append(ex.submit(fn, item))
            if len(pending) >= 2 * workers:
                break
        while pending:
            yield pending.popleft().result()
            nxt = next(it, _END)
            if nxt is not _END:
                pending.append(ex.submit(fn, nxt))


_END = object()


def read_ledger(
    path: Path | str,
    *,
    landing: Path | str,
    year: int,
    unit_code: str,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
) -> LedgerResult:
    """Read one unit-year ledger (an .xlsx or a folder of CSVs). Raises LedgerRejected."""
    path, landing = Path(path), Path(landing)
    loaded = _load_ledger(path, landing, year, unit_code, max_uncompressed_bytes)
    (res,) = _process_batch([loaded])
    if isinstance(res, LedgerRejected):
        raise res
    return res


# ====================================================================== discovery
_IGNORED = re.compile(r"^(\.|~\$)")
_CHINESE_COUNT = {2: "两", 3: "三", 4: "四", 5: "五", 6: "六"}


def _unreadable(entry: Path, erel: str) -> str:
    """The message for a file of the year folder that is no ledger form."""
    if entry.suffix.lower() in W.UNREADABLE_SUFFIXES:
        return W.unreadable_message(entry.suffix, erel)
    return (
        f"不是 .xlsx / .xlsm / .xls / .ods 工作簿或 CSV 文件夹，未读取；{W.SAVE_AS_XLSX} / "
        f"not an .xlsx, .xlsm, .xls or .ods ledger or a CSV folder: {erel}"
    )


def discover_ledgers(
    landing: Path | str, unit_codes: Iterable[str]
) -> tuple[list[LedgerFile], list[Rejection]]:
    """Every ledger under ``<landing>/ledgers``, and what cannot be one."""
    landing = Path(landing)
    codes = set(unit_codes)
    root = landing / "ledgers"
    found: list[LedgerFile] = []
    rejected: list[Rejection] = []
    if not root.is_dir():
        return found, rejected
    for ydir in sorted(root.iterdir()):
        rel = _rel(ydir, landing)
        if _IGNORED.match(ydir.name):
            continue
        if not _inside(ydir, landing):
            rejected.append(Rejection(None, None, rel, _outside_message(rel)))
            continue
        if not ydir.is_dir() or not re.fullmatch(r"[0-9]{4}", ydir.name):
            rejected.append(
                Rejection(
                    None,
                    None,
                    rel,
                    f"“{ydir.name}”不是年度文件夹（应为四位年份），未读取 / "
                    f"not a year folder: {rel}",
                )
            )
            continue
        year = int(ydir.name)
        forms: dict[str, list[tuple[str, Path]]] = {}
        rejected_unreadable: list[tuple[str, str, str]] = []
        # scandir: the type of each entry without a stat each (a national landing folder holds
        # about 3,200 entries a year, and a one-county re-run scans it three times)
        with os.scandir(ydir) as it:
            dir_entries = sorted(it, key=lambda e: e.name)
        for dir_entry in dir_entries:
            if _IGNORED.match(dir_entry.name):
                continue
            entry = ydir / dir_entry.name
            erel = f"{rel}/{dir_entry.name}"
            # the year folder is inside the landing folder: an entry can only leave it by a link
            if dir_entry.is_symlink() and not _inside(entry, landing):
                code = entry.stem if entry.stem in codes else None
                rejected.append(Rejection(year, code, erel, _outside_message(erel)))
                continue
            if dir_entry.is_dir():
                code, form = entry.name, "csv"
            elif entry.suffix.lower() in W.WORKBOOK_SUFFIXES:
                code, form = entry.stem, W.WORKBOOK_SUFFIXES[entry.suffix.lower()]
            else:
                # the unit's only file of the year: its partition is refused with what to do;
                # beside a readable ledger it is only reported (below, once forms are known)
                rejected_unreadable.append((entry.stem, erel, _unreadable(entry, erel)))
                continue
            if code not in codes:
                rejected.append(
                    Rejection(
                        year,
                        None,
                        erel,
                        f"“{code}”不是机构名录中的单位代码，未读取 / unknown unit code: {erel}",
                    )
                )
                continue
            forms.setdefault(code, []).append((form, entry))
        for stem, erel, message in rejected_unreadable:
            code = stem if stem in codes and stem not in forms else None
            rejected.append(Rejection(year, code, erel, message))
        for code, entries in forms.items():
            if len(entries) > 1:
                names = " 和 ".join(_rel(p, landing) for _f, p in entries)
                n = _CHINESE_COUNT.get(len(entries), str(len(entries)))
                rejected.append(
                    Rejection(
                        year,
                        code,
                        _rel(entries[0][1], landing),
                        f"同一单位年度同时存在{n}种形式：{names}，无法判断以哪个为准，整体拒绝 / "
                        f"unit-year present in {len(entries)} forms: {names}",
                    )
                )
                continue
            form, p = entries[0]
            found.append(LedgerFile(year, code, p, form))
    return found, rejected


# ====================================================================== reference files
def _read_reference_csv(
    path: Path | str, spec: SheetSpec, *, year: int | None, landing: Path | None = None
) -> SheetResult:
    path = Path(path)
    rel = _rel(path, landing) if landing is not None else path.as_posix()
    if landing is not None and not _inside(path, landing):
        raise ReferenceDataError(_outside_message(rel))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReferenceDataError(f"无法读取 {rel} / cannot read ({exc})") from None
    try:
        raw = _read_csv_raw(data, spec, rel)
    except _BadEncoding as exc:
        raise ReferenceDataError(str(exc)) from None
    except _MissingColumns as exc:
        raise ReferenceDataError(
            f"{rel}：缺少必需列 {'、'.join(exc.missing)} / required column(s) missing"
        ) from None
    return _process(raw, spec, _Context(year, None, rel, _sha256(data)))


def read_units(path: Path | str, *, landing: Path | None = None) -> pl.DataFrame:
    """机构名录 → frame; raises ReferenceDataError unless it forms one tree of units."""
    res = _read_reference_csv(path, UNITS, year=None, landing=landing)
    rel = res.source_file
    if res.quarantine.height:
        bad = "；".join(
            f"第 {r['row_number']} 行 {r['reason']}" for r in res.quarantine.head(5).to_dicts()
        )
        raise ReferenceDataError(f"{rel}：机构名录有无法读取的行：{bad} / unreadable rows")
    df = res.frame
    dups = df.filter(pl.col("unit_code").is_duplicated())["unit_code"].unique().sort().to_list()
    if dups:
        raise ReferenceDataError(f"{rel}：单位代码重复：{'、'.join(dups)} / duplicate unit code")
    parent = dict(zip(df["unit_code"], df["parent_code"], strict=True))
    level = dict(zip(df["unit_code"], df["level"], strict=True))
    for code, par in parent.items():
        if par is not None and par not in parent:
            raise ReferenceDataError(
                f"{rel}：单位 {code} 的上级单位代码 {par} 不在名录中 / parent not in the file"
            )
    # a cycle first: it also breaks the level order, and "成环" is the message that helps
    for code in parent:
        seen = {code}
        cur = parent[code]
        while cur is not None:
            if cur in seen:
                raise ReferenceDataError(
                    f"{rel}：上级单位关系成环（经过 {code}）/ cycle in parent codes"
                )
            seen.add(cur)
            cur = parent.get(cur)
    rank = {"省": 0, "市": 1, "县": 2}
    for code, par in parent.items():
        if par is not None and rank[level[code]] <= rank[level[par]]:
            raise ReferenceDataError(
                f"{rel}：单位 {code}（{level[code]}）的上级 {par} 级别为{level[par]}，"
                f"级别不符 / bad level: a unit must be below its parent"
            )
    return df


def read_standards(
    path: Path | str, *, landing: Path | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    res = _read_reference_csv(path, STANDARDS, year=None, landing=landing)
    return res.frame, res.quarantine


def read_civil_roster(
    path: Path | str, year: int, *, landing: Path | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    res = _read_reference_csv(path, CIVIL_ROSTER, year=year, landing=landing)
    return res.frame, res.quarantine
