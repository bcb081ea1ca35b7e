"""Worker processes for the stages that are CPU-bound in Python (ingest, workbooks).

One mechanism: :func:`run_pool` sends picklable tasks to a pool of spawned processes, at most
``2 × workers`` in flight so memory stays bounded, and hands every result (or exception) back to
the calling process in completion order. Processes are spawned, not forked, because the caller may
have threads (polars', Dagster's, the lake writers).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

Task = TypeVar("Task")


def workers_default() -> int:
    """``BANGFU_WORKERS`` when set, else the CPUs this process may run on."""
    env = os.environ.get("BANGFU_WORKERS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_pool(
    fn: Callable[[Task], Any],
    tasks: Iterable[Task],
    workers: int,
    finish: Callable[[Task, Any, BaseException | None], None],
) -> None:
    """``fn(task)`` for every task in ``workers`` spawned processes; ``finish(task, result,
    exception)`` here, in completion order. A worker that dies (killed, out of memory) fails its
    tasks with the pool's BrokenProcessPool error instead of hanging the caller."""
    ctx = multiprocessing.get_context("spawn")
    pending: dict[Future, Task] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
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


def _drain(pending: dict[Future, Any], finish) -> None:
    done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
    for fut in done:
        task = pending.pop(fut)
        exc = fut.exception()
        finish(task, None if exc else fut.result(), exc)
