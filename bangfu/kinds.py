"""Column kinds: ONE table of what each kind of bangfu.sheets means to the pipeline.

A sheet spec's column names its kind (``Column.kind``); everything that depends on the kind is
here: the polars dtype of the canonical frame, the parser of written cells, the quicker parser
of the common forms (null where it is unsure, so the full parser finishes those cells), the
reason a cell that does not parse is quarantined, and, for ID numbers, the reasons a cell typed
as a number loses them (the reader then reads the cells' own types). Nothing here imports
Dagster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from bangfu import parse as P

Parser = Callable[[pl.Expr | str], pl.Expr]


@dataclass(frozen=True)
class Kind:
    name: str
    dtype: pl.DataType  # of the canonical frame's column
    parse: Parser  # written cell (String) → value; null when it does not parse
    parse_fast: Parser | None = None  # the common forms only; null wherever unsure
    unparsed: str | None = None  # reason when a non-blank cell parses to null
    # ID numbers: a cell typed as a number (or in scientific notation) has lost digits
    number_cell: str | None = None
    scientific: str | None = None

    @property
    def reads_cell_type(self) -> bool:
        """Whether the reader must tell a number cell from a text cell in this kind's columns."""
        return self.number_cell is not None


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("text", pl.String(), P.normalise_text),
        Kind("code", pl.String(), P.normalise_code),
        Kind("enum", pl.String(), P.normalise_enum),
        Kind(
            "id",
            pl.String(),
            P.normalise_id,
            P.normalise_id_fast,
            number_cell="身份证号以数字格式存储，位数已丢失，应以文本录入",
            scientific="身份证号为科学计数法，位数已丢失，应以文本录入",
        ),
        Kind("phone", pl.String(), P.normalise_phone, P.normalise_phone_fast),
        Kind("date", pl.Date(), P.parse_date, P.parse_date_fast, "不是有效日期"),
        # 元, rounded to the cent; the rules compare in integer cents
        Kind("amount", pl.Float64(), P.parse_amount, P.parse_amount_fast, "不是有效金额"),
        Kind("int", pl.Int64(), P.parse_int, P.parse_int_fast, "不是整数"),
    )
}
