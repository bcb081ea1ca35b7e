"""bench.suite: the test names read from `pytest --collect-only -q`, and the plugin keeping only
the named tests (the like-for-like comparison of two trees' suites)."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.suite import ONLY_ENV, REPO, cpu_times, listed_test_names


def test_names_come_from_collect_only_lines():
    listed = (
        "tests/test_a.py::test_one\n"
        "tests/test_a.py::test_two[xlsx]\n"
        "tests/e2e/test_b.py::test_one\n"
        "\n"
        "3 tests collected in 0.10s\n"
    )
    assert listed_test_names(listed) == ["test_one", "test_two[xlsx]"]


def test_cpu_times_count_up():
    busy, idle = cpu_times()
    assert busy > 0 and idle > 0
    later = cpu_times()
    assert later[0] >= busy and later[1] >= idle


def test_only_the_named_tests_run(tmp_path):
    (tmp_path / "test_x.py").write_text(
        "def test_kept():\n    pass\n\ndef test_left_out():\n    raise AssertionError\n"
    )
    names = tmp_path / "names.txt"
    names.write_text("test_kept\n")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "bench.suite",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_x.py"),
        ],
        cwd=REPO,
        env={**os.environ, ONLY_ENV: str(names), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed, 1 deselected" in run.stdout
