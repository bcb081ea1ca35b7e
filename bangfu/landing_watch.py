"""Notice what changed in the landing folder, by content hash. No Dagster here.

A fingerprint maps each file's path (relative to the landing folder) to (size, mtime_ns, sha256
prefix). Hashing is the cost, so a file whose size and mtime are unchanged keeps its old hash:
a tick with nothing changed reads no file contents.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

Fingerprint = dict[str, tuple[int, int, str]]

# a unit-year's file in any form (.xlsx, .xlsm, .xls, .ods, or an unreadable one such as .et: the
# ingest then refuses that partition with what to do), or a sheet of its CSV folder
_LEDGER_FILE = re.compile(r"^ledgers/([0-9]{4})/([0-9]{6})\.[^./]+$")
_LEDGER_CSV = re.compile(r"^ledgers/([0-9]{4})/([0-9]{6})/[^/]+\.csv$")


def sha256_file(path: Path, prefix: int | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    return digest[:prefix] if prefix else digest


def fingerprint(landing: Path, previous: Fingerprint | None = None) -> Fingerprint:
    """Fingerprint of reference/ and ledgers/ (hidden and ~$ lock files skipped).

    One os.scandir entry and one stat per file: a tick over 9,000 unchanged files reads no
    file contents and takes a fraction of a second.
    """
    landing = Path(landing)
    previous = previous or {}
    out: Fingerprint = {}
    cut = len(os.path.join(str(landing), ""))
    for sub in ("reference", "ledgers"):
        base = landing / sub
        if not base.is_dir():
            continue
        for entry in _files_under(str(base)):
            if entry.name.startswith((".", "~$")):
                continue
            rel = entry.path[cut:].replace(os.sep, "/")
            st = entry.stat()
            old = previous.get(rel)
            if old and old[0] == st.st_size and old[1] == st.st_mtime_ns:
                out[rel] = (old[0], old[1], old[2])
            else:
                out[rel] = (st.st_size, st.st_mtime_ns, sha256_file(Path(entry.path), 16))
    return out


def _files_under(directory: str):
    """Regular files below `directory` (symlinked directories are not followed)."""
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                yield from _files_under(entry.path)
            elif entry.is_file():
                yield entry


@dataclass(frozen=True)
class LandingChanges:
    partitions: frozenset[tuple[int, str]]  # (year, unit) whose ledger appeared or changed
    removed: frozenset[tuple[int, str]]  # (year, unit) whose ledger disappeared
    reference_changed: bool  # units.csv, standards.csv or a roster changed
    other: tuple[str, ...]  # files that name no partition (rejected by the ingest)

    @property
    def empty(self) -> bool:
        return not (self.partitions or self.removed or self.reference_changed or self.other)


def partition_of(rel: str) -> tuple[int, str] | None:
    m = _LEDGER_FILE.match(rel) or _LEDGER_CSV.match(rel)
    return (int(m[1]), m[2]) if m else None


def diff(before: Fingerprint, after: Fingerprint) -> LandingChanges:
    changed = {p for p in after if before.get(p, (None, None, None))[2] != after[p][2]}
    gone = set(before) - set(after)
    parts, removed, other = set(), set(), []
    reference = False
    for p in sorted(changed | gone):
        if p.startswith("reference/"):
            reference = True
            continue
        key = partition_of(p)
        if key is None:
            other.append(p)
        elif p in gone and not any(partition_of(q) == key for q in after):
            removed.add(key)
        else:
            parts.add(key)
    return LandingChanges(frozenset(parts), frozenset(removed), reference, tuple(other))
