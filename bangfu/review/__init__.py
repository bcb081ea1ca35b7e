"""Auditors' judgments (review.md): verdicts on findings, 证据提供单位意见 on 取证单 and 审核意见 on
底稿, kept in the append-only warehouse table ``reviews``. No Dagster here.

- :mod:`bangfu.review.values`: the value lists with their aliases, and what needs a note;
- :mod:`bangfu.review.journal`: recording (all or nothing, conflicts) and reading the journal;
- :mod:`bangfu.review.state`: what a unit-year's workbook and report show of the judgments;
- :mod:`bangfu.review.returned`: reading a returned workbook and importing it (whole or refused).
"""
