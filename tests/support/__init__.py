"""What the tests share, imported as a package (``from tests.support import missing``;
``from tests.support.faultkit import snapshot``). pytest puts the repository on ``sys.path``
(pyproject.toml, ``pythonpath``); the fixtures themselves are in tests/conftest.py.

- this module: the repository's root, :func:`missing` (a missing tool or service skips the
  test, or FAILS it under CI=true), :func:`free_port`;
- :mod:`.runs`: a private copy of a finished run's data folder (its Dagster home re-pointed);
- :mod:`.badfiles`: the bad-input corpus made by code;
- :mod:`.faultkit`: the small landing folder, `bangfu run` as a killable child, snapshots;
- :mod:`.incremental_kit`: change a ledger, compare outputs with a run from scratch;
- :mod:`.reviewkit`: fill a workbook in as an auditor would, read the journal;
- :mod:`.rules_fixtures`: hand-built frames for the rules;
- :mod:`.ledgers`: the reader tests' hand-built workbook;
- :mod:`.sensors`: one landing-sensor tick as the daemon applies it;
- :mod:`.personal`: what a whole ID number or mobile number looks like.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(msg: str, remedy: str = "install or start it to run this test"):
    """What a test needs is not here: under CI=true the test FAILS, elsewhere it is skipped."""
    if IN_CI:
        pytest.fail(
            f"{msg}; CI=true requires it (scripts/system-deps.sh installs the tools, "
            ".ci/run starts the services)"
        )
    pytest.skip(f"{msg}; {remedy}")


def service_missing(what: str, exc: Exception):
    missing(f"{what} is not reachable ({type(exc).__name__}: {exc})", "start it to run this test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
