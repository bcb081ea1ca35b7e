"""The documents and the code cannot drift: the generated tables of docs/ are what
`python -m bangfu.docgen` makes now, every rule and setting is documented, links resolve, and
nothing points outside the repository."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

from bangfu import docgen
from bangfu.rules.registry import RULES
from bangfu.settings import AuditSettings
from bangfu.sheets import LEDGER_SHEETS, REFERENCE_SHEETS
from tests.support import REPO as ROOT

CONTRACTS = {
    "INPUT-LEDGERS.md": ("reference-files", "ledger-sheets", "read-conventions"),
    "RULES.md": ("rules", "settings", "basis"),
    "OUTPUTS.md": ("warehouse-tables", "workbook-forms"),
}


def test_generated_tables_match_the_code():
    stale = docgen.stale_files()
    assert not stale, (
        f"{[str(p.relative_to(ROOT)) for p in stale]} differ from the code: "
        "run `python -m bangfu.docgen` (make docs) and commit"
    )


def test_the_three_contracts_hold_their_generated_regions():
    for name, regions in CONTRACTS.items():
        text = (ROOT / "docs" / name).read_text(encoding="utf-8")
        for region in regions:
            assert f"<!-- generated:{region} -->" in text, (name, region)


def test_a_changed_table_is_noticed(tmp_path):
    """The check can fail: a hand edit inside a region, or a rule the text does not know."""
    rules = (ROOT / "docs" / "RULES.md").read_text(encoding="utf-8")
    edited = rules.replace(
        "| `PAY_CASH` | 以现金方式发放帮扶资金 | 低 |", "| `PAY_CASH` | 现金 | 高 |"
    )
    assert edited != rules
    (tmp_path / "RULES.md").write_text(edited, encoding="utf-8")
    assert docgen.stale_files(tmp_path) == [tmp_path / "RULES.md"]
    docgen.stale_files(tmp_path, write=True)
    assert (tmp_path / "RULES.md").read_text(encoding="utf-8") == rules


def test_every_rule_sheet_and_column_is_documented():
    rules = (ROOT / "docs" / "RULES.md").read_text(encoding="utf-8")
    for code, rule in RULES.items():
        assert f"| `{code}` |" in rules, code
        assert rule.fn is None or (rule.fn.__doc__ or "").strip(), f"{code}: no docstring"
    ledgers = (ROOT / "docs" / "INPUT-LEDGERS.md").read_text(encoding="utf-8")
    for spec in LEDGER_SHEETS + REFERENCE_SHEETS:
        assert f"### {spec.title} (`{spec.key}`)" in ledgers, spec.key
        for col in spec.columns:
            assert f"| {col.header} | `{col.name}` |" in ledgers, (spec.key, col.name)


def test_rule_settings_are_real_and_every_setting_is_read_by_a_rule():
    fields = {f.name for f in dataclasses.fields(AuditSettings)} - {"severities"}
    named = {s for r in RULES.values() for s in r.settings}
    assert named <= fields, named - fields
    assert fields <= named, f"settings no rule names: {sorted(fields - named)}"


def _repo_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [ROOT / line for line in out.splitlines() if (ROOT / line).is_file()]


def test_nothing_points_outside_the_repository():
    """A clone holds only the repository: no file may send its reader to the shared folder."""
    needle = "../" + "shared"
    bad = [
        str(p.relative_to(ROOT))
        for p in _repo_files()
        if p.suffix not in (".png", ".lock", ".json")
        and needle in p.read_text(encoding="utf-8", errors="ignore")
    ]
    assert not bad, bad


def test_relative_links_of_readme_and_docs_resolve():
    link = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
    bad = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in link.findall(doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            if not (doc.parent / target).exists():
                bad.append(f"{doc.relative_to(ROOT)} → {target}")
    assert not bad, bad
