"""Words shared by the facts and the documents: ``PENDING``, amounts, rates and dates as the forms
write them.
"""

from __future__ import annotations

from datetime import date

PENDING = "数据无法判断，待审计人员核实填写"


def yuan(x: float | None) -> str:
    return "—" if x is None else f"{x:,.2f} 元"


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.2f}%"


def date_text(x) -> str:
    return x.isoformat() if isinstance(x, date) else ("" if x is None else str(x))


def in_year(d, year: int) -> bool:
    return isinstance(d, date) and d.year == year


def findings_amount(fs: list[dict]) -> float:
    return round(sum(f.get("amount") or 0 for f in fs), 2)
