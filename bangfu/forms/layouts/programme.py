"""The unit-level forms 五 … 十: targets, third-party evaluation, “四个一批”, projects, coverage,
budget.
"""

from __future__ import annotations

from bangfu.forms.layouts.common import CONCLUSION, Each, Layout, S, f, r

TARGETS = Layout(
    no="五",
    num=5,
    key="targets",
    title="困难职工解困脱困政策目标完成情况审定表",
    sheet="五 解困脱困目标",
    header=(("序号", 1), ("审计事项", 1), ("审计认定事实", 2)),
    widths=(6, 34, 16, 44),
    rows=(
        r("一", "困难职工解困脱困工作方案、实施细则、规划的制定情况", f("plan")),
        r("二", "困难职工解困脱困年度考核情况", f("assessment")),
        r("三", "年度解困脱困目标", ""),
        Each("target_year", (r("", "{year} 年度：", f("target")),)),
        r("四", "年度解困脱困目标实际完成情况", ""),
        Each(
            "year",
            (
                r("", "{year} 年度", "解困人数：", f("metric", "relieved")),
                r("", "{year} 年度", "脱困人数：", f("metric", "exited_out_of_hardship")),
                r("", "{year} 年度", "年初在档人数：", f("metric", "archived_at_start")),
                r("", "{year} 年度", "年末在档人数：", f("metric", "archived_at_end")),
            ),
        ),
        r("五", "审计结论：", CONCLUSION),
    ),
    rules=("TARGET_NOT_MET", "NO_PLAN"),
    sheets=("targets", "archive"),
    pending="工作方案、实施细则、规划的内容及年度考核的结果",
)

EVALUATION = Layout(
    no="六",
    num=6,
    key="evaluation",
    title="解困脱困成效第三方评估情况审定表",
    sheet="六 第三方评估",
    header=(("审计事项", 2), ("审计认定事项", 1)),
    widths=(26, 24, 52),
    extra_meta=("评估年度",),
    rows=(
        r("一、评估指标的设定是否科学合理", "(一) 漏评率", f("eval_rate", "missed")),
        r("一、评估指标的设定是否科学合理", "(二) 错退率", f("eval_rate", "wrong_exit")),
        r("一、评估指标的设定是否科学合理", "(三) 群众认可度", f("eval_rate", "recognition")),
        r("一、评估指标的设定是否科学合理", "(四) 其他需要关注的指标", f("eval_other", 1)),
        r("一、评估指标的设定是否科学合理", "(四) 其他需要关注的指标", f("eval_other", 2)),
        r("一、评估指标的设定是否科学合理", "(四) 其他需要关注的指标", f("eval_other", 3)),
        r("一、评估指标的设定是否科学合理", "(四) 其他需要关注的指标", f("eval_other", 4)),
        r(S("二、第三方评估结果是否科学合理", 2), f("eval_sound")),
        r(S("三、被审计单位对第三方评估结果的处理情况", 2), f("pending")),
        r(S("四、审计结论:", 2), CONCLUSION),
    ),
    rules=("EVAL_RATE_ALERT",),
    sheets=("evaluation",),
    pending="评估指标设定的合理性、第三方评估结果的处理情况",
)

_PATHS = (
    ("一、通过加强技能培训提供创业援助等方式解困脱困人数。证明材料是否齐全、有效。", "employment"),
    ("二、通过纳入国家社会保险制度方式解困脱困人数。证明材料是否齐全、有效。", "insurance"),
    ("三、通过纳入大病保险和医疗互助保障方式解困脱困人数。证明材料是否齐全、有效。", "medical"),
    ("四、通过社会救助兜底方式解困脱困人数。证明材料是否齐全、有效。", "social_assistance"),
)
FOUR_BATCHES = Layout(
    no="七",
    num=7,
    key="four_batches",
    title="“四个一批”分类帮扶措施落实情况审定表",
    sheet="七 四个一批",
    header=(("审计事项", 2), ("审计认定事实", 1)),
    widths=(40, 14, 48),
    rows=tuple(Each("year", (r(label, "{year} 年度:", f("path", path)),)) for label, path in _PATHS)
    + (r(S("五、审计结论:", 2), CONCLUSION),),
    rules=("EXIT_CAUSE_NOT_ELIMINATED",),
    sheets=("archive", "procedures"),
    pending="以前年度脱困人员的证明材料",
)

PROJECTS = Layout(
    no="八",
    num=8,
    key="projects",
    title="救助项目审定表",
    sheet="八 救助项目",
    header=(("审计项目", 1), ("审计认定事实", 1)),
    widths=(40, 64),
    rows=(
        r("一、生活救助", f("project", "生活救助")),
        r("二、助学救助", f("project", "助学救助")),
        r("三、医疗救助", f("project", "医疗救助")),
        r("四、职业培训和职业介绍", f("project", "职业培训和职业介绍")),
        r("五、法律援助", f("project", "法律援助")),
        r("六、是否扩大救助范围将帮扶资金用于其他事项", f("expand", 1)),
        r("六、是否扩大救助范围将帮扶资金用于其他事项", f("expand", 2)),
        r("六、是否扩大救助范围将帮扶资金用于其他事项", f("expand", 3)),
        r("审计结论:", CONCLUSION),
    ),
    rules=("PAY_UNLISTED_PROJECT", "PAY_UNARCHIVED", "PAY_OUTSIDE_ARCHIVE_PERIOD"),
    sheets=("payments", "archive"),
)

COVERAGE = Layout(
    no="九",
    num=9,
    key="coverage",
    title="应保尽保情况审定表",
    sheet="九 应保尽保",
    header=(("审计项目", 1), ("审计认定事实", 1)),
    widths=(44, 60),
    rows=(
        r(
            "一、内部控制制度以及实际救助过程中是否存在以户籍、会籍等方式将困难职工排除在救助"
            "范围以外的情况。",
            f("hukou_membership"),
        ),
        r("二、是否建立困难职工主动发现机制，能否覆盖到全体城市困难职工。", f("discovery")),
        r(
            "三、上级工会对零申报或不申报困难职工的基层工会是否建立监督检查措施，措施是否有效。",
            f("pending"),
        ),
        r("审计结论:", CONCLUSION),
    ),
    rules=("MISSED_CANDIDATE",),
    sheets=("archive",),
    pending="内部控制制度的内容、主动发现机制和对零申报基层工会的监督检查措施",
)

BUDGET = Layout(
    no="十",
    num=10,
    key="budget",
    title="预算管理与绩效评价审定表",
    sheet="十 预算与绩效",
    header=(("审计项目", 1), ("审计认定事实", 1)),
    widths=(50, 54),
    rows=(
        r("一、是否制定帮扶资金绩效评价办法、指标", f("budget_evaluation", "rules")),
        r("二、是否全面开展绩效评价工作", f("budget_evaluation", "done")),
        r(
            "三、是否实施全程预算绩效管理，把制定绩效目标、开展绩效评价与预算编制、执行、调整、"
            "决算等环节相融合。",
            f("pending"),
        ),
        r(
            "四、资金分配是否采用因素法，因素设置是否合理，是否公开资金分配的公式与因素所占权重，"
            "资金分配能否保证预算编制的科学合理。",
            f("allocation"),
        ),
        r(
            "五、是否把资金作为划分责任的依据，明确本级与下级工会的责任。预算管理是否一抓到底，"
            "分工协作，在程序上保证预算编制的科学合理。",
            f("pending"),
        ),
        r(
            "六、是否把责任追究机制作为预算执行的保障，对结余资金是否收回，对预算编制不科学的单位"
            "是否处理，对违规使用资金是否严肃追责。",
            f("balances"),
        ),
        r("六、审计结论", CONCLUSION),
    ),
    rules=("ALLOCATION_NOT_FACTOR", "NO_PERFORMANCE_EVALUATION"),
    sheets=("budget",),
    pending="绩效评价办法与指标的内容、全程预算绩效管理、责任划分与责任追究",
)
