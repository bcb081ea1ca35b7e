"""Every use of Dagster's private API (``dagster._core``), in one place.

Dagster 1.13 offers no public way to do these things; each is pinned by the upper bound
on dagster in pyproject.toml and by tests/dagster/test_private_api.py, which fails when a Dagster
release changes what is relied on here:

- :class:`BatchingSqliteEventLogStorage`: the SQLite event log writing a batch of one run's
  asset events in one transaction per database (``SqliteEventLogStorage``'s private
  ``_store_asset_event_tags`` / ``_store_asset_event``), and keeping one engine per database
  file, the file held open, instead of building an engine for every connection and closing
  the file after it (its private ``_connect``, ``_db_lock``, ``_initdb`` and
  ``_initialized_dbs``), see pipelines.storage.
- :func:`add_partition_metadata_at_once`: a ranged run's per-partition metadata put into the
  step's metadata accumulator in one pass (``step._metadata_accumulator``).
- :func:`defs_state_storage`: Dagster's "current" definitions-state storage pointed at an
  instance for a block (``set_defs_state_storage``). The public equivalent, ``with instance:``,
  also disposes of the instance at the end of the block, which a caller's instance must outlive.
- ``ASSET_PARTITION_RANGE_START_TAG`` / ``_END_TAG``: the run tags of a ranged run, which
  Dagster reads but does not export; ``PARTITION_NAME_TAG`` likewise of a one-partition run.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import dagster as dg
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.execution.context.metadata_logging import (
    AssetMetadataHandle,
    OutputMetadataAccumulator,
)
from dagster._core.storage.defs_state.base import set_defs_state_storage
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._core.storage.tags import (  # the tags of a partitioned run (not exported)
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from sqlalchemy import Connection, create_engine, event
from sqlalchemy.pool import NullPool

__all__ = [
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "PARTITION_NAME_TAG",
    "BatchingSqliteEventLogStorage",
    "add_partition_metadata_at_once",
    "defs_state_storage",
]

# events Dagster batches: one kind per batch (the partitions of one output)
BATCHED_KINDS = (
    {DagsterEventType.ASSET_MATERIALIZATION},
    {DagsterEventType.ASSET_OBSERVATION},
)


# databases kept open per event log storage: the index, and those of the last runs
KEPT_ENGINES = 8


def _synchronous_normal(dbapi_connection, _record) -> None:
    # WAL (Dagster's mode for these files) with NORMAL: a commit no longer waits for the disk;
    # a power cut can lose the last events, never corrupt the file (as the warehouse's SQLite).
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class _Shard:
    """One database file's engine, and a connection held open beside it: while one is open,
    closing another is not closing the file's last connection, which in WAL mode checkpoints
    the log into the database and deletes it — each time, for every event stored."""

    def __init__(self, url: str):
        self.engine = create_engine(
            url, poolclass=NullPool, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        )
        event.listen(self.engine, "connect", _synchronous_normal)
        self.anchor = None

    def hold_open(self, path: str) -> None:
        if self.anchor is None:
            # closed from whichever thread evicts or disposes of it; never used otherwise
            self.anchor = sqlite3.connect(path, check_same_thread=False)
            self.anchor.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()

    def close(self) -> None:
        if self.anchor is not None:
            self.anchor.close()
            self.anchor = None
        self.engine.dispose()


class BatchingSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage whose ``store_event_batch`` writes an asset-event batch at once,
    and which keeps each database file it writes open (:class:`_Shard`)."""

    def __init__(self, base_dir: str, inst_data=None):
        self._shards: OrderedDict[str, _Shard] = OrderedDict()  # before the parent's indexing
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # the parent names its own class
        return cls(inst_data=inst_data, **config_value)

    def _release(self) -> None:
        with self._db_lock:
            while self._shards:
                self._shards.popitem()[1].close()

    def dispose(self) -> None:
        super().dispose()
        self._release()

    def wipe(self) -> None:
        self._release()  # the files are deleted: hold none of them open
        super().wipe()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # As SqliteEventLogStorage._connect (a NullPool connection in a transaction, the file
        # initialised at first use), but the engine of a file is built once, not once per
        # connection, and the file is held open between connections (_Shard). The last
        # KEPT_ENGINES files are kept: a long-lived daemon or webserver sees a new one per run.
        with self._db_lock:
            kept = self._shards.get(shard)
            if kept is None:
                kept = self._shards[shard] = _Shard(self.conn_string_for_shard(shard))
                while len(self._shards) > KEPT_ENGINES:
                    self._shards.popitem(last=False)[1].close()
            else:
                self._shards.move_to_end(shard)
            if shard not in self._initialized_dbs:
                self._initdb(kept.engine)
                self._initialized_dbs.add(shard)
            kept.hold_open(self.path_for_shard(shard))
            with kept.engine.connect() as conn, conn.begin():
                yield conn

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        kinds = {e.dagster_event_type for e in events}
        if (
            not events
            or kinds not in BATCHED_KINDS
            or len({e.run_id for e in events}) != 1
            or not all(e.is_dagster_event and e.dagster_event.asset_key for e in events)
        ):
            super().store_event_batch(events)
            return
        # as SqliteEventLogStorage.store_event, event by event, but in one transaction each:
        # the run's own database, then the index (event row, its tags, the asset's record)
        statements = [self.prepare_insert_event(e) for e in events]
        with self.run_connection(events[0].run_id) as conn:
            for statement in statements:
                conn.execute(statement)
        with self.index_transaction() as conn:
            ids = []
            for statement in statements:
                with db_result(conn, statement) as result:
                    ids.append(result.inserted_primary_key[0])
            if any(i is None for i in ids):
                raise DagsterInvariantViolationError(
                    "Cannot store asset event tags for null event id."
                )
            self._store_asset_event_tags(conn, list(events), ids)
            for event, event_id in zip(events, ids, strict=True):
                self._store_asset_event(conn, event, event_id)


def add_partition_metadata_at_once(
    context: dg.AssetExecutionContext, entries: list[tuple[str, dict]]
) -> bool:
    """Each (partition key, metadata) of ``entries`` into the step's metadata accumulator, the
    run's keys listed once and the accumulator rebuilt once. False (nothing done) when this
    Dagster keeps the step's metadata elsewhere: the caller then uses the public call."""
    step = getattr(context, "_step_execution_context", None)
    accumulator = getattr(step, "_metadata_accumulator", None)
    if accumulator is None or not hasattr(accumulator, "per_output_metadata"):
        return False
    targeted = set(context.partition_keys)
    asset_key = context.assets_def.key
    merged = dict(accumulator.per_output_metadata)
    for key, metadata in entries:
        if key not in targeted:
            raise dg.DagsterInvariantViolationError(
                f"Attempted to add metadata for partition key '{key}' that is not being targeted."
            )
        handle = AssetMetadataHandle(asset_key=asset_key, partition_key=key)
        merged[handle] = {**merged.get(handle, {}), **metadata}
    step._metadata_accumulator = OutputMetadataAccumulator(per_output_metadata=merged)
    return True


@contextmanager
def defs_state_storage(instance: dg.DagsterInstance) -> Iterator[None]:
    """Dagster's current definitions-state storage is ``instance``'s for the block (Dagster
    keeps it in a context variable holding a weak reference to whichever instance set it last)."""
    with set_defs_state_storage(instance.defs_state_storage):
        yield
