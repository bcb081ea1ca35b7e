"""The input contract as data: every reference file and ledger sheet of docs/INPUT-LEDGERS.md.

One table of sheet specs, read by one reader (bangfu.readers), written by one generator
(bangfu.generate) and checked by one family of pandera schemas (checks.schemas). Nothing here
imports Dagster.

Column kinds:
- ``text``   free text, spaces stripped at both ends (internal runs kept)
- ``code``   text with every space removed (codes, numbers, enum-like text kept as written)
- ``id``     an ID number: NFKC, spaces and apostrophes stripped, upper-case (see parse.normalise_id)
- ``phone``  a phone number: NFKC, +86 / spaces / dashes stripped
- ``date``   a calendar date in any of the six written forms or an Excel date → pl.Date
- ``amount`` money in 元 → pl.Float64 rounded to the cent
- ``int``    a whole number → pl.Int64
- ``enum``   text with every space removed, compared with ``vocab`` by the schema only where
             ``strict_vocab`` is set (otherwise kept as written; the rules decide what it means)

What each kind means to the pipeline (dtype, parsers, quarantine reasons) is one table:
``bangfu.kinds.KINDS``.
"""

from __future__ import annotations

from dataclasses import dataclass

FUNDS = ("中央财政专项帮扶资金", "送温暖资金", "工会经费", "地方财政")
CATEGORIES = ("生活救助", "助学救助", "医疗救助", "职业培训", "职业介绍", "法律援助", "送温暖")
HARDSHIP_TYPES = ("深度困难", "相对困难", "意外致困")
CAUSES = ("本人大病", "家属大病", "子女教育", "失业", "工伤", "残疾", "收入低", "意外灾害", "其他")
EXIT_PATHS = ("就业创业", "社会保险", "医疗保障", "社会救助兜底")
ARCHIVE_STEPS = (
    "本人申请",
    "入户调查",
    "基层工会审批",
    "上级工会审核",
    "数据比对",
    "公示",
    "审批",
    "建档",
)
EXIT_STEPS = (
    "退档申请或认定",
    "入户调查",
    "上级工会审核确认",
    "数据比对",
    "公示",
    "审批",
    "书面通知",
)
ECON_ITEMS = (
    "共同生活家庭成员",
    "家庭收入",
    "家庭主要支出",
    "家庭住址",
    "劳动合同",
    "银行存款",
    "有价证券",
    "债权",
    "房产",
    "机动车",
    "其他财产",
)
YES_NO = ("是", "否")
HAVE = ("有", "无")
SATISFACTION = ("满意", "基本满意", "不满意")

# Header synonyms (after space removal). Applies to every sheet unless the column restricts it.
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "身份证号": ("身份证号码", "公民身份号码"),
    "联系电话": ("电话", "手机号码"),
    "金额": ("发放金额", "救助金额"),
    "凭证号": ("凭证编号",),
    "档案编号": ("档案号",),
    "家庭年收入": ("家庭年总收入",),
    "救助项目": ("帮扶项目",),
}
# 发放日期 = 日期 holds in the payments sheet only.
PAYMENT_ONLY_SYNONYMS: dict[str, tuple[str, ...]] = {"发放日期": ("日期",)}

# Value synonyms taken from the seed's forms.
VALUE_SYNONYMS: dict[str, str] = {
    "共用生活家庭成员": "共同生活家庭成员",
    "家庭月（年）收入": "家庭收入",
    "家庭月(年)收入": "家庭收入",
    "申请人劳动合同": "劳动合同",
    "机动车（船）": "机动车",
    "机动车(船)": "机动车",
    "基层工会入户调查": "入户调查",
}

# First cells that mark a total row (skipped, counted apart).
TOTAL_MARKERS = ("合计", "总计", "小计", "本月合计", "本年累计")


@dataclass(frozen=True)
class Column:
    header: str  # the contract's Chinese header
    name: str  # canonical English name
    kind: str  # text | code | id | phone | date | amount | int | enum
    required: bool = False  # column must exist, and an empty value quarantines the row
    must_exist: bool = False  # column must exist even though empty cells are allowed
    vocab: tuple[str, ...] = ()
    strict_vocab: bool = False  # a value outside vocab quarantines the row
    min_value: float | None = None  # amounts / ints: inclusive lower bound
    gt_value: float | None = None  # amounts: exclusive lower bound (payments: > 0)
    synonyms: tuple[str, ...] = ()  # extra header synonyms for this column only
    empty_as_zero: bool = False  # amounts: an empty cell reads as 0, so the value is never null
    pattern: str | None = None  # a regular expression every non-null value matches


@dataclass(frozen=True)
class SheetSpec:
    key: str  # canonical name, lake folder name
    title: str  # Chinese sheet name (xlsx sheet name, CSV file stem)
    columns: tuple[Column, ...]
    required: bool = False  # required sheet of the ledger
    unique_keys: tuple[str, ...] = ()  # keys that should be unique: repeats are a warning

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[Column]:
        """Columns that must be present in the sheet (else the sheet is rejected)."""
        return [c for c in self.columns if c.required or c.must_exist]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def header_aliases(self) -> dict[str, str]:
        """Every accepted header spelling (spaces removed) → canonical name."""
        out: dict[str, str] = {}
        for c in self.columns:
            out[c.header] = c.name
            for s in HEADER_SYNONYMS.get(c.header, ()) + c.synonyms:
                out[s] = c.name
            if self.key == "payments":
                for s in PAYMENT_ONLY_SYNONYMS.get(c.header, ()):
                    out[s] = c.name
        return out


C = Column

# ---------------------------------------------------------------- reference files
UNITS = SheetSpec(
    key="units",
    title="机构名录",
    columns=(
        C("单位代码", "unit_code", "code", required=True, pattern=r"^[0-9]{6}$"),
        C("单位名称", "unit_name", "text", required=True),
        C("级别", "level", "enum", required=True, vocab=("省", "市", "县"), strict_vocab=True),
        # required *column*; an empty value is a province
        C("上级单位代码", "parent_code", "code", must_exist=True),
    ),
)
STANDARDS = SheetSpec(
    key="standards",
    title="民政标准",
    columns=(
        C("区划代码", "region_code", "code", required=True),
        C("年度", "year", "int", required=True),
        C("城市低保标准", "dibao_monthly", "amount", required=True, gt_value=0),
        C("教育救助标准", "edu_standard", "amount"),
        C("医疗救助标准", "medical_standard", "amount"),
    ),
)
CIVIL_ROSTER = SheetSpec(
    key="civil_roster",
    title="民政比对名单",
    columns=(
        C("身份证号", "id_number", "id", required=True),
        C("姓名", "name", "text"),
        C("救助类型", "roster_type", "enum", required=True, vocab=("低保", "特困", "低收入")),
        C("家庭人均月收入", "income_per_capita_monthly", "amount"),
        C("工作单位", "employer", "text"),
        C("区划代码", "region_code", "code", required=True),
    ),
)

# ---------------------------------------------------------------- ledger sheets
ARCHIVE = SheetSpec(
    key="archive",
    title="困难职工档案",
    required=True,
    unique_keys=("archive_no",),
    columns=(
        C("档案编号", "archive_no", "code", required=True),
        C("姓名", "name", "text", required=True),
        C("身份证号", "id_number", "id", required=True),
        C("联系电话", "phone", "phone"),
        C("工作单位", "employer", "text"),
        C("家庭住址", "address", "text"),
        C("户籍类型", "hukou", "enum", vocab=("城镇", "农村")),
        C("是否工会会员", "is_member", "enum", vocab=YES_NO),
        C("困难类别", "hardship_type", "enum", required=True, vocab=HARDSHIP_TYPES),
        C("致困原因", "causes", "enum", vocab=CAUSES),
        C("家庭人口", "household_size", "int", required=True, min_value=1),
        C("家庭年收入", "household_income", "amount", required=True, min_value=0),
        C("建档日期", "archived_on", "date", required=True),
        C("解困日期", "relieved_on", "date"),
        C("档案状态", "status", "enum", required=True, vocab=("在档", "已退档")),
        C("退档日期", "exited_on", "date"),  # required when 已退档 (checked by the schema)
        C("退档原因", "exit_reason", "enum", vocab=("脱困", "不符合条件", "死亡", "其他")),
        C("脱困方式", "exit_path", "enum", vocab=EXIT_PATHS),  # required when reason 脱困
        C("退档时家庭年收入", "income_at_exit", "amount"),
    ),
)
PROCEDURES = SheetSpec(
    key="procedures",
    title="程序记录",
    columns=(
        C("档案编号", "archive_no", "code", required=True),
        C("程序", "procedure", "enum", required=True, vocab=("建档", "退档")),
        C("环节", "step", "enum", required=True, vocab=ARCHIVE_STEPS + EXIT_STEPS),
        C("完成日期", "done_on", "date"),
        C("证明材料", "evidence", "enum", vocab=HAVE),
        C("公示天数", "publicity_days", "int"),
    ),
)
ECON_CHECKS = SheetSpec(
    key="econ_checks",
    title="经济状况核查",
    columns=(
        C("档案编号", "archive_no", "code", required=True),
        C("核查项目", "item", "enum", required=True, vocab=ECON_ITEMS),
        C("是否提供", "provided", "enum", required=True, vocab=YES_NO),
        C("比对结果", "match_result", "enum", vocab=("相符", "不符", "未比对")),
    ),
)
PAYMENTS = SheetSpec(
    key="payments",
    title="救助发放明细",
    required=True,
    unique_keys=("payment_no", "voucher_no"),
    columns=(
        C("发放编号", "payment_no", "code", required=True),
        C("发放日期", "paid_on", "date", required=True),
        C("档案编号", "archive_no", "code"),
        C("姓名", "name", "text"),
        C("身份证号", "id_number", "id", required=True),
        C("救助项目", "category", "enum", required=True, vocab=CATEGORIES),
        C("资金来源", "fund", "enum", required=True, vocab=FUNDS),
        C("金额", "amount", "amount", required=True, gt_value=0),
        C("发放方式", "method", "enum", vocab=("银行转账", "现金", "实物")),
        C("收款账号", "account_no", "code"),
        C("凭证号", "voucher_no", "code"),
        C("医药费总额", "med_total", "amount"),
        C("医保报销后自付金额", "med_self_pay", "amount"),
        C("票据类型", "receipt_type", "enum", vocab=("医保票据", "非医保票据")),
        C("票据年度", "receipt_year", "int"),
        C(
            "就读阶段",
            "school_stage",
            "enum",
            vocab=("义务教育", "高中", "中职", "大专", "本科", "研究生"),
        ),
    ),
)
LEDGER = SheetSpec(
    key="ledger",
    title="会计明细账",
    required=True,
    columns=(
        C("凭证日期", "posted_on", "date"),
        C("凭证号", "voucher_no", "code", required=True),
        C("科目编码", "account_code", "code"),
        C("科目名称", "account_name", "text", required=True),
        C("摘要", "memo", "text", required=True),
        # required columns whose empty cells mean 0
        C("借方金额", "debit", "amount", must_exist=True, empty_as_zero=True),
        C("贷方金额", "credit", "amount", must_exist=True, empty_as_zero=True),
        C("资金来源", "fund", "enum", vocab=FUNDS),
    ),
)
UNIT_STANDARDS = SheetSpec(
    key="unit_standards",
    title="救助标准",
    columns=(
        C("救助项目", "category", "enum", required=True, vocab=CATEGORIES),
        C("困难类别", "hardship_type", "enum", required=True, vocab=HARDSHIP_TYPES),
        C("年度标准上限", "annual_cap", "amount", required=True, min_value=0),
    ),
)
TARGETS = SheetSpec(
    key="targets",
    title="解困脱困目标",
    columns=(
        # named apart from the meta column `year` (the ledger's year): a 2019 ledger may hold
        # the 2020 targets too
        C("年度", "target_year", "int", required=True),
        C("目标解困人数", "target_relieved", "int", required=True, min_value=0),
        C("目标脱困人数", "target_exited", "int", required=True, min_value=0),
        C("工作方案", "has_plan", "enum", vocab=HAVE),
        C("年度考核", "has_assessment", "enum", vocab=HAVE),
    ),
)
EVALUATION = SheetSpec(
    key="evaluation",
    title="第三方评估",
    columns=(
        C("样本编号", "sample_no", "code"),
        C("身份证号", "id_number", "id"),
        C("姓名", "name", "text"),
        C(
            "样本类型",
            "sample_type",
            "enum",
            required=True,
            vocab=("在档户", "退档户", "非建档户"),
            strict_vocab=True,
        ),
        C(
            "评估结论",
            "verdict",
            "enum",
            required=True,
            vocab=("符合", "错评", "错退", "漏评"),
            strict_vocab=True,
        ),
        C("满意度", "satisfaction", "enum", vocab=SATISFACTION),
    ),
)
FOLLOWUP = SheetSpec(
    key="followup",
    title="退档回访",
    columns=(
        C("档案编号", "archive_no", "code", required=True),
        C("调查方式", "survey_mode", "enum", vocab=("电话", "入户")),
        C("调查日期", "surveyed_on", "date"),
        C("收到书面通知", "got_notice", "enum", required=True, vocab=YES_NO),
        C("了解退档原因", "knows_reason", "enum", vocab=YES_NO),
        C("认同退档决定", "agrees", "enum", vocab=YES_NO),
        C("有工会回访", "revisited", "enum", vocab=YES_NO),
        C("生活状况达标", "living_ok", "enum", vocab=YES_NO),
        C("满意度", "satisfaction", "enum", vocab=SATISFACTION),
    ),
)
STAFF = SheetSpec(
    key="staff",
    title="工会干部",
    columns=(
        C("姓名", "name", "text", required=True),
        C("身份证号", "id_number", "id", required=True),
        C("职务", "post", "text"),
        C("联系电话", "phone", "phone"),
        C("家庭住址", "address", "text"),
    ),
)
BUDGET = SheetSpec(
    key="budget",
    title="预算执行",
    columns=(
        C("资金来源", "fund", "enum", required=True, vocab=FUNDS),
        C("年初结余", "opening_balance", "amount"),
        C("本年收入", "received", "amount"),
        C("本年支出", "spent", "amount"),
        C("年末结余", "closing_balance", "amount"),
        C("收回结余", "recovered", "amount"),
        C("分配方法", "allocation_method", "enum", vocab=("因素法", "平均分配", "其他")),
        C("绩效评价", "has_evaluation", "enum", vocab=HAVE),
    ),
)

LEDGER_SHEETS: tuple[SheetSpec, ...] = (
    ARCHIVE,
    PROCEDURES,
    ECON_CHECKS,
    PAYMENTS,
    LEDGER,
    UNIT_STANDARDS,
    TARGETS,
    EVALUATION,
    FOLLOWUP,
    STAFF,
    BUDGET,
)
REFERENCE_SHEETS: tuple[SheetSpec, ...] = (UNITS, STANDARDS, CIVIL_ROSTER)
SHEETS_BY_KEY = {s.key: s for s in LEDGER_SHEETS + REFERENCE_SHEETS}
SHEETS_BY_TITLE = {s.title: s for s in LEDGER_SHEETS}
