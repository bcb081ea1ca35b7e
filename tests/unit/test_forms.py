"""Audit forms: the seventeen 审定表 / 调查表 of the seed's 第六章, 底稿, 取证单 and the draft report.

Inputs are built by hand here: one county with findings of several rules and metrics for
2017–2019. SEED_ITEMS are the 审计事项 cells of each form as the seed's 第六章 writes them (taken
from the seed text, in its order and wording).
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from docx import Document
from openpyxl import load_workbook

from bangfu.forms import write_unit_report, write_unit_workbook
from bangfu.forms.layouts import FORMS
from bangfu.frames import FINDINGS_SCHEMA, METRICS_SCHEMA, sheet_schema
from bangfu.sheets import SHEETS_BY_KEY
from tests.support.office import office_program, to_pdf

YEAR = 2019
UNIT = {"unit_code": "330102", "unit_name": "上城区总工会", "level": "县", "parent_code": "330100"}
HOSTILE = '=HYPERLINK("http://x","y")'

SEED_ITEMS = {
    "困难职工解困脱困政策目标完成情况审定表": [
        "一",
        "困难职工解困脱困工作方案、实施细则、规划的制定情况",
        "二",
        "困难职工解困脱困年度考核情况",
        "三",
        "年度解困脱困目标",
        "2017 年度：",
        "2018 年度：",
        "2019 年度：",
        "2020 年度：",
        "四",
        "年度解困脱困目标实际完成情况",
        "2017 年度",
        "解困人数：",
        "脱困人数：",
        "年初在档人数：",
        "年末在档人数：",
        "2018 年度",
        "解困人数：",
        "脱困人数：",
        "年初在档人数：",
        "年末在档人数：",
        "2019 年度",
        "解困人数：",
        "脱困人数：",
        "年初在档人数：",
        "年末在档人数：",
        "五",
        "审计结论：",
    ],
    "解困脱困成效第三方评估情况审定表": [
        "一、评估指标的设定是否科学合理",
        "(一) 漏评率",
        "(二) 错退率",
        "(三) 群众认可度",
        "(四) 其他需要关注的指标",
        "二、第三方评估结果是否科学合理",
        "三、被审计单位对第三方评估结果的处理情况",
        "四、审计结论:",
    ],
    "“四个一批”分类帮扶措施落实情况审定表": [
        "一、通过加强技能培训提供创业援助等方式解困脱困人数。证明材料是否齐全、有效。",
        "2017 年度:",
        "2018 年度:",
        "2019 年度:",
        "二、通过纳入国家社会保险制度方式解困脱困人数。证明材料是否齐全、有效。",
        "2017 年度:",
        "2018 年度:",
        "2019 年度:",
        "三、通过纳入大病保险和医疗互助保障方式解困脱困人数。证明材料是否齐全、有效。",
        "2017 年度:",
        "2018 年度:",
        "2019 年度:",
        "四、通过社会救助兜底方式解困脱困人数。证明材料是否齐全、有效。",
        "2017 年度:",
        "2018 年度:",
        "2019 年度:",
        "五、审计结论:",
    ],
    "救助项目审定表": [
        "一、生活救助",
        "二、助学救助",
        "三、医疗救助",
        "四、职业培训和职业介绍",
        "五、法律援助",
        "六、是否扩大救助范围将帮扶资金用于其他事项",
        "审计结论:",
    ],
    "应保尽保情况审定表": [
        "一、内部控制制度以及实际救助过程中是否存在以户籍、会籍等方式将困难职工排除在救助范围以外的情况。",
        "二、是否建立困难职工主动发现机制，能否覆盖到全体城市困难职工。",
        "三、上级工会对零申报或不申报困难职工的基层工会是否建立监督检查措施，措施是否有效。",
        "审计结论:",
    ],
    "建档程序审定表": [
        "一",
        "下列程序是否履行, 证明材料是否齐全、有效:",
        "(一) 困难职工本人提出书面申请, 提交劳动合同、身份证明、家庭经济状况等证明材料, 签署承诺书",
        "(二) 入户调查",
        "(三) 基层工会审批",
        "(四) 上级工会审核",
        "(五) 数据比对",
        "(六) 公示",
        "(七) 审批",
        "(八) 建档",
        "二",
        "审计结论:",
    ],
    "家庭经济状况核对情况审定表": [
        "一",
        "下列证明材料是否齐全、有效:",
        "（一）共用生活家庭成员",
        "（二）家庭月（年）收入",
        "（三）家庭主要支出",
        "（四）家庭住址",
        "（五）申请人劳动合同",
        "（六）银行存款",
        "（七）有价证券",
        "（八）债权",
        "（九）房产",
        "（十）机动车（船）",
        "（十一）其他财产",
        "二",
        "是否开展数据比对，比对结果是否相符",
        "三",
        "建档后定期信息比对情况",
        "四",
        "审计结论（是否符合建档条件）：",
    ],
    "开支范围情况审定表": [
        "一、在帮扶资金中列支：帮扶中心工作人员工资或办公费用；发放各种奖金、津贴和福利补助；购买车辆、手机等交通工具及通讯设备；帮扶中心基本建设投资；其他与困难职工群体帮扶无关的支出",
        "二、在“维权支出一困难职工帮扶费”、“补助下级支出一帮扶补助”会计科目中列支与困难职工群体帮扶无关的支出",
        "四、审计结论:",
    ],
    "退档程序审定表": [
        "一",
        "下列程序是否履行，证明材料是否齐全、有效：",
        "（一）困难职工本人书面申请或者工会依据动态管理认定困难职工不符合救助条件的文书",
        "（二）基层工会入户调查",
        "（三）上级工会审核确认",
        "（四）数据比对",
        "（五）公示",
        "（六）审批",
        "（七）将退档情况书面通知职工本人",
        "二",
        "审计结论：",
    ],
    "脱困情况审定表": [
        "1. 致困原因",
        "2. 救助措施",
        "3. 退出标准",
        "4. 致困原因是否消除，证明材料是否齐全、有效。",
        "5. 退出程序是否合规",
        "审计结论:",
    ],
    "退档（脱困）职工电话调查表": [
        "1. 是否收到书面退档通知",
        "2. 是否了解退档原因",
        "3. 是否认同工会做出退档决定，退档时致困原因是否得到消除",
        "4. 退档后是否有工会干部回访",
        "5. 当前生活状况：家庭人均收入能否达到低保，是否存在无法负担的大额支出，能否达到“不愁吃、不愁穿，义务教育、基本医疗和住房安全有保障”",
        "6. 对工会的困难职工帮扶工作是否满意。",
        "审计结论：",
    ],
    "退档（脱困）职工入户调查表": [
        "1. 是否收到书面退档通知",
        "2. 是否了解退档原因",
        "3. 是否认同工会做出退档决定，退档时致困因素是否得到消除",
        "4. 退档后是否有工会干部回访",
        "5. 当前生活状况：家庭人均收入能否达到低保，是否存在无法负担的大额支出，能否达到“不愁吃、不愁穿，义务教育、基本医疗和住房安全有保障”",
        "6. 对工会的困难职工帮扶工作是否满意。",
        "6. 审计结论：",
    ],
    "救助金精准发放情况审定表": [
        "一",
        "生活救助:",
        "(一) 救助标准",
        "(二) 是否按困难程度分档或者差额发放救助金",
        "(三) 是否按相同金额发放救助金及其金额",
        "(四) 当地同期低保标准",
        "二",
        "助学救助:",
        "(一) 救助标准",
        "(二) 是否按困难程度分档发放救助金",
        "(三) 是否按相同金额发放救助金及其金额",
        "(四) 当地同期民政部门教育救助标准",
        "三",
        "医疗救助:",
        "(一) 救助标准",
        "(二) 是否按困难程度分档发放救助金",
        "(三) 是否按相同金额发放救助金及其金额",
        "(四) 当地同期民政部门医疗救助标准",
        "四",
        "审计结论:",
    ],
    "生活救助审定表": [
        "一",
        "建档程序是否合规, 家庭经济状况核查是否合规",
        "二",
        "救助标准",
        "三",
        "实际发放金额",
        "四",
        "年度人均救助水平 (元/人)",
        "五",
        "是否超标准发放救助金",
        "六",
        "当地同期低保标准",
        "七",
        "审计结论:",
    ],
    "助学救助审定表": [
        "一",
        "建档程序是否合规, 家庭经济状况核查是否合规",
        "二",
        "救助标准",
        "三",
        "实际发放金额",
        "四",
        "年度人均救助水平 (元/人)",
        "五",
        "是否超标准发放救助金",
        "六",
        "当地同期民政部门教育救助标准",
        "七",
        "审计结论:",
    ],
    "医疗救助审定表": [
        "一",
        "建档程序是否合规，家庭经济状况核查是否合规",
        "二",
        "救助标准",
        "三",
        "实际发放金额",
        "四",
        "实际发放金额占全部医保自费医药费的比例",
        "五",
        "医药费票据是否全部为医保票据",
        "六",
        "医药费票据是否全部为当年票据",
        "七",
        "当地工会年度人均医疗救助水平（元/人）",
        "八",
        "是否超标准发放救助金",
        "九",
        "当地同期民政部门医疗救助标准",
        "十",
        "审计结论:",
    ],
    "预算管理与绩效评价审定表": [
        "一、是否制定帮扶资金绩效评价办法、指标",
        "二、是否全面开展绩效评价工作",
        "三、是否实施全程预算绩效管理，把制定绩效目标、开展绩效评价与预算编制、执行、调整、决算等环节相融合。",
        "四、资金分配是否采用因素法，因素设置是否合理，是否公开资金分配的公式与因素所占权重，资金分配能否保证预算编制的科学合理。",
        "五、是否把资金作为划分责任的依据，明确本级与下级工会的责任。预算管理是否一抓到底，分工协作，在程序上保证预算编制的科学合理。",
        "六、是否把责任追究机制作为预算执行的保障，对结余资金是否收回，对预算编制不科学的单位是否处理，对违规使用资金是否严肃追责。",
        "六、审计结论",
    ],
}


# ---------------------------------------------------------------- inputs built by hand
def _frame(key: str, rows: list[dict]) -> pl.DataFrame:
    spec = SHEETS_BY_KEY[key]
    schema = sheet_schema(spec)
    full = []
    for i, row in enumerate(rows, start=3):
        base = {c: None for c in schema}
        base.update(
            year=YEAR,
            unit_code=UNIT["unit_code"],
            source_file=f"ledgers/{YEAR}/330102.xlsx",
            source_sheet=spec.title,
            source_row=i,
        )
        base.update(row)
        full.append(base)
    return pl.DataFrame(full, schema=schema)


def _id(n: int) -> str:
    return f"3301021980{n:04d}123X"


STEPS = ("本人申请", "入户调查", "基层工会审批", "上级工会审核", "数据比对", "公示", "审批", "建档")
EXIT_STEPS = (
    "退档申请或认定",
    "入户调查",
    "上级工会审核确认",
    "数据比对",
    "公示",
    "审批",
    "书面通知",
)
ECON = (
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


def _ledger() -> dict[str, pl.DataFrame]:
    archive = [
        dict(
            archive_no="A001",
            name="张三",
            id_number=_id(1),
            phone="13800000001",
            hukou="城镇",
            is_member="是",
            hardship_type="深度困难",
            causes="本人大病",
            household_size=3,
            household_income=12000.0,
            archived_on=date(2019, 3, 1),
            status="在档",
        ),
        dict(
            archive_no="A002",
            name="李四",
            id_number=_id(2),
            phone="13800000002",
            hukou="农村",
            is_member="否",
            hardship_type="相对困难",
            causes="失业",
            household_size=3,
            household_income=15000.0,
            archived_on=date(2017, 5, 1),
            status="已退档",
            exited_on=date(2019, 6, 1),
            exit_reason="脱困",
            exit_path="就业创业",
            income_at_exit=60000.0,
        ),
        dict(
            archive_no="A004",
            name="赵六",
            id_number=_id(4),
            phone="13800000004",
            hardship_type="深度困难",
            household_size=2,
            household_income=8000.0,
            archived_on=date(2016, 1, 5),
            status="在档",
        ),
    ]
    archive += [
        dict(
            archive_no=f"B{i:02d}",
            name=f"户{i}",
            id_number=_id(100 + i),
            phone=f"1390000{i:04d}",
            hardship_type="相对困难",
            household_size=2,
            household_income=9000.0,
            archived_on=date(2019, 2, i),
            status="在档",
        )
        for i in range(1, 16)
    ]
    procedures = [
        dict(archive_no="A001", procedure="建档", step=s, done_on=date(2019, 2, 20), evidence="有")
        for s in STEPS
        if s != "公示"
    ]
    for i in range(1, 16):
        procedures += [
            dict(
                archive_no=f"B{i:02d}",
                procedure="建档",
                step=s,
                done_on=date(2019, 1, 20),
                evidence="有",
                publicity_days=7 if s == "公示" else None,
            )
            for s in STEPS
        ]
    procedures += [
        dict(archive_no="A002", procedure="退档", step=s, done_on=date(2019, 5, 20), evidence="有")
        for s in EXIT_STEPS
    ]
    econ = [dict(archive_no="A001", item=i, provided="是", match_result="相符") for i in ECON]
    payments = [
        dict(
            payment_no="P001",
            paid_on=date(2019, 4, 1),
            archive_no="A001",
            name="张三",
            id_number=_id(1),
            category="生活救助",
            fund="中央财政专项帮扶资金",
            amount=500.0,
            method="银行转账",
            account_no="6222001",
            voucher_no="V1",
        ),
        dict(
            payment_no="=1+1",
            paid_on=date(2019, 4, 2),
            name="外人",
            id_number=_id(9),
            category="生活救助",
            fund="中央财政专项帮扶资金",
            amount=2000.0,
            method="银行转账",
            account_no="6222009",
            voucher_no="@SUM(A1)",
        ),
        dict(
            payment_no="P003",
            paid_on=date(2019, 5, 1),
            archive_no="A004",
            name="赵六",
            id_number=_id(4),
            category="生活救助",
            fund="工会经费",
            amount=6300.0,
            method="银行转账",
            account_no="6222004",
            voucher_no="V3",
        ),
        dict(
            payment_no="P004",
            paid_on=date(2019, 6, 1),
            archive_no="A004",
            name="赵六",
            id_number=_id(4),
            category="医疗救助",
            fund="中央财政专项帮扶资金",
            amount=1500.0,
            method="银行转账",
            account_no="6222004",
            voucher_no="V4",
            med_total=3000.0,
            med_self_pay=1000.0,
            receipt_type="医保票据",
            receipt_year=2019,
        ),
        dict(
            payment_no="P005",
            paid_on=date(2019, 9, 1),
            archive_no="B01",
            name="户1",
            id_number=_id(101),
            category="助学救助",
            fund="中央财政专项帮扶资金",
            amount=1000.0,
            method="现金",
            voucher_no="V5",
            school_stage="本科",
        ),
    ]
    ledger = [
        dict(
            posted_on=date(2019, 4, 1),
            voucher_no="V1",
            account_name="维权支出—困难职工帮扶费",
            memo="发放生活救助金",
            debit=500.0,
            credit=0.0,
        ),
        dict(
            posted_on=date(2019, 8, 1),
            voucher_no="V9",
            account_name="维权支出—困难职工帮扶费",
            memo="购买手机",
            debit=5000.0,
            credit=0.0,
        ),
    ]
    return {
        "archive": _frame("archive", archive),
        "procedures": _frame("procedures", procedures),
        "econ_checks": _frame("econ_checks", econ),
        "payments": _frame("payments", payments),
        "ledger": _frame("ledger", ledger),
        "unit_standards": _frame(
            "unit_standards",
            [
                dict(category="生活救助", hardship_type="深度困难", annual_cap=6000.0),
                dict(category="生活救助", hardship_type="相对困难", annual_cap=4000.0),
            ],
        ),
        "targets": _frame(
            "targets",
            [
                dict(
                    target_year=2019,
                    target_relieved=10,
                    target_exited=8,
                    has_plan="有",
                    has_assessment="无",
                ),
                dict(target_year=2020, target_relieved=12, target_exited=9, has_plan="有"),
            ],
        ),
        "evaluation": _frame(
            "evaluation",
            [
                dict(
                    sample_type="非建档户",
                    verdict="漏评" if i == 0 else "符合",
                    satisfaction="满意",
                )
                for i in range(5)
            ]
            + [dict(sample_type="退档户", verdict="符合", satisfaction="不满意") for _ in range(4)],
        ),
        "followup": _frame(
            "followup",
            [
                dict(
                    archive_no="A002",
                    survey_mode="电话",
                    surveyed_on=date(2019, 10, 1),
                    got_notice="否",
                    knows_reason="是",
                    agrees="是",
                    revisited="否",
                    living_ok="是",
                    satisfaction="基本满意",
                ),
            ],
        ),
        "budget": _frame(
            "budget",
            [
                dict(
                    fund="中央财政专项帮扶资金",
                    opening_balance=1000.0,
                    received=50000.0,
                    spent=48000.0,
                    closing_balance=3000.0,
                    recovered=0.0,
                    allocation_method="平均分配",
                    has_evaluation="无",
                ),
            ],
        ),
        "staff": _frame("staff", []),
    }


METRICS = {
    2017: dict(
        relieved=5,
        exited_out_of_hardship=4,
        archived_at_start=100,
        archived_at_end=98,
        exited_by_path_employment=2,
        exited_by_path_insurance=1,
        exited_by_path_medical=1,
        exited_by_path_social_assistance=0,
        target_relieved=5,
        target_exited=4,
    ),
    2018: dict(
        relieved=6,
        exited_out_of_hardship=5,
        archived_at_start=98,
        archived_at_end=95,
        exited_by_path_employment=3,
        exited_by_path_insurance=1,
        exited_by_path_medical=0,
        exited_by_path_social_assistance=1,
        target_relieved=6,
        target_exited=5,
    ),
    2019: dict(
        relieved=7,
        exited_out_of_hardship=6,
        archived_at_start=95,
        archived_at_end=92,
        exited_by_path_employment=4,
        exited_by_path_insurance=1,
        exited_by_path_medical=1,
        exited_by_path_social_assistance=0,
        target_relieved=10,
        target_exited=8,
        missed_rate=0.2,
        wrong_exit_rate=0.0,
        recognition_rate=5 / 9,
        paid_total=11300.0,
        paid_living=8800.0,
        paid_education=1000.0,
        paid_medical=1500.0,
    ),
}


def _metrics() -> pl.DataFrame:
    rows = []
    for y, vals in METRICS.items():
        row = {c: None for c in METRICS_SCHEMA}
        row.update(year=y, unit_code=UNIT["unit_code"], level="县", complete=True, **vals)
        rows.append(row)
    return pl.DataFrame(rows, schema=METRICS_SCHEMA)


def _finding(rule, sev, n, **kw) -> dict:
    row = {c: None for c in FINDINGS_SCHEMA}
    row.update(
        year=YEAR,
        unit_code=UNIT["unit_code"],
        rule_code=rule,
        severity=sev,
        finding_id=f"F{n:03d}",
        detail=f"{rule} 的情况说明",
        basis="2015办法 第三条",
        settings_hash="h",
    )
    row.update(kw)
    return row


def _findings() -> pl.DataFrame:
    src = dict(source_file=f"ledgers/{YEAR}/330102.xlsx")
    rows = [
        _finding(
            "PAY_UNARCHIVED",
            "高",
            1,
            id_number=_id(9),
            payment_no="=1+1",
            voucher_no="@SUM(A1)",
            category="生活救助",
            amount=2000.0,
            source_sheet="救助发放明细",
            source_row=4,
            **src,
        ),
        _finding(
            "PAY_OVER_STANDARD",
            "中",
            2,
            id_number=_id(4),
            payment_no="P003",
            category="生活救助",
            amount=300.0,
            source_sheet="救助发放明细",
            source_row=5,
            **src,
        ),
        _finding(
            "ARCHIVE_PROCEDURE_INCOMPLETE",
            "中",
            3,
            id_number=_id(1),
            archive_no="A001",
            source_sheet="困难职工档案",
            source_row=3,
            **src,
        ),
        _finding(
            "EXIT_NO_NOTICE",
            "低",
            4,
            id_number=_id(2),
            archive_no="A002",
            source_sheet="困难职工档案",
            source_row=4,
            **src,
        ),
        _finding("TARGET_NOT_MET", "中", 5, detail="解困 7 人，低于目标 10 人"),
        _finding(
            "SPEND_OUT_OF_SCOPE",
            "高",
            6,
            voucher_no="V9",
            amount=5000.0,
            source_sheet="会计明细账",
            source_row=4,
            **src,
        ),
        _finding(
            "MED_OVER_SELF_PAY",
            "高",
            7,
            id_number=_id(4),
            payment_no="P004",
            category="医疗救助",
            amount=1500.0,
            source_sheet="救助发放明细",
            source_row=6,
            **src,
        ),
        _finding("SOME_NEW_RULE", "低", 8, detail=HOSTILE),
    ]
    return pl.DataFrame(rows, schema=FINDINGS_SCHEMA)


AUDITOR = {"lead": "王主审", "members": ["甲", "乙"], "date": "2020-06-30"}


def _inputs(**over) -> dict:
    base = dict(
        year=YEAR,
        unit=UNIT,
        metrics=_metrics(),
        findings=_findings(),
        ledger=_ledger(),
        dibao_monthly=600.0,
        auditor=AUDITOR,
    )
    base.update(over)
    return base


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("wb") / "workbooks" / "2019" / "330102.xlsx"
    info = write_unit_workbook(out, **_inputs())
    return out, info, load_workbook(out)


def _strings(ws) -> list[str]:
    return [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]


def _is_subsequence(expected: list[str], seen: list[str]) -> tuple[bool, str]:
    it = iter(seen)
    for item in expected:
        if not any(s == item for s in it):
            return False, item
    return True, ""


# ---------------------------------------------------------------- workbook
def test_every_form_is_present_with_seed_items_in_order(written):
    out, info, wb = written
    assert len(FORMS) == 17
    assert {f.title for f in FORMS} == set(SEED_ITEMS)
    for name in ("目录", "一 审计工作底稿", "二 审计取证单", "审计发现明细"):
        assert name in wb.sheetnames
    for form in FORMS:
        ws = wb[form.sheet]
        assert ws["A1"].value == form.title
        strings = _strings(ws)
        ok, missing = _is_subsequence(SEED_ITEMS[form.title], strings)
        assert ok, f"{form.title}: {missing!r} missing or out of order"
        assert any(s.startswith("被审计单位：上城区总工会") for s in strings)
        footer = "填表日期" if form.title == "开支范围情况审定表" else "编制日期"
        assert any(s.startswith("主审：王主审") and footer in s and "甲、乙" in s for s in strings)
    assert info["sheets"] == wb.sheetnames


def _rows(ws):
    return [[c.value for c in row] for row in ws.iter_rows()]


def test_targets_form_figures_equal_the_metrics(written):
    _out, _info, wb = written
    ws = wb["五 解困脱困目标"]
    labels = {
        "解困人数：": "relieved",
        "脱困人数：": "exited_out_of_hardship",
        "年初在档人数：": "archived_at_start",
        "年末在档人数：": "archived_at_end",
    }
    year, seen = None, {}
    for row in _rows(ws):
        if isinstance(row[1], str) and row[1].endswith(" 年度"):
            year = int(row[1].split()[0])
        if row[2] in labels:
            seen[(year, labels[row[2]])] = row[3]
    for y, vals in METRICS.items():
        for col in labels.values():
            assert seen[(y, col)] == vals[col], (y, col)
    text = " ".join(_strings(ws))
    assert "目标解困 12 人，目标脱困 9 人" in text  # the 2020 row of the 2019 ledger
    assert "未完成年度解困脱困目标" in text and "QZ-05-01" in text


def test_four_batches_and_evaluation_figures(written):
    _out, _info, wb = written
    rows = _rows(wb["七 四个一批"])
    employment = [r[2] for r in rows if r[1] in ("2017 年度:", "2018 年度:", "2019 年度:")][:3]
    assert employment[0] == 2 and employment[1] == 3
    assert str(employment[2]).startswith("4 人")
    text = " ".join(_strings(wb["六 第三方评估"]))
    assert "漏评率 20.00%（抽样非建档户 5 户，其中漏评 1 户）" in text
    assert "超过标准" in text
    precision = " ".join(_strings(wb["十八 精准发放"]))
    assert "600.00 元/人/月" in precision and "深度困难 6,000.00 元/户/年" in precision


def test_per_household_forms_cover_findings_plus_a_seeded_sample(written, tmp_path):
    _out, info, wb = written
    ws = wb["十一 建档程序"]
    titles = [r[0] for r in _rows(ws) if r[0] == "建档程序审定表"]
    assert len(titles) == 11  # A001 (finding) + 10 sampled of B01…B15
    strings = _strings(ws)
    assert f"身份证号码：{_id(1)}" in strings and "联系电话：13800000001" in strings
    assert "否。未见该环节记录。" in strings  # A001 has no 公示 step
    assert info["counts"]["households_with_findings"]["archiving"] == 1
    phone = " ".join(_strings(wb["十六 电话调查"]))
    assert "困难职工姓名：李四" in phone and "否（电话调查，2019-10-01）" in phone
    living = " ".join(_strings(wb["十九 生活救助"]))
    assert f"身份证号码：{_id(9)}" in living and "未建档" in living
    # the sample is reproducible for a seed
    again = tmp_path / "again.xlsx"
    write_unit_workbook(again, **_inputs())
    assert _strings(load_workbook(again)["十一 建档程序"]) == strings


def test_evidence_and_workpapers_are_linked(written):
    _out, info, wb = written
    qz = _strings(wb["二 审计取证单"])
    dg = " ".join(_strings(wb["一 审计工作底稿"]))
    index = info["evidence_index"]
    assert index["TARGET_NOT_MET"] == "QZ-05-01"
    assert index["ARCHIVE_PROCEDURE_INCOMPLETE"] == "QZ-11-01"
    assert index["SOME_NEW_RULE"] == "QZ-00-01"
    for rule, qz_no in index.items():
        dg_no = "DG-" + qz_no.split("-")[1]
        assert any(s.startswith(f"索引号：{qz_no}　　所属底稿：{dg_no}") for s in qz), rule
        assert f"索引号：{dg_no}" in dg and qz_no in dg
    for f in _findings().iter_rows(named=True):
        assert f["finding_id"] in qz
    listing = _rows(wb["二 审计取证单"])
    row = next(r for r in listing if r[1] == "F001")
    assert row[9] == "ledgers/2019/330102.xlsx" and row[10] == "救助发放明细" and row[11] == 4
    assert "审计过程" in dg and "审核意见" in dg


def test_formula_like_input_stays_text(written):
    _out, _info, wb = written
    hits = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
                if c.value in ("=1+1", "@SUM(A1)", HOSTILE):
                    hits.append(c)
    assert {c.value for c in hits} == {"=1+1", "@SUM(A1)", HOSTILE}
    assert all(c.data_type == "s" and c.quotePrefix for c in hits)


def test_print_setup(written):
    _out, _info, wb = written
    for ws in wb.worksheets:
        assert int(ws.page_setup.paperSize) == 9  # A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.page_setup.fitToWidth == 1
        assert ws.freeze_panes
        assert all(ws.column_dimensions[c].width for c in "AB")
    assert wb["五 解困脱困目标"].print_title_rows
    assert wb["审计发现明细"].print_title_rows
    font = wb["五 解困脱困目标"]["A1"].font
    assert font.name == "宋体"


def test_written_atomically_and_survives_empty_inputs(tmp_path):
    out = tmp_path / "empty.xlsx"
    info = write_unit_workbook(
        out,
        year=YEAR,
        unit=UNIT,
        metrics=pl.DataFrame(schema=METRICS_SCHEMA),
        findings=pl.DataFrame(schema=FINDINGS_SCHEMA),
        ledger={},
        dibao_monthly=None,
    )
    wb = load_workbook(out)
    assert len([f for f in FORMS if f.sheet in wb.sheetnames]) == 17
    assert info["counts"]["findings"] == 0
    text = " ".join(_strings(wb["十一 建档程序"]))
    assert "本表留空备用" in text
    assert "待审计人员核实填写" in " ".join(_strings(wb["五 解困脱困目标"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.xlsx"]


# ---------------------------------------------------------------- report
def test_report_sections_and_rule_groups(tmp_path):
    out = tmp_path / "reports" / "330102.docx"
    info = write_unit_report(out, **_inputs())
    doc = Document(out)
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    for section in (
        "（一）基本情况",
        "（二）审计评价",
        "（三）审计发现的主要问题及整改意见",
        "（四）审计建议",
    ):
        assert section in headings
    groups = [h for h in headings if h[:1].isdigit()]
    assert [g["rule_code"] for g in info["groups"]] == [
        "SPEND_OUT_OF_SCOPE",
        "PAY_UNARCHIVED",
        "MED_OVER_SELF_PAY",  # 高, by amount
        "PAY_OVER_STANDARD",
        "ARCHIVE_PROCEDURE_INCOMPLETE",
        "TARGET_NOT_MET",  # 中
        "EXIT_NO_NOTICE",
        "SOME_NEW_RULE",  # 低
    ]
    assert len(groups) == 8
    assert groups[0] == "1. 在帮扶资金中列支与困难职工帮扶无关的支出，涉及金额 5,000.00 元（1 条）"
    assert "2,000.00 元" in groups[1]
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "在档困难职工 92 户" in body and "2015办法 第三条" in body
    assert sorted(p.name for p in out.parent.iterdir()) == ["330102.docx"]


# ---------------------------------------------------------------- PDF (LibreOffice)
@pytest.mark.office
def test_workbook_and_report_convert_to_pdf(written, tmp_path):
    office_program()
    xlsx, _info, _wb = written
    docx = tmp_path / "report.docx"
    write_unit_report(docx, **_inputs())
    for src in (xlsx, docx):
        pdf = to_pdf(src, tmp_path)
        assert pdf.exists() and pdf.stat().st_size > 1000


def test_sheet_writer_values_styles_and_merges_read_back(tmp_path):
    """The one form writer builds each sheet's XML itself: every kind of value must read back
    from the saved file as openpyxl itself would have written it."""
    from openpyxl import Workbook

    from bangfu.forms.writer import Block, Cell, Pct, save_workbook, write_sheet

    awkward = [
        " 前后空格 ",
        "a&b<c>d",
        "第一行\r\n第二行",
        "=SUM(A1:A2)",
        "-5",
        "#N/A",
        "",
        "😀\x07\ufffe",
    ]
    rows = [
        [Cell(text, 1, "label"), Cell(i, 1, "value"), Cell(None)] for i, text in enumerate(awkward)
    ]
    rows += [
        [Cell("比率"), Cell(Pct(0.1234)), Cell(1234567.891)],
        [Cell("是否"), Cell(True), Cell(float("nan"))],
        [Cell("同一标签", 1, "label"), Cell(1), Cell(2)],
        [Cell("同一标签", 1, "label"), Cell(3), Cell(4)],
    ]
    block = Block(
        title="标题",
        meta=[("被审计单位：测试", "left")],
        header=[("项目", 1), ("值", 1), ("备注", 1)],
        rows=rows,
    )
    wb = Workbook(write_only=True)
    info = write_sheet(wb, "测试", (20, 12, 12), [block])
    path = tmp_path / "w.xlsx"
    save_workbook(wb, path)

    ws = load_workbook(path)["测试"]
    first = info.first_table_row + 1
    got = [ws.cell(first + i, 1).value for i in range(len(awkward))]
    assert got == [(t or None) if t != "😀\x07\ufffe" else "😀" for t in awkward]
    for i, text in enumerate(awkward):
        c = ws.cell(first + i, 1)
        assert ws.cell(first + i, 2).value == i
        assert ws.cell(first + i, 2).number_format == "#,##0"
        if text.startswith(("=", "-")):
            assert c.data_type == "s" and c.quotePrefix
    assert ws.cell(first + awkward.index("#N/A"), 1).data_type == "e"
    pct = ws.cell(first + len(awkward), 2)
    assert pct.value == pytest.approx(0.1234) and pct.number_format == "0.00%"
    money = ws.cell(first + len(awkward), 3)
    assert money.value == pytest.approx(1234567.891) and money.number_format == "#,##0.00"
    assert ws.cell(first + len(awkward) + 1, 2).value == "是"
    # title across the sheet, header bold and filled, equal labels merged downwards, borders
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert "A1:C1" in merged
    label_row = first + len(awkward) + 2
    assert f"A{label_row}:A{label_row + 1}" in merged
    head = ws.cell(info.first_table_row, 1)
    assert head.font.b and head.fill.fgColor.rgb.endswith("E7E6E6")
    assert ws.cell(first, 3).border.left.style == "thin"  # empty table cell still bordered
    assert ws.row_dimensions[1].height > ws.row_dimensions[first].height > 0
    assert ws.freeze_panes == f"A{info.first_table_row + 1}"


def test_run_settings_reach_the_forms(tmp_path):
    """The forms print the run's thresholds (AuditSettings), not copies of the defaults."""
    from bangfu.settings import AuditSettings

    def texts(path) -> set[str]:
        wb = load_workbook(path, read_only=True)
        return {
            v
            for ws in wb.worksheets
            for row in ws.iter_rows(values_only=True)
            for v in row
            if isinstance(v, str)
        }

    default = texts(write_unit_workbook(tmp_path / "a.xlsx", **_inputs())["path"])
    changed = AuditSettings(missed_rate_alert=0.05, recognition_rate_min=0.8)
    other = texts(write_unit_workbook(tmp_path / "b.xlsx", **_inputs(settings=changed))["path"])
    assert any("预警标准 > 2.00%" in t for t in default)
    assert not any("预警标准 > 5.00%" in t for t in default)
    assert any("预警标准 > 5.00%" in t for t in other)
    assert any("预警标准 < 80.00%" in t for t in other)
