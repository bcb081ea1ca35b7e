"""A private copy of a finished run's data folder, for a test that writes to it (a re-run, a
review judgment, a launch from the UI) while the session's run stays as every other test reads
it.

The data folder holds the run's warehouse (SQLite), lake, outputs and Dagster home. Of all that,
one file names an absolute path that matters: the home's dagster.yaml, whose event log
``base_dir`` is the home itself (pipelines.home.instance_yaml). A copy left with it would
record its runs in its own run storage but their events in the ORIGINAL's event log, so the
copy gets a dagster.yaml of its own. (The rest — the SQLite warehouse, Parquet, the Dagster
databases' records of past runs — is found relative to the folder, or is only history.)

SQLite files are copied through SQLite's backup API, never byte by byte with their ``-wal`` and
``-shm`` files: those come and go with every connection that opens and closes the database
(another test reading the session's run on the other xdist worker), so a plain copy could
find one listed and then gone, or copy a database without the log that completes it.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _copy_file(src: str, dst: str) -> str:
    # A database is told by its name, never by reading it: closing a descriptor of the file
    # that is not SQLite's would drop the locks this process's own connections hold on it.
    if not src.endswith(".db"):
        return shutil.copy2(src, dst)
    source = sqlite3.connect(src)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)  # a consistent copy, with what the -wal holds
    finally:
        target.close()
        source.close()
    shutil.copymode(src, dst)
    return dst


def copy_folder(src: Path, dst: Path) -> Path:
    """``src`` copied to ``dst`` (symbolic links kept), SQLite databases whole and consistent."""

    def side_files(_folder, names):
        return [n for n in names if n.endswith(SQLITE_SIDE_FILES)]

    shutil.copytree(src, dst, symlinks=True, ignore=side_files, copy_function=_copy_file)
    return dst


def copy_data(src: Path, dst: Path) -> Path:
    """``src`` (a data folder whose Dagster home is ``src/dagster_home``) copied to ``dst``, the
    copy's home pointing at itself. Returns ``dst``."""
    from pipelines.home import instance_yaml

    copy_folder(src, dst)
    cfg = dst / "dagster_home" / "dagster.yaml"
    if cfg.exists():
        was = cfg.read_text(encoding="utf-8")
        assert was == instance_yaml((src / "dagster_home").resolve()), (
            f"{src}/dagster_home/dagster.yaml is not the file pipelines.runner writes: "
            "re-point every path of it in the copy"
        )
        cfg.write_text(instance_yaml(cfg.parent.resolve()), encoding="utf-8")
    return dst
