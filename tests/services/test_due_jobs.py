"""End dates, a provider's notice of termination, and the daily due jobs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from marketplace_core import (
    ErrorCode,
    OrderState,
    OrderType,
    PermissionDeniedError,
    ResourceState,
    ValidationError,
)
from marketplace_core.testing import Outcome
from tests.support import World, snapshot

TODAY = date(2026, 1, 15)
"""The world's first day (its clock starts at 2026-01-15 09:30 UTC)."""


def next_day(world: World) -> None:
    world.clock.advance(timedelta(days=1))


def ending_today(world: World, resource_id: str) -> None:
    world.marketplace.set_resource_end_date(world.owner.id, resource_id, TODAY)


def last_event(world: World):
    return world.events.events[-1].event


def orders_of(world: World, resource_id: str) -> list[tuple[OrderType, OrderState]]:
    return [(o.type, o.state) for o in world.marketplace.list_orders(resource_id)]


# --------------------------------------------------------------------------- end dates


def test_an_end_date_is_set_and_cleared(world: World):
    vm = world.live_vm()
    market = world.marketplace
    ending = market.set_resource_end_date(world.project_manager.id, vm.id, date(2026, 3, 31))
    assert (ending.end_date, ending.end_date_requested_by) == (
        date(2026, 3, 31),
        world.project_manager.id,
    )
    event = last_event(world)
    assert (event.event_type, event.resource_id, event.end_date, event.actor_id) == (
        "ResourceEndDateSet",
        vm.id,
        date(2026, 3, 31),
        world.project_manager.id,
    )
    cleared = market.set_resource_end_date(world.owner.id, vm.id, None)
    assert (cleared.end_date, cleared.end_date_requested_by) == (None, None)
    assert (last_event(world).event_type, last_event(world).end_date) == (
        "ResourceEndDateSet",
        None,
    )
    assert market.get_resource(vm.id) == cleared


def test_today_is_the_earliest_end_date(world: World):
    vm = world.live_vm()
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.set_resource_end_date(world.owner.id, vm.id, TODAY - timedelta(days=1))
    assert caught.value.code is ErrorCode.INVALID_VALUE
    assert caught.value.fields["field"] == "end_date"
    assert snapshot(world.storage) == before
    assert world.marketplace.set_resource_end_date(world.owner.id, vm.id, TODAY).end_date == TODAY


def test_setting_the_end_date_a_resource_already_has_writes_nothing(world: World):
    vm = world.live_vm()
    ending_today(world, vm.id)
    before = snapshot(world.storage)
    assert world.marketplace.set_resource_end_date(world.owner.id, vm.id, TODAY).end_date == TODAY
    assert snapshot(world.storage) == before


def test_a_terminated_resource_takes_no_end_date(world: World):
    vm = world.live_vm()
    world.marketplace.order_termination(world.owner.id, vm.id)
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.set_resource_end_date(world.owner.id, vm.id, date(2026, 3, 31))
    assert caught.value.code is ErrorCode.RESOURCE_NOT_READY
    assert snapshot(world.storage) == before


@pytest.mark.parametrize("actor", ["owner", "project_manager"])
def test_owners_and_project_managers_set_end_dates(world: World, actor: str):
    vm = world.live_vm()
    user = getattr(world, actor)
    resource = world.marketplace.set_resource_end_date(user.id, vm.id, date(2026, 3, 31))
    assert (resource.end_date, resource.end_date_requested_by) == (date(2026, 3, 31), user.id)


@pytest.mark.parametrize(
    "actor", ["project_admin", "project_member", "provider_owner", "offering_manager", "outsider"]
)
def test_others_do_not_set_end_dates(world: World, actor: str):
    vm = world.live_vm()
    before = snapshot(world.storage)
    with pytest.raises(PermissionDeniedError) as caught:
        world.marketplace.set_resource_end_date(getattr(world, actor).id, vm.id, date(2026, 3, 31))
    assert caught.value.fields["permission"] == "resource.set_end_date"
    assert snapshot(world.storage) == before


# --------------------------------------------------------------------------- the provider's notice


def test_a_provider_schedules_a_termination_seven_days_ahead_or_more(world: World):
    basic = world.live_basic()
    market = world.marketplace
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as caught:
        market.schedule_termination(world.provider_owner.id, basic.id, TODAY + timedelta(days=6))
    assert caught.value.code is ErrorCode.END_DATE_TOO_SOON
    assert caught.value.fields["earliest"] == "2026-01-22"
    assert snapshot(world.storage) == before
    scheduled = market.schedule_termination(
        world.provider_owner.id, basic.id, TODAY + timedelta(days=7)
    )
    assert (scheduled.end_date, scheduled.end_date_requested_by) == (
        date(2026, 1, 22),
        world.provider_owner.id,
    )
    assert last_event(world).event_type == "ResourceEndDateSet"


@pytest.mark.parametrize("actor", ["owner", "project_manager", "offering_manager", "outsider"])
def test_only_the_providers_owners_schedule_a_termination(world: World, actor: str):
    basic = world.live_basic()
    before = snapshot(world.storage)
    with pytest.raises(PermissionDeniedError) as caught:
        world.marketplace.schedule_termination(getattr(world, actor).id, basic.id, date(2026, 3, 1))
    assert caught.value.fields["permission"] == "resource.set_end_date"
    assert snapshot(world.storage) == before


def test_a_terminated_resource_cannot_be_scheduled_for_termination(world: World):
    vm = world.live_vm()
    world.marketplace.order_termination(world.owner.id, vm.id)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.schedule_termination(world.provider_owner.id, vm.id, date(2026, 3, 1))
    assert caught.value.code is ErrorCode.RESOURCE_NOT_READY


def test_a_scheduled_termination_happens_once_its_day_has_passed(world: World):
    vm = world.live_vm()
    world.marketplace.schedule_termination(world.provider_owner.id, vm.id, date(2026, 1, 22))
    world.clock.set(world.clock.now().replace(day=22, hour=23))
    assert world.marketplace.run_due_jobs().terminations == ()
    world.clock.set(world.clock.now().replace(day=23, hour=0))
    assert len(world.marketplace.run_due_jobs().terminations) == 1
    assert world.marketplace.get_resource(vm.id).state is ResourceState.TERMINATED


# --------------------------------------------------------------------------- due resources


def test_a_resource_lives_through_its_end_date(world: World):
    vm = world.live_vm()
    ending_today(world, vm.id)
    world.clock.set(world.clock.now().replace(hour=23, minute=59))
    before = snapshot(world.storage)
    report = world.marketplace.run_due_jobs()
    assert (report.terminations, report.released, report.skipped) == ((), (), ())
    assert snapshot(world.storage) == before


def test_the_system_terminates_a_cloud_resource_the_day_after_its_end_date(world: World):
    vm = world.live_vm()
    ending_today(world, vm.id)
    next_day(world)
    report = world.marketplace.run_due_jobs()
    (order_id,) = report.terminations
    order = world.marketplace.get_order(order_id)
    assert (order.type, order.resource_id, order.created_by) == (OrderType.TERMINATE, vm.id, None)
    assert order.attributes["reason"] == "end date 2026-01-15 passed"
    for review in (order.consumer_review, order.provider_review):
        assert review is not None
        assert (review.reviewer_id, review.automatic, review.at) == (None, True, world.clock.now())
    assert order.state is OrderState.DONE
    resource = world.marketplace.get_resource(vm.id)
    assert (resource.state, resource.terminated_at) == (ResourceState.TERMINATED, world.clock.now())


def test_a_due_basic_resource_waits_for_the_provider_to_remove_it(world: World):
    basic = world.live_basic()
    ending_today(world, basic.id)
    next_day(world)
    (order_id,) = world.marketplace.run_due_jobs().terminations
    order = world.marketplace.get_order(order_id)
    assert order.created_by is None
    assert (order.state, order.dispatched_at) == (OrderState.EXECUTING, world.clock.now())
    assert world.marketplace.get_resource(basic.id).state is ResourceState.TERMINATING
    world.marketplace.resource_deletion_succeeded(world.provider_owner.id, basic.id)
    assert world.marketplace.get_resource(basic.id).state is ResourceState.TERMINATED


def test_every_live_resource_of_an_ended_project_is_terminated(world: World):
    market = world.marketplace
    vm, basic = world.live_vm(), world.live_basic()
    offering, plan = world.cloud_offering()
    world.cloud.then(Outcome.RAISE)
    erred = world.order(offering_id=offering.id, plan_id=plan.id, limits={"ram": 1024})
    gone = world.live_vm()
    market.order_termination(world.owner.id, gone.id)
    pending = world.order()
    market.update_project(world.owner.id, world.project.id, end_date=TODAY)
    assert market.run_due_jobs().terminations == ()
    next_day(world)
    report = market.run_due_jobs()
    assert report.skipped == ()
    placed = [market.get_order(order_id) for order_id in report.terminations]
    assert sorted(order.resource_id for order in placed) == sorted(
        [vm.id, basic.id, erred.resource_id]
    )
    assert {order.attributes["reason"] for order in placed} == {"project ended on 2026-01-15"}
    states = {r.id: r.state for r in market.list_resources(world.project.id)}
    assert states == {
        vm.id: ResourceState.TERMINATED,
        basic.id: ResourceState.TERMINATING,
        erred.resource_id: ResourceState.TERMINATED,
        gone.id: ResourceState.TERMINATED,
        pending.resource_id: ResourceState.TERMINATED,
    }
    assert orders_of(world, gone.id) == [
        (OrderType.CREATE, OrderState.DONE),
        (OrderType.TERMINATE, OrderState.DONE),
    ]


@pytest.mark.parametrize(
    ("actor", "waiting_in"),
    [("owner", OrderState.PENDING_PROVIDER), ("project_admin", OrderState.PENDING_CONSUMER)],
)
def test_the_pending_orders_of_a_due_resource_are_canceled_first(
    world: World, actor: str, waiting_in: OrderState
):
    basic = world.live_basic()
    change = world.marketplace.order_limit_change(
        getattr(world, actor).id, basic.id, {"storage": 20}
    )
    assert change.state is waiting_in
    ending_today(world, basic.id)
    next_day(world)
    assert len(world.marketplace.run_due_jobs().terminations) == 1
    assert orders_of(world, basic.id) == [
        (OrderType.CREATE, OrderState.DONE),
        (OrderType.UPDATE, OrderState.CANCELED),
        (OrderType.TERMINATE, OrderState.EXECUTING),
    ]
    (cancel,) = [
        recorded.event
        for recorded in world.events.events
        if recorded.event.event_type == "OrderStateChanged"
        and recorded.event.order_id == change.id
        and recorded.event.target == "canceled"
    ]
    assert cancel.actor_id is None


def test_a_due_resource_whose_create_order_is_pending_ends_through_the_cancel(world: World):
    order = world.order(end_date=TODAY)
    assert order.state is OrderState.PENDING_PROVIDER
    next_day(world)
    report = world.marketplace.run_due_jobs()
    assert (report.terminations, report.skipped) == ((), ())
    assert orders_of(world, order.resource_id) == [(OrderType.CREATE, OrderState.CANCELED)]
    resource = world.marketplace.get_resource(order.resource_id)
    assert (resource.state, resource.terminated_at) == (
        ResourceState.TERMINATED,
        world.clock.now(),
    )


def test_a_due_resource_with_an_executing_order_waits_for_a_later_run(world: World):
    market = world.marketplace
    vm = world.live_vm()
    world.cloud.then(Outcome.LATER)
    market.order_limit_change(world.owner.id, vm.id, {"ram": 2048})
    ending_today(world, vm.id)
    next_day(world)
    before = snapshot(world.storage)
    report = market.run_due_jobs()
    assert report.terminations == ()
    assert report.skipped == ((vm.id, "order_in_progress"),)
    assert snapshot(world.storage) == before
    market.resource_update_succeeded(world.provider_owner.id, vm.id)
    next_day(world)
    report = market.run_due_jobs()
    assert (len(report.terminations), report.skipped) == (1, ())
    assert market.get_resource(vm.id).state is ResourceState.TERMINATED


# ------------------------------------------------------------------- projects starting later


def test_orders_wait_for_their_project_to_start_and_are_released_on_its_first_day(world: World):
    market = world.marketplace
    market.update_project(world.owner.id, world.project.id, start_date=date(2026, 1, 20))
    offering, plan = world.cloud_offering()
    basic = world.order()
    vm = world.order(offering_id=offering.id, plan_id=plan.id, limits={"ram": 1024})
    assert (basic.state, vm.state) == (OrderState.PENDING_PROJECT, OrderState.PENDING_PROJECT)
    world.clock.set(world.clock.now().replace(day=19, hour=23))
    before = snapshot(world.storage)
    assert market.run_due_jobs().released == ()
    assert snapshot(world.storage) == before
    world.clock.set(world.clock.now().replace(day=20, hour=0))
    assert market.run_due_jobs().released == (basic.id, vm.id)
    assert market.get_order(basic.id).state is OrderState.PENDING_PROVIDER
    assert market.get_order(vm.id).state is OrderState.DONE
    assert market.get_resource(vm.resource_id).state is ResourceState.OK
    assert market.get_resource(basic.resource_id).state is ResourceState.CREATING


def test_an_order_whose_project_ended_before_the_jobs_ran_is_canceled_not_released(
    world: World,
):
    market = world.marketplace
    market.update_project(
        world.owner.id, world.project.id, start_date=date(2026, 1, 20), end_date=date(2026, 1, 20)
    )
    order = world.order()
    world.clock.set(world.clock.now().replace(day=21))
    report = market.run_due_jobs()
    assert (report.terminations, report.released) == ((), ())
    assert market.get_order(order.id).state is OrderState.CANCELED
    assert market.get_resource(order.resource_id).state is ResourceState.TERMINATED


# --------------------------------------------------------------------------- running again


def test_running_the_due_jobs_again_the_same_day_does_nothing(world: World):
    market = world.marketplace
    vm, basic = world.live_vm(), world.live_basic()
    ending_today(world, vm.id)
    ending_today(world, basic.id)
    market.update_project(world.owner.id, world.project.id, start_date=date(2026, 1, 16))
    waiting = world.order()
    next_day(world)
    first = market.run_due_jobs()
    assert (len(first.terminations), first.released) == (2, (waiting.id,))
    before = snapshot(world.storage)
    again = market.run_due_jobs()
    assert (again.terminations, again.released) == ((), ())
    assert snapshot(world.storage) == before
