"""The Dagster UI over the scale-S run: asset graph and partitions pages in headless Chromium,
served read-only as auditors see it (`make ui`; tests/e2e/test_access.py checks what it refuses).

Needs Debian's chromium at /usr/bin/chromium (scripts/system-deps.sh installs it); without it
the test skips outside CI and FAILS under CI=true.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import REPO as ROOT
from tests.support import free_port, missing
from warehouse import tables
from warehouse.store import Warehouse, default_url

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
YEAR = 2019

pytestmark = pytest.mark.browser


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster-webserver exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"dagster-webserver not up after {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def webserver(s_run, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(s_run["home"]),
        "BANGFU_DATA": str(s_run["data"]),
        "BANGFU_LANDING": str(s_run["landing"]),
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("BANGFU_WAREHOUSE_URL", None)
    log = tmp_path / "webserver.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dagster-webserver"),
                "--read-only",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-m",
                "pipelines.definitions",
                "-a",
                "defs",
            ],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # webserver + its code server: one process group
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/server_info", proc, log)
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def test_ui_shows_graph_partitions_and_findings(s_run, webserver):
    from playwright.sync_api import sync_playwright

    wh = Warehouse(default_url(s_run["data"]))
    units = wh.read(tables.unit_year_metrics, year=YEAR)
    county = sorted(units.filter(units["level"] == "县")["unit_code"].to_list())[0]
    n_findings = wh.count(tables.findings, year=YEAR, unit_code=county, stage="unit")
    wh.dispose()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(30_000)

            def visit(path: str) -> None:
                page.goto(webserver + path, wait_until="networkidle")
                skip = page.get_by_role("button", name="Skip")  # the community pop-up
                if skip.count():
                    skip.first.click()

            # the asset graph: its four groups
            visit("/asset-groups")
            page.get_by_text("Global asset lineage").first.wait_for()
            for group in ("ingest", "findings", "metrics", "workbooks"):
                page.get_by_text(group, exact=True).first.wait_for()

            # the ledgers asset's partitions: every county a key, all materialised
            visit("/assets/ledgers?view=partitions")
            page.get_by_text(county, exact=True).first.wait_for()
            n_parts = units.height * len(s_run["summary"].years)
            page.get_by_text(f"Materialized ({n_parts})").first.wait_for()

            # one (year, county) partition of unit_findings: its findings count from metadata
            visit(f"/assets/unit_findings?view=partitions&partition={county}%7C{YEAR}")
            page.get_by_text("amount_involved", exact=True).first.wait_for()
            body = page.inner_text("body")
            assert county in body and str(YEAR) in body
            lines = [line.strip() for line in body.splitlines() if line.strip()]
            value = lines[lines.index("findings") + 1]
            assert value == str(n_findings), (value, n_findings)
        finally:
            browser.close()
