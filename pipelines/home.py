"""Where a `bangfu run` lives: the data folder (created private, one run at a time) and the
embedded Dagster instance in it ($DAGSTER_HOME, its dagster.yaml, the dynamic partitions)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from assets.partitions import units_partitions, years_partitions
from pipelines.storage import EVENT_BATCH_SIZE

_TELEMETRY_OFF = "telemetry:\n  enabled: false\n"

# The queue the daemon launches the sensors', the schedule's and the automation's runs from,
# looked at every second (Dagster's default is every five): each step of the nightly path (the
# unit stage, the year stage, the workbooks) waits for the next look.
_RUN_QUEUE = (
    "run_coordinator:\n"
    "  module: dagster.core.run_coordinator\n"
    "  class: QueuedRunCoordinator\n"
    "  config:\n"
    "    dequeue_interval_seconds: 1\n"
)


def _event_log(home: Path) -> str:
    events = (Path(home) / "history" / "runs").as_posix()
    return (
        "event_log_storage:\n"
        "  module: pipelines.storage\n"
        "  class: BatchingSqliteEventLogStorage\n"
        "  config:\n"
        f"    base_dir: {events}\n"
    )


def instance_yaml(home: Path) -> str:
    """The embedded instance's dagster.yaml: Dagster's default SQLite storage, with the event
    log writing a ranged run's partition events in batches (pipelines.storage), and the run
    queue looked at every second."""
    return f"{_TELEMETRY_OFF}{_event_log(home)}{_RUN_QUEUE}"


def _earlier_instance_yamls(home: Path) -> tuple[str, ...]:
    """What earlier versions wrote: such a home gets the current file."""
    return (_TELEMETRY_OFF, f"{_TELEMETRY_OFF}{_event_log(home)}")


def dagster_home(data: Path) -> Path:
    """$DAGSTER_HOME, else <data>/dagster_home (created with :func:`instance_yaml`; a home with
    a file an earlier version wrote gets the current one, any other file is left alone). Also
    turns on Dagster's batched event writes (``DAGSTER_EVENT_BATCH_SIZE``) for this process
    unless the environment sets them."""
    home = Path(os.environ.get("DAGSTER_HOME") or (Path(data) / "dagster_home")).resolve()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    cfg = home / "dagster.yaml"
    if not cfg.exists() or cfg.read_text(encoding="utf-8") in _earlier_instance_yamls(home):
        cfg.write_text(instance_yaml(home), encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)
    return home


@contextmanager
def instance_in_use(data: Path, instance: dg.DagsterInstance | None):
    """``instance``, else the instance of :func:`dagster_home` for this data folder, for a
    block; an instance made here is disposed of at its end. Its event log holds the SQLite files
    it wrote open (pipelines.storage): a process that goes on after a run (a test, a notebook)
    must not keep them, since closing any other descriptor of those files in that process would
    drop SQLite's locks on them."""
    made = instance is None
    if made:
        dagster_home(data)
        instance = dg.DagsterInstance.get()
    try:
        yield instance
    finally:
        if made:
            instance.dispose()


@contextmanager
def private_files():
    """Everything a run writes holds personal data (ID numbers, names, phones): inside the block
    it is created private — lake folders 0700, Parquet, SQLite warehouse, workbooks and reports
    0600 — whatever the caller's umask, which is put back afterwards."""
    old_umask = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old_umask)


@contextmanager
def data_lock(data: Path, echo: Callable[[str], None]):
    """One `bangfu run` at a time per data folder: two runs over the same county would
    interleave their lake and warehouse writes, so the second waits for the first."""
    with open(data / ".run.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            echo("另一个运行正在使用此数据目录，等待其结束 / waiting for the running pipeline …")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def register_partitions(
    instance: dg.DagsterInstance, years: Iterable[int], units: Iterable[str]
) -> None:
    """Add new years (ascending) and units (units.csv order) to the dynamic partitions."""
    for pdef, keys in (
        (years_partitions, [str(y) for y in sorted(years)]),
        (units_partitions, list(units)),
    ):
        known = set(instance.get_dynamic_partitions(pdef.name))
        new = [k for k in keys if k not in known]
        if new:
            instance.add_dynamic_partitions(pdef.name, new)


@dataclass(frozen=True)
class PartitionOrder:
    """The instance's dynamic partition keys in their order: ranged runs cover contiguous
    stretches of these."""

    years: tuple[str, ...]
    units: tuple[str, ...]

    @classmethod
    def of(cls, instance: dg.DagsterInstance) -> PartitionOrder:
        return cls(
            years=tuple(instance.get_dynamic_partitions(years_partitions.name)),
            units=tuple(instance.get_dynamic_partitions(units_partitions.name)),
        )
