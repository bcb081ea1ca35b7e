"""The nightly schedule and the landing sensor (which also takes the returned workbooks of
``<data>/reviews/inbox/``).

Both request the `ledgers` partitions that changed, as ranged runs (one per year and contiguous
block of units); what depends on them follows by its automation condition (eager), so exactly
the affected partitions and their dependants are re-materialised.
"""

import hashlib
import json
import os
import zlib
from base64 import b64decode, b64encode
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from assets.partitions import (
    contiguous_blocks,
    multi_key,
    split_keys,
    unit_year_partitions,
    units_partitions,
    years_partitions,
)
from bangfu import readers
from bangfu.lake import Lake
from bangfu.landing_watch import Fingerprint, LandingChanges, diff, fingerprint, partition_of
from pipelines.dagster_private import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from pipelines.jobs import output_stage_job, overview_job, reference_job, unit_stage_job
from resources import DataResource, LandingResource, WarehouseResource
from warehouse import tables

UNIT_STAGE_JOB = "unit_stage_job"
REFERENCE_JOB = "reference_job"
OUTPUT_STAGE_JOB = "output_stage_job"
OVERVIEW_JOB = "overview_job"


def encode_cursor(fp: Fingerprint) -> str:
    """Compressed JSON: 3,000 units × 3 years of files stay a few hundred kB."""
    raw = json.dumps(fp, separators=(",", ":"), sort_keys=True).encode()
    return b64encode(zlib.compress(raw, 6)).decode()


def decode_cursor(cursor: str | None) -> Fingerprint:
    if not cursor:
        return {}
    data = json.loads(zlib.decompress(b64decode(cursor)))
    return {k: (v[0], v[1], v[2]) for k, v in data.items()}


def ranged_requests(
    keys: set[tuple[int, str]],
    unit_order: list[str],
    *,
    run_key_prefix: str,
    job_name: str = UNIT_STAGE_JOB,
) -> list[dg.RunRequest]:
    """One ranged run per year and contiguous block of units (in the partitions' order)."""
    requests = []
    by_year: dict[int, list[str]] = {}
    for y, u in keys:
        by_year.setdefault(y, []).append(u)
    for year in sorted(by_year):
        for u0, u1 in contiguous_blocks(by_year[year], unit_order):
            start, end = str(multi_key(year, u0)), str(multi_key(year, u1))
            requests.append(
                dg.RunRequest(
                    run_key=f"{run_key_prefix}:{start}:{end}",
                    job_name=job_name,
                    tags={
                        ASSET_PARTITION_RANGE_START_TAG: start,
                        ASSET_PARTITION_RANGE_END_TAG: end,
                    },
                )
            )
    return requests


def _partition_requests(
    context, landing_root, changes: LandingChanges, known_units, known_years, all_partitions=()
):
    """Dynamic-partition additions for new units (from units.csv) and new years."""
    adds = []
    unit_order = list(known_units)
    if changes.reference_changed or not known_units:
        try:
            units = readers.read_units(landing_root / "reference" / "units.csv")
        except (readers.ReferenceDataError, OSError) as exc:
            # reference_job is still requested: its failure names what is wrong with units.csv.
            context.log.error(f"机构名录无法读取，未登记新单位：{exc}")
            units = None
        known = set(known_units)
        new_units = [] if units is None else [u for u in units["unit_code"] if u not in known]
        if new_units:
            adds.append(units_partitions.build_add_request(new_units))
            unit_order += new_units
    # a first tick registers every year present, not only the years of what changed
    present = {y for y, _ in changes.partitions} | {y for y, _ in all_partitions}
    new_years = sorted({str(y) for y in present} - set(known_years))
    if new_years:
        adds.append(years_partitions.build_add_request(new_years))
    return adds, unit_order


def first_tick_baseline(landing_root: Path, after: Fingerprint, wh, lake: Lake) -> Fingerprint:
    """What a sensor without a cursor takes as already read: the ledger files of partitions
    whose hashes ingest_log holds, and the reference files when the lake's copy of units.csv
    was written after every one of them. A sensor started over an ingested landing folder
    (a new Dagster instance, a reset cursor) then requests only what changed, not everything."""
    _candidates, stale = stale_against_ingest_log(after, wh)
    ref_copy = lake.single_path("ref_units")
    ref_read_ns = ref_copy.stat().st_mtime_ns if ref_copy.exists() else -1
    refs = [rel for rel in after if rel.startswith("reference/")]
    refs_read = bool(refs) and all(after[rel][1] <= ref_read_ns for rel in refs)
    out = {}
    for rel, entry in after.items():
        key = partition_of(rel)
        if (key is not None and not stale(key)) or (refs_read and rel.startswith("reference/")):
            out[rel] = entry
    return out


# Seconds between ticks of both sensors (tests and demos set a small value).
SENSOR_INTERVAL_ENV = "BANGFU_SENSOR_INTERVAL"


def sensor_interval(default: int) -> int:
    return int(os.environ.get(SENSOR_INTERVAL_ENV) or default)


def inbox_requests(
    context, data: DataResource, warehouse: WarehouseResource, unit_order: list[str]
) -> list[dg.RunRequest]:
    """Import the returned workbooks waiting in ``<data>/reviews/inbox/`` (each to done/ or
    refused/) and request the output stage for the partitions whose judgments changed, the
    units above them and the next year's (上年度问题整改情况)."""
    from bangfu.review.returned import affected, inbox_files, process_inbox
    from bangfu.review.state import with_units_above

    if not inbox_files(data.root):
        return []
    outcomes = process_inbox(warehouse.get(), data.root, echo=context.log.info)
    keys = with_units_above(affected(outcomes), data.lake.read_single("ref_units"))
    known = set(unit_order)
    years = set(context.instance.get_dynamic_partitions(years_partitions.name))
    keys = {k for k in keys if k[1] in known and str(k[0]) in years}
    if not keys:
        return []
    sources = "|".join(sorted(r["source"] for o in outcomes for r in o.recorded))
    tick = hashlib.sha256(sources.encode()).hexdigest()[:16]
    # the overviews count the judgments too (排除 left out, the review progress): rewritten
    # over the judged years (year_overview also rewrites the year after them)
    judged = sorted({y for y, _u in keys})
    overview = dg.RunRequest(
        run_key=f"review:{tick}:overview",
        job_name=OVERVIEW_JOB,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: str(judged[0]),
            ASSET_PARTITION_RANGE_END_TAG: str(judged[-1]),
        },
    )
    return [
        *ranged_requests(
            keys, unit_order, run_key_prefix=f"review:{tick}", job_name=OUTPUT_STAGE_JOB
        ),
        overview,
    ]


@dg.sensor(
    jobs=[reference_job, unit_stage_job, output_stage_job, overview_job],
    minimum_interval_seconds=sensor_interval(60),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="落地目录传感器：按内容哈希发现新到或变更的台账文件，登记新单位和新年度，"
    "只为受影响的（年度，单位）分区发起运行。 Notices new or changed ledger files by content"
    " hash and requests runs for exactly the affected partitions.",
)
def landing_sensor(
    context: dg.SensorEvaluationContext,
    landing: LandingResource,
    data: DataResource,
    warehouse: WarehouseResource,
):
    reviewed = inbox_requests(
        context, data, warehouse, context.instance.get_dynamic_partitions(units_partitions.name)
    )
    before = decode_cursor(context.cursor)
    after = fingerprint(landing.root, before)
    if not context.cursor:
        before = first_tick_baseline(landing.root, after, warehouse.get(), data.lake)
    changes = diff(before, after)
    if changes.empty:
        if reviewed:
            return dg.SensorResult(run_requests=reviewed, cursor=encode_cursor(after))
        skip = dg.SkipReason("落地目录无变化 / nothing changed")
        if after == before:
            return skip
        # Only mtimes moved (same bytes): keep the new stat so the next tick hashes nothing.
        return dg.SensorResult(skip_reason=skip, cursor=encode_cursor(after))
    known_units = context.instance.get_dynamic_partitions(units_partitions.name)
    known_years = context.instance.get_dynamic_partitions(years_partitions.name)
    first = {k for rel in after if (k := partition_of(rel))} if not context.cursor else set()
    adds, unit_order = _partition_requests(
        context, landing.root, changes, known_units, known_years, first
    )
    valid_units = set(unit_order)
    keys = {k for k in changes.partitions | changes.removed if k[1] in valid_units}
    # Run keys must be stable across processes (hash() of a str is salted per process): the
    # same transition evaluated twice (a tick retried after a crash) requests nothing twice.
    new_cursor = encode_cursor(after)
    tick = hashlib.sha256(f"{context.cursor or ''}>{new_cursor}".encode()).hexdigest()[:16]
    requests = []
    if changes.reference_changed:
        requests.append(dg.RunRequest(run_key=f"ref:{tick}", job_name=REFERENCE_JOB))
    requests += ranged_requests(keys, unit_order, run_key_prefix=f"landing:{tick}")
    if changes.other:
        context.log.warning(
            "无法归属分区的文件（将在 landing_inventory 中拒收）：" + "、".join(changes.other[:20])
        )
    return dg.SensorResult(
        run_requests=requests + reviewed, dynamic_partitions_requests=adds, cursor=new_cursor
    )


# The nightly schedule's cron (Asia/Shanghai): an office may move it (tests fire it every minute).
NIGHTLY_CRON_ENV = "BANGFU_NIGHTLY_CRON"
NIGHTLY_CRON = "0 2 * * *"


def nightly_cron() -> str:
    return os.environ.get(NIGHTLY_CRON_ENV) or NIGHTLY_CRON


# Runs that have not ended: the partitions they will ingest are not requested again.
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
LEDGERS = dg.AssetKey("ledgers")


def in_flight(instance: dg.DagsterInstance) -> set[tuple[int, str]]:
    """The (year, unit) partitions of ``ledgers`` that a queued or running run is to write (the
    landing sensor's runs for a change it noticed before the tick, an earlier tick's runs):
    until that run ends, ``ingest_log`` still differs from the landing folder for them."""
    out: set[tuple[int, str]] = set()
    for run in instance.get_runs(dg.RunsFilter(statuses=UNFINISHED)):
        if run.job_name != UNIT_STAGE_JOB and LEDGERS not in (run.asset_selection or ()):
            continue
        tags = run.tags
        if ASSET_PARTITION_RANGE_START_TAG in tags and ASSET_PARTITION_RANGE_END_TAG in tags:
            rng = dg.PartitionKeyRange(
                tags[ASSET_PARTITION_RANGE_START_TAG], tags[ASSET_PARTITION_RANGE_END_TAG]
            )
            keys = unit_year_partitions.get_partition_keys_in_range(
                rng, dynamic_partitions_store=instance
            )
            out |= set(split_keys(keys))
        elif PARTITION_NAME_TAG in tags:
            out |= set(split_keys([tags[PARTITION_NAME_TAG]]))
    return out


@dg.schedule(
    cron_schedule=nightly_cron(),
    execution_timezone="Asia/Shanghai",
    job=unit_stage_job,
    description="每晚 02:00（北京时间，BANGFU_NIGHTLY_CRON 可改）：将落地目录中的台账与数据仓库"
    " ingest_log 记录的哈希比对，重新物化内容已变化或尚未入湖的分区（已在排队或运行中的除外）。"
    " Nightly at 02:00 Asia/Shanghai (BANGFU_NIGHTLY_CRON): re-materialise the partitions whose"
    " ledger files differ from what ingest_log recorded, but those a queued or running run"
    " already covers.",
)
def nightly_schedule(
    context: dg.ScheduleEvaluationContext,
    landing: LandingResource,
    warehouse: WarehouseResource,
):
    fp = fingerprint(landing.root)
    candidates, stale = stale_against_ingest_log(fp, warehouse.get())
    known_units = context.instance.get_dynamic_partitions(units_partitions.name)
    known_years = context.instance.get_dynamic_partitions(years_partitions.name)
    known = {(int(y), u) for y in known_years for u in known_units}
    changed = {k for k in candidates if k in known and stale(k)}
    if not changed:
        return dg.SkipReason("所有台账均已入湖且未变化 / every ledger is up to date")
    running = changed & in_flight(context.instance)
    if running == changed:
        return dg.SkipReason(
            f"变化的台账（{len(changed)} 个分区）已在排队或运行的运行中 /"
            " every changed ledger is being ingested by a queued or running run"
        )
    if running:
        context.log.info(
            f"{len(running)} 个分区的台账已在排队或运行的运行中，本次不再请求 /"
            " partitions a queued or running run ingests are not requested again"
        )
    return ranged_requests(
        changed - running,
        known_units,
        run_key_prefix=f"nightly:{context.scheduled_execution_time:%Y%m%d%H%M}",
    )


def stale_against_ingest_log(
    fp: Fingerprint, wh
) -> tuple[set[tuple[int, str]], Callable[[tuple[int, str]], bool]]:
    """The partitions with ledger files or ingest_log rows, and a test of whether a partition's
    ledger files differ from what ``ingest_log`` recorded (or it was ingested once and its
    ledger is gone)."""
    log = wh.read(tables.ingest_log)
    ingested: dict[tuple[int, str], set[str]] = {}
    for r in log.iter_rows(named=True) if not log.is_empty() else []:
        ingested.setdefault((int(r["year"]), r["unit_code"]), set()).add(r["source_sha256"][:16])
    # A rejected ledger leaves no ingest_log rows: it is up to date while no file of its
    # partition is newer than the rejection (else it would be re-requested every night).
    rejected = wh.read(tables.rejected_files)
    rejected_at: dict[tuple[int, str], datetime] = {}
    for r in rejected.iter_rows(named=True) if not rejected.is_empty() else []:
        if r["year"] is not None and r["unit_code"] is not None:
            key = (int(r["year"]), r["unit_code"])
            rejected_at[key] = min(_as_utc(r["rejected_at"]), rejected_at.get(key, _FAR_FUTURE))
    current: dict[tuple[int, str], set[str]] = {}
    newest: dict[tuple[int, str], int] = {}
    for rel, (_s, mtime_ns, sha) in fp.items():
        key = partition_of(rel)
        if key is not None:
            current.setdefault(key, set()).add(sha)
            newest[key] = max(newest.get(key, 0), mtime_ns)

    def stale(key: tuple[int, str]) -> bool:
        if key not in current:  # ingested once, the ledger is gone: mark the partition missing
            return True
        if ingested.get(key) == current[key]:
            return False
        if key in rejected_at and key not in ingested:
            return newest[key] > rejected_at[key].timestamp() * 1e9
        return True

    return set(current) | set(ingested), stale


_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


def _as_utc(value) -> datetime:
    """rejected_at as stored: a datetime (PostgreSQL) or ISO text (SQLite via polars)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# Dagster evaluates automation conditions only in an automation sensor; the one it adds by itself
# (default_automation_condition_sensor) is stopped until someone turns it on in the UI. This one
# runs as soon as the daemon does: the year stage follows the unit stage's runs, and the
# workbooks follow the year stage's report of which outputs changed (unit_audit_inputs).
# Its requests are runs, one per range of partitions (the assets' single-run backfill policy),
# not a backfill: the backfill daemon would launch them only at its next pass, every 30 s.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "bangfu_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=sensor_interval(30),
    emit_backfills=False,
    description="自动化条件：单位阶段之后重算年度汇总，再只重写输入已变化的工作簿与报告。"
    " Evaluates the assets' automation conditions: the year stage after the unit stage, then"
    " only the workbooks whose inputs changed.",
)
