"""Joining Chinese sentences: a finding's ``detail`` is a whole sentence (it ends in 。), and the
forms and the report build longer sentences from several of them. No Dagster here."""

from __future__ import annotations

FULL_STOP = "。"


def clause(sentence: str | None) -> str:
    """A sentence made a clause of a longer one: without its closing full stop, so that what the
    caller joins after it (；, 等, 。依据：…) does not follow a 。"""
    return (sentence or "").strip().rstrip(FULL_STOP).rstrip()
