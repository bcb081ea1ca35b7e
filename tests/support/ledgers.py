"""The reader tests' hand-built ledger workbook (tests/unit/test_readers.py; re-saved by
LibreOffice in tests/e2e/test_workbook_formats.py): title rows, merged titles, blank and total
rows, an ID typed as a number, dates as cells and as text …"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import xlsxwriter

UNIT = "330102"
YEAR = 2019
ID1 = "11010519491231002X"  # valid GB 11643
ID2 = "110105194912310021"

# --------------------------------------------------------------------------- sheet contents
# Each sheet: list of rows; a row is a list of cells; a cell is a str, a number, a date,
# ("num", value) for a number cell in an ID column, or None.
PAY_TITLE = "××县总工会2019年度救助发放明细"
PAY_HEADER = [
    "序号",
    "发放编号",
    "日期",
    "姓名",
    "身份证号码",
    "帮扶项目",
    "资\u3000金来源",
    "发放金额",
    "凭证编号",
    "备注",
]
PAY_ROWS = [
    # row 4: Excel date cell, lower-case x, plain number
    [
        1,
        "FF001",
        dt.date(2019, 3, 5),
        "张三",
        ID1.lower(),
        "生活救助",
        "送温暖资金",
        500,
        "PZ01",
        "",
    ],
    # row 5: written date, spaces + apostrophe in ID, full-width amount with 元
    [
        2,
        "FF002",
        "2019年3月5日",
        "李四",
        "'110105 19491231 0021",
        "医疗救助",
        "工会经费",
        "１,２３４.５元",
        "PZ02",
        None,
    ],
    None,  # row 6: blank
    # row 7: ID typed as a number (lost digits)
    [
        3,
        "FF003",
        "2019-04-01",
        "王五",
        ("num", 110105194912310021),
        "生活救助",
        "工会经费",
        100,
        "PZ03",
        None,
    ],
    # row 8: impossible date and zero amount
    [4, "FF004", "2019/2/30", "赵六", ID1, "生活救助", "工会经费", 0, "PZ04", None],
    # row 9: total row
    ["合计", None, None, None, None, None, None, 1834.5, None, None],
    # row 10: ID in scientific notation
    [5, "FF005", "20190601", "孙七", "1.10105E+17", "生活救助", "工会经费", 50, "PZ05", None],
    # row 11: duplicate payment number (kept, warned)
    [6, "FF001", "2019.07.01", "周八", ID2, "送温暖", "送温暖资金", "80", "PZ06", None],
    # row 12: a project outside the vocabulary is kept as written
    [7, "FF007", 43709, "吴九", ID2, " 其他 项目 ", "工会经费", "1,000", "PZ07", None],
]

ARCHIVE_HEADER = [
    "档案号",
    "姓名",
    "公民身份号码",
    "困难类别",
    "家庭人口",
    "家庭年总收入",
    "建档日期",
    "档案状态",
    "退档日期",
    "退档原因",
    "脱困方式",
    "致困原因",
]
ARCHIVE_ROWS = [
    ["DA1", "张三", ID1, "深度困难", 3, "12000", "2018-01-02", "在档", None, None, None, "失业"],
    [
        "DA2",
        "李四",
        ID2,
        "相对困难",
        "2人",
        8000.5,
        "2018-01-02",
        "已退档",
        None,
        "脱困",
        None,
        "本人大病、失业",
    ],
    [
        "DA3",
        "王五",
        ID1,
        "意外致困",
        0,
        100,
        "2018-01-02",
        "已退档",
        "2019-05-01",
        "死亡",
        None,
        None,
    ],
    ["DA4", "赵六", ID1, "深度困难", 2, 100, "去年", "在档", None, None, None, None],
]

LEDGER_HEADER = ["凭证日期", "凭证号", "科目编码", "科目名称", "摘要", "借方金额", "贷方金额"]
LEDGER_ROWS = [
    ["2019-03-05", "PZ01", "50101", "维权支出—困难职工帮扶费", "发放生活救助", 500, None],
    ["2019-03-05", "PZ01", "10201", "银行存款", "发放生活救助", None, 500],
]

EVAL_HEADER = ["样本编号", "身份证号", "姓名", "样本类型", "评估结论", "满意度"]
EVAL_ROWS = [
    ["S1", ID1, "张三", "在档户", "错评", "满意"],
    ["S2", ID2, "李四", "退档户", "错评", "满意"],  # 错评 only on 在档户
    ["S3", ID2, "李四", "非建档户", "漏评", None],
]


def workbook_sheets() -> dict[str, tuple[list[str | None], list[str], list]]:
    """sheet name → (title rows, header, data rows)."""
    return {
        "困难职工档案": ([], ARCHIVE_HEADER, ARCHIVE_ROWS),
        " 救助发放明细 ": ([PAY_TITLE, None], PAY_HEADER, PAY_ROWS),
        "会计明细账": (["会计明细账"], LEDGER_HEADER, LEDGER_ROWS),
        "第三方评估": ([], EVAL_HEADER, EVAL_ROWS),
    }


def write_xlsx(path: Path, sheets=None, *, offset_col: int = 0) -> Path:
    sheets = sheets if sheets is not None else workbook_sheets()
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    datef = wb.add_format({"num_format": "yyyy-mm-dd"})
    for name, (titles, header, rows) in sheets.items():
        ws = wb.add_worksheet(name)
        r = 0
        for t in titles:
            if t is not None:
                ws.merge_range(r, offset_col, r, offset_col + len(header) - 1, t)
            r += 1
        ws.write_row(r, offset_col, header)
        r += 1
        for row in rows:
            if row is not None:
                for c, v in enumerate(row):
                    col = offset_col + c
                    if v is None:
                        continue
                    if isinstance(v, tuple):
                        ws.write_number(r, col, v[1])
                    elif isinstance(v, dt.date):
                        ws.write_datetime(r, col, dt.datetime(v.year, v.month, v.day), datef)
                    elif isinstance(v, int | float):
                        ws.write_number(r, col, v)
                    else:
                        ws.write_string(r, col, v)
            r += 1
    wb.close()
    return path
