"""scripts/system-deps.sh, the set-up `make test` and .ci/run share, run against a fake system:
PATH holds only stand-ins for id, dpkg-query and apt-get (which records what it was asked),
so the branches a fresh machine takes run here without touching the real packages."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support import REPO as ROOT

SCRIPT = ROOT / "scripts" / "system-deps.sh"
ALL = [
    "libreoffice-calc",
    "libreoffice-writer",
    "fonts-noto-cjk",
    "chromium",
    "nginx",
    "openssl",
    "poppler-utils",
]


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/bash\n" + body + "\n")
    path.chmod(0o755)


def fake_system(tmp_path: Path, *, uid: int, dpkg_installed=(), programs=(), apt=True) -> dict:
    """A PATH of stand-ins; returns the environment to run the script in."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    _stub(bin_, "id", f'[ "$1" = "-u" ] && echo {uid}')
    installed = " ".join(dpkg_installed)
    _stub(
        bin_,
        "dpkg-query",
        f'for p in {installed}; do [ "$p" = "${{@: -1}}" ] && '
        'printf "install ok installed" && exit 0; done; exit 1',
    )
    if apt:
        log = tmp_path / "apt.log"
        _stub(bin_, "apt-get", f'echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> {log}')
    for program in programs:
        _stub(bin_, program, "exit 0")
    return {"PATH": str(bin_), "HOME": str(tmp_path)}


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/bin/bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60
    )


def apt_calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "apt.log"
    return log.read_text().splitlines() if log.exists() else []


def test_root_installs_what_is_missing_with_one_update(tmp_path):
    env = fake_system(
        tmp_path, uid=0, dpkg_installed=["fonts-noto-cjk"], programs=["chromium", "openssl"]
    )
    result = run(env)
    assert result.returncode == 0, result.stderr
    missing = ["libreoffice-calc", "libreoffice-writer", "nginx", "poppler-utils"]
    assert apt_calls(tmp_path) == [
        "DEBIAN_FRONTEND=noninteractive update -qq",
        "DEBIAN_FRONTEND=noninteractive install -y -q --no-install-recommends " + " ".join(missing),
    ]


def test_nothing_missing_runs_no_apt(tmp_path):
    env = fake_system(tmp_path, uid=0, dpkg_installed=ALL)
    result = run(env)
    assert result.returncode == 0, result.stderr
    assert apt_calls(tmp_path) == []
    assert result.stdout == result.stderr == ""


def test_not_root_stops_with_the_line_to_run(tmp_path):
    env = fake_system(tmp_path, uid=1000, dpkg_installed=ALL[2:])
    result = run(env)
    assert result.returncode == 1
    assert apt_calls(tmp_path) == []
    assert (
        "  apt-get update && apt-get install -y --no-install-recommends "
        "libreoffice-calc libreoffice-writer\n"
    ) in result.stderr
    assert "make check" in result.stderr


def test_check_only_installs_nothing_even_as_root(tmp_path):
    env = fake_system(tmp_path, uid=0, dpkg_installed=ALL[:-1])
    result = run(env, "--check")
    assert result.returncode == 1
    assert "poppler-utils" in result.stderr
    assert apt_calls(tmp_path) == []


def test_without_apt_names_the_packages(tmp_path):
    env = fake_system(tmp_path, uid=0, apt=False, programs=["libreoffice", "chromium"])
    result = run(env)
    assert result.returncode == 1
    assert "no apt-get" in result.stderr
    assert "fonts-noto-cjk nginx openssl poppler-utils" in result.stderr


def test_script_is_executable_as_make_calls_it():
    assert os.access(SCRIPT, os.X_OK), f"chmod +x {SCRIPT.relative_to(ROOT)}"
    assert SCRIPT.read_text().startswith("#!/usr/bin/env bash\n")
