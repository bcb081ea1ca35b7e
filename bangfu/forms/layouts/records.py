"""The per-record forms of the households' 建档 and 退档: 十一 十二, 十四 … 十七 (with the two
exit surveys).
"""

from __future__ import annotations

from bangfu.forms.layouts.common import CONCLUSION, Layout, f, r
from bangfu.sheets import ARCHIVE_STEPS

# ---------------------------------------------------------------- 十一 十二 (per record)
_ARCHIVE_STEP_LABELS = (
    "(一) 困难职工本人提出书面申请, 提交劳动合同、身份证明、家庭经济状况等证明材料, 签署承诺书",
    "(二) 入户调查",
    "(三) 基层工会审批",
    "(四) 上级工会审核",
    "(五) 数据比对",
    "(六) 公示",
    "(七) 审批",
    "(八) 建档",
)

ARCHIVING = Layout(
    no="十一",
    num=11,
    key="archiving",
    title="建档程序审定表",
    sheet="十一 建档程序",
    header=(("序号", 1), ("审计事项", 1), ("审计认定事项", 1)),
    widths=(6, 46, 50),
    subject="archived",
    rows=(r("一", "下列程序是否履行, 证明材料是否齐全、有效:", ""),)
    + tuple(
        r("", label, f("step", "建档", step))
        for label, step in zip(_ARCHIVE_STEP_LABELS, ARCHIVE_STEPS, strict=True)
    )
    + (r("二", "审计结论:", CONCLUSION),),
    rules=(
        "ARCHIVE_PROCEDURE_INCOMPLETE",
        "ARCHIVE_PUBLICITY_SHORT",
        "DUPLICATE_ARCHIVE",
        "ID_INVALID",
    ),
    sheets=("archive", "procedures"),
)

_ECON_LABELS = (
    ("（一）共用生活家庭成员", "共同生活家庭成员"),
    ("（二）家庭月（年）收入", "家庭收入"),
    ("（三）家庭主要支出", "家庭主要支出"),
    ("（四）家庭住址", "家庭住址"),
    ("（五）申请人劳动合同", "劳动合同"),
    ("（六）银行存款", "银行存款"),
    ("（七）有价证券", "有价证券"),
    ("（八）债权", "债权"),
    ("（九）房产", "房产"),
    ("（十）机动车（船）", "机动车"),
    ("（十一）其他财产", "其他财产"),
)
ECONOMY = Layout(
    no="十二",
    num=12,
    key="economy",
    title="家庭经济状况核对情况审定表",
    sheet="十二 家庭经济状况",
    header=(("序号", 1), ("审计事项", 1), ("审计认定事项", 1)),
    widths=(6, 40, 56),
    subject="archived",
    rows=(r("一", "下列证明材料是否齐全、有效:", ""),)
    + tuple(r("", label, f("econ_item", item)) for label, item in _ECON_LABELS)
    + (
        r("二", "是否开展数据比对，比对结果是否相符", f("econ_compare")),
        r("三", "建档后定期信息比对情况", f("pending")),
        r("四", "审计结论（是否符合建档条件）：", CONCLUSION),
    ),
    rules=("ECON_CHECK_INCOMPLETE", "ECON_CHECK_MISMATCH", "ARCHIVE_INCOME_OVER_LINE"),
    sheets=("archive", "econ_checks", "procedures"),
    pending="建档后定期信息比对情况",
)


# ---------------------------------------------------------------- 十四 … 十七 (per record)
_EXIT_STEP_LABELS = (
    (
        "（一）困难职工本人书面申请或者工会依据动态管理认定困难职工不符合救助条件的文书",
        "退档申请或认定",
    ),
    ("（二）基层工会入户调查", "入户调查"),
    ("（三）上级工会审核确认", "上级工会审核确认"),
    ("（四）数据比对", "数据比对"),
    ("（五）公示", "公示"),
    ("（六）审批", "审批"),
    ("（七）将退档情况书面通知职工本人", "书面通知"),
)
EXIT = Layout(
    no="十四",
    num=14,
    key="exit",
    title="退档程序审定表",
    sheet="十四 退档程序",
    header=(("序号", 1), ("审计事项", 1), ("审计认定事实", 1)),
    widths=(6, 46, 50),
    subject="exited",
    rows=(r("一", "下列程序是否履行，证明材料是否齐全、有效：", ""),)
    + tuple(r("", label, f("step", "退档", step)) for label, step in _EXIT_STEP_LABELS)
    + (r("二", "审计结论：", CONCLUSION),),
    rules=("EXIT_PROCEDURE_INCOMPLETE",),
    sheets=("archive", "procedures"),
)

RELIEF = Layout(
    no="十五",
    num=15,
    key="relief",
    title="脱困情况审定表",
    sheet="十五 脱困情况",
    header=(("审计事项", 1), ("审计认定事实", 1)),
    widths=(40, 62),
    subject="exited_relief",
    rows=(
        r("1. 致困原因", f("causes")),
        r("2. 救助措施", f("measures")),
        r("3. 退出标准", f("exit_standard")),
        r("4. 致困原因是否消除，证明材料是否齐全、有效。", f("cause_eliminated")),
        r("5. 退出程序是否合规", f("exit_procedure")),
        r("审计结论:", CONCLUSION),
    ),
    rules=("EXIT_CAUSE_NOT_ELIMINATED", "EXIT_PROCEDURE_INCOMPLETE"),
    sheets=("archive", "procedures", "payments"),
)

_LIVING = (
    "5. 当前生活状况：家庭人均收入能否达到低保，是否存在无法负担的大额支出，能否达到“不愁吃、"
    "不愁穿，义务教育、基本医疗和住房安全有保障”"
)


def _survey(no, num, key, title, sheet, mode, item3, last):
    return Layout(
        no=no,
        num=num,
        key=key,
        title=title,
        sheet=sheet,
        header=(("审计事项", 1), ("审计认定事实", 1)),
        widths=(48, 54),
        subject="survey",
        survey_mode=mode,
        rows=(
            r("1. 是否收到书面退档通知", f("survey", "got_notice")),
            r("2. 是否了解退档原因", f("survey", "knows_reason")),
            r(item3, f("survey", "agrees")),
            r("4. 退档后是否有工会干部回访", f("survey", "revisited")),
            r(_LIVING, f("survey", "living_ok")),
            r("6. 对工会的困难职工帮扶工作是否满意。", f("survey", "satisfaction")),
            r(last, CONCLUSION),
        ),
        rules=("EXIT_NO_NOTICE",),
        sheets=("followup", "archive"),
        pending=f"未{mode}调查的事项",
    )


PHONE = _survey(
    "十六",
    16,
    "phone_survey",
    "退档（脱困）职工电话调查表",
    "十六 电话调查",
    "电话",
    "3. 是否认同工会做出退档决定，退档时致困原因是否得到消除",
    "审计结论：",
)
VISIT = _survey(
    "十七",
    17,
    "home_survey",
    "退档（脱困）职工入户调查表",
    "十七 入户调查",
    "入户",
    "3. 是否认同工会做出退档决定，退档时致困因素是否得到消除",
    "6. 审计结论：",
)
