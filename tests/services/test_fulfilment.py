"""Fulfilment: executing orders handed to their processors, and the backend callbacks."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace_core import (
    ErrorCode,
    InProgress,
    Marketplace,
    OrderState,
    PermissionDeniedError,
    PlanUnit,
    PluginRegistry,
    ResourceState,
    ValidationError,
)
from marketplace_core.plugins import register_basic
from marketplace_core.testing import Outcome
from tests.support import CPU, World, build_world, plugin_registry, snapshot

FAILURE = "backend said no"


def order_vm(world: World, market: Marketplace | None = None):
    """A create order for a VM of a fresh cloud offering, placed by the consumer's owner."""
    offering, plan = world.cloud_offering()
    return (market or world.marketplace).order_resource(
        world.owner.id, world.project.id, offering.id, plan.id, "VM", limits={"ram": 1024}
    )


def held_marketplace(world: World, plugins: PluginRegistry | None = None) -> Marketplace:
    """A second facade on the world's storage that leaves executing orders to a worker."""
    return Marketplace(
        world.storage,
        clock=world.clock,
        ids=world.marketplace.ids,
        plugins=plugins or world.marketplace.plugins,
        process_immediately=False,
    )


def report(world: World, callback: str, resource_id: str, actor_id: str | None = None):
    """Deliver ``resource_<callback>`` (``creation_failed``, ...) as the provider's owner."""
    method = getattr(world.marketplace, f"resource_{callback}")
    actor = actor_id or world.provider_owner.id
    if callback.endswith("_failed"):
        return method(actor, resource_id, FAILURE)
    return method(actor, resource_id)


class Answers:
    """A backend that answers every call with ``answer``, whatever it is."""

    def __init__(self, answer: object) -> None:
        self.answer = answer

    def validate(self, request) -> None:
        """Accept every order."""

    def create(self, request):
        return self.answer

    update = terminate = create


def marketplace_with_plugin(world: World, processor: object) -> tuple[Marketplace, str, str]:
    """A facade on the world's storage whose ``odd`` plugin is ``processor``; an active
    offering of it, and its plan."""
    plugins = plugin_registry(world.cloud)
    plugins.register("odd", processor)  # type: ignore[arg-type]
    market = Marketplace(
        world.storage, clock=world.clock, ids=world.marketplace.ids, plugins=plugins
    )
    offering = market.create_offering(
        world.provider_owner.id,
        world.provider.id,
        "Odd",
        "odd",
        category_id=world.offering.category_id,
        components=(CPU,),
    )
    plan = market.create_plan(world.provider_owner.id, offering.id, "Plan", PlanUnit.DAY)
    market.activate_offering(world.staff.id, offering.id)
    return market, offering.id, plan.id


# --------------------------------------------------------------------------- synchronous backends


def test_a_create_order_on_a_backend_that_finishes_at_once_is_done(world: World):
    order = order_vm(world)
    resource = world.marketplace.get_resource(order.resource_id)
    assert order.state is OrderState.DONE
    assert order.completed_at == world.clock.now()
    assert order.dispatched_at is None
    assert resource.state is ResourceState.OK
    assert resource.backend_id == f"backend-{resource.id}"
    assert world.marketplace.get_order(order.id) == order


def test_a_plan_switch_done_at_once_moves_the_resource_to_the_new_plan_and_its_cost(world: World):
    vm = world.live_vm()
    large = world.marketplace.create_plan(
        world.provider_owner.id, vm.offering_id, "Large", PlanUnit.DAY, prices={"ram": "0.03"}
    )
    order = world.marketplace.order_plan_switch(world.owner.id, vm.id, large.id)
    resource = world.marketplace.get_resource(vm.id)
    assert order.state is OrderState.DONE
    assert (resource.state, resource.plan_id, resource.cost) == (
        ResourceState.OK,
        large.id,
        Decimal("0.03"),
    )
    assert vm.cost == Decimal("0.01")


def test_a_limit_change_done_at_once_gives_the_resource_its_limits_and_cost(world: World):
    vm = world.live_vm()
    order = world.marketplace.order_limit_change(world.owner.id, vm.id, {"ram": 3072})
    resource = world.marketplace.get_resource(vm.id)
    assert order.state is OrderState.DONE
    assert (resource.state, dict(resource.limits), resource.cost) == (
        ResourceState.OK,
        {"ram": 3072},
        Decimal("0.03"),
    )


def test_a_termination_done_at_once_terminates_the_resource(world: World):
    vm = world.live_vm()
    world.clock.advance(timedelta(hours=2))
    order = world.marketplace.order_termination(world.owner.id, vm.id)
    resource = world.marketplace.get_resource(vm.id)
    assert order.state is OrderState.DONE
    assert resource.state is ResourceState.TERMINATED
    assert resource.terminated_at == order.completed_at == world.clock.now()


def test_processing_is_announced_after_the_placement_in_commit_order(world: World):
    before = len(world.events.events)
    order_vm(world)
    tail = [
        recorded.event
        for recorded in world.events.events[before:]
        if not recorded.event.event_type.startswith("Invoice")  # billing has its own tests
    ]
    assert [event.event_type for event in tail][-8:] == [
        "ResourceCreated",
        "OrderPlaced",
        "OrderReviewed",
        "OrderReviewed",
        "OrderStateChanged",
        "ResourceStateChanged",
        "ResourceChanged",
        "OrderStateChanged",
    ]
    assert [(e.source, e.target) for e in tail if e.event_type == "OrderStateChanged"][-2:] == [
        ("pending-consumer", "executing"),
        ("executing", "done"),
    ]
    positions = [recorded.position for recorded in world.events.events]
    assert positions == list(range(1, len(positions) + 1))
    assert list(world.marketplace.events()) == world.events.events


# ------------------------------------------------------------------ backends finishing later


def test_a_create_left_to_the_backend_executes_with_the_resource_creating(world: World):
    world.cloud.then(Outcome.LATER)
    order = order_vm(world)
    assert order.state is OrderState.EXECUTING
    assert order.dispatched_at == world.clock.now()
    assert order.completed_at is None
    resource = world.marketplace.get_resource(order.resource_id)
    assert (resource.state, resource.backend_id) == (ResourceState.CREATING, "")


@pytest.mark.parametrize(
    ("change", "waiting"),
    [("limits", ResourceState.UPDATING), ("termination", ResourceState.TERMINATING)],
)
def test_a_change_left_to_the_backend_executes_with_the_resource_waiting(
    world: World, change: str, waiting: ResourceState
):
    vm = world.live_vm()
    world.cloud.then(Outcome.LATER)
    if change == "limits":
        order = world.marketplace.order_limit_change(world.owner.id, vm.id, {"ram": 2048})
    else:
        order = world.marketplace.order_termination(world.owner.id, vm.id)
    assert (order.state, order.dispatched_at) == (OrderState.EXECUTING, world.clock.now())
    resource = world.marketplace.get_resource(vm.id)
    assert resource.state is waiting
    assert (dict(resource.limits), resource.terminated_at) == ({"ram": 1024}, None)


def test_processing_an_order_the_backend_already_has_changes_nothing(world: World):
    world.cloud.then(Outcome.LATER)
    order = order_vm(world)
    calls = list(world.cloud.calls)
    before = snapshot(world.storage)
    assert world.marketplace.process_order(order.id) == order
    assert snapshot(world.storage) == before
    assert world.cloud.calls == calls


def test_only_executing_orders_are_processed(world: World):
    order = world.order()
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.process_order(order.id)
    assert caught.value.code is ErrorCode.ORDER_NOT_EXECUTING
    assert caught.value.fields["state"] == "pending-provider"
    assert snapshot(world.storage) == before


def test_a_backend_id_given_with_in_progress_is_recorded_at_once(world: World):
    market, offering_id, plan_id = marketplace_with_plugin(world, Answers(InProgress("vm-7")))
    order = market.order_resource(world.owner.id, world.project.id, offering_id, plan_id, "R")
    resource = market.get_resource(order.resource_id)
    assert order.state is OrderState.EXECUTING
    assert (resource.state, resource.backend_id) == (ResourceState.CREATING, "vm-7")


# --------------------------------------------------------------------------- processors that fail


def test_a_create_whose_processor_raises_errs_order_and_resource_with_the_message(world: World):
    world.cloud.then(Outcome.RAISE)
    order = order_vm(world)
    expected = f"RuntimeError: backend crashed on create of {order.id}"
    assert (order.state, order.error_message) == (OrderState.ERRED, expected)
    assert "Traceback" not in order.error_message
    resource = world.marketplace.get_resource(order.resource_id)
    assert (resource.state, resource.error_message) == (ResourceState.ERRED, expected)


@pytest.mark.parametrize("change", ["plan switch", "limits", "termination"])
def test_a_change_whose_processor_raises_errs_the_order_and_only_records_the_error_on_the_resource(
    world: World, change: str
):
    vm = world.live_vm()
    market = world.marketplace
    world.cloud.then(Outcome.RAISE)
    if change == "plan switch":
        large = market.create_plan(world.provider_owner.id, vm.offering_id, "L", PlanUnit.DAY)
        order = market.order_plan_switch(world.owner.id, vm.id, large.id)
    elif change == "limits":
        order = market.order_limit_change(world.owner.id, vm.id, {"ram": 2048})
    else:
        order = market.order_termination(world.owner.id, vm.id)
    assert order.state is OrderState.ERRED
    assert order.error_message.startswith("RuntimeError: backend crashed on ")
    resource = market.get_resource(vm.id)
    assert (resource.state, resource.plan_id, resource.limits) == (vm.state, vm.plan_id, vm.limits)
    assert resource.error_message == order.error_message


def test_a_processor_answering_neither_completed_nor_in_progress_errs_the_order(world: World):
    market, offering_id, plan_id = marketplace_with_plugin(world, Answers("all good"))
    order = market.order_resource(world.owner.id, world.project.id, offering_id, plan_id, "R")
    assert order.state is OrderState.ERRED
    assert order.error_message == (
        "processor of 'odd' returned 'all good'; expected Completed or InProgress"
    )
    assert market.get_resource(order.resource_id).state is ResourceState.ERRED


def test_an_order_whose_plugin_is_no_longer_registered_errs_when_processed(world: World):
    order = order_vm(world, held_marketplace(world))
    assert order.state is OrderState.EXECUTING
    basic_only = PluginRegistry()
    register_basic(basic_only)
    (processed,) = held_marketplace(world, basic_only).process_executing_orders()
    assert processed.id == order.id
    assert processed.state is OrderState.ERRED
    assert processed.error_message.startswith(
        "ValidationError: plugin type 'cloud' is not registered"
    )
    resource = world.marketplace.get_resource(order.resource_id)
    assert (resource.state, resource.error_message) == (
        ResourceState.ERRED,
        processed.error_message,
    )
    assert world.cloud.calls == [("validate", order.id)]


# --------------------------------------------------------------------------- processing by a worker


def test_without_immediate_processing_an_order_executes_until_a_worker_processes_it(
    world: World,
):
    held = held_marketplace(world)
    order = order_vm(world, held)
    assert order.state is OrderState.EXECUTING
    assert held.get_resource(order.resource_id).state is ResourceState.CREATING
    (processed,) = held.process_executing_orders()
    assert (processed.id, processed.state) == (order.id, OrderState.DONE)
    assert held.get_resource(order.resource_id).state is ResourceState.OK
    assert held.process_executing_orders() == []


def test_a_worker_takes_executing_orders_oldest_first_up_to_its_limit(world: World):
    held = held_marketplace(world)
    first, second, third = (order_vm(world, held) for _ in range(3))
    assert [o.id for o in held.process_executing_orders(limit=2)] == [first.id, second.id]
    assert held.get_order(third.id).state is OrderState.EXECUTING
    assert [o.id for o in held.process_executing_orders()] == [third.id]


def test_a_worker_does_not_hand_an_order_to_the_backend_twice(world: World):
    held = held_marketplace(world)
    world.cloud.then(Outcome.LATER)
    order = order_vm(world, held)
    (dispatched,) = held.process_executing_orders()
    assert (dispatched.state, dispatched.dispatched_at) == (OrderState.EXECUTING, world.clock.now())
    before = snapshot(world.storage)
    assert held.process_executing_orders() == []
    assert snapshot(world.storage) == before
    assert world.cloud.calls == [("validate", order.id), ("create", order.id)]


# --------------------------------------------------------------------------- backend callbacks


def test_creation_succeeded_records_the_backend_id_and_metadata(world: World):
    resource = world.waiting_for_backend("create")
    order = world.marketplace.resource_creation_succeeded(
        world.provider_owner.id, resource.id, backend_id="hpc-42", metadata={"host": "n1"}
    )
    assert (order.state, order.completed_at) == (OrderState.DONE, world.clock.now())
    resource = world.marketplace.get_resource(resource.id)
    assert (resource.state, resource.backend_id, dict(resource.backend_metadata)) == (
        ResourceState.OK,
        "hpc-42",
        {"host": "n1"},
    )


def test_metadata_reported_by_the_backend_is_merged_over_what_the_resource_had(world: World):
    market, provider = world.marketplace, world.provider_owner.id
    resource = world.waiting_for_backend("create")
    market.resource_creation_succeeded(provider, resource.id, metadata={"host": "n1", "rack": 3})
    change = market.order_limit_change(world.owner.id, resource.id, {"storage": 20})
    market.approve_order_as_provider(provider, change.id)
    market.resource_update_succeeded(provider, resource.id, metadata={"rack": 4, "pdu": "b"})
    assert dict(market.get_resource(resource.id).backend_metadata) == {
        "host": "n1",
        "rack": 4,
        "pdu": "b",
    }


def test_creation_failed_errs_order_and_resource(world: World):
    resource = world.waiting_for_backend("create")
    order = world.marketplace.resource_creation_failed(
        world.provider_owner.id, resource.id, "quota exceeded"
    )
    assert (order.state, order.error_message) == (OrderState.ERRED, "quota exceeded")
    resource = world.marketplace.get_resource(resource.id)
    assert (resource.state, resource.error_message) == (ResourceState.ERRED, "quota exceeded")


def test_creation_canceled_cancels_the_order_and_terminates_the_resource(world: World):
    resource = world.waiting_for_backend("create")
    order = world.marketplace.resource_creation_canceled(world.provider_owner.id, resource.id)
    assert order.state is OrderState.CANCELED
    resource = world.marketplace.get_resource(resource.id)
    assert (resource.state, resource.terminated_at) == (
        ResourceState.TERMINATED,
        world.clock.now(),
    )


def test_update_succeeded_gives_the_resource_its_new_limits_and_cost(world: World):
    resource = world.waiting_for_backend("update")
    assert resource.state is ResourceState.UPDATING
    order = world.marketplace.resource_update_succeeded(world.provider_owner.id, resource.id)
    assert order.state is OrderState.DONE
    resource = world.marketplace.get_resource(resource.id)
    # base fee 100 plus 20 GB of storage at 0.10.
    assert (resource.state, dict(resource.limits), resource.cost) == (
        ResourceState.OK,
        {"storage": 20},
        Decimal("102"),
    )


def test_update_failed_errs_order_and_resource(world: World):
    resource = world.waiting_for_backend("update")
    order = world.marketplace.resource_update_failed(world.provider_owner.id, resource.id, "full")
    assert (order.state, order.error_message) == (OrderState.ERRED, "full")
    resource = world.marketplace.get_resource(resource.id)
    assert (resource.state, resource.error_message) == (ResourceState.ERRED, "full")
    assert dict(resource.limits) == {"storage": 10}


def test_update_canceled_puts_the_resource_back_to_ok_as_it_was(world: World):
    resource = world.waiting_for_backend("update")
    order = world.marketplace.resource_update_canceled(world.provider_owner.id, resource.id)
    assert order.state is OrderState.CANCELED
    resource = world.marketplace.get_resource(resource.id)
    assert (resource.state, dict(resource.limits)) == (ResourceState.OK, {"storage": 10})


def test_deletion_succeeded_terminates_the_resource(world: World):
    resource = world.waiting_for_backend("terminate")
    assert resource.state is ResourceState.TERMINATING
    order = world.marketplace.resource_deletion_succeeded(world.provider_owner.id, resource.id)
    assert order.state is OrderState.DONE
    resource = world.marketplace.get_resource(resource.id)
    assert (resource.state, resource.terminated_at) == (
        ResourceState.TERMINATED,
        world.clock.now(),
    )


def test_deletion_failed_errs_the_order_and_keeps_the_resource_ok_with_the_error(world: World):
    resource = world.waiting_for_backend("terminate")
    order = world.marketplace.resource_deletion_failed(
        world.provider_owner.id, resource.id, "volume busy"
    )
    assert (order.state, order.error_message) == (OrderState.ERRED, "volume busy")
    resource = world.marketplace.get_resource(resource.id)
    assert (resource.state, resource.error_message) == (ResourceState.OK, "volume busy")
    assert resource.terminated_at is None


def test_deletion_canceled_puts_the_resource_back_to_ok(world: World):
    resource = world.waiting_for_backend("terminate")
    order = world.marketplace.resource_deletion_canceled(world.provider_owner.id, resource.id)
    assert order.state is OrderState.CANCELED
    resource = world.marketplace.get_resource(resource.id)
    assert (resource.state, resource.error_message) == (ResourceState.OK, "")


CALLBACKS = [
    (kind, f"{step}_{outcome}")
    for kind, step in (("create", "creation"), ("update", "update"), ("terminate", "deletion"))
    for outcome in ("succeeded", "failed", "canceled")
]


@pytest.mark.parametrize(("kind", "callback"), CALLBACKS)
def test_a_callback_delivered_twice_has_the_effect_of_one(world: World, kind: str, callback: str):
    resource = world.waiting_for_backend(kind)
    first = report(world, callback, resource.id)
    before = snapshot(world.storage)
    assert report(world, callback, resource.id) == first
    assert snapshot(world.storage) == before


@pytest.mark.parametrize(
    ("kind", "callback"),
    [
        (kind, callback)
        for kind in ("create", "update", "terminate")
        for k, callback in CALLBACKS
        if k != kind and (kind == "create" or callback != "creation_succeeded")
    ],
)
def test_a_callback_for_another_kind_of_order_is_refused(world: World, kind: str, callback: str):
    """A resource being updated or terminated was created already, so a late
    ``creation_succeeded`` repeats a report that was applied: it is answered as a duplicate
    (see above) and left out here."""
    resource = world.waiting_for_backend(kind)
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as caught:
        report(world, callback, resource.id)
    assert caught.value.code is ErrorCode.NO_EXECUTING_ORDER
    assert snapshot(world.storage) == before


@pytest.mark.parametrize(
    "callback", [callback for _, callback in CALLBACKS if callback != "creation_succeeded"]
)
def test_a_callback_without_an_executing_order_is_refused(world: World, callback: str):
    resource = world.live_basic()
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as caught:
        report(world, callback, resource.id)
    assert caught.value.code is ErrorCode.NO_EXECUTING_ORDER
    assert caught.value.fields["resource_id"] == resource.id
    assert snapshot(world.storage) == before


@pytest.mark.parametrize("actor", ["provider_owner", "offering_manager"])
def test_the_provider_side_reports_backend_outcomes(world: World, actor: str):
    resource = world.waiting_for_backend("create")
    order = report(world, "creation_succeeded", resource.id, getattr(world, actor).id)
    assert order.state is OrderState.DONE


@pytest.mark.parametrize("actor", ["owner", "project_manager", "outsider"])
@pytest.mark.parametrize(("kind", "callback"), CALLBACKS[::4])
def test_others_cannot_report_backend_outcomes(world: World, actor: str, kind: str, callback: str):
    resource = world.waiting_for_backend(kind)
    before = snapshot(world.storage)
    with pytest.raises(PermissionDeniedError) as caught:
        report(world, callback, resource.id, getattr(world, actor).id)
    assert caught.value.fields["permission"] == "order.fulfil"
    assert snapshot(world.storage) == before


# --------------------------------------------------------------------------- errors on the backend


def test_the_backend_can_report_an_ok_resource_broken(world: World):
    vm = world.live_vm()
    resource = world.marketplace.resource_erred_on_backend(
        world.provider_owner.id, vm.id, "disk lost"
    )
    assert (resource.state, resource.error_message) == (ResourceState.ERRED, "disk lost")
    event = world.events.events[-1].event
    assert (event.event_type, event.source, event.target) == ("ResourceStateChanged", "ok", "erred")


def test_the_same_backend_error_reported_twice_writes_nothing_the_second_time(world: World):
    vm = world.live_vm()
    first = world.marketplace.resource_erred_on_backend(world.provider_owner.id, vm.id, "lost")
    before = snapshot(world.storage)
    again = world.marketplace.resource_erred_on_backend(world.provider_owner.id, vm.id, "lost")
    assert again == first
    assert snapshot(world.storage) == before


@pytest.mark.parametrize("kind", ["create", "update", "terminate", "erred"])
def test_only_an_ok_resource_can_be_reported_broken(world: World, kind: str):
    if kind == "erred":
        resource = world.live_vm()
        world.marketplace.resource_erred_on_backend(world.provider_owner.id, resource.id, "lost")
    else:
        resource = world.waiting_for_backend(kind)
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.resource_erred_on_backend(world.provider_owner.id, resource.id, "fire")
    assert caught.value.code is ErrorCode.RESOURCE_NOT_READY
    assert snapshot(world.storage) == before


def test_only_the_provider_side_reports_a_resource_broken(world: World):
    vm = world.live_vm()
    before = snapshot(world.storage)
    with pytest.raises(PermissionDeniedError):
        world.marketplace.resource_erred_on_backend(world.owner.id, vm.id, "lost")
    assert snapshot(world.storage) == before


# --------------------------------------------------------------------------- a reference model

STEPS = ("create", "limits", "terminate")
CALLBACK_OF = {"create": "creation", "limits": "update", "terminate": "deletion"}
WAITING = {
    "create": ResourceState.CREATING,
    "limits": ResourceState.UPDATING,
    "terminate": ResourceState.TERMINATING,
}
READY = {
    "create": {None},
    "limits": {ResourceState.OK},
    "terminate": {ResourceState.OK, ResourceState.ERRED},
}
_O, _R = OrderState, ResourceState
FINISHED = {
    "create": {
        "succeeded": (_O.DONE, _R.OK),
        "failed": (_O.ERRED, _R.ERRED),
        "canceled": (_O.CANCELED, _R.TERMINATED),
    },
    "limits": {
        "succeeded": (_O.DONE, _R.OK),
        "failed": (_O.ERRED, _R.ERRED),
        "canceled": (_O.CANCELED, _R.OK),
    },
    "terminate": {
        "succeeded": (_O.DONE, _R.TERMINATED),
        "failed": (_O.ERRED, _R.OK),
        "canceled": (_O.CANCELED, _R.OK),
    },
}
"""How a step ends when the backend answers: (order state, resource state)."""
RAISED = {"create": _R.ERRED, "limits": None, "terminate": None}
"""The resource after a processor raised on a step (``None``: as it was)."""


def model_step(step: str, outcome: Outcome, reply: str, resource: ResourceState | None):
    """The reference: the order's and the resource's state after ``step``."""
    if outcome is Outcome.RAISE:
        return _O.ERRED, RAISED[step] or resource
    return FINISHED[step]["succeeded" if outcome is Outcome.SUCCEED else reply]


def place(world: World, step: str, offering_id: str, plan_id: str, resource_id: str | None):
    market, owner = world.marketplace, world.owner.id
    if step == "create":
        return market.order_resource(
            owner, world.project.id, offering_id, plan_id, "VM", limits={"ram": 1024}
        )
    assert resource_id is not None
    if step == "limits":
        return market.order_limit_change(owner, resource_id, {"ram": 2048})
    return market.order_termination(owner, resource_id)


answers = st.tuples(
    st.sampled_from([Outcome.SUCCEED, Outcome.LATER, Outcome.RAISE]),
    st.sampled_from(["succeeded", "failed", "canceled"]),
    st.booleans(),
)


@settings(max_examples=150)
@given(st.tuples(answers, answers, answers))
def test_orders_and_resource_end_as_the_reference_model_says(script):
    world = build_world()
    offering, plan = world.cloud_offering()
    resource_id: str | None = None
    resource_state: ResourceState | None = None
    limits = {"ram": 1024}
    expected_orders, actual_orders = [], []
    for step, (outcome, reply, twice) in zip(STEPS, script, strict=True):
        if resource_state not in READY[step]:
            with pytest.raises(ValidationError) as caught:
                place(world, step, offering.id, plan.id, resource_id)
            assert caught.value.code is ErrorCode.RESOURCE_NOT_READY
            continue
        world.cloud.then(outcome)
        order = place(world, step, offering.id, plan.id, resource_id)
        resource_id = order.resource_id
        if outcome is Outcome.LATER:
            assert order.state is OrderState.EXECUTING
            assert world.marketplace.get_resource(resource_id).state is WAITING[step]
            callback = f"{CALLBACK_OF[step]}_{reply}"
            order = report(world, callback, resource_id)
            if twice:
                before = snapshot(world.storage)
                assert report(world, callback, resource_id) == order
                assert snapshot(world.storage) == before
        order_state, resource_state = model_step(step, outcome, reply, resource_state)
        if step == "limits" and order_state is OrderState.DONE:
            limits = {"ram": 2048}
        expected_orders.append(order_state)
        actual_orders.append(world.marketplace.get_order(order.id).state)
        assert world.marketplace.get_resource(resource_id).state is resource_state
    assert actual_orders == expected_orders
    resource = world.marketplace.get_resource(resource_id)
    assert resource.state is resource_state
    assert dict(resource.limits) == limits


def test_a_report_naming_its_order_never_lands_on_a_newer_order(world: World):
    """A backend that answers late (a stale sync run) names the order it reports on."""
    market, provider = world.marketplace, world.provider_owner.id
    first = world.waiting_order("update")
    market.resource_update_succeeded(provider, first.resource_id, order_id=first.id)
    second = market.order_limit_change(world.owner.id, first.resource_id, {"storage": 30})
    market.approve_order_as_provider(provider, second.id)
    before = snapshot(world.storage)
    again = market.resource_update_succeeded(provider, first.resource_id, order_id=first.id)
    assert again.id == first.id  # the same outcome again: nothing changes
    with pytest.raises(ValidationError) as refused:
        market.resource_update_failed(provider, first.resource_id, "late", order_id=first.id)
    assert refused.value.code is ErrorCode.NO_EXECUTING_ORDER
    assert repr(first.id) in refused.value.message
    assert snapshot(world.storage) == before
    done = market.resource_update_succeeded(provider, first.resource_id, order_id=second.id)
    assert (done.id, done.state) == (second.id, OrderState.DONE)
