"""Each rule as the forms and the report present it: the problem's title, its home form (the form
whose 底稿 holds the rule's 取证单), the ledger sheets without which it cannot fire, and the 整改意见.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleInfo:
    title: str  # the problem, as a report heading states it
    home: int  # the form whose 底稿 holds the rule's 取证单 (QZ-<home>-nn)
    needs: tuple[str, ...]  # ledger sheets without which the rule cannot fire
    advice: str  # 整改意见 / 审计建议


RULES: dict[str, RuleInfo] = {
    "PAY_UNARCHIVED": RuleInfo(
        "违反“依档帮扶”原则，向未建档人员发放帮扶资金",
        8,
        ("payments", "archive"),
        "严格执行“先建档、后帮扶、实名制”，清理向未建档人员发放的资金，追回违规发放款项。",
    ),
    "PAY_OUTSIDE_ARCHIVE_PERIOD": RuleInfo(
        "在建档前或退档后发放帮扶资金",
        8,
        ("payments", "archive"),
        "发放前核对救助对象的在档状态，对建档前、退档后发放的资金予以清理追回。",
    ),
    "PAY_UNLISTED_PROJECT": RuleInfo(
        "自行设立救助项目，扩大帮扶资金使用范围",
        8,
        ("payments",),
        "严格按照规定的救助项目使用帮扶资金，停止自行设立的救助项目，已列支的资金予以调整归垫。",
    ),
    "PAY_OVER_STANDARD": RuleInfo(
        "超标准发放救助金",
        18,
        ("payments", "archive"),
        "严格按照救助标准和低保标准核定救助金额，对超标准发放部分予以清理。",
    ),
    "PAY_DUPLICATE": RuleInfo(
        "重复发放救助金",
        18,
        ("payments",),
        "核实重复发放情况，追回重复发放的资金，完善发放前的查重控制。",
    ),
    "PAY_CASH": RuleInfo(
        "以现金方式发放帮扶资金",
        18,
        ("payments",),
        "帮扶资金一律通过银行账户发放到救助对象本人，减少现金发放。",
    ),
    "PAY_SHARED_ACCOUNT": RuleInfo(
        "多名救助对象共用同一收款账号",
        18,
        ("payments",),
        "核实共用账号的收款人身份，确保救助金发放到救助对象本人账户。",
    ),
    "PAY_STAFF_RELATED": RuleInfo(
        "向工会干部或其关联人员发放救助金（优亲厚友）",
        18,
        ("payments", "staff"),
        "对向工会干部及其关联人员发放的救助金逐笔核实，违规的予以追回并追究责任，建立回避制度。",
    ),
    "PAY_FLAT_AMOUNT": RuleInfo(
        "未按困难程度分档或差额发放生活救助金",
        18,
        ("payments", "archive"),
        "按困难程度分档或差额发放生活救助金，提高救助精准度。",
    ),
    "MED_NON_INSURANCE_RECEIPT": RuleInfo(
        "依据非医保票据发放医疗救助金",
        21,
        ("payments",),
        "医疗救助应以医保票据为依据，核实非医保票据对应的支出。",
    ),
    "MED_RECEIPT_WRONG_YEAR": RuleInfo(
        "依据非当年票据发放医疗救助金",
        21,
        ("payments",),
        "医疗救助应以当年医药费票据为依据，规范票据审核。",
    ),
    "MED_OVER_SELF_PAY": RuleInfo(
        "医疗救助金额超过医保报销后个人自付金额",
        21,
        ("payments",),
        "医疗救助金额不得超过医保报销后个人自付部分，超出部分予以追回。",
    ),
    "ID_INVALID": RuleInfo(
        "救助对象身份证号码无效",
        11,
        ("payments", "archive"),
        "核实并更正救助对象身份信息，确保实名制发放。",
    ),
    "ARCHIVE_INCOME_OVER_LINE": RuleInfo(
        "将不符合建档条件的职工纳入困难职工档案",
        12,
        ("archive",),
        "对不符合建档条件的档案进行复核，不符合条件的予以退档，并追回相应救助资金。",
    ),
    "ARCHIVE_PROCEDURE_INCOMPLETE": RuleInfo(
        "建档程序不完整、证明材料不齐全",
        11,
        ("archive", "procedures"),
        "严格执行建档程序，补齐建档证明材料。",
    ),
    "ARCHIVE_PUBLICITY_SHORT": RuleInfo(
        "建档公示时间不足",
        11,
        ("archive", "procedures"),
        "按规定期限进行建档公示，接受群众监督。",
    ),
    "DUPLICATE_ARCHIVE": RuleInfo(
        "同一职工重复建档",
        11,
        ("archive",),
        "落实“一户一档”，清理重复档案，核实重复领取的救助金。",
    ),
    "ECON_CHECK_INCOMPLETE": RuleInfo(
        "家庭经济状况核查不完整",
        12,
        ("archive", "econ_checks"),
        "建档时全面核查家庭经济状况，补齐核查材料并开展数据比对。",
    ),
    "ECON_CHECK_MISMATCH": RuleInfo(
        "家庭经济状况比对结果不符仍予建档",
        12,
        ("archive", "econ_checks"),
        "对比对不符的档案重新核查，不符合条件的予以退档。",
    ),
    "SPEND_OUT_OF_SCOPE": RuleInfo(
        "在帮扶资金中列支与困难职工帮扶无关的支出",
        13,
        ("ledger",),
        "严格帮扶资金开支范围，将无关支出调出帮扶资金并归垫。",
    ),
    "LEDGER_MISMATCH": RuleInfo(
        "救助发放明细与会计账簿不符（账表不符）",
        13,
        ("ledger", "payments"),
        "核对发放明细与会计凭证，查明差异原因并调整账务。",
    ),
    "EXIT_PROCEDURE_INCOMPLETE": RuleInfo(
        "退档程序不完整、证明材料不齐全",
        14,
        ("archive", "procedures"),
        "严格执行退档程序，补齐退档证明材料。",
    ),
    "EXIT_CAUSE_NOT_ELIMINATED": RuleInfo(
        "致困原因未消除即按脱困退档（疑似错退）",
        15,
        ("archive",),
        "对疑似错退的职工重新入户核查，致困原因未消除的恢复建档并继续帮扶。",
    ),
    "EXIT_NO_NOTICE": RuleInfo(
        "未将退档情况书面通知职工本人",
        16,
        ("followup",),
        "退档时书面通知职工本人并做好回访。",
    ),
    "MISSED_CANDIDATE": RuleInfo(
        "民政低保、特困在职职工未纳入困难职工档案（疑似漏评）",
        9,
        ("archive",),
        "与民政部门开展数据比对，对疑似漏评人员逐一核查，符合条件的及时建档帮扶。",
    ),
    "TARGET_NOT_MET": RuleInfo(
        "未完成年度解困脱困目标",
        5,
        ("targets", "archive"),
        "分析未完成目标的原因，细化解困脱困措施，确保完成年度目标。",
    ),
    "NO_PLAN": RuleInfo(
        "未制定困难职工解困脱困工作方案",
        5,
        ("targets",),
        "制定困难职工解困脱困工作方案、实施细则和规划。",
    ),
    "ALLOCATION_NOT_FACTOR": RuleInfo(
        "帮扶资金分配未采用因素法",
        10,
        ("budget",),
        "采用因素法分配帮扶资金，公开分配公式与因素权重。",
    ),
    "NO_PERFORMANCE_EVALUATION": RuleInfo(
        "未开展帮扶资金绩效评价",
        10,
        ("budget",),
        "制定绩效评价办法和指标，全面开展帮扶资金绩效评价。",
    ),
    "EVAL_RATE_ALERT": RuleInfo(
        "第三方评估漏评率、错退率或群众认可度未达标",
        6,
        ("evaluation",),
        "针对漏评、错退问题开展排查整改，提高群众认可度。",
    ),
}

SEVERITY_ORDER = {"高": 0, "中": 1, "低": 2}


def rule_info(code: str) -> RuleInfo:
    """Known rules from the table; an unknown code gets a neutral entry (its own 取证单 group)."""
    return RULES.get(code) or RuleInfo(
        f"其他审计发现（{code}）", 0, (), "请审计人员核实后提出整改意见。"
    )
