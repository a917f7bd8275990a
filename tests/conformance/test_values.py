"""Values in vectors: arguments survive being written as JSON and decoded by the command's
declared types, and an observed tree matches its own expectation and nothing else."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace_core.conformance.values import (
    decode,
    mismatch,
    name_ids,
    observe,
    resolve_names,
    to_expectation,
    to_json,
)
from marketplace_core.offerings import (
    LimitedTo,
    OfferingComponent,
    PlanUnit,
    PrivateToOrganization,
    PrivateToProject,
    Shared,
    Visibility,
)
from marketplace_core.policies import PolicyAction
from marketplace_core.services.usage import UsageLine
from marketplace_core.testing.strategies import offering_components, policies

visibilities = st.one_of(
    st.just(Shared()),
    st.builds(
        LimitedTo,
        st.frozensets(st.text(min_size=1, max_size=5)),
        st.frozensets(st.text(min_size=1, max_size=5)),
    ),
    st.builds(PrivateToOrganization, st.text(min_size=1, max_size=5)),
    st.builds(PrivateToProject, st.text(min_size=1, max_size=5)),
)


def through_json(value: object, kind: object) -> object:
    return decode(json.loads(json.dumps(to_json(value))), kind)


@given(offering_components())
def test_components_survive_json(component: OfferingComponent) -> None:
    assert through_json(component, OfferingComponent) == component


@given(visibilities)
def test_each_visibility_survives_json_by_its_type_tag(visibility: Visibility) -> None:
    assert through_json(visibility, Visibility | None) == visibility


@given(policies())
def test_policy_actions_survive_json(spec: object) -> None:
    actions = spec.actions  # type: ignore[attr-defined]
    assert through_json(actions, tuple[PolicyAction, ...]) == tuple(actions)


@given(
    st.builds(
        UsageLine,
        st.text(min_size=1, max_size=5),
        st.sampled_from(["cpu", "storage"]),
        st.decimals(allow_nan=False, allow_infinity=False, places=3),
        st.text(min_size=1, max_size=8),
        st.none() | st.dates(),
    )
)
def test_usage_lines_survive_json(line: UsageLine) -> None:
    decoded = through_json(line, UsageLine)
    assert isinstance(decoded, UsageLine)
    assert Decimal(decoded.amount) == line.amount
    assert (decoded.resource_id, decoded.month) == (line.resource_id, line.month)


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("2026-02-01", date, date(2026, 2, 1)),
        ("2026-02-01T10:00:00+00:00", datetime, datetime(2026, 2, 1, 10, tzinfo=UTC)),
        ("day", PlanUnit, PlanUnit.DAY),
        (None, date | None, None),
        ("1.50", Decimal, Decimal("1.50")),
    ],
)
def test_values_decode_by_their_declared_type(
    value: object, kind: object, expected: object
) -> None:
    assert decode(value, kind) == expected


@pytest.mark.parametrize(
    ("value", "kind"),
    [("fortnight", PlanUnit), ("yesterday", date), (3.5, Decimal), (1, bool), ({"x": 1}, Shared)],
)
def test_values_that_do_not_decode_reach_the_command_unchanged(value: object, kind: object) -> None:
    assert decode(value, kind) == value


json_trees = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=6)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.just(UTC)),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=10,
)


@given(json_trees)
def test_an_observed_tree_matches_its_own_expectation(tree: object) -> None:
    expected = json.loads(json.dumps(to_expectation(tree)))
    assert mismatch(expected, tree) is None


def test_objects_match_partially_and_lists_exactly() -> None:
    actual = observe({"a": 1, "b": [1, 2]})
    assert mismatch({"a": 1}, actual) is None
    assert mismatch({"b": [1]}, actual) == "b: expected 1 items, got 2: [1, 2]"
    assert mismatch({"c": 1}, actual) == "the value: expected key 'c', which is missing"
    assert mismatch({"a": True}, actual) == "a: expected True, got 1"


def test_names_stand_for_ids_both_ways() -> None:
    ids = {"alice": "u-17"}
    assert resolve_names({"$alice": ["$alice", "$$cash", "plain"]}, ids.__getitem__) == {
        "u-17": ["u-17", "$cash", "plain"]
    }
    assert name_ids(["u-17", "$cash", "plain"], {"u-17": "alice"}) == [
        "$alice",
        "$$cash",
        "plain",
    ]
