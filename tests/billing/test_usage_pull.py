"""Pulling usage from a plugin's backend: ``Marketplace.pull_usage``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from marketplace_core import (
    ErrorCode,
    PermissionDeniedError,
    PlanUnit,
    Resource,
    ValidationError,
)
from marketplace_core.plugins import PulledUsage, UsageRequest
from marketplace_core.testing import InstantProcessor
from tests.support import CPU, World

JANUARY = date(2026, 1, 1)


class MeteredBackend(InstantProcessor):
    """Finishes orders at once and tells the usage it was told to, per resource id."""

    def __init__(self) -> None:
        self.usage: dict[str, dict[str, Decimal]] = {}
        self.broken: set[str] = set()
        self.asked: list[tuple[str, date]] = []

    def pull_usage(self, request: UsageRequest) -> Sequence[PulledUsage]:
        self.asked.append((request.resource.id, request.month))
        if request.resource.id in self.broken:
            raise RuntimeError("accounting database unreachable")
        usage = self.usage.get(request.resource.id, {})
        return [PulledUsage(component, amount) for component, amount in usage.items()]


@pytest.fixture
def backend(world: World) -> MeteredBackend:
    metered = MeteredBackend()
    world.marketplace.plugins.register("metered", metered)
    return metered


def metered_resource(world: World) -> Resource:
    """A live resource of the world's one ``metered`` offering (made on first use)."""
    market = world.marketplace
    offerings = [o for o in market.list_offerings() if o.plugin_type == "metered"]
    if offerings:
        offering, plan = offerings[0], market.list_plans(offerings[0].id)[0]
    else:
        offering = world.new_offering(name="Metered", plugin_type="metered", components=(CPU,))
        plan = market.create_plan(
            world.provider_owner.id, offering.id, "Metered", PlanUnit.MONTH, prices={"cpu": 1}
        )
        market.activate_offering(world.staff.id, offering.id)
    order = world.order(offering_id=offering.id, plan_id=plan.id, limits={})
    return market.get_resource(order.resource_id)


def test_the_backend_answer_becomes_usage_reports(world: World, backend: MeteredBackend):
    vm = metered_resource(world)
    backend.usage[vm.id] = {"cpu": Decimal("12.5")}
    report = world.marketplace.pull_usage(world.provider_owner.id, vm.offering_id)
    assert report.month == date(2026, 1, 1)
    assert report.failed == ()
    assert [(r.resource_id, r.component_type, r.amount) for r in report.reports] == [
        (vm.id, "cpu", Decimal("12.5"))
    ]
    assert world.marketplace.current_usage(vm.id, JANUARY) == {"cpu": Decimal("12.5")}


def test_pulling_the_same_answer_twice_reports_it_once(world: World, backend: MeteredBackend):
    vm = metered_resource(world)
    backend.usage[vm.id] = {"cpu": Decimal("12.5")}
    market = world.marketplace
    market.pull_usage(world.provider_owner.id, vm.offering_id)
    backend.usage[vm.id] = {"cpu": Decimal("12.50")}  # the same amount, written otherwise
    market.pull_usage(world.provider_owner.id, vm.offering_id)
    assert len(market.list_usage_reports(vm.id, "cpu")) == 1


def test_a_new_answer_replaces_the_month_to_date_total(world: World, backend: MeteredBackend):
    vm = metered_resource(world)
    market = world.marketplace
    backend.usage[vm.id] = {"cpu": Decimal(5)}
    market.pull_usage(world.provider_owner.id, vm.offering_id)
    backend.usage[vm.id] = {"cpu": Decimal(9)}
    market.pull_usage(world.provider_owner.id, vm.offering_id)
    assert len(market.list_usage_reports(vm.id, "cpu")) == 2
    assert market.current_usage(vm.id, JANUARY) == {"cpu": Decimal(9)}


def test_a_failing_backend_is_reported_and_does_not_stop_the_others(
    world: World, backend: MeteredBackend
):
    first, second = metered_resource(world), metered_resource(world)
    backend.broken.add(first.id)
    backend.usage[second.id] = {"cpu": Decimal(3)}
    report = world.marketplace.pull_usage(world.provider_owner.id, first.offering_id)
    assert report.failed == ((first.id, "RuntimeError: accounting database unreachable"),)
    assert [r.resource_id for r in report.reports] == [second.id]


def test_a_refused_answer_is_reported_with_its_code(world: World, backend: MeteredBackend):
    vm = metered_resource(world)
    backend.usage[vm.id] = {"gpu": Decimal(1)}
    report = world.marketplace.pull_usage(world.provider_owner.id, vm.offering_id)
    ((resource_id, message),) = report.failed
    assert resource_id == vm.id
    assert message.startswith("unknown_component")
    assert world.marketplace.list_usage_reports(vm.id, "gpu") == []


def test_only_resources_that_take_reports_are_asked(world: World, backend: MeteredBackend):
    """Terminated resources take no more reports (the rule of usage reports), so they are
    not asked; the others are asked about the month given, or the current one."""
    market = world.marketplace
    kept = metered_resource(world)
    gone = metered_resource(world)
    market.order_termination(world.owner.id, gone.id)
    world.clock.set(datetime(2026, 2, 3, tzinfo=UTC))
    market.pull_usage(world.provider_owner.id, kept.offering_id, JANUARY)
    market.pull_usage(world.provider_owner.id, kept.offering_id)
    assert backend.asked == [(kept.id, JANUARY), (kept.id, date(2026, 2, 1))]


def test_an_empty_answer_reports_nothing(world: World, backend: MeteredBackend):
    vm = metered_resource(world)
    report = world.marketplace.pull_usage(world.provider_owner.id, vm.offering_id)
    assert report.reports == ()
    assert report.failed == ()


def test_a_future_month_is_refused(world: World, backend: MeteredBackend):
    vm = metered_resource(world)
    with pytest.raises(ValidationError) as refused:
        world.marketplace.pull_usage(world.provider_owner.id, vm.offering_id, date(2026, 2, 1))
    assert refused.value.code is ErrorCode.INVALID_VALUE
    assert "2026-02" in refused.value.message
    assert backend.asked == []


def test_only_those_who_report_usage_may_pull_it(world: World, backend: MeteredBackend):
    vm = metered_resource(world)
    with pytest.raises(PermissionDeniedError):
        world.marketplace.pull_usage(world.owner.id, vm.offering_id)
    assert backend.asked == []


def test_an_amount_that_is_not_money_is_reported_naming_the_component(
    world: World, backend: MeteredBackend
):
    vm = metered_resource(world)
    backend.usage[vm.id] = {"cpu": 2.5}  # type: ignore[dict-item]  # a float, by mistake
    report = world.marketplace.pull_usage(world.provider_owner.id, vm.offering_id)
    ((resource_id, message),) = report.failed
    assert resource_id == vm.id
    assert message.startswith("ValidationError: pulled usage of 'cpu' must be a Decimal")
