"""Value parsers: examples and properties (parsed to the same value, or refused — never changed)."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bangfu import parse as P
from bangfu.kinds import KINDS
from bangfu.sheets import CIVIL_ROSTER, LEDGER_SHEETS, STANDARDS, UNITS


def run(expr_fn, values: list, dtype=pl.String) -> list:
    df = pl.DataFrame({"v": values}, schema={"v": dtype})
    return df.select(expr_fn("v").alias("out"))["out"].to_list()


# --------------------------------------------------------------------------- examples
@pytest.mark.parametrize(
    "text, expected",
    [
        ("2019-03-05", dt.date(2019, 3, 5)),
        ("2019/3/5", dt.date(2019, 3, 5)),
        ("2019.03.05", dt.date(2019, 3, 5)),
        ("2019年3月5日", dt.date(2019, 3, 5)),
        ("２０１９年３月５日", dt.date(2019, 3, 5)),
        ("20190305", dt.date(2019, 3, 5)),
        ("43529", dt.date(2019, 3, 5)),  # Excel serial
        ("2019-03-05 00:00:00", dt.date(2019, 3, 5)),  # an Excel date cell read as text
        ("2019-03-05 13:30:00", dt.date(2019, 3, 5)),
        (" 2019 - 03 - 05 ", dt.date(2019, 3, 5)),
        ("2019/2/29", None),
        ("2019-02-30", None),
        ("2019-3/5", None),  # mixed separators
        ("2019", None),  # a bare year is not serial 2019 (1905)
        ("1899-12-31", None),
        ("去年", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(text, expected):
    assert run(P.parse_date, [text]) == [expected]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("500", 500.0),
        ("1,234.5元", 1234.5),
        ("１，２３４．５０元", 1234.5),
        ("¥ 1 000", 1000.0),
        ("1,234,567.891", 1234567.89),
        ("-12.5", -12.5),
        ("0.30000000000000004", 0.3),
        ("12,34", None),
        ("1,2345", None),
        ("五百元", None),
        ("1e999", None),
        ("", None),
    ],
)
def test_parse_amount(text, expected):
    assert run(P.parse_amount, [text]) == [expected]


@pytest.mark.parametrize(
    "text, expected",
    [("3", 3), ("3人", 3), ("７", 7), ("7.0", 7), ("1,200", 1200), ("7.5", None), ("x", None)],
)
def test_parse_int(text, expected):
    assert run(P.parse_int, [text]) == [expected]


def test_fast_paths_agree_with_full_parsers():
    vals = ["2019-03-05 00:00:00", "1850-01-01 00:00:00", "500", "12.34", "7", "x", None]
    for kind in ("date", "amount", "int"):
        fast = run(KINDS[kind].parse_fast, vals)
        full = run(KINDS[kind].parse, vals)
        assert all(f is None or f == g for f, g in zip(fast, full, strict=True)), kind


def test_normalise_id_phone_text_enum():
    assert run(
        P.normalise_id, ["'11010519491231002x", "１１０１０５ １９４９１２３１００２Ｘ", " ", None]
    ) == ["11010519491231002X", "11010519491231002X", None, None]
    assert run(P.normalise_phone, ["+86 138-1234-5678", "0571－8888 6666", ""]) == [
        "13812345678",
        "057188886666",
        None,
    ]
    assert run(P.normalise_text, ["\u3000张 三 ", "  "]) == ["张 三", None]
    assert run(P.normalise_enum, [" 共用生活家庭成员", "机动车（船）", "在 档"]) == [
        "共同生活家庭成员",
        "机动车",
        "在档",
    ]
    assert run(P.looks_scientific, ["5.20102E+17", "520102199001011234", "1e5"]) == [
        True,
        False,
        True,
    ]


def test_masks():
    assert P.mask_id("52010219900101123X") == "520102********123X"
    assert P.mask_phone("13812345678") == "138****5678"
    assert P.mask_id("123") == "***"
    assert run(P.mask_id_expr, ["52010219900101123X"]) == ["520102********123X"]
    assert P.mask_ids_in_text("身份证 52010219900101123X 重复") == "身份证 520102********123X 重复"


def test_gb11643_examples():
    ok = "11010519491231002X"
    assert run(
        lambda c: P.gb11643_valid(c, 2019), [ok, ok[:-1] + "1", ok.lower(), "1101051949"]
    ) == [True, False, False, False]
    born_2020 = "110105202001010013"
    born_2020 = born_2020[:17] + P.gb11643_check_char(born_2020[:17])
    assert run(lambda c: P.gb11643_valid(c, 2019), [born_2020]) == [False]
    assert run(lambda c: P.gb11643_valid(c, 2020), [born_2020]) == [True]
    bad_date = "110105201902300010"
    bad_date = bad_date[:17] + P.gb11643_check_char(bad_date[:17])
    assert run(lambda c: P.gb11643_valid(c, 2019), [bad_date]) == [False]


# --------------------------------------------------------------------------- properties
dates = st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2100, 12, 31))
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def date_forms(d: dt.date) -> list[str]:
    return [
        d.isoformat(),
        f"{d.year}/{d.month}/{d.day}",
        f"{d.year}.{d.month:02d}.{d.day:02d}",
        f"{d.year}年{d.month}月{d.day}日",
        f"{d.year}年{d.month}月{d.day}日".translate(FULLWIDTH),
        d.strftime("%Y%m%d"),
        f"{d.isoformat()} 00:00:00",
    ]


@settings(max_examples=200, deadline=None)
@given(dates)
def test_every_date_form_parses_to_the_date(d):
    assert run(P.parse_date, date_forms(d)) == [d] * 7


@settings(max_examples=300, deadline=None)
@given(dates, st.integers(0, 6), st.integers(0, 30), st.sampled_from(list("x-/.年月日0 :,")))
def test_a_damaged_date_is_refused_or_unchanged(d, form, pos, junk):
    text = date_forms(d)[form]
    pos = min(pos, len(text))
    damaged = text[:pos] + junk + text[pos:]
    (out,) = run(P.parse_date, [damaged])
    # spaces are removed; any other insertion either leaves the date as it was or is refused
    # (inserting a digit may spell another real date, and "20000.101" is a genuine Excel serial
    # number: those are other canonical forms, not this date changed)
    if junk != "0" and not re.fullmatch(r"\d{5}\.\d+", damaged):
        assert out is None or out == d


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(10**11), max_value=10**11))
def test_amount_forms_parse_to_the_same_cents(cents):
    value = cents / 100
    plain = f"{value:.2f}"
    grouped = f"{value:,.2f}"
    forms = [plain, grouped + "元", grouped.translate(FULLWIDTH), f" {plain} "]
    assert run(P.parse_amount, forms) == [round(value, 2)] * 4


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789,.元 -ex", max_size=12))
def test_any_amount_text_is_refused_or_its_canonical_value(text):
    (out,) = run(P.parse_amount, [text])
    if out is None:
        return
    canonical = text.replace(" ", "").removesuffix("元").replace(",", "")
    assert out == round(float(canonical), 2)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789X", min_size=17, max_size=17).filter(lambda s: "X" not in s))
def test_gb11643_check_char_round_trip(first17):
    full = first17 + P.gb11643_check_char(first17)
    wrong = [first17 + c for c in "0123456789X" if c != full[-1]]
    birth = first17[6:14]
    try:
        born = dt.datetime.strptime(birth, "%Y%m%d").date()
        valid_birth = 1900 <= born.year <= 2019
    except ValueError:
        valid_birth = False
    results = run(lambda c: P.gb11643_valid(c, 2019), [full, *wrong])
    assert results[0] is valid_birth
    assert not any(results[1:])


@settings(max_examples=200, deadline=None)
@given(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2019, 12, 31)),
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.text(alphabet="0123456789", min_size=3, max_size=3),
    st.sampled_from(["", " ", "'", "\u3000"]),
    st.booleans(),
)
def test_id_forms_normalise_to_the_same_valid_id(born, region, seq, noise, fullwidth):
    first17 = region + born.strftime("%Y%m%d") + seq
    canonical = first17 + P.gb11643_check_char(first17)
    written = noise + canonical[:6] + noise + canonical[6:].lower()
    if fullwidth:
        written = written.translate(FULLWIDTH).replace("x", "ｘ")
    assert run(P.normalise_id, [written]) == [canonical]
    assert run(lambda c: P.gb11643_valid(P.normalise_id(c), 2019), [written]) == [True]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="0123456789-/.年月日 :,元", max_size=20),
        st.builds(
            lambda d, form: date_forms(d)[form],
            st.dates(min_value=dt.date(1890, 1, 1), max_value=dt.date(2110, 12, 31)),
            st.integers(0, 6),
        ),
        st.builds(lambda x: f"{x:,.2f}元", st.floats(-1e9, 1e9, allow_nan=False)),
    )
)
def test_fast_paths_never_disagree_with_full_parsers(text):
    """The fast paths only skip work: where they give a value, it is the full parser's."""
    for kind in ("date", "amount", "int"):
        (fast,) = run(KINDS[kind].parse_fast, [text])
        (full,) = run(KINDS[kind].parse, [text])
        assert fast is None or fast == full, (kind, text)


def test_fast_paths_cover_the_common_ascii_forms():
    d = dt.date(2019, 3, 5)
    forms = ["2019-03-05", "2019-3-5", "2019/3/5", "2019.03.05", "20190305", "2019年3月5日"]
    assert run(P.parse_date_fast, [*forms, "2019-03-05 00:00:00"]) == [d] * 7
    assert run(P.parse_amount_fast, ["1,234.50元", "500", "-12.5"]) == [1234.5, 500.0, -12.5]
    assert run(P.parse_int_fast, ["7", "7.0", "-3"]) == [7, 7, -3]


def test_every_column_kind_is_in_the_one_kind_table():
    specs = [*LEDGER_SHEETS, UNITS, STANDARDS, CIVIL_ROSTER]
    used = {c.kind for spec in specs for c in spec.columns}
    assert used <= set(KINDS)
    for kind in KINDS.values():  # a kind that can fail to parse says why
        assert (kind.unparsed is None) == (kind.dtype == pl.String()), kind.name


CELLS_BY_KIND = {
    "date": ["2019-03-05", "2019/3/5", "2019.03.05", "2019年3月5日", "20190305", "43529", "去年"],
    "amount": ["500", "1,234.50", "１,２３４.５元", "1e3", "0", "-5", "abc", " 12 "],
    "int": ["3", "３", "3.0", "1e2", "x", " 4 "],
    "id": ["11010519491231002x", "'110105 19491231 0021", "１１０１０５１９４９１２３１００２Ｘ"],
    "phone": ["13812345678", "+86 138-1234-5678", "010-12345678", "１３８１２３４５６７８"],
}


@pytest.mark.parametrize("spec", [s for s in LEDGER_SHEETS if s.key in ("archive", "payments")])
def test_parse_columns_equals_the_full_parsers_alone(spec):
    """The quicker parsers are an optimisation only: parse_columns gives what the full parser
    of each kind gives on every cell."""
    from bangfu.readers.validate import parse_columns

    n = 12
    raw = {}
    for k, col in enumerate(spec.columns):
        cells = CELLS_BY_KIND.get(col.kind, ["文本", " 带 空格 ", "X1"]) + [None, "", "  "]
        raw[f"__raw_{col.name}"] = [cells[(i + k) % len(cells)] for i in range(n)]
    body = pl.DataFrame(raw, schema={c: pl.String for c in raw}).with_row_index("__i")
    got = parse_columns(body, spec)
    for col in spec.columns:
        want = body.select(KINDS[col.kind].parse(pl.col(f"__raw_{col.name}"))).to_series()
        assert got[col.name].to_list() == want.to_list(), col.name
