"""The order commands through the facade: placing orders (create, plan switch, limit change,
termination), reviewing, rejecting, canceling and retrying them, and the order queries.

Every refusal is checked twice: the error code says which rule refused, and storage, the
event sink and the notifier show that nothing was written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import attrs
import pytest

from marketplace_core import (
    BillingType,
    ErrorCode,
    InvalidTransitionError,
    LimitedTo,
    Marketplace,
    MarketplaceError,
    NotFoundError,
    OfferingComponent,
    OfferingState,
    OrderState,
    OrderType,
    PermissionDeniedError,
    PlanUnit,
    PluginRegistry,
    PrivateToOrganization,
    ResourceState,
    Review,
    Role,
    ValidationError,
)
from marketplace_core.plugins import register_basic
from marketplace_core.testing import Outcome
from tests.support import START, World, snapshot

TODAY = START.date()
YESTERDAY = TODAY - timedelta(days=1)

# The world's plan prices, per month: base 100 (fixed, amount 1), storage 0.10 per GB
# (limit), setup 50 (one-time), cpu 0.05 (usage, so not in any estimate).
BASE_PRICE = Decimal("100")
STORAGE_PRICE = Decimal("0.10")
SETUP_PRICE = Decimal("50")

SWITCH_FEE = OfferingComponent("switch", "Plan switch fee", BillingType.ON_PLAN_SWITCH)
GPU_ACCESS = OfferingComponent("gpu_access", "GPU access", BillingType.LIMIT, is_boolean=True)


# --------------------------------------------------------------------------- helpers


def refused(
    world: World,
    command: Callable[[], object],
    code: ErrorCode,
    family: type[MarketplaceError] = ValidationError,
) -> MarketplaceError:
    """Run ``command``, expecting ``family`` with ``code``, and check that it wrote nothing:
    storage as it was, no event published, no notification sent."""
    before = snapshot(world.storage)
    events, sent = len(world.events.events), len(world.notifications.sent)
    with pytest.raises(family) as caught:
        command()
    assert caught.value.code is code
    assert snapshot(world.storage) == before
    assert world.events.events[events:] == []
    assert world.notifications.sent[sent:] == []
    return caught.value


def events_since(world: World, position: int) -> list:
    """The events published after the first ``position`` ones."""
    return [recorded.event for recorded in world.events.events[position:]]


def order_vm(world: World, actor=None, **overrides):
    """A create order on a fresh cloud offering (fulfilled at once unless scripted)."""
    offering, plan = world.cloud_offering()
    arguments = {"offering_id": offering.id, "plan_id": plan.id, "limits": {"ram": 1024}}
    return world.order(actor, **(arguments | overrides))


def order_vm_on(world: World, offering_id: str, plan_id: str):
    """A create order for a VM on a given cloud offering and plan."""
    return world.order(offering_id=offering_id, plan_id=plan_id, limits={"ram": 1024})


def erred_vm_order(world: World):
    """A create order whose backend crashed: the order and its resource are erred."""
    world.cloud.then(Outcome.RAISE)
    order = order_vm(world)
    assert order.state is OrderState.ERRED
    assert world.marketplace.get_resource(order.resource_id).state is ResourceState.ERRED
    return order


def end_project_yesterday(world: World) -> None:
    world.marketplace.update_project(world.project_manager.id, world.project.id, end_date=YESTERDAY)


def block_consumer(world: World) -> None:
    world.marketplace.block_organization(world.staff.id, world.consumer.id)


def vm_and_plan(world: World, **plan_options):
    """An ok cloud resource (ram 1024 on a plan pricing ram at 0.01), and another plan of its
    offering."""
    vm = world.live_vm()
    plan = world.marketplace.create_plan(
        world.provider_owner.id, vm.offering_id, "Large", PlanUnit.DAY, **plan_options
    )
    return vm, plan


def pending_termination_by_admin(world: World, resource_id: str):
    """A termination placed by a project admin: it waits for the consumer's approval."""
    order = world.marketplace.order_termination(world.project_admin.id, resource_id)
    assert order.state is OrderState.PENDING_CONSUMER
    return order


def set_offering_state(world: World, offering_id: str, state: OfferingState) -> None:
    """Write an offering state straight through the storage port (no command moves an
    offering back to draft, but a host's storage may hold one)."""
    with world.storage.unit_of_work() as uow:
        offering = uow.offerings.get(offering_id)
        uow.offerings.update(attrs.evolve(offering, state=state))
        uow.commit()


# --------------------------------------------------------------------------- ordering a resource


def test_an_order_and_its_new_resource_are_stored_together(world: World):
    order = world.order(limits={"storage": 10}, attributes={"os": "linux"})
    resource = world.marketplace.get_resource(order.resource_id)
    assert world.marketplace.get_order(order.id) == order
    assert (order.type, order.project_id, order.offering_id, order.plan_id) == (
        OrderType.CREATE,
        world.project.id,
        world.offering.id,
        world.plan.id,
    )
    assert (order.created_by, order.created_at) == (world.owner.id, START)
    assert order.limits == {"storage": 10}
    assert order.attributes == {"os": "linux"}
    assert resource.state is ResourceState.CREATING
    assert (resource.name, resource.project_id, resource.offering_id, resource.plan_id) == (
        "My resource",
        world.project.id,
        world.offering.id,
        world.plan.id,
    )
    assert resource.limits == {"storage": 10}
    assert resource.attributes == {"os": "linux"}


@pytest.mark.parametrize("storage", [1, 10, 250, 1000])
def test_the_order_costs_the_estimate_with_one_time_prices_and_the_resource_without(
    world: World, storage: int
):
    order = world.order(limits={"storage": storage})
    resource = world.marketplace.get_resource(order.resource_id)
    running = BASE_PRICE * 1 + STORAGE_PRICE * storage  # cpu is usage-billed: not estimated
    assert resource.cost == running
    assert order.cost == running + SETUP_PRICE


def test_the_costs_are_exact_decimals_of_the_worlds_plan(world: World):
    order = world.order(limits={"storage": 10})
    assert order.cost == Decimal("151.00")
    assert world.marketplace.get_resource(order.resource_id).cost == Decimal("101.00")


def test_placing_an_order_announces_the_resource_the_order_its_review_and_its_move(world: World):
    position = len(world.events.events)
    order = world.order()
    created, placed, reviewed, moved = events_since(world, position)
    assert (created.event_type, created.actor_id) == ("ResourceCreated", world.owner.id)
    assert (created.resource_id, created.order_id) == (order.resource_id, order.id)
    assert (created.project_id, created.offering_id, created.plan_id) == (
        world.project.id,
        world.offering.id,
        world.plan.id,
    )
    assert placed.event_type == "OrderPlaced"
    assert (placed.order_id, placed.order_type, placed.resource_id) == (
        order.id,
        "create",
        order.resource_id,
    )
    assert (placed.project_id, placed.offering_id, placed.plan_id, placed.cost) == (
        world.project.id,
        world.offering.id,
        world.plan.id,
        Decimal("151.00"),
    )
    assert reviewed.event_type == "OrderReviewed"
    assert (reviewed.order_id, reviewed.side, reviewed.approved, reviewed.automatic) == (
        order.id,
        "consumer",
        True,
        True,
    )
    assert reviewed.actor_id == world.owner.id
    assert moved.event_type == "OrderStateChanged"
    assert (moved.order_id, moved.event, moved.source, moved.target) == (
        order.id,
        "request_provider_review",
        "pending-consumer",
        "pending-provider",
    )
    assert all(event.occurred_at == START for event in (created, placed, reviewed, moved))


def test_the_consumers_owner_orders_the_basic_offering_straight_to_the_provider(world: World):
    order = world.order()
    assert order.state is OrderState.PENDING_PROVIDER
    assert order.consumer_review == Review(world.owner.id, START, automatic=True)
    assert order.provider_review is None


def test_the_providers_approvers_are_told_when_an_order_reaches_them(world: World):
    second_owner = world.marketplace.create_user(world.staff.id, "oscar")
    world.marketplace.grant_role(
        world.staff.id, second_owner.id, Role.ORGANIZATION_OWNER, world.provider.id
    )
    order = world.order()
    (notification,) = world.notifications.sent
    assert notification.topic == "order.awaiting_provider_review"
    # the offering manager fulfils but does not approve; the consumer's owner approves only
    # for the consumer
    assert notification.recipient_ids == tuple(sorted((world.provider_owner.id, second_owner.id)))
    assert notification.context["order_id"] == order.id


def test_a_project_admins_order_waits_for_the_consumer_and_its_approvers_are_told(world: World):
    second_owner = world.marketplace.create_user(world.staff.id, "bob")
    world.marketplace.grant_role(
        world.staff.id, second_owner.id, Role.ORGANIZATION_OWNER, world.consumer.id
    )
    order = world.order(world.project_admin)
    assert order.state is OrderState.PENDING_CONSUMER
    assert (order.consumer_review, order.provider_review) == (None, None)
    (notification,) = world.notifications.sent
    assert notification.topic == "order.awaiting_consumer_review"
    # project managers and admins do not approve orders by default; the provider never does
    assert notification.recipient_ids == tuple(sorted((world.owner.id, second_owner.id)))
    assert notification.context == {
        "order_id": order.id,
        "resource_id": order.resource_id,
        "side": "consumer",
    }


def test_an_order_that_needs_no_review_is_processed_at_once(world: World):
    order = order_vm(world)
    assert order.state is OrderState.DONE
    assert world.marketplace.get_resource(order.resource_id).state is ResourceState.OK
    assert world.notifications.sent == []


def test_an_order_records_the_end_date_and_who_asked_for_it(world: World):
    order = world.order(end_date=TODAY)
    resource = world.marketplace.get_resource(order.resource_id)
    assert (resource.end_date, resource.end_date_requested_by) == (TODAY, world.owner.id)


# --------------------------------------------------------------------------- placement refusals


def test_a_blocked_organization_cannot_order(world: World):
    block_consumer(world)
    refused(world, world.order, ErrorCode.ORGANIZATION_BLOCKED)


def test_an_archived_organization_cannot_order(world: World):
    world.marketplace.archive_organization(world.staff.id, world.consumer.id)
    refused(world, world.order, ErrorCode.ORGANIZATION_ARCHIVED)


def test_an_ended_project_cannot_order(world: World):
    end_project_yesterday(world)
    error = refused(world, world.order, ErrorCode.PROJECT_ENDED)
    assert error.fields["end_date"] == YESTERDAY.isoformat()


def test_a_project_still_orders_on_its_last_day_and_not_the_day_after(world: World):
    world.marketplace.update_project(world.project_manager.id, world.project.id, end_date=TODAY)
    assert world.order().state is OrderState.PENDING_PROVIDER
    world.clock.advance(timedelta(days=1))
    refused(world, world.order, ErrorCode.PROJECT_ENDED)


@pytest.mark.parametrize("state", ["draft", "paused", "archived"])
def test_only_an_active_offering_takes_new_resources(world: World, state: str):
    market, owner = world.marketplace, world.provider_owner.id
    if state == "draft":
        offering = world.new_offering()
        plan = market.create_plan(owner, offering.id, "Plan", PlanUnit.MONTH)
        target = {"offering_id": offering.id, "plan_id": plan.id}
    else:
        act = market.pause_offering if state == "paused" else market.archive_offering
        act(owner, world.offering.id)
        target = {}
    error = refused(world, lambda: world.order(**target), ErrorCode.OFFERING_NOT_ACTIVE)
    assert error.fields["state"] == state


@pytest.mark.parametrize(
    "visibility",
    [
        lambda w: PrivateToOrganization(w.provider.id),
        lambda w: LimitedTo(organization_ids=frozenset({w.provider.id})),
    ],
    ids=["private-to-the-provider", "limited-to-the-provider"],
)
def test_an_offering_the_project_cannot_see_cannot_be_ordered(world: World, visibility):
    world.marketplace.update_offering(
        world.provider_owner.id, world.offering.id, visibility=visibility(world)
    )
    refused(world, world.order, ErrorCode.OFFERING_NOT_VISIBLE)


def test_an_archived_plan_takes_no_new_resources(world: World):
    old = world.marketplace.create_plan(
        world.provider_owner.id, world.offering.id, "Old", PlanUnit.MONTH
    )
    world.marketplace.archive_plan(world.provider_owner.id, old.id)
    refused(world, lambda: world.order(plan_id=old.id), ErrorCode.PLAN_ARCHIVED)


def test_the_plan_must_be_one_of_the_offering_ordered(world: World):
    _, cloud_plan = world.cloud_offering()
    refused(world, lambda: world.order(plan_id=cloud_plan.id), ErrorCode.PLAN_OF_ANOTHER_OFFERING)


def test_a_plan_takes_at_most_max_amount_live_resources_and_a_terminated_one_frees_a_slot(
    world: World,
):
    world.marketplace.update_plan(world.provider_owner.id, world.plan.id, max_amount=1)
    first = world.order()  # still creating: it counts
    error = refused(world, world.order, ErrorCode.PLAN_CAPACITY_REACHED)
    assert error.fields["max_amount"] == 1
    world.marketplace.reject_order(world.provider_owner.id, first.id)
    assert world.marketplace.get_resource(first.resource_id).state is ResourceState.TERMINATED
    assert world.order().state is OrderState.PENDING_PROVIDER


@pytest.mark.parametrize(
    "component",
    ["gpu", "cpu", "base", "setup"],
    ids=["unknown", "usage-billed", "fixed", "one-time"],
)
def test_limits_are_taken_only_for_limit_components(world: World, component: str):
    limits = {"storage": 10, component: 1}
    error = refused(world, lambda: world.order(limits=limits), ErrorCode.LIMIT_NOT_ALLOWED)
    assert error.fields["component"] == component


@pytest.mark.parametrize(
    "limits", [{"storage": 0}, {"storage": 1001}, {"storage": -1}, {}], ids=str
)
def test_a_limit_must_lie_within_the_components_bounds(world: World, limits):
    error = refused(world, lambda: world.order(limits=limits), ErrorCode.LIMIT_OUT_OF_RANGE)
    assert (error.fields["min_value"], error.fields["max_value"]) == (1, 1000)


def test_the_bounds_themselves_are_allowed(world: World):
    assert world.order(limits={"storage": 1}).limits == {"storage": 1}
    assert world.order(limits={"storage": 1000}).limits == {"storage": 1000}


def test_a_boolean_limit_is_zero_or_one(world: World):
    world.marketplace.add_offering_component(world.provider_owner.id, world.offering.id, GPU_ACCESS)
    refused(
        world,
        lambda: world.order(limits={"storage": 10, "gpu_access": 2}),
        ErrorCode.LIMIT_NOT_BOOLEAN,
    )
    order = world.order(limits={"storage": 10, "gpu_access": 1})
    assert order.limits == {"storage": 10, "gpu_access": 1}


def test_the_limit_amount_per_period_caps_the_projects_live_resources(world: World):
    world.order(limits={"storage": 1000})
    world.order(limits={"storage": 1000})  # 2000: exactly the limit amount
    error = refused(
        world, lambda: world.order(limits={"storage": 1}), ErrorCode.LIMIT_PERIOD_AMOUNT_EXCEEDED
    )
    assert (error.fields["used"], error.fields["limit_amount"]) == (2000, 2000)


def test_the_limit_amount_counts_neither_other_projects_nor_terminated_resources(world: World):
    other = world.marketplace.create_project(world.owner.id, world.consumer.id, "Other")
    world.order(project_id=other.id, limits={"storage": 1000})
    first = world.order(limits={"storage": 1000})
    world.order(limits={"storage": 1000})
    world.marketplace.reject_order(world.provider_owner.id, first.id)
    assert world.order(limits={"storage": 1000}).limits == {"storage": 1000}


def test_the_offering_wide_cap_sums_every_projects_resources_and_may_be_reached(world: World):
    projects = [world.project.id] + [
        world.marketplace.create_project(world.owner.id, world.consumer.id, name).id
        for name in ("Second", "Third")
    ]
    for project_id in (projects[0], projects[0], projects[1], projects[1], projects[2]):
        world.order(project_id=project_id, limits={"storage": 1000})  # 5000 in all: the cap
    error = refused(
        world,
        lambda: world.order(project_id=projects[2], limits={"storage": 1}),
        ErrorCode.OFFERING_LIMIT_CAP_EXCEEDED,
    )
    assert (error.fields["allocated"], error.fields["max_available_limit"]) == (5000, 5000)


def test_an_end_date_in_the_past_is_refused(world: World):
    error = refused(world, lambda: world.order(end_date=YESTERDAY), ErrorCode.INVALID_VALUE)
    assert error.fields["field"] == "end_date"


def test_a_processor_that_refuses_the_order_stops_it_before_anything_is_stored(world: World):
    offering, plan = world.cloud_offering()
    world.cloud.then(Outcome.REFUSE)
    refused(world, lambda: order_vm_on(world, offering.id, plan.id), ErrorCode.INVALID_VALUE)
    assert [method for method, _ in world.cloud.calls] == ["validate"]
    assert order_vm_on(world, offering.id, plan.id).state is OrderState.DONE


def test_an_offering_whose_plugin_is_not_registered_cannot_be_ordered(world: World):
    offering, plan = world.cloud_offering()
    plugins = PluginRegistry()
    register_basic(plugins)  # no "cloud"
    market = Marketplace(
        world.storage, clock=world.clock, ids=world.marketplace.ids, plugins=plugins
    )
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as caught:
        market.order_resource(
            world.owner.id, world.project.id, offering.id, plan.id, "VM", limits={"ram": 1024}
        )
    assert caught.value.code is ErrorCode.PLUGIN_NOT_REGISTERED
    assert snapshot(world.storage) == before


@pytest.mark.parametrize("actor", ["outsider", "project_member"])
def test_ordering_needs_order_create_on_the_project(world: World, actor: str):
    error = refused(
        world,
        lambda: world.order(getattr(world, actor)),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    )
    assert error.fields["permission"] == "order.create"


@pytest.mark.parametrize("actor", ["project_manager", "project_admin"])
def test_project_managers_and_admins_may_order(world: World, actor: str):
    assert world.order(getattr(world, actor)).created_by == getattr(world, actor).id


# --------------------------------------------------------------------------- plan switches


def test_a_plan_switch_is_an_update_order_from_the_old_plan_to_the_new_at_the_new_plans_cost(
    world: World,
):
    vm = world.live_vm()
    world.marketplace.add_offering_component(world.provider_owner.id, vm.offering_id, SWITCH_FEE)
    large = world.marketplace.create_plan(
        world.provider_owner.id,
        vm.offering_id,
        "Large",
        PlanUnit.DAY,
        prices={"ram": "0.03", "switch": "7", "setup": "9"},
    )
    order = world.marketplace.order_plan_switch(world.project_admin.id, vm.id, large.id)
    assert order.state is OrderState.PENDING_CONSUMER  # a project admin's: not yet processed
    assert (order.type, order.old_plan_id, order.plan_id) == (
        OrderType.UPDATE,
        vm.plan_id,
        large.id,
    )
    assert order.is_plan_switch
    assert order.limits == vm.limits
    # ram: 0.03 per GB × 1024 MB / 1024, plus the switch fee; not the one-time set-up fee
    assert order.cost == Decimal("0.03") + Decimal("7")


def test_a_plan_switch_done_at_once_puts_the_resource_on_the_new_plan_at_its_cost(world: World):
    vm, large = vm_and_plan(world, prices={"ram": "0.03"})
    assert vm.cost == Decimal("0.01")
    order = world.marketplace.order_plan_switch(world.owner.id, vm.id, large.id)
    resource = world.marketplace.get_resource(vm.id)
    assert order.state is OrderState.DONE
    assert (resource.state, resource.plan_id, resource.cost) == (
        ResourceState.OK,
        large.id,
        Decimal("0.03"),
    )


def test_switching_to_the_current_plan_is_refused(world: World):
    vm = world.live_vm()
    refused(
        world,
        lambda: world.marketplace.order_plan_switch(world.owner.id, vm.id, vm.plan_id),
        ErrorCode.PLAN_UNCHANGED,
    )


def test_switching_to_a_plan_of_another_offering_is_refused(world: World):
    vm = world.live_vm()
    refused(
        world,
        lambda: world.marketplace.order_plan_switch(world.owner.id, vm.id, world.plan.id),
        ErrorCode.PLAN_OF_ANOTHER_OFFERING,
    )


def test_switching_to_an_archived_plan_is_refused(world: World):
    vm, large = vm_and_plan(world)
    world.marketplace.archive_plan(world.provider_owner.id, large.id)
    refused(
        world,
        lambda: world.marketplace.order_plan_switch(world.owner.id, vm.id, large.id),
        ErrorCode.PLAN_ARCHIVED,
    )


def test_switching_to_a_full_plan_is_refused(world: World):
    vm, large = vm_and_plan(world, max_amount=1)
    order_vm_on(world, vm.offering_id, large.id)
    refused(
        world,
        lambda: world.marketplace.order_plan_switch(world.owner.id, vm.id, large.id),
        ErrorCode.PLAN_CAPACITY_REACHED,
    )


def test_only_an_ok_resource_switches_plans(world: World):
    order = erred_vm_order(world)
    resource = world.marketplace.get_resource(order.resource_id)
    other = world.marketplace.create_plan(
        world.provider_owner.id, resource.offering_id, "Large", PlanUnit.DAY
    )
    refused(
        world,
        lambda: world.marketplace.order_plan_switch(world.owner.id, resource.id, other.id),
        ErrorCode.RESOURCE_NOT_READY,
    )


def test_a_resource_with_an_open_order_does_not_switch_plans(world: World):
    vm, large = vm_and_plan(world)
    pending_termination_by_admin(world, vm.id)
    refused(
        world,
        lambda: world.marketplace.order_plan_switch(world.owner.id, vm.id, large.id),
        ErrorCode.ORDER_IN_PROGRESS,
    )


def test_a_paused_offering_still_takes_plan_switches(world: World):
    vm, large = vm_and_plan(world)
    world.marketplace.pause_offering(world.provider_owner.id, vm.offering_id)
    order = world.marketplace.order_plan_switch(world.owner.id, vm.id, large.id)
    assert order.state is OrderState.DONE
    assert world.marketplace.get_resource(vm.id).plan_id == large.id


@pytest.mark.parametrize("state", [OfferingState.DRAFT, OfferingState.ARCHIVED])
def test_a_draft_or_archived_offering_takes_no_plan_switches(world: World, state: OfferingState):
    vm, large = vm_and_plan(world)
    if state is OfferingState.ARCHIVED:
        world.marketplace.archive_offering(world.provider_owner.id, vm.offering_id)
    else:
        set_offering_state(world, vm.offering_id, state)
    refused(
        world,
        lambda: world.marketplace.order_plan_switch(world.owner.id, vm.id, large.id),
        ErrorCode.OFFERING_NOT_ACTIVE,
    )


def test_a_resource_of_an_ended_project_does_not_switch_plans(world: World):
    vm, large = vm_and_plan(world)
    end_project_yesterday(world)
    refused(
        world,
        lambda: world.marketplace.order_plan_switch(world.owner.id, vm.id, large.id),
        ErrorCode.PROJECT_ENDED,
    )


@pytest.mark.parametrize("organization", ["consumer", "provider"])
def test_a_resource_does_not_switch_plans_while_either_organization_is_blocked(
    world: World, organization: str
):
    vm, large = vm_and_plan(world)
    world.marketplace.block_organization(world.staff.id, getattr(world, organization).id)
    refused(
        world,
        lambda: world.marketplace.order_plan_switch(world.owner.id, vm.id, large.id),
        ErrorCode.ORGANIZATION_BLOCKED,
    )


@pytest.mark.parametrize("actor", ["outsider", "project_member", "provider_owner"])
def test_switching_plans_needs_resource_set_plan_on_the_project(world: World, actor: str):
    vm, large = vm_and_plan(world)
    error = refused(
        world,
        lambda: world.marketplace.order_plan_switch(getattr(world, actor).id, vm.id, large.id),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    )
    assert error.fields["permission"] == "resource.set_plan"


# --------------------------------------------------------------------------- limit changes


def test_a_limit_change_records_the_old_and_new_limits_at_the_plans_cost(world: World):
    vm = world.live_vm()
    order = world.marketplace.order_limit_change(world.project_admin.id, vm.id, {"ram": 3072})
    assert order.state is OrderState.PENDING_CONSUMER
    assert order.type is OrderType.UPDATE
    assert order.is_limit_change
    assert (order.old_limits, order.limits) == ({"ram": 1024}, {"ram": 3072})
    assert order.plan_id == order.old_plan_id == vm.plan_id
    assert order.cost == Decimal("0.03")  # 0.01 per GB of ram; no one-time or switch price


def test_a_limit_change_done_at_once_replaces_the_resources_limits_and_cost(world: World):
    vm = world.live_vm()
    order = world.marketplace.order_limit_change(world.owner.id, vm.id, {"ram": 2048})
    resource = world.marketplace.get_resource(vm.id)
    assert order.state is OrderState.DONE
    assert (resource.state, resource.limits, resource.cost) == (
        ResourceState.OK,
        {"ram": 2048},
        Decimal("0.02"),
    )


def test_asking_for_the_limits_a_resource_has_is_refused(world: World):
    vm = world.live_vm()
    refused(
        world,
        lambda: world.marketplace.order_limit_change(world.owner.id, vm.id, {"ram": 1024}),
        ErrorCode.LIMITS_UNCHANGED,
    )


def test_limits_change_only_where_the_plugin_allows_it(world: World):
    market = world.marketplace
    offering = world.new_offering(name="Archive", plugin_type="static")
    plan = market.create_plan(world.provider_owner.id, offering.id, "Plan", PlanUnit.MONTH)
    market.activate_offering(world.staff.id, offering.id)
    order = world.order(offering_id=offering.id, plan_id=plan.id, limits={"storage": 10})
    assert order.state is OrderState.DONE
    refused(
        world,
        lambda: market.order_limit_change(world.owner.id, order.resource_id, {"storage": 20}),
        ErrorCode.LIMITS_NOT_UPDATABLE,
    )


@pytest.mark.parametrize(
    ("limits", "code"),
    [
        ({"storage": 1001}, ErrorCode.LIMIT_OUT_OF_RANGE),
        ({"storage": 10, "cpu": 1}, ErrorCode.LIMIT_NOT_ALLOWED),
    ],
)
def test_new_limits_pass_the_same_rules_as_a_new_resources(world: World, limits, code):
    resource = world.live_basic()
    refused(
        world,
        lambda: world.marketplace.order_limit_change(world.owner.id, resource.id, limits),
        code,
    )


def test_a_limit_change_counts_the_projects_other_resources_not_the_one_changed(world: World):
    market = world.marketplace
    world.order(limits={"storage": 1000})
    resource = world.live_basic()  # storage 10
    # 1000 elsewhere + 1000 = 2000, the limit amount: the resource's own 10 is replaced
    order = market.order_limit_change(world.owner.id, resource.id, {"storage": 1000})
    assert order.limits == {"storage": 1000}
    market.cancel_order(world.owner.id, order.id)
    world.order(limits={"storage": 500})
    error = refused(
        world,
        lambda: market.order_limit_change(world.owner.id, resource.id, {"storage": 501}),
        ErrorCode.LIMIT_PERIOD_AMOUNT_EXCEEDED,
    )
    assert error.fields["used"] == 1500


def test_the_offering_wide_cap_excludes_the_resources_own_current_limit(world: World):
    market = world.marketplace
    projects = [world.project.id] + [
        market.create_project(world.owner.id, world.consumer.id, name).id
        for name in ("Second", "Third")
    ]
    for project_id in (projects[0], projects[1], projects[1], projects[2]):
        world.order(project_id=project_id, limits={"storage": 1000})
    resource = world.live_basic()  # 4010 in all, 10 of them this resource's
    order = market.order_limit_change(world.owner.id, resource.id, {"storage": 1000})
    assert order.limits == {"storage": 1000}  # 4000 elsewhere + 1000 = 5000: the cap
    market.cancel_order(world.owner.id, order.id)
    world.order(project_id=projects[2], limits={"storage": 1})
    error = refused(
        world,
        lambda: market.order_limit_change(world.owner.id, resource.id, {"storage": 1000}),
        ErrorCode.OFFERING_LIMIT_CAP_EXCEEDED,
    )
    assert error.fields["allocated"] == 4001


def test_a_resource_with_an_open_order_does_not_change_limits(world: World):
    vm = world.live_vm()
    pending_termination_by_admin(world, vm.id)
    refused(
        world,
        lambda: world.marketplace.order_limit_change(world.owner.id, vm.id, {"ram": 2048}),
        ErrorCode.ORDER_IN_PROGRESS,
    )


def test_only_an_ok_resource_changes_limits(world: World):
    order = world.order()  # still creating
    refused(
        world,
        lambda: world.marketplace.order_limit_change(
            world.owner.id, order.resource_id, {"storage": 20}
        ),
        ErrorCode.RESOURCE_NOT_READY,
    )


@pytest.mark.parametrize("actor", ["outsider", "project_member", "provider_owner"])
def test_changing_limits_needs_resource_set_limits_on_the_project(world: World, actor: str):
    vm = world.live_vm()
    error = refused(
        world,
        lambda: world.marketplace.order_limit_change(getattr(world, actor).id, vm.id, {"ram": 1}),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    )
    assert error.fields["permission"] == "resource.set_limits"


# --------------------------------------------------------------------------- terminations


def test_an_ok_resource_can_be_terminated(world: World):
    vm = world.live_vm()
    order = world.marketplace.order_termination(world.owner.id, vm.id, attributes={"why": "done"})
    assert (order.type, order.state, order.plan_id) == (
        OrderType.TERMINATE,
        OrderState.DONE,
        vm.plan_id,
    )
    assert order.attributes == {"why": "done"}
    assert order.cost is None
    resource = world.marketplace.get_resource(vm.id)
    assert resource.state is ResourceState.TERMINATED
    assert resource.terminated_at == START


def test_an_erred_resource_can_be_terminated(world: World):
    create = erred_vm_order(world)
    order = world.marketplace.order_termination(world.owner.id, create.resource_id)
    assert order.state is OrderState.DONE
    resource = world.marketplace.get_resource(create.resource_id)
    assert resource.state is ResourceState.TERMINATED


@pytest.mark.parametrize("state", ["creating", "terminated"])
def test_a_creating_or_terminated_resource_cannot_be_terminated(world: World, state: str):
    if state == "creating":
        resource_id = world.order().resource_id
    else:
        resource_id = world.live_vm().id
        world.marketplace.order_termination(world.owner.id, resource_id)
    error = refused(
        world,
        lambda: world.marketplace.order_termination(world.owner.id, resource_id),
        ErrorCode.RESOURCE_NOT_READY,
    )
    assert error.fields["state"] == state


def test_a_resource_with_an_open_order_cannot_be_terminated(world: World):
    vm = world.live_vm()
    change = world.marketplace.order_limit_change(world.project_admin.id, vm.id, {"ram": 2048})
    error = refused(
        world,
        lambda: world.marketplace.order_termination(world.owner.id, vm.id),
        ErrorCode.ORDER_IN_PROGRESS,
    )
    assert error.fields["order_id"] == change.id


@pytest.mark.parametrize("actor", ["owner", "project_manager", "project_admin", "provider_owner"])
def test_the_consumer_and_the_provider_may_both_terminate(world: World, actor: str):
    resource = world.live_basic()
    order = world.marketplace.order_termination(getattr(world, actor).id, resource.id)
    assert (order.type, order.created_by) == (OrderType.TERMINATE, getattr(world, actor).id)


@pytest.mark.parametrize("actor", ["outsider", "project_member", "offering_manager"])
def test_others_may_not_terminate(world: World, actor: str):
    resource = world.live_basic()
    error = refused(
        world,
        lambda: world.marketplace.order_termination(getattr(world, actor).id, resource.id),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    )
    assert error.fields["permission"] == "resource.terminate"


def test_the_providers_owner_terminating_skips_both_reviews(world: World):
    resource = world.live_basic()
    order = world.marketplace.order_termination(world.provider_owner.id, resource.id)
    assert order.state is OrderState.EXECUTING  # the basic backend: the provider reports
    assert order.consumer_review == Review(world.provider_owner.id, START, automatic=True)
    assert order.provider_review == Review(world.provider_owner.id, START, automatic=True)
    assert world.marketplace.get_resource(resource.id).state is ResourceState.TERMINATING


def test_a_project_admin_terminating_waits_for_the_consumers_approval(world: World):
    resource = world.live_basic()
    order = world.marketplace.order_termination(world.project_admin.id, resource.id)
    assert order.state is OrderState.PENDING_CONSUMER
    assert world.marketplace.get_resource(resource.id).state is ResourceState.OK


@pytest.mark.parametrize("obstacle", ["blocked organization", "ended project"])
def test_termination_is_allowed_for_a_blocked_organization_or_an_ended_project(
    world: World, obstacle: str
):
    vm = world.live_vm()
    if obstacle == "blocked organization":
        block_consumer(world)
    else:
        end_project_yesterday(world)
    order = world.marketplace.order_termination(world.owner.id, vm.id)
    assert order.state is OrderState.DONE
    assert world.marketplace.get_resource(vm.id).state is ResourceState.TERMINATED


# --------------------------------------------------------------------------- consumer approval


def test_the_consumers_approval_sends_a_basic_order_to_the_provider(world: World):
    order = world.order(world.project_admin)
    world.clock.advance(timedelta(minutes=10))
    approved = world.marketplace.approve_order_as_consumer(world.owner.id, order.id)
    assert approved.state is OrderState.PENDING_PROVIDER
    assert approved.consumer_review == Review(
        world.owner.id, START + timedelta(minutes=10), automatic=False
    )
    assert approved.provider_review is None
    assert world.marketplace.get_order(order.id) == approved
    assert world.notifications.sent[-1].topic == "order.awaiting_provider_review"
    assert world.notifications.sent[-1].recipient_ids == (world.provider_owner.id,)


def test_the_consumers_approval_executes_a_cloud_order_to_done(world: World):
    order = order_vm(world, world.project_admin)
    assert order.state is OrderState.PENDING_CONSUMER
    position = len(world.events.events)
    approved = world.marketplace.approve_order_as_consumer(world.owner.id, order.id)
    assert approved.state is OrderState.DONE
    assert approved.consumer_review == Review(world.owner.id, START, automatic=False)
    assert approved.provider_review == Review(world.owner.id, START, automatic=True)
    assert world.marketplace.get_resource(order.resource_id).state is ResourceState.OK
    moves = [
        (event.source, event.target)
        for event in events_since(world, position)
        if event.event_type == "OrderStateChanged"
    ]
    assert moves == [("pending-consumer", "executing"), ("executing", "done")]


@pytest.mark.parametrize("state", ["pending-provider", "done"])
def test_only_an_order_waiting_for_the_consumer_can_be_approved_by_it(world: World, state: str):
    order = world.order() if state == "pending-provider" else order_vm(world)
    error = refused(
        world,
        lambda: world.marketplace.approve_order_as_consumer(world.owner.id, order.id),
        ErrorCode.INVALID_TRANSITION,
        InvalidTransitionError,
    )
    assert (error.fields["event"], error.fields["state"]) == ("approve_as_consumer", state)


@pytest.mark.parametrize("actor", ["project_manager", "project_admin", "provider_owner"])
def test_approving_for_the_consumer_needs_order_approve_on_the_project(world: World, actor: str):
    order = world.order(world.project_admin)
    error = refused(
        world,
        lambda: world.marketplace.approve_order_as_consumer(getattr(world, actor).id, order.id),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    )
    assert error.fields["permission"] == "order.approve"


def test_a_blocked_organizations_order_cannot_be_approved(world: World):
    order = world.order(world.project_admin)
    block_consumer(world)
    refused(
        world,
        lambda: world.marketplace.approve_order_as_consumer(world.owner.id, order.id),
        ErrorCode.ORGANIZATION_BLOCKED,
    )


def test_an_ended_projects_order_cannot_be_approved(world: World):
    order = world.order(world.project_admin)
    end_project_yesterday(world)
    refused(
        world,
        lambda: world.marketplace.approve_order_as_consumer(world.owner.id, order.id),
        ErrorCode.PROJECT_ENDED,
    )


def test_an_ended_projects_termination_can_still_be_approved(world: World):
    vm = world.live_vm()
    order = pending_termination_by_admin(world, vm.id)
    end_project_yesterday(world)
    approved = world.marketplace.approve_order_as_consumer(world.owner.id, order.id)
    assert approved.state is OrderState.DONE
    assert world.marketplace.get_resource(vm.id).state is ResourceState.TERMINATED


def test_an_approved_order_waits_for_a_project_that_has_not_started(world: World):
    world.marketplace.update_project(
        world.project_manager.id, world.project.id, start_date=TODAY + timedelta(days=3)
    )
    order = world.order(world.project_admin)
    sent = len(world.notifications.sent)
    approved = world.marketplace.approve_order_as_consumer(world.owner.id, order.id)
    assert approved.state is OrderState.PENDING_PROJECT
    assert approved.consumer_review == Review(world.owner.id, START, automatic=False)
    assert world.notifications.sent[sent:] == []  # the provider is asked once it starts
    assert world.marketplace.get_resource(order.resource_id).state is ResourceState.CREATING


# --------------------------------------------------------------------------- provider approval


def test_the_providers_approval_executes_the_order_and_records_its_review(world: World):
    order = world.order()
    world.clock.advance(timedelta(hours=2))
    approved = world.marketplace.approve_order_as_provider(world.provider_owner.id, order.id)
    assert approved.state is OrderState.EXECUTING
    assert approved.provider_review == Review(
        world.provider_owner.id, START + timedelta(hours=2), automatic=False
    )
    assert approved.consumer_review == order.consumer_review
    assert approved.dispatched_at == START + timedelta(hours=2)  # the basic backend has it
    reviewed = [e for e in events_since(world, 0) if e.event_type == "OrderReviewed"][-1]
    assert (reviewed.side, reviewed.actor_id, reviewed.automatic) == (
        "provider",
        world.provider_owner.id,
        False,
    )


@pytest.mark.parametrize("actor", ["owner", "offering_manager", "project_manager"])
def test_approving_for_the_provider_needs_order_approve_on_the_offering(world: World, actor: str):
    order = world.order()
    error = refused(
        world,
        lambda: world.marketplace.approve_order_as_provider(getattr(world, actor).id, order.id),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    )
    assert error.fields["permission"] == "order.approve"


def test_only_an_order_waiting_for_the_provider_can_be_approved_by_it(world: World):
    order = world.order(world.project_admin)
    error = refused(
        world,
        lambda: world.marketplace.approve_order_as_provider(world.provider_owner.id, order.id),
        ErrorCode.INVALID_TRANSITION,
        InvalidTransitionError,
    )
    assert error.fields["event"] == "approve_as_provider"


@pytest.mark.parametrize("organization", ["consumer", "provider"])
def test_the_provider_cannot_approve_while_either_organization_is_blocked(
    world: World, organization: str
):
    order = world.order()
    world.marketplace.block_organization(world.staff.id, getattr(world, organization).id)
    refused(
        world,
        lambda: world.marketplace.approve_order_as_provider(world.provider_owner.id, order.id),
        ErrorCode.ORGANIZATION_BLOCKED,
    )


# --------------------------------------------------------------------------- rejection


@pytest.mark.parametrize("actor", ["owner", "project_admin"])
def test_the_consumer_side_rejects_an_order_waiting_for_it(world: World, actor: str):
    """The consumer's owner holds ``order.reject``; the project admin created the order."""
    order = world.order(world.project_admin)
    rejected = world.marketplace.reject_order(getattr(world, actor).id, order.id, reason="Too big")
    assert rejected.state is OrderState.REJECTED
    assert rejected.error_message == "Too big"
    assert rejected.consumer_review == Review(
        getattr(world, actor).id, START, automatic=False, approved=False
    )
    assert world.marketplace.get_order(order.id) == rejected


def test_the_consumer_side_rejects_an_order_waiting_for_its_project(world: World):
    world.marketplace.update_project(
        world.project_manager.id, world.project.id, start_date=TODAY + timedelta(days=3)
    )
    order = world.order()
    assert order.state is OrderState.PENDING_PROJECT
    rejected = world.marketplace.reject_order(world.owner.id, order.id)
    assert rejected.state is OrderState.REJECTED
    assert world.marketplace.get_resource(order.resource_id).state is ResourceState.TERMINATED


@pytest.mark.parametrize("actor", ["project_manager", "outsider", "provider_owner"])
def test_rejecting_for_the_consumer_needs_order_reject_on_the_project_or_being_the_creator(
    world: World, actor: str
):
    order = world.order(world.project_admin)
    error = refused(
        world,
        lambda: world.marketplace.reject_order(getattr(world, actor).id, order.id),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    )
    assert error.fields["permission"] == "order.reject"


def test_the_provider_rejects_an_order_waiting_for_it(world: World):
    order = world.order()
    rejected = world.marketplace.reject_order(world.provider_owner.id, order.id, reason="Full")
    assert (rejected.state, rejected.error_message) == (OrderState.REJECTED, "Full")
    assert rejected.provider_review == Review(
        world.provider_owner.id, START, automatic=False, approved=False
    )
    assert rejected.consumer_review == order.consumer_review


@pytest.mark.parametrize("actor", ["owner", "offering_manager"])
def test_rejecting_for_the_provider_needs_order_reject_on_the_offering(world: World, actor: str):
    """Even the order's creator: once the provider has it, the consumer cancels instead."""
    order = world.order()
    refused(
        world,
        lambda: world.marketplace.reject_order(getattr(world, actor).id, order.id),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    )


def test_a_rejected_create_order_terminates_its_resource(world: World):
    order = world.order()
    world.marketplace.reject_order(world.provider_owner.id, order.id)
    resource = world.marketplace.get_resource(order.resource_id)
    assert (resource.state, resource.terminated_at) == (ResourceState.TERMINATED, START)


@pytest.mark.parametrize("kind", ["limit change", "termination"])
def test_a_rejected_update_or_termination_leaves_the_resource_ok_as_it_was(world: World, kind):
    resource = world.live_basic()
    market = world.marketplace
    if kind == "limit change":
        order = market.order_limit_change(world.owner.id, resource.id, {"storage": 20})
    else:
        order = market.order_termination(world.owner.id, resource.id)
    assert order.state is OrderState.PENDING_PROVIDER
    market.reject_order(world.provider_owner.id, order.id)
    after = market.get_resource(resource.id)
    assert (after.state, after.limits, after.cost) == (
        ResourceState.OK,
        resource.limits,
        resource.cost,
    )


@pytest.mark.parametrize("state", ["executing", "done", "rejected"])
def test_only_a_pending_order_can_be_rejected(world: World, state: str):
    if state == "executing":
        order = world.order()
        world.marketplace.approve_order_as_provider(world.provider_owner.id, order.id)
    elif state == "done":
        order = order_vm(world)
    else:
        order = world.order()
        world.marketplace.reject_order(world.provider_owner.id, order.id)
    error = refused(
        world,
        lambda: world.marketplace.reject_order(world.owner.id, order.id),
        ErrorCode.INVALID_TRANSITION,
        InvalidTransitionError,
    )
    assert (error.fields["event"], error.fields["state"]) == ("reject", state)


# --------------------------------------------------------------------------- canceling


@pytest.mark.parametrize("actor", ["project_admin", "project_manager", "owner"])
def test_a_pending_order_is_canceled_by_its_creator_or_with_order_cancel(world: World, actor):
    order = world.order(world.project_admin)
    canceled = world.marketplace.cancel_order(getattr(world, actor).id, order.id)
    assert canceled.state is OrderState.CANCELED
    assert world.marketplace.get_order(order.id) == canceled


@pytest.mark.parametrize("actor", ["outsider", "project_member", "provider_owner"])
def test_others_cannot_cancel_an_order(world: World, actor: str):
    order = world.order(world.project_admin)
    error = refused(
        world,
        lambda: world.marketplace.cancel_order(getattr(world, actor).id, order.id),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    )
    assert error.fields["permission"] == "order.cancel"


def test_a_canceled_create_order_terminates_its_resource(world: World):
    order = world.order()
    world.marketplace.cancel_order(world.owner.id, order.id)
    assert world.marketplace.get_resource(order.resource_id).state is ResourceState.TERMINATED


def test_a_canceled_pending_update_leaves_the_resource_as_it_was(world: World):
    resource = world.live_basic()
    order = world.marketplace.order_limit_change(world.owner.id, resource.id, {"storage": 20})
    world.marketplace.cancel_order(world.owner.id, order.id)
    assert world.marketplace.get_resource(resource.id) == resource


@pytest.mark.parametrize(
    ("kind", "resource_after"),
    [
        ("create", ResourceState.TERMINATED),
        ("update", ResourceState.OK),
        ("terminate", ResourceState.OK),
    ],
)
def test_an_executing_basic_order_can_be_canceled_and_the_resource_goes_back(
    world: World, kind: str, resource_after: ResourceState
):
    resource = world.waiting_for_backend(kind)
    (order,) = [o for o in world.marketplace.list_orders(resource.id) if o.is_open]
    assert order.state is OrderState.EXECUTING
    canceled = world.marketplace.cancel_order(world.owner.id, order.id)
    assert canceled.state is OrderState.CANCELED
    after = world.marketplace.get_resource(resource.id)
    assert after.state is resource_after
    if kind == "update":
        assert after.limits == {"storage": 10}  # the change never happened


def test_an_executing_order_of_a_plugin_that_cannot_cancel_stays(world: World):
    world.cloud.then(Outcome.LATER)
    order = order_vm(world)
    assert order.state is OrderState.EXECUTING
    error = refused(
        world,
        lambda: world.marketplace.cancel_order(world.owner.id, order.id),
        ErrorCode.ORDER_NOT_CANCELABLE,
    )
    assert error.fields["plugin_type"] == "cloud"


@pytest.mark.parametrize("state", ["done", "canceled", "rejected"])
def test_a_finished_order_cannot_be_canceled(world: World, state: str):
    if state == "done":
        order = order_vm(world)
    else:
        order = world.order()
        if state == "canceled":
            world.marketplace.cancel_order(world.owner.id, order.id)
        else:
            world.marketplace.reject_order(world.provider_owner.id, order.id)
    refused(
        world,
        lambda: world.marketplace.cancel_order(world.owner.id, order.id),
        ErrorCode.INVALID_TRANSITION,
        InvalidTransitionError,
    )


# --------------------------------------------------------------------------- retrying


def test_a_retried_order_executes_again_and_heals_its_resource(world: World):
    order = erred_vm_order(world)
    assert order.error_message.startswith("RuntimeError: backend crashed")
    world.clock.advance(timedelta(hours=1))
    retried = world.marketplace.retry_order(world.owner.id, order.id)
    assert retried.state is OrderState.DONE
    assert retried.error_message == ""
    assert retried.completed_at == START + timedelta(hours=1)
    resource = world.marketplace.get_resource(order.resource_id)
    assert (resource.state, resource.error_message) == (ResourceState.OK, "")
    assert [method for method, _ in world.cloud.calls] == ["validate", "create", "create"]


def test_a_retry_moves_the_order_from_erred_to_executing(world: World):
    order = erred_vm_order(world)
    world.cloud.then(Outcome.LATER)
    retried = world.marketplace.retry_order(world.owner.id, order.id)
    assert retried.state is OrderState.EXECUTING
    moved = [e for e in events_since(world, 0) if e.event_type == "OrderStateChanged"][-1]
    assert (moved.event, moved.source, moved.target) == ("retry", "erred", "executing")


@pytest.mark.parametrize("state", ["pending-provider", "done"])
def test_only_an_erred_order_is_retried(world: World, state: str):
    order = world.order() if state == "pending-provider" else order_vm(world)
    error = refused(
        world,
        lambda: world.marketplace.retry_order(world.owner.id, order.id),
        ErrorCode.INVALID_TRANSITION,
        InvalidTransitionError,
    )
    assert error.fields["event"] == "retry"


def test_an_erred_order_is_not_retried_while_its_resource_has_another_open_order(world: World):
    order = erred_vm_order(world)
    pending_termination_by_admin(world, order.resource_id)
    refused(
        world,
        lambda: world.marketplace.retry_order(world.owner.id, order.id),
        ErrorCode.ORDER_IN_PROGRESS,
    )


def test_an_erred_order_of_a_terminated_resource_is_not_retried(world: World):
    order = erred_vm_order(world)
    world.marketplace.order_termination(world.owner.id, order.resource_id)
    refused(
        world,
        lambda: world.marketplace.retry_order(world.owner.id, order.id),
        ErrorCode.RESOURCE_NOT_READY,
    )


@pytest.mark.parametrize("actor", ["owner", "project_admin", "project_manager", "provider_owner"])
def test_the_consumer_or_the_provider_retries(world: World, actor: str):
    order = erred_vm_order(world)
    retried = world.marketplace.retry_order(getattr(world, actor).id, order.id)
    assert retried.state is OrderState.DONE


@pytest.mark.parametrize("actor", ["outsider", "project_member"])
def test_others_cannot_retry(world: World, actor: str):
    order = erred_vm_order(world)
    error = refused(
        world,
        lambda: world.marketplace.retry_order(getattr(world, actor).id, order.id),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    )
    assert error.fields["permission"] == "order.create"


# --------------------------------------------------------------------------- queries


def test_get_order_and_get_resource_return_what_is_stored_and_refuse_unknown_ids(world: World):
    order = world.order()
    assert world.marketplace.get_order(order.id) == order
    assert world.marketplace.get_resource(order.resource_id).id == order.resource_id
    with pytest.raises(NotFoundError) as caught:
        world.marketplace.get_order("order-404")
    assert caught.value.fields == {"entity": "order", "id": "order-404"}
    with pytest.raises(NotFoundError):
        world.marketplace.get_resource("resource-404")


def test_a_resources_orders_are_listed_oldest_first(world: World):
    market = world.marketplace
    resource = world.live_basic()
    changes = []
    for storage in range(20, 140, 10):  # a dozen, so ids sort differently as text
        order = market.order_limit_change(world.owner.id, resource.id, {"storage": storage})
        market.cancel_order(world.owner.id, order.id)
        changes.append(order.id)
        world.clock.advance(timedelta(minutes=1))
    listed = market.list_orders(resource.id)
    assert [o.type for o in listed] == [OrderType.CREATE] + [OrderType.UPDATE] * len(changes)
    assert [o.id for o in listed[1:]] == changes
    assert [o.created_at for o in listed] == sorted(o.created_at for o in listed)
    with pytest.raises(NotFoundError):
        market.list_orders("resource-404")


def test_a_projects_orders_and_resources_are_its_own_oldest_first(world: World):
    market = world.marketplace
    other = market.create_project(world.owner.id, world.consumer.id, "Other")
    first = world.order()
    world.order(project_id=other.id)
    second = order_vm(world)
    market.reject_order(world.provider_owner.id, first.id)
    assert [o.id for o in market.list_project_orders(world.project.id)] == [first.id, second.id]
    resources = market.list_resources(world.project.id)
    assert [r.id for r in resources] == [first.resource_id, second.resource_id]
    assert resources[0].state is ResourceState.TERMINATED  # terminated ones are listed too
    with pytest.raises(NotFoundError):
        market.list_project_orders("project-404")
    with pytest.raises(NotFoundError):
        market.list_resources("project-404")


def test_queries_write_nothing(world: World):
    order = world.order()
    before = snapshot(world.storage)
    events = len(world.events.events)
    market = world.marketplace
    market.get_order(order.id)
    market.list_orders(order.resource_id)
    market.list_project_orders(world.project.id)
    market.get_resource(order.resource_id)
    market.list_resources(world.project.id)
    assert snapshot(world.storage) == before
    assert len(world.events.events) == events


def test_the_executing_orders_of_an_offering_are_listed_oldest_first(world: World):
    first = world.waiting_order()
    second = world.waiting_order("terminate")
    world.order()  # pending the provider's review: not executing
    world.live_vm()  # executing and done at once, on another offering
    listed = world.marketplace.list_executing_orders(world.offering.id)
    assert [order.id for order in listed] == [first.id, second.id]


def test_the_resources_of_an_offering_are_listed_terminated_ones_included(world: World):
    kept = world.live_basic()
    gone = world.live_basic()
    market = world.marketplace
    termination = market.order_termination(world.owner.id, gone.id)
    market.approve_order_as_provider(world.provider_owner.id, termination.id)
    market.resource_deletion_succeeded(world.provider_owner.id, gone.id)
    world.live_vm()  # another offering
    listed = market.list_offering_resources(world.offering.id)
    assert [(r.id, r.state.value) for r in listed] == [(kept.id, "ok"), (gone.id, "terminated")]
