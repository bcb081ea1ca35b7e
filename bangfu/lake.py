"""The Parquet lake: one file per (dataset, year, unit), written atomically.

Layout: ``<data>/lake/<dataset>/year=<Y>/unit=<code>/data.parquet`` where dataset is a sheet key
(archive, payments …) or a derived dataset (findings_unit, metrics …). No Dagster here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import polars as pl

FILE_NAME = "data.parquet"


class Lake:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    def path(self, dataset: str, year: int, unit_code: str) -> Path:
        return self.root / dataset / f"year={year}" / f"unit={unit_code}" / FILE_NAME

    def _private_root(self) -> None:
        # 0700 on the lake root keeps everything below it private, whatever the umask made of
        # the intermediate folders
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)

    def write(self, dataset: str, year: int, unit_code: str, frame: pl.DataFrame) -> Path:
        """Write then rename: a reader sees the old file or the new one, never half of one."""
        self._private_root()
        return _atomic_write(self.path(dataset, year, unit_code), frame)

    def single_path(self, dataset: str) -> Path:
        return self.root / dataset / FILE_NAME

    def write_single(self, dataset: str, frame: pl.DataFrame) -> Path:
        """An unpartitioned dataset (the reference files)."""
        self._private_root()
        return _atomic_write(self.single_path(dataset), frame)

    def read_single(self, dataset: str) -> pl.DataFrame | None:
        path = self.single_path(dataset)
        return pl.read_parquet(path) if path.exists() else None

    def remove(self, dataset: str, year: int, unit_code: str) -> None:
        """Forget a partition (e.g. its ledger was rejected this time)."""
        folder = self.path(dataset, year, unit_code).parent
        if folder.exists():
            shutil.rmtree(folder)

    def files(
        self, dataset: str, years: Iterable[int] | None = None, units: Iterable[str] | None = None
    ) -> list[Path]:
        base = self.root / dataset
        if not base.exists():
            return []
        year_set = {int(y) for y in years} if years is not None else None
        unit_set = set(units) if units is not None else None
        out = []
        for ydir in sorted(base.glob("year=*")):
            if year_set is not None and int(ydir.name[5:]) not in year_set:
                continue
            if unit_set is not None:
                candidates = [ydir / f"unit={u}" / FILE_NAME for u in sorted(unit_set)]
            else:
                candidates = sorted(ydir.glob(f"unit=*/{FILE_NAME}"))
            out.extend(p for p in candidates if p.exists())
        return out

    def read(
        self,
        dataset: str,
        years: Iterable[int] | None = None,
        units: Iterable[str] | None = None,
        schema: dict | None = None,
    ) -> pl.DataFrame:
        """Every partition asked for, concatenated; an empty frame (with `schema`) when none."""
        files = self.files(dataset, years, units)
        if not files:
            return pl.DataFrame(schema=schema) if schema else pl.DataFrame()
        return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed", rechunk=False)

    def has(self, dataset: str, year: int, unit_code: str) -> bool:
        return self.path(dataset, year, unit_code).exists()


def _atomic_write(target: Path, frame: pl.DataFrame) -> Path:
    """Write then rename: a reader sees the old file or the new one, never half of one."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=target.parent)
    os.close(fd)
    try:
        frame.write_parquet(tmp, compression="zstd", statistics=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
