"""`bangfu` — the command line of docs/OUTPUTS.md.

Exit status: 0 every partition asked for materialised; 1 some failed (all others finished, the
failures named); 2 usage errors.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from pathlib import Path

DEFAULT_DATA = Path("data")


def _years(spec: str) -> tuple[int, ...]:
    m = re.fullmatch(r"([0-9]{4})(?:-([0-9]{4}))?", spec.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"年度范围应形如 2017-2019，得到 {spec!r}")
    a, b = int(m[1]), int(m[2] or m[1])
    if b < a:
        raise argparse.ArgumentTypeError(f"年度范围颠倒：{spec!r}")
    return tuple(range(a, b + 1))


def _year(spec: str) -> int:
    if not re.fullmatch(r"[0-9]{4}", spec.strip()):
        raise argparse.ArgumentTypeError(f"年度应为四位数字，得到 {spec!r}")
    return int(spec)


def _unit(spec: str) -> str:
    if not re.fullmatch(r"[0-9]{6}", spec.strip()):
        raise argparse.ArgumentTypeError(f"单位代码应为六位数字，得到 {spec!r}")
    return spec.strip()


def _workbook_shares(text: str) -> dict[str, float]:
    """``xls=0.1,ods=0.1`` → {"xls": 0.1, "ods": 0.1}."""
    from bangfu.generate.writer import WORKBOOK_FORMS

    out: dict[str, float] = {}
    for part in filter(None, text.split(",")):
        form, _, share = part.partition("=")
        try:
            out[form.strip().lstrip(".")] = float(share)
        except ValueError:
            raise argparse.ArgumentTypeError(f"应为 xls=0.1,ods=0.1 的形式：{text}") from None
    if set(out) - set(WORKBOOK_FORMS) or sum(out.values()) > 1 or min(out.values(), default=0) < 0:
        raise argparse.ArgumentTypeError(
            f"格式只能是 {'/'.join(WORKBOOK_FORMS)}，比例之和不超过 1：{text}"
        )
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bangfu", description="帮扶资金、送温暖资金专项审计流水线 (trade-union fund audit)"
    )
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="生成示例数据并物化全部资产 / sample data, materialise all")
    d.add_argument("--data", type=Path, default=DEFAULT_DATA)

    g = sub.add_parser("generate", help="生成合成落地目录 / write a synthetic landing folder")
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--scale", choices=["S", "S12", "M", "L"], default="S")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--years", type=_years, default=(2017, 2018, 2019))
    g.add_argument("--bad-files", action="store_true", help="也生成整文件拒收的样例")
    g.add_argument(
        "--formats",
        type=_workbook_shares,
        default=None,
        metavar="xls=0.1,ods=0.1",
        help="工作簿台账中另存为 .xls / .ods 的比例（需要 LibreOffice）",
    )

    r = sub.add_parser("run", help="物化资产图 / materialise the asset graph")
    r.add_argument("--landing", type=Path, required=True)
    r.add_argument("--data", type=Path, default=DEFAULT_DATA)
    r.add_argument("--year", type=_year, action="append", default=[])
    r.add_argument("--unit", type=_unit, action="append", default=[])
    r.add_argument(
        "--settings", default=None, help="阈值覆盖 JSON，例如 '{\"relative_line_factor\": 1.4}'"
    )

    f = sub.add_parser("findings", help="列出审计发现 / print findings")
    f.add_argument("--data", type=Path, default=DEFAULT_DATA)
    f.add_argument("--year", type=_year)
    f.add_argument("--unit", type=_unit)
    f.add_argument("--rule")
    f.add_argument("--show-ids", action="store_true", help="显示完整身份证号和电话（慎用）")
    f.add_argument("--limit", type=int, default=200)

    rv = sub.add_parser("review", help="复核：复核结论、证据提供单位意见、审核意见 / judgments")
    rsub = rv.add_subparsers(dest="review_command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", type=Path, default=DEFAULT_DATA)
    render = argparse.ArgumentParser(add_help=False)
    render.add_argument(
        "--no-render",
        action="store_true",
        help="只记录，不重新生成受影响单位的工作簿和报告（下次 bangfu run 时生成）",
    )
    rl = rsub.add_parser("list", parents=[common], help="审计发现及其当前复核结论")
    rl.add_argument("--year", type=_year)
    rl.add_argument("--unit", type=_unit)
    rl.add_argument("--rule")
    rl.add_argument("--status", help="待核实 / 确认 / 排除 / 已整改（或 open、confirmed …）")
    rl.add_argument("--summary", action="store_true", help="按（年度，单位）统计复核进度")
    rl.add_argument("--limit", type=int, default=200)
    rs_ = rsub.add_parser("set", parents=[common, render], help="记录审计发现的复核结论")
    rs_.add_argument("finding_ids", nargs="+", metavar="FINDING_ID")
    rs_.add_argument("--status", required=True)
    rs_.add_argument("--note", default="")
    rs_.add_argument("--by", default="")
    ro = rsub.add_parser("opinion", parents=[common, render], help="记录证据提供单位意见或审核意见")
    ro.add_argument("--year", type=_year, required=True)
    ro.add_argument("--unit", type=_unit, required=True)
    ro.add_argument("--rule", help="审计取证单的规则代码")
    ro.add_argument("--evidence", help="证据提供单位意见：无异议 / 有异议")
    ro.add_argument("--form", help="审计工作底稿的表号：五 … 二十一")
    ro.add_argument("--audit", help="审核意见：1 / 2 / 3")
    ro.add_argument("--note", default="")
    ro.add_argument("--by", default="")
    ri = rsub.add_parser("import", parents=[common, render], help="导入交回的工作簿")
    ri.add_argument("files", nargs="+", type=Path, metavar="FILE")
    rh = rsub.add_parser("history", parents=[common], help="一条审计发现的全部复核记录")
    rh.add_argument("finding_id")
    return p


def main(argv: list[str] | None = None) -> int:
    # Dagster marks some APIs we use as beta; that is for developers, not for auditors.
    warnings.filterwarnings("ignore", message=".*is currently in beta.*")
    warnings.filterwarnings("ignore", message=".*is currently in preview.*")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    handler = {
        "demo": cmd_demo,
        "generate": cmd_generate,
        "run": cmd_run,
        "findings": cmd_findings,
        "review": cmd_review,
    }
    try:
        return handler[args.command](args)
    except KeyboardInterrupt:
        print("已中断。", file=sys.stderr)
        return 1


def cmd_generate(args) -> int:
    from bangfu.generate.landing import generate
    from bangfu.generate.office import soffice

    if args.formats and any(args.formats.values()) and soffice() is None:
        print(
            "--formats 需要 LibreOffice（soffice）把台账另存为 .xls / .ods，请先安装，或去掉该选项。",
            file=sys.stderr,
        )
        return 1

    t = time.perf_counter()
    info = generate(
        args.out,
        scale=args.scale,
        seed=args.seed,
        years=args.years,
        bad_files=args.bad_files,
        workbook_shares=args.formats,
        progress=_progress_printer("写出台账"),
    )
    print(f"已生成 {args.scale} 规模落地目录：{args.out}（{time.perf_counter() - t:.1f} 秒）")
    for k, v in info.items():
        print(f"  {k}: {v}")
    return 0


def cmd_run(args) -> int:
    from pipelines.errors import PipelineError, UsageError
    from pipelines.runner import run_pipeline

    if not (args.landing / "reference" / "units.csv").exists():
        print(
            f"找不到 {args.landing / 'reference' / 'units.csv'}：--landing 应指向落地目录。",
            file=sys.stderr,
        )
        return 2
    t = time.perf_counter()
    try:
        summary = run_pipeline(
            args.landing,
            args.data,
            years=args.year or None,
            units=args.unit or None,
            settings_overrides=args.settings,
        )
    except UsageError as exc:
        print(f"用法错误：{exc}", file=sys.stderr)
        return 2
    except PipelineError as exc:
        print(f"运行中止：{exc}", file=sys.stderr)
        return 1
    _print_summary(args.data, summary, time.perf_counter() - t)
    return 0 if summary.ok else 1


def cmd_demo(args) -> int:
    from bangfu.generate.landing import generate
    from pipelines.errors import PipelineError
    from pipelines.runner import run_pipeline

    landing = args.data / "landing"
    t = time.perf_counter()
    # The demo makes its data folder, which will hold (synthetic) personal data: private from
    # the start, before the landing folder inside it would create it with the umask's mode. A
    # folder the user made stays as it is (the run warns when others can read it).
    args.data.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (landing / "reference" / "units.csv").exists():
        print(f"生成示例落地目录（S 规模）→ {landing}")
        generate(
            landing,
            scale="S",
            seed=0,
            years=(2017, 2018, 2019),
            progress=_progress_printer("写出台账"),
        )
    try:
        summary = run_pipeline(landing, args.data)
    except PipelineError as exc:
        print(f"运行中止：{exc}", file=sys.stderr)
        return 1
    _print_summary(args.data, summary, time.perf_counter() - t)
    return 0 if summary.ok else 1


def cmd_findings(args) -> int:
    import polars as pl

    from bangfu.parse import mask_id, mask_phone
    from warehouse import tables
    from warehouse.store import Warehouse, default_url

    wh = Warehouse(default_url(args.data))
    frame = wh.read(tables.findings, year=args.year, unit_code=args.unit, rule_code=args.rule)
    if frame.is_empty():
        print("没有符合条件的审计发现。")
        return 0
    frame = frame.sort(["year", "unit_code", "rule_code", "finding_id"])
    cols = [
        "year",
        "unit_code",
        "rule_code",
        "severity",
        "id_number",
        "payment_no",
        "archive_no",
        "voucher_no",
        "amount",
        "detail",
    ]
    frame = frame.select([c for c in cols if c in frame.columns])
    if not args.show_ids:
        frame = frame.with_columns(
            pl.col("id_number").map_elements(mask_id, return_dtype=pl.String),
            pl.col("detail").map_elements(
                mask_phone_and_ids(mask_id, mask_phone), return_dtype=pl.String
            ),
        )
    with pl.Config(tbl_rows=args.limit, tbl_cols=-1, fmt_str_lengths=80, tbl_width_chars=200):
        print(frame.head(args.limit))
    print(
        f"共 {wh.count(tables.findings, year=args.year, unit_code=args.unit, rule_code=args.rule)} 条"
    )
    return 0


def cmd_review(args) -> int:
    from bangfu.cli_review import run_review

    return run_review(args)


def mask_phone_and_ids(mask_id, mask_phone):
    """Mask any 18-character ID or 11-digit mobile number that appears inside free text."""
    id_re = re.compile(r"[0-9]{17}[0-9Xx]")
    phone_re = re.compile(r"(?<![0-9])1[0-9]{10}(?![0-9])")

    def mask(text):
        if text is None:
            return None
        text = id_re.sub(lambda m: mask_id(m.group(0)), text)
        return phone_re.sub(lambda m: mask_phone(m.group(0)), text)

    return mask


def _progress_printer(label: str):
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - last[0] > 1.0:
            last[0] = now
            print(f"\r  {label} {done}/{total}", end="\n" if done == total else "", flush=True)

    return show


def _print_summary(data: Path, summary, seconds: float) -> None:
    from bangfu.report_summary import summarise

    print(summarise(data, summary, seconds))


if __name__ == "__main__":
    sys.exit(main())
