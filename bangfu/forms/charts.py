"""Figures of the draft report: PNG made with matplotlib (Agg, no display), each followed by a
small table of the numbers it shows, so nothing is only in a picture. No Dagster here.

Chinese text needs a CJK font, and a fresh machine with only Python may have none: the figures
use Noto Sans CJK SC from the ``noto-cjk-sans-otc`` package (SIL OFL 1.1, a dependency), then a
system CJK font if that package is missing, then DejaVu Sans (the figures' Chinese shows as boxes;
their tables still say everything; a warning says so once).

Cost: at national scale there are 3,216 reports. Most of a matplotlib figure's time is its text:
every Text is shaped (libraqm) once to be measured and again to be drawn. The figures' labels are
therefore set here from glyph outlines loaded once per character — hinted at the figure's pixel
size, as Agg's own text is — and each figure's text is drawn as one path. matplotlib still draws
the bars and axes, on ONE figure object per layout, cleared between figures, with fixed margins
(no tight layout), and a figure is drawn only where its data exist.
"""

from __future__ import annotations

import copy
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
TEXT = "black"
LABEL_PT = 7  # values at the bars, years
NAME_PT = 8  # the names beside horizontal bars
TITLE_PT = 8
MAX_BARS = 15  # a figure shows at most this many bars; its table lists every row

# "0" leaves the figures out of the reports (their tables of numbers too): they cost time on
# every report, which a national run may rather spend elsewhere
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


class _Glyphs:
    """The figures' font (DejaVu Sans for characters it lacks) at one size: each character's
    outline, hinted at the figure's pixel size, and its advance in pixels, loaded once."""

    def __init__(self, size_pt: float):
        from matplotlib import font_manager

        family = cjk_family()
        self.fonts = [
            font_manager.get_font(font_manager.findfont(font_manager.FontProperties(family=f)))
            for f in (*([family] if family else []), "DejaVu Sans")
        ]
        self.size_pt = size_pt
        self.px = size_pt * DPI / 72
        self.cache: dict[str, tuple] = {}

    def glyph(self, ch: str) -> tuple:
        known = self.cache.get(ch)
        if known is None:
            from matplotlib.ft2font import LoadFlags

            code = ord(ch)
            font = next((f for f in self.fonts if f.get_char_index(code)), self.fonts[0])
            font.set_size(self.size_pt, DPI)  # the font object is shared: set every time
            # a character no font has gets glyph 0, the font's box (the module warned once)
            glyph = font.load_glyph(font.get_char_index(code), flags=LoadFlags.DEFAULT)
            advance = glyph.horiAdvance / 64
            verts, codes = font.get_path()
            known = self.cache[ch] = (verts, codes, advance)
        return known

    def width(self, text: str) -> float:
        return sum(self.glyph(ch)[2] for ch in text)


def _glyphs(size_pt: float) -> _Glyphs:
    fonts = _state.setdefault("glyphs", {})
    if size_pt not in fonts:
        fonts[size_pt] = _Glyphs(size_pt)
    return fonts[size_pt]


# where the baseline sits below an anchor, in ems, for each vertical alignment: CJK ideographs
# span about -0.12 to 0.88 em, digits 0 to 0.73
_BASELINE = {"top": 0.88, "center": 0.38, "bottom": -0.12}
_SHIFT = {"left": 0.0, "center": 0.5, "right": 1.0}


class _Labels:
    """The text of one figure: each label anchored in data or axes coordinates (any matplotlib
    transform) with an offset in points, drawn at the end as one path."""

    def __init__(self) -> None:
        self.items: list[tuple] = []

    def add(self, transform, x, y, text, *, size=LABEL_PT, ha="left", va="center", dx=0, dy=0):
        self.items.append((transform, x, y, text, size, ha, va, dx, dy))

    def path(self):
        """The outline of every label in pixels (call once the axes' limits are final)."""
        import numpy as np
        from matplotlib.path import Path

        verts, codes = [], []
        for transform, x, y, text, size, ha, va, dx, dy in self.items:
            glyphs = _glyphs(size)
            px, py = map(float, transform.transform((x, y)))
            # whole pixels: the hinted outlines then meet the pixel grid as Agg's text does
            px = round(px + dx * DPI / 72 - _SHIFT[ha] * glyphs.width(text))
            py = round(py + dy * DPI / 72 - _BASELINE[va] * glyphs.px)
            for ch in text:
                v, c, advance = glyphs.glyph(ch)
                if len(v):
                    verts.append(v + (px, py))
                    codes.append(c)
                px += advance
        if not verts:
            return None
        return Path(np.concatenate(verts), np.concatenate(codes))


def _layout(ncols: int):
    """This process's figure and axes for a layout of ``ncols`` panels, made once and then
    reused: only the bars and text of the last figure are removed (matplotlib without pyplot:
    no GUI, no global figure registry). Making the axes again for every figure cost more than
    drawing it."""
    layouts = _state.setdefault("layouts", {})
    if ncols not in layouts:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=SIZE, dpi=DPI)
        FigureCanvasAgg(fig)
        axes = list(fig.subplots(1, ncols, squeeze=False)[0])
        for ax in axes:  # every label is set by _Labels: the axes draw no ticks or labels
            ax.xaxis.set_visible(False)
            ax.yaxis.set_visible(False)
            ax.spines["top"].set_visible(False)
            ax.spines["right"].set_visible(False)
        layouts[ncols] = (fig, axes)
    fig, axes = layouts[ncols]
    for ax in axes:
        for artist in [*ax.collections]:
            artist.remove()
    for artist in [*fig.artists]:
        artist.remove()
    fig.set_size_inches(*SIZE)
    return fig, axes


def _png(fig) -> bytes:
    """The figure as PNG: drawn on its Agg canvas, then written by Pillow as RGB (the figure is
    opaque, so the alpha channel carried nothing) with light compression — flat colours compress
    about as well at level 1 as at the default, in a fraction of the time."""
    from PIL import Image

    canvas = fig.canvas
    canvas.draw()
    rgba = canvas.buffer_rgba()
    image = Image.frombuffer("RGBA", (rgba.shape[1], rgba.shape[0]), rgba, "raw", "RGBA", 0, 1)
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="png", compress_level=1)
    return buf.getvalue()


def _short(text: str, n: int = 16) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _draw(build, ncols: int) -> bytes:
    from matplotlib.patches import PathPatch
    from matplotlib.transforms import IdentityTransform

    fig, axes = _layout(ncols)
    labels = _Labels()
    build(fig, axes, labels)
    path = labels.path()
    if path is not None:
        fig.add_artist(
            PathPatch(path, transform=IdentityTransform(), facecolor=TEXT, edgecolor="none", lw=0)
        )
    return _png(fig)


def _bars(ax, boxes: Sequence[tuple], color: str) -> None:
    """Bars as one collection of rectangles (x0, y0, x1, y1) in data coordinates: the axes'
    limits are set by the figure, so nothing is gained by a Rectangle artist per bar."""
    from matplotlib.collections import PolyCollection

    verts = [((x0, y0), (x0, y1), (x1, y1), (x1, y0)) for x0, y0, x1, y1 in boxes]
    ax.add_collection(PolyCollection(verts, facecolors=color, linewidths=0), autolim=False)


def _title(labels: _Labels, ax, title: str) -> None:
    labels.add(ax.transAxes, 0.5, 1.0, title, size=TITLE_PT, ha="center", va="bottom", dy=4)


def _hbars(ax, labels: _Labels, names: Sequence[str], values: Sequence[float], fmt) -> None:
    """Horizontal bars, first row at the top as in the table: each bar's name on its left, its
    value at its end (no value axis)."""
    _bars(ax, [(0, y - 0.3, v, y + 0.3) for y, v in enumerate(values)], BAR)
    ax.set_ylim(len(names) - 0.5, -0.5)
    top = max(values, default=0) or 1
    ax.set_xlim(0, top * 1.4)
    ax.spines["bottom"].set_visible(False)
    ax.spines["left"].set_visible(True)
    names_at = ax.get_yaxis_transform()  # x in axes, y in data coordinates
    for y, (name, v) in enumerate(zip(names, values, strict=True)):
        labels.add(names_at, 0, y, _short(name), size=NAME_PT, ha="right", dx=-5)
        labels.add(ax.transData, v, y, fmt(y, v), dx=2)


def findings_figure(groups: Sequence) -> ReportFigure | None:
    """The unit's findings by rule: how many and the amount involved (groups in report order)."""
    if not groups:
        return None
    from bangfu.forms.rule_homes import rule_info

    titles = [rule_info(g.rule).title for g in groups]
    counts = [len(g.findings) for g in groups]
    amounts = [float(g.amount or 0) for g in groups]
    shown = min(len(groups), MAX_BARS)
    height = max(1.8, 0.28 * shown + 0.8)

    def build(fig, axes, labels):
        fig.set_size_inches(SIZE[0], height)
        _hbars(
            axes[0],
            labels,
            titles[:shown],
            counts[:shown],
            lambda i, v: (
                f"{v:.0f} 条" + (f"，{amounts[i] / 10000:,.2f} 万元" if amounts[i] else "")
            ),
        )
        _title(labels, axes[0], "发现数（条）及涉及金额")
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

    def build(fig, axes, text):
        pos = list(range(len(labels)))  # positions, not categories: the axes are reused
        for ax, (title, values, fmt, color) in zip(axes, panels, strict=True):
            _bars(ax, [(x - 0.3, 0, x + 0.3, v) for x, v in zip(pos, values, strict=True)], color)
            ax.set_xlim(-0.5, len(pos) - 0.5)
            top = max(values, default=0) or 1
            ax.set_ylim(0, top * 1.2)
            ax.spines["left"].set_visible(False)  # the values stand on the bars
            years_at = ax.get_xaxis_transform()  # x in data, y in axes coordinates
            for x, year, v in zip(pos, labels, values, strict=True):
                text.add(years_at, x, 0, year, ha="center", va="top", dy=-3)
                text.add(ax.transData, x, v, fmt(v), ha="center", va="bottom", dy=1.5)
            _title(text, ax, title)
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

    def build(fig, axes, labels):
        fig.set_size_inches(SIZE[0], height)
        ax = axes[0]
        values = [r * 100 for r in ratios[:shown]]
        _hbars(ax, labels, names[:shown], values, lambda _i, v: f"{v:.2f}%")
        _title(labels, ax, "问题金额占比（%）")
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
        _table_rows(table, fig.rows)
        number += 1
    return number


def _table_rows(table, rows: Sequence[tuple]) -> None:
    """Append ``rows`` to a python-docx table. python-docx rebuilds every cell of every added row,
    which took longer than drawing the figure; so a row whose texts are plain (no tab, no line
    break, not empty) is a copy of the last row python-docx wrote, its texts replaced."""
    from docx.oxml.ns import qn

    template = None
    for row in rows:
        values = [str(v) for v in row]
        plain = all(v and "\t" not in v and "\n" not in v for v in values)
        if template is None or not plain:
            added = table.add_row()
            for cell, v in zip(added.cells, values, strict=True):
                cell.text = v
            template = added._tr if plain else None
            continue
        tr = copy.deepcopy(template)
        for t, v in zip(tr.iter(qn("w:t")), values, strict=True):  # one per cell, as cell.text
            t.text = v
            t.set(qn("xml:space"), "preserve")
        table._tbl.append(tr)
