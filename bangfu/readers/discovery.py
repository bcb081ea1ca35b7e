"""The ledgers folder: every unit-year's ledger in whichever form, and what cannot be one."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from bangfu.readers import formats as W
from bangfu.readers.common import LedgerFile, Rejection, _inside, _outside_message, _rel

# ====================================================================== discovery
_IGNORED = re.compile(r"^(\.|~\$)")
_CHINESE_COUNT = {2: "两", 3: "三", 4: "四", 5: "五", 6: "六"}
_ENGLISH_COUNT = {2: "both"}


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
                        f"unit-year present in {_ENGLISH_COUNT.get(len(entries), len(entries))} forms: "
                        f"{names}",
                    )
                )
                continue
            form, p = entries[0]
            found.append(LedgerFile(year, code, p, form))
    return found, rejected
