"""LibreOffice and pdftotext for the tests that look at what an office suite makes of the
files bangfu writes (a workbook or report converted to PDF, the PDF's text)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bangfu.generate.office import soffice
from tests.support import missing


def office_program() -> str:
    """LibreOffice's command (a missing one fails the test under CI=true)."""
    exe = soffice()
    if exe is None:
        missing("libreoffice is missing", "install libreoffice-calc and libreoffice-writer")
    return exe


def pdftotext_program() -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        missing("pdftotext (poppler-utils) is missing", "install poppler-utils")
    return exe


def to_pdf(src: Path, outdir: Path, *, timeout: float = 240) -> Path:
    """``src`` converted by LibreOffice into ``outdir`` (a private profile there, so tests
    running at once do not share one); returns the PDF's path."""
    subprocess.run(
        [
            office_program(),
            f"-env:UserInstallation={(Path(outdir) / 'lo-profile').as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(outdir),
            str(src),
        ],
        check=True,
        timeout=timeout,
        capture_output=True,
    )
    return Path(outdir) / (Path(src).stem + ".pdf")


def pdf_text(pdf: Path, *, layout: bool = False) -> str:
    """The PDF's text (``-layout``: lines as laid out on the page)."""
    args = [pdftotext_program(), *(["-layout"] if layout else []), str(pdf), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout
