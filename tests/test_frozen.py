"""Entity fields that hold mappings are frozen, hashable, and equal to plain dicts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace_core import ErrorCode, Offering, Plan, PlanUnit, ValidationError
from marketplace_core.frozen import FrozenMap, freeze_json, frozen_mapping, thaw_json

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_frozen_map_equals_its_source_and_is_read_only():
    source = {"a": 1, "b": 2}
    frozen = frozen_mapping(source)
    assert frozen == source
    assert source == frozen
    with pytest.raises(TypeError):
        frozen["a"] = 2  # type: ignore[index]
    with pytest.raises(AttributeError):
        frozen.clear()  # type: ignore[attr-defined]


def test_a_frozen_map_does_not_follow_later_changes_to_its_source():
    source = {"a": 1}
    frozen = frozen_mapping(source)
    source["b"] = 2
    assert dict(frozen) == {"a": 1}


def test_freezing_a_frozen_map_returns_it():
    frozen = FrozenMap({"a": 1})
    assert frozen_mapping(frozen) is frozen


@given(st.dictionaries(st.text(max_size=5), st.integers()))
def test_equal_frozen_maps_hash_alike(source):
    assert FrozenMap(source) == FrozenMap(dict(reversed(list(source.items()))))
    assert hash(FrozenMap(source)) == hash(FrozenMap(dict(reversed(list(source.items())))))


def test_entities_with_mapping_fields_are_hashable_values():
    plan = Plan(
        id="p",
        offering_id="o",
        name="n",
        unit=PlanUnit.DAY,
        created_at=NOW,
        prices={"cpu": Decimal(1)},
    )
    same = Plan(
        id="p",
        offering_id="o",
        name="n",
        unit=PlanUnit.DAY,
        created_at=NOW,
        prices={"cpu": Decimal(1)},
    )
    assert {plan, same} == {plan}


# Any text JSON data may hold: everything but NUL (refused, see tests/test_inputs.py).
json_text = st.text(st.characters(exclude_characters="\x00"), max_size=4)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | json_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(json_text, children, max_size=3)
    ),
    max_leaves=10,
)


@given(st.dictionaries(json_text, json_values, max_size=4))
def test_plugin_options_are_frozen_all_the_way_down_and_thaw_back(options):
    offering = Offering(
        id="o",
        name="n",
        provider_id="p",
        plugin_type="basic",
        created_at=NOW,
        plugin_options=options,
    )
    hash(offering)
    assert thaw_json(offering.plugin_options) == options


def test_a_nested_option_cannot_be_changed_behind_the_offering():
    offering = Offering(
        id="o",
        name="n",
        provider_id="p",
        plugin_type="basic",
        created_at=NOW,
        plugin_options={"script": {"create": ["run.sh", "--fast"]}},
    )
    assert offering.plugin_options["script"]["create"] == ("run.sh", "--fast")
    with pytest.raises(TypeError):
        offering.plugin_options["script"]["create"] = ()


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({1: "x"}, "plugin_options"),
        ({"a": {1, 2}}, "plugin_options['a']"),
        ({"a": [b"x"]}, "plugin_options['a'][0]"),
    ],
)
def test_non_json_options_are_refused_naming_the_path(value, path):
    with pytest.raises(ValidationError) as caught:
        freeze_json(value, "plugin_options")
    assert caught.value.code is ErrorCode.INVALID_VALUE
    assert caught.value.fields["field"] == path


@pytest.mark.parametrize(
    ("value", "where"),
    [({"flavor": "\ud800"}, "attributes['flavor']"), ({"\ud800": 1}, "attributes")],
)
def test_json_text_utf8_cannot_carry_is_refused_naming_where(value, where):
    with pytest.raises(ValidationError) as caught:
        freeze_json(value, "attributes")
    assert caught.value.fields["field"] == where
    assert "lone surrogate" in caught.value.message
