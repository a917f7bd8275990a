"""The pure domain of resources: their lifecycle, whether they still exist, and when their
end date makes them due for termination (DESIGN §5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace_core import ErrorCode, InvalidTransitionError, Resource, ResourceState
from marketplace_core.resources import (
    RESOURCE_LIFECYCLE,
    ResourceEvent,
    is_due_for_termination,
)

NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
DAY = timedelta(days=1)


def a_resource(state: ResourceState = ResourceState.OK, **fields) -> Resource:
    return Resource("resource-1", "My VM", "project-1", "offering-1", NOW, state=state, **fields)


RESOURCE_EDGES = {
    ("creating", "succeed"): "ok",
    ("updating", "succeed"): "ok",
    ("erred", "succeed"): "ok",
    ("creating", "fail"): "erred",
    ("updating", "fail"): "erred",
    ("ok", "fail"): "erred",
    ("ok", "begin_update"): "updating",
    ("erred", "begin_update"): "updating",
    ("ok", "begin_termination"): "terminating",
    ("erred", "begin_termination"): "terminating",
    ("updating", "restore"): "ok",
    ("terminating", "restore"): "ok",
    ("creating", "terminate"): "terminated",
    ("ok", "terminate"): "terminated",
    ("erred", "terminate"): "terminated",
    ("terminating", "terminate"): "terminated",
}
"""Every edge of the resource lifecycle, written out one by one."""


def test_the_resource_lifecycle_has_exactly_the_designed_edges():
    declared = {
        (source.value, event.value): target.value
        for source, event, target in RESOURCE_LIFECYCLE.edges()
    }
    assert declared == RESOURCE_EDGES


def test_a_resource_starts_being_created():
    assert RESOURCE_LIFECYCLE.initial is ResourceState.CREATING
    assert Resource("r", "n", "p", "o", NOW).state is ResourceState.CREATING


def test_terminated_is_the_only_final_state():
    final = {state for state in ResourceState if RESOURCE_LIFECYCLE.is_final(state)}
    assert final == {ResourceState.TERMINATED}


def test_a_resource_whose_create_order_is_withdrawn_can_be_discarded_while_creating():
    assert a_resource(ResourceState.CREATING).fire(ResourceEvent.TERMINATE).state is (
        ResourceState.TERMINATED
    )


def test_a_failed_termination_returns_the_resource_to_ok():
    assert a_resource(ResourceState.TERMINATING).fire(ResourceEvent.RESTORE).state is (
        ResourceState.OK
    )


@pytest.mark.parametrize(("source", "event"), sorted(RESOURCE_EDGES))
def test_firing_an_allowed_event_moves_only_the_state(source, event):
    resource = a_resource(ResourceState(source), limits={"ram": 1024}, backend_id="vm-1")
    moved = resource.fire(ResourceEvent(event))
    assert moved.state is ResourceState(RESOURCE_EDGES[source, event])
    assert attrs.evolve(moved, state=resource.state) == resource
    assert resource.state is ResourceState(source)


@pytest.mark.parametrize(
    ("source", "event"),
    [
        (state.value, event.value)
        for state in ResourceState
        for event in ResourceEvent
        if (state.value, event.value) not in RESOURCE_EDGES
    ],
)
def test_firing_a_forbidden_event_names_the_resource_the_event_and_the_state(source, event):
    resource = a_resource(ResourceState(source))
    with pytest.raises(InvalidTransitionError) as caught:
        resource.fire(ResourceEvent(event))
    error = caught.value
    assert error.code is ErrorCode.INVALID_TRANSITION
    assert (error.entity, error.entity_id, error.event, error.state) == (
        "resource",
        "resource-1",
        event,
        source,
    )
    assert error.fields["allowed"] == tuple(sorted(e for (s, e) in RESOURCE_EDGES if s == source))


@pytest.mark.parametrize("state", list(ResourceState))
def test_a_resource_is_live_until_it_is_terminated(state):
    assert a_resource(state).is_live is (state is not ResourceState.TERMINATED)


@pytest.mark.parametrize(
    ("end_date", "due"),
    [
        pytest.param(None, False, id="no end date"),
        pytest.param(TODAY + DAY, False, id="ends tomorrow"),
        pytest.param(TODAY, False, id="today is its last day"),
        pytest.param(TODAY - DAY, True, id="its last day was yesterday"),
        pytest.param(TODAY - 30 * DAY, True, id="its last day was a month ago"),
    ],
)
def test_a_resource_is_due_for_termination_from_the_day_after_its_end_date(end_date, due):
    assert is_due_for_termination(a_resource(end_date=end_date), TODAY) is due


def test_a_terminated_resource_is_never_due():
    terminated = a_resource(ResourceState.TERMINATED, end_date=TODAY - 30 * DAY)
    assert not is_due_for_termination(terminated, TODAY)


@given(
    st.sampled_from(list(ResourceState)),
    st.none() | st.integers(-400, 400),
)
def test_a_live_resource_is_due_exactly_when_today_is_past_its_end_date(state, days_to_end):
    end_date = None if days_to_end is None else TODAY + days_to_end * DAY
    resource = a_resource(state, end_date=end_date)
    expected = state is not ResourceState.TERMINATED and end_date is not None and days_to_end < 0
    assert is_due_for_termination(resource, TODAY) is expected
