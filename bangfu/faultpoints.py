"""Named pause points in the write paths, for the fault tests only.

tests/e2e/test_faults.py and tests/e2e/test_concurrency.py kill a run (kill -9) or drop its database
connection at an exact place, not after a timing guess. When the environment holds
``BANGFU_TEST_PAUSE_AT="<point>=<flag file>"``, the first time this process reaches <point> it
writes its pid to <flag file> and waits until the test deletes that file (or kills the process).

Points: ``lake:<dataset>`` (temporary Parquet written, not yet renamed into place) and
``warehouse:<table>`` (inside ``Warehouse.replace``'s transaction, that table's rows deleted and
inserted, not committed). Unset — always, outside those tests — a point costs one dict lookup.
The environment is read at each point (not at import), so a test may set it in-process; a
spawned worker inherits it. Production code imports this module for ``pause_point`` only.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_ENV = "BANGFU_TEST_PAUSE_AT"
_WAIT_SECONDS = 600
_paused: set[str] = set()


def pause_point(point: str) -> None:
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return
    want, _, flag = spec.partition("=")
    if want != point or spec in _paused or not flag:
        return
    _paused.add(spec)
    Path(flag).write_text(str(os.getpid()), encoding="utf-8")
    deadline = time.monotonic() + _WAIT_SECONDS
    while os.path.exists(flag) and time.monotonic() < deadline:
        time.sleep(0.02)
