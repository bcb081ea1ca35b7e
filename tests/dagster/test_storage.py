"""pipelines.storage: a ranged run's partition events written in batches, with the same records
as Dagster's own SQLite event log writes one by one."""

from __future__ import annotations

import os
import sqlite3

import dagster as dg
import pytest
from dagster._core.events import DagsterEventType
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from pipelines.home import dagster_home, instance_yaml
from pipelines.storage import BatchingSqliteEventLogStorage

KEYS = [f"u{i:02d}" for i in range(12)]
parts = dg.StaticPartitionsDefinition(KEYS)


@dg.asset(partitions_def=parts, backfill_policy=dg.BackfillPolicy.single_run())
def sheet(context):  # (no annotation: a string under `from __future__ import annotations`)
    for key in context.partition_keys:
        context.add_asset_metadata({"rows": int(key[1:]) * 10}, partition_key=key)
    return dg.MaterializeResult()


def _ranged_run(home, monkeypatch, batch: bool):
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    if batch:
        monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "5")  # several batches, one partial
    else:
        monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    instance = dg.DagsterInstance.get()
    job = dg.Definitions(
        assets=[sheet], jobs=[dg.define_asset_job("j", selection=[sheet])]
    ).resolve_job_def("j")
    tags = {ASSET_PARTITION_RANGE_START_TAG: KEYS[0], ASSET_PARTITION_RANGE_END_TAG: KEYS[-1]}
    assert job.execute_in_process(instance=instance, tags=tags).success
    return instance


def _asset_row(home) -> list:
    """The index's row for the asset: which of its last-event columns are filled."""
    with sqlite3.connect(home / "history" / "runs" / "index.db") as db:
        cur = db.execute("SELECT * FROM asset_keys")
        names = [d[0] for d in cur.description]
        return [sorted(n for n, v in zip(names, row, strict=True) if v is not None) for row in cur]


def _records(instance):
    key = dg.AssetKey("sheet")
    mats = instance.fetch_materializations(key, limit=100).records
    return {
        "partitions": sorted(instance.get_materialized_partitions(key)),
        "metadata": sorted(
            (r.partition_key, r.asset_materialization.metadata["rows"].value) for r in mats
        ),
        "latest": instance.get_latest_materialization_event(key).dagster_event.partition,
        "asset_record_last": [
            r.asset_entry.last_materialization.dagster_event.partition
            for r in instance.get_asset_records([key])
        ],
        "event_tags": sorted(
            # a data version is made from the run id: its value differs between the two runs
            sorted((k, "…" if k == "dagster/data_version" else v) for k, v in t.items())
            for t in instance.get_event_tags_for_asset(key)
        ),
    }


@pytest.fixture
def homes(tmp_path):
    plain, batching = tmp_path / "plain", tmp_path / "batching"
    plain.mkdir()
    (plain / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    batching.mkdir()
    (batching / "dagster.yaml").write_text(instance_yaml(batching))
    return plain, batching


@pytest.mark.slow
def test_batched_partition_events_equal_event_by_event(homes, monkeypatch):
    plain, batching = homes
    calls = []
    original = BatchingSqliteEventLogStorage.store_event_batch

    def spy(self, events):
        if {e.dagster_event_type for e in events} == {DagsterEventType.ASSET_MATERIALIZATION}:
            calls.append(len(events))
        return original(self, events)

    monkeypatch.setattr(BatchingSqliteEventLogStorage, "store_event_batch", spy)
    one_by_one = _records(_ranged_run(plain, monkeypatch, batch=False))
    one_by_one["asset_row"] = _asset_row(plain)
    batched_instance = _ranged_run(batching, monkeypatch, batch=True)
    assert isinstance(batched_instance.event_log_storage, BatchingSqliteEventLogStorage)
    assert calls == [5, 5, 2]  # the 12 partitions' materialisations, in batches
    batched = _records(batched_instance)
    batched["asset_row"] = _asset_row(batching)
    assert batched == one_by_one
    assert batched["partitions"] == KEYS
    assert batched["metadata"] == [(k, int(k[1:]) * 10) for k in KEYS]


def test_dagster_home_upgrades_the_old_minimal_config(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    old = tmp_path / "dagster_home"
    old.mkdir()
    events = (old.resolve() / "history" / "runs").as_posix()
    batching_only = (
        "telemetry:\n  enabled: false\nevent_log_storage:\n  module: pipelines.storage\n"
        "  class: BatchingSqliteEventLogStorage\n  config:\n"
        f"    base_dir: {events}\n"
    )
    for earlier in ("telemetry:\n  enabled: false\n", batching_only):
        (old / "dagster.yaml").write_text(earlier)
        home = dagster_home(tmp_path)
        assert (home / "dagster.yaml").read_text() == instance_yaml(home)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert isinstance(instance.event_log_storage, BatchingSqliteEventLogStorage)
            assert instance.run_coordinator.dequeue_interval_seconds == 1
    assert int(os.environ["DAGSTER_EVENT_BATCH_SIZE"]) > 0
    custom = "telemetry:\n  enabled: true\n"
    (home / "dagster.yaml").write_text(custom)
    dagster_home(tmp_path)
    assert (home / "dagster.yaml").read_text() == custom  # a user's own config stands


def test_one_engine_per_database_file_held_open_and_only_the_last_ones_kept(homes, monkeypatch):
    """The storage builds one engine per database file (the index, each run's), not one per
    connection as Dagster's SQLite storage does; holds the file open, so that closing a
    connection does not checkpoint and delete its write-ahead log each time; commits without
    waiting for the disk (synchronous NORMAL); keeps only the last KEPT_ENGINES files."""
    import pipelines.dagster_private as private

    _plain, batching = homes
    built: list[str] = []
    real = private.create_engine

    def counting(url, **kwargs):
        built.append(str(url))
        return real(url, **kwargs)

    monkeypatch.setattr(private, "create_engine", counting)
    monkeypatch.setattr(private, "KEPT_ENGINES", 3)
    instance = _ranged_run(batching, monkeypatch, batch=True)
    storage = instance.event_log_storage
    assert isinstance(storage, BatchingSqliteEventLogStorage)
    (run,) = instance.get_runs()
    # a dozen partitions' events went through many connections; one engine per file
    assert sorted(set(built)) == sorted(built)
    assert any(u.endswith(f"{run.run_id}.db") for u in built)
    assert any(u.endswith("index.db") for u in built)
    assert len(storage.get_logs_for_run(run.run_id)) > 12
    run_db = storage.path_for_shard(run.run_id)
    assert os.path.exists(run_db + "-wal")  # the log stays between connections
    with storage.run_connection(run.run_id) as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    for i in range(4):  # four more shards: the oldest are let go
        with storage.run_connection(f"other{i}"):
            pass
    assert list(storage._shards) == ["other1", "other2", "other3"]
    storage.dispose()
    assert not storage._shards
    assert not os.path.exists(run_db + "-wal")  # the last close checkpointed it
