"""What fills each 审计认定事实 cell: the fact functions named by the layouts, the context they
read (one unit-year: metrics, findings, canonical ledger frames), the choice of households for the
per-household forms, and the drafted 审计结论.

A fact returns a number (written as a number) or a sentence. Where the data cannot answer an item
the sentence says so (``PENDING``) and the cell is left for the auditor to complete.

One module per job: ``context`` (the unit-year a fact reads), ``subjects`` (the households of a
per-household form and their seeded sample), ``registry`` (fact names → functions, ``compute``),
``common`` (amounts, rates and dates as the forms write them), and the facts by subject, as the
layouts group the forms: ``programme`` (五 … 十), ``records`` (十一 十二 十四 … 十七), ``funds``
(十三 十八 … 二十一) and ``conclusions`` (every form's 审计结论).
"""

# Importing the fact modules registers their facts.
from bangfu.forms.facts import conclusions as _conclusions  # noqa: F401
from bangfu.forms.facts import funds as _funds  # noqa: F401
from bangfu.forms.facts import programme as _programme  # noqa: F401
from bangfu.forms.facts import records as _records  # noqa: F401
