"""The landing sensor, the nightly schedule and the loaded definitions (issue #3).

The sensor and the schedule are evaluated directly with Dagster's test contexts over a COPY of
the scale-S landing folder; the dynamic-partition requests a tick returns are applied to the
instance the way the daemon applies them.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from assets.partitions import units_partitions, years_partitions
from bangfu.landing_watch import fingerprint, partition_of
from pipelines.automation import encode_cursor, nightly_schedule
from resources import LandingResource, WarehouseResource
from tests.support.sensors import copy_landing, covered, tick

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


# ---------------------------------------------------------------- helpers
def ledger_partitions(landing: Path) -> set[tuple[int, str]]:
    return {k for rel in fingerprint(landing) if (k := partition_of(rel)) is not None}


def unit_requests(result) -> list[dg.RunRequest]:
    return [r for r in result.run_requests if r.job_name == "unit_stage_job"]


def rewrite(path: Path, extra: bytes = b"\n") -> None:
    """New bytes (a different hash), as when a unit sends a corrected ledger."""
    path.write_bytes(path.read_bytes() + extra)


def some_ledger_file(landing: Path) -> tuple[Path, tuple[int, str]]:
    for rel in sorted(fingerprint(landing)):
        key = partition_of(rel)
        if key is not None and rel.endswith(".xlsx"):
            return landing / rel, key
    raise AssertionError("no xlsx ledger in the landing folder")


# ---------------------------------------------------------------- the landing sensor
@pytest.fixture
def landing(s_landing, tmp_path):
    return copy_landing(s_landing, tmp_path / "landing")


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def test_sensor_first_tick_registers_partitions_and_requests_everything(landing, instance):
    units = [
        line.split(",")[0]
        for line in (landing / "reference" / "units.csv").read_text("utf-8").splitlines()[1:]
        if line.strip()
    ]
    years = sorted({y for y, _ in ledger_partitions(landing)})

    first = tick(instance, landing, None)
    assert isinstance(first, dg.SensorResult)
    adds = {
        r.partitions_def_name: list(r.partition_keys) for r in first.dynamic_partitions_requests
    }
    assert adds == {units_partitions.name: units, years_partitions.name: [str(y) for y in years]}
    assert instance.get_dynamic_partitions(units_partitions.name) == units

    assert [r.job_name for r in first.run_requests].count("reference_job") == 1
    requests = unit_requests(first)
    # ranged runs: one per year and contiguous block of units, never one per partition
    assert len(requests) <= len(years) * len(units) // 2
    cover = [covered(instance, r) for r in requests]
    assert set().union(*cover) == ledger_partitions(landing)
    assert sum(len(c) for c in cover) == len(ledger_partitions(landing))  # no overlap
    assert len({r.run_key for r in first.run_requests}) == len(first.run_requests)

    # nothing changed: skip, no requests
    second = tick(instance, landing, first.cursor)
    assert isinstance(second, dg.SkipReason)


def test_sensor_requests_exactly_what_changed(landing, instance):
    cursor = tick(instance, landing, None).cursor
    path, key = some_ledger_file(landing)

    # the same bytes, a new mtime: nothing to do, and the next tick hashes nothing again
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    same = tick(instance, landing, cursor)
    skip = same.skip_reason if isinstance(same, dg.SensorResult) else same
    assert isinstance(skip, dg.SkipReason)
    assert not (isinstance(same, dg.SensorResult) and same.run_requests)
    if isinstance(same, dg.SensorResult) and same.cursor:
        cursor = same.cursor

    # one ledger rewritten with different bytes: exactly one run over exactly its partition
    rewrite(path)
    changed = tick(instance, landing, cursor)
    assert isinstance(changed, dg.SensorResult)
    assert not changed.dynamic_partitions_requests
    assert len(changed.run_requests) == 1
    assert changed.run_requests[0].job_name == "unit_stage_job"
    assert covered(instance, changed.run_requests[0]) == {key}
    cursor = changed.cursor

    # a CSV-form ledger: any one of its sheet files changing requests its partition
    csv_rel = next(
        rel for rel in sorted(fingerprint(landing)) if rel.endswith(".csv") and partition_of(rel)
    )
    csv_key = partition_of(csv_rel)
    rewrite(landing / csv_rel)
    csv_tick = tick(instance, landing, cursor)
    assert [covered(instance, r) for r in csv_tick.run_requests] == [{csv_key}]
    cursor = csv_tick.cursor

    # a new unit-year file (a year never seen): the year is registered, its partition requested
    new_year = max(y for y, _ in ledger_partitions(landing)) + 1
    (landing / "ledgers" / str(new_year)).mkdir()
    shutil.copy2(path, landing / "ledgers" / str(new_year) / f"{key[1]}.xlsx")
    grown = tick(instance, landing, cursor)
    assert [
        (r.partitions_def_name, list(r.partition_keys)) for r in grown.dynamic_partitions_requests
    ] == [(years_partitions.name, [str(new_year)])]
    assert [covered(instance, r) for r in grown.run_requests] == [{(new_year, key[1])}]
    cursor = grown.cursor

    # units.csv changed (a new county): reference_job, the unit registered
    units_csv = landing / "reference" / "units.csv"
    lines = units_csv.read_text("utf-8").splitlines()
    parent = next(line.split(",")[0] for line in lines[1:] if line.split(",")[2] == "市")
    new_unit = "339999"
    units_csv.write_text(
        "\n".join([*lines, f"{new_unit},新设区总工会,县,{parent}"]) + "\n", "utf-8"
    )
    ref = tick(instance, landing, cursor)
    assert [r.job_name for r in ref.run_requests] == ["reference_job"]
    assert [
        (r.partitions_def_name, list(r.partition_keys)) for r in ref.dynamic_partitions_requests
    ] == [(units_partitions.name, [new_unit])]
    assert instance.get_dynamic_partitions(units_partitions.name)[-1] == new_unit

    # and a ledger for the new unit in an existing year: exactly that partition
    shutil.copy2(path, landing / "ledgers" / str(key[0]) / f"{new_unit}.xlsx")
    after_ref = tick(instance, landing, ref.cursor)
    assert [covered(instance, r) for r in after_ref.run_requests] == [{(key[0], new_unit)}]
    assert isinstance(tick(instance, landing, after_ref.cursor), dg.SkipReason)


def test_sensor_run_keys_are_stable_across_evaluations(landing, instance):
    """The same transition evaluated twice (a retried tick) gives the same run keys."""
    a = tick(instance, landing, None)
    with dg.instance_for_test() as other:
        b = tick(other, landing, None)
    assert [r.run_key for r in a.run_requests] == [r.run_key for r in b.run_requests]


@pytest.mark.slow
def test_sensor_tick_time_with_3000_units(tmp_path, instance):
    """Measured, not asserted: 3,000 units × 3 years of (tiny) ledger files."""
    root = tmp_path / "big"
    units = [f"{100000 + i}" for i in range(3000)]
    years = (2017, 2018, 2019)
    (root / "reference").mkdir(parents=True)
    (root / "reference" / "units.csv").write_text("单位代码,单位名称,级别,上级单位代码\n", "utf-8")
    t0 = time.perf_counter()
    for y in years:
        d = root / "ledgers" / str(y)
        d.mkdir(parents=True)
        for u in units:
            fd = os.open(d / f"{u}.xlsx", os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, f"{y}{u}".encode())
            os.close(fd)
    made = time.perf_counter() - t0
    instance.add_dynamic_partitions(units_partitions.name, units)
    instance.add_dynamic_partitions(years_partitions.name, [str(y) for y in years])

    t0 = time.perf_counter()
    cursor = encode_cursor(fingerprint(root))
    cold = time.perf_counter() - t0

    t0 = time.perf_counter()
    idle = tick(instance, root, cursor)
    unchanged = time.perf_counter() - t0
    assert isinstance(idle, dg.SkipReason)

    rewrite(root / "ledgers" / "2018" / f"{units[1500]}.xlsx")
    t0 = time.perf_counter()
    one = tick(instance, root, cursor)
    one_changed = time.perf_counter() - t0
    assert [covered(instance, r) for r in one.run_requests] == [{(2018, units[1500])}]
    print(
        f"\nsensor over {3 * len(units)} files (made in {made:.2f} s):"
        f" cold fingerprint {cold:.3f} s, cursor {len(cursor) / 1024:.0f} kB;"
        f" tick nothing changed {unchanged:.3f} s; tick one file changed {one_changed:.3f} s"
    )


# ---------------------------------------------------------------- the nightly schedule
def test_nightly_schedule_cron_and_timezone():
    from dagster._utils.schedules import cron_string_iterator

    assert nightly_schedule.cron_schedule == "0 2 * * *"
    assert nightly_schedule.execution_timezone == "Asia/Shanghai"
    assert nightly_schedule.job_name == "unit_stage_job"
    start = dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC).timestamp()
    nxt = next(cron_string_iterator(start, "0 2 * * *", "Asia/Shanghai"))
    assert nxt.astimezone(SHANGHAI).replace(tzinfo=None) == dt.datetime(2024, 1, 2, 2, 0)
    assert nxt.astimezone(dt.UTC).hour == 18


def _nightly(s_run, landing: Path):
    instance = dg.DagsterInstance.from_config(str(s_run["home"]))
    try:
        # a context manager: the warehouse resource opens its engine and disposes of it after
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=dt.datetime(2024, 3, 1, 2, 0, tzinfo=SHANGHAI),
            resources={
                "landing": LandingResource(path=str(landing)),
                "warehouse": WarehouseResource(data_path=str(s_run["data"])),
            },
        ) as ctx:
            result = nightly_schedule(ctx)
        return result, instance
    except Exception:
        instance.dispose()
        raise


def test_nightly_schedule_skips_when_up_to_date(s_run, monkeypatch):
    monkeypatch.delenv("BANGFU_WAREHOUSE_URL", raising=False)
    result, instance = _nightly(s_run, s_run["landing"])
    instance.dispose()
    assert isinstance(result, dg.SkipReason), result


def test_nightly_schedule_requests_exactly_the_changed_ledger(s_run, tmp_path, monkeypatch):
    monkeypatch.delenv("BANGFU_WAREHOUSE_URL", raising=False)
    landing = copy_landing(s_run["landing"], tmp_path / "landing")
    path, key = some_ledger_file(landing)
    rewrite(path)
    result, instance = _nightly(s_run, landing)
    try:
        assert isinstance(result, list) and len(result) == 1, result
        assert result[0].job_name in (None, "unit_stage_job")
        assert covered(instance, result[0]) == {key}
    finally:
        instance.dispose()


# ---------------------------------------------------------------- the loaded definitions
def test_definitions_load(tmp_path):
    from pipelines.definitions import build_defs

    defs = build_defs(tmp_path / "landing", tmp_path / "data")
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    nodes = [graph.get(k) for k in graph.get_all_asset_keys()]
    groups = {n.group_name for n in nodes}
    assert {"ingest", "validate", "findings", "metrics", "workbooks"} <= groups, groups
    assert all(n.description and n.description.strip() for n in nodes), [
        n.key for n in nodes if not n.description
    ]
    # column schemas in the catalogue are the frames' own columns
    from bangfu import frames

    schemas = {
        n.key.to_user_string(): [c.name for c in n.metadata["dagster/column_schema"].columns]
        for n in nodes
        if "dagster/column_schema" in n.metadata
    }
    assert schemas["unit_findings"] == list(frames.FINDINGS_SCHEMA)
    assert schemas["unit_year_metrics"] == list(frames.METRICS_SCHEMA)
    assert {"ledgers", "reference_units", "data_quality", "cross_unit_findings"} <= set(schemas)
    checks = graph.asset_check_keys
    print(f"\n{len(nodes)} assets in {len(groups)} groups, {len(checks)} asset checks")
    assert len(checks) >= 11, sorted(str(c) for c in checks)
    repo = defs.get_repository_def()
    schedules = repo.schedule_defs
    assert any(s.execution_timezone == "Asia/Shanghai" for s in schedules)
    assert any(s.name == "landing_sensor" for s in repo.sensor_defs)
    assert {"reference_job", "unit_stage_job", "year_stage_job", "output_stage_job"} <= {
        j.name for j in repo.get_all_jobs()
    }
