"""The seventeen forms of the seed's 第六章 (五 through 二十一) as layout descriptions.

A layout is data (:mod:`bangfu.forms.layouts.common`): title, the table header, the numbered 审计事项
rows in the seed's order and wording, and for each 审计认定事实 cell the fact that fills it.
:mod:`bangfu.forms.facts` computes the facts; :mod:`bangfu.forms.writer` renders any layout.
Punctuation (half- or full-width) is the seed's own, form by form, quirks included (开支范围 has no
三; 预算管理 numbers 审计结论 六 again; 入户调查表 numbers it 6).

The forms by subject, one module each: ``programme`` (五 … 十: targets, third-party evaluation,
“四个一批”, projects, coverage, budget), ``records`` (十一 十二 十四 … 十七: the households'
建档 and 退档 records, the exit surveys) and ``funds`` (十三 十八 … 二十一: spending scope and
the payments). How the forms name each rule, and which form is its home:
:mod:`bangfu.forms.rule_homes`.
"""

from __future__ import annotations

from bangfu.forms.layouts.common import Layout
from bangfu.forms.layouts.funds import EDUCATION, LIVING, MEDICAL, PRECISION, SCOPE
from bangfu.forms.layouts.programme import (
    BUDGET,
    COVERAGE,
    EVALUATION,
    FOUR_BATCHES,
    PROJECTS,
    TARGETS,
)
from bangfu.forms.layouts.records import ARCHIVING, ECONOMY, EXIT, PHONE, RELIEF, VISIT

FORMS: tuple[Layout, ...] = (
    TARGETS,
    EVALUATION,
    FOUR_BATCHES,
    PROJECTS,
    COVERAGE,
    BUDGET,
    ARCHIVING,
    ECONOMY,
    SCOPE,
    EXIT,
    RELIEF,
    PHONE,
    VISIT,
    PRECISION,
    LIVING,
    EDUCATION,
    MEDICAL,
)
