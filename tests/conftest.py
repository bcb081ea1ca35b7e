"""Shared fixtures. Services: under CI=true a missing service FAILS the test, never skips it
(tests.support.missing).

The tests are in three folders: unit/ (plain functions over hand-built inputs: no Dagster
instance, no run), dagster/ (definitions, assets, sensors, schedules, storage, resources,
executors) and e2e/ (whole runs, the command line, the UI behind its proxy, faults, files as
LibreOffice saves them). What they share is the package tests/support/.

The generated data are made once per session and only read: ``s_landing`` (scale S) and
``s_run`` (the whole graph over it). A test that writes takes a private copy (``s_run_copy``)
instead of generating and running again; so do the small landing's baseline and the bad-file
corpus's run.
"""

from __future__ import annotations

import os
import uuid

import pytest
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


def pytest_collection_modifyitems(items):
    for item in items:
        for fixture in set(item.fixturenames) & MARKS_BY_FIXTURE.keys():
            item.add_marker(MARKS_BY_FIXTURE[fixture])


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
@pytest.fixture(scope="session")
def s_landing(tmp_path_factory):
    """Scale S landing folder (seed 0, 2017–2019) with its truth in truth/. Read-only for tests."""
    from bangfu.generate.landing import generate

    out = tmp_path_factory.mktemp("landing_s")
    generate(out, scale="S", seed=0, years=(2017, 2018, 2019))
    return out


@pytest.fixture(scope="session")
def s_run(s_landing, tmp_path_factory):
    """The whole graph materialised over s_landing once (SQLite warehouse, local Dagster home
    inside the data folder). Read-only for tests: one that writes takes ``s_run_copy``."""
    from pipelines.runner import run_pipeline

    data = tmp_path_factory.mktemp("data_s")
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


@pytest.fixture
def s_run_copy(s_run, tmp_path, monkeypatch):
    """A private copy of s_run's data folder (warehouse, lake, outputs, Dagster home) for a test
    that writes to it, over the same (read-only) landing folder; DAGSTER_HOME is the copy's."""
    from tests.support.runs import copy_data

    data = copy_data(s_run["data"], tmp_path / "data")
    monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
    monkeypatch.delenv("BANGFU_WAREHOUSE_URL", raising=False)
    return {**s_run, "data": data, "home": data / "dagster_home"}


# ---------------------------------------------------------------- the fault tests' small run
@pytest.fixture(scope="session")
def small_landing(s_landing, tmp_path_factory):
    """s_landing cut down to 2019 and four units (province, city, two counties)."""
    from tests.support.faultkit import subset_landing

    return subset_landing(s_landing, tmp_path_factory.mktemp("landing_small") / "landing")


@pytest.fixture(scope="session")
def small_baseline(small_landing, tmp_path_factory) -> dict:
    """One uninterrupted run over small_landing (SQLite warehouse): what every fault test
    compares to. Read-only: a test that runs again copies it (tests.support.runs)."""
    from tests.support.faultkit import run_in_process, snapshot

    data = tmp_path_factory.mktemp("baseline_small") / "data"
    summary, lines = run_in_process(small_landing, data)
    assert summary.ok, (summary.failures, summary.failed_stages, lines)
    return {"data": data, "snapshot": snapshot(data), "summary": summary}


# ---------------------------------------------------------------- the bad-file corpus
@pytest.fixture(scope="session")
def bad_corpus(tmp_path_factory):
    """tests/support/badfiles.py's corpus (its own landing: scale S, 2018–2019, half the
    ledgers as CSV folders). Read-only for tests."""
    from tests.support import badfiles as B

    root = tmp_path_factory.mktemp("bad_corpus")
    B.generate_base(root / "landing")
    return B.build_corpus(root / "landing", root / "outside")


@pytest.fixture(scope="session")
def bad_run(bad_corpus, tmp_path_factory) -> dict:
    """`bangfu run` over the corpus, once, in this process (Dagster home inside the data folder,
    as `make demo` has it): exit status, stdout, stderr, the files it opened of the symlink's
    target and the time it took. Read-only: a test that runs again copies the data folder."""
    from tests.support import badfiles as B

    data = tmp_path_factory.mktemp("bad_run") / "data"
    link = bad_corpus.by_kind("symlink_outside")
    res = B.run_cli(
        ["run", "--landing", str(bad_corpus.landing), "--data", str(data)],
        data / "dagster_home",
        watch=[bad_corpus.outside, bad_corpus.landing / link.path],
    )
    return {**res, "data": data, "home": data / "dagster_home"}


@pytest.fixture(autouse=True)
def _no_stale_defs_state_storage():
    """Dagster keeps a context variable pointing (weakly) at the last instance entered; a test
    whose instance is gone must not leave it dangling for the next test."""
    from dagster._core.storage.defs_state.base import _current_storage

    _current_storage.set(None)
    yield
