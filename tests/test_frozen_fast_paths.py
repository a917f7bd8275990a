"""The fast paths of :mod:`marketplace_core.frozen` give what the checked ones give: trusted
JSON freezes as ``freeze_json`` does, and ``replace`` copies as ``attrs.evolve`` does."""

from __future__ import annotations

import json

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace_core.frozen import (
    FrozenMap,
    adopt_frozen_map,
    freeze_json,
    freeze_trusted_json,
    plain_items,
    replace,
)
from marketplace_core.testing.storage_contract.samples import sample_entities
from marketplace_core.testing.storage_contract.varied import varied
from tests.adapters.test_sql_codec import assert_frozen_all_the_way_down

json_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | json_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(json_text, children, max_size=3)
    ),
    max_leaves=12,
)
ENTITIES = st.sampled_from([sample for samples in sample_entities().values() for sample in samples])


@given(json_values)
def test_trusted_json_freezes_as_checked_json_does(value):
    parsed = json.loads(json.dumps(value))
    frozen = freeze_trusted_json(parsed)
    assert frozen == freeze_json(value, "value")
    assert_frozen_all_the_way_down(frozen)
    hash(frozen)


@given(st.dictionaries(json_text, st.integers()))
def test_an_adopted_dict_is_a_frozen_map_of_its_items(items):
    adopted = adopt_frozen_map(dict(items))
    assert adopted == FrozenMap(items)
    assert hash(adopted) == hash(FrozenMap(items))
    assert plain_items(adopted) == items
    assert plain_items(dict(items)) == items


@given(st.data())
def test_replace_copies_as_evolve_does(data):
    entity = data.draw(ENTITIES.flatmap(lambda sample: varied(sample, st)), label="entity")
    other = data.draw(varied(entity, st), label="other")
    names = [field.name for field in attrs.fields(type(entity))]
    changed = data.draw(st.lists(st.sampled_from(names), unique=True), label="changed")
    changes = {name: getattr(other, name) for name in changed}
    copy = replace(entity, **changes)
    assert copy == attrs.evolve(entity, **changes)
    assert type(copy) is type(entity)
    assert_frozen_all_the_way_down(copy)


def test_replace_converts_the_changed_fields():
    resource = sample_entities()["resources"][0]
    copy = replace(resource, limits={"cpu": 2}, attributes={"keys": ["a", {"b": 1}]})
    assert isinstance(copy.limits, FrozenMap)
    assert copy.attributes == {"keys": ("a", {"b": 1})}
    assert_frozen_all_the_way_down(copy)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        copy.name = "changed"  # type: ignore[misc]


@attrs.frozen
class _Checked:
    amount: int = attrs.field(validator=attrs.validators.ge(0))
    label: str = ""


def test_replace_validates_the_classes_that_have_validators():
    checked = _Checked(1, "a")
    assert replace(checked, label="b") == _Checked(1, "b")
    with pytest.raises(ValueError, match="amount"):
        replace(checked, amount=-1)


def test_replace_refuses_an_unknown_field():
    with pytest.raises(TypeError, match="colour"):
        replace(sample_entities()["resources"][0], colour="red")
