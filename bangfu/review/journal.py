"""The journal of judgments: warehouse table ``reviews``, append-only.

A target is (target_kind, year, unit_code, target_key); its current judgment is its row with the
largest ``review_id``. :func:`record` appends a batch in ONE transaction that first takes the
table's write lock, so two recorders (two imports at once, a CLI ``set`` beside an import)
serialise: each sees the other's rows before deciding what is a change and what a conflict.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
from sqlalchemy import func, select, text

from bangfu.faultpoints import pause_point
from warehouse import tables
from warehouse.store import Warehouse

R = tables.reviews
COLUMNS = [c.name for c in R.columns]
SCHEMA = {
    "review_id": pl.Int64,
    "year": pl.Int64,
    "unit_code": pl.String,
    "target_kind": pl.String,
    "target_key": pl.String,
    "rule_code": pl.String,
    "subject_id": pl.String,
    "value": pl.String,
    "note": pl.String,
    "decided_by": pl.String,
    "decided_at": pl.Datetime("us", "UTC"),
    "source": pl.String,
}


@dataclass
class Judgment:
    """One judgment to record (``decided_at`` is set when it is recorded)."""

    year: int
    unit_code: str
    target_kind: str
    target_key: str
    value: str
    note: str
    decided_by: str
    source: str
    rule_code: str | None = None
    subject_id: str | None = None
    where: str = ""  # where it was typed (sheet, row) — for messages only, not stored

    @property
    def target(self) -> tuple[str, int, str, str]:
        return (self.target_kind, int(self.year), self.unit_code, self.target_key)


@dataclass
class Conflict:
    judgment: Judgment
    current: dict  # the journal's latest row of the target


@dataclass
class Recorded:
    rows: list[dict] = field(default_factory=list)  # what was appended
    unchanged: list[Judgment] = field(default_factory=list)  # equal to the current judgment
    conflicts: list[Conflict] = field(default_factory=list)  # nothing recorded when any

    @property
    def units(self) -> list[tuple[int, str]]:
        return sorted({(int(r["year"]), r["unit_code"]) for r in self.rows})


class ConflictError(Exception):
    def __init__(self, conflicts: list[Conflict]):
        self.conflicts = conflicts
        super().__init__(f"{len(conflicts)} conflicting judgments")


def _latest_ids(conds):
    return (
        select(func.max(R.c.review_id))
        .where(*conds)
        .group_by(R.c.target_kind, R.c.year, R.c.unit_code, R.c.target_key)
    )


def current(
    wh: Warehouse,
    *,
    years: Iterable[int] | None = None,
    units: Iterable[str] | None = None,
    kinds: Iterable[str] | None = None,
    keys: Iterable[str] | None = None,
    conn=None,
) -> pl.DataFrame:
    """The latest row of every target matching the filters (None: any), in :data:`SCHEMA`."""
    conds = []
    if years is not None:
        conds.append(R.c.year.in_(sorted({int(y) for y in years})))
    if units is not None:
        conds.append(R.c.unit_code.in_(sorted(set(units))))
    if kinds is not None:
        conds.append(R.c.target_kind.in_(sorted(set(kinds))))
    if keys is not None:
        conds.append(R.c.target_key.in_(sorted(set(keys))))
    stmt = select(R).where(R.c.review_id.in_(_latest_ids(conds)))
    return _frame(stmt, wh, conn)


def history(wh: Warehouse, target_key: str, kind: str | None = None) -> pl.DataFrame:
    """Every row of the targets with this key, oldest first."""
    conds = [R.c.target_key == target_key]
    if kind is not None:
        conds.append(R.c.target_kind == kind)
    return _frame(select(R).where(*conds).order_by(R.c.review_id), wh, None)


def all_rows(wh: Warehouse) -> pl.DataFrame:
    return _frame(select(R).order_by(R.c.review_id), wh, None)


def _frame(stmt, wh: Warehouse, conn) -> pl.DataFrame:
    if conn is None:
        with wh.engine.connect() as c:
            rows = c.execute(stmt).mappings().all()
    else:
        rows = conn.execute(stmt).mappings().all()
    data = [{k: r[k] for k in COLUMNS} for r in rows]
    for d in data:  # SQLite gives naive datetimes back: they were stored as UTC
        at = d["decided_at"]
        if at is not None and at.tzinfo is None:
            d["decided_at"] = at.replace(tzinfo=UTC)
    frame = pl.DataFrame(data, schema=SCHEMA, orient="row")
    return frame.sort("review_id")


def _lock(conn) -> None:
    """Take the journal's write lock before reading what is current (see the module doc)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE reviews IN SHARE ROW EXCLUSIVE MODE"))
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def record(
    wh: Warehouse,
    judgments: Sequence[Judgment],
    *,
    written_at: datetime | None = None,
    now: datetime | None = None,
) -> Recorded:
    """Append the judgments that change their target's current judgment (value or note), all in
    one transaction. ``written_at`` (a returned workbook's): a target whose current judgment
    was recorded after it, and that the row would change, is a conflict; then nothing is
    recorded and :class:`ConflictError` lists every conflict."""
    out = Recorded()
    if not judgments:
        return out
    wh.create_all()
    with wh.engine.connect() as conn:
        _lock(conn)
        try:
            targets = {j.target for j in judgments}
            cur = current(
                wh,
                years={t[1] for t in targets},
                units={t[2] for t in targets},
                kinds={t[0] for t in targets},
                keys={t[3] for t in targets},
                conn=conn,
            )
            latest = {
                (r["target_kind"], int(r["year"]), r["unit_code"], r["target_key"]): r
                for r in cur.iter_rows(named=True)
            }
            at = now or datetime.now(UTC)
            last_in_batch: dict[tuple, dict] = {}
            for j in judgments:
                prev = last_in_batch.get(j.target) or latest.get(j.target)
                if _equal(j, prev):
                    out.unchanged.append(j)
                    continue
                mine = latest.get(j.target)
                if (
                    written_at is not None
                    and mine is not None
                    and mine["decided_at"] > written_at
                    and j.target not in last_in_batch
                ):
                    out.conflicts.append(Conflict(j, mine))
                    continue
                row = {
                    "year": int(j.year),
                    "unit_code": j.unit_code,
                    "target_kind": j.target_kind,
                    "target_key": j.target_key,
                    "rule_code": j.rule_code,
                    "subject_id": j.subject_id,
                    "value": j.value,
                    "note": j.note or "",
                    "decided_by": j.decided_by,
                    "decided_at": at,
                    "source": j.source,
                }
                last_in_batch[j.target] = row
                out.rows.append(row)
            if out.conflicts:
                conn.rollback()
                raise ConflictError(out.conflicts)
            if out.rows:
                conn.execute(R.insert(), out.rows)
                pause_point("reviews:insert")  # tests only (bangfu.faultpoints)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return out


def _equal(j: Judgment, row: dict | None) -> bool:
    """Equal to the current judgment: same value and note. Nothing recorded on a target counts
    as its kind's default (待核实) without a note."""
    from bangfu.review.values import KINDS

    if row is None:
        return j.value == KINDS[j.target_kind].default and not (j.note or "").strip()
    return row["value"] == j.value and (row["note"] or "").strip() == (j.note or "").strip()


def progress(wh: Warehouse, findings: pl.DataFrame) -> pl.DataFrame:
    """Per (year, unit_code) of ``findings`` (year, unit_code, finding_id): how many findings
    are 待核实 / 确认 / 排除 / 已整改 now."""
    from bangfu.review.values import VERDICT

    if findings.is_empty():
        return pl.DataFrame(
            schema={
                "year": pl.Int64,
                "unit_code": pl.String,
                **{v: pl.Int64 for v in VERDICT.values},
            }
        )
    cur = current(
        wh,
        years=findings["year"].unique().to_list(),
        units=findings["unit_code"].unique().to_list(),
        kinds=["finding"],
    ).select("target_key", "value")
    joined = (
        findings.select("year", "unit_code", "finding_id")
        .join(cur, left_on="finding_id", right_on="target_key", how="left")
        .with_columns(pl.col("value").fill_null(VERDICT.default))
    )
    counts = joined.group_by("year", "unit_code", "value").len()
    wide = counts.pivot(on="value", index=["year", "unit_code"], values="len")
    for v in VERDICT.values:
        if v not in wide.columns:
            wide = wide.with_columns(pl.lit(0, pl.Int64).alias(v))
    return wide.select(
        pl.col("year").cast(pl.Int64),
        "unit_code",
        *[pl.col(v).fill_null(0).cast(pl.Int64) for v in VERDICT.values],
    ).sort("year", "unit_code")


def verdicts_of(wh: Warehouse, finding_ids: Iterable[str]) -> dict[str, dict]:
    """finding_id → its current journal row (only those with one)."""
    ids = list(finding_ids)
    if not ids:
        return {}
    cur = current(wh, kinds=["finding"], keys=ids)
    return {r["target_key"]: r for r in cur.iter_rows(named=True)}


__all__ = [
    "Conflict",
    "ConflictError",
    "Judgment",
    "Recorded",
    "all_rows",
    "current",
    "history",
    "progress",
    "record",
    "verdicts_of",
]
