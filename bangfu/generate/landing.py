"""`bangfu generate`: build the scenario (model) and write it as a landing folder (render)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from bangfu.generate.model import build_scenario
from bangfu.generate.writer import write_landing

# Scale L writes most units in the CSV form: xlsx writing is per cell and ten times slower.
CSV_SHARE = {"S": 0.25, "M": 0.25, "L": 0.9}


def generate(
    out: Path,
    *,
    scale: str = "S",
    seed: int = 0,
    years: Sequence[int] = (2017, 2018, 2019),
    bad_files: bool = False,
    csv_share: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """Write a synthetic landing folder with its truth in ``out/truth``; return a short summary."""
    out = Path(out)
    scenario = build_scenario(scale, seed, tuple(years))
    paths = write_landing(
        scenario,
        out,
        seed,
        csv_share=CSV_SHARE[scale] if csv_share is None else csv_share,
        bad_files=bad_files,
        progress=progress,
    )
    return {
        "units": scenario.units.height,
        "ledgers": len(scenario.ledgers),
        "planted_findings": scenario.planted.height,
        "truth": str(paths["manifest"].parent),
    }
