"""The unit stage on Dagster's celery executor: Redis broker, two workers, PostgreSQL storage.

The workers are started by the test with `dagster-celery worker start` and the shipped
deploy/celery_worker.yaml, and always stopped (their process group) in a finally. Under
CI=true a missing Redis or PostgreSQL FAILS the test; it is never skipped there.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from sqlalchemy.engine import make_url

from assets.partitions import multi_key
from pipelines.definitions import build_defs
from pipelines.home import register_partitions
from tests.support import REPO as ROOT
from tests.support import service_missing

VENV_BIN = Path(sys.executable).parent
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
YEAR = 2019
N_UNITS = 3

pytestmark = pytest.mark.postgres


@pytest.fixture
def broker() -> str:
    """A Redis database of its own (tasks of a parallel test run never meet ours)."""
    import redis

    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "missing"
        service_missing(f"Redis at {REDIS_HOST}:{REDIS_PORT}", exc)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{random.randint(1, 15)}"


def start_worker(name: str, env: dict, log: Path) -> subprocess.Popen:
    fh = open(log, "wb")  # noqa: SIM115 - closed with the process in stop_workers
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "dagster-celery"),
            "worker",
            "start",
            "-A",
            "dagster_celery.app",
            "-y",
            str(ROOT / "deploy" / "celery_worker.yaml"),
            "-n",
            name,
            "--loglevel",
            "INFO",
            "--",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=fh,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: dagster-celery → celery → pool
    )
    proc.log_file = fh  # type: ignore[attr-defined]
    return proc


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
        p.log_file.close()  # type: ignore[attr-defined]


def wait_for_workers(broker: str, names: list[str], procs, logs: list[Path]) -> None:
    from dagster_celery.make_app import make_app

    app = make_app({"broker": broker, "backend": broker, "include": [], "config_source": {}})
    deadline = time.monotonic() + 60
    seen: set[str] = set()
    while time.monotonic() < deadline:
        for p, log in zip(procs, logs, strict=True):
            if p.poll() is not None:
                pytest.fail(f"celery worker exited early:\n{log.read_text(errors='replace')}")
        replies = app.control.ping(timeout=1.0) or []
        seen = {host.split("@")[0] for reply in replies for host in reply}
        if set(names) <= seen:
            return
    pytest.fail(f"celery workers not ready after 60 s (seen {seen}):\n{logs[0].read_text()}")


def test_unit_stage_on_celery_executor(s_landing, pg_url, broker, tmp_path, monkeypatch):
    from deploy.celery_defs import celery_run_config, unit_stage_job_on_celery

    # one environment for this process (the run's orchestrator) and the workers
    url = make_url(pg_url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    landing, data = tmp_path / "landing", tmp_path / "data"
    shutil.copytree(s_landing / "reference", landing / "reference")
    shutil.copytree(s_landing / "ledgers" / str(YEAR), landing / "ledgers" / str(YEAR))
    env = {
        "DAGSTER_HOME": str(home),
        "BANGFU_PG_HOST": url.host or "127.0.0.1",
        "BANGFU_PG_USER": url.username or "postgres",
        "BANGFU_PG_PASSWORD": url.password or "",
        "BANGFU_PG_DB": url.database,
        "BANGFU_WAREHOUSE_URL": pg_url,
        "BANGFU_DATA": str(data),
        "BANGFU_LANDING": str(landing),
        "BANGFU_CELERY_BROKER": broker,
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    worker_env = {
        **os.environ,
        **env,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "PYTHONWARNINGS": "ignore",
    }

    instance = dg.DagsterInstance.from_config(str(home))
    names = [f"bangfu-test-{os.getpid()}-{i}" for i in (1, 2)]
    logs = [tmp_path / f"{n}.log" for n in names]
    procs: list[subprocess.Popen] = []
    try:
        # reference data in the lake and the partitions registered, as `bangfu run` does first
        defs = build_defs(landing, data)
        ref = defs.resolve_job_def("reference_job").execute_in_process(instance=instance)
        assert ref.success
        units_csv = (landing / "reference" / "units.csv").read_text("utf-8").splitlines()[1:]
        units = [line.split(",")[0] for line in units_csv if line.strip()]
        register_partitions(instance, [YEAR], units)
        chosen = instance.get_dynamic_partitions("units")[:N_UNITS]

        procs = [start_worker(n, worker_env, log) for n, log in zip(names, logs, strict=True)]
        wait_for_workers(broker, names, procs, logs)

        tags = {
            ASSET_PARTITION_RANGE_START_TAG: str(multi_key(YEAR, chosen[0])),
            ASSET_PARTITION_RANGE_END_TAG: str(multi_key(YEAR, chosen[-1])),
        }
        t0 = time.perf_counter()
        result = dg.execute_job(
            dg.reconstructable(unit_stage_job_on_celery),
            instance=instance,
            run_config=celery_run_config(broker),
            tags=tags,
        )
        seconds = time.perf_counter() - t0
        assert result.success, [e.message for e in result.all_events if e.is_failure] + [
            log.read_text(errors="replace")[-3000:] for log in logs
        ]

        run_id = result.run_id
        records = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=10_000
        ).records
        mats: dict[str, set[str]] = {}
        for r in records:
            m = r.event_log_entry.asset_materialization
            mats.setdefault(m.asset_key.to_user_string(), set()).add(m.partition)
        expected = {f"{u}|{YEAR}" for u in chosen}
        assert mats == {"ledgers": expected, "unit_findings": expected}

        # every step ran in a celery worker, not in this process
        engine_events = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=10_000
        ).records
        hosts = {
            str(e.event_log_entry.dagster_event.engine_event_data.metadata["Celery worker"].value)
            for e in engine_events
            if e.event_log_entry.dagster_event.engine_event_data
            and "Celery worker" in e.event_log_entry.dagster_event.engine_event_data.metadata
        }
        assert hosts and {h.split("@")[0] for h in hosts} <= set(names), hosts
        print(f"\ncelery run {run_id}: {seconds:.1f} s, steps on {sorted(hosts)}")

        # the lake was written by the workers
        assert all(
            (data / "lake" / "ingest_status" / f"year={YEAR}" / f"unit={u}").exists()
            for u in chosen
        )
    finally:
        stop_workers(procs)
        instance.dispose()
