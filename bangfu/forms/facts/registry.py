"""Fact names (the ``F`` cells of the layouts) → fact functions; :func:`compute` fills one cell.

A fact function takes ``(ctx, layout, subj, year, *args)``; the modules that define facts register
them with ``@fact(name)`` and are imported by the package.
"""

from __future__ import annotations

from typing import Any

from bangfu.forms.facts.common import PENDING
from bangfu.forms.facts.context import Context
from bangfu.forms.facts.subjects import Subject
from bangfu.forms.layouts.common import Layout

FACTS: dict[str, Any] = {}


def fact(name: str):
    def deco(fn):
        FACTS[name] = fn
        return fn

    return deco


def compute(ctx: Context, layout: Layout, subj: Subject | None, key: str, args, year):
    return FACTS[key](ctx, layout, subj, year, *args)


@fact("pending")
def _pending(ctx, layout, subj, year):
    return PENDING
