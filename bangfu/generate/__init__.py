"""Synthetic landing folders for ``bangfu generate``: the model (clean canonical ledgers with
planted anomalies and their truth, :mod:`bangfu.generate.model`) and the render
(:mod:`bangfu.generate.render` with :mod:`~bangfu.generate.cells` and
:mod:`~bangfu.generate.junk`, :mod:`bangfu.generate.writer`)."""

from bangfu.generate.model import Scenario
from bangfu.generate.scenario import build_scenario

__all__ = ["Scenario", "build_scenario"]
