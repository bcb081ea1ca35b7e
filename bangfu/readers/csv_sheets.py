"""A CSV sheet: decoded as UTF-8 (with or without BOM) or GB18030, anything else refused, and
split into rows by the csv module or, for long files split alike, by polars (``csv_frame``)."""

from __future__ import annotations

import csv
import io
import re

import polars as pl

from bangfu.readers.common import (
    HEADER_SEARCH_ROWS,
    _BadEncoding,
    _detect_header,
    _Raw,
    raw_from_rows,
)
from bangfu.sheets import (
    SheetSpec,
)


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


def csv_rows(text: str) -> tuple[list[int], list[list[str | None]]]:
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


def csv_frame_polars(text: str) -> pl.DataFrame | None:
    """The csv module's records (``csv_rows``) as polars reads them, or None when polars might
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


def csv_frame(text: str) -> pl.DataFrame:
    """The raw frame of a CSV text: the csv module's records (``csv_rows``); read by polars
    when the file is long enough for that to pay and is split alike (``csv_frame_polars``)."""
    if text.count("\n") >= CSV_MODULE_MAX_LINES:
        fast = csv_frame_polars(text)
        if fast is not None:
            return fast
    return csv_frame_stdlib(text)


def csv_frame_stdlib(text: str) -> pl.DataFrame:
    """The raw frame of a CSV text as the csv module splits it (the reference reading)."""
    row_nos, rows = csv_rows(text)
    return raw_from_rows(row_nos, rows)


def _read_csv_raw(data: bytes, spec: SheetSpec, rel: str) -> _Raw:
    text, _encoding = _decode_csv(data, rel)
    raw = csv_frame(text)
    head = raw.head(HEADER_SEARCH_ROWS).to_dict(as_series=False)  # no query per file
    row_nos = head.pop("__row")
    cells = [list(r) for r in zip(*head.values(), strict=True)] if head else [[] for _ in row_nos]
    header_row, mapping, warnings = _detect_header(zip(row_nos, cells, strict=True), spec)
    return _Raw(raw, header_row, mapping, warnings)
