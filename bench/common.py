"""Shared plumbing for the benchmarks: folders, landing/lake set-up, measured child processes.

Every measured step runs in a fresh child process (``python -m bench.<module> --child …``); the
parent waits for it with ``os.wait4`` so the peak RSS it reports is that child's own (and its
descendants'), never a peak inherited from an earlier step. The child prints one line
``BENCH_RESULT {json}`` with what it measured inside itself (excluding interpreter start-up and
imports unless it says otherwise); everything else it prints is passed through to stderr.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
RESULTS = BENCH / "results"
PY = sys.executable
MARK = "BENCH_RESULT "
SCALES = ("S", "M", "L")
# bangfu.generate.model.HOUSEHOLDS, repeated so the parent need not import polars/numpy.
HOUSEHOLDS = {"S": 3_000, "M": 60_000, "L": 1_000_000}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def landing_dir(scale: str) -> Path:
    return OUT / scale / "landing"


def data_dir(scale: str) -> Path:
    return OUT / scale / "data"


def lake_ready(scale: str) -> bool:
    """The pipeline has run to the end over this scale's landing folder (bench.pipeline marks it)."""
    return (data_dir(scale) / "bench_ok.json").exists()


def emit(result: dict) -> None:
    """Child side: hand the measurements to the parent."""
    print(MARK + json.dumps(result, default=str), flush=True)


@contextmanager
def timed(into: dict, key: str):
    t0 = time.perf_counter()
    try:
        yield
    finally:
        into[key] = into.get(key, 0.0) + time.perf_counter() - t0


def with_packages(*requirements: str) -> list[str]:
    """A command prefix running Python in the project's environment plus ``requirements``
    layered on for that one process (``uv run --with``): the peers' packages (pandas) stay out
    of .venv, where pandera would import pandas in every bangfu process."""
    uv = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    with_args = [a for r in requirements for a in ("--with", r)]
    return [uv, "run", "--quiet", "--frozen", "--all-extras", *with_args, "python"]


def run_child(
    module: str,
    args: Sequence[str],
    *,
    env: dict | None = None,
    check: bool = True,
    python: Sequence[str] | None = None,
) -> dict:
    """Run ``python -m module args`` in a fresh process; its own wall time, peak RSS and result.

    Returns {"rc", "wall_s", "peak_rss_mb", "peak_tree_rss_mb", "result"}; "result" is the
    child's BENCH_RESULT (None when it printed none). peak_rss_mb is the child's own peak
    (the kernel's, exact); peak_tree_rss_mb the largest sum of the child's and its worker
    processes' RSS, sampled every 0.2 s (what the machine must hold when a stage uses a pool)."""
    cmd = [*(python or [PY]), "-m", module, *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
    )
    result = None
    tree_peak = _TreeRss(proc.pid)
    tree_peak.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(MARK):
            result = json.loads(line[len(MARK) :])
        else:
            sys.stderr.write("    " + line)
    _, status, usage = os.wait4(proc.pid, 0)
    tree_peak.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = {
        "cmd": " ".join(["python", "-m", module, *args]),
        "rc": proc.returncode,
        "wall_s": round(time.perf_counter() - t0, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
        "peak_tree_rss_mb": round(max(tree_peak.peak, usage.ru_maxrss * 1024) / 1024**2, 1),
        "result": result,
    }
    if check and proc.returncode != 0:
        raise RuntimeError(f"{out['cmd']} exited with {proc.returncode}")
    return out


class _TreeRss(threading.Thread):
    """Samples the RSS of a process and all its descendants; keeps the largest sum."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak = pid, every, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            import psutil
        except ImportError:  # the dev group is not installed: the kernel's own peak only
            return
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop_event.is_set():
            total = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    with suppress(psutil.Error):
                        total += p.memory_info().rss
            except psutil.Error:
                return
            self.peak = max(self.peak, total)
            self._stop_event.wait(self.every)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=2)


def ensure_landing(scale: str) -> dict | None:
    """Generate the scale's landing folder once (bench/out/<scale>/landing); None when reused."""
    target = landing_dir(scale)
    if (target / "ledgers").is_dir() and (target / "reference" / "units.csv").exists():
        return None
    log(f"generating the {scale} landing folder into {target} (once; reused afterwards) …")
    return run_child("bench.common", ["--child-generate", scale])


def ensure_lake(scale: str) -> dict | None:
    """Run the full pipeline once (bench.pipeline's Dagster run); None when already done."""
    ensure_landing(scale)
    if lake_ready(scale):
        return None
    log(f"running the pipeline over {scale} once to fill {data_dir(scale)} …")
    return run_child("bench.pipeline", ["--child", "dagster", "--scale", scale])


def _child_generate(scale: str) -> None:
    from bangfu.generate.landing import generate

    target = landing_dir(scale)
    tmp = target.with_name("landing.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.perf_counter()
    summary = generate(tmp, scale=scale, seed=0)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    emit({"generate_s": round(time.perf_counter() - t0, 2), **summary})


def save(res: dict, scale: str, name: str) -> Path:
    """Keep a module's latest result in bench/out/<scale>/<name>.json (``python -m bench --reuse``)."""
    path = OUT / scale / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    stamped = {"measured_at": time.strftime("%Y-%m-%d %H:%M:%S"), **res}
    path.write_text(json.dumps(stamped, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def load_saved(scale: str, name: str) -> dict | None:
    path = OUT / scale / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def machine() -> dict:
    info: dict = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        import psutil

        info["mem_total_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
        info["mem_available_gb"] = round(psutil.virtual_memory().available / 2**30, 1)
    except ImportError:  # pragma: no cover
        pass
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
        info["git"] = rev + ("+dirty" if dirty else "")
    except OSError:  # pragma: no cover
        pass
    return info


def fmt_s(x: float | None) -> str:
    return "–" if x is None else f"{x:,.2f}"


def rate(n: float | None, s: float | None) -> float | None:
    return round(n / s, 1) if n and s else None


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child-generate":
        _child_generate(sys.argv[2])
    else:
        sys.exit("usage: python -m bench.common --child-generate S|M|L")
