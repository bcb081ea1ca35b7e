"""`bangfu review …` (review.md): list, set, opinion, import, history.

list and history read the warehouse only (no Dagster import: they answer fast); set, opinion and
import record, then re-materialise the affected units' outputs through Dagster
(pipelines.runner.rematerialise), so the UI shows the run. Exit 0 done, 1 refused (every reason
named, nothing recorded), 2 usage.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from bangfu.review import journal
from bangfu.review.returned import (
    affected,
    check,
    describe,
    file_away,
    import_file,
    mask_personal,
)
from bangfu.review.values import AUDIT, EVIDENCE, FORM_NUMBERS, VERDICT, accepted, parse
from warehouse import tables
from warehouse.store import Warehouse, default_url


class Usage(Exception):
    pass


def run_review(args) -> int:
    wh = Warehouse(default_url(args.data))
    try:
        return {
            "list": _list,
            "set": _set,
            "opinion": _opinion,
            "import": _import,
            "history": _history,
        }[args.review_command](args, wh)
    except Usage as exc:
        print(f"用法错误：{exc}", file=sys.stderr)
        return 2
    finally:
        wh.dispose()


def _err(lines) -> int:
    print("已拒绝，未记录任何内容：", file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)
    return 1


def _masked(frame: pl.DataFrame, cols) -> pl.DataFrame:
    return frame.with_columns(
        pl.col(c).map_elements(mask_personal, return_dtype=pl.String)
        for c in cols
        if c in frame.columns
    )


# ------------------------------------------------------------------ list, history
def _list(args, wh: Warehouse) -> int:
    status = None
    if args.status:
        status = parse(VERDICT, args.status)
        if status is None:
            return _err([f"--status {args.status!r} 不是复核结论，应为 {accepted(VERDICT)}"])
    found = wh.read(tables.findings, year=args.year, unit_code=args.unit, rule_code=args.rule)
    if found.is_empty():
        print("没有符合条件的审计发现。")
        return 0
    cur = journal.current(
        wh,
        years=found["year"].unique().to_list(),
        units=found["unit_code"].unique().to_list(),
        kinds=["finding"],
    ).select(
        pl.col("target_key").alias("finding_id"),
        pl.col("value").alias("verdict"),
        "note",
        "decided_by",
    )
    frame = (
        found.with_columns(pl.col("year").cast(pl.Int64))
        .join(cur, on="finding_id", how="left")
        .with_columns(pl.col("verdict").fill_null(VERDICT.default))
    )
    if status is not None:
        frame = frame.filter(pl.col("verdict") == status)
    if args.summary:
        counts = (
            frame.group_by("year", "unit_code", "verdict")
            .len()
            .pivot(on="verdict", index=["year", "unit_code"], values="len")
        )
        for v in VERDICT.values:
            if v not in counts.columns:
                counts = counts.with_columns(pl.lit(0).alias(v))
        counts = counts.select(
            "year", "unit_code", *[pl.col(v).fill_null(0) for v in VERDICT.values]
        ).sort("year", "unit_code")
        with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200):
            print(counts)
        print(f"共 {counts.height} 个（年度，单位），{frame.height} 条审计发现")
        return 0
    frame = frame.sort(["year", "unit_code", "rule_code", "finding_id"]).select(
        "finding_id",
        "year",
        "unit_code",
        "rule_code",
        "verdict",
        "note",
        "decided_by",
        "id_number",
        "amount",
        "detail",
    )
    frame = _masked(frame, ["id_number", "detail", "note"])
    with pl.Config(tbl_rows=args.limit, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=220):
        print(frame.head(args.limit))
    print(f"共 {frame.height} 条")
    return 0


def _history(args, wh: Warehouse) -> int:
    rows = journal.history(wh, args.finding_id, kind="finding")
    found = wh.read(tables.findings, finding_id=args.finding_id)
    if rows.is_empty() and found.is_empty():
        return _err([f"未知的 finding_id：{args.finding_id}"])
    if not found.is_empty():
        f = found.row(0, named=True)
        print(f"{f['year']} {f['unit_code']} {f['rule_code']}：{mask_personal(f['detail'])}")
    else:
        print("（本次数据不再出现这条审计发现）")
    if rows.is_empty():
        print("尚无复核记录（待核实）。")
        return 0
    for r in rows.iter_rows(named=True):
        note = f"　说明：{mask_personal(r['note'])}" if r["note"] else ""
        print(
            f"#{r['review_id']} {r['decided_at']:%Y-%m-%d %H:%M:%S%z} {r['decided_by']}："
            f"{r['value']}{note}　（{r['source']}）"
        )
    return 0


# ------------------------------------------------------------------ set, opinion, import
def _set(args, wh: Warehouse) -> int:
    wh.create_all()
    value = parse(VERDICT, args.status)
    reasons: list[str] = []
    if value is None:
        reasons.append(f"--status {args.status!r} 不是复核结论，应为 {accepted(VERDICT)}")
    ids = list(dict.fromkeys(args.finding_ids))
    found = wh.read(tables.findings, finding_id=ids)
    by_id = {r["finding_id"]: r for r in found.iter_rows(named=True)} if found.height else {}
    judged = journal.current(wh, kinds=["finding"], keys=ids)
    last = {r["target_key"]: r for r in judged.iter_rows(named=True)}
    judgments = []
    for fid in ids:
        f = by_id.get(fid) or last.get(fid)
        if f is None:
            reasons.append(f"未知的 finding_id：{fid}")
            continue
        judgments.append(
            journal.Judgment(
                year=int(f["year"]),
                unit_code=f["unit_code"],
                target_kind="finding",
                target_key=fid,
                value=value or "",
                note=args.note or "",
                decided_by=(args.by or "").strip(),
                source="cli",
                rule_code=f.get("rule_code"),
                subject_id=f.get("subject_id"),
                where=("", None, ("--status", "--note", "--by")),
            )
        )
    stale: list[str] = []
    if value is not None:
        problems, stale = check(wh, judgments, produced=set(by_id))
        reasons += [f"{p.key}：{p.reason}" for p in problems if p.column != "--by"]
    if not (args.by or "").strip():
        reasons.append("缺少 --by（复核人姓名）")
    if reasons:
        return _err(reasons)
    return _record_and_render(args, wh, judgments, stale)


def _opinion(args, wh: Warehouse) -> int:
    wh.create_all()
    evidence = args.rule is not None or args.evidence is not None
    audit = args.form is not None or args.audit is not None
    if evidence == audit:
        raise Usage(
            "应给出 --rule 与 --evidence（证据提供单位意见），或 --form 与 --audit（审核意见），二者之一"
        )
    reasons = []
    if evidence:
        if args.rule is None or args.evidence is None:
            raise Usage("--rule 与 --evidence 须同时给出")
        kind, key, typed = EVIDENCE, args.rule.strip(), args.evidence
        rules_here = wh.read(tables.findings, year=args.year, unit_code=args.unit, rule_code=key)
        if rules_here.is_empty():
            reasons.append(f"{args.year} 年度 {args.unit} 没有规则 {key} 的审计取证单")
    else:
        if args.form is None or args.audit is None:
            raise Usage("--form 与 --audit 须同时给出")
        kind, typed = AUDIT, args.audit
        key = args.form.strip().removeprefix("DG-")
        by_num = {f"{i:02d}": no for i, no in enumerate(FORM_NUMBERS, start=5)}
        key = by_num.get(key.zfill(2), key) if key.isdigit() else key
        if key not in FORM_NUMBERS:
            reasons.append(f"--form {args.form!r} 不是审计工作底稿表号，应为 五 … 二十一")
    value = parse(kind, typed)
    if value is None:
        reasons.append(f"{typed!r} 不是{kind.label}，应为 {accepted(kind)}")
    j = journal.Judgment(
        year=args.year,
        unit_code=args.unit,
        target_kind=kind.name,
        target_key=key,
        value=value or "",
        note=args.note or "",
        decided_by=(args.by or "").strip(),
        source="cli",
        rule_code=key if kind is EVIDENCE else None,
        where=("", None, ("", "--note", "--by")),
    )
    if value is not None and not reasons:
        problems, _ = check(wh, [j])
        reasons += [p.reason for p in problems if p.column != "--by"]
    if not (args.by or "").strip():
        reasons.append("缺少 --by（姓名）")
    if reasons:
        return _err(reasons)
    return _record_and_render(args, wh, [j], [])


def _record_and_render(args, wh, judgments, stale) -> int:
    try:
        rec = journal.record(wh, judgments)
    except journal.ConflictError as exc:  # not raised without written_at; kept for safety
        return _err([str(exc)])
    print(f"已记录 {len(rec.rows)} 条，{len(rec.unchanged)} 条与当前意见相同未记录。")
    if stale:
        print(f"其中 {len(stale)} 条针对本次数据已不再出现的审计发现：{'、'.join(stale[:10])}")
    keys = rec.units
    return _render(args, keys)


def _import(args, wh: Warehouse) -> int:
    outcomes = []
    missing = [p for p in args.files if not p.is_file()]
    if missing:
        raise Usage("找不到文件：" + "、".join(str(p) for p in missing))
    for path in args.files:
        outcome = import_file(wh, path)
        where = file_away(outcome, args.data, move=False)
        print(describe(outcome, where))
        outcomes.append(outcome)
    code = _render(args, affected(outcomes))
    return 1 if any(not o.ok for o in outcomes) else code


def _render(args, keys) -> int:
    if not keys or args.no_render:
        if keys:
            print("未重新生成工作簿和报告（--no-render）：下次 bangfu run 时生成。")
        return 0
    from pipelines.errors import PipelineError
    from pipelines.runner import rematerialise

    try:
        ok = rematerialise(Path(args.data), keys, echo=print)
    except PipelineError as exc:
        print(f"复核意见已记录，但重新生成工作簿失败：{exc}", file=sys.stderr)
        return 1
    return 0 if ok else 1
