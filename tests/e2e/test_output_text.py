"""What a first reader of the outputs meets, over real outputs: the S run's workbooks and reports
join sentences without a doubled full stop; `bangfu demo` makes a private data folder."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bangfu.rules.registry import RULES
from tests.support import REPO
from warehouse import tables
from warehouse.store import Warehouse, default_url

# a sentence's full stop followed by what only a clause may be followed by
BAD_JOIN = re.compile(r"。[。；，、等]")


def _texts(path: Path) -> str:
    """All text of an .xlsx or .docx, character references resolved."""
    with zipfile.ZipFile(path) as z:
        parts = [n for n in z.namelist() if n.endswith(".xml")]
        return html.unescape("\n".join(z.read(n).decode("utf-8") for n in parts))


def test_no_doubled_full_stop_where_findings_are_joined(s_run):
    """Every rule's real details, as the S run wrote them into the workbooks' 审定表 conclusions,
    取证单 and the reports: no 。 directly followed by 。, ；, 等 … (the detail's own full stop
    left in the middle of a longer sentence)."""
    wh = Warehouse(default_url(s_run["data"]))
    rules_found = set(wh.read(tables.findings)["rule_code"].unique().to_list())
    wh.dispose()
    assert rules_found == set(RULES), set(RULES) - rules_found  # every rule's details are met
    outputs = sorted((s_run["data"] / "workbooks").rglob("*.xlsx"))
    outputs += sorted((s_run["data"] / "reports").rglob("*.docx"))
    assert len(outputs) >= 2 * 33
    bad = []
    for path in outputs:
        for m in BAD_JOIN.finditer(_texts(path)):
            text = m.string
            bad.append(f"{path.name}: …{text[max(0, m.start() - 30) : m.end() + 10]}…")
    assert not bad, "\n".join(bad[:10])


@pytest.mark.slow
def test_demo_creates_a_private_data_folder(tmp_path):
    """`bangfu demo` into a folder that does not exist yet: made 0700 (it holds personal data),
    so the run has nothing to warn about, and it exits 0."""
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "BANGFU_WAREHOUSE_URL")}
    result = subprocess.run(
        [
            "/bin/sh",
            "-c",
            f'umask 022 && exec "$0" -m bangfu.cli demo --data "{data}"',
            sys.executable,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (data.stat().st_mode & 0o777) == 0o700
    assert "其他用户可访问" not in result.stdout + result.stderr
    assert len(list((data / "workbooks").rglob("*.xlsx"))) == 33
