"""A returned workbook: read back the auditors' input cells, and import them whole or refuse
the file whole with every reason (sheet, row, column, value), in Chinese.

Also the inbox: ``<data>/reviews/inbox/*.xlsx`` imported in turn, each moved to ``done/`` or to
``refused/`` beside a ``.txt`` of its reasons.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bangfu.forms import review_sheets as rs
from bangfu.forms.layouts import FORMS
from bangfu.parse import mask_ids_in_text
from bangfu.review import journal
from bangfu.review.values import AUDIT, EVIDENCE, VERDICT, Kind, accepted, needs_note, parse
from warehouse import tables
from warehouse.store import Warehouse

INBOX, DONE, REFUSED = "inbox", "done", "refused"
_PHONE = re.compile(r"(?<![0-9])(1[0-9]{2})[0-9]{4}([0-9]{4})(?![0-9])")


def mask_personal(text: str) -> str:
    """ID numbers and mobile numbers inside free text (a note) masked, for logs and metadata."""
    return _PHONE.sub(r"\1****\2", mask_ids_in_text(text or ""))


def review_dirs(data: Path) -> dict[str, Path]:
    root = Path(data) / "reviews"
    return {name: root / name for name in (INBOX, DONE, REFUSED)}


@dataclass
class Problem:
    sheet: str
    row: int | None
    column: str
    value: object
    reason: str
    key: str = ""  # the target (finding_id, rule, form number) where known

    def text(self) -> str:
        where = f"工作表「{self.sheet}」" if self.sheet else "文件"
        if self.row is not None:
            where += f"第 {self.row} 行"
        if self.column:
            where += f"「{self.column}」列"
        value = "" if self.value in (None, "") else f"（值：{mask_personal(str(self.value))}）"
        return f"{where}{value}：{self.reason}"


@dataclass
class Outcome:
    path: Path
    year: int | None = None
    unit_code: str | None = None
    recorded: list[dict] = field(default_factory=list)
    unchanged: int = 0
    stale: list[str] = field(default_factory=list)  # finding_ids the data no longer produce
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def reasons(self) -> str:
        return "\n".join(p.text() for p in self.problems)


def _str(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


@dataclass
class _Parsed:
    year: int
    unit_code: str
    written_at: datetime
    findings: dict[str, tuple[str, str]]  # finding_id → (rule_code, subject_id) as written
    evidence: dict[str, str]  # 索引号 → rule_code
    prefilled: dict[tuple[str, str], tuple[str, str, str]]  # (kind, key) → value, note, by
    judgments: list[journal.Judgment]
    problems: list[Problem]


def _ident(wb) -> tuple[dict, list[list[str]]] | None:
    if rs.IDENT_SHEET not in wb.sheetnames:
        return None
    head, rows = {}, []
    for r in wb[rs.IDENT_SHEET].iter_rows(values_only=True):
        cells = [_str(c) for c in r]
        if not cells or not cells[0]:
            continue
        if cells[0] in ("kind", "year", "unit_code", "written_at"):
            head[cells[0]] = cells[1] if len(cells) > 1 else ""
        else:
            rows.append(cells)
    if head.get("kind") != rs.IDENT_KIND:
        return None
    return head, rows


def _header_at(rows: list[tuple], wanted: tuple[str, ...], start: int = 0):
    """(row index, column → index) of the first row from ``start`` holding every header."""
    for i in range(start, len(rows)):
        cells = [_str(c) for c in rows[i]]
        if all(w in cells for w in wanted):
            return i, {c: j for j, c in enumerate(cells) if c}
    return None, None


def _cell(row: tuple, j: int | None):
    return row[j] if j is not None and j < len(row) else None


def parse_returned(path: Path, source: str) -> _Parsed | list[Problem]:
    """The judgments typed into a returned workbook, with what is wrong with them."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is refused, named
        return [
            Problem("", None, "", path.name, f"无法作为 xlsx 工作簿打开（{type(exc).__name__}）")
        ]
    try:
        ident = _ident(wb)
        if ident is None:
            return [
                Problem(
                    "",
                    None,
                    "",
                    path.name,
                    "不是 bangfu 写出的审计工作簿（缺少隐藏的标识工作表），无法确定所属单位和年度",
                )
            ]
        head, rows = ident
        try:
            year, unit = int(head["year"]), head["unit_code"]
            written_at = datetime.fromisoformat(head["written_at"])
            if written_at.tzinfo is None:
                written_at = written_at.replace(tzinfo=UTC)
        except (KeyError, ValueError):
            return [
                Problem(rs.IDENT_SHEET, None, "", "", "标识工作表已损坏（年度、单位或写出时间）")
            ]
        rows = [r + [""] * (7 - len(r)) for r in rows]
        findings = {r[1]: (r[2], r[3]) for r in rows if r[0] == "finding"}
        evidence = {r[1]: r[2] for r in rows if r[0] == "evidence"}
        prefilled = {("finding", r[1]): (r[4], r[5], r[6]) for r in rows if r[0] == "finding"}
        prefilled.update(
            {(r[0], r[2]): (r[3], r[4], r[5]) for r in rows if r[0] in ("evidence", "workpaper")}
        )
        out = _Parsed(year, unit, written_at, findings, evidence, prefilled, [], [])
        _read_listing(wb, out, source)
        _read_opinions(wb, out, source)
        return out
    finally:
        wb.close()


def _judgment(
    out: _Parsed,
    kind: Kind,
    key: str,
    typed,
    note,
    by,
    *,
    sheet: str,
    row: int,
    columns: tuple[str, str, str],
    source: str,
    rule_code: str | None = None,
    subject_id: str | None = None,
) -> None:
    typed_s, note_s, by_s = _str(typed), _str(note), _str(by)
    if not typed_s:
        if note_s or by_s:
            out.problems.append(
                Problem(sheet, row, columns[0], "", f"填了说明或人员但未填{kind.label}")
            )
        return
    value = parse(kind, typed)
    before = out.prefilled.get((kind.name, key))
    if before is not None and value is not None:
        was = parse(kind, before[0]) if before[0] else None
        if (was, before[1], before[2]) == (value, note_s, by_s):
            return  # left as written: not a judgment
    if value is None:
        out.problems.append(
            Problem(
                sheet, row, columns[0], typed_s, f"不是可接受的{kind.label}，应为 {accepted(kind)}"
            )
        )
        return
    out.judgments.append(
        journal.Judgment(
            year=out.year,
            unit_code=out.unit_code,
            target_kind=kind.name,
            target_key=key,
            value=value,
            note=note_s,
            decided_by=by_s,
            source=source,
            rule_code=rule_code,
            subject_id=subject_id,
            where=(sheet, row, columns),
        )
    )


def _read_listing(wb, out: _Parsed, source: str) -> None:
    sheet = "审计发现明细"
    if sheet not in wb.sheetnames:
        out.problems.append(Problem(sheet, None, "", "", "缺少工作表"))
        return
    rows = list(wb[sheet].iter_rows(values_only=True))
    at, cols = _header_at(rows, ("finding_id", *rs.LISTING_INPUTS))
    if at is None:
        out.problems.append(
            Problem(sheet, None, "", "", "找不到表头（finding_id、复核结论、复核说明、复核人）")
        )
        return
    fid_j = cols["finding_id"]
    for i in range(at + 1, len(rows)):
        row = rows[i]
        fid = _str(_cell(row, fid_j))
        if not fid:
            continue
        rule, subject = out.findings.get(fid, (None, None))
        _judgment(
            out,
            VERDICT,
            fid,
            _cell(row, cols["复核结论"]),
            _cell(row, cols["复核说明"]),
            _cell(row, cols["复核人"]),
            sheet=sheet,
            row=i + 1,
            columns=rs.LISTING_INPUTS,
            source=source,
            rule_code=rule or None,
            subject_id=subject or None,
        )


def _read_opinions(wb, out: _Parsed, source: str) -> None:
    sheet = rs.OPINION_SHEET
    if sheet not in wb.sheetnames:
        out.problems.append(Problem(sheet, None, "", "", "缺少工作表"))
        return
    rows = list(wb[sheet].iter_rows(values_only=True))
    ev_at, ev_cols = _header_at(rows, rs.EVIDENCE_HEADERS)
    dg_at, dg_cols = _header_at(rows, rs.AUDIT_HEADERS, (ev_at or 0) + 1)
    if ev_at is None or dg_at is None:
        out.problems.append(Problem(sheet, None, "", "", "找不到两张表的表头"))
        return
    forms = {f"DG-{f.num:02d}": f.no for f in FORMS}
    forms.update({f.no: f.no for f in FORMS})
    for i in range(ev_at + 1, dg_at):
        row = rows[i]
        index = _str(_cell(row, ev_cols["索引号"]))
        if not index or not index.startswith("QZ-"):
            continue
        rule = out.evidence.get(index)
        if rule is None:
            out.problems.append(
                Problem(sheet, i + 1, "索引号", index, "本工作簿没有这份审计取证单")
            )
            continue
        _judgment(
            out,
            EVIDENCE,
            rule,
            _cell(row, ev_cols["证据提供单位意见"]),
            _cell(row, ev_cols["说明"]),
            _cell(row, ev_cols["录入人"]),
            sheet=sheet,
            row=i + 1,
            columns=("证据提供单位意见", "说明", "录入人"),
            source=source,
            rule_code=rule,
        )
    for i in range(dg_at + 1, len(rows)):
        row = rows[i]
        index = _str(_cell(row, dg_cols["索引号"]))
        if not index:
            continue
        no = forms.get(index) or forms.get(_str(_cell(row, dg_cols["审计事项"])).split(" ")[0])
        if no is None:
            if index.startswith("DG-"):
                out.problems.append(
                    Problem(sheet, i + 1, "索引号", index, "不是五至二十一号审计工作底稿")
                )
            continue
        _judgment(
            out,
            AUDIT,
            no,
            _cell(row, dg_cols["审核意见"]),
            _cell(row, dg_cols["说明"]),
            _cell(row, dg_cols["审核人员"]),
            sheet=sheet,
            row=i + 1,
            columns=("审核意见", "说明", "审核人员"),
            source=source,
        )


def check(
    wh: Warehouse,
    judgments: list[journal.Judgment],
    *,
    written_at: datetime | None = None,
    produced: set[str] | None = None,
    known: set[str] | None = None,
) -> tuple[list[Problem], list[str]]:
    """What refuses these judgments (unknown finding_ids, missing note or name, conflicts), and
    the finding_ids the current data no longer produce (stale: recorded, reported).

    ``produced``: finding_ids the warehouse has now (read here when None); ``known``: ids a
    workbook listed (an id in neither is unknown)."""
    problems: list[Problem] = []
    stale: list[str] = []
    fids = [j.target_key for j in judgments if j.target_kind == "finding"]
    if produced is None:
        produced = _produced(wh, fids)
    cur = (
        journal.current(
            wh,
            years={j.year for j in judgments},
            units={j.unit_code for j in judgments},
            kinds={j.target_kind for j in judgments},
            keys={j.target_key for j in judgments},
        )
        if judgments
        else None
    )
    latest = {
        (r["target_kind"], int(r["year"]), r["unit_code"], r["target_key"]): r
        for r in (cur.iter_rows(named=True) if cur is not None else [])
    }
    from bangfu.review.values import KINDS

    judged_keys = {(k[0], k[3]) for k in latest}
    for j in judgments:
        sheet, row, cols = j.where or ("", None, ("", "", ""))
        if j.target_kind == "finding" and j.target_key not in produced:
            judged = (j.target_kind, j.target_key) in judged_keys
            if not judged and (known is None or j.target_key not in known):
                problems.append(
                    Problem(
                        sheet,
                        row,
                        "finding_id",
                        j.target_key,
                        "未知的 finding_id（数据仓库中没有这条审计发现）",
                        j.target_key,
                    )
                )
                continue
            stale.append(j.target_key)
        prev = latest.get(j.target)
        if journal._equal(j, prev):
            continue
        kind = KINDS[j.target_kind]
        if needs_note(kind, j.value) and not j.note.strip():
            problems.append(
                Problem(
                    sheet,
                    row,
                    cols[1],
                    j.value,
                    f"{kind.label}为“{j.value}”时必须填写说明",
                    j.target_key,
                )
            )
        if not j.decided_by.strip():
            problems.append(
                Problem(
                    sheet,
                    row,
                    cols[2],
                    "",
                    f"缺少{'审核人员' if kind is AUDIT else '复核人' if kind is VERDICT else '录入人'}姓名",
                    j.target_key,
                )
            )
        if written_at is not None and prev is not None and prev["decided_at"] > written_at:
            problems.append(
                Problem(
                    sheet,
                    row,
                    cols[0],
                    j.value,
                    f"冲突：本工作簿写出（{written_at:%Y-%m-%d %H:%M:%S}）之后，"
                    f"{prev['decided_by']} 已于 {prev['decided_at']:%Y-%m-%d %H:%M:%S} 记录为"
                    f"“{prev['value']}”，本行会覆盖它",
                    j.target_key,
                )
            )
    return problems, sorted(set(stale))


def _produced(wh: Warehouse, fids: list[str]) -> set[str]:
    if not fids:
        return set()
    from sqlalchemy import select

    f = tables.findings
    out: set[str] = set()
    with wh.engine.connect() as conn:
        for start in range(0, len(fids), 5000):
            part = fids[start : start + 5000]
            out.update(
                r[0] for r in conn.execute(select(f.c.finding_id).where(f.c.finding_id.in_(part)))
            )
    return out


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def import_file(wh: Warehouse, path: Path) -> Outcome:
    """Import one returned workbook: everything recorded in one transaction, or nothing."""
    path = Path(path)
    out = Outcome(path)
    source = f"workbook:{path.name}#{sha256_of(path)}"
    parsed = parse_returned(path, source)
    if isinstance(parsed, list):
        out.problems = parsed
        return out
    out.year, out.unit_code = parsed.year, parsed.unit_code
    wh.create_all()
    problems, stale = check(
        wh, parsed.judgments, written_at=parsed.written_at, known=set(parsed.findings)
    )
    out.problems = parsed.problems + problems
    out.stale = stale
    if out.problems:
        return out
    try:
        rec = journal.record(wh, parsed.judgments, written_at=parsed.written_at)
    except journal.ConflictError:
        # recorded by someone else between the check and the lock: check again for the names
        problems, _ = check(
            wh, parsed.judgments, written_at=parsed.written_at, known=set(parsed.findings)
        )
        out.problems = problems or [
            Problem("", None, "", "", "冲突：复核意见已被他人更新，请重新导出工作簿")
        ]
        return out
    out.recorded, out.unchanged = rec.rows, len(rec.unchanged)
    out.stale = sorted({r["target_key"] for r in rec.rows if r["target_key"] in set(stale)})
    return out


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    if not target.exists():
        return target
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return folder / f"{Path(name).stem}.{stamp}{Path(name).suffix}"


def file_away(outcome: Outcome, data: Path, *, move: bool) -> Path:
    """Keep the file as the record: to ``done/`` or to ``refused/`` beside a ``.txt`` of its
    reasons (moved from the inbox, copied otherwise). Returns where it went."""
    dirs = review_dirs(data)
    folder = dirs[DONE] if outcome.ok else dirs[REFUSED]
    folder.mkdir(parents=True, exist_ok=True)
    target = _free_name(folder, outcome.path.name)
    if not outcome.ok:
        target.with_suffix(".txt").write_text(
            f"{outcome.path.name} 未导入（整份拒收，未记录任何复核意见），原因：\n"
            + outcome.reasons()
            + "\n\n请改正后重新放入 reviews/inbox/，或运行 bangfu review import。\n",
            encoding="utf-8",
        )
    if move:
        shutil.move(outcome.path, target)
    else:
        shutil.copy2(outcome.path, target)
    return target


def inbox_files(data: Path) -> list[Path]:
    """Workbooks waiting in the inbox (office lock files and hidden files left out), oldest
    first."""
    inbox = review_dirs(data)[INBOX]
    if not inbox.is_dir():
        return []
    files = [
        p
        for p in inbox.iterdir()
        if p.is_file() and p.suffix.lower() == ".xlsx" and not p.name.startswith((".", "~$"))
    ]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def process_inbox(wh: Warehouse, data: Path, echo: Callable[[str], None] = print) -> list[Outcome]:
    """Import every inbox workbook in turn, each moved to done/ or refused/."""
    outcomes = []
    for path in inbox_files(data):
        outcome = import_file(wh, path)
        where = file_away(outcome, data, move=True)
        echo(describe(outcome, where))
        outcomes.append(outcome)
    return outcomes


def describe(outcome: Outcome, where: Path | None = None) -> str:
    name = outcome.path.name
    if not outcome.ok:
        text = f"✗ {name}：整份拒收，{len(outcome.problems)} 个问题：\n  " + "\n  ".join(
            p.text() for p in outcome.problems
        )
    else:
        text = (
            f"✓ {name}（{outcome.year} {outcome.unit_code}）：记录 {len(outcome.recorded)} 条复核意见，"
            f"{outcome.unchanged} 行与现有意见相同未记录"
        )
        if outcome.stale:
            text += (
                f"；其中 {len(outcome.stale)} 条针对本次数据已不再出现的审计发现："
                + "、".join(outcome.stale[:10])
                + ("等" if len(outcome.stale) > 10 else "")
            )
    if where is not None:
        text += f"\n  → {where}"
    return text


def affected(outcomes: list[Outcome]) -> list[tuple[int, str]]:
    """The (year, unit) partitions whose judgments changed."""
    return sorted({(int(r["year"]), r["unit_code"]) for o in outcomes for r in o.recorded})
