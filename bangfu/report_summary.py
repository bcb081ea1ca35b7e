"""The short summary `bangfu run` and `bangfu demo` print at the end. No Dagster here."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from warehouse import tables
from warehouse.store import Warehouse, default_url, safe_url


def summarise(data: Path, summary, seconds: float) -> str:
    data = Path(data).resolve()
    url = default_url(data)
    wh = Warehouse(url)
    lines = [
        f"完成：{len(summary.years)} 个年度 × {len(summary.units)} 个单位，"
        f"{len(summary.runs)} 次 Dagster 运行，用时 {seconds:.1f} 秒。"
    ]
    log = wh.read(tables.ingest_log, year=summary.years, unit_code=summary.units)
    if not log.is_empty():
        per_sheet = (
            log.group_by("sheet")
            .agg(
                pl.len().alias("文件"),
                pl.col("rows_read").sum().alias("读入行"),
                pl.col("rows_kept").sum().alias("保留行"),
                pl.col("rows_quarantined").sum().alias("隔离行"),
                pl.col("rows_skipped").sum().alias("跳过行(标题/表头/空行/合计)"),
            )
            .sort("sheet")
            .rename({"sheet": "表"})
        )
        lines.append("入湖（每表合计）：")
        with pl.Config(
            tbl_rows=50, tbl_cols=-1, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True
        ):
            lines.append(str(per_sheet))
    findings = wh.read(tables.findings, year=summary.years, unit_code=summary.units)
    if not findings.is_empty():
        per_rule = findings.group_by("rule_code").len().sort("rule_code")
        lines.append(f"审计发现 {findings.height} 条，按规则：")
        lines.append(
            "  " + "，".join(f"{r['rule_code']} {r['len']}" for r in per_rule.iter_rows(named=True))
        )
    workbooks = list((data / "workbooks").glob("*/*.xlsx"))
    reports = list((data / "reports").glob("*/*.docx"))
    lines.append(f"工作簿 {len(workbooks)} 个，审计报告草稿 {len(reports)} 份。")
    if summary.failures or summary.failed_stages:
        lines.append("以下未能完成（其余单位均已完成）：")
        lines.extend(f"  ✗ {f}" for f in summary.failures + summary.failed_stages)
    lines.append("输出位置：")
    lines.append(f"  数据湖      {data / 'lake'}")
    lines.append(f"  数据仓库    {safe_url(url)}")
    lines.append(f"  工作簿      {data / 'workbooks'}")
    lines.append(f"  审计报告    {data / 'reports'}")
    lines.append(f"  数据质量    {data / 'quality'}（每年度：读入、隔离、拒收明细）")
    lines.append(
        f"  审计总览    {data / 'overview'}（每年度：单位排名、目标、比率、同比、本福特检验）"
    )
    lines.append(f"  Dagster     DAGSTER_HOME={_home(data)}（make ui 打开界面）")
    wh.dispose()
    return "\n".join(lines)


def _home(data: Path) -> str:
    import os

    return os.environ.get("DAGSTER_HOME", str(data / "dagster_home"))
