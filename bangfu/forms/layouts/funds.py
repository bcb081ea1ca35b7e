"""Where the money went: 十三 (spending scope, unit level), 十八 (precise payment, unit level) and
十九 … 二十一 (per payee).
"""

from __future__ import annotations

from bangfu.forms.layouts.common import CONCLUSION, Layout, f, r

# ---------------------------------------------------------------- 十三 (unit level)
SCOPE = Layout(
    no="十三",
    num=13,
    key="scope",
    title="开支范围情况审定表",
    sheet="十三 开支范围",
    header=(("审计事项", 1), ("审计认定事实", 1)),
    widths=(50, 54),
    rows=(
        r(
            "一、在帮扶资金中列支：帮扶中心工作人员工资或办公费用；发放各种奖金、津贴和福利补助；"
            "购买车辆、手机等交通工具及通讯设备；帮扶中心基本建设投资；其他与困难职工群体帮扶无关的支出",
            f("scope_fund"),
        ),
        r(
            "二、在“维权支出一困难职工帮扶费”、“补助下级支出一帮扶补助”会计科目中列支与困难职工群体"
            "帮扶无关的支出",
            f("scope_subjects"),
        ),
        r("四、审计结论:", CONCLUSION),
    ),
    footer=("主审", "审计人员", "填表日期"),
    rules=("SPEND_OUT_OF_SCOPE", "LEDGER_MISMATCH"),
    sheets=("ledger", "payments"),
    pending="摘要未列明用途的支出的实际用途",
)


# ---------------------------------------------------------------- 十八 (unit level)
PRECISION = Layout(
    no="十八",
    num=18,
    key="precision",
    title="救助金精准发放情况审定表",
    sheet="十八 精准发放",
    header=(("序号", 1), ("审计事项", 1), ("审计认定事实", 1)),
    widths=(6, 40, 56),
    extra_meta=("单位: 元",),
    rows=(
        r("一", "生活救助:", ""),
        r("", "(一) 救助标准", f("standard", "生活救助")),
        r("", "(二) 是否按困难程度分档或者差额发放救助金", f("tiered", "生活救助")),
        r("", "(三) 是否按相同金额发放救助金及其金额", f("same_amount", "生活救助")),
        r("", "(四) 当地同期低保标准", f("dibao")),
        r("二", "助学救助:", ""),
        r("", "(一) 救助标准", f("standard", "助学救助")),
        r("", "(二) 是否按困难程度分档发放救助金", f("tiered", "助学救助")),
        r("", "(三) 是否按相同金额发放救助金及其金额", f("same_amount", "助学救助")),
        r("", "(四) 当地同期民政部门教育救助标准", f("civil_standard", "edu")),
        r("三", "医疗救助:", ""),
        r("", "(一) 救助标准", f("standard", "医疗救助")),
        r("", "(二) 是否按困难程度分档发放救助金", f("tiered", "医疗救助")),
        r("", "(三) 是否按相同金额发放救助金及其金额", f("same_amount", "医疗救助")),
        r("", "(四) 当地同期民政部门医疗救助标准", f("civil_standard", "medical")),
        r("四", "审计结论:", CONCLUSION),
    ),
    rules=(
        "PAY_FLAT_AMOUNT",
        "PAY_OVER_STANDARD",
        "PAY_DUPLICATE",
        "PAY_CASH",
        "PAY_SHARED_ACCOUNT",
        "PAY_STAFF_RELATED",
    ),
    sheets=("payments", "unit_standards", "archive", "staff"),
)

# ---------------------------------------------------------------- 十九 … 二十一 (per payee)
_PAY_RULES = (
    "PAY_OVER_STANDARD",
    "PAY_DUPLICATE",
    "PAY_UNARCHIVED",
    "PAY_OUTSIDE_ARCHIVE_PERIOD",
    "PAY_CASH",
    "PAY_SHARED_ACCOUNT",
    "PAY_STAFF_RELATED",
    "ID_INVALID",
)


def _assistance(no, num, key, title, sheet, category, civil_label, civil_key):
    return Layout(
        no=no,
        num=num,
        key=key,
        title=title,
        sheet=sheet,
        header=(("序号", 1), ("审计事项", 1), ("审计认定事实", 1)),
        widths=(6, 42, 54),
        subject="payer",
        category=category,
        rows=(
            r("一", "建档程序是否合规, 家庭经济状况核查是否合规", f("payer_archive")),
            r("二", "救助标准", f("payer_standard")),
            r("三", "实际发放金额", f("payer_paid")),
            r("四", "年度人均救助水平 (元/人)", f("per_capita")),
            r("五", "是否超标准发放救助金", f("payer_over")),
            r("六", civil_label, f(civil_key[0], *civil_key[1:])),
            r("七", "审计结论:", CONCLUSION),
        ),
        rules=_PAY_RULES,
        sheets=("payments", "archive", "unit_standards"),
    )


LIVING = _assistance(
    "十九",
    19,
    "living",
    "生活救助审定表",
    "十九 生活救助",
    "生活救助",
    "当地同期低保标准",
    ("dibao",),
)
EDUCATION = _assistance(
    "二十",
    20,
    "education",
    "助学救助审定表",
    "二十 助学救助",
    "助学救助",
    "当地同期民政部门教育救助标准",
    ("civil_standard", "edu"),
)
MEDICAL = Layout(
    no="二十一",
    num=21,
    key="medical",
    title="医疗救助审定表",
    sheet="二十一 医疗救助",
    header=(("序号", 1), ("审计事项", 1), ("审计认定事实", 1)),
    widths=(6, 42, 54),
    subject="payer",
    category="医疗救助",
    rows=(
        r("一", "建档程序是否合规，家庭经济状况核查是否合规", f("payer_archive")),
        r("二", "救助标准", f("payer_standard")),
        r("三", "实际发放金额", f("payer_paid")),
        r("四", "实际发放金额占全部医保自费医药费的比例", f("med_share")),
        r("五", "医药费票据是否全部为医保票据", f("med_receipts", "type")),
        r("六", "医药费票据是否全部为当年票据", f("med_receipts", "year")),
        r("七", "当地工会年度人均医疗救助水平（元/人）", f("per_capita")),
        r("八", "是否超标准发放救助金", f("payer_over")),
        r("九", "当地同期民政部门医疗救助标准", f("civil_standard", "medical")),
        r("十", "审计结论:", CONCLUSION),
    ),
    rules=_PAY_RULES + ("MED_NON_INSURANCE_RECEIPT", "MED_RECEIPT_WRONG_YEAR", "MED_OVER_SELF_PAY"),
    sheets=("payments", "archive", "unit_standards"),
)
