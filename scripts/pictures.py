"""The README's pictures, made from the demo data (`make pictures`; run `make demo` first).

- docs/img/workbook.png — one 审定表 of a county's workbook, as LibreOffice prints it
- docs/img/report.png   — a page of the same county's draft 审计报告
- docs/img/overview-ranking.png — the year overview's 单位排名 sheet with its native chart, as
  LibreOffice prints it
- docs/img/report-trend.png — the first figure of a city's draft report, the PNG it embeds
- docs/img/asset-graph.png — the asset graph in the Dagster UI (dagster-webserver on a free port
  over the demo's Dagster instance, photographed by headless Chromium through playwright)

Needs LibreOffice, pdftoppm (poppler-utils) and Chromium: scripts/system-deps.sh installs them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
YEAR, UNIT = 2019, "330103"
SHEET = "八 救助项目"  # one page: the facts, and a conclusion that cites its 取证单
REPORT_PAGE = 2  # 基本情况 table, 审计评价 and the first findings
CHROMIUM = "/usr/bin/chromium"
WIDTH = 1000  # pixels across: readable, and under 300 KB a picture
REPORT_WIDTH = 900  # a page of running text makes a larger PNG than a form


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        sys.exit(f"{program} is missing: run scripts/system-deps.sh (as root) first")
    return path


def to_pdf(src: Path, outdir: Path) -> Path:
    office = shutil.which("libreoffice") or need("soffice")
    subprocess.run(
        [
            office,
            f"-env:UserInstallation=file://{outdir / 'lo-profile'}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(outdir),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return outdir / (src.stem + ".pdf")


def page_png(pdf: Path, page: int, out: Path, width: int = WIDTH) -> None:
    stem = out.with_suffix("")
    subprocess.run(
        [
            need("pdftoppm"),
            "-png",
            "-singlefile",
            "-f",
            str(page),
            "-l",
            str(page),
            "-scale-to-x",
            str(width),
            "-scale-to-y",
            "-1",
            str(pdf),
            str(stem),
        ],
        check=True,
    )


def one_sheet_copy(workbook: Path, sheet: str, out: Path) -> Path:
    """The workbook with only ``sheet`` left, so the PDF is that form's pages alone."""
    from openpyxl import load_workbook

    wb = load_workbook(workbook)
    for name in wb.sheetnames:
        if name != sheet:
            del wb[name]
    wb.save(out)
    return out


def workbook_and_report(data: Path, tmp: Path) -> None:
    workbook = data / "workbooks" / str(YEAR) / f"{UNIT}.xlsx"
    report = data / "reports" / str(YEAR) / f"{UNIT}.docx"
    pdf = to_pdf(one_sheet_copy(workbook, SHEET, tmp / "form.xlsx"), tmp)
    page_png(pdf, 1, OUT / "workbook.png")
    page_png(to_pdf(report, tmp), REPORT_PAGE, OUT / "report.png", width=REPORT_WIDTH)


OVERVIEW_SHEET = "单位排名"
CITY = "330100"  # a city's report has all three figures; the first is the three-year trend


def overview_and_figure(data: Path, tmp: Path) -> None:
    """The overview's charts are drawn by LibreOffice (openpyxl would drop them on a one-sheet
    copy, so the whole workbook is converted and the sheet's page found by its title); the report
    figure is taken as the report embeds it."""
    import numpy as np
    from docx import Document
    from PIL import Image

    pdf = to_pdf(data / "overview" / f"{YEAR}.xlsx", tmp)
    pages = int(
        next(
            line.split()[-1]
            for line in subprocess.run(
                [need("pdfinfo"), str(pdf)], check=True, capture_output=True, text=True
            ).stdout.splitlines()
            if line.startswith("Pages:")
        )
    )
    page = next(
        n
        for n in range(1, pages + 1)
        if f"— {OVERVIEW_SHEET}"
        in subprocess.run(
            [need("pdftotext"), "-f", str(n), "-l", str(n), str(pdf), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    out = OUT / "overview-ranking.png"
    page_png(pdf, page, out, width=1600)
    img = Image.open(out).convert("RGB")
    ys, xs = np.where(np.asarray(img.convert("L")) < 245)  # the printed area, without the margins
    img = img.crop((xs.min() - 10, ys.min() - 10, xs.max() + 10, ys.max() + 10))
    img = img.resize((1100, round(img.height * 1100 / img.width)), Image.LANCZOS)
    img.quantize(colors=64).save(out, optimize=True)
    report = Document(data / "reports" / str(YEAR) / f"{CITY}.docx")
    if not report.inline_shapes:
        sys.exit(f"the {CITY} report of {data} has no figures: run `make demo` again first")
    rid = report.inline_shapes[0]._inline.graphic.graphicData.pic.blipFill.blip.embed
    (OUT / "report-trend.png").write_bytes(report.part.related_parts[rid].blob)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def asset_graph(data: Path, tmp: Path) -> None:
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"{CHROMIUM} is missing: run scripts/system-deps.sh (as root) first")
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str((data / "dagster_home").resolve()),
        "BANGFU_DATA": str(data.resolve()),
        "BANGFU_LANDING": str((data / "landing").resolve()),
        "PYTHONWARNINGS": "ignore",
    }
    log = tmp / "webserver.log"
    with open(log, "wb") as fh:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dagster-webserver"),
                *("-h", "127.0.0.1", "-p", str(port), "-m", "pipelines.definitions", "-a", "defs"),
            ],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the webserver and its code server: one process group
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"dagster-webserver did not come up:\n{log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/server_info", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1400, "height": 800})
            page.set_default_timeout(60_000)
            page.goto(f"{base}/asset-groups", wait_until="networkidle")
            page.get_by_text("Global asset lineage").first.wait_for()
            page.wait_for_timeout(3000)  # the graph is drawn after the page's text
            page.mouse.click(1000, 650)  # focus the graph, then Alt+E: expand all groups
            page.keyboard.press("Alt+e")
            page.wait_for_timeout(3000)  # the layout settles after the groups open
            skip = page.get_by_role("button", name="Skip")  # the community pop-up, if it came
            if skip.count():
                skip.first.click()
                page.wait_for_timeout(500)
            page.get_by_text("audit_workbooks").first.wait_for()
            page.screenshot(path=str(OUT / "asset-graph.png"))
            browser.close()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=Path("data"), help="the demo's data folder")
    args = p.parse_args(argv)
    if not (args.data / "workbooks" / str(YEAR) / f"{UNIT}.xlsx").exists():
        sys.exit(f"no demo outputs in {args.data}: run `make demo` first")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bangfu-pictures-") as tmp:
        print("workbook and report pages (LibreOffice, pdftoppm) …")
        workbook_and_report(args.data, Path(tmp))
        print("overview chart and report figure (LibreOffice, pdftoppm) …")
        overview_and_figure(args.data, Path(tmp))
        print("asset graph (dagster-webserver, Chromium) …")
        asset_graph(args.data, Path(tmp))
    for name in (
        "workbook.png",
        "report.png",
        "overview-ranking.png",
        "report-trend.png",
        "asset-graph.png",
    ):
        path = OUT / name
        print(f"  {path.relative_to(ROOT)}  {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
