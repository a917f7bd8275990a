"""Varied values for the storage contract suite's Hypothesis round trip: strategies of
entities shaped like the samples, with other contents."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs

from marketplace_core.frozen import FrozenMap, freeze_json


def varied(value: Any, st: Any) -> Any:
    """A Hypothesis strategy (``st`` is ``hypothesis.strategies``) of values shaped like
    ``value``: the same types, other contents. Attrs instances are rebuilt field by field;
    the texts have no NUL and no lone surrogate, the Decimals are finite with 0 to 12
    decimal places, the instants carry whole-minute offsets, the numbers in JSON fit a
    double exactly."""
    if attrs.has(type(value)):
        fields = {
            field.alias: _varied_field(getattr(value, field.name), field, st)
            for field in attrs.fields(type(value))
            if field.name not in ("id", "version")
        }
        fixed = {
            field.alias: getattr(value, field.name)
            for field in attrs.fields(type(value))
            if field.name in ("id", "version")
        }
        return st.fixed_dictionaries(fields).map(lambda kw: type(value)(**fixed, **kw))
    if isinstance(value, enum.Enum):
        return st.sampled_from(list(type(value)))
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-(2**31), 2**31 - 1)
    if isinstance(value, float):
        return st.floats(-1e15, 1e15)
    if isinstance(value, str):
        return _text(st)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return st.just(value)
        return st.integers(0, 12).flatmap(
            lambda places: st.decimals(-(10**15), 10**15, places=places)
        )
    if isinstance(value, datetime):
        return st.builds(
            lambda moment, minutes: moment.replace(tzinfo=UTC).astimezone(
                timezone(timedelta(minutes=minutes))
            ),
            st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1)),
            st.integers(-23 * 60 - 59, 23 * 60 + 59),
        )
    if isinstance(value, date):
        return st.dates(date(1900, 1, 1), date(2200, 12, 31))
    if isinstance(value, Mapping):
        return _varied_mapping(value, st)
    if isinstance(value, tuple) and value:
        if attrs.has(type(value[0])):
            return st.lists(varied(value[0], st), max_size=4).map(tuple)
        return st.tuples(*(varied(item, st) for item in value))
    if isinstance(value, frozenset) and value:
        return st.frozensets(varied(next(iter(value)), st), max_size=4)
    return st.just(value)


def _varied_field(value: Any, field: Any, st: Any) -> Any:
    strategy = st.one_of(st.just(value), varied(value, st))
    if "None" in str(field.type):
        strategy = st.one_of(strategy, st.none())
    return strategy


def _text(st: Any) -> Any:
    return st.text(
        st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40
    )


def _varied_mapping(value: Mapping[str, Any], st: Any) -> Any:
    values = list(value.values())
    plain = type(value) is FrozenMap
    if values and (
        all(isinstance(item, Decimal) for item in values)
        or (plain and all(type(item) is int for item in values))
    ):
        return st.dictionaries(_text(st), varied(values[0], st), max_size=4)
    if plain and not values:
        return st.just(value)
    leaves = (
        st.none()
        | st.booleans()
        | st.integers(-(2**53), 2**53)
        | st.floats(-1e15, 1e15)
        | _text(st)
    )
    json = st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(_text(st), children, max_size=3)
        ),
        max_leaves=10,
    )
    return st.dictionaries(_text(st), json, max_size=4).map(
        lambda data: freeze_json(data, "varied")
    )
