"""Figures of the draft report: PNG made with matplotlib (Agg, no display), each followed by a
small table of the numbers it shows, so nothing is only in a picture. No Dagster here.

Chinese text needs a CJK font, and a fresh machine with only Python may have none: the figures
use Noto Sans CJK SC from the ``noto-cjk-sans-otc`` package (SIL OFL 1.1, a dependency), then a
system CJK font if that package is missing, then DejaVu Sans (the figures' Chinese shows as boxes;
their tables still say everything; a warning says so once).

Cost: at national scale there are 3,216 reports, so each process draws on ONE figure object,
cleared between figures, at a small resolution, with fixed margins (no tight layout), and a
figure is drawn only where its data exist.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt

PACKAGED_FAMILY = "Noto Sans CJK SC"
# system fonts that carry simplified Chinese, tried when the packaged font is not installed
SYSTEM_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
)
DPI = 96
SIZE = (6.4, 2.6)  # inches; shown 15 cm wide in the report
WIDTH_CM = 15
BAR = "#4472C4"
ACCENT = "#C0504D"
MAX_BARS = 15  # a figure shows at most this many bars; its table lists every row

# "0" leaves the figures out of the reports (their tables of numbers too): they cost tens of
# milliseconds a report, which a national run may rather spend elsewhere
FIGURES_ENV = "BANGFU_REPORT_FIGURES"

_state: dict = {}


def figures_wanted() -> bool:
    return os.environ.get(FIGURES_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


@dataclass
class ReportFigure:
    """One figure: its caption, the PNG, and the table of the numbers behind it."""

    key: str
    caption: str
    png: bytes
    header: tuple[str, ...]
    rows: list[tuple]


def cjk_family() -> str | None:
    """The font family the figures use for Chinese (None: no CJK font found; see the module)."""
    if "family" not in _state:
        from matplotlib import font_manager

        family = None
        try:
            import noto_cjk_sans_otc

            font_manager.fontManager.addfont(str(noto_cjk_sans_otc.FONT_PATH))
            family = PACKAGED_FAMILY
        except (ImportError, OSError, RuntimeError):
            names = {f.name for f in font_manager.fontManager.ttflist}
            family = next((f for f in SYSTEM_FAMILIES if f in names), None)
        if family is None:
            warnings.warn(
                "报告插图未找到中文字体，图中汉字将无法显示（表格中的数字不受影响）："
                "请安装 noto-cjk-sans-otc（pip install noto-cjk-sans-otc）。"
                " No CJK font for the report figures.",
                RuntimeWarning,
                stacklevel=2,
            )
        _state["family"] = family
    return _state["family"]


def _rc() -> dict:
    family = cjk_family()
    return {
        "font.family": "sans-serif",
        "font.sans-serif": [*([family] if family else []), "DejaVu Sans"],
        "font.size": 8,
        "axes.unicode_minus": False,  # the CJK font has no U+2212
        "axes.spines.top": False,
        "axes.spines.right": False,
    }


def _layout(ncols: int):
    """This process's figure and axes for a layout of ``ncols`` panels, made once and then
    reused: only the bars and labels of the last figure are removed (matplotlib without pyplot:
    no GUI, no global figure registry). Making the axes and their ticks again for every figure
    cost more than drawing it."""
    key = ncols
    layouts = _state.setdefault("layouts", {})
    if key not in layouts:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=SIZE, dpi=DPI)
        FigureCanvasAgg(fig)
        axes = list(fig.subplots(1, ncols, squeeze=False)[0])
        layouts[key] = (fig, axes)
    fig, axes = layouts[key]
    for ax in axes:
        for artist in [*ax.patches, *ax.texts]:
            artist.remove()
        ax.containers.clear()
    fig.set_size_inches(*SIZE)
    return fig, axes


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _short(text: str, n: int = 16) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _wan(x: float) -> str:
    return f"{x / 10000:,.1f}"


def _draw(build, ncols: int) -> bytes:
    import matplotlib

    with matplotlib.rc_context(_rc()), warnings.catch_warnings():
        # without a CJK font every glyph would warn; the module warned once already
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        fig, axes = _layout(ncols)
        build(fig, axes)
        return _png(fig)


def _hbars(ax, labels: Sequence[str], values: Sequence[float], fmt, color=BAR) -> None:
    pos = list(range(len(labels)))
    ax.barh(pos, values, color=color, height=0.6)
    ax.set_yticks(pos, [_short(t) for t in labels])
    ax.set_ylim(len(labels) - 0.5, -0.5)  # first row at the top, as in the table
    top = max(values, default=0) or 1
    for y, v in zip(pos, values, strict=True):
        ax.text(v + top * 0.01, y, fmt(y, v), va="center", fontsize=7)
    ax.set_xlim(0, top * 1.4)
    # the values stand at the bars: no value axis (its ticks cost most of the drawing time)
    ax.set_xticks([])
    ax.spines["bottom"].set_visible(False)


def findings_figure(groups: Sequence) -> ReportFigure | None:
    """The unit's findings by rule: how many and the amount involved (groups in report order)."""
    if not groups:
        return None
    from bangfu.forms.layouts import rule_info

    titles = [rule_info(g.rule).title for g in groups]
    counts = [len(g.findings) for g in groups]
    amounts = [float(g.amount or 0) for g in groups]
    shown = min(len(groups), MAX_BARS)
    height = max(1.8, 0.28 * shown + 0.8)

    def build(fig, axes):
        fig.set_size_inches(SIZE[0], height)
        _hbars(
            axes[0],
            titles[:shown],
            counts[:shown],
            lambda i, v: (
                f"{v:.0f} 条" + (f"，{amounts[i] / 10000:,.2f} 万元" if amounts[i] else "")
            ),
        )
        axes[0].set_title("发现数（条）及涉及金额", fontsize=8, y=1.0)
        fig.subplots_adjust(left=0.32, right=0.97, top=1 - 0.35 / height, bottom=0.2 / height)

    rows = [(t, c, f"{a:,.2f}") for t, c, a in zip(titles, counts, amounts, strict=True)]
    return ReportFigure(
        "findings",
        "审计发现按问题类别统计"
        + (f"（图中为前 {MAX_BARS} 类）" if len(groups) > MAX_BARS else ""),
        _draw(build, 1),
        ("问题", "发现数（条）", "涉及金额（元）"),
        rows,
    )


def trend_figure(
    years: Sequence[int], metrics: dict[int, dict], *, subtree: bool
) -> ReportFigure | None:
    """发放总额, 年末在档 and findings over the audited years (those with figures)."""
    shown = [y for y in years if metrics.get(y)]
    if not shown:
        return None
    paid = [float(metrics[y].get("paid_total") or 0) for y in shown]
    archived = [int(metrics[y].get("archived_at_end") or 0) for y in shown]
    found = [int(metrics[y].get("findings_total") or 0) for y in shown]
    labels = [str(y) for y in shown]
    suffix = "（含下级）" if subtree else ""
    panels = (
        ("发放总额（万元）", [p / 10000 for p in paid], lambda v: f"{v:,.1f}", BAR),
        ("年末在档（户）", archived, lambda v: f"{v:,.0f}", BAR),
        (f"审计发现（条）{suffix}", found, lambda v: f"{v:,.0f}", ACCENT),
    )

    def build(fig, axes):
        pos = list(range(len(labels)))  # positions, not categories: the axes are reused
        for ax, (title, values, fmt, color) in zip(axes, panels, strict=True):
            ax.bar(pos, values, color=color, width=0.6)
            ax.set_xticks(pos, labels)
            ax.set_xlim(-0.5, len(pos) - 0.5)
            top = max(values, default=0) or 1
            for x, v in zip(pos, values, strict=True):
                ax.text(x, v + top * 0.02, fmt(v), ha="center", fontsize=7)
            ax.set_ylim(0, top * 1.2)
            ax.set_title(title, fontsize=8, y=1.0)
            ax.set_yticks([])  # the values stand on the bars
            ax.spines["left"].set_visible(False)
            ax.tick_params(labelsize=7)
        fig.subplots_adjust(left=0.07, right=0.98, top=0.86, bottom=0.12, wspace=0.35)

    rows = [
        (y, f"{p:,.2f}", a, f) for y, p, a, f in zip(labels, paid, archived, found, strict=True)
    ]
    return ReportFigure(
        "trend",
        f"{shown[0]}—{shown[-1]} 年度发放总额、年末在档户数与审计发现数{suffix}",
        _draw(build, 3),
        ("年度", "发放总额（元）", "年末在档（户）", f"审计发现（条）{suffix}"),
        rows,
    )


def ranking_figure(below: Sequence[dict] | None) -> ReportFigure | None:
    """The units directly below, by 问题金额占比 (rows of bangfu.overview.below_ranking)."""
    if not below:
        return None
    names = [r.get("unit_name") or r["unit_code"] for r in below]
    ratios = [float(r.get("problem_ratio") or 0) for r in below]
    shown = min(len(below), MAX_BARS)
    height = max(1.6, 0.26 * shown + 0.7)

    def build(fig, axes):
        fig.set_size_inches(SIZE[0], height)
        ax = axes[0]
        _hbars(ax, names[:shown], [r * 100 for r in ratios[:shown]], lambda _i, v: f"{v:.2f}%")
        ax.set_title("问题金额占比（%）", fontsize=8, y=1.0)
        fig.subplots_adjust(left=0.25, right=0.97, top=1 - 0.3 / height, bottom=0.25 / height)

    rows = [
        (
            i,
            n,
            f"{float(r.get('paid_total') or 0):,.2f}",
            f"{float(r.get('problem_amount') or 0):,.2f}",
            f"{ratio * 100:.2f}%",
            int(r.get("sev_高") or 0),
        )
        for i, (n, r, ratio) in enumerate(zip(names, below, ratios, strict=True), start=1)
    ]
    return ReportFigure(
        "ranking",
        "下级单位问题金额占比排名"
        + (f"（图中为前 {MAX_BARS} 名）" if len(below) > MAX_BARS else ""),
        _draw(build, 1),
        ("排名", "单位", "发放总额（元）", "问题金额（元）", "问题金额占比", "高风险发现数"),
        rows,
    )


def add_figures(doc, figures: Sequence[ReportFigure | None], number: int) -> int:
    """Put each figure (skipping None) into the document — picture, caption, then its numbers as
    a table — numbered from ``number``; returns the next number."""
    for fig in figures:
        if fig is None:
            continue
        pic = doc.add_paragraph()
        pic.alignment = WD_ALIGN_PARAGRAPH.CENTER
        pic.add_run().add_picture(io.BytesIO(fig.png), width=Cm(WIDTH_CM))
        cap = doc.add_paragraph()
        cap.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = cap.add_run(f"图 {number}  {fig.caption}")
        run.font.size = Pt(10.5)
        table = doc.add_table(rows=1, cols=len(fig.header))
        table.style = "Table Grid"
        for cell, text in zip(table.rows[0].cells, fig.header, strict=True):
            cell.text = text
        for row in fig.rows:
            cells = table.add_row().cells
            for cell, v in zip(cells, row, strict=True):
                cell.text = str(v)
        number += 1
    return number
