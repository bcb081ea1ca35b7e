"""Warehouse tables (SQLAlchemy 2 Core): SQLite by default, PostgreSQL in production.

Column names follow docs/OUTPUTS.md exactly; auditors' scripts query them. No Dagster here.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

metadata = MetaData()

ingest_log = Table(
    "ingest_log",
    metadata,
    Column("year", Integer, nullable=False),
    Column("unit_code", String(6), nullable=False),
    Column("sheet", String(32), nullable=False),
    Column("source_file", Text, nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("rows_kept", Integer, nullable=False),
    Column("rows_quarantined", Integer, nullable=False),
    Column("rows_skipped", Integer, nullable=False),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
    Index("ix_ingest_log_partition", "year", "unit_code"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("year", Integer, nullable=True),
    Column("unit_code", String(6), nullable=True),
    Column("source_file", Text, nullable=False),
    Column("sheet", String(32), nullable=True),
    Column("row_number", Integer, nullable=True),
    Column("column", Text, nullable=True),
    Column("value", Text, nullable=True),
    Column("reason", Text, nullable=False),
    Index("ix_quarantine_partition", "year", "unit_code"),
)

# Whole files that could not be read at all (corrupt, missing required sheet, unknown unit …).
rejected_files = Table(
    "rejected_files",
    metadata,
    Column("year", Integer, nullable=True),
    Column("unit_code", String(6), nullable=True),
    Column("source_file", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("rejected_at", DateTime(timezone=True), nullable=False),
    Index("ix_rejected_partition", "year", "unit_code"),
)

findings = Table(
    "findings",
    metadata,
    Column("year", Integer, nullable=False),
    Column("unit_code", String(6), nullable=False),
    Column("rule_code", String(40), nullable=False),
    Column("severity", String(4), nullable=False),
    Column("id_number", String(32), nullable=True),
    Column("archive_no", Text, nullable=True),
    Column("payment_no", Text, nullable=True),
    Column("voucher_no", Text, nullable=True),
    Column("category", String(16), nullable=True),
    Column("amount", Numeric(16, 2), nullable=True),
    Column("detail", Text, nullable=False),
    Column("basis", Text, nullable=False),
    Column("finding_id", String(40), nullable=False),
    Column("source_file", Text, nullable=True),
    Column("source_sheet", String(32), nullable=True),
    Column("source_row", Integer, nullable=True),
    Column("settings_hash", String(64), nullable=False),
    # finding_id's hash without the year: the same problem of the same subject across years
    Column("subject_id", String(40), nullable=True),
    # which asset wrote the row: per-unit rules, cross-unit rules, roll-up rules. Each is
    # replaced on its own, so re-running one county never touches another stage's rows.
    Column("stage", String(16), nullable=False),
    Index("ix_findings_partition", "year", "unit_code", "stage"),
    Index("ix_findings_rule", "rule_code"),
)

unit_year_metrics = Table(
    "unit_year_metrics",
    metadata,
    Column("year", Integer, nullable=False),
    Column("unit_code", String(6), nullable=False),
    Column("level", String(2), nullable=False),
    *[
        Column(name, Integer, nullable=True)
        for name in (
            "archived_at_start",
            "archived_at_end",
            "newly_archived",
            "relieved",
            "exited_out_of_hardship",
            "exited_by_path_employment",
            "exited_by_path_insurance",
            "exited_by_path_medical",
            "exited_by_path_social_assistance",
            "roster_missed",
            "roster_wrong_exit",
            "target_relieved",
            "target_exited",
        )
    ],
    *[
        Column(name, Float, nullable=True)
        for name in ("missed_rate", "wrong_exit_rate", "wrong_entry_rate", "recognition_rate")
    ],
    *[
        Column(name, Numeric(18, 2), nullable=True)
        for name in (
            "paid_total",
            "paid_living",
            "paid_education",
            "paid_medical",
            "paid_training",
            "paid_legal",
            "paid_warmth",
        )
    ],
    Column("findings_total", Integer, nullable=True),
    Column("complete", Boolean, nullable=False),
    Index("ix_metrics_partition", "year", "unit_code", unique=True),
)

run_settings = Table(
    "run_settings",
    metadata,
    Column("settings_hash", String(64), nullable=False),
    Column("key", Text, nullable=False),
    Column("value", Text, nullable=False),
    Index("ix_run_settings", "settings_hash", "key", unique=True),
)

# Bookkeeping, not an audit output: the digest of the inputs each (year, unit)'s workbook and
# report were last written from (bangfu.output_digests), so a partial run re-writes exactly the
# outputs whose inputs changed.
rendered_outputs = Table(
    "rendered_outputs",
    metadata,
    Column("year", Integer, nullable=False),
    Column("unit_code", String(6), nullable=False),
    Column("inputs_digest", String(64), nullable=False),
    Column("rendered_at", DateTime(timezone=True), nullable=False),
    Index("ix_rendered_outputs_partition", "year", "unit_code", unique=True),
)

# Auditors' judgments (review.md): append-only. No asset deletes or replaces a row of it (it is
# never the table of a store.Replacement); the current judgment on a target is its latest row.
reviews = Table(
    "reviews",
    metadata,
    Column("review_id", Integer, primary_key=True, autoincrement=True),
    Column("year", Integer, nullable=False),
    Column("unit_code", String(6), nullable=False),
    Column("target_kind", String(16), nullable=False),  # finding | evidence | workpaper
    Column("target_key", String(40), nullable=False),  # finding_id | rule_code | 五 … 二十一
    # what the target was when judged: a finding's rule and subject_id stay known after the
    # data stop producing it (已消除, 上年度问题整改情况)
    Column("rule_code", String(40), nullable=True),
    Column("subject_id", String(40), nullable=True),
    Column("value", String(32), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("decided_by", Text, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("source", Text, nullable=False),
    Index("ix_reviews_target", "target_kind", "target_key"),
    Index("ix_reviews_partition", "year", "unit_code"),
    sqlite_autoincrement=True,  # ids never reused: "latest" is the largest review_id
)

# Tables whose rows only ever grow: Replacement refuses them.
APPEND_ONLY = frozenset({"reviews"})

# Columns added after a table was first created: create_all adds them to an existing table.
ADDED_COLUMNS = {"findings": ("subject_id",)}
