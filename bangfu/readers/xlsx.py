"""A workbook sheet as raw text cells. An .xlsx / .xlsm: a peek at the sheet XML finds the header,
calamine loads the sheet once (``read_xlsx_raw``); an .xls / .ods: calamine alone
(``read_calamine_raw``)."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from xml.etree import ElementTree as ET

import fastexcel
import polars as pl

from bangfu.kinds import KINDS
from bangfu.readers.common import HEADER_SEARCH_ROWS, _detect_header, _norm_name, _Raw
from bangfu.readers.id_text import restore_id_text
from bangfu.sheets import (
    SheetSpec,
)

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


def xlsx_sheet_members(zf: zipfile.ZipFile) -> dict[str, str]:
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


def peek_rows(
    zf: zipfile.ZipFile, member: str, sst: SharedStrings | None = None
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
        sst = sst if sst is not None else SharedStrings(zf)
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


class SharedStrings:
    """The workbook's shared strings, looked up by index for the peeks (a later sheet's headers
    sit deep in the table, after every earlier sheet's strings).

    Fast path: the part's bytes split once at each ``<si>`` and only the strings asked for parsed
    (a few dozen per sheet) — parsing every element up to a deep index would cost, for every
    workbook, time in proportion to the whole table. Parts this split cannot index safely
    (``<si>`` with attributes, empty ``<si/>``, prefixed tags, anything that fails to parse) are
    read by streaming the XML in order."""

    def __init__(self, zf: zipfile.ZipFile):
        self._zf = zf
        self._pieces: list[bytes] | None = None
        self._found: dict[int, str] = {}
        self._streamed: StreamedStrings | None = None

    @property
    def streamed_fallback(self) -> bool:
        """True once the part proved unsafe to split and is being streamed instead."""
        return self._streamed is not None

    def get(self, i: int) -> str:
        if self._streamed is not None:
            return self._streamed.get(i)
        if i in self._found:
            return self._found[i]
        if self._pieces is None:
            self._pieces = self._split()
            if self._pieces is None:
                self._streamed = StreamedStrings(self._zf)
                return self._streamed.get(i)
        if i >= len(self._pieces):
            return ""
        piece = self._pieces[i]
        end = piece.find(b"</si>")
        try:
            el = ET.fromstring(_SI_OPEN + (piece if end < 0 else piece[:end]) + b"</si>")
        except ET.ParseError:
            self._streamed = StreamedStrings(self._zf)
            return self._streamed.get(i)
        self._found[i] = text = _si_text(el)
        return text

    def _split(self) -> list[bytes] | None:
        name = shared_strings_name(self._zf)
        if name is None:
            return []
        data = self._zf.read(name)
        if _SI_UNUSUAL.search(data):
            return None
        return data.split(b"<si>")[1:]


_SI_OPEN = f'<si xmlns="{_NS_MAIN[1:-1]}">'.encode()
# <si> with attributes or self-closed, or any prefixed si: the split would miscount
_SI_UNUSUAL = re.compile(rb"<si[\s/]|<[A-Za-z_][\w.-]*:si[\s/>]")


def shared_strings_name(zf: zipfile.ZipFile) -> str | None:
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


class StreamedStrings:
    """Shared strings parsed in order, only as far as asked (the general XML path)."""

    def __init__(self, zf: zipfile.ZipFile):
        self._zf = zf
        self._strings: list[str] = []
        self._events: Iterator | None = None
        self._done = False

    def _start(self) -> None:
        name = shared_strings_name(self._zf)
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


def _read_xlsx_raw(
    reader: fastexcel.ExcelReader,
    zf: zipfile.ZipFile,
    name: str,
    member: str | None,
    spec: SheetSpec,
    sst: SharedStrings | None = None,
) -> _Raw:
    """Read one sheet once. ID columns are read typed (float) so that an ID typed as a number
    is known as such; their text cells come back through fastexcel's cell errors."""
    peek = None
    if member is not None:
        try:
            peek = peek_rows(zf, member, sst)
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
        id_cols = [
            mapping[c.name]
            for c in spec.columns
            if KINDS[c.kind].reads_cell_type and c.name in mapping
        ]
        raw = _load_typed(reader, name, min_row, min_col, width, id_cols)
        # the peek and calamine agree on where the sheet starts? (else the safe path below)
        if raw is not None and _header_matches(raw, header_row, mapping, spec):
            return _Raw(raw, header_row, mapping, warnings)
    first_row = peek[0][0] if peek else 1
    return read_xlsx_raw_safe(reader, name, spec, first_row)


def _load_typed(
    reader: fastexcel.ExcelReader,
    name: str,
    first_row: int,
    first_col: int,
    width: int,
    id_cols: list[int],
    **options,
) -> pl.DataFrame | None:
    """Load a sheet: every column seen in the peek as text; ID columns as :func:`load_id_text`
    finds them, else typed (see :func:`restore_id_text`). ``options`` go to calamine's
    load (``skip_rows=0``: from row 1, leading blank rows included)."""
    if id_cols:
        text = load_id_text(reader, name, first_row, first_col, width, id_cols, **options)
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
    return restore_id_text(df, id_cols, errors)


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


def load_id_text(
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


def read_xlsx_raw_safe(
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
    id_cols = [
        mapping[c.name] for c in spec.columns if KINDS[c.kind].reads_cell_type and c.name in mapping
    ]
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
    id_cols = [
        mapping[c.name] for c in spec.columns if KINDS[c.kind].reads_cell_type and c.name in mapping
    ]
    if id_cols:
        typed = _load_typed(reader, name, 1, base, text.width - 1, id_cols, skip_rows=0)
        if typed is None:
            return read_xlsx_raw_safe(reader, name, spec, None)
        text = typed
    return _Raw(text, header_row, mapping, warnings)
