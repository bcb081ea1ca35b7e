"""Ingest one (year, unit) ledger: read, validate, write the lake and the warehouse.

A plain function the Dagster asset calls once per partition; tests call it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from bangfu import readers
from bangfu.frames import INGEST_LOG_SCHEMA, QUARANTINE_SCHEMA
from bangfu.lake import Lake
from bangfu.parse import mask_ids_in_text
from bangfu.sheets import LEDGER_SHEETS
from warehouse import tables
from warehouse.store import Replacement, Warehouse, now


@dataclass
class IngestOutcome:
    year: int
    unit_code: str
    status: str  # ok | missing | rejected
    source_file: str | None = None
    message: str | None = None
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # sheet title -> counts
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return sum(r["rows_read"] for r in self.rows.values())

    @property
    def rows_kept(self) -> int:
        return sum(r["rows_kept"] for r in self.rows.values())

    @property
    def rows_quarantined(self) -> int:
        return sum(r["rows_quarantined"] for r in self.rows.values())


@dataclass
class LandingScan:
    """What the landing folder holds, found once per run and indexed by partition."""

    files: dict[tuple[int, str], readers.LedgerFile]
    rejections: dict[tuple[int, str], list[readers.Rejection]]
    orphans: list[readers.Rejection]  # rejections that name no known (year, unit)

    @classmethod
    def scan(cls, landing: Path, unit_codes: set[str]) -> LandingScan:
        found, rejected = readers.discover_ledgers(landing, unit_codes)
        files = {(f.year, f.unit_code): f for f in found}
        by_partition: dict[tuple[int, str], list[readers.Rejection]] = {}
        orphans = []
        for r in rejected:
            if r.year is not None and r.unit_code is not None and r.unit_code in unit_codes:
                by_partition.setdefault((r.year, r.unit_code), []).append(r)
            else:
                orphans.append(r)
        return cls(files, by_partition, orphans)

    @property
    def years(self) -> list[int]:
        return sorted({y for y, _ in self.files} | {y for y, _ in self.rejections})


def ingest_unit_year(
    *,
    landing: Path,
    lake: Lake,
    warehouse: Warehouse,
    scan: LandingScan,
    year: int,
    unit_code: str,
    max_uncompressed_bytes: int = 200 * 1024**2,
) -> IngestOutcome:
    """Read the (year, unit) ledger and replace its lake partitions and warehouse rows.

    Never raises for bad input: a rejected file is recorded (rejected_files), its lake partitions
    removed, and the outcome says why. Other units are not touched.
    """
    key = (year, unit_code)
    outcome = IngestOutcome(year=year, unit_code=unit_code, status="missing")
    log = pl.DataFrame(schema=INGEST_LOG_SCHEMA)
    quarantine = pl.DataFrame(schema=QUARANTINE_SCHEMA)
    rejected_rows: list[dict] = []
    sheets: dict[str, pl.DataFrame] = {}

    if key in scan.rejections:
        outcome.status = "rejected"
        outcome.message = "；".join(r.message for r in scan.rejections[key])
        rejected_rows = [
            {"year": year, "unit_code": unit_code, "source_file": r.path, "reason": r.message}
            for r in scan.rejections[key]
        ]
    elif key in scan.files:
        lf = scan.files[key]
        outcome.source_file = _rel(lf.path, landing)
        try:
            result = readers.read_ledger(
                lf.path,
                landing=landing,
                year=year,
                unit_code=unit_code,
                max_uncompressed_bytes=max_uncompressed_bytes,
            )
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop the other units
            outcome.status = "rejected"
            outcome.message = (
                str(exc)
                if isinstance(exc, readers.LedgerRejected)
                else f"{outcome.source_file}: 读取时发生内部错误（{type(exc).__name__}），"
                "请将此文件与日志报告给维护者；其余单位不受影响。"
                f" Internal error while reading: {mask_ids_in_text(str(exc))[:300]}"
            )
            rejected_rows = [
                {
                    "year": year,
                    "unit_code": unit_code,
                    "source_file": outcome.source_file,
                    "reason": str(exc),
                }
            ]
        else:
            outcome.status = "ok"
            outcome.warnings = list(result.warnings)
            log = result.log
            qs = [s.quarantine for s in result.sheets.values() if s.quarantine.height]
            if qs:
                quarantine = pl.concat(qs, how="vertical_relaxed")
            for spec_key, sr in result.sheets.items():
                sheets[spec_key] = sr.frame
                outcome.warnings.extend(sr.warnings)
                outcome.rows[sr.spec.title] = {
                    "rows_read": sr.rows_read,
                    "rows_kept": sr.rows_kept,
                    "rows_quarantined": sr.rows_quarantined,
                    "rows_skipped": sr.rows_skipped,
                }

    # Lake: every ledger sheet of the partition is rewritten or removed, so a file that lost an
    # optional sheet (or was rejected) leaves no stale Parquet behind. An absent optional sheet
    # stays absent: the rules tell "no data" (no file) from "no rows" (an empty file).
    for spec in LEDGER_SHEETS:
        if spec.key in sheets:
            lake.write(spec.key, year, unit_code, sheets[spec.key])
        else:
            lake.remove(spec.key, year, unit_code)
    lake.write("ingest_status", year, unit_code, _status_frame(outcome))

    stamp_time = now()
    match = {"year": year, "unit_code": unit_code}
    warehouse.replace(
        [
            Replacement(tables.ingest_log, match, log, stamp={"ingested_at": stamp_time}),
            Replacement(tables.quarantine, match, quarantine),
            Replacement(
                tables.rejected_files,
                match,
                pl.DataFrame(rejected_rows) if rejected_rows else None,
                stamp={"rejected_at": stamp_time},
            ),
        ]
    )
    return outcome


def _status_frame(o: IngestOutcome) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "year": [o.year],
            "unit_code": [o.unit_code],
            "status": [o.status],
            "source_file": [o.source_file],
            "message": [o.message],
        },
        schema={
            "year": pl.Int64,
            "unit_code": pl.String,
            "status": pl.String,
            "source_file": pl.String,
            "message": pl.String,
        },
    )


def _rel(path: Path, landing: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(landing).resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()
