"""Issue #7 item 5: personal data never leaks where it should not.

One small run through `bangfu run` (scale S, one year) with its console, its Python logging and
its Dagster event log captured; then: no whole ID number and no whole mobile number anywhere
there; `bangfu findings` masked unless --show-ids; the warehouse password never printed; the
data folder private (dirs 0700, files 0600).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import stat
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._serdes import serialize_value

from bangfu.cli import main
from bangfu.lake import Lake
from bangfu.report_summary import summarise
from pipelines.summary import RunSummary
from tests.support.personal import HEX_RUN, MASKED_ID, MOBILE, WHOLE_ID
from warehouse.store import Warehouse, safe_url

pytestmark = pytest.mark.slow


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.levelname} {record.getMessage()}")


@contextlib.contextmanager
def captured_logging():
    """Every Python log record that reaches the root or the ``dagster`` logger."""
    handler = _Records()
    loggers = [logging.getLogger(), logging.getLogger("dagster")]
    old = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for lg, level in old:
            lg.removeHandler(handler)
            lg.setLevel(level)


@pytest.fixture(scope="module")
def pd(tmp_path_factory) -> dict:
    from bangfu.generate.landing import generate

    root = tmp_path_factory.mktemp("personal")
    landing, data, home = root / "landing", root / "data", root / "home"
    generate(landing, scale="S", seed=1, years=(2019,))
    out, err = io.StringIO(), io.StringIO()
    umask = os.umask(0o022)  # an ordinary, permissive umask: the run must not rely on it
    try:
        with (
            pytest.MonkeyPatch.context() as mp,
            captured_logging() as logs,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            mp.setenv("DAGSTER_HOME", str(home))
            mp.delenv("BANGFU_WAREHOUSE_URL", raising=False)
            code = main(["run", "--landing", str(landing), "--data", str(data)])
        umask_after = os.umask(umask)
    finally:
        os.umask(umask)
    # what SQLite keeps beside a database only while a connection has it open
    side_files = sorted(
        str(f.relative_to(home)) for f in home.rglob("*") if f.name.endswith(("-wal", "-shm"))
    )
    lake = Lake(data / "lake")
    ids: set[str] = set()
    phones: set[str] = set()
    for sheet in ("archive", "payments", "staff", "evaluation"):
        frame = lake.read(sheet)
        if "id_number" in frame.columns:
            ids |= set(frame["id_number"].drop_nulls())
        if "phone" in frame.columns:
            phones |= set(frame["phone"].drop_nulls())
    assert len(ids) > 500 and len(phones) > 100  # the check below has something to find
    return {
        "code": code,
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
        "logging": "\n".join(logs.lines),
        "landing": landing,
        "data": data,
        "home": home,
        "ids": ids,
        "phones": {p for p in phones if MOBILE.fullmatch(p)},
        "umask_after": umask_after,
        "home_side_files": side_files,
    }


def leaks(text: str, pd: dict) -> list[str]:
    """Whole ID numbers (the regex, or any ID of the data) and mobile numbers of the data."""
    text = HEX_RUN.sub("#", text)
    found = WHOLE_ID.findall(text)
    found += [m for m in MOBILE.findall(text) if m in pd["phones"]]
    found += [i for i in pd["ids"] if i in text] if len(text) < 5_000_000 else []
    return sorted(set(found))


def test_run_succeeds(pd):
    assert pd["code"] == 0, pd["stderr"][-2000:]
    # the detector detects: a whole ID, a known ID glued to text, a known mobile number
    some_id, some_phone = sorted(pd["ids"])[0], sorted(pd["phones"])[0]
    assert leaks(f"身份证{some_id}。", pd) == [some_id]
    assert leaks(f"a{some_id}b", pd) == [some_id]
    assert leaks(f"电话 {some_phone}", pd) == [some_phone]
    assert (
        leaks(f"{some_id[:6]}********{some_id[-4:]} {some_phone[:3]}****{some_phone[-4:]}", pd)
        == []
    )


def test_the_run_lets_go_of_its_dagster_files(pd):
    """`bangfu run` disposes of the Dagster instance it made: its event log held the SQLite
    files it wrote open during the run (pipelines.storage), and none is open once it returns
    (a -wal or -shm file is there only while a connection is)."""
    assert pd["code"] == 0
    assert (pd["home"] / "history" / "runs" / "index.db").exists()
    assert pd["home_side_files"] == []


def test_console_output_masked(pd):
    assert "审计发现" in pd["stdout"]  # the capture did capture the run
    assert "dagster" in pd["stderr"]
    assert leaks(pd["stdout"], pd) == []
    assert leaks(pd["stderr"], pd) == []
    # stricter on the console: no 11-digit mobile number at all, known or not
    assert MOBILE.findall(pd["stdout"] + pd["stderr"]) == []


def test_python_logging_masked(pd):
    # Dagster's run loggers write to stderr and the event log (both checked); this is every
    # other Python log record of the process (libraries, warehouse, alembic …)
    assert pd["logging"]
    assert leaks(pd["logging"], pd) == []


def _instance(pd, monkeypatch) -> dg.DagsterInstance:
    monkeypatch.setenv("DAGSTER_HOME", str(pd["home"]))
    return dg.DagsterInstance.get()


def test_dagster_event_log_masked(pd, monkeypatch):
    """Every event of every run (log messages, materialization and check metadata), and every
    run's tags and config, as Dagster stores them."""
    instance = _instance(pd, monkeypatch)
    runs = instance.get_runs()
    assert len(runs) >= 4
    n_meta = 0
    for run in runs:
        assert leaks(serialize_value(run), pd) == [], run.job_name
        for entry in instance.all_logs(run.run_id):
            text = serialize_value(entry)
            assert leaks(text, pd) == [], (run.job_name, entry.user_message[:300])
            if entry.dagster_event is not None and entry.dagster_event.is_step_materialization:
                n_meta += 1
    assert n_meta > 0


def test_materialization_metadata_masked(pd, monkeypatch):
    instance = _instance(pd, monkeypatch)
    keys = [k for k in instance.get_asset_keys()]
    assert dg.AssetKey("ledgers") in keys
    seen = 0
    for key in keys:
        for rec in instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key), limit=500
        ).records:
            meta = rec.asset_materialization.metadata
            seen += 1
            text = "\n".join(f"{k}={v.value}" for k, v in meta.items())
            assert leaks(text, pd) == [], (key, text[:500])
    assert seen > 10


def test_dagster_home_files_hold_no_whole_ids(pd):
    """The instance's own storage (SQLite event log, run storage, compute logs), byte by byte."""
    for path in sorted(p for p in pd["home"].rglob("*") if p.is_file()):
        text = path.read_bytes().decode("latin-1")
        assert leaks(text, pd) == [], path


def test_findings_masked_by_default_whole_with_show_ids(pd, capsys):
    data = str(pd["data"])
    assert main(["findings", "--data", data, "--limit", "1000"]) == 0
    masked = capsys.readouterr().out
    assert MASKED_ID.search(masked), masked[:2000]
    assert leaks(masked, pd) == []
    assert main(["findings", "--data", data, "--limit", "1000", "--show-ids"]) == 0
    whole = capsys.readouterr().out
    assert any(i in whole for i in pd["ids"])
    assert WHOLE_ID.search(whole)


# ====================================================================== warehouse password
PASSWORD = "Fake-Pw_93ab"
PG_URL = f"postgresql+psycopg2://auditor:{PASSWORD}@db.example.org:5432/bangfu"


@pytest.mark.parametrize(
    "url",
    [
        PG_URL,
        "postgresql+psycopg2://auditor:p%40ss%3Aw%2Frd@db.example.org/bangfu",
        "postgresql://auditor:simple@localhost/bangfu?sslmode=require",
    ],
)
def test_safe_url_hides_the_password(url):
    from sqlalchemy.engine import make_url

    shown = safe_url(url)
    password = make_url(url).password
    assert password not in shown and "p%40ss" not in shown
    assert "***" in shown and "auditor" in shown
    assert PASSWORD not in repr(Warehouse(url))


class _EmptyWarehouse:
    def __init__(self, url):
        self.url = url

    def read(self, table, **equals):
        return pl.DataFrame()

    def dispose(self):
        pass


def test_summary_never_prints_the_password(tmp_path, monkeypatch):
    import bangfu.report_summary as rs

    monkeypatch.setenv("BANGFU_WAREHOUSE_URL", PG_URL)
    monkeypatch.setattr(rs, "Warehouse", _EmptyWarehouse)
    summary = RunSummary(years=[2019], units=["330000"], failures=["2019 330000 x.xlsx: 损坏"])
    text = summarise(tmp_path, summary, 1.0)
    assert "db.example.org" in text and "***" in text
    assert PASSWORD not in text


@pytest.mark.postgres
def test_summary_against_postgres_never_prints_the_password(pg_url, tmp_path, monkeypatch):
    """A real PostgreSQL warehouse reached with a password in the URL (ignored by a trust
    server, which is what the test server is)."""
    from sqlalchemy.engine import make_url

    url = make_url(pg_url).set(password=PASSWORD).render_as_string(hide_password=False)
    monkeypatch.setenv("BANGFU_WAREHOUSE_URL", url)
    wh = Warehouse(url)
    wh.create_all()
    wh.dispose()
    text = summarise(tmp_path, RunSummary(years=[2019], units=["330000"]), 1.0)
    assert make_url(pg_url).database in text
    assert PASSWORD not in text


# ====================================================================== file permissions
def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_data_folder_is_private(pd):
    data = pd["data"]
    assert _mode(data) == 0o700
    bad = []
    for p in sorted(data.rglob("*")):
        try:
            if p.is_symlink():
                continue
            want, mode = (0o700 if p.is_dir() else 0o600), _mode(p)
        except FileNotFoundError:
            # SQLite's -shm / -wal files go when the last connection to the warehouse closes,
            # which may be between the listing and the look: a file that is gone holds nothing
            continue
        if mode != want:
            bad.append(f"{oct(mode)} {p.relative_to(data)}")
    assert bad == [], bad[:20]


def test_lake_and_outputs_exist_where_checked(pd):
    """The permission check above looked at real outputs, not an empty folder."""
    data = pd["data"]
    assert list((data / "lake").rglob("*.parquet"))
    assert list((data / "workbooks").glob("*/*.xlsx"))
    assert list((data / "reports").glob("*/*"))
    assert (data / "warehouse.db").exists()


def test_run_restores_the_callers_umask(pd):
    assert pd["umask_after"] == 0o022
