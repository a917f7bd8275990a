"""What is checked again after placement: at each approval, on retry, and by the due jobs."""

from __future__ import annotations

from datetime import date

import pytest

from marketplace_core import ErrorCode, OrderState, ResourceState, ValidationError
from marketplace_core.testing import Outcome
from tests.support import World, snapshot


def test_a_termination_waiting_for_review_can_be_approved_in_a_blocked_organization(
    world: World,
):
    resource = world.live_basic()
    order = world.marketplace.order_termination(world.project_admin.id, resource.id)
    assert order.state is OrderState.PENDING_CONSUMER
    world.marketplace.block_organization(world.staff.id, world.consumer.id)
    approved = world.marketplace.approve_order_as_consumer(world.owner.id, order.id)
    assert approved.state is OrderState.PENDING_PROVIDER


def test_the_provider_cannot_approve_a_create_order_of_a_blocked_consumer(world: World):
    order = world.order()
    world.marketplace.block_organization(world.staff.id, world.consumer.id)
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.approve_order_as_provider(world.provider_owner.id, order.id)
    assert caught.value.code is ErrorCode.ORGANIZATION_BLOCKED
    assert snapshot(world.storage) == before


def test_the_provider_cannot_approve_a_create_order_once_the_project_ended(world: World):
    world.marketplace.update_project(world.owner.id, world.project.id, end_date=date(2026, 1, 20))
    order = world.order()
    world.clock.set(world.clock.now().replace(day=21))
    with pytest.raises(ValidationError) as caught:
        world.marketplace.approve_order_as_provider(world.provider_owner.id, order.id)
    assert caught.value.code is ErrorCode.PROJECT_ENDED


def test_a_blocked_provider_takes_no_plan_switches_or_limit_changes(world: World):
    vm = world.live_vm()
    world.marketplace.block_organization(world.staff.id, world.provider.id)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.order_limit_change(world.owner.id, vm.id, {"ram": 2048})
    assert caught.value.code is ErrorCode.ORGANIZATION_BLOCKED


def test_a_retried_limit_change_that_a_newer_one_overtook_is_refused(world: World):
    vm = world.live_vm()
    world.cloud.then(Outcome.RAISE)
    erred = world.marketplace.order_limit_change(world.owner.id, vm.id, {"ram": 2048})
    world.marketplace.order_limit_change(world.owner.id, vm.id, {"ram": 4096})
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.retry_order(world.owner.id, erred.id)
    assert caught.value.code is ErrorCode.ORDER_OUTDATED
    assert snapshot(world.storage) == before
    assert world.marketplace.get_resource(vm.id).limits == {"ram": 4096}


def test_a_plan_switch_to_a_plan_archived_meanwhile_cannot_be_retried(world: World):
    vm = world.live_vm()
    large = world.marketplace.create_plan(world.provider_owner.id, vm.offering_id, "L", "day")
    world.cloud.then(Outcome.RAISE)
    erred = world.marketplace.order_plan_switch(world.owner.id, vm.id, large.id)
    world.marketplace.archive_plan(world.provider_owner.id, large.id)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.retry_order(world.owner.id, erred.id)
    assert caught.value.code is ErrorCode.PLAN_ARCHIVED


def test_a_component_with_a_minimum_must_be_given_a_limit(world: World):
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as caught:
        world.order(limits={})
    assert caught.value.code is ErrorCode.LIMIT_OUT_OF_RANGE
    assert caught.value.fields["component"] == "storage"
    assert snapshot(world.storage) == before


def test_limits_must_be_a_mapping(world: World):
    with pytest.raises(ValidationError) as caught:
        world.order(limits=[])
    assert caught.value.fields["field"] == "limits"


def test_bringing_a_provider_notice_forward_keeps_it_a_provider_notice(world: World):
    vm = world.live_vm()
    market = world.marketplace
    market.schedule_termination(world.provider_owner.id, vm.id, date(2026, 2, 1))
    earlier = market.set_resource_end_date(world.owner.id, vm.id, date(2026, 1, 31))
    assert (earlier.end_date, earlier.end_date_by_provider) == (date(2026, 1, 31), True)
    with pytest.raises(ValidationError) as caught:
        market.set_resource_end_date(world.owner.id, vm.id, None)
    assert caught.value.code is ErrorCode.END_DATE_SET_BY_PROVIDER


def test_a_termination_already_under_way_is_not_reported_as_skipped(world: World):
    resource = world.live_basic()
    market = world.marketplace
    market.set_resource_end_date(world.owner.id, resource.id, date(2026, 1, 20))
    world.clock.set(world.clock.now().replace(day=21))
    first = market.run_due_jobs()
    assert len(first.terminations) == 1
    assert market.get_resource(resource.id).state is ResourceState.TERMINATING
    second = market.run_due_jobs()
    assert (second.terminations, second.skipped) == ((), ())


def test_open_plan_switches_count_against_the_target_plans_capacity(world: World):
    market = world.marketplace
    small = market.create_plan(
        world.provider_owner.id, world.offering.id, "Small", "month", max_amount=1
    )
    first, second = world.live_basic(), world.live_basic()
    market.order_plan_switch(world.owner.id, first.id, small.id)
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as caught:
        market.order_plan_switch(world.owner.id, second.id, small.id)
    assert caught.value.code is ErrorCode.PLAN_CAPACITY_REACHED
    assert snapshot(world.storage) == before


def test_open_limit_changes_count_against_the_period_amount(world: World):
    market = world.marketplace
    resources = [world.live_basic() for _ in range(3)]
    for resource in resources[:2]:  # each asks for 990 of the project's 2000 a month
        market.order_limit_change(world.owner.id, resource.id, {"storage": 990})
    with pytest.raises(ValidationError) as caught:
        market.order_limit_change(world.owner.id, resources[2].id, {"storage": 100})
    assert caught.value.code is ErrorCode.LIMIT_PERIOD_AMOUNT_EXCEEDED
    assert caught.value.fields["used"] == 1980


def test_an_erred_create_order_is_not_retried_once_its_resource_is_ok_again(world: World):
    offering, plan = world.cloud_offering()
    world.cloud.then(Outcome.RAISE)
    erred = world.order(offering_id=offering.id, plan_id=plan.id, limits={"ram": 1024})
    world.cloud.then(Outcome.LATER)
    market = world.marketplace
    market.order_termination(world.owner.id, erred.resource_id)
    market.resource_deletion_canceled(world.provider_owner.id, erred.resource_id)
    assert market.get_resource(erred.resource_id).state is ResourceState.OK
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as caught:
        market.retry_order(world.owner.id, erred.id)
    assert caught.value.code is ErrorCode.RESOURCE_NOT_READY
    assert snapshot(world.storage) == before


def test_a_retried_plan_switch_does_not_undo_a_newer_limit_change(world: World):
    vm = world.live_vm()
    market = world.marketplace
    large = market.create_plan(world.provider_owner.id, vm.offering_id, "L", "day")
    world.cloud.then(Outcome.RAISE)
    erred = market.order_plan_switch(world.owner.id, vm.id, large.id)
    market.order_limit_change(world.owner.id, vm.id, {"ram": 2048})
    with pytest.raises(ValidationError) as caught:
        market.retry_order(world.owner.id, erred.id)
    assert caught.value.code is ErrorCode.ORDER_OUTDATED
    assert market.get_resource(vm.id).limits == {"ram": 2048}
