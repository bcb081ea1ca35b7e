"""A private copy of a finished run's data folder, for a test that writes to it (a re-run, a
review judgment, a launch from the UI) while the session's run stays as every other test reads
it.

The data folder holds the run's warehouse (SQLite), lake, outputs and Dagster home. Of all that,
one file names an absolute path that matters: the home's dagster.yaml, whose event log
``base_dir`` is the home itself (pipelines.home.instance_yaml). A copy left with it would
record its runs in its own run storage but their events in the ORIGINAL's event log, so the
copy gets a dagster.yaml of its own. (The rest — the SQLite warehouse, Parquet, the Dagster
databases' records of past runs — is found relative to the folder, or is only history.)
"""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_data(src: Path, dst: Path) -> Path:
    """``src`` (a data folder whose Dagster home is ``src/dagster_home``) copied to ``dst``, the
    copy's home pointing at itself. Returns ``dst``."""
    from pipelines.home import instance_yaml

    shutil.copytree(src, dst, symlinks=True)
    cfg = dst / "dagster_home" / "dagster.yaml"
    if cfg.exists():
        was = cfg.read_text(encoding="utf-8")
        assert was == instance_yaml((src / "dagster_home").resolve()), (
            f"{src}/dagster_home/dagster.yaml is not the file pipelines.runner writes: "
            "re-point every path of it in the copy"
        )
        cfg.write_text(instance_yaml(cfg.parent.resolve()), encoding="utf-8")
    return dst
