"""What the asset catalogue shows about each asset's columns (Dagster side).

Column schemas come from the frame shapes of the pure layer (bangfu.frames, bangfu.sheets),
with Chinese descriptions for the auditor; they are attached in one place when the
definitions are built, so the asset modules stay thin.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import polars as pl

from bangfu import frames
from bangfu.quality import SUMMARY_COLUMNS
from bangfu.review import journal
from bangfu.sheets import LEDGER_SHEETS, SHEETS_BY_KEY

META_DESCRIPTIONS = {
    "year": "台账年度",
    "unit_code": "单位代码（GB/T 2260 行政区划代码）",
    "source_file": "来源文件（相对落地目录）",
    "source_sheet": "来源表名",
    "source_row": "来源行号（同 Excel 所见）",
}

FINDINGS_DESCRIPTIONS = {
    "year": "台账年度",
    "unit_code": "账上记载该对象的单位",
    "rule_code": "规则代码（docs/RULES.md）",
    "severity": "严重程度：高 / 中 / 低",
    "id_number": "当事人身份证号（仓库与工作簿中完整保存，界面与日志中脱敏）",
    "archive_no": "档案编号",
    "payment_no": "发放编号",
    "voucher_no": "凭证号",
    "category": "救助项目（按项目的规则）",
    "amount": "涉及金额（元；超标准发放为超出部分）",
    "detail": "审计发现（一句中文）",
    "basis": "依据（规定条款）",
    "finding_id": "发现编号：年度、单位、规则与对象键的散列，重跑不变",
    "source_file": "证据所在文件",
    "source_sheet": "证据所在表",
    "source_row": "证据所在行",
    "settings_hash": "产生该发现的审计参数散列（见 run_settings）",
    "subject_id": "对象编号：不含年度的同一散列，跨年度识别同一对象的同一问题（上年度问题整改情况）",
}

# the warehouse table `reviews` (review.md), append-only
REVIEWS_DESCRIPTIONS = {
    "review_id": "记录编号：唯一、递增；同一对象以编号最大的一条为当前意见",
    "year": "年度",
    "unit_code": "单位代码",
    "target_kind": "对象种类：finding（审计发现）、evidence（审计取证单）、workpaper（审计工作底稿）",
    "target_key": "对象：finding_id、取证单的规则代码或底稿表号（五 … 二十一）",
    "rule_code": "规则代码（审计发现、取证单）",
    "subject_id": "审计发现的对象编号（跨年度比对）",
    "value": "复核结论 / 证据提供单位意见 / 审核意见",
    "note": "说明（排除、已整改、有异议、审核意见 2、3 必填）",
    "decided_by": "复核人 / 录入人 / 审核人员",
    "decided_at": "记录时间（带时区）",
    "source": "来源：cli，或 workbook:<文件名>#<sha256>",
}

METRICS_DESCRIPTIONS = {
    "year": "年度",
    "unit_code": "单位代码",
    "level": "层级：省 / 市 / 县",
    "archived_at_start": "年初在档人数",
    "archived_at_end": "年末在档人数",
    "newly_archived": "本年新建档",
    "relieved": "解困人数",
    "exited_out_of_hardship": "脱困人数",
    "exited_by_path_employment": "“四个一批”：就业创业脱困",
    "exited_by_path_insurance": "“四个一批”：社会保险脱困",
    "exited_by_path_medical": "“四个一批”：医疗保障脱困",
    "exited_by_path_social_assistance": "“四个一批”：社会救助兜底脱困",
    "roster_missed": "数据比对估计的漏评人数",
    "roster_wrong_exit": "数据比对估计的错退人数",
    "target_relieved": "解困目标",
    "target_exited": "脱困目标",
    "missed_rate": "漏评率（无样本时为空）",
    "wrong_exit_rate": "错退率（无样本时为空）",
    "wrong_entry_rate": "错评率（无样本时为空）",
    "recognition_rate": "群众认可度（无样本时为空）",
    "paid_total": "救助发放合计（元）",
    "paid_living": "生活救助（元）",
    "paid_education": "助学救助（元）",
    "paid_medical": "医疗救助（元）",
    "paid_training": "职业培训与职业介绍（元）",
    "paid_legal": "法律援助（元）",
    "paid_warmth": "送温暖（元）",
    "findings_total": "本单位及下级单位的审计发现条数",
    "complete": "本单位及下级单位台账齐全（有缺失或拒收时为否）",
}


def _type(dtype: pl.DataType) -> str:
    return {
        pl.String: "string",
        pl.Int64: "int",
        pl.Float64: "float",
        pl.Date: "date",
        pl.Boolean: "bool",
    }.get(dtype.base_type(), str(dtype))


def table_schema(schema: dict[str, pl.DataType], descriptions: dict[str, str]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, _type(dtype), description=descriptions.get(name))
            for name, dtype in schema.items()
        ]
    )


def sheet_table_schema(key: str) -> dg.TableSchema:
    spec = SHEETS_BY_KEY[key]
    headers = {c.name: c.header for c in spec.columns}
    return table_schema(frames.sheet_schema(spec), {**headers, **META_DESCRIPTIONS})


def ledger_sheets_markdown() -> str:
    """The lake tables `ledgers` writes, one line per sheet (the asset holds all eleven)."""
    lines = ["| 表 | 湖中目录 | 列 |", "|---|---|---|"]
    for spec in LEDGER_SHEETS:
        cols = "、".join(f"{c.header}（{c.name}）" for c in spec.columns)
        lines.append(f"| {spec.title} | lake/{spec.key}/ | {cols} |")
    return "\n".join(lines)


def _column_metadata() -> dict[str, dict]:
    quality = {c: frames.INGEST_LOG_SCHEMA.get(c, pl.String()) for c in SUMMARY_COLUMNS}
    quality["unit_name"] = pl.String()
    quality["level"] = pl.String()
    return {
        "reference_units": {"dagster/column_schema": sheet_table_schema("units")},
        "reference_standards": {"dagster/column_schema": sheet_table_schema("standards")},
        "ledgers": {
            "dagster/column_schema": sheet_table_schema("payments"),
            "lake_tables": dg.MetadataValue.md(ledger_sheets_markdown()),
        },
        "data_quality": {"dagster/column_schema": table_schema(quality, SUMMARY_COLUMNS)},
        "unit_findings": {
            "dagster/column_schema": table_schema(frames.FINDINGS_SCHEMA, FINDINGS_DESCRIPTIONS)
        },
        "cross_unit_findings": {
            "dagster/column_schema": table_schema(frames.FINDINGS_SCHEMA, FINDINGS_DESCRIPTIONS)
        },
        "unit_year_metrics": {
            "dagster/column_schema": table_schema(frames.METRICS_SCHEMA, METRICS_DESCRIPTIONS)
        },
        "reviews": {"dagster/column_schema": table_schema(journal.SCHEMA, REVIEWS_DESCRIPTIONS)},
    }


def with_column_schemas(assets: Sequence) -> Sequence:
    """The assets with their column schemas (and, for `ledgers`, the sheet list) attached."""
    extra = _column_metadata()

    def attach(spec: dg.AssetSpec) -> dg.AssetSpec:
        more = extra.get(spec.key.to_user_string())
        return spec.merge_attributes(metadata=more) if more else spec

    return dg.map_asset_specs(attach, assets)
