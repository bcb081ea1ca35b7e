"""Shared fixtures. Services: under CI=true a missing service FAILS the test, never skips it
(tests.support.missing).

The tests are in three folders: unit/ (plain functions over hand-built inputs: no Dagster
instance, no run), dagster/ (definitions, assets, sensors, schedules, storage, resources,
executors) and e2e/ (whole runs, the command line, the UI behind its proxy, faults, files as
LibreOffice saves them). What they share is the package tests/support/.

The generated data are made once per session and only read: ``s_landing`` (scale S) and
``s_run`` (the whole graph over it). A test that writes takes a private copy (``s_run_copy``)
instead of generating and running again; so do the small landing's baseline and the bad-file
corpus's run. The incremental and nightly tests share one changed landing and its run from
scratch (``changed_scratch``), each taking a private copy of both runs (``changed``).

`make test` runs the files on two pytest-xdist workers (``-n 2 --dist loadfile``: a file's
module fixtures stay in one process). The session's data are still built once, not once per
worker: :func:`built_once` lets the first worker that needs one build it under a file lock and
the other load what it left (a pickle beside the folder).
"""

from __future__ import annotations

import os
import pickle
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock
from sqlalchemy import create_engine, text

from tests.support import service_missing

PG_ADMIN_URL = os.environ.get(
    "BANGFU_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)


# Tests that use these fixtures are marked so without saying it: `make check` leaves them out.
MARKS_BY_FIXTURE = {
    "s_landing": "slow",
    "s_run": "slow",
    "bad_corpus": "slow",
    "pg_server_url": "postgres",
    "pg_url": "postgres",
}


# The files whose tests drive `dagster-daemon run` (a daemon, its code server and every run it
# launches, polled until they settle): the heaviest of the suite. Two of them side by side on
# two cores slow each other (and each other's polling) down, so under xdist they form one work
# unit, one worker runs them one after the other, and they are collected first so that the
# other worker takes the rest meanwhile.
DAEMON_FILES = ("tests/e2e/test_nightly.py", "tests/e2e/test_incremental.py")


def pytest_collection_modifyitems(items):
    for item in items:
        for fixture in set(item.fixturenames) & MARKS_BY_FIXTURE.keys():
            item.add_marker(MARKS_BY_FIXTURE[fixture])
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0] not in DAEMON_FILES)


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` with :data:`DAEMON_FILES` as one work unit (other modes: xdist's)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class DaemonFilesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return "daemon files" if path in DAEMON_FILES else path

    return DaemonFilesTogether(config, log)


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any connection failure means "missing"
        service_missing("PostgreSQL at 127.0.0.1:5432", exc)
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server_url) -> str:
    """A fresh PostgreSQL schema-isolated database for one test (dropped afterwards)."""
    name = f"bangfu_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_server_url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


# ---------------------------------------------------------------- generated data, shared
def built_once(tmp_path_factory, worker_id: str, name: str, build: Callable[[Path], object]):
    """``build(folder)`` once per test session, whatever the number of xdist workers.

    Alone (``worker_id == "master"``) it simply builds in a fresh temporary folder. Under xdist
    the workers share the session's base folder: the first to get the lock builds there and
    pickles the result; the others wait on the lock and unpickle it. A failed build leaves its
    folder and no pickle: the build's traceback is in the report of the worker that ran it, and
    the other worker's tests that need it fail saying so."""
    if worker_id == "master":
        return build(tmp_path_factory.mktemp(name))
    shared = tmp_path_factory.getbasetemp().parent / "built_once"
    shared.mkdir(exist_ok=True)
    result = shared / f"{name}.pickle"
    with FileLock(str(shared / f"{name}.lock")):
        if result.exists():
            return pickle.loads(result.read_bytes())
        folder = shared / name
        if folder.exists():
            raise RuntimeError(
                f"{name}: the other xdist worker's build of it failed (see its error)"
            )
        folder.mkdir()
        value = build(folder)
        result.write_bytes(pickle.dumps(value))
        return value


@pytest.fixture(scope="session")
def s_landing(tmp_path_factory, worker_id):
    """Scale S landing folder (seed 0, 2017–2019) with its truth in truth/. Read-only for tests."""
    from bangfu.generate.landing import generate

    def build(out: Path) -> Path:
        generate(out, scale="S", seed=0, years=(2017, 2018, 2019))
        return out

    return built_once(tmp_path_factory, worker_id, "landing_s", build)


@pytest.fixture(scope="session")
def s_run(s_landing, tmp_path_factory, worker_id):
    """The whole graph materialised over s_landing once (SQLite warehouse, local Dagster home
    inside the data folder). Read-only for tests: one that writes takes ``s_run_copy``."""
    from pipelines.runner import run_pipeline

    def build(data: Path) -> dict:
        home = data / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        old = os.environ.get("DAGSTER_HOME")
        os.environ["DAGSTER_HOME"] = str(home)
        os.environ.pop("BANGFU_WAREHOUSE_URL", None)
        lines: list[str] = []
        try:
            summary = run_pipeline(s_landing, data, echo=lines.append)
        finally:
            if old is None:
                os.environ.pop("DAGSTER_HOME", None)
            else:
                os.environ["DAGSTER_HOME"] = old
        return {"landing": s_landing, "data": data, "summary": summary, "log": lines, "home": home}

    return built_once(tmp_path_factory, worker_id, "data_s", build)


@pytest.fixture
def s_run_copy(s_run, tmp_path, monkeypatch):
    """A private copy of s_run's data folder (warehouse, lake, outputs, Dagster home) for a test
    that writes to it, over the same (read-only) landing folder; DAGSTER_HOME is the copy's."""
    from tests.support.runs import copy_data

    data = copy_data(s_run["data"], tmp_path / "data")
    monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
    monkeypatch.delenv("BANGFU_WAREHOUSE_URL", raising=False)
    return {**s_run, "data": data, "home": data / "dagster_home"}


# ---------------------------------------------------------------- changed ledgers
@pytest.fixture(scope="session")
def changed_scratch(s_landing, s_run, tmp_path_factory, worker_id) -> dict:
    """s_landing with three counties' archives of one year shortened, and a run from scratch
    over it (tests.support.incremental_kit.changed_ledgers). Read-only for tests."""
    from bangfu.lake import Lake
    from tests.support.incremental_kit import changed_ledgers

    units = Lake(s_run["data"] / "lake").read_single("ref_units")
    return built_once(
        tmp_path_factory,
        worker_id,
        "changed_scratch",
        lambda folder: changed_ledgers(s_landing, units, folder),
    )


@pytest.fixture
def changed(s_run_copy, changed_scratch, tmp_path) -> dict:
    """A private copy of the full S run (data and Dagster instance, as of the ledgers before
    the change) and of the changed landing folder; DAGSTER_HOME is the copy's."""
    from tests.support.runs import copy_folder

    landing = copy_folder(changed_scratch["landing"], tmp_path / "landing")
    return {
        **changed_scratch,
        "landing": landing,
        "data": s_run_copy["data"],
        "scratch": changed_scratch["data"],
    }


# ---------------------------------------------------------------- the fault tests' small run
@pytest.fixture(scope="session")
def small_landing(s_landing, tmp_path_factory, worker_id):
    """s_landing cut down to 2019 and four units (province, city, two counties)."""
    from tests.support.faultkit import subset_landing

    return built_once(
        tmp_path_factory,
        worker_id,
        "landing_small",
        lambda folder: subset_landing(s_landing, folder / "landing"),
    )


@pytest.fixture(scope="session")
def small_baseline(small_landing, tmp_path_factory, worker_id) -> dict:
    """One uninterrupted run over small_landing (SQLite warehouse): what every fault test
    compares to. Read-only: a test that runs again copies it (tests.support.runs)."""
    from tests.support.faultkit import run_in_process, snapshot

    def build(folder: Path) -> dict:
        data = folder / "data"
        summary, lines = run_in_process(small_landing, data)
        assert summary.ok, (summary.failures, summary.failed_stages, lines)
        return {"data": data, "snapshot": snapshot(data), "summary": summary}

    return built_once(tmp_path_factory, worker_id, "baseline_small", build)


# ---------------------------------------------------------------- the bad-file corpus
@pytest.fixture(scope="session")
def bad_corpus(tmp_path_factory, worker_id):
    """tests/support/badfiles.py's corpus (its own landing: scale S, 2018–2019, half the
    ledgers as CSV folders). Read-only for tests."""
    from tests.support import badfiles as B

    def build(root: Path):
        B.generate_base(root / "landing")
        return B.build_corpus(root / "landing", root / "outside")

    return built_once(tmp_path_factory, worker_id, "bad_corpus", build)


@pytest.fixture(scope="session")
def bad_run(bad_corpus, tmp_path_factory, worker_id) -> dict:
    """`bangfu run` over the corpus, once (Dagster home inside the data folder, as `make demo`
    has it): exit status, stdout, stderr, the files it opened of the symlink's target and the
    time it took. Read-only: a test that runs again copies the data folder."""
    from tests.support import badfiles as B

    def build(folder: Path) -> dict:
        data = folder / "data"
        link = bad_corpus.by_kind("symlink_outside")
        res = B.run_cli(
            ["run", "--landing", str(bad_corpus.landing), "--data", str(data)],
            data / "dagster_home",
            watch=[bad_corpus.outside, bad_corpus.landing / link.path],
        )
        return {**res, "data": data, "home": data / "dagster_home"}

    return built_once(tmp_path_factory, worker_id, "bad_run", build)


@pytest.fixture(autouse=True)
def _no_stale_defs_state_storage():
    """Dagster keeps a context variable pointing (weakly) at the last instance entered; a test
    whose instance is gone must not leave it dangling for the next test."""
    from dagster._core.storage.defs_state.base import _current_storage

    _current_storage.set(None)
    yield
