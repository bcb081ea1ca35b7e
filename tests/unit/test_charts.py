"""The report figures drawn alone (bangfu.forms.charts): their Chinese from the font package on
a machine without fonts, as the font's boxes without any CJK font, their numbers tables read
back (tests/e2e/test_overview.py: every report of the S run has its figures)."""

from __future__ import annotations

import io
import subprocess

from tests.support import REPO

FRESH_MACHINE = """
import matplotlib.font_manager as fm
# a machine without any system font: only matplotlib's own (DejaVu …) stay known
fm.fontManager.ttflist = [f for f in fm.fontManager.ttflist if "mpl-data" in f.fname]
fm.fontManager._findfont_cached.cache_clear()
assert not any("CJK" in f.name for f in fm.fontManager.ttflist)
from bangfu.forms import charts
assert charts.cjk_family() == "Noto Sans CJK SC"
path = fm.fontManager.findfont(
    fm.FontProperties(family="Noto Sans CJK SC"), fallback_to_default=False
)
assert "noto_cjk_sans_otc" in str(path), path
font = fm.get_font(path)
assert all(font.get_char_index(ord(c)) for c in "审计发现年末在档发放总额问题金额占比"), path
fig = charts.trend_figure([2019], {2019: {"paid_total": 1.0, "archived_at_end": 2}}, subtree=False)
assert fig.png.startswith(b"\\x89PNG")
print("ok")
"""


def test_cjk_font_comes_from_the_package(tmp_path):
    """On a machine without system fonts (a fresh matplotlib font cache that finds none), the
    figures still get their Chinese from the noto-cjk-sans-otc package, which has the glyphs."""
    import os
    import sys

    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl")}
    out = subprocess.run(
        [sys.executable, "-c", FRESH_MACHINE],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_figure_tables_hold_their_rows():
    """A figure's numbers table reads back exactly its header and rows, whichever way a row was
    written (copied from the row before, or by python-docx for an empty text or a line break)."""
    from docx import Document

    from bangfu.forms import charts

    trend = charts.trend_figure([2019], {2019: {"paid_total": 1.0}}, subtree=False)
    rows = [("甲", 1, "1,000.00"), ("乙 ", 2, "2.00"), ("丙\n丁", 3, ""), ("戊", 4, "4.00")]
    fig = charts.ReportFigure("t", "测试", trend.png, ("问题", "条", "金额"), rows)
    doc = Document()
    assert charts.add_figures(doc, [None, fig, fig], 1) == 3
    assert len(doc.tables) == 2 and len(doc.inline_shapes) == 2
    for table in doc.tables:
        got = [[c.text for c in r.cells] for r in table.rows]
        assert got == [["问题", "条", "金额"], *[[str(v) for v in r] for r in rows]]


def test_figures_without_a_cjk_font(monkeypatch):
    """No CJK font at all: the figures are still drawn (their Chinese as the font's boxes)."""
    from PIL import Image

    from bangfu.forms import charts

    charts.cjk_family()  # its warning belongs to the font search, not to this test
    monkeypatch.setitem(charts._state, "family", None)
    monkeypatch.setitem(charts._state, "glyphs", {})
    metrics = {2019: {"paid_total": 12345.0, "archived_at_end": 7, "findings_total": 3}}
    fig = charts.trend_figure([2019], metrics, subtree=True)
    img = Image.open(io.BytesIO(fig.png))
    img.load()
    assert img.format == "PNG" and img.width >= 500
    assert charts._state["glyphs"][charts.TITLE_PT].fonts[0].family_name == "DejaVu Sans"
