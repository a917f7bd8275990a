"""Lifecycles: a declared state machine, read back as a lookup table, diagram and plain data."""

from __future__ import annotations

import enum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace_core.errors import ErrorCode, InvalidTransitionError
from marketplace_core.lifecycle import Lifecycle, Transition
from marketplace_core.offerings import OFFERING_LIFECYCLE, OfferingEvent, OfferingState


class Door(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    LOCKED = "locked"
    BROKEN = "broken"


class DoorEvent(enum.StrEnum):
    OPEN = "open"
    CLOSE = "close"
    LOCK = "lock"
    UNLOCK = "unlock"
    KNOCK = "knock"
    SMASH = "smash"


DOOR_EDGES = {
    (Door.CLOSED, DoorEvent.OPEN): Door.OPEN,
    (Door.CLOSED, DoorEvent.LOCK): Door.LOCKED,
    (Door.CLOSED, DoorEvent.KNOCK): Door.CLOSED,
    (Door.OPEN, DoorEvent.CLOSE): Door.CLOSED,
    (Door.LOCKED, DoorEvent.UNLOCK): Door.CLOSED,
    (Door.CLOSED, DoorEvent.SMASH): Door.BROKEN,
    (Door.LOCKED, DoorEvent.SMASH): Door.BROKEN,
}
"""The door's edges, written out one by one: what the declaration below must reproduce."""

DOOR_EDGES_LIST = [
    (source.value, event.value, target.value) for (source, event), target in DOOR_EDGES.items()
]


def door_lifecycle() -> Lifecycle[Door, DoorEvent]:
    return Lifecycle(
        "door",
        Door,
        DoorEvent,
        Door.CLOSED,
        [
            Transition(DoorEvent.OPEN, (Door.CLOSED,), Door.OPEN),
            Transition(DoorEvent.CLOSE, (Door.OPEN,), Door.CLOSED),
            Transition(DoorEvent.LOCK, (Door.CLOSED,), Door.LOCKED),
            Transition(DoorEvent.UNLOCK, (Door.LOCKED,), Door.CLOSED),
            Transition(DoorEvent.KNOCK, (Door.CLOSED,), Door.CLOSED),
            Transition(DoorEvent.SMASH, (Door.CLOSED, Door.LOCKED), Door.BROKEN),
        ],
    )


DOOR = door_lifecycle()

OFFERING_EDGES = {
    (OfferingState.DRAFT, OfferingEvent.ACTIVATE): OfferingState.ACTIVE,
    (OfferingState.ACTIVE, OfferingEvent.PAUSE): OfferingState.PAUSED,
    (OfferingState.PAUSED, OfferingEvent.RESUME): OfferingState.ACTIVE,
    (OfferingState.DRAFT, OfferingEvent.ARCHIVE): OfferingState.ARCHIVED,
    (OfferingState.ACTIVE, OfferingEvent.ARCHIVE): OfferingState.ARCHIVED,
    (OfferingState.PAUSED, OfferingEvent.ARCHIVE): OfferingState.ARCHIVED,
}


def as_mapping(edges):
    return {(source, event): target for source, event, target in edges}


# --------------------------------------------------------------------------- the declaration


def test_a_lifecycle_has_exactly_the_declared_edges():
    edges = DOOR.edges()

    assert len(edges) == len(DOOR_EDGES)
    assert as_mapping(edges) == DOOR_EDGES


def test_edges_are_listed_in_state_order_then_by_event_name():
    sources = [source for source, _, _ in DOOR.edges()]
    closed_events = [event for source, event, _ in DOOR.edges() if source is Door.CLOSED]

    assert sources == sorted(sources, key=list(Door).index)
    assert closed_events == sorted(closed_events)


@pytest.mark.parametrize("state", list(Door))
@pytest.mark.parametrize("event", list(DoorEvent))
def test_a_state_allows_an_event_exactly_when_an_edge_leaves_it_on_that_event(state, event):
    assert DOOR.allows(state, event) is ((state, event) in DOOR_EDGES)


def test_the_target_of_each_declared_edge_is_its_declared_target():
    for (state, event), target in DOOR_EDGES.items():
        assert DOOR.target(state, event, "front-door") is target


def test_a_self_loop_is_an_edge_like_any_other():
    assert DOOR.target(Door.CLOSED, DoorEvent.KNOCK, "front-door") is Door.CLOSED
    assert DOOR.allows(Door.CLOSED, DoorEvent.KNOCK)


def test_allowed_events_are_the_events_leaving_a_state_sorted_by_name():
    assert DOOR.allowed_events(Door.CLOSED) == ("knock", "lock", "open", "smash")
    assert DOOR.allowed_events(Door.BROKEN) == ()


def test_an_event_a_state_does_not_allow_is_refused_with_the_facts():
    with pytest.raises(InvalidTransitionError) as caught:
        DOOR.target(Door.LOCKED, DoorEvent.OPEN, "front-door")

    error = caught.value
    assert error.code is ErrorCode.INVALID_TRANSITION
    assert error.fields == {
        "entity": "door",
        "id": "front-door",
        "event": "open",
        "state": "locked",
        "allowed": ("smash", "unlock"),
    }
    assert (error.entity, error.entity_id, error.event, error.state) == (
        "door",
        "front-door",
        "open",
        "locked",
    )
    for fact in ("open", "door", "'front-door'", "'locked'", "smash, unlock"):
        assert fact in error.message


def test_an_event_fired_in_a_final_state_says_the_state_is_final():
    with pytest.raises(InvalidTransitionError) as caught:
        DOOR.target(Door.BROKEN, DoorEvent.CLOSE, "front-door")

    assert caught.value.fields["allowed"] == ()
    assert "final" in caught.value.message


@pytest.mark.parametrize("state", list(Door))
def test_a_state_is_final_exactly_when_no_edge_leaves_it(state):
    leaves = any(source is state for source, _ in DOOR_EDGES)

    assert DOOR.is_final(state) is not leaves


def test_the_machine_has_no_models_and_no_automatic_to_state_transitions():
    machine = DOOR.machine

    assert machine.models == []
    assert machine.auto_transitions is False
    assert set(machine.events) == {str(event) for event in DoorEvent}
    assert not any(name.startswith("to_") for name in machine.events)
    assert not hasattr(machine, "to_open")


def test_the_mermaid_diagram_draws_every_edge_and_marks_final_states():
    diagram = DOOR.to_mermaid()
    lines = diagram.splitlines()

    assert lines[0] == "stateDiagram-v2"
    assert "    [*] --> closed" in lines
    for source, event, target in DOOR_EDGES_LIST:
        assert f"    {source} --> {target}: {event}" in lines
    assert "    broken --> [*]" in lines
    assert len(lines) == 2 + len(DOOR_EDGES) + 1
    assert diagram.endswith("\n")


def test_the_table_is_plain_data_describing_the_lifecycle():
    table = DOOR.to_table()

    assert table["entity"] == "door"
    assert table["initial"] == "closed"
    assert table["states"] == ["closed", "open", "locked", "broken"]
    assert sorted((t["source"], t["event"], t["target"]) for t in table["transitions"]) == sorted(
        DOOR_EDGES_LIST
    )
    assert_plain(table)


def assert_plain(value: object) -> None:
    """``value`` is built from dicts, lists, str only: no enums, tuples or other objects."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            assert_plain(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain(item)
    else:
        assert type(value) is str, f"{value!r} is not plain data"


# --------------------------------------------------------------------------- the offering lifecycle


def test_offerings_go_draft_active_paused_archived_and_nowhere_else():
    assert as_mapping(OFFERING_LIFECYCLE.edges()) == OFFERING_EDGES
    assert len(OFFERING_LIFECYCLE.edges()) == len(OFFERING_EDGES)


def test_an_offering_starts_as_a_draft():
    assert OFFERING_LIFECYCLE.initial is OfferingState.DRAFT


def test_archived_is_the_only_final_offering_state():
    finals = [state for state in OfferingState if OFFERING_LIFECYCLE.is_final(state)]

    assert finals == [OfferingState.ARCHIVED]


def test_the_offering_machine_has_no_models_and_no_automatic_transitions():
    assert OFFERING_LIFECYCLE.machine.models == []
    assert OFFERING_LIFECYCLE.machine.auto_transitions is False
    assert set(OFFERING_LIFECYCLE.machine.events) == {str(event) for event in OfferingEvent}


@given(st.sampled_from(OfferingState), st.sampled_from(OfferingEvent))
def test_an_offering_event_leads_to_its_declared_target_or_is_refused(state, event):
    declared = OFFERING_EDGES.get((state, event))

    if declared is None:
        with pytest.raises(InvalidTransitionError) as caught:
            OFFERING_LIFECYCLE.target(state, event, "o1")
        assert caught.value.fields["state"] == state.value
        assert caught.value.fields["event"] == event.value
    else:
        assert OFFERING_LIFECYCLE.target(state, event, "o1") is declared
