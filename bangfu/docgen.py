"""The parts of docs/ that are made from the code, so that the documents and the code cannot drift.

A document marks each such part as a region::

    <!-- generated:rules -->
    … (written by this module; edit the code, not this text)
    <!-- /generated:rules -->

``python -m bangfu.docgen`` rewrites every region of every Markdown file under docs/;
``python -m bangfu.docgen --check`` rewrites nothing and exits 1 naming the stale files
(tests/unit/test_docs.py runs the same check). No Dagster here.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections.abc import Callable
from pathlib import Path

from bangfu import sheets
from bangfu.settings import DEFAULT_SETTINGS, DEFAULT_SEVERITIES, AuditSettings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REGION = re.compile(
    r"(<!-- generated:(?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)", re.S
)
NOTE = "<!-- made by `python -m bangfu.docgen` from the code: edit the code, not this table -->\n"

SUBJECTS = {
    "payment": "Payments (subject: one payment, key `payment_no`)",
    "archive": "Archive records (subject: one record, key `archive_no`)",
    "cross": "Across units (subject: one record, key `archive_no`, or one roster person)",
    "ledger": "Ledger (subject: one voucher, key `voucher_no`)",
    "unit": "Unit-year (subject: the unit-year, key `category` where named)",
    "rollup": "Roll-up (subject: the unit-year over its subtree, key `category`)",
}
KIND_TEXT = {
    "text": "text",
    "code": "code (spaces removed)",
    "id": "ID number (normalised)",
    "phone": "phone (+86, spaces, dashes removed)",
    "date": "date",
    "amount": "amount, 元",
    "int": "whole number",
    "enum": "one of a vocabulary",
}


def _cell(text: object) -> str:
    """One Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _value(v: object) -> str:
    if isinstance(v, tuple):
        if v and isinstance(v[0], tuple):  # pairs: severities, caps by year
            return "; ".join("·".join(str(x) for x in p) for p in v) or "(none)"
        return ", ".join(str(x) for x in v) or "(none)"
    return str(v)


def _rules():
    import bangfu.rules  # noqa: F401 - registers every rule
    from bangfu.rules.registry import RULES

    return sorted(RULES.values(), key=lambda r: r.order)


def rules_markdown() -> str:
    """Every rule by subject kind: code, the problem, default severity, when it fires, settings."""
    out: list[str] = []
    rules = _rules()
    for kind, heading in SUBJECTS.items():
        of_kind = [r for r in rules if r.kind == kind]
        if not of_kind:
            continue
        rows = [
            [
                f"`{r.code}`",
                r.title,
                DEFAULT_SEVERITIES[r.code],
                (r.fn.__doc__ if r.fn is not None else "") or "",
                ", ".join(f"`{s}`" for s in r.settings) or "—",
            ]
            for r in of_kind
        ]
        out.append(f"### {heading}\n\n")
        out.append(_table(["rule_code", "问题", "严重程度", "fires when", "settings"], rows))
        out.append("\n")
    return "".join(out).rstrip("\n") + "\n"


def basis_markdown() -> str:
    """The ``basis`` every finding of a rule carries, word for word."""
    return _table(["rule_code", "basis (依据)"], [[f"`{r.code}`", r.basis] for r in _rules()])


def settings_markdown() -> str:
    """Every setting with its default and the rules that read it."""
    readers: dict[str, list[str]] = {}
    for r in _rules():
        for s in r.settings:
            readers.setdefault(s, []).append(f"`{r.code}`")
    rows = []
    for f in dataclasses.fields(AuditSettings):
        if f.name == "severities":
            continue
        rows.append(
            [f"`{f.name}`", _value(getattr(DEFAULT_SETTINGS, f.name)), ", ".join(readers[f.name])]
        )
    rows.append(["`severities`", "per rule, as in the tables above", "every rule"])
    return _table(["setting", "default", "read by"], rows)


def _synonyms(spec: sheets.SheetSpec, col: sheets.Column) -> str:
    names = list(sheets.HEADER_SYNONYMS.get(col.header, ())) + list(col.synonyms)
    if spec.key == "payments":
        names += sheets.PAYMENT_ONLY_SYNONYMS.get(col.header, ())
    return "、".join(names)


def _values(col: sheets.Column) -> str:
    bits = []
    if col.vocab:
        vocab = " / ".join(col.vocab)
        bits.append(vocab + (" (anything else is quarantined)" if col.strict_vocab else ""))
    if col.min_value is not None:
        bits.append(f"≥ {col.min_value:g}")
    if col.gt_value is not None:
        bits.append(f"> {col.gt_value:g}")
    return "; ".join(bits)


def _required(col: sheets.Column) -> str:
    if col.required:
        return "yes"
    return "column only" if col.must_exist else ""


def _sheet_markdown(spec: sheets.SheetSpec, what: str) -> str:
    head = f"### {spec.title} (`{spec.key}`){what}\n\n"
    rows = [
        [
            c.header,
            f"`{c.name}`",
            KIND_TEXT[c.kind],
            _required(c),
            _values(c),
            _synonyms(spec, c),
        ]
        for c in spec.columns
    ]
    body = _table(["header", "canonical", "type", "required", "values", "also read as"], rows)
    if spec.unique_keys:
        keys = ", ".join(f"`{k}`" for k in spec.unique_keys)
        body += f"\nShould be unique within the unit-year: {keys} (repeats are kept and warned).\n"
    return head + body


def ledger_sheets_markdown() -> str:
    parts = [
        _sheet_markdown(s, " — required sheet" if s.required else " — optional sheet")
        for s in sheets.LEDGER_SHEETS
    ]
    return "\n".join(parts)


def reference_files_markdown() -> str:
    files = {
        "units": "reference/units.csv",
        "standards": "reference/standards.csv",
        "civil_roster": "reference/civil_roster/<year>.csv",
    }
    return "\n".join(_sheet_markdown(s, f" — `{files[s.key]}`") for s in sheets.REFERENCE_SHEETS)


def read_conventions_markdown() -> str:
    totals = "、".join(sheets.TOTAL_MARKERS)
    values = "; ".join(f"{a} → {b}" for a, b in sheets.VALUE_SYNONYMS.items())
    return (
        f"- A row whose first cells read {totals} is a total row: skipped and counted apart.\n"
        f"- Values read as another (the seed's forms' spellings): {values}.\n"
    )


def warehouse_markdown() -> str:
    from warehouse import tables

    rows = []
    for t in tables.metadata.sorted_tables:
        cols = ", ".join(f"`{c.name}`" + ("" if c.nullable else " (not null)") for c in t.columns)
        rows.append([f"`{t.name}`", cols])
    return _table(["table", "columns"], sorted(rows))


def workbook_forms_markdown() -> str:
    """The 审定表 sheets of a unit's workbook, in order, from the form layouts."""
    from bangfu.forms.layouts import FORMS

    rows = [
        [
            f.sheet,
            f.title,
            "each household concerned" if f.per_household else "the unit",
            ", ".join(f"`{code}`" for code in f.rules),
        ]
        for f in FORMS
    ]
    return _table(["sheet", "审定表", "one per", "findings it states"], rows)


REGIONS: dict[str, Callable[[], str]] = {
    "rules": rules_markdown,
    "basis": basis_markdown,
    "settings": settings_markdown,
    "ledger-sheets": ledger_sheets_markdown,
    "reference-files": reference_files_markdown,
    "read-conventions": read_conventions_markdown,
    "warehouse-tables": warehouse_markdown,
    "workbook-forms": workbook_forms_markdown,
}


def render(text: str, made: dict[str, str] | None = None) -> str:
    """``text`` with every generated region made afresh; an unknown region name is an error."""
    made = {} if made is None else made

    def fill(m: re.Match) -> str:
        name = m["name"]
        if name not in REGIONS:
            raise KeyError(f"unknown generated region {name!r} (known: {', '.join(REGIONS)})")
        if name not in made:
            made[name] = REGIONS[name]()
        return m.group(1) + NOTE + made[name] + m.group(4)

    return REGION.sub(fill, text)


def stale_files(docs: Path = DOCS, *, write: bool = False) -> list[Path]:
    """The Markdown files under ``docs`` whose generated regions differ from the code's."""
    made: dict[str, str] = {}
    stale = []
    for path in sorted(docs.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        new = render(text, made)
        if new != text:
            stale.append(path)
            if write:
                path.write_text(new, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bangfu.docgen", description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="rewrite nothing; exit 1 if stale")
    args = p.parse_args(argv)
    stale = stale_files(write=not args.check)
    for path in stale:
        verb = "stale" if args.check else "rewritten"
        print(f"{path.relative_to(ROOT)}: {verb}")
    if args.check and stale:
        print("run `python -m bangfu.docgen` (or `make docs`) and commit the result")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
