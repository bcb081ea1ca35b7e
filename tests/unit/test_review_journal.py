"""Auditors' judgments (review.md), the values and the journal alone: aliases, append-only
rows, the latest row current, two recorders at once (tests/e2e/test_review.py: the command
line, the workbooks and the outputs over the S run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bangfu.review import journal
from bangfu.review.values import AUDIT, EVIDENCE, VERDICT, parse
from tests.support.reviewkit import UNIT, YEAR, warehouse
from warehouse import tables
from warehouse.store import Replacement


def test_values_and_aliases():
    assert parse(VERDICT, "dismissed") == "排除" and parse(VERDICT, " Rectified ") == "已整改"
    assert parse(VERDICT, "确认") == "确认" and parse(VERDICT, "done") is None
    assert parse(EVIDENCE, "disagree") == "有异议" and parse(EVIDENCE, "无异议") == "无异议"
    assert parse(AUDIT, 2) == parse(AUDIT, "2") == parse(AUDIT, 2.0) == AUDIT.values[1]
    assert parse(AUDIT, "１.予以认可") == "1 予以认可" and parse(AUDIT, "4") is None


def _j(key, value, note="", by="张三", **kw):
    return journal.Judgment(YEAR, UNIT, "finding", key, value, note, by, "cli", **kw)


def test_journal_appends_only_and_the_latest_row_is_current(tmp_path):
    wh = warehouse(tmp_path)
    assert len(journal.record(wh, [_j("a", "确认"), _j("b", "待核实")]).rows) == 1  # b: default
    assert journal.record(wh, [_j("a", "确认", by="李四")]).rows == []  # equal: nothing added
    journal.record(wh, [_j("a", "排除", note="不是问题")])
    cur = journal.current(wh).to_dicts()
    assert [(r["target_key"], r["value"], r["note"]) for r in cur] == [("a", "排除", "不是问题")]
    assert [r["value"] for r in journal.history(wh, "a").to_dicts()] == ["确认", "排除"]
    ids = [r["review_id"] for r in journal.all_rows(wh).to_dicts()]
    assert ids == sorted(ids) and len(set(ids)) == 2
    assert cur[0]["decided_at"].tzinfo is not None
    # a workbook written before the last judgment would overwrite it: refused, nothing added
    with pytest.raises(journal.ConflictError):
        journal.record(wh, [_j("a", "确认")], written_at=datetime.now(UTC) - timedelta(minutes=5))
    assert journal.all_rows(wh).height == 2
    with pytest.raises(ValueError, match="append-only"):
        Replacement(tables.reviews, {"year": YEAR})


# ---------------------------------------------------------------- concurrency
def _two_recorders_at_once(url, tmp_path, monkeypatch):
    """A records and is held before its commit; B, deciding on the same target from a workbook
    written before A's judgment, must wait for A and then see the conflict (not overwrite)."""
    import threading
    import time

    from tests.support.faultkit import PAUSE_ENV
    from warehouse.store import Warehouse

    flag = tmp_path / "paused.flag"
    monkeypatch.setenv(PAUSE_ENV, f"reviews:insert={flag}")
    wh_a, wh_b = Warehouse(url), Warehouse(url)
    wh_a.create_all()
    written = datetime.now(UTC) - timedelta(minutes=1)
    got: dict = {}

    def a():
        got["a"] = journal.record(wh_a, [_j("x", "确认")], written_at=written)

    def b():
        try:
            got["b"] = journal.record(wh_b, [_j("x", "排除", note="重复")], written_at=written)
        except journal.ConflictError as exc:
            got["b"] = exc

    ta = threading.Thread(target=a)
    ta.start()
    deadline = time.monotonic() + 60
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert flag.exists()
    tb = threading.Thread(target=b)
    tb.start()
    time.sleep(1.0)
    assert tb.is_alive(), "the second recorder did not wait for the first"
    flag.unlink()
    ta.join(60)
    tb.join(60)
    assert len(got["a"].rows) == 1 and isinstance(got["b"], journal.ConflictError)
    assert journal.record(wh_b, [_j("y", "确认")], written_at=written).rows  # another target
    rows = journal.all_rows(wh_a).to_dicts()
    assert [(r["target_key"], r["value"]) for r in rows] == [("x", "确认"), ("y", "确认")]
    wh_a.dispose()
    wh_b.dispose()


def test_two_imports_at_once_sqlite(tmp_path, monkeypatch):
    _two_recorders_at_once(f"sqlite:///{tmp_path / 'wh.db'}", tmp_path, monkeypatch)


def test_two_imports_at_once_postgresql(pg_url, tmp_path, monkeypatch):
    _two_recorders_at_once(pg_url, tmp_path, monkeypatch)
