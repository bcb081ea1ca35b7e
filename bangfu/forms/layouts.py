"""The seventeen forms of the seed's 第六章 (五 through 二十一) as layout descriptions.

A layout is data: title, the table header, the numbered 审计事项 rows in the seed's order and
wording, and for each 审计认定事实 cell the fact (``F``) that fills it. ``facts.py`` computes the
facts; ``writer.py`` renders any layout. Punctuation (half- or full-width) is the seed's own, form
by form, quirks included (开支范围 has no 三; 预算管理 numbers 审计结论 六 again; 入户调查表 numbers it 6).

Row cells, left to right: a ``str`` is a label, ``S(text, span)`` a label spanning columns, ``F`` a
fact; the last cell of a row stretches to the table's right edge. Equal labels in consecutive rows
of one column are merged vertically by the writer (the seed's grouped cells). ``Each`` repeats its
rows once per audited year ("year") or per audited year plus the next ("target_year"), with
``{year}`` in labels replaced and the year passed to the facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bangfu.sheets import ARCHIVE_STEPS


@dataclass(frozen=True)
class F:
    """A fact reference: the name of a fact function in ``facts.FACTS`` and its arguments."""

    key: str
    args: tuple = ()


def f(key: str, *args) -> F:
    return F(key, tuple(args))


@dataclass(frozen=True)
class S:
    """A label spanning ``span`` columns."""

    text: str
    span: int = 1


@dataclass(frozen=True)
class Row:
    cells: tuple


@dataclass(frozen=True)
class Each:
    over: str  # "year" | "target_year"
    rows: tuple[Row, ...]


def r(*cells) -> Row:
    return Row(tuple(cells))


CONCLUSION = f("conclusion")
UNIT_META = ("被审计单位",)
HOUSEHOLD_META = ("被审计单位", "困难职工姓名", "身份证号码", "联系电话")
FOOTER = ("主审", "审计人员", "编制日期")


@dataclass(frozen=True)
class Layout:
    no: str  # the seed's number: 五 … 二十一
    num: int  # 5 … 21 (索引号 DG-05 …)
    key: str
    title: str
    sheet: str  # xlsx sheet name (≤ 31 characters)
    header: tuple[tuple[str, int], ...]  # table header cells (text, span)
    widths: tuple[float, ...]  # column widths (Excel characters)
    rows: tuple
    subject: str = "unit"  # unit | archived | exited | exited_relief | survey | payer
    category: str | None = None  # payer forms: the 救助项目
    survey_mode: str | None = None  # 电话 / 入户 for the two 调查表
    meta: tuple[str, ...] = UNIT_META
    extra_meta: tuple[str, ...] = ()  # e.g. 评估年度, 单位: 元
    footer: tuple[str, ...] = FOOTER
    rules: tuple[str, ...] = ()  # rule codes whose findings the 审计结论 states
    sheets: tuple[str, ...] = ()  # ledger sheets read (for the 底稿's 审计过程)
    pending: str = ""  # what the data cannot answer (named in the conclusion)
    item: str = field(default="")  # 审计事项 name for the 底稿

    @property
    def ncols(self) -> int:
        return len(self.widths)

    @property
    def per_household(self) -> bool:
        return self.subject != "unit"

    @property
    def index(self) -> str:
        return f"DG-{self.num:02d}"


# ---------------------------------------------------------------- 五 … 十 (unit level)
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
    meta=HOUSEHOLD_META,
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
    meta=HOUSEHOLD_META,
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
    meta=HOUSEHOLD_META,
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
    meta=HOUSEHOLD_META,
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
        meta=HOUSEHOLD_META,
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
        meta=HOUSEHOLD_META,
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
    meta=HOUSEHOLD_META,
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

FORMS: tuple[Layout, ...] = (
    TARGETS,
    EVALUATION,
    FOUR_BATCHES,
    PROJECTS,
    COVERAGE,
    BUDGET,
    ARCHIVING,
    ECONOMY,
    SCOPE,
    EXIT,
    RELIEF,
    PHONE,
    VISIT,
    PRECISION,
    LIVING,
    EDUCATION,
    MEDICAL,
)


# ---------------------------------------------------------------- rules: problem, home form, data
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
