"""Worker processes for the stages that are CPU-bound in Python (ingest, workbooks).

One mechanism: :func:`run_pool` sends picklable tasks to a pool of spawned processes, at most
``2 × workers`` in flight so memory stays bounded, and hands every result (or exception) back to
the calling process in completion order. Processes are spawned, not forked, because the caller may
have threads (polars', Dagster's, the lake writers).

Each worker's polars thread pool gets its share of the CPUs (``POLARS_MAX_THREADS``, unless the
user set it): two workers with a full-size pool each on 2 cores spent 10–20 % more CPU on the
ingest at scale M (73.5–78.9 s against 86.1–99.6 s, alternating runs).
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, TypeVar

from bangfu.envvars import temporary_env

Task = TypeVar("Task")


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def workers_default() -> int:
    """``BANGFU_WORKERS`` when set, else :func:`cpus`."""
    env = os.environ.get("BANGFU_WORKERS")
    return max(1, int(env)) if env else cpus()


def run_pool(
    fn: Callable[[Task], Any],
    tasks: Iterable[Task],
    workers: int,
    finish: Callable[[Task, Any, BaseException | None], None],
) -> None:
    """``fn(task)`` for every task in ``workers`` spawned processes; ``finish(task, result,
    exception)`` here, in completion order. A worker that dies (killed, out of memory) fails its
    tasks with the pool's BrokenProcessPool error instead of hanging the caller."""
    pending: dict[Future, Task] = {}
    with _polars_threads_for_workers(workers), _take_or_start(workers) as pool:
        for task in tasks:
            try:
                pending[pool.submit(fn, task)] = task
            except RuntimeError as exc:  # BrokenProcessPool: a worker died
                finish(task, None, exc)
                continue
            if len(pending) >= 2 * workers:
                _drain(pending, finish)
        while pending:
            _drain(pending, finish)


# Pools started ahead of their first run_pool (prestart), by worker count; run_pool takes one.
_prestarted: dict[int, ProcessPoolExecutor] = {}


def prestart(workers: int, modules: Sequence[str]) -> None:
    """Start ``workers`` worker processes now and import ``modules`` in them, for the next
    :func:`run_pool` with as many workers. A spawned worker spends about a second importing;
    started early, that overlaps the caller's own set-up (``bangfu run``'s Dagster instance and
    reference run, single-threaded) instead of delaying the pool's first task. Pools nobody took
    are shut down by :func:`discard_prestarted`."""
    if workers <= 1 or workers in _prestarted:
        return
    with _polars_threads_for_workers(workers):  # the processes start in submit()
        pool = _new_pool(workers)
        for _ in range(workers):
            pool.submit(_import_modules, tuple(modules))
    _prestarted[workers] = pool


def discard_prestarted() -> None:
    """Shut down the prestarted pools that no run_pool took."""
    while _prestarted:
        _workers, pool = _prestarted.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


def _import_modules(modules: tuple[str, ...]) -> None:
    for name in modules:
        importlib.import_module(name)


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _take_or_start(workers: int) -> ProcessPoolExecutor:
    """A prestarted pool of ``workers`` if there is one, else a new one (used as a context
    manager: shut down when the run_pool ends)."""
    return _prestarted.pop(workers, None) or _new_pool(workers)


@contextmanager
def _polars_threads_for_workers(workers: int) -> Iterator[None]:
    """Spawned workers inherit the environment as it is when they start (polars sizes its
    thread pool on import): give them their share of the CPUs while the pool lives."""
    if "POLARS_MAX_THREADS" in os.environ:  # the user's choice stands
        yield
        return
    with temporary_env("POLARS_MAX_THREADS", str(max(1, cpus() // workers))):
        yield


def _drain(pending: dict[Future, Any], finish) -> None:
    done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
    for fut in done:
        task = pending.pop(fut)
        exc = fut.exception()
        finish(task, None if exc else fut.result(), exc)
