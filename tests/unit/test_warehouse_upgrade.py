"""A warehouse created before `findings.subject_id` existed (issue #17) is upgraded when it is
opened: the column is added, the old rows stay as they were, and new findings are written and
read with it. On SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Column, Index, MetaData, Table, inspect
from sqlalchemy.engine import make_url

from bangfu.stages.common import findings_replacement
from resources import WarehouseResource
from warehouse import tables
from warehouse.store import Warehouse

UNIT = "330102"
OLD_ROWS = [
    {
        "year": 2018,
        "unit_code": UNIT,
        "rule_code": "PAY_CASH",
        "severity": "低",
        "id_number": "11010519491231002X",
        "payment_no": f"P{i}",
        "amount": 100.5 + i,
        "detail": "现金发放",
        "basis": "规则",
        "finding_id": f"old{i}",
        "source_row": 10 + i,
        "settings_hash": "h",
        "stage": "unit",
    }
    for i in range(3)
]


def old_findings_table(metadata: MetaData) -> Table:
    """`findings` as an earlier version created it: every column but the ones added since."""
    added = set(tables.ADDED_COLUMNS["findings"])
    assert "subject_id" in added, added  # the upgrade this test is about
    old = Table(
        "findings",
        metadata,
        *[
            Column(c.name, c.type, nullable=c.nullable)
            for c in tables.findings.columns
            if c.name not in added
        ],
    )
    for index in tables.findings.indexes:
        Index(index.name, *[old.c[c.name] for c in index.columns])
    return old


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'warehouse.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def old_warehouse(url) -> str:
    """A warehouse whose `findings` lacks `subject_id` and holds three rows."""
    metadata = MetaData()
    old = old_findings_table(metadata)
    if url.startswith("sqlite"):
        Path(make_url(url).database).parent.mkdir(parents=True)
    wh = Warehouse(url)
    try:
        metadata.create_all(wh.engine)
        with wh.engine.begin() as conn:
            conn.execute(old.insert(), OLD_ROWS)
        assert "subject_id" not in {c["name"] for c in inspect(wh.engine).get_columns("findings")}
    finally:
        wh.dispose()
    return url


def _columns(wh: Warehouse) -> dict[str, dict]:
    return {c["name"]: c for c in inspect(wh.engine).get_columns("findings")}


def test_opening_an_old_warehouse_adds_subject_id(old_warehouse, tmp_path):
    # the way every run opens it: the warehouse resource of the definitions
    resource = WarehouseResource(data_path=str(tmp_path / "data"), url=old_warehouse)
    wh = resource.get()
    try:
        cols = _columns(wh)
        assert set(tables.ADDED_COLUMNS["findings"]) <= set(cols), sorted(cols)
        assert cols["subject_id"]["nullable"], cols["subject_id"]

        # the old rows as they were, without a subject
        old = wh.read(tables.findings, year=2018)
        assert old["finding_id"].to_list() == ["old0", "old1", "old2"]
        assert old["subject_id"].null_count() == 3
        assert old["amount"].cast(pl.Float64).to_list() == [r["amount"] for r in OLD_ROWS]
        assert old["source_row"].to_list() == [10, 11, 12]
        assert old["id_number"].to_list() == [r["id_number"] for r in OLD_ROWS]

        # a new run's findings are written and read back with their subject
        new = pl.DataFrame(
            {
                "year": [2019, 2019],
                "unit_code": [UNIT, UNIT],
                "rule_code": ["PAY_CASH", "PAY_CASH"],
                "severity": ["低", "低"],
                "detail": ["现金发放", "现金发放"],
                "basis": ["规则", "规则"],
                "finding_id": ["new0", "new1"],
                "subject_id": ["s0", "s1"],
                "settings_hash": ["h", "h"],
            }
        )
        wh.replace([findings_replacement("unit", new, year=2019, unit_code=[UNIT])])
        got = wh.read(tables.findings, year=2019)
        assert got["subject_id"].to_list() == ["s0", "s1"]
        assert wh.count(tables.findings) == 5

        # opening it again changes nothing
        again = Warehouse(old_warehouse)
        try:
            again.create_all()
            assert list(_columns(again)) == list(cols)
            assert again.count(tables.findings) == 5
        finally:
            again.dispose()
    finally:
        wh.dispose()


def test_every_added_column_can_be_added_to_a_table_with_rows():
    """ALTER TABLE … ADD COLUMN on a table with rows needs a nullable column without a
    server default: the upgrade writes no values."""
    for name, cols in tables.ADDED_COLUMNS.items():
        table = tables.metadata.tables[name]
        for col in cols:
            assert table.c[col].nullable and table.c[col].server_default is None, (name, col)
