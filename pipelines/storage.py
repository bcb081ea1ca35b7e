"""Dagster's SQLite event log, writing a batch of asset events in one transaction per database.

The embedded instance (``pipelines.runner.dagster_home``) uses this class. A ranged run
materialises every partition it covers when its step ends: 303 events per asset at scale M,
3,216 per asset and year at scale L. Dagster's SQLite storage writes each event on its own (a
new engine, then one transaction in the run's database and one in the index database), so
thousands of partitions mean thousands of serial writes after each step. With
``DAGSTER_EVENT_BATCH_SIZE`` set, Dagster hands such events over in batches
(``store_event_batch``), which the SQLite storage still wrote one by one. Here a batch of
materialisations (or of observations) of one run is written in one transaction per database,
with the same rows as event-by-event writing; every other event, and everything else, is
``SqliteEventLogStorage``'s own.
"""

from __future__ import annotations

from collections.abc import Sequence

from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.sqlalchemy_compat import db_result

# events Dagster batches: one kind per batch (the partitions of one output)
BATCHED_KINDS = (
    {DagsterEventType.ASSET_MATERIALIZATION},
    {DagsterEventType.ASSET_OBSERVATION},
)
# what `bangfu run` sets when the environment does not: events per batch
EVENT_BATCH_SIZE = "1000"


class BatchingSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage whose ``store_event_batch`` writes an asset-event batch at once."""

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # the parent names its own class
        return cls(inst_data=inst_data, **config_value)

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
