"""The checks on raw command arguments: they accept what they document and never coerce."""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.frozen import freeze_json
from marketplace_core.inputs import (
    require_aware_datetime,
    require_bool,
    require_date,
    require_enum,
    require_int,
    require_mapping,
    require_optional_date,
    require_optional_int,
    require_string,
    require_text,
)


class Colour(enum.StrEnum):
    RED = "red"
    GREEN = "green"


class NoOffset(tzinfo):
    """A time zone that does not know its offset: a datetime in it is still naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None


def refusal(check: Callable[..., Any], value: object, **options: Any) -> ValidationError:
    """The error ``check`` refuses ``value`` with, asserting it names the field."""
    with pytest.raises(ValidationError) as caught:
        check(value, "the_field", **options)
    assert caught.value.code is ErrorCode.INVALID_VALUE
    assert caught.value.fields["field"] == "the_field"
    assert caught.value.fields["value"] == repr(value)
    assert "the_field" in caught.value.message
    return caught.value


# --------------------------------------------------------------------------- text


@pytest.mark.parametrize("text", ["x", " x ", "Cluster\n", "é" * 255])
def test_required_text_is_returned_as_given_without_trimming(text):
    assert require_text(text, "the_field") is text


@pytest.mark.parametrize("value", ["", " ", "\t\n", None, 5, b"bytes", ["x"]])
def test_required_text_refuses_blank_strings_and_non_strings(value):
    error = refusal(require_text, value)

    assert "non-blank string" in error.fields["expected"]


def test_required_text_may_be_at_most_max_length_characters():
    assert require_text("abc", "the_field", max_length=3) == "abc"
    refusal(require_text, "abcd", max_length=3)
    refusal(require_text, "x" * 256)


@pytest.mark.parametrize("text", ["", "   ", " x "])
def test_optional_text_may_be_empty_or_blank_and_is_returned_as_given(text):
    assert require_string(text, "the_field") is text


@pytest.mark.parametrize("value", [None, 3, b""])
def test_optional_text_still_has_to_be_a_string(value):
    refusal(require_string, value)


def test_optional_text_may_be_at_most_max_length_characters():
    assert require_string("ab", "the_field", max_length=2) == "ab"
    refusal(require_string, "abc", max_length=2)
    refusal(require_string, "x" * 4001)


# --------------------------------------------------------------------------- integers


@pytest.mark.parametrize("value", [True, False, 1.0, "1", None, 2.5])
def test_an_integer_is_an_int_and_not_a_bool_float_or_string(value):
    refusal(require_int, value)


def test_integer_bounds_are_inclusive():
    assert require_int(0, "the_field", minimum=0, maximum=10) == 0
    assert require_int(10, "the_field", minimum=0, maximum=10) == 10
    error = refusal(require_int, -1, minimum=0, maximum=10)
    refusal(require_int, 11, minimum=0, maximum=10)

    assert error.fields["expected"] == "an integer >= 0 <= 10"


@given(
    value=st.integers(-50, 50),
    minimum=st.none() | st.integers(-20, 20),
    maximum=st.none() | st.integers(-20, 20),
)
def test_an_integer_is_accepted_exactly_when_it_lies_within_the_bounds(value, minimum, maximum):
    within = (minimum is None or value >= minimum) and (maximum is None or value <= maximum)

    if within:
        assert require_int(value, "the_field", minimum=minimum, maximum=maximum) == value
    else:
        refusal(require_int, value, minimum=minimum, maximum=maximum)


def test_an_optional_integer_may_be_none_and_is_otherwise_checked_like_an_integer():
    assert require_optional_int(None, "the_field", minimum=1) is None
    assert require_optional_int(1, "the_field", minimum=1) == 1
    refusal(require_optional_int, 0, minimum=1)
    refusal(require_optional_int, True)


# --------------------------------------------------------------------------- booleans


@pytest.mark.parametrize("value", [True, False])
def test_a_bool_is_taken(value):
    assert require_bool(value, "the_field") is value


@pytest.mark.parametrize("value", [0, 1, "yes", "true", None])
def test_values_that_merely_look_boolean_are_refused(value):
    refusal(require_bool, value)


# --------------------------------------------------------------------------- dates and times


def test_a_calendar_date_is_taken():
    today = date(2026, 1, 15)

    assert require_date(today, "the_field") is today
    assert require_optional_date(today, "the_field") is today
    assert require_optional_date(None, "the_field") is None


@pytest.mark.parametrize(
    "value",
    [datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 1, 15), "2026-01-15", None, 20260115],
    ids=["aware datetime", "naive datetime", "string", "None", "int"],
)
def test_a_date_is_a_date_and_not_a_datetime_or_string(value):
    refusal(require_date, value)


def test_an_optional_date_that_is_given_is_checked_like_a_date():
    refusal(require_optional_date, datetime(2026, 1, 15, tzinfo=UTC))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 15, 9, 30, tzinfo=UTC),
        datetime(2026, 1, 15, tzinfo=timezone(-timedelta(hours=5))),
    ],
    ids=["UTC", "UTC-5"],
)
def test_an_aware_datetime_is_taken(moment):
    assert require_aware_datetime(moment, "the_field") is moment


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 15, 9, 30),
        datetime(2026, 1, 15, tzinfo=NoOffset()),
        date(2026, 1, 15),
        "2026-01-15T09:30:00+00:00",
        None,
    ],
    ids=["naive", "zone without offset", "date", "string", "None"],
)
def test_naive_datetimes_and_non_datetimes_are_refused(value):
    refusal(require_aware_datetime, value)


# --------------------------------------------------------------------------- enums and mappings


def test_an_enum_member_is_taken_as_itself_or_by_its_value():
    assert require_enum(Colour.RED, Colour, "the_field") is Colour.RED
    assert require_enum("green", Colour, "the_field") is Colour.GREEN


class Paint(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize("value", ["blue", "RED", "Red", None, 1, True, Paint.RED, ["red"]])
def test_a_value_outside_the_enum_is_refused_listing_the_choices(value):
    with pytest.raises(ValidationError) as caught:
        require_enum(value, Colour, "the_field")

    assert caught.value.code is ErrorCode.INVALID_VALUE
    assert caught.value.fields["field"] == "the_field"
    assert caught.value.fields["expected"] == "one of 'red', 'green'"


@pytest.mark.parametrize(
    "value", [{"a": 1}, {}, MappingProxyType({"a": 1})], ids=["dict", "empty", "proxy"]
)
def test_any_mapping_is_taken_as_it_is(value):
    assert require_mapping(value, "the_field") is value


@pytest.mark.parametrize("value", [[("a", 1)], "a=1", None], ids=["pairs", "string", "None"])
def test_things_that_are_not_mappings_are_refused(value):
    refusal(require_mapping, value)


@pytest.mark.parametrize("require", [require_text, require_string])
@pytest.mark.parametrize("text", ["\ud800", "vm-\udfff", "a\ud83dz"])
def test_text_utf8_cannot_carry_is_refused(require, text):
    """A lone surrogate reached a script's stdin and broke every later run of a resource."""
    with pytest.raises(ValidationError) as caught:
        require(text, "the_field")
    assert caught.value.code is ErrorCode.INVALID_VALUE
    assert "UTF-8" in caught.value.message
    assert "the_field" in caught.value.message


@pytest.mark.parametrize("text", ["\x00", "vm\x00", "a\x00b"])
def test_text_holding_nul_is_refused_everywhere_text_goes(text):
    """PostgreSQL cannot store NUL in text, so no adapter may be handed it."""
    for require in (require_text, require_string):
        with pytest.raises(ValidationError) as caught:
            require(text, "the_field")
        assert "NUL" in caught.value.message
        assert "the_field" in caught.value.message
    with pytest.raises(ValidationError) as caught:
        freeze_json({"note": text}, "attributes")
    assert "NUL" in caught.value.message


def test_text_with_a_whole_surrogate_pair_is_taken():
    assert require_text("rocket \U0001f680", "the_field") == "rocket \U0001f680"
