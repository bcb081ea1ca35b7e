"""The Parquet lake: one file per (dataset, year, unit), written atomically.

Layout: ``<data>/lake/<dataset>/year=<Y>/unit=<code>/data.parquet`` where dataset is a sheet key
(archive, payments …) or a derived dataset (findings_unit, metrics …). No Dagster here.
"""

from __future__ import annotations

import functools
import io
import itertools
import os
import re
import shutil
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import polars as pl

from bangfu.faultpoints import pause_point  # tests only: a run paused mid-write

FILE_NAME = "data.parquet"
# A temporary file is older than this only when its writer died (one write takes seconds).
STALE_TEMP_SECONDS = 3600


class Lake:
    def __init__(self, root: Path | str):
        self.root = Path(root)
        # folders this object made or found (a national ingest writes tens of thousands of
        # files; on a VM each mkdir and chmod is a noticeable system call)
        self._folders: set[Path] = set()

    def path(self, dataset: str, year: int, unit_code: str) -> Path:
        return self.root / dataset / f"year={year}" / f"unit={unit_code}" / FILE_NAME

    def _private_root(self) -> None:
        # 0700 on the lake root keeps everything below it private, whatever the umask made of
        # the intermediate folders
        if self.root in self._folders:
            return
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        self._folders.add(self.root)

    def _folder(self, folder: Path) -> None:
        if folder not in self._folders:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._folders.add(folder)

    def write(self, dataset: str, year: int, unit_code: str, frame: pl.DataFrame) -> Path:
        """Write then rename: a reader sees the old file or the new one, never half of one."""
        return self._write(self.path(dataset, year, unit_code), frame, dataset)

    def _write(self, target: Path, frame: pl.DataFrame, dataset: str) -> Path:
        self._private_root()
        self._folder(target.parent)
        try:
            return _atomic_write(target, frame, dataset)
        except FileNotFoundError:  # removed behind our back (the folder, or the whole lake)
            self._folders.clear()
            self._private_root()
            self._folder(target.parent)
            return _atomic_write(target, frame, dataset)

    def single_path(self, dataset: str) -> Path:
        return self.root / dataset / FILE_NAME

    def write_single(self, dataset: str, frame: pl.DataFrame) -> Path:
        """An unpartitioned dataset (the reference files)."""
        return self._write(self.single_path(dataset), frame, dataset)

    def read_single(self, dataset: str) -> pl.DataFrame | None:
        path = self.single_path(dataset)
        return pl.read_parquet(path) if path.exists() else None

    def remove(self, dataset: str, year: int, unit_code: str) -> None:
        """Forget a partition (e.g. its ledger was rejected this time)."""
        folder = self.path(dataset, year, unit_code).parent
        self._folders.discard(folder)
        if folder.exists():
            shutil.rmtree(folder)

    def partition_dirs(
        self, years: Iterable[int] | None = None, units: Iterable[str] | None = None
    ) -> list[Path]:
        """The folders of every dataset's partitions in scope: ``<dataset>/year=<Y>`` per year
        asked for (all years when None), or ``…/unit=<code>`` per unit when units are given;
        the lake's root when neither is. Those that exist."""
        if not self.root.is_dir():
            return []
        if years is None and units is None:
            return [self.root]
        year_names = None if years is None else {f"year={int(y)}" for y in years}
        dirs = []
        for dataset in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for ydir in sorted(dataset.glob("year=*")):
                if year_names is not None and ydir.name not in year_names:
                    continue
                if units is None:
                    dirs.append(ydir)
                else:
                    dirs.extend(ydir / f"unit={u}" for u in units if (ydir / f"unit={u}").is_dir())
        return dirs

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
        if len(files) > 1:
            # one multi-file scan reads the files in parallel: a findings chunk is thousands of
            # small files (eleven sheets of hundreds of units), which file by file is slow
            try:
                return pl.scan_parquet(
                    files, hive_partitioning=False, missing_columns="insert"
                ).collect()
            except pl.exceptions.PolarsError:
                pass  # files of differing columns or types: concatenated one by one below
        return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed", rechunk=False)

    def has(self, dataset: str, year: int, unit_code: str) -> bool:
        return self.path(dataset, year, unit_code).exists()


def _atomic_write(target: Path, frame: pl.DataFrame, dataset: str) -> Path:
    """Write then rename: a reader sees the old file or the new one, never half of one.

    The Parquet bytes are made in memory (lake files are small: a unit's sheet) and written
    to a new private file (0600 from its creation), which is then renamed into place: three
    system calls fewer per file than a temporary file made by mkstemp, written by polars and
    chmod-ed."""
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", statistics=True)
    tmp = target.parent / f"{temp_prefix(target)}{next(_temp_serial)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.getbuffer())
        pause_point(f"lake:{dataset}")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


_temp_serial = itertools.count()  # with the host and pid in the name: unique among writers


# ---------------------------------------------------------------- temporary files
# ``.data.parquet.<host>.<pid>.<serial>.tmp``: hidden, and not ``*.parquet``, so a reader globbing
# ``lake/**/*.parquet`` (DuckDB, polars, an auditor's script) never picks up a file being
# written; the host and process id let ``sweep_stale_temp`` tell a dead writer's leftover (after a
# kill -9 or a power cut) from a file another process is writing right now.
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>[0-9]+)\.[^.]+\.tmp$")


@functools.cache
def host_name() -> str:
    """This machine's name as it goes into temporary-file names and run tags."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def temp_prefix(target: Path) -> str:
    """Name prefix for a temporary file beside ``target``: a unique part and ".tmp" follow
    (mkstemp's prefix and suffix, or the lake's serial)."""
    return f".{Path(target).name}.{host_name()}.{os.getpid()}."


def pid_alive(pid: int) -> bool:
    """Whether a process of this host with that id exists and can still write: a zombie (killed,
    not yet reaped) cannot. A killed run's orphaned workers wait for the init process to reap
    them, which here took seconds, and a sweep in between would have kept their temp files."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rpartition(b")")[2].split()[0]  # after "(command name)"
    except (OSError, IndexError):  # no /proc (not Linux), or it just went
        return True
    return state != b"Z"


def sweep_stale_temp(roots: Iterable[Path], *, max_age: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Remove the temporary files dead writers left under ``roots`` (a run killed mid-write).

    A temporary file is stale when it names this host and a process that no longer exists, or
    when it is older than ``max_age`` seconds (another host's, or an older naming). Files other
    processes are writing now are left alone. Returns what was removed."""
    host, now_ = host_name(), time.time()
    removed: list[Path] = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for path in _hidden_temp_files(root):
            m = _TEMP_RE.match(path.name)
            try:
                old = now_ - path.lstat().st_mtime > max_age
            except FileNotFoundError:  # its writer just renamed it into place
                continue
            dead = m is not None and m["host"] == host and not pid_alive(int(m["pid"]))
            if dead or old:
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _hidden_temp_files(root: Path) -> Iterator[Path]:
    """``root/**/.*.tmp``; os.walk (scandir, which gets each entry's type with the listing)
    rather than Path.rglob, the slower of the two over a national lake's tens of thousands of
    folders."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(".") and name.endswith(".tmp"):
                yield Path(folder) / name
