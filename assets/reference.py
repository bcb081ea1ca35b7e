"""Reference data: 机构名录, 民政标准, 民政比对名单 (unpartitioned; small)."""

import dagster as dg
import polars as pl

from assets.common import OWNER
from bangfu import readers
from checks.asset_checks import REFERENCE_CHECKS, result
from resources import DataResource, LandingResource, WarehouseResource
from warehouse import tables
from warehouse.store import Replacement


@dg.asset(
    group_name="ingest",
    owners=[OWNER],
    kinds={"polars", "parquet"},
    check_specs=REFERENCE_CHECKS,
    description="机构名录 units.csv：省、市、县工会及其上下级关系（成树校验）。"
    " The union units and their tree, validated before any ledger is read.",
)
def reference_units(
    context: dg.AssetExecutionContext, landing: LandingResource, data: DataResource
) -> dg.MaterializeResult:
    # A units.csv that is not a tree raises ReferenceDataError here: the run stops before
    # any ledger is read, with the message naming what is wrong.
    units = readers.read_units(landing.root / "reference" / "units.csv", landing=landing.root)
    data.lake.write_single("ref_units", units)
    counts = units.group_by("level").len().sort("level")
    return dg.MaterializeResult(
        metadata={
            "units": units.height,
            **{f"level_{r['level']}": r["len"] for r in counts.iter_rows(named=True)},
        },
        check_results=[
            result(
                "units_form_tree",
                units["unit_code"].n_unique() == units.height,
                asset="reference_units",
                units=units.height,
            )
        ],
    )


@dg.asset(
    group_name="ingest",
    owners=[OWNER],
    kinds={"polars", "parquet"},
    deps=[reference_units],
    description="民政标准 standards.csv 与民政比对名单 civil_roster/<年度>.csv。"
    " Civil-affairs standards per region and year, and the yearly comparison rosters.",
)
def reference_standards(
    context: dg.AssetExecutionContext,
    landing: LandingResource,
    data: DataResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    ref = landing.root / "reference"
    standards, q_std = readers.read_standards(ref / "standards.csv", landing=landing.root)
    data.lake.write_single("ref_standards", standards)
    quarantined = [q_std]
    roster_rows = {}
    rosters = []
    for path in sorted((ref / "civil_roster").glob("*.csv")):
        if not path.stem.isdigit() or len(path.stem) != 4:
            context.log.warning(f"跳过名称不是年度的比对名单文件 {path.name}")
            continue
        frame, q = readers.read_civil_roster(path, int(path.stem), landing=landing.root)
        rosters.append(frame.with_columns(pl.lit(int(path.stem)).alias("year")))
        quarantined.append(q)
        roster_rows[path.stem] = frame.height
    if rosters:
        data.lake.write_single("ref_civil_roster", pl.concat(rosters, how="diagonal_relaxed"))
    elif data.lake.single_path("ref_civil_roster").exists():
        data.lake.single_path("ref_civil_roster").unlink()
    quarantine = (
        pl.concat([q for q in quarantined if q.height], how="vertical_relaxed")
        if any(q.height for q in quarantined)
        else None
    )
    # Reference quarantine rows carry no unit: replaced as one block.
    warehouse.get().replace([Replacement(tables.quarantine, {"unit_code": None}, quarantine)])
    return dg.MaterializeResult(
        metadata={
            "standards_rows": standards.height,
            "roster_years": ", ".join(sorted(roster_rows)) or "无",
            **{f"roster_rows_{y}": n for y, n in roster_rows.items()},
            "quarantined_rows": 0 if quarantine is None else quarantine.height,
        }
    )


@dg.asset(
    group_name="ingest",
    owners=[OWNER],
    kinds={"polars"},
    deps=[reference_units],
    description="落地目录清单：各年度台账文件及其形式；无法归属单位的文件（未知单位代码、非年度目录）"
    "在此拒收并说明原因。Inventory of the landing folder; files that name no known unit or"
    " year are rejected here with the reason.",
)
def landing_inventory(
    context: dg.AssetExecutionContext,
    landing: LandingResource,
    data: DataResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    from bangfu.ingest import LandingScan

    units = data.lake.read_single("ref_units")
    scan = LandingScan.scan(landing.root, set(units["unit_code"].to_list()))
    orphans = (
        pl.DataFrame(
            [
                {"year": r.year, "unit_code": None, "source_file": r.path, "reason": r.message}
                for r in scan.orphans
            ],
            schema={
                "year": pl.Int64,
                "unit_code": pl.String,
                "source_file": pl.String,
                "reason": pl.String,
            },
        )
        if scan.orphans
        else None
    )
    from warehouse.store import now

    warehouse.get().replace(
        [
            Replacement(
                tables.rejected_files, {"unit_code": None}, orphans, stamp={"rejected_at": now()}
            )
        ]
    )
    for r in scan.orphans:
        context.log.error(f"拒收 {r.path}：{r.message}")
    per_year = {}
    for (y, _u), f in scan.files.items():
        counts = per_year.setdefault(y, {"xlsx": 0, "csv": 0})
        counts[f.form] = counts.get(f.form, 0) + 1
    return dg.MaterializeResult(
        metadata={
            "years": ", ".join(str(y) for y in scan.years) or "无",
            "ledger_files": len(scan.files),
            "rejected_files": len(scan.orphans) + sum(len(v) for v in scan.rejections.values()),
            **{
                f"files_{y}": " / ".join(f"{form} {n}" for form, n in c.items())
                for y, c in per_year.items()
            },
        }
    )
