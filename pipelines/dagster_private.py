"""Every use of Dagster's private API (``dagster._core``), in one place.

Dagster 1.13 offers no public way to do these things; each is pinned by the upper bound
on dagster in pyproject.toml and by tests/dagster/test_private_api.py, which fails when a Dagster
release changes what is relied on here:

- :class:`BatchingSqliteEventLogStorage`: the SQLite event log writing a batch of one run's
  asset events in one transaction per database (``SqliteEventLogStorage``'s private
  ``_store_asset_event_tags`` / ``_store_asset_event``), and keeping one engine per database
  file instead of building one for every connection (its private ``_connect``, ``_db_lock``,
  ``_initdb`` and ``_initialized_dbs``), see pipelines.storage.
- :func:`add_partition_metadata_at_once`: a ranged run's per-partition metadata put into the
  step's metadata accumulator in one pass (``step._metadata_accumulator``).
- :func:`defs_state_storage`: Dagster's "current" definitions-state storage pointed at an
  instance for a block (``set_defs_state_storage``). The public equivalent, ``with instance:``,
  also disposes of the instance at the end of the block, which a caller's instance must outlive.
- ``ASSET_PARTITION_RANGE_START_TAG`` / ``_END_TAG``: the run tags of a ranged run, which
  Dagster reads but does not export; ``PARTITION_NAME_TAG`` likewise of a one-partition run.
"""

from __future__ import annotations

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
from sqlalchemy import Connection, Engine, create_engine
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


# engines kept per event log storage: the index database, and the databases of the last runs
KEPT_ENGINES = 8


class BatchingSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage whose ``store_event_batch`` writes an asset-event batch at once,
    and which keeps the engine of each database file it connects to."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # before the parent's indexing
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # the parent names its own class
        return cls(inst_data=inst_data, **config_value)

    def dispose(self) -> None:
        super().dispose()
        while self._engines:
            self._engines.popitem()[1].dispose()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # As SqliteEventLogStorage._connect, but the engine of a shard is built once, not once
        # per connection (a run stores every event with two or three connections, and building
        # an engine costs ten times a NullPool connection). NullPool: no connection is kept open
        # between uses, as before. The last KEPT_ENGINES shards are kept (the index, the runs
        # of the moment): a long-lived daemon or webserver sees one new shard per run.
        with self._db_lock:
            engines = self._engines
            engine = engines.get(shard)
            if engine is None:
                engine = create_engine(
                    self.conn_string_for_shard(shard),
                    poolclass=NullPool,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                )
                engines[shard] = engine
                while len(engines) > KEPT_ENGINES:
                    engines.popitem(last=False)[1].dispose()
            else:
                engines.move_to_end(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
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
