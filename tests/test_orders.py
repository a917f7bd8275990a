"""The pure domain of orders: their lifecycle, what kind of change they ask for, their cost,
and the rules on placing them (DESIGN §5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace_core import (
    BillingType,
    ErrorCode,
    InvalidTransitionError,
    Offering,
    OfferingComponent,
    OfferingState,
    Order,
    OrderState,
    OrderType,
    Plan,
    PlanUnit,
    Project,
    Resource,
    ResourceState,
    ValidationError,
)
from marketplace_core.orders import (
    ORDER_LIFECYCLE,
    OrderEvent,
    check_end_date,
    check_no_open_order,
    check_offering_takes_changes,
    check_plan_capacity,
    check_plan_of_offering,
    check_project_not_ended,
    check_resource_ready,
    estimate_cost,
    order_cost,
)

NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
DAY = timedelta(days=1)


def an_order(
    state: OrderState = OrderState.PENDING_CONSUMER,
    order_type: OrderType = OrderType.CREATE,
    **fields,
) -> Order:
    return Order(
        id=fields.pop("id", "order-1"),
        type=order_type,
        resource_id=fields.pop("resource_id", "resource-1"),
        project_id="project-1",
        offering_id="offering-1",
        created_at=NOW,
        created_by="user-alice",
        state=state,
        **fields,
    )


def a_resource(state: ResourceState = ResourceState.OK) -> Resource:
    return Resource("resource-1", "My VM", "project-1", "offering-1", NOW, state=state)


# --------------------------------------------------------------------------- lifecycle

ORDER_EDGES = {
    ("pending-consumer", "hold_for_project"): "pending-project",
    ("pending-consumer", "request_provider_review"): "pending-provider",
    ("pending-project", "request_provider_review"): "pending-provider",
    ("pending-consumer", "execute"): "executing",
    ("pending-project", "execute"): "executing",
    ("pending-provider", "execute"): "executing",
    ("executing", "complete"): "done",
    ("executing", "fail"): "erred",
    ("erred", "retry"): "executing",
    ("pending-consumer", "reject"): "rejected",
    ("pending-project", "reject"): "rejected",
    ("pending-provider", "reject"): "rejected",
    ("pending-consumer", "cancel"): "canceled",
    ("pending-project", "cancel"): "canceled",
    ("pending-provider", "cancel"): "canceled",
    ("executing", "cancel"): "canceled",
}
"""Every edge of the order lifecycle, written out one by one (DESIGN §5)."""


def test_the_order_lifecycle_has_exactly_the_designed_edges():
    declared = {
        (source.value, event.value): target.value
        for source, event, target in ORDER_LIFECYCLE.edges()
    }
    assert declared == ORDER_EDGES


def test_an_order_starts_waiting_for_the_consumer():
    assert ORDER_LIFECYCLE.initial is OrderState.PENDING_CONSUMER
    assert Order("o", OrderType.CREATE, "r", "p", "f", NOW, None).state is ORDER_LIFECYCLE.initial


def test_done_rejected_and_canceled_are_final_and_erred_waits_for_a_retry():
    final = {state for state in OrderState if ORDER_LIFECYCLE.is_final(state)}
    assert final == {OrderState.DONE, OrderState.REJECTED, OrderState.CANCELED}
    assert ORDER_LIFECYCLE.allowed_events(OrderState.ERRED) == ("retry",)


@pytest.mark.parametrize(("source", "event"), sorted(ORDER_EDGES))
def test_firing_an_allowed_event_moves_only_the_state(source, event):
    order = an_order(OrderState(source))
    moved = order.fire(OrderEvent(event))
    assert moved.state is OrderState(ORDER_EDGES[source, event])
    assert attrs.evolve(moved, state=order.state) == order
    assert order.state is OrderState(source)  # the original snapshot is untouched


@pytest.mark.parametrize(
    ("source", "event"),
    [
        (state.value, event.value)
        for state in OrderState
        for event in OrderEvent
        if (state.value, event.value) not in ORDER_EDGES
    ],
)
def test_firing_a_forbidden_event_names_the_order_the_event_and_the_state(source, event):
    order = an_order(OrderState(source), id="order-7")
    with pytest.raises(InvalidTransitionError) as caught:
        order.fire(OrderEvent(event))
    error = caught.value
    assert error.code is ErrorCode.INVALID_TRANSITION
    assert (error.entity, error.entity_id, error.event, error.state) == (
        "order",
        "order-7",
        event,
        source,
    )
    assert f"cannot {event} order 'order-7' in state '{source}'" in error.message
    assert error.fields["allowed"] == tuple(sorted(e for (s, e) in ORDER_EDGES if s == source))


# --------------------------------------------------------------------------- kinds of order


@pytest.mark.parametrize("state", list(OrderState))
def test_an_order_blocks_its_resource_while_pending_or_executing(state):
    still_open = state in {
        OrderState.PENDING_CONSUMER,
        OrderState.PENDING_PROJECT,
        OrderState.PENDING_PROVIDER,
        OrderState.EXECUTING,
    }
    assert an_order(state).is_open is still_open


@pytest.mark.parametrize(
    ("order", "plan_switch", "limit_change"),
    [
        pytest.param(an_order(order_type=OrderType.CREATE), False, False, id="create"),
        pytest.param(
            an_order(order_type=OrderType.CREATE, old_limits={"ram": 1}),
            False,
            False,
            id="create with old limits",
        ),
        pytest.param(
            an_order(order_type=OrderType.UPDATE, plan_id="plan-2", old_plan_id="plan-1"),
            True,
            False,
            id="update to another plan",
        ),
        pytest.param(
            an_order(
                order_type=OrderType.UPDATE,
                plan_id="plan-1",
                old_plan_id="plan-1",
                limits={"ram": 2048},
                old_limits={"ram": 1024},
            ),
            False,
            True,
            id="update of limits",
        ),
        pytest.param(
            an_order(order_type=OrderType.UPDATE, limits={"ram": 1}, old_limits={}),
            False,
            True,
            id="update from no limits",
        ),
        pytest.param(an_order(order_type=OrderType.TERMINATE), False, False, id="terminate"),
    ],
)
def test_an_update_order_is_a_limit_change_when_it_records_old_limits_else_a_plan_switch(
    order, plan_switch, limit_change
):
    assert (order.is_plan_switch, order.is_limit_change) == (plan_switch, limit_change)


# --------------------------------------------------------------------------- cost

COMPONENTS = (
    OfferingComponent("base", "Base fee", BillingType.FIXED),
    OfferingComponent("licence", "Licences", BillingType.FIXED),
    OfferingComponent("storage", "Storage", BillingType.LIMIT),
    OfferingComponent("ram", "RAM", BillingType.LIMIT, factor=1024),
    OfferingComponent("cpu", "CPU hours", BillingType.USAGE),
    OfferingComponent("setup", "Set-up fee", BillingType.ONE_TIME),
    OfferingComponent("switch", "Switch fee", BillingType.ON_PLAN_SWITCH),
)
OFFERING = Offering("offering-1", "VMs", "org-provider", "cloud", NOW, components=COMPONENTS)
PLAN = Plan(
    "plan-1",
    OFFERING.id,
    "Small",
    PlanUnit.MONTH,
    NOW,
    prices={
        "base": Decimal("100"),
        "licence": Decimal("3.5"),
        "storage": Decimal("0.10"),
        "ram": Decimal("0.01"),
        "cpu": Decimal("0.05"),
        "setup": Decimal("50"),
        "switch": Decimal("7"),
    },
    amounts={"licence": 4},
)
LIMITS = {"storage": 10, "ram": 2048}
PER_UNIT = Decimal("115.02")
"""base 100 × 1 (no amount: one) + licences 3.5 × 4 + storage 0.10 × 10 + RAM 0.01 × 2048 ÷
1024 = 115.02; CPU is billed from usage and costs nothing up front."""


def test_the_estimate_is_fixed_prices_times_amounts_plus_limit_prices_times_limit_over_factor():
    assert estimate_cost(PLAN, OFFERING, LIMITS) == PER_UNIT


def test_the_estimate_adds_the_one_time_or_the_switch_prices_when_asked():
    assert estimate_cost(PLAN, OFFERING, LIMITS, BillingType.ONE_TIME) == PER_UNIT + 50
    assert estimate_cost(PLAN, OFFERING, LIMITS, BillingType.ON_PLAN_SWITCH) == PER_UNIT + 7


def test_missing_limits_and_prices_cost_nothing():
    assert estimate_cost(PLAN, OFFERING, {}) == Decimal("114")
    free = attrs.evolve(PLAN, prices={})
    assert estimate_cost(free, OFFERING, LIMITS, BillingType.ONE_TIME) == 0


def test_limits_for_components_the_offering_lacks_cost_nothing():
    assert estimate_cost(PLAN, OFFERING, {**LIMITS, "gpu": 8}) == PER_UNIT


@pytest.mark.parametrize(
    ("order_type", "plan_switch", "cost"),
    [
        pytest.param(OrderType.CREATE, False, PER_UNIT + 50, id="create adds one-time"),
        pytest.param(OrderType.UPDATE, True, PER_UNIT + 7, id="plan switch adds switch"),
        pytest.param(OrderType.UPDATE, False, PER_UNIT, id="limit change adds nothing"),
        pytest.param(OrderType.TERMINATE, False, PER_UNIT, id="termination adds nothing"),
    ],
)
def test_an_orders_cost_adds_the_prices_its_kind_triggers(order_type, plan_switch, cost):
    assert order_cost(order_type, PLAN, OFFERING, LIMITS, plan_switch=plan_switch) == cost


def test_the_cost_is_an_exact_decimal():
    cost = order_cost(OrderType.CREATE, PLAN, OFFERING, LIMITS)
    assert isinstance(cost, Decimal)
    assert str(cost) == "165.02"
    thirds = attrs.evolve(PLAN, prices={"ram": Decimal("0.3")})
    assert estimate_cost(thirds, OFFERING, {"ram": 512}) == Decimal("0.15")


EXACT_FACTORS = (1, 2, 8, 10, 1000, 1024)
"""Factors whose division ends in a finite decimal, so the cost can be exact."""

prices = st.decimals(min_value=0, max_value=10_000, places=4, allow_nan=False)


@st.composite
def priced_offerings(draw):
    """An offering with random components, a plan pricing some of them, and limits."""
    components = tuple(
        OfferingComponent(
            f"c{index}",
            f"Component {index}",
            billing_type,
            factor=draw(st.sampled_from(EXACT_FACTORS)) if billing_type is BillingType.LIMIT else 1,
        )
        for index, billing_type in enumerate(
            draw(st.lists(st.sampled_from(list(BillingType)), max_size=8))
        )
    )
    offering = Offering("offering-1", "X", "org-provider", "cloud", NOW, components=components)
    types = [c.type for c in components]
    plan = Plan(
        "plan-1",
        offering.id,
        "Plan",
        PlanUnit.MONTH,
        NOW,
        prices=draw(st.dictionaries(st.sampled_from(types), prices) if types else st.just({})),
        amounts={
            c.type: draw(st.integers(0, 1000))
            for c in components
            if c.billing_type is BillingType.FIXED and draw(st.booleans())
        },
    )
    limits = {
        c.type: draw(st.integers(0, 10**6))
        for c in components
        if c.billing_type is BillingType.LIMIT and draw(st.booleans())
    }
    return offering, plan, limits


def reference_cost(offering: Offering, plan: Plan, limits, extra: BillingType | None) -> Fraction:
    """DESIGN §5 in exact fractions: fixed price × amount (1 if unset), plus limit price ×
    limit ÷ factor, plus the ``extra`` prices; usage costs nothing up front."""
    total = Fraction(0)
    for component in offering.components:
        price = Fraction(plan.prices.get(component.type, 0))
        kind = component.billing_type
        if kind is BillingType.FIXED:
            total += price * plan.amounts.get(component.type, 1)
        elif kind is BillingType.LIMIT:
            total += price * limits.get(component.type, 0) / component.factor
        elif kind is extra:
            total += price
    return total


ORDER_KINDS = {
    "create": (OrderType.CREATE, False, BillingType.ONE_TIME),
    "plan switch": (OrderType.UPDATE, True, BillingType.ON_PLAN_SWITCH),
    "limit change": (OrderType.UPDATE, False, None),
    "termination": (OrderType.TERMINATE, False, None),
}


@given(priced_offerings(), st.sampled_from(sorted(ORDER_KINDS)))
def test_an_orders_cost_is_exactly_the_reference_formula(priced, kind):
    offering, plan, limits = priced
    order_type, plan_switch, extra = ORDER_KINDS[kind]
    cost = order_cost(order_type, plan, offering, limits, plan_switch=plan_switch)
    assert isinstance(cost, Decimal)
    assert Fraction(cost) == reference_cost(offering, plan, limits, extra)
    assert Fraction(estimate_cost(plan, offering, limits)) == reference_cost(
        offering, plan, limits, None
    )


# --------------------------------------------------------------------------- placement rules


def test_a_project_takes_orders_through_its_last_day_and_not_after():
    project = Project("project-1", "org-1", "Thesis", NOW, end_date=TODAY)
    check_project_not_ended(project, TODAY)
    check_project_not_ended(attrs.evolve(project, end_date=None), TODAY + 1000 * DAY)
    with pytest.raises(ValidationError) as caught:
        check_project_not_ended(project, TODAY + DAY)
    assert caught.value.code is ErrorCode.PROJECT_ENDED
    assert caught.value.fields == {"project_id": "project-1", "end_date": TODAY.isoformat()}


@pytest.mark.parametrize("state", list(OfferingState))
def test_resources_change_only_while_their_offering_is_active_or_paused(state):
    offering = attrs.evolve(OFFERING, state=state)
    if state in (OfferingState.ACTIVE, OfferingState.PAUSED):
        check_offering_takes_changes(offering)
        return
    with pytest.raises(ValidationError) as caught:
        check_offering_takes_changes(offering)
    assert caught.value.code is ErrorCode.OFFERING_NOT_ACTIVE
    assert caught.value.fields == {"offering_id": OFFERING.id, "state": state.value}


def test_a_plan_must_belong_to_the_offering_ordered():
    check_plan_of_offering(PLAN, OFFERING)
    stranger = attrs.evolve(PLAN, id="plan-9", offering_id="offering-2")
    with pytest.raises(ValidationError) as caught:
        check_plan_of_offering(stranger, OFFERING)
    assert caught.value.code is ErrorCode.PLAN_OF_ANOTHER_OFFERING
    assert caught.value.fields == {"plan_id": "plan-9", "offering_id": OFFERING.id}


@pytest.mark.parametrize(
    ("max_amount", "live", "refused"),
    [
        (None, 0, False),
        (None, 10_000, False),
        (3, 0, False),
        (3, 2, False),
        (3, 3, True),
        (3, 4, True),
        (0, 0, True),
    ],
)
def test_a_plan_refuses_new_resources_once_its_maximum_is_reached(max_amount, live, refused):
    plan = attrs.evolve(PLAN, max_amount=max_amount)
    if not refused:
        check_plan_capacity(plan, live)
        return
    with pytest.raises(ValidationError) as caught:
        check_plan_capacity(plan, live)
    assert caught.value.code is ErrorCode.PLAN_CAPACITY_REACHED
    assert caught.value.fields == {"plan_id": PLAN.id, "max_amount": max_amount}


@pytest.mark.parametrize("state", list(OrderState))
def test_a_resource_takes_one_open_order_at_a_time(state):
    resource = a_resource()
    other = an_order(state, id="order-2")
    if not other.is_open:
        check_no_open_order(resource, [other])
        return
    with pytest.raises(ValidationError) as caught:
        check_no_open_order(resource, [an_order(OrderState.DONE), other])
    assert caught.value.code is ErrorCode.ORDER_IN_PROGRESS
    assert caught.value.fields == {"resource_id": resource.id, "order_id": "order-2"}


def test_an_order_waiting_for_its_project_blocks_the_resource():
    with pytest.raises(ValidationError) as caught:
        check_no_open_order(a_resource(), [an_order(OrderState.PENDING_PROJECT)])
    assert caught.value.code is ErrorCode.ORDER_IN_PROGRESS


def test_open_orders_of_other_resources_do_not_block():
    check_no_open_order(a_resource(), [an_order(OrderState.EXECUTING, resource_id="resource-2")])


READY = {
    OrderType.UPDATE: {ResourceState.OK},
    OrderType.TERMINATE: {ResourceState.OK, ResourceState.ERRED},
}


@pytest.mark.parametrize("order_type", sorted(READY))
@pytest.mark.parametrize("state", list(ResourceState))
def test_an_update_needs_an_ok_resource_and_a_termination_an_ok_or_erred_one(state, order_type):
    resource = a_resource(state)
    if state in READY[order_type]:
        check_resource_ready(resource, order_type)
        return
    with pytest.raises(ValidationError) as caught:
        check_resource_ready(resource, order_type)
    assert caught.value.code is ErrorCode.RESOURCE_NOT_READY
    assert caught.value.fields == {"resource_id": resource.id, "state": state.value}


@pytest.mark.parametrize(
    ("end_date", "refused"),
    [(None, False), (TODAY, False), (TODAY + DAY, False), (TODAY - DAY, True)],
)
def test_an_end_date_may_be_today_but_not_in_the_past(end_date: date | None, refused):
    if not refused:
        check_end_date(end_date, TODAY)
        return
    with pytest.raises(ValidationError) as caught:
        check_end_date(end_date, TODAY)
    assert caught.value.code is ErrorCode.INVALID_VALUE
    assert caught.value.fields["field"] == "end_date"
    assert caught.value.fields["value"] == (TODAY - DAY).isoformat()
