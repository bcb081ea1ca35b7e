"""Audit forms of the seed's 第六章: 审定表 / 调查表 workbooks, 底稿, 取证单 and the draft report.

Layouts are data (``layouts``); the facts fill their cells (``facts``); one writer renders them
(``writer``); ``rule_homes`` says how the forms name each rule and which form is its home;
``workbook`` and ``report`` are the entry points. Nothing here imports Dagster.
"""

from bangfu.forms.report import write_unit_report
from bangfu.forms.workbook import write_unit_workbook

__all__ = ["write_unit_report", "write_unit_workbook"]
