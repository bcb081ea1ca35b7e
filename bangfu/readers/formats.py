"""What a workbook file is, told from its bytes, and the hostile-file checks made before any
parser sees it.

A ledger workbook may come as .xlsx / .xlsm (zipped XML), .xls (Excel 97–2003: a compound
document holding a BIFF ``Workbook`` stream) or .ods (zipped OpenDocument XML). calamine reads all
four, but it trusts what the container declares; so the declared sizes are checked here, without
inflating or copying anything: the zip's central directory (xlsx, ods), the compound document's
header, FAT and directory (xls). A file whose content is not what its name says (an .xlsx renamed
.xls, a web page saved as .xls, a text file named .ods) is refused with what it really is.
Nothing here imports Dagster or a parser.
"""

from __future__ import annotations

import io
import struct
import zipfile

# suffix → format of a readable workbook (the format name is the LedgerFile's ``form``)
WORKBOOK_SUFFIXES = {".xlsx": "xlsx", ".xlsm": "xlsm", ".xls": "xls", ".ods": "ods"}
# zipped-XML formats read through the xlsx path (the sheet XML peek)
OOXML_FORMATS = frozenset({"xlsx", "xlsm"})
# files a unit may send that cannot be read: what they are, for the message
UNREADABLE_SUFFIXES = {
    ".et": "WPS 表格文件（.et）",
    ".ett": "WPS 表格模板（.ett）",
    ".numbers": "Apple Numbers 表格（.numbers）",
    ".pdf": "PDF 文件（.pdf）",
    ".xlsb": "Excel 二进制工作簿（.xlsb）",
    ".doc": "Word 文档（.doc）",
    ".docx": "Word 文档（.docx）",
    ".wps": "WPS 文字文档（.wps）",
}
SAVE_AS_XLSX = "请用原软件打开后另存为 .xlsx（Excel 工作簿）再提交"

_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
_CONTENT_NAMES = {
    "xlsx": "xlsx 工作簿",
    "xlsm": "xlsm 工作簿",
    "xls": "xls 工作簿",
    "ods": "ods 表格",
}


class WorkbookRefused(Exception):
    """The file is refused before any parser reads it; ``message`` says why (Chinese, English)."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def unreadable_message(suffix: str, rel: str) -> str:
    """The message for a file in the ledgers folder that no reader takes: what to do."""
    what = UNREADABLE_SUFFIXES.get(suffix.lower(), f"“{suffix or '无扩展名'}”文件")
    return (
        f"{what}无法读取，{SAVE_AS_XLSX}（或 .xls / .ods / 每表一个 CSV 的文件夹）/ "
        f"cannot read this file type: open it and save it as .xlsx, then resubmit: {rel}"
    )


def check_workbook(data: bytes, form: str, limit: int) -> zipfile.ZipFile | None:
    """Refuse ``data`` (a file named as ``form``) unless it is such a workbook within ``limit``
    bytes once inflated. Returns the open zip of an xlsx / xlsm (its sheet XML is peeked at),
    else None. Raises WorkbookRefused."""
    if data.startswith((_ZIP_MAGIC, _EMPTY_ZIP_MAGIC)):
        zf = _check_zip(data, form, limit)
        content = _zip_content(zf)
    elif data.startswith(_CFB_MAGIC):
        zf = None
        content = _check_cfb(data, form, limit)
    else:
        raise WorkbookRefused(_not_a_workbook(form, _looks_like(data)))
    same = content == form or (content in OOXML_FORMATS and form in OOXML_FORMATS)
    if not same:
        raise WorkbookRefused(_renamed(form, content))
    return zf if form in OOXML_FORMATS else None


# ---------------------------------------------------------------------- messages
def _corrupt(form: str, detail: str) -> str:
    return f"文件损坏或不是 {form} 工作簿 / corrupt file or not an {form} workbook ({detail})"


def _not_a_workbook(form: str, what: str) -> str:
    return (
        f"不是 {form} 工作簿（内容是{what}，扩展名可能被改过），{SAVE_AS_XLSX} / "
        f"not an {form} workbook (the content is {_ENGLISH.get(what, what)}): "
        f"open it and save it as .xlsx"
    )


_ENGLISH = {
    "文本或网页": "text or a web page",
    "无法识别的数据": "unrecognised data",
    "空文件": "an empty file",
}


def _renamed(form: str, content: str | None) -> str:
    if content is None:  # a zip or compound document, but no spreadsheet inside
        return (
            f"不是 {form} 工作簿（是其他软件的压缩包或文档，扩展名可能被改过），{SAVE_AS_XLSX} / "
            f"not an {form} workbook (another program's container): save it as .xlsx"
        )
    return (
        f"文件扩展名为 .{form}，内容却是{_CONTENT_NAMES[content]}（扩展名被改过），请把扩展名改回"
        f" .{content} 或另存为 .xlsx 后再提交 / named .{form} but holds an {content} workbook: "
        f"rename it to .{content} (or save it as .xlsx)"
    )


def _looks_like(data: bytes) -> str:
    head = data[:4096]
    if not head:
        return "空文件"
    if b"\x00" in head:
        return "无法识别的数据"
    return "文本或网页"


# ---------------------------------------------------------------------- zip (xlsx, xlsm, ods)
def _check_zip(data: bytes, form: str, limit: int) -> zipfile.ZipFile:
    """Open the container and refuse it if its declared uncompressed size is too big (the
    central directory, read before anything is inflated)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise WorkbookRefused(_corrupt(form, str(exc))) from None
    total = sum(i.file_size for i in infos)
    if total > limit:
        raise WorkbookRefused(
            f"工作簿解压后将达 {total / 1024**2:.0f} MB，超过上限 {limit / 1024**2:.0f} MB，"
            f"疑似压缩炸弹，未解压即拒绝 / workbook would inflate to {total} bytes "
            f"(limit {limit}): refused without inflating"
        )
    if form in OOXML_FORMATS and _zip_content(zf) is None:
        raise WorkbookRefused(f"不是 {form} 工作簿（缺少 workbook.xml）/ not an {form} workbook")
    return zf


def _zip_content(zf: zipfile.ZipFile) -> str | None:
    names = zf.namelist()
    if any(n.endswith("workbook.xml") for n in names):
        return "xlsx"
    if "content.xml" in names and "mimetype" in names:
        info = zf.getinfo("mimetype")
        if info.file_size <= 256 and zf.read(info).strip() == _ODS_MIMETYPE:
            return "ods"
    return None


# ---------------------------------------------------------------------- compound document (xls)
_END_OF_CHAIN = 0xFFFFFFFE
_FREE = 0xFFFFFFFF
_DIR_ENTRY = 128
_STREAM, _ROOT = 2, 5


def _check_cfb(data: bytes, form: str, limit: int) -> str | None:
    """Walk the compound document's header, FAT and directory within the file's own bytes and
    refuse it when a declared size exceeds ``limit`` or the file itself. Returns "xls" when it
    holds an Excel workbook stream, else None."""
    try:
        streams = _cfb_streams(data)
    except _CorruptCfb as exc:
        raise WorkbookRefused(_corrupt(form, str(exc))) from None
    total = sum(size for _name, size in streams)
    if total > limit:
        raise WorkbookRefused(
            f"工作簿声明的数据达 {total / 1024**2:.0f} MB，超过上限 {limit / 1024**2:.0f} MB，"
            f"疑似恶意文件，未读取即拒绝 / the compound document declares {total} bytes "
            f"(limit {limit}): refused unread"
        )
    too_big = [name for name, size in streams if size > len(data)]
    if too_big:
        raise WorkbookRefused(
            _corrupt(form, f"stream {too_big[0]} declares more bytes than the file holds")
        )
    names = {name for name, _size in streams}
    return "xls" if names & {"Workbook", "Book"} else None


class _CorruptCfb(Exception):
    pass


def _cfb_streams(data: bytes) -> list[tuple[str, int]]:
    """(name, declared size) of every stream of the compound document. Every walk is bounded by
    the sectors the file holds, so a lying header cannot make it loop or read far."""
    if len(data) < 512:
        raise _CorruptCfb("shorter than a compound-document header")
    major, _order, shift = struct.unpack_from("<HHH", data, 0x1A)
    if shift not in (9, 12):
        raise _CorruptCfb(f"sector size 2^{shift}")
    size = 1 << shift
    sectors = max(0, (len(data) - size) // size)  # the header takes the first sector's place
    n_fat, dir_start = struct.unpack_from("<II", data, 0x2C)
    difat_start, n_difat = struct.unpack_from("<II", data, 0x44)
    if n_fat > sectors or n_difat > sectors:
        raise _CorruptCfb(f"declares {n_fat} FAT sectors in a file of {sectors}")

    def sector(s: int) -> bytes:
        if s >= sectors:
            raise _CorruptCfb(f"sector {s} beyond the end of the file")
        return data[(s + 1) * size : (s + 2) * size]

    fat_sectors = [s for s in struct.unpack_from("<109I", data, 0x4C) if s != _FREE][:n_fat]
    s, seen = difat_start, 0
    while len(fat_sectors) < n_fat and s not in (_END_OF_CHAIN, _FREE):
        seen += 1
        if seen > n_difat:
            raise _CorruptCfb("DIFAT chain longer than declared")
        entries = struct.unpack(f"<{size // 4}I", sector(s))
        fat_sectors += [x for x in entries[:-1] if x != _FREE]
        s = entries[-1]
    fat: list[int] = []
    for fs in fat_sectors[:n_fat]:
        fat += struct.unpack(f"<{size // 4}I", sector(fs))

    streams: list[tuple[str, int]] = []
    s, walked = dir_start, 0
    while s != _END_OF_CHAIN:
        walked += 1
        if walked > sectors or s >= len(fat):
            raise _CorruptCfb("directory chain leaves the file")
        block = sector(s)
        for at in range(0, size, _DIR_ENTRY):
            entry = block[at : at + _DIR_ENTRY]
            kind = entry[66]
            if kind not in (_STREAM, _ROOT):
                continue
            name_len = min(struct.unpack_from("<H", entry, 64)[0], 64)
            name = entry[: max(0, name_len - 2)].decode("utf-16-le", errors="replace")
            (declared,) = struct.unpack_from("<Q", entry, 120)
            if major == 3:  # version 3: the high 32 bits may hold anything
                declared &= 0xFFFFFFFF
            streams.append((name, declared))  # the root's: the small streams' container
        s = fat[s]
    return streams
