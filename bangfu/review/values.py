"""The three kinds of judgment of review.md as data: values (stored in Chinese), aliases typed
anywhere a value is typed, and which values need a note (说明)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# 底稿 form numbers: the seed's 第六章 forms 五 … 二十一 (bangfu.forms.layouts.FORMS' ``no``)
FORM_NUMBERS = tuple(
    [
        "五",
        "六",
        "七",
        "八",
        "九",
        "十",
        "十一",
        "十二",
        "十三",
        "十四",
        "十五",
        "十六",
        "十七",
        "十八",
        "十九",
        "二十",
        "二十一",
    ]
)


@dataclass(frozen=True)
class Kind:
    name: str  # target_kind
    label: str  # what an auditor calls it
    values: tuple[str, ...]  # stored values, in Chinese
    aliases: dict[str, str]  # typed text (normalised) → stored value
    need_note: frozenset[str]
    default: str | None  # the value when nothing is recorded


def _norm(text: str) -> str:
    """Typed text compared without width, case or spaces ("１．予以认可" = "1.予以认可")."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


VERDICT = Kind(
    name="finding",
    label="复核结论",
    values=("待核实", "确认", "排除", "已整改"),
    aliases={"open": "待核实", "confirmed": "确认", "dismissed": "排除", "rectified": "已整改"},
    need_note=frozenset({"排除", "已整改"}),
    default="待核实",
)
EVIDENCE = Kind(
    name="evidence",
    label="证据提供单位意见",
    values=("无异议", "有异议"),
    aliases={"agree": "无异议", "disagree": "有异议"},
    need_note=frozenset({"有异议"}),
    default=None,
)
_AUDIT_TEXT = ("予以认可", "责成采取进一步审计措施", "纠正或责成纠正不恰当的审计结论")
AUDIT = Kind(
    name="workpaper",
    label="审核意见",
    values=tuple(f"{i} {t}" for i, t in enumerate(_AUDIT_TEXT, start=1)),
    aliases={
        **{str(i): f"{i} {t}" for i, t in enumerate(_AUDIT_TEXT, start=1)},
        **{t: f"{i} {t}" for i, t in enumerate(_AUDIT_TEXT, start=1)},
        # the seed's own wording of 2 and 3
        "责成采取进一步审计措施，获取适当、充分的审计证据": f"2 {_AUDIT_TEXT[1]}",
        "纠正或者责成纠正不恰当的审计结论": f"3 {_AUDIT_TEXT[2]}",
    },
    need_note=frozenset({f"2 {_AUDIT_TEXT[1]}", f"3 {_AUDIT_TEXT[2]}"}),
    default=None,
)
KINDS = {k.name: k for k in (VERDICT, EVIDENCE, AUDIT)}


def audit_code(value: str | None) -> str:
    """'1 予以认可' → '1' (what the workbook's drop-down holds)."""
    return (value or "").split(" ", 1)[0]


def parse(kind: Kind, typed) -> str | None:
    """The stored value for what was typed (value, alias, 审核意见 code with or without its
    text, an Excel number 1.0), or None when it is none of them."""
    if typed is None:
        return None
    if isinstance(typed, float) and typed.is_integer():
        typed = int(typed)
    text = _norm(str(typed))
    if not text:
        return None
    table = {_norm(v): v for v in kind.values}
    table.update({_norm(a): v for a, v in kind.aliases.items()})
    if text in table:
        return table[text]
    if kind is AUDIT:  # "1.予以认可", "1、予以认可", "1 予以认可"
        m = re.fullmatch(r"([123])[.、．:：]?(.*)", text)
        if m and (not m[2] or _norm(_AUDIT_TEXT[int(m[1]) - 1]).startswith(m[2])):
            return AUDIT.values[int(m[1]) - 1]
    return None


def accepted(kind: Kind) -> str:
    """The accepted values as a message lists them."""
    if kind is AUDIT:
        return "1、2、3（" + "；".join(kind.values) + "）"
    aliases = "、".join(kind.aliases)
    return "、".join(kind.values) + f"（或 {aliases}）"


def needs_note(kind: Kind, value: str) -> bool:
    return value in kind.need_note
