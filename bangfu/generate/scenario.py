"""The scenario builder: the clean world of :mod:`bangfu.generate.model` with every rule of
rules.md planted by :mod:`bangfu.generate.anomalies`. On its own so that the model does not
import the anomalies that build on it."""

from __future__ import annotations

from bangfu.generate.anomalies import plant_scenario
from bangfu.generate.model import Scenario
from bangfu.generate.world import build_world


def build_scenario(
    scale: str = "S", seed: int = 0, years: tuple[int, ...] = (2017, 2018, 2019)
) -> Scenario:
    """Clean ledgers for ``years`` at ``scale`` with every rule of rules.md planted; seeded."""
    return plant_scenario(build_world(scale, seed, tuple(years)))
