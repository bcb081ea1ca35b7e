"""What a layout is made of: the form (:class:`Layout`), its rows and cells.

Row cells, left to right: a ``str`` is a label, ``S(text, span)`` a label spanning columns, ``F`` a
fact; the last cell of a row stretches to the table's right edge. Equal labels in consecutive rows
of one column are merged vertically by the writer (the seed's grouped cells). ``Each`` repeats its
rows once per audited year ("year") or per audited year plus the next ("target_year"), with
``{year}`` in labels replaced and the year passed to the facts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class F:
    """A fact reference: the name of a fact function (``bangfu.forms.facts.registry.FACTS``) and
    its arguments."""

    key: str
    args: tuple = ()


def f(key: str, *args) -> F:
    return F(key, tuple(args))


@dataclass(frozen=True)
class S:
    """A label spanning ``span`` columns."""

    text: str
    span: int = 1


@dataclass(frozen=True)
class Row:
    cells: tuple


@dataclass(frozen=True)
class Each:
    over: str  # "year" | "target_year"
    rows: tuple[Row, ...]


def r(*cells) -> Row:
    return Row(tuple(cells))


CONCLUSION = f("conclusion")
FOOTER = ("主审", "审计人员", "编制日期")


@dataclass(frozen=True)
class Layout:
    no: str  # the seed's number: 五 … 二十一
    num: int  # 5 … 21 (索引号 DG-05 …)
    key: str
    title: str
    sheet: str  # xlsx sheet name (≤ 31 characters)
    header: tuple[tuple[str, int], ...]  # table header cells (text, span)
    widths: tuple[float, ...]  # column widths (Excel characters)
    rows: tuple
    subject: str = "unit"  # unit | archived | exited | exited_relief | survey | payer
    category: str | None = None  # payer forms: the 救助项目
    survey_mode: str | None = None  # 电话 / 入户 for the two 调查表
    extra_meta: tuple[str, ...] = ()  # e.g. 评估年度, 单位: 元
    footer: tuple[str, ...] = FOOTER
    rules: tuple[str, ...] = ()  # rule codes whose findings the 审计结论 states
    sheets: tuple[str, ...] = ()  # ledger sheets read (for the 底稿's 审计过程)
    pending: str = ""  # what the data cannot answer (named in the conclusion)

    @property
    def per_household(self) -> bool:
        return self.subject != "unit"

    @property
    def index(self) -> str:
        return f"DG-{self.num:02d}"
