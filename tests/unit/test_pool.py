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


def test_a_prestarted_pool_is_taken_by_the_next_run_pool(monkeypatch):
    from bangfu import pool

    monkeypatch.delenv("POLARS_MAX_THREADS", raising=False)
    pool.prestart(2, ["json"])
    started = {p.pid for p in pool._prestarted[2]._processes.values()}
    assert started and os.getpid() not in started
    # readlink("/proc/self") names the process that calls it: the worker's pid
    paths = ["/proc/self", "/proc//self", "/proc/./self", "//proc/self"]
    results, errors = _collect(os.readlink, paths, 2)
    assert not errors and not pool._prestarted  # taken
    assert {int(pid) for pid in results.values()} <= started  # by the prestarted processes
    assert "POLARS_MAX_THREADS" not in os.environ


def test_an_untaken_prestarted_pool_is_shut_down():
    from bangfu import pool

    pool.prestart(2, ["json"])
    started = pool._prestarted[2]
    procs = list(started._processes.values())
    assert procs
    pool.discard_prestarted()
    assert not pool._prestarted
    for p in procs:
        p.join(timeout=10)
        assert not p.is_alive()


def test_ingest_workers_prestart_only_for_enough_ledger_bytes(tmp_path, monkeypatch):
    from bangfu import ingest, pool

    monkeypatch.setenv("BANGFU_WORKERS", "2")
    (tmp_path / "ledgers" / "2019" / "330103").mkdir(parents=True)
    (tmp_path / "ledgers" / "2019" / "330102.xlsx").write_bytes(b"x" * 1000)
    (tmp_path / "ledgers" / "2019" / "330103" / "发放明细.csv").write_bytes(b"y" * 500)
    (tmp_path / "ledgers" / "2018").mkdir()
    (tmp_path / "ledgers" / "2018" / "330102.xlsx").write_bytes(b"z" * 4000)
    try:
        monkeypatch.setattr(ingest, "PROCESS_MIN_BYTES", 1501)
        assert not ingest.prestart_workers(tmp_path, [2019])  # 1,500 bytes in 2019
        assert not ingest.prestart_workers(tmp_path, None, ["330103"])  # 500 bytes
        assert not pool._prestarted
        assert ingest.prestart_workers(tmp_path)  # 5,500 bytes in all
        assert 2 in pool._prestarted
    finally:
        pool.discard_prestarted()
