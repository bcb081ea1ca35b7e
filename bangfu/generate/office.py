"""Re-save workbooks as a real office suite saves them, through LibreOffice (``soffice``).

The generator writes .xlsx itself; the other workbook forms a county clerk sends (.xls from older
Excel / WPS, .ods from LibreOffice) are made by LibreOffice from those .xlsx, so they are what
such a suite really writes, not what a Python writer thinks it writes. LibreOffice is needed only
when .xls / .ods ledgers are asked for: the default generate never calls it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

# LibreOffice's own export filter for each form we write
FILTERS = {"xls": "xls:MS Excel 97", "ods": "ods:calc8", "xlsx": "xlsx:Calc MS Excel 2007 XML"}
# files per soffice call: each call starts the suite once, which costs more than a conversion
BATCH = 40


class OfficeMissing(RuntimeError):
    """LibreOffice is needed for this and is not installed."""


def soffice() -> str | None:
    """The LibreOffice command, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert(paths: Sequence[Path], form: str, outdir: Path, *, timeout: float = 600) -> list[Path]:
    """Save every workbook of ``paths`` as ``form`` (xls, ods or xlsx) into ``outdir``, named as
    the source with the new suffix; returns the new paths. A private LibreOffice profile per call
    keeps concurrent runs (tests, other users) from sharing one."""
    exe = soffice()
    if exe is None:
        raise OfficeMissing(
            "需要 LibreOffice（soffice）才能生成 .xls / .ods 台账，请先安装 / "
            "LibreOffice (soffice) is needed to write .xls or .ods ledgers: install it"
        )
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="bangfu-soffice-") as profile:
        for start in range(0, len(paths), BATCH):
            batch = [str(p) for p in paths[start : start + BATCH]]
            subprocess.run(
                [
                    exe,
                    f"-env:UserInstallation={Path(profile).as_uri()}",
                    "--headless",
                    "--norestore",
                    "--convert-to",
                    FILTERS[form],
                    "--outdir",
                    str(outdir),
                    *batch,
                ],
                check=True,
                capture_output=True,
                timeout=timeout,
            )
    for p in paths:
        target = outdir / (Path(p).stem + "." + form)
        if not target.is_file():
            raise RuntimeError(f"LibreOffice did not write {target}")
        out.append(target)
    return out
