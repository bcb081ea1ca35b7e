"""Shared fixtures. Services: under CI=true a missing service FAILS the test, never skips it."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get(
    "BANGFU_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


# Tests that use these fixtures are marked so without saying it: `make check` leaves them out.
MARKS_BY_FIXTURE = {
    "s_landing": "slow",
    "s_run": "slow",
    "pg_server_url": "postgres",
    "pg_url": "postgres",
}


def pytest_collection_modifyitems(items):
    for item in items:
        for fixture in set(item.fixturenames) & MARKS_BY_FIXTURE.keys():
            item.add_marker(MARKS_BY_FIXTURE[fixture])


def missing(msg: str, remedy: str = "install or start it to run this test"):
    """What a test needs is not here: under CI=true the test FAILS, elsewhere it is skipped."""
    if IN_CI:
        pytest.fail(
            f"{msg}; CI=true requires it (scripts/system-deps.sh installs the tools, "
            ".ci/run starts the services)"
        )
    pytest.skip(f"{msg}; {remedy}")


def _service_missing(what: str, exc: Exception):
    missing(f"{what} is not reachable ({type(exc).__name__}: {exc})", "start it to run this test")


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any connection failure means "missing"
        _service_missing("PostgreSQL at 127.0.0.1:5432", exc)
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
    """The whole graph materialised over s_landing once (SQLite warehouse, local Dagster home)."""
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


@pytest.fixture(autouse=True)
def _no_stale_defs_state_storage():
    """Dagster keeps a context variable pointing (weakly) at the last instance entered; a test
    whose instance is gone must not leave it dangling for the next test."""
    from dagster._core.storage.defs_state.base import _current_storage

    _current_storage.set(None)
    yield
