"""bangfu.pool: spawned worker processes, results and errors back in the caller."""

from __future__ import annotations

import os

from bangfu.pool import run_pool


def _collect(fn, tasks, workers):
    results, errors = {}, {}

    def finish(task, result, exc):
        if exc is not None:
            errors[task] = exc
        else:
            results[task] = result

    run_pool(fn, tasks, workers, finish)
    return results, errors


def test_workers_get_their_share_of_polars_threads(monkeypatch):
    monkeypatch.delenv("POLARS_MAX_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    results, errors = _collect(os.getenv, ["POLARS_MAX_THREADS", "HOME"], 2)
    assert not errors
    assert results["POLARS_MAX_THREADS"] == "2"  # 4 CPUs, 2 workers
    assert results["HOME"] == os.environ.get("HOME")
    assert "POLARS_MAX_THREADS" not in os.environ  # the caller's environment is restored


def test_the_users_polars_threads_stand(monkeypatch):
    monkeypatch.setenv("POLARS_MAX_THREADS", "3")
    results, _ = _collect(os.getenv, ["POLARS_MAX_THREADS"], 2)
    assert results == {"POLARS_MAX_THREADS": "3"}


def test_a_failing_task_is_reported_and_the_others_finish():
    # os.stat of a missing path raises in the worker; the exception comes back for that task
    results, errors = _collect(os.path.exists, ["/", "/no/such/path"], 2)
    assert results == {"/": True, "/no/such/path": False}
    results, errors = _collect(os.stat, ["/", "/no/such/path"], 2)
    assert set(results) == {"/"} and isinstance(errors["/no/such/path"], FileNotFoundError)
