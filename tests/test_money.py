"""Money enters the library through :func:`parse_money`: exact, finite, and never a float."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.money import AMOUNT_LIMIT, ZERO, parse_money

FINITE_DECIMALS = st.decimals(allow_nan=False, allow_infinity=False)


def refused(value: object, *, allow_negative: bool = False) -> ValidationError:
    """The error ``parse_money`` refuses ``value`` with (fails the test if it accepts it)."""
    with pytest.raises(ValidationError) as caught:
        parse_money(value, "price", allow_negative=allow_negative)
    assert caught.value.code is ErrorCode.INVALID_VALUE
    assert caught.value.fields["field"] == "price"
    assert "price" in caught.value.message
    return caught.value


@pytest.mark.parametrize(
    "value",
    [
        Decimal("0.10"),
        Decimal("12.3456789"),
        Decimal(0),
        Decimal("1E+3"),
        0,
        7,
        10**18 - 1,
        "0.1",
        "100",
    ],
)
def test_decimals_ints_and_numeric_strings_are_taken_exactly(value):
    amount = parse_money(value, "price")

    assert type(amount) is Decimal
    assert amount == Decimal(value)


def test_parsed_money_adds_up_exactly():
    total = parse_money("0.1", "a") + parse_money("0.2", "b")

    assert total == Decimal("0.3")


def test_zero_is_a_decimal_zero():
    assert type(ZERO) is Decimal
    assert ZERO == 0


@pytest.mark.parametrize("value", [0.1, 1.0, 0.0, -2.5])
def test_a_float_is_refused_with_a_hint_to_write_a_decimal(value):
    error = refused(value, allow_negative=True)

    assert f"Decimal({str(value)!r})" in error.message


@given(st.floats())
def test_no_float_is_ever_taken_as_money(value):
    refused(value, allow_negative=True)


@pytest.mark.parametrize(
    "value",
    [True, False, None, Fraction(1, 3), complex(1, 0), [1], b"1"],
    ids=["True", "False", "None", "Fraction", "complex", "list", "bytes"],
)
def test_values_that_are_not_decimals_ints_or_strings_are_refused(value):
    error = refused(value, allow_negative=True)

    assert error.fields["value"] == repr(value)


@pytest.mark.parametrize("junk", ["", "abc", "ten", "1,5", "$10", "1.2.3", "0x10", "1e"])
def test_a_string_that_is_not_a_number_is_refused(junk):
    error = refused(junk, allow_negative=True)

    assert repr(junk) in error.message


@pytest.mark.parametrize(
    "text", ["1E+3", " 1", "1 ", "1_000", "+1", ".5", "5.", "\u0661\u0662", "1\n"]
)
def test_a_number_written_other_than_as_a_plain_numeral_is_refused_not_tidied(text):
    error = refused(text, allow_negative=True)

    assert "plain decimal numeral" in error.message


def test_negative_zero_is_plain_zero():
    assert str(parse_money("-0.00", "price")) == "0.00"
    assert not parse_money(Decimal("-0"), "price").is_signed()


@pytest.mark.parametrize(
    "value",
    [
        "NaN",
        "nan",
        "-NaN",
        "sNaN",
        "-sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        "-inf",
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
    ],
)
def test_not_a_number_and_infinities_are_refused_even_when_negatives_are_allowed(value):
    error = refused(value, allow_negative=True)

    assert ("finite" if isinstance(value, Decimal) else "plain decimal numeral") in error.message


@pytest.mark.parametrize("value", [-1, "-0.01", Decimal("-100")])
def test_a_negative_amount_is_refused_unless_negatives_are_allowed(value):
    error = refused(value)

    assert "negative" in error.message
    assert parse_money(value, "price", allow_negative=True) == Decimal(value)


@given(FINITE_DECIMALS)
def test_every_finite_decimal_below_the_limit_is_taken_unchanged_when_negatives_are_allowed(
    value,
):
    if abs(value) >= AMOUNT_LIMIT:
        assert "10^18" in refused(value, allow_negative=True).message
    else:
        assert parse_money(value, "price", allow_negative=True) == value


@given(FINITE_DECIMALS.filter(lambda value: abs(value) < AMOUNT_LIMIT))
def test_a_decimal_is_refused_exactly_when_it_is_negative(value):
    if value < 0:
        refused(value)
    else:
        assert parse_money(value, "price") == value


@given(FINITE_DECIMALS.filter(lambda value: abs(value) < AMOUNT_LIMIT))
def test_a_decimal_written_as_a_plain_numeral_reads_back_as_the_same_amount(value):
    amount = parse_money(format(value, "f"), "price", allow_negative=True)

    assert amount == value


@given(st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1))
def test_an_integer_is_taken_as_the_same_whole_amount_and_refused_when_negative(value):
    if value < 0:
        refused(value)
    else:
        assert parse_money(value, "price") == Decimal(value)
    assert parse_money(value, "price", allow_negative=True) == Decimal(value)


@pytest.mark.parametrize(
    "value", [10**18, -(10**18), "1000000000000000000", Decimal("1e999999"), Decimal("-1E+18")]
)
def test_amounts_of_ten_to_the_eighteen_or_more_are_refused(value):
    """Beyond it, arithmetic would leave Decimal's precision (1e999999 x a price raised
    decimal.InvalidOperation from a usage report)."""
    error = refused(value, allow_negative=True)
    assert "smaller than 10^18" in error.message


def reference_money(text: str) -> Decimal | None:
    """``text`` as a Decimal when it is a plain ASCII numeral, else ``None``."""
    if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text, flags=re.ASCII) is None:
        return None
    return Decimal(text)


@given(st.text(max_size=12) | st.from_regex(r"\A-?[0-9]{0,4}(\.[0-9]{0,3})?([eE]-?[0-9])?\Z"))
def test_a_string_is_taken_exactly_when_it_is_a_plain_numeral(text):
    expected = reference_money(text)

    if expected is None:
        refused(text, allow_negative=True)
    else:
        assert parse_money(text, "price", allow_negative=True) == expected
