"""The SQL adapters' codec: the trusted decoding path gives what the checked path gives, frozen
all the way down, and the bulk decode leaves the garbage collector as it found it."""

from __future__ import annotations

import gc
import json
from collections.abc import Mapping
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace_core.adapters.sql import codec
from marketplace_core.frozen import FrozenMap
from marketplace_core.offerings import Offering
from marketplace_core.resources import Resource
from marketplace_core.testing.storage_contract.samples import sample_entities, sample_events
from marketplace_core.testing.storage_contract.varied import varied

SAMPLES = sample_entities()
ENTITIES = st.sampled_from([sample for samples in SAMPLES.values() for sample in samples])


def assert_frozen_all_the_way_down(value: Any) -> None:
    """No dict or list anywhere inside ``value``, and every mapping a hashable FrozenMap."""
    assert not isinstance(value, dict | list), value
    if isinstance(value, Mapping):
        assert isinstance(value, FrozenMap)
        hash(value)
        for item in value.values():
            assert_frozen_all_the_way_down(item)
    elif isinstance(value, tuple | frozenset):
        for item in value:
            assert_frozen_all_the_way_down(item)
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            assert_frozen_all_the_way_down(getattr(value, field.name))


@given(st.data())
def test_the_trusted_path_decodes_what_the_checked_path_decodes(data):
    entity = data.draw(ENTITIES.flatmap(lambda sample: varied(sample, st)), label="entity")
    document = codec.dumps(entity)
    trusted = codec.loads_trusted(type(entity), document)
    assert trusted == codec.loads(type(entity), document)
    assert trusted == entity
    assert_frozen_all_the_way_down(trusted)


@given(st.data())
def test_the_trusted_path_decodes_events_as_the_checked_path_does(data):
    event = data.draw(st.sampled_from(sample_events()).flatmap(lambda e: varied(e, st)))
    document = codec.dumps_event(event)
    trusted = codec.loads_event_trusted(document)
    assert trusted == codec.loads_event(document) == event
    assert_frozen_all_the_way_down(trusted)


@pytest.mark.parametrize("repository", sorted(SAMPLES))
def test_every_sample_round_trips_on_both_paths(repository):
    entities = SAMPLES[repository]
    documents = [codec.dumps(entity) for entity in entities]
    cls = type(entities[0])
    assert codec.loads_many_trusted(cls, documents) == list(entities)
    assert [codec.loads(cls, document) for document in documents] == list(entities)


def test_a_document_missing_a_field_takes_its_default_on_the_trusted_path():
    resource = SAMPLES["resources"][0]
    data = json.loads(codec.dumps(resource))
    del data["policy_flags"], data["end_date"]
    found = codec.loads_trusted(Resource, json.dumps(data))
    assert found == attrs.evolve(resource, policy_flags=frozenset(), end_date=None)


def test_json_fields_decoded_on_the_trusted_path_are_frozen_and_hashable():
    offering = SAMPLES["offerings"][0]
    assert offering.plugin_options, "the fullest offering has plugin options"
    found = codec.loads_trusted(Offering, codec.dumps(offering))
    assert found.plugin_options == offering.plugin_options
    assert_frozen_all_the_way_down(found)
    assert hash(found) == hash(offering)


def test_an_unknown_enum_value_is_refused_as_the_enum_refuses_it():
    data = json.loads(codec.dumps(SAMPLES["resources"][0]))
    data["state"] = "melted"
    with pytest.raises(ValueError, match="melted"):
        codec.loads_trusted(Resource, json.dumps(data))


def test_documents_are_compact_json_with_the_fields_in_class_order():
    resource = SAMPLES["resources"][0]
    document = codec.dumps(resource)
    assert document == json.dumps(codec.encoder(Resource)(resource), separators=(",", ":"))
    assert list(json.loads(document)) == [field.name for field in attrs.fields(Resource)]


def test_a_bulk_decode_pauses_the_collector_and_resumes_it(monkeypatch):
    resource = SAMPLES["resources"][0]
    original = codec.trusted_decoder(Resource)
    collecting = []

    def spy(data):
        collecting.append(gc.isenabled())
        return original(data)

    monkeypatch.setattr(codec, "trusted_decoder", lambda cls: spy)
    assert gc.isenabled()
    decoded = codec.loads_many_trusted(Resource, [codec.dumps(resource)] * codec.BULK)
    assert decoded == [resource] * codec.BULK
    assert collecting == [False] * codec.BULK
    assert gc.isenabled()
    codec.loads_many_trusted(Resource, [codec.dumps(resource)] * 3)
    assert collecting[-3:] == [True] * 3, "a small decode leaves the collector running"


def test_pauses_nest_and_leave_a_disabled_collector_disabled():
    with codec.collector_paused():
        with codec.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with codec.collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
