"""Warehouse writes replace a partition atomically, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import polars as pl
import pytest

from warehouse import tables
from warehouse.store import Replacement, Warehouse, safe_url


def _findings(unit: str, n: int, stage: str = "unit") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "year": [2019] * n,
            "unit_code": [unit] * n,
            "rule_code": ["PAY_CASH"] * n,
            "severity": ["低"] * n,
            "id_number": ["11010519491231002X"] * n,
            "payment_no": [f"P{i}" for i in range(n)],
            "amount": [100.5 + i for i in range(n)],
            "detail": ["现金发放"] * n,
            "basis": ["规则"] * n,
            "finding_id": [f"f{unit}{i}" for i in range(n)],
            "settings_hash": ["h"] * n,
            "stage": [stage] * n,
        }
    )


@pytest.fixture(params=["sqlite", "postgres"])
def wh(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    w = Warehouse(url)
    w.create_all()
    yield w
    w.dispose()


def test_replace_leaves_one_copy_per_partition(wh):
    for _ in range(2):
        wh.replace(
            [
                Replacement(
                    tables.findings, {"year": 2019, "unit_code": "330102"}, _findings("330102", 3)
                )
            ]
        )
        wh.replace(
            [
                Replacement(
                    tables.findings, {"year": 2019, "unit_code": "330103"}, _findings("330103", 2)
                )
            ]
        )
    got = wh.read(tables.findings, year=2019)
    assert got.height == 5
    assert sorted(got["finding_id"].to_list()) == sorted(
        [f"f330102{i}" for i in range(3)] + [f"f330103{i}" for i in range(2)]
    )
    assert sorted(float(a) for a in got.filter(pl.col("unit_code") == "330103")["amount"]) == [
        100.5,
        101.5,
    ]


def test_replace_other_stage_untouched(wh):
    wh.replace(
        [
            Replacement(
                tables.findings,
                {"year": 2019, "unit_code": "330102", "stage": "unit"},
                _findings("330102", 2),
            )
        ]
    )
    wh.replace(
        [
            Replacement(
                tables.findings,
                {"year": 2019, "unit_code": "330102", "stage": "cross"},
                _findings("330102", 1, "cross"),
            )
        ]
    )
    wh.replace(
        [
            Replacement(
                tables.findings,
                {"year": 2019, "unit_code": "330102", "stage": "unit"},
                _findings("330102", 1),
            )
        ]
    )
    got = wh.read(tables.findings, year=2019)
    assert sorted(got["stage"].to_list()) == ["cross", "unit"]


def test_failed_transaction_keeps_old_rows(wh):
    match = {"year": 2019, "unit_code": "330102"}
    wh.replace([Replacement(tables.findings, match, _findings("330102", 3))])
    bad = _findings("330102", 2).with_columns(
        pl.lit(None, dtype=pl.String).alias("detail")
    )  # NOT NULL
    with pytest.raises(Exception):  # noqa: B017 - the driver's IntegrityError differs per backend
        wh.replace([Replacement(tables.findings, match, bad)])
    assert wh.count(tables.findings, year=2019, unit_code="330102") == 3


def test_nan_written_as_null(wh):
    frame = _findings("330102", 1).with_columns(pl.lit(float("nan")).alias("amount"))
    wh.replace([Replacement(tables.findings, {"year": 2019, "unit_code": "330102"}, frame)])
    assert wh.read(tables.findings)["amount"].to_list() == [None]


def test_password_never_in_repr():
    w = Warehouse("postgresql+psycopg2://auditor:s3cret@db.example/bangfu")
    assert "s3cret" not in repr(w)
    assert "s3cret" not in safe_url(w.url)


def test_frame_of_rows_infers_each_column_as_the_row_wise_frame_does():
    """Warehouse.read builds its frame column by column; the types are those the row-wise
    construction over every row gives (a float after many ints, None first, decimals, time
    zones, all-null columns)."""
    import datetime as dt
    from decimal import Decimal

    from warehouse.store import frame_of_rows

    columns = {
        "ints": [None, 1, 2] + [3] * 200,
        "late_float": [1] * 200 + [None, 2.5, 3],
        "money": [Decimal("1.10"), None, Decimal("2.5")] + [Decimal("12345678901234.25")] * 200,
        "stamp": [dt.datetime(2020, 1, 1, tzinfo=dt.UTC), None] + [None] * 201,
        "flag": [True, None, False] + [True] * 200,
        "text": [None, "甲", "b"] + ["c"] * 200,
        "nothing": [None] * 203,
    }
    names = list(columns)
    rows = list(zip(*columns.values(), strict=True))
    built = frame_of_rows(rows, names)
    reference = pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)
    assert built.schema == reference.schema
    assert built.equals(reference)
    assert built.schema["late_float"] == pl.Float64 and built["late_float"][-1] == 3.0


def test_copy_folder_copies_a_database_with_what_its_log_holds(tmp_path):
    """The tests' copy of a run's data folder (tests.support.runs.copy_folder): a database whose
    last writes are still in its -wal (a connection is open) is copied whole, without the
    -wal and -shm files, which other connections create and delete as they come and go."""
    import sqlite3

    from tests.support.runs import copy_folder

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "note.txt").write_text("甲", encoding="utf-8")
    held = sqlite3.connect(src / "w.db")
    held.execute("PRAGMA journal_mode=WAL")
    held.execute("CREATE TABLE t (x)")
    held.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)])
    held.commit()
    assert (src / "w.db-wal").exists()  # the rows are in the log, not yet in the file
    copied = copy_folder(src, tmp_path / "dst")
    held.close()
    assert sorted(p.name for p in copied.rglob("*")) == ["note.txt", "sub", "w.db"]
    assert (copied / "sub" / "note.txt").read_text(encoding="utf-8") == "甲"
    with sqlite3.connect(copied / "w.db") as db:
        assert db.execute("SELECT count(*), sum(x) FROM t").fetchone() == (100, 4950)
