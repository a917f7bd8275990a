"""The catalogue rules in :mod:`marketplace_core.offerings`, as pure functions over values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace_core.errors import ErrorCode, InvalidTransitionError, ValidationError
from marketplace_core.frozen import FrozenMap
from marketplace_core.offerings import (
    LIMIT_CEILING,
    BillingType,
    LimitedTo,
    LimitPeriod,
    Offering,
    OfferingComponent,
    OfferingEvent,
    OfferingState,
    Plan,
    PlanUnit,
    PrivateToOrganization,
    PrivateToProject,
    Shared,
    apply_future_prices,
    check_can_activate,
    check_component_settings,
    check_components,
    check_limit_bounds,
    check_limit_period_amount,
    check_limits,
    check_limits_allowed,
    check_offering_editable,
    check_offering_limit_cap,
    check_orderable,
    check_plan_components,
    check_plan_open,
    is_orderable,
    is_private,
    is_visible_to,
)
from marketplace_core.organizations import Organization

CREATED = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


# --------------------------------------------------------------------------- builders


def component(
    component_type: str = "cpu", billing_type: Any = BillingType.USAGE, **settings: Any
) -> OfferingComponent:
    """A component named after its type; ``settings`` may be deliberately malformed."""
    return OfferingComponent(component_type, f"{component_type} name", billing_type, **settings)


def limit_component(component_type: str = "storage", **settings: Any) -> OfferingComponent:
    return component(component_type, BillingType.LIMIT, **settings)


CPU = component("cpu", BillingType.USAGE)
BASE = component("base", BillingType.FIXED)
STORAGE = limit_component(
    "storage",
    min_value=1,
    max_value=100,
    max_available_limit=200,
    limit_period=LimitPeriod.MONTH,
    limit_amount=150,
)
GPU = limit_component("gpu", is_boolean=True)


def offering(**overrides: Any) -> Offering:
    """An offering that passes every orderability rule unless ``overrides`` break one."""
    fields: dict[str, Any] = {
        "id": "o1",
        "name": "Cluster",
        "provider_id": "provider",
        "plugin_type": "basic",
        "created_at": CREATED,
        "category_id": "hpc",
        "state": OfferingState.ACTIVE,
        "components": (CPU, BASE, STORAGE, GPU),
    }
    return Offering(**(fields | overrides))


def plan(**overrides: Any) -> Plan:
    fields: dict[str, Any] = {
        "id": "plan1",
        "offering_id": "o1",
        "name": "Standard",
        "unit": PlanUnit.MONTH,
        "created_at": CREATED,
    }
    return Plan(**(fields | overrides))


def organization(organization_id: str = "org-a", group_id: str | None = None) -> Organization:
    return Organization(organization_id, f"{organization_id} name", CREATED, group_id=group_id)


PROVIDER = organization("provider")


def refusal(rule: Callable[..., None], *arguments: Any, **keywords: Any) -> ErrorCode | None:
    """The code ``rule`` refuses with, or ``None`` when it accepts."""
    try:
        rule(*arguments, **keywords)
    except ValidationError as error:
        return error.code
    return None


# --------------------------------------------------------------------------- component settings


@pytest.mark.parametrize("billing_type", list(BillingType))
def test_a_plain_component_of_every_billing_type_is_accepted(billing_type):
    plain = component("cpu", billing_type)

    assert refusal(check_component_settings, plain) is None


@pytest.mark.parametrize(
    "well_formed",
    [
        pytest.param(STORAGE, id="limit with bounds, cap and period amount"),
        pytest.param(limit_component(min_value=0, max_value=0), id="limit bounded to exactly 0"),
        pytest.param(limit_component(min_value=7, max_value=7), id="limit with min == max"),
        pytest.param(limit_component(limit_period=LimitPeriod.TOTAL), id="limit period alone"),
        pytest.param(limit_component(factor=1024), id="limit with a factor"),
        pytest.param(GPU, id="boolean limit"),
        pytest.param(
            limit_component(is_boolean=True, min_value=0, max_value=1, max_available_limit=3),
            id="boolean limit spelling out 0..1",
        ),
        pytest.param(
            component("cpu", BillingType.USAGE, limit_period=LimitPeriod.ANNUAL, limit_amount=0),
            id="usage capped per period",
        ),
        pytest.param(component("a" * 50, BillingType.FIXED), id="50-character type"),
        pytest.param(component("aZ09_-/:", BillingType.ONE_TIME), id="every allowed character"),
    ],
)
def test_well_formed_components_are_accepted(well_formed):
    assert refusal(check_component_settings, well_formed) is None


@pytest.mark.parametrize(
    "bad_type", ["", "a" * 51, "has space", "dot.ted", "ünï", "star*", "cpu\n", 7, None]
)
def test_a_component_type_outside_the_pattern_is_refused(bad_type):
    with pytest.raises(ValidationError) as caught:
        check_component_settings(component(bad_type))

    assert caught.value.code is ErrorCode.INVALID_COMPONENT_SETTINGS
    assert caught.value.fields["setting"] == "type"
    assert caught.value.fields["component"] == repr(bad_type)
    assert repr(bad_type) in caught.value.message


TYPE_ALPHABET = "abcXYZ019_-/:" + " .*é#\n"


@given(st.text(alphabet=TYPE_ALPHABET, max_size=55))
def test_a_component_type_is_accepted_exactly_when_it_matches_the_pattern(component_type):
    allowed = set("abcXYZ019_-/:")
    well_formed = 1 <= len(component_type) <= 50 and set(component_type) <= allowed

    code = refusal(check_component_settings, component(component_type))

    assert code is (None if well_formed else ErrorCode.INVALID_COMPONENT_SETTINGS)


NOT_PERIOD_CAPPED = [BillingType.FIXED, BillingType.ONE_TIME, BillingType.ON_PLAN_SWITCH]
NOT_LIMIT = [BillingType.USAGE, *NOT_PERIOD_CAPPED]

MALFORMED_SETTINGS = [
    pytest.param(OfferingComponent("cpu", "", BillingType.USAGE), "name", id="empty name"),
    pytest.param(OfferingComponent("cpu", "   ", BillingType.USAGE), "name", id="blank name"),
    pytest.param(OfferingComponent("cpu", None, BillingType.USAGE), "name", id="name not text"),
    pytest.param(component(billing_type="usage"), "billing_type", id="billing type as a string"),
    pytest.param(component(factor=0), "factor", id="factor 0"),
    pytest.param(component(factor=-2), "factor", id="negative factor"),
    pytest.param(component(factor=1.5), "factor", id="float factor"),
    pytest.param(component(factor=True), "factor", id="bool factor"),
    pytest.param(component(factor="2"), "factor", id="string factor"),
    pytest.param(limit_component(min_value=-1), "min_value", id="negative min_value"),
    pytest.param(limit_component(max_value=2.0), "max_value", id="float max_value"),
    pytest.param(limit_component(max_available_limit=True), "max_available_limit", id="bool cap"),
    pytest.param(
        limit_component(limit_period=LimitPeriod.MONTH, limit_amount=-1),
        "limit_amount",
        id="negative limit_amount",
    ),
    pytest.param(
        component(limit_period=LimitPeriod.MONTH, limit_amount="10"),
        "limit_amount",
        id="string limit_amount",
    ),
    pytest.param(limit_component(limit_period="month"), "limit_period", id="period as a string"),
    pytest.param(
        limit_component(limit_amount=10), "limit_amount", id="limit amount without a period"
    ),
    pytest.param(component(limit_amount=10), "limit_amount", id="usage amount without a period"),
    pytest.param(limit_component(is_boolean=True, min_value=1), "is_boolean", id="boolean min 1"),
    pytest.param(limit_component(is_boolean=True, max_value=2), "is_boolean", id="boolean max 2"),
    pytest.param(limit_component(is_boolean=True, max_value=0), "is_boolean", id="boolean max 0"),
    pytest.param(
        limit_component(is_boolean=True, limit_period=LimitPeriod.MONTH, limit_amount=1),
        "limit_amount",
        id="boolean with a period amount",
    ),
    pytest.param(limit_component(min_value=5, max_value=4), "min_value", id="min above max"),
    *(
        pytest.param(component("x", billing_type, **{setting: value}), setting, id=identifier)
        for billing_type in NOT_PERIOD_CAPPED
        for setting, value, identifier in [
            ("limit_period", LimitPeriod.MONTH, f"{billing_type} with a limit period"),
            ("limit_amount", 5, f"{billing_type} with a limit amount"),
        ]
    ),
    *(
        pytest.param(component("x", billing_type, **{setting: 1}), setting, id=identifier)
        for billing_type in NOT_LIMIT
        for setting in ("min_value", "max_value", "max_available_limit")
        for identifier in [f"{billing_type} with {setting}"]
    ),
    *(
        pytest.param(
            component("x", billing_type, is_boolean=True),
            "is_boolean",
            id=f"{billing_type} marked boolean",
        )
        for billing_type in NOT_LIMIT
    ),
]


@pytest.mark.parametrize(("malformed", "setting"), MALFORMED_SETTINGS)
def test_a_malformed_component_setting_is_refused_naming_the_component_and_setting(
    malformed, setting
):
    with pytest.raises(ValidationError) as caught:
        check_component_settings(malformed)

    assert caught.value.code is ErrorCode.INVALID_COMPONENT_SETTINGS
    assert caught.value.fields == {"component": malformed.type, "setting": setting}
    assert repr(malformed.type) in caught.value.message
    assert setting in caught.value.message


def test_checked_components_come_back_as_a_tuple_in_order():
    checked = check_components(c for c in (CPU, STORAGE, GPU))

    assert checked == (CPU, STORAGE, GPU)


def test_a_component_type_may_appear_only_once_per_offering():
    twin = component("cpu", BillingType.FIXED)

    with pytest.raises(ValidationError) as caught:
        check_components([CPU, STORAGE, twin])

    assert caught.value.code is ErrorCode.DUPLICATE_COMPONENT
    assert caught.value.fields["component"] == "cpu"
    assert "'cpu'" in caught.value.message


def test_every_component_of_an_offering_is_checked():
    with pytest.raises(ValidationError) as caught:
        check_components([CPU, component("base", BillingType.FIXED, factor=0)])

    assert caught.value.code is ErrorCode.INVALID_COMPONENT_SETTINGS
    assert caught.value.fields["component"] == "base"


def test_components_must_be_component_values():
    with pytest.raises(ValidationError) as caught:
        check_components([CPU, {"type": "ram"}])

    assert caught.value.code is ErrorCode.INVALID_VALUE
    assert caught.value.fields["field"] == "components"


# --------------------------------------------------------------------------- visibility

ORGANIZATION_IDS = st.text(alphabet="abcdef-", min_size=1, max_size=6)


def test_a_shared_offering_is_visible_to_every_project():
    assert is_visible_to(Shared(), organization("org-a"), "p1")
    assert is_visible_to(Shared(), organization("org-b", group_id="g"), "p2")


def test_an_offering_private_to_an_organization_is_visible_to_its_projects():
    assert is_visible_to(PrivateToOrganization("org-a"), organization("org-a"), "any-project")


@given(
    owner=ORGANIZATION_IDS,
    other=ORGANIZATION_IDS,
    group_id=st.none() | ORGANIZATION_IDS,
    project_id=ORGANIZATION_IDS,
)
def test_offering_private_to_one_organization_is_invisible_to_every_other(
    owner, other, group_id, project_id
):
    visibility = PrivateToOrganization(owner)

    visible = is_visible_to(visibility, organization(other, group_id=group_id), project_id)

    assert visible is (other == owner)


def test_an_offering_private_to_a_project_is_visible_only_to_that_project():
    visibility = PrivateToProject("p1")

    assert is_visible_to(visibility, organization("org-a"), "p1")
    assert not is_visible_to(visibility, organization("org-a"), "p2")


def test_a_limited_offering_is_visible_to_the_listed_organizations_only():
    visibility = LimitedTo(organization_ids=frozenset({"org-a"}))

    assert is_visible_to(visibility, organization("org-a"), "p1")
    assert not is_visible_to(visibility, organization("org-b"), "p1")


def test_a_limited_offering_is_visible_to_members_of_the_listed_groups():
    visibility = LimitedTo(organization_group_ids=frozenset({"universities"}))

    assert is_visible_to(visibility, organization("org-a", group_id="universities"), "p1")
    assert not is_visible_to(visibility, organization("org-b", group_id="companies"), "p1")
    assert not is_visible_to(visibility, organization("org-c", group_id=None), "p1")


def test_an_offering_limited_to_nobody_is_visible_to_nobody():
    assert not is_visible_to(LimitedTo(), organization("org-a", group_id="g"), "p1")


@given(
    listed=st.frozensets(ORGANIZATION_IDS, max_size=3),
    groups=st.frozensets(ORGANIZATION_IDS, max_size=3),
    organization_id=ORGANIZATION_IDS,
    group_id=st.none() | ORGANIZATION_IDS,
)
def test_a_limited_offering_is_visible_exactly_to_listed_organizations_and_group_members(
    listed, groups, organization_id, group_id
):
    visibility = LimitedTo(organization_ids=listed, organization_group_ids=groups)
    member = organization_id in listed or (group_id is not None and group_id in groups)

    assert is_visible_to(visibility, organization(organization_id, group_id), "p1") is member


@pytest.mark.parametrize(
    ("visibility", "private"),
    [
        (Shared(), False),
        (LimitedTo(organization_ids=frozenset({"org-a"})), False),
        (PrivateToOrganization("org-a"), True),
        (PrivateToProject("p1"), True),
    ],
)
def test_only_offerings_for_one_organization_or_project_are_private(visibility, private):
    assert is_private(visibility) is private


# --------------------------------------------------------------------------- orderability


def orderability_refusal(
    candidate: Offering,
    plans: list[Plan] | None = None,
    *,
    buyer: Organization | None = None,
    seller: Organization | None = None,
    project_id: str = "p1",
    plugin_registered: bool = True,
) -> ErrorCode | None:
    """The code ``check_orderable`` refuses with, checked to agree with ``is_orderable``."""
    plans = [plan()] if plans is None else plans
    buyer = organization("org-a") if buyer is None else buyer
    seller = organization("provider") if seller is None else seller
    keywords = {"provider": seller, "plugin_registered": plugin_registered}
    code = refusal(check_orderable, candidate, plans, buyer, project_id, **keywords)
    orderable = is_orderable(candidate, plans, buyer, project_id, **keywords)
    assert orderable is (code is None)
    return code


def test_an_active_categorised_visible_offering_with_components_plans_and_plugin_is_orderable():
    assert orderability_refusal(offering()) is None


@pytest.mark.parametrize(
    "state", [OfferingState.DRAFT, OfferingState.PAUSED, OfferingState.ARCHIVED]
)
def test_only_an_active_offering_is_orderable(state):
    with pytest.raises(ValidationError) as caught:
        check_orderable(
            offering(state=state),
            [plan()],
            organization(),
            "p1",
            provider=PROVIDER,
            plugin_registered=True,
        )

    assert caught.value.code is ErrorCode.OFFERING_NOT_ACTIVE
    assert caught.value.fields["state"] == state.value
    assert orderability_refusal(offering(state=state)) is ErrorCode.OFFERING_NOT_ACTIVE


def test_an_offering_without_a_category_is_not_orderable():
    code = orderability_refusal(offering(category_id=None))

    assert code is ErrorCode.OFFERING_WITHOUT_CATEGORY


def test_an_offering_without_components_is_not_orderable():
    code = orderability_refusal(offering(components=()))

    assert code is ErrorCode.OFFERING_WITHOUT_COMPONENTS


@pytest.mark.parametrize(
    "plans",
    [pytest.param([], id="no plans"), pytest.param([plan(archived=True)], id="archived plans")],
)
def test_an_offering_without_an_open_plan_is_not_orderable(plans):
    assert orderability_refusal(offering(), plans) is ErrorCode.OFFERING_WITHOUT_PLANS


def test_an_offering_whose_plugin_is_not_registered_is_not_orderable():
    with pytest.raises(ValidationError) as caught:
        check_orderable(
            offering(), [plan()], organization(), "p1", provider=PROVIDER, plugin_registered=False
        )

    assert caught.value.code is ErrorCode.PLUGIN_NOT_REGISTERED
    assert caught.value.fields["plugin_type"] == "basic"
    assert orderability_refusal(offering(), plugin_registered=False) is (
        ErrorCode.PLUGIN_NOT_REGISTERED
    )


def test_an_offering_the_project_cannot_see_is_not_orderable():
    hidden = offering(visibility=PrivateToOrganization("org-b"))

    with pytest.raises(ValidationError) as caught:
        check_orderable(
            hidden, [plan()], organization("org-a"), "p1", provider=PROVIDER, plugin_registered=True
        )

    assert caught.value.code is ErrorCode.OFFERING_NOT_VISIBLE
    assert caught.value.fields["organization_id"] == "org-a"
    assert caught.value.fields["project_id"] == "p1"
    assert orderability_refusal(hidden) is ErrorCode.OFFERING_NOT_VISIBLE
    assert orderability_refusal(hidden, buyer=organization("org-b")) is None


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"blocked": True}, ErrorCode.ORGANIZATION_BLOCKED),
        ({"archived": True}, ErrorCode.ORGANIZATION_ARCHIVED),
    ],
)
def test_a_blocked_or_archived_organization_neither_buys_nor_sells(changes, code):
    assert orderability_refusal(offering(), buyer=attrs.evolve(organization(), **changes)) is code
    assert orderability_refusal(offering(), seller=attrs.evolve(PROVIDER, **changes)) is code


def test_an_offering_needs_a_plan_that_is_not_archived_to_activate():
    draft = offering(state=OfferingState.DRAFT)

    with pytest.raises(ValidationError) as caught:
        check_can_activate(draft, [plan(id="old", archived=True)])

    assert caught.value.code is ErrorCode.OFFERING_WITHOUT_PLANS
    assert caught.value.fields["offering_id"] == "o1"
    assert refusal(check_can_activate, draft, []) is ErrorCode.OFFERING_WITHOUT_PLANS
    assert refusal(check_can_activate, draft, [plan(id="old", archived=True), plan()]) is None


def test_a_plan_of_another_offering_does_not_open_this_one():
    draft = offering(state=OfferingState.DRAFT)

    assert refusal(check_can_activate, draft, [plan(offering_id="o2")]) is (
        ErrorCode.OFFERING_WITHOUT_PLANS
    )


def test_an_archived_offering_can_no_longer_be_edited():
    with pytest.raises(ValidationError) as caught:
        check_offering_editable(offering(state=OfferingState.ARCHIVED))

    assert caught.value.code is ErrorCode.OFFERING_ARCHIVED
    assert caught.value.fields["offering_id"] == "o1"


@pytest.mark.parametrize("state", [OfferingState.DRAFT, OfferingState.ACTIVE, OfferingState.PAUSED])
def test_an_offering_that_is_not_archived_can_be_edited(state):
    assert refusal(check_offering_editable, offering(state=state)) is None


# --------------------------------------------------------------------------- offering lifecycle


def test_firing_an_event_moves_the_offering_and_keeps_everything_else():
    draft = offering(state=OfferingState.DRAFT)

    active = draft.fire(OfferingEvent.ACTIVATE)

    assert active.state is OfferingState.ACTIVE
    assert attrs.evolve(active, state=OfferingState.DRAFT) == draft
    assert draft.state is OfferingState.DRAFT


def test_an_offering_goes_from_draft_through_pause_and_resume_to_archived():
    states = [OfferingState.DRAFT]
    current = offering(state=OfferingState.DRAFT)
    for event in (
        OfferingEvent.ACTIVATE,
        OfferingEvent.PAUSE,
        OfferingEvent.RESUME,
        OfferingEvent.ARCHIVE,
    ):
        current = current.fire(event)
        states.append(current.state)

    assert states == [
        OfferingState.DRAFT,
        OfferingState.ACTIVE,
        OfferingState.PAUSED,
        OfferingState.ACTIVE,
        OfferingState.ARCHIVED,
    ]


def test_an_offering_refuses_an_event_its_state_does_not_allow():
    archived = offering(state=OfferingState.ARCHIVED)

    with pytest.raises(InvalidTransitionError) as caught:
        archived.fire(OfferingEvent.RESUME)

    assert caught.value.code is ErrorCode.INVALID_TRANSITION
    assert caught.value.fields["id"] == "o1"
    assert caught.value.fields["state"] == "archived"


# --------------------------------------------------------------------------- plans


def test_an_archived_plan_is_closed():
    with pytest.raises(ValidationError) as caught:
        check_plan_open(plan(archived=True))

    assert caught.value.code is ErrorCode.PLAN_ARCHIVED
    assert caught.value.fields["plan_id"] == "plan1"
    assert refusal(check_plan_open, plan()) is None


def test_a_plan_prices_components_and_leaves_the_rest_free():
    priced = plan(prices={"cpu": Decimal("0.05")})

    assert priced.price_of("cpu") == Decimal("0.05")
    assert priced.price_of("storage") == Decimal(0)
    assert isinstance(priced.price_of("storage"), Decimal)


def test_a_plan_includes_one_of_each_fixed_component_unless_told_otherwise():
    sized = plan(amounts={"base": 4})

    assert sized.amount_of("base") == 4
    assert sized.amount_of("other") == 1


def test_a_plan_may_price_and_size_the_offering_s_components():
    assert (
        refusal(
            check_plan_components,
            offering(),
            {"cpu": Decimal(1), "storage": Decimal(2), "base": Decimal(3)},
            {"base": 2},
        )
        is None
    )


@pytest.mark.parametrize("field", ["prices", "amounts"])
def test_a_plan_may_not_mention_a_component_the_offering_lacks(field):
    arguments = {"prices": {}, "amounts": {}} | {field: {"ram": 1}}

    with pytest.raises(ValidationError) as caught:
        check_plan_components(offering(), arguments["prices"], arguments["amounts"])

    assert caught.value.code is ErrorCode.UNKNOWN_COMPONENT
    assert caught.value.fields == {"offering_id": "o1", "component": "ram"}
    assert field in caught.value.message


@pytest.mark.parametrize("component_type", ["cpu", "storage", "gpu"])
def test_amounts_apply_only_to_fixed_components(component_type):
    with pytest.raises(ValidationError) as caught:
        check_plan_components(offering(), {}, {component_type: 2})

    assert caught.value.code is ErrorCode.INVALID_VALUE
    assert caught.value.fields["field"] == f"amounts[{component_type}]"


def test_a_plan_without_future_prices_is_left_as_it_is():
    current = plan(prices={"cpu": Decimal(1)})

    assert apply_future_prices(current) is current


def test_future_prices_replace_the_prices_they_name_and_keep_the_others():
    current = plan(
        prices={"cpu": Decimal(1), "base": Decimal(10)},
        future_prices={"cpu": Decimal(2), "storage": Decimal(3)},
    )

    repriced = apply_future_prices(current)

    assert dict(repriced.prices) == {"cpu": Decimal(2), "base": Decimal(10), "storage": Decimal(3)}
    assert repriced.future_prices is None
    assert attrs.evolve(repriced, prices=current.prices, future_prices=current.future_prices) == (
        current
    )


def test_a_plan_s_price_tables_are_read_only():
    current = plan(prices={"cpu": Decimal(1)}, future_prices={"cpu": Decimal(2)})

    for table in (current.prices, current.future_prices, apply_future_prices(current).prices):
        assert isinstance(table, FrozenMap)
        with pytest.raises(TypeError):
            table["cpu"] = Decimal(0)  # type: ignore[index]


# --------------------------------------------------------------------------- limits: examples


def test_limits_are_taken_for_limit_components():
    assert refusal(check_limits_allowed, offering(), {"storage": 10, "gpu": 1}) is None


@pytest.mark.parametrize(
    "component_type", ["cpu", "base", "ram"], ids=["usage", "fixed", "unknown"]
)
def test_limits_are_refused_for_components_that_are_not_limit_billed(component_type):
    with pytest.raises(ValidationError) as caught:
        check_limits_allowed(offering(), {component_type: 1})

    assert caught.value.code is ErrorCode.LIMIT_NOT_ALLOWED
    assert caught.value.fields["component"] == component_type
    assert repr(component_type) in caught.value.message


@pytest.mark.parametrize("value", [1.0, True, "1", None, Decimal(1)])
def test_a_limit_must_be_an_integer(value):
    with pytest.raises(ValidationError) as caught:
        check_limits_allowed(offering(), {"storage": value})

    assert caught.value.code is ErrorCode.INVALID_VALUE
    assert caught.value.fields["field"] == "limits[storage]"


def test_zero_is_a_real_lower_and_upper_bound():
    exactly_zero = limit_component(min_value=0, max_value=0)
    unbounded = limit_component()

    assert refusal(check_limit_bounds, exactly_zero, 0) is None
    assert refusal(check_limit_bounds, exactly_zero, 1) is ErrorCode.LIMIT_OUT_OF_RANGE
    assert refusal(check_limit_bounds, unbounded, 0) is None
    assert refusal(check_limit_bounds, unbounded, 10**9) is None


def test_no_limit_may_exceed_the_ceiling_whatever_the_component_allows():
    """Costs of larger limits would leave exact Decimal arithmetic (10**30 raised
    decimal.InvalidOperation from the billing of an activation)."""
    assert refusal(check_limit_bounds, limit_component(), LIMIT_CEILING) is None
    assert refusal(check_limit_bounds, limit_component(max_value=10**20), LIMIT_CEILING) is None
    for component in (limit_component(), limit_component(max_value=10**20)):
        with pytest.raises(ValidationError) as caught:
            check_limit_bounds(component, LIMIT_CEILING + 1)
        assert caught.value.code is ErrorCode.LIMIT_OUT_OF_RANGE
        assert caught.value.fields["max_value"] == LIMIT_CEILING


def test_a_limit_below_the_minimum_or_above_the_maximum_is_out_of_range():
    assert refusal(check_limit_bounds, STORAGE, 1) is None
    assert refusal(check_limit_bounds, STORAGE, 100) is None

    with pytest.raises(ValidationError) as caught:
        check_limit_bounds(STORAGE, 101)

    assert caught.value.code is ErrorCode.LIMIT_OUT_OF_RANGE
    assert caught.value.fields == {
        "component": "storage",
        "value": 101,
        "min_value": 1,
        "max_value": 100,
    }
    assert refusal(check_limit_bounds, STORAGE, 0) is ErrorCode.LIMIT_OUT_OF_RANGE


def test_a_negative_limit_is_out_of_range_even_without_a_minimum():
    assert refusal(check_limit_bounds, limit_component(), -1) is ErrorCode.LIMIT_OUT_OF_RANGE


@pytest.mark.parametrize("value", [-1, 2, 100])
def test_a_boolean_limit_is_only_on_or_off(value):
    with pytest.raises(ValidationError) as caught:
        check_limit_bounds(GPU, value)

    assert caught.value.code is ErrorCode.LIMIT_NOT_BOOLEAN
    assert caught.value.fields == {"component": "gpu", "value": value}
    assert refusal(check_limit_bounds, GPU, 0) is None
    assert refusal(check_limit_bounds, GPU, 1) is None


def test_limits_in_a_period_may_reach_the_limit_amount_but_not_exceed_it():
    assert refusal(check_limit_period_amount, STORAGE, 50, 100) is None

    with pytest.raises(ValidationError) as caught:
        check_limit_period_amount(STORAGE, 51, 100)

    assert caught.value.code is ErrorCode.LIMIT_PERIOD_AMOUNT_EXCEEDED
    assert caught.value.fields == {
        "component": "storage",
        "value": 51,
        "used": 100,
        "limit_amount": 150,
    }
    assert "this month" in caught.value.message


def test_a_component_without_a_limit_amount_has_no_period_cap():
    assert refusal(check_limit_period_amount, limit_component(), 10**9, 10**9) is None


def test_the_offering_cap_may_be_reached_exactly_but_not_exceeded():
    assert refusal(check_offering_limit_cap, STORAGE, 50, 150) is None

    with pytest.raises(ValidationError) as caught:
        check_offering_limit_cap(STORAGE, 51, 150)

    assert caught.value.code is ErrorCode.OFFERING_LIMIT_CAP_EXCEEDED
    assert caught.value.fields == {
        "component": "storage",
        "value": 51,
        "allocated": 150,
        "max_available_limit": 200,
    }
    assert "at most 50" in caught.value.message


def test_a_component_without_a_cap_takes_any_limit_offering_wide():
    assert refusal(check_offering_limit_cap, limit_component(), 10**9, 10**9) is None


def storage_refusal(value: int, used: int | None = None, elsewhere: int | None = None):
    """What ``check_limits`` says to a storage limit, with aggregates left out when ``None``."""
    return refusal(
        check_limits,
        offering(),
        {"storage": value},
        used_in_period={} if used is None else {"storage": used},
        allocated_elsewhere={} if elsewhere is None else {"storage": elsewhere},
    )


def test_check_limits_treats_missing_aggregates_as_nothing_used():
    assert storage_refusal(100) is None
    assert storage_refusal(100, used=51) is ErrorCode.LIMIT_PERIOD_AMOUNT_EXCEEDED
    assert storage_refusal(100, elsewhere=101) is ErrorCode.OFFERING_LIMIT_CAP_EXCEEDED
    assert storage_refusal(101) is ErrorCode.LIMIT_OUT_OF_RANGE


def test_check_limits_refuses_a_limit_on_a_usage_component_before_anything_else():
    code = refusal(
        check_limits,
        offering(),
        {"storage": 10**6, "cpu": 1},
        used_in_period={},
        allocated_elsewhere={},
    )

    assert code is ErrorCode.LIMIT_NOT_ALLOWED


# --------------------------------------------------------------------------- limits: properties


def reference_bounds_refusal(limited: OfferingComponent, value: int) -> ErrorCode | None:
    if limited.is_boolean:
        return None if value in (0, 1) else ErrorCode.LIMIT_NOT_BOOLEAN
    lowest = 0 if limited.min_value is None else limited.min_value
    above = limited.max_value is not None and value > limited.max_value
    return ErrorCode.LIMIT_OUT_OF_RANGE if value < lowest or above else None


def reference_period_refusal(limited: OfferingComponent, value: int, used: int) -> ErrorCode | None:
    exceeded = limited.limit_amount is not None and used + value > limited.limit_amount
    return ErrorCode.LIMIT_PERIOD_AMOUNT_EXCEEDED if exceeded else None


def reference_cap_refusal(
    limited: OfferingComponent, value: int, elsewhere: int
) -> ErrorCode | None:
    cap = limited.max_available_limit
    exceeded = cap is not None and elsewhere + value > cap
    return ErrorCode.OFFERING_LIMIT_CAP_EXCEEDED if exceeded else None


@st.composite
def bounded_limit_components(draw: st.DrawFn) -> OfferingComponent:
    """Well-formed limit components with random bounds, caps and period amounts."""
    cap = draw(st.none() | st.integers(0, 30))
    if draw(st.booleans()):
        spelled_out = draw(st.booleans())
        return limit_component(
            is_boolean=True,
            min_value=0 if spelled_out else None,
            max_value=1 if spelled_out else None,
            max_available_limit=cap,
        )
    low = draw(st.none() | st.integers(0, 20))
    high = draw(st.none() | st.integers(0 if low is None else low, 25))
    amount = draw(st.none() | st.integers(0, 30))
    return limit_component(
        min_value=low,
        max_value=high,
        max_available_limit=cap,
        limit_period=None if amount is None else draw(st.sampled_from(LimitPeriod)),
        limit_amount=amount,
    )


LIMIT_VALUES = st.integers(-3, 32)
AGGREGATES = st.integers(0, 32)


@given(bounded_limit_components(), LIMIT_VALUES)
def test_a_limit_is_refused_exactly_when_it_is_outside_the_component_s_bounds(limited, value):
    assert refusal(check_component_settings, limited) is None

    assert refusal(check_limit_bounds, limited, value) is reference_bounds_refusal(limited, value)


@given(bounded_limit_components(), LIMIT_VALUES, AGGREGATES)
def test_a_limit_is_refused_exactly_when_the_period_total_would_exceed_the_limit_amount(
    limited, value, used
):
    code = refusal(check_limit_period_amount, limited, value, used)

    assert code is reference_period_refusal(limited, value, used)


@given(bounded_limit_components(), LIMIT_VALUES, AGGREGATES)
def test_a_limit_is_refused_exactly_when_the_offering_wide_sum_would_exceed_the_cap(
    limited, value, elsewhere
):
    code = refusal(check_offering_limit_cap, limited, value, elsewhere)

    assert code is reference_cap_refusal(limited, value, elsewhere)


LIMIT_KEYS = st.sampled_from(["storage", "gpu", "cpu", "base", "ram"])


@given(st.dictionaries(LIMIT_KEYS, st.integers(0, 5), max_size=4))
def test_limits_are_allowed_exactly_when_every_key_is_a_limit_component(limits):
    candidate = offering()
    allowed = all(
        (c := candidate.component(key)) is not None and c.billing_type is BillingType.LIMIT
        for key in limits
    )

    code = refusal(check_limits_allowed, candidate, limits)

    assert code is (None if allowed else ErrorCode.LIMIT_NOT_ALLOWED)


def reference_limits_refusal(
    candidate: Offering,
    limits: dict[str, int],
    used_in_period: dict[str, int],
    allocated_elsewhere: dict[str, int],
) -> ErrorCode | None:
    """The first rule that refuses ``limits``, in the documented order."""
    for key in limits:
        found = candidate.component(key)
        if found is None or found.billing_type is not BillingType.LIMIT:
            return ErrorCode.LIMIT_NOT_ALLOWED
    for required in candidate.components:
        if (
            required.billing_type is BillingType.LIMIT
            and (required.lowest_limit or 0) > 0
            and required.type not in limits
        ):
            return ErrorCode.LIMIT_OUT_OF_RANGE
    for key, value in limits.items():
        limited = candidate.component(key)
        assert limited is not None
        code = (
            reference_bounds_refusal(limited, value)
            or reference_period_refusal(limited, value, used_in_period.get(key, 0))
            or reference_cap_refusal(limited, value, allocated_elsewhere.get(key, 0))
        )
        if code is not None:
            return code
    return None


@given(
    limits=st.dictionaries(LIMIT_KEYS, st.integers(-2, 210), max_size=3),
    used_in_period=st.dictionaries(st.sampled_from(["storage", "gpu"]), st.integers(0, 160)),
    allocated_elsewhere=st.dictionaries(st.sampled_from(["storage", "gpu"]), st.integers(0, 210)),
)
def test_check_limits_refuses_exactly_as_its_rules_do_in_order(
    limits, used_in_period, allocated_elsewhere
):
    candidate = offering(components=(CPU, BASE, STORAGE, attrs.evolve(GPU, max_available_limit=3)))

    code = refusal(
        check_limits,
        candidate,
        limits,
        used_in_period=used_in_period,
        allocated_elsewhere=allocated_elsewhere,
    )

    assert code is reference_limits_refusal(candidate, limits, used_in_period, allocated_elsewhere)
