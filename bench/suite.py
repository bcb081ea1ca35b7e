"""The test suite measured: its wall time and how busy both cores were (``/proc/stat`` before and
after, so the CPU of every process counts, also of those whose parent died first: a daemon's run
workers, a webserver's code server). Optionally only the tests whose names another tree's suite
has, to compare the same tests before and after a change.

    python -m bench.suite --names-of /tmp/old > /tmp/old-names.txt   # the other tree's tests
    python -m bench.suite                       # the whole suite, as `make test` runs it
    python -m bench.suite --only /tmp/old-names.txt

Run it with nothing else on the machine; under ``CI=true`` as `.ci/run` does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ONLY_ENV = "BANGFU_BENCH_ONLY_TESTS"


def listed_test_names(collect_only_output: str) -> list[str]:
    """The tests' names (``test_x[param]``, pytest's ``item.name``) of `pytest --collect-only -q`."""
    out = []
    for line in collect_only_output.splitlines():
        if "::" in line and not line.startswith(" "):
            out.append(line.rsplit("::", 1)[1])
    return sorted(set(out))


def cpu_times() -> tuple[int, int]:
    """(busy, idle) jiffies of all cores since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle, idle


def pytest_configure(config):  # a pytest plugin too: `-p bench.suite` keeps the named tests
    config.pluginmanager.register(_KeepNamed(Path(os.environ[ONLY_ENV])), "bench-suite-only")


class _KeepNamed:
    def __init__(self, names_file: Path):
        self.names = set(names_file.read_text(encoding="utf-8").split())

    def pytest_collection_modifyitems(self, config, items):
        dropped = [item for item in items if item.name not in self.names]
        items[:] = [item for item in items if item.name in self.names]
        config.hook.pytest_deselected(items=dropped)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.suite", description=__doc__.split("\n")[0])
    ap.add_argument("--names-of", type=Path, help="print the test names of this tree's suite")
    ap.add_argument("--only", type=Path, help="run only the tests named in this file")
    ap.add_argument("--workers", default=os.environ.get("PYTEST_WORKERS", "2"))
    args = ap.parse_args(argv)

    if args.names_of:
        python = args.names_of / ".venv" / "bin" / "python"
        listed = subprocess.run(
            [str(python), "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
            cwd=args.names_of,
            capture_output=True,
            text=True,
            check=True,
        )
        print("\n".join(listed_test_names(listed.stdout)))
        return 0

    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    cmd += ["-n", args.workers, "--dist", "loadfile", "--no-loadscope-reorder"]
    env = dict(os.environ)
    if args.only:
        cmd += ["-p", "bench.suite"]
        env[ONLY_ENV] = str(args.only.resolve())
    busy0, idle0 = cpu_times()
    started = time.monotonic()
    rc = subprocess.run(cmd, cwd=REPO, env=env).returncode
    wall = time.monotonic() - started
    busy1, idle1 = cpu_times()
    busy, idle = (busy1 - busy0) / 100, (idle1 - idle0) / 100  # USER_HZ
    print(
        f"suite: exit {rc}, wall {wall:.1f} s; both cores {busy / (busy + idle):.0%} busy "
        f"({busy:.0f} s busy, {idle:.0f} s idle)"
    )
    return rc


if __name__ == "__main__":
    sys.exit(main())
