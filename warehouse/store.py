"""Warehouse writes: each partition replaced atomically (delete + insert in one transaction).

No Dagster here; resources.warehouse wraps this for the asset graph.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, Table, and_, create_engine, delete, event, select, text
from sqlalchemy.engine import make_url

from bangfu.faultpoints import pause_point  # tests only: a run paused mid-transaction
from warehouse import tables

WAREHOUSE_URL_ENV = "BANGFU_WAREHOUSE_URL"
_INSERT_BATCH = 5_000
# The order read() returns rows in. Neither SQLite nor PostgreSQL promises one without ORDER BY,
# and PostgreSQL's changes as rows are deleted and re-inserted, so a workbook listing findings
# in the order they were read differed between the backends (and could between two runs).
# Sorted in polars (byte order, not the database's collation): these columns first — for
# findings, the order each rule writes its own rows in — then every other column.
_READ_ORDER = {
    "findings": (
        "year",
        "unit_code",
        "rule_code",
        "source_sheet",
        "source_row",
        "payment_no",
        "archive_no",
        "voucher_no",
    ),
}


def sqlite_url(data_dir: Path) -> str:
    """The default warehouse: ``warehouse.db`` in the data folder."""
    return f"sqlite:///{Path(data_dir).resolve() / 'warehouse.db'}"


def default_url(data_dir: Path) -> str:
    """The warehouse outside a Dagster run (the CLI's reports, bench, tests):
    `BANGFU_WAREHOUSE_URL` when set (credentials come only from the environment), else
    :func:`sqlite_url`. Dagster runs get the same through ``EnvVar`` (pipelines.definitions)."""
    return os.environ.get(WAREHOUSE_URL_ENV) or sqlite_url(data_dir)


def safe_url(url: str) -> str:
    """The URL as it may be printed: password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def _normalise_url(url: str) -> str:
    # dagster-postgres and our tests use psycopg2; a bare postgresql:// URL would pick the
    # SQLAlchemy default driver, which may not be installed.
    u = make_url(url)
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg2")
    return u.render_as_string(hide_password=False)


def frame_of_rows(rows: Sequence[tuple], columns: list[str]) -> pl.DataFrame:
    """The frame of fetched rows, built column by column: each column's type inferred over all
    its values, as ``pl.DataFrame(rows, orient="row", infer_schema_length=None)`` infers it,
    several times faster than building it row by row."""
    values = map(list, zip(*rows, strict=True))  # every row has every column
    return pl.DataFrame(dict(zip(columns, values, strict=True)), strict=False)


@dataclass
class Warehouse:
    url: str
    _engine: Engine | None = field(default=None, init=False, repr=False)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            url = _normalise_url(self.url)
            # hide_parameters: a failed statement's error (which Dagster keeps in its event log
            # and `bangfu run` prints) must not carry the rows' values — ID numbers, phones.
            if url.startswith("sqlite"):
                engine = create_engine(url, connect_args={"timeout": 60}, hide_parameters=True)

                @event.listens_for(engine, "connect")
                def _sqlite_pragmas(dbapi_conn, _record):  # WAL: readers never block the writer
                    cur = dbapi_conn.cursor()
                    cur.execute("PRAGMA journal_mode=WAL")
                    cur.execute("PRAGMA synchronous=NORMAL")
                    cur.close()

            else:
                engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
            self._engine = engine
        return self._engine

    def __repr__(self) -> str:  # never show the password
        return f"Warehouse({safe_url(self.url)})"

    def create_all(self) -> None:
        if self.url.startswith("sqlite"):
            Path(make_url(self.url).database).parent.mkdir(parents=True, exist_ok=True)
        tables.metadata.create_all(self.engine)
        self._add_new_columns()

    def _add_new_columns(self) -> None:
        """A warehouse created by an earlier version lacks columns added since
        (:data:`tables.ADDED_COLUMNS`): add them, nullable, so its rows stay as they are."""
        from sqlalchemy import inspect

        insp = inspect(self.engine)
        for name, cols in tables.ADDED_COLUMNS.items():
            have = {c["name"] for c in insp.get_columns(name)}
            table = tables.metadata.tables[name]
            prep = self.engine.dialect.identifier_preparer
            for col in cols:
                if col in have:
                    continue
                ctype = table.c[col].type.compile(dialect=self.engine.dialect)
                with self.engine.begin() as conn:
                    conn.execute(
                        text(
                            f"ALTER TABLE {prep.format_table(table)} "
                            f"ADD COLUMN {prep.quote(col)} {ctype}"
                        )
                    )

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # ------------------------------------------------------------------ writes
    def replace(self, replacements: Sequence[Replacement]) -> None:
        """Apply every replacement in ONE transaction: a reader sees all old rows or all new.

        Concurrent writers are serialised per table. SQLite does it by itself (one writer per
        database; the transaction's first statement is a write). PostgreSQL does not: under READ
        COMMITTED two transactions replacing the same rows (two runs over one year's roll-ups,
        or the run_settings rows every findings write replaces) would each delete only the rows
        committed before they started and both insert — duplicate findings, or a unique
        violation that fails the second run. So each transaction first locks the tables it
        writes, in name order (no deadlock), in SHARE ROW EXCLUSIVE mode: other writers of
        those tables wait, readers never do."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                prep = conn.dialect.identifier_preparer
                for table in sorted({r.table for r in replacements}, key=lambda t: t.name):
                    conn.execute(
                        text(f"LOCK TABLE {prep.format_table(table)} IN SHARE ROW EXCLUSIVE MODE")
                    )
            for r in replacements:
                conn.execute(delete(r.table).where(r.where_clause()))
                rows = r.rows()
                for start in range(0, len(rows), _INSERT_BATCH):
                    conn.execute(r.table.insert(), rows[start : start + _INSERT_BATCH])
                pause_point(f"warehouse:{r.table.name}")

    # ------------------------------------------------------------------ reads
    def read(self, table: Table, **equals) -> pl.DataFrame:
        stmt = select(table)
        conds = []
        for k, v in equals.items():
            if v is None:
                continue
            col = table.c[k]
            conds.append(col.in_(v) if isinstance(v, list | tuple | set) else col == v)
        if conds:
            stmt = stmt.where(and_(*conds))
        with self.engine.connect() as conn:
            result = conn.execute(stmt)
            rows = result.fetchall()
            cols = list(result.keys())
        if not rows:
            return pl.DataFrame(schema={c: pl.String for c in cols}).clear()
        frame = frame_of_rows(rows, cols)
        lead = [c for c in _READ_ORDER.get(table.name, ()) if c in cols]
        return frame.sort([*lead, *(c for c in cols if c not in lead)], nulls_last=True)

    def count(self, table: Table, **equals) -> int:
        return self.read(table, **equals).height


@dataclass
class Replacement:
    """Delete the rows of `table` matching `match` (column → value or list of values), insert `frame`."""

    table: Table
    match: Mapping[str, object]
    frame: pl.DataFrame | None = None
    stamp: Mapping[str, object] = field(default_factory=dict)  # constant columns added to every row

    def __post_init__(self):
        if self.table.name in tables.APPEND_ONLY:
            raise ValueError(f"{self.table.name} is append-only: its rows are never replaced")

    def where_clause(self):
        conds = []
        for k, v in self.match.items():
            col = self.table.c[k]
            if isinstance(v, list | tuple | set | frozenset):
                conds.append(col.in_(list(v)))
            else:
                conds.append(col == v)
        return and_(*conds)

    def rows(self) -> list[dict]:
        if self.frame is None or self.frame.is_empty():
            return []
        names = [c.name for c in self.table.columns]
        frame = self.frame
        for k, v in self.stamp.items():
            frame = frame.with_columns(pl.lit(v).alias(k))
        frame = frame.select([c for c in names if c in frame.columns])
        return [_clean(r) for r in frame.iter_rows(named=True)]


def _clean(row: dict) -> dict:
    # NaN is not NULL in SQL; keep the warehouse free of it.
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def now() -> datetime:
    return datetime.now(UTC)
