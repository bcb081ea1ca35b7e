"""Dagster's SQLite event log, writing a batch of asset events in one transaction per database.

The embedded instance (``pipelines.home.dagster_home``) uses this class. A ranged run
materialises every partition it covers when its step ends: 303 events per asset at scale M,
3,216 per asset and year at scale L. Dagster's SQLite storage writes each event on its own (a
new engine, then one transaction in the run's database and one in the index database), so
thousands of partitions mean thousands of serial writes after each step. With
``DAGSTER_EVENT_BATCH_SIZE`` set, Dagster hands such events over in batches
(``store_event_batch``), which the SQLite storage still wrote one by one. Here a batch of
materialisations (or of observations) of one run is written in one transaction per database,
with the same rows as event-by-event writing; every other event, and everything else, is
``SqliteEventLogStorage``'s own. The class lives with Dagster's other private uses in
pipelines.dagster_private; this module is the name instances' dagster.yaml files give it.
"""

from __future__ import annotations

from pipelines.dagster_private import BATCHED_KINDS, BatchingSqliteEventLogStorage

# what `bangfu run` sets when the environment does not: events per batch
EVENT_BATCH_SIZE = "1000"

__all__ = ["BATCHED_KINDS", "EVENT_BATCH_SIZE", "BatchingSqliteEventLogStorage"]
