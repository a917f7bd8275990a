"""Usage reports, by example: what a report does to the month's usage item, idempotency,
and every refusal (each leaves storage exactly as it was).

The world starts on 2026-01-15 09:30 UTC; ``world.live_basic()`` bills ``cpu`` usage at
0.05 per hour.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from marketplace_core import (
    BillingType,
    ConflictError,
    ErrorCode,
    InvoiceItem,
    InvoiceState,
    ItemKind,
    LimitPeriod,
    MarketplaceError,
    OfferingComponent,
    PermissionDeniedError,
    PlanUnit,
    UsageLine,
    UsageReport,
    ValidationError,
)
from tests.support import World, snapshot

JAN = date(2026, 1, 1)
FEB = date(2026, 2, 1)
MAR = date(2026, 3, 1)


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def report(
    world: World,
    resource_id: str,
    amount: Any,
    key: str,
    *,
    component: str = "cpu",
    month: date | None = None,
    actor_id: str | None = None,
    description: str = "",
) -> UsageReport:
    return world.marketplace.report_usage(
        actor_id or world.provider_owner.id,
        resource_id,
        component,
        amount,
        idempotency_key=key,
        month=month,
        description=description,
    )


def usage_items(
    world: World, resource_id: str, month: date, component: str = "cpu"
) -> list[InvoiceItem]:
    return [
        item
        for item in world.marketplace.list_resource_items(resource_id)
        if item.kind is ItemKind.USAGE and item.component_type == component and item.month == month
    ]


def refused(
    world: World, code: ErrorCode, family: type[MarketplaceError], attempt: Callable[[], object]
) -> None:
    """``attempt`` raises ``code`` from ``family`` and writes nothing at all."""
    before = snapshot(world.storage)
    assert {"invoices", "invoice_items", "usage_reports", "credits", "outbox"} <= before.keys()
    with pytest.raises(family) as caught:
        attempt()
    assert caught.value.code is code
    assert snapshot(world.storage) == before


def capped_offering(world: World, period: LimitPeriod, cap: int) -> str:
    """A live resource of an offering whose ``gpu`` usage is capped at ``cap`` per ``period``
    (priced 1 per hour); returns its id."""
    gpu = OfferingComponent(
        "gpu", "GPU hours", BillingType.USAGE, limit_period=period, limit_amount=cap
    )
    market = world.marketplace
    offering = world.new_offering(name="GPUs", plugin_type="cloud", components=(gpu,))
    plan = market.create_plan(
        world.provider_owner.id, offering.id, "Per hour", PlanUnit.DAY, prices={"gpu": "1"}
    )
    market.activate_offering(world.staff.id, offering.id)
    order = world.order(offering_id=offering.id, plan_id=plan.id, limits={})
    return order.resource_id


# --------------------------------------------------------------------------- accepted


def test_a_later_report_replaces_the_months_value(world: World):
    resource = world.live_basic()
    first = report(world, resource.id, 10, "r1")
    assert (first.amount, first.month, first.reported_by) == (
        Decimal(10),
        JAN,
        world.provider_owner.id,
    )
    # 10 hours x 0.05 = 0.50.
    (item,) = usage_items(world, resource.id, JAN)
    assert (item.quantity, item.price) == (Decimal(10), Decimal("0.50"))

    report(world, resource.id, "4", "r2")
    # Replaced, not added: 4 x 0.05 = 0.20 (not 14 x 0.05 = 0.70), still one item.
    (item,) = usage_items(world, resource.id, JAN)
    assert (item.quantity, item.price) == (Decimal(4), Decimal("0.20"))
    assert world.marketplace.current_usage(resource.id, JAN) == {"cpu": Decimal(4)}
    reports = world.marketplace.list_usage_reports(resource.id, "cpu")
    assert [r.amount for r in reports] == [Decimal(10), Decimal(4)]


def test_the_same_key_with_the_same_content_is_a_no_op_returning_the_first_report(world: World):
    resource = world.live_basic()
    first = report(world, resource.id, 10, "once", description="day one")
    before = snapshot(world.storage)
    world.clock.set(at(1, 16))
    again = report(world, resource.id, Decimal("10.0"), "once", description="day one")
    assert again == first  # the stored report, with its id and time, not a new one
    assert snapshot(world.storage) == before


def test_the_same_key_with_other_content_is_refused(world: World):
    resource = world.live_basic()
    report(world, resource.id, 10, "once")
    refused(
        world,
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        ConflictError,
        lambda: report(world, resource.id, 11, "once"),
    )
    refused(
        world,
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        ConflictError,
        lambda: report(world, resource.id, 10, "once", description="changed"),
    )
    # The value stays the first report's: 10 x 0.05 = 0.50.
    (item,) = usage_items(world, resource.id, JAN)
    assert item.price == Decimal("0.50")


def test_a_limit_component_takes_reports_without_a_usage_item(world: World):
    resource = world.live_basic()
    report(world, resource.id, 7, "s1", component="storage")
    assert world.marketplace.current_usage(resource.id, JAN) == {"storage": Decimal(7)}
    assert [
        i for i in world.marketplace.list_resource_items(resource.id) if i.kind is ItemKind.USAGE
    ] == []


@pytest.mark.parametrize("who", ["provider_owner", "offering_manager"])
def test_the_provider_side_may_report(world: World, who: str):
    resource = world.live_basic()
    accepted = report(world, resource.id, 3, "k", actor_id=getattr(world, who).id)
    assert accepted.reported_by == getattr(world, who).id
    # 3 x 0.05 = 0.15.
    assert [i.price for i in usage_items(world, resource.id, JAN)] == [Decimal("0.15")]


def test_a_batch_is_accepted_whole(world: World):
    resource = world.live_basic()
    accepted = world.marketplace.report_usages(
        world.provider_owner.id,
        [
            UsageLine(resource.id, "cpu", 20, "b1"),
            UsageLine(resource.id, "storage", 3, "b2"),
        ],
    )
    assert [(r.component_type, r.amount) for r in accepted] == [("cpu", 20), ("storage", 3)]
    # 20 x 0.05 = 1.00.
    assert [i.price for i in usage_items(world, resource.id, JAN)] == [Decimal("1.00")]


def test_a_late_report_for_last_month_updates_last_months_item(world: World):
    resource = world.live_basic()
    report(world, resource.id, 10, "jan-1")
    world.clock.set(at(2, 3, 12))  # February, before the February run
    report(world, resource.id, 30, "jan-2", month=JAN)
    # January's item now bills 30 x 0.05 = 1.50; nothing is reported for February.
    (january,) = usage_items(world, resource.id, JAN)
    assert (january.quantity, january.price) == (Decimal(30), Decimal("1.50"))
    assert usage_items(world, resource.id, FEB) == []

    # January's invoice is issued with it: 55.00 + 0.55 + 50.00 + 1.50 = 107.05.
    world.marketplace.run_billing()
    invoice = world.marketplace.find_invoice(world.consumer.id, JAN)
    assert invoice is not None
    assert invoice.state is InvoiceState.CREATED
    assert invoice.totals is not None
    assert invoice.totals.price == Decimal("107.05")


def test_usage_after_a_plan_switch_is_billed_on_a_second_item_at_the_new_price(world: World):
    vm = world.live_vm()  # cpu at 0.02 per hour
    larger = world.marketplace.create_plan(
        world.provider_owner.id, vm.offering_id, "Large", PlanUnit.DAY, prices={"cpu": "0.03"}
    )
    report(world, vm.id, 10, "before")
    world.clock.set(at(1, 20, 14))
    world.marketplace.order_plan_switch(world.owner.id, vm.id, larger.id)
    (closed,) = usage_items(world, vm.id, JAN)
    assert (closed.open, closed.end) == (False, at(1, 20, 14))

    world.clock.set(at(1, 25))
    report(world, vm.id, 25, "after")
    first, second = usage_items(world, vm.id, JAN)
    # First item, on the old plan: 10 x 0.02 = 0.20, unchanged.
    assert (first.plan_id, first.quantity, first.price) == (
        vm.plan_id,
        Decimal(10),
        Decimal("0.20"),
    )
    # Second item: month-to-date 25 - 10 already billed = 15 x 0.03 = 0.45.
    assert (second.plan_id, second.quantity, second.price) == (
        larger.id,
        Decimal(15),
        Decimal("0.45"),
    )
    assert (second.start, second.open) == (at(1, 20, 14), True)

    # A total below the 10 the earlier plan billed is refused, with nothing written.
    refused(
        world,
        ErrorCode.USAGE_BELOW_BILLED,
        ValidationError,
        lambda: report(world, vm.id, 8, "too-low"),
    )
    # Exactly the 10 already billed is accepted: the second item bills 0.
    report(world, vm.id, 10, "equal")
    assert [i.price for i in usage_items(world, vm.id, JAN)] == [Decimal("0.20"), Decimal("0.00")]


def test_resubmitting_for_the_same_month_does_not_count_twice_against_the_cap(world: World):
    resource_id = capped_offering(world, LimitPeriod.MONTH, 7)
    report(world, resource_id, 5, "g1", component="gpu")
    # 5 then 7 in the same month: 7 replaces 5, so the month holds 7 <= 7, accepted.
    report(world, resource_id, 7, "g2", component="gpu")
    assert world.marketplace.current_usage(resource_id, JAN) == {"gpu": Decimal(7)}
    # 7.01 > 7 is refused.
    refused(
        world,
        ErrorCode.USAGE_CAP_EXCEEDED,
        ValidationError,
        lambda: report(world, resource_id, "7.01", "g3", component="gpu"),
    )


def test_a_quarter_cap_counts_the_other_months_of_the_quarter(world: World):
    resource_id = capped_offering(world, LimitPeriod.QUARTER, 10)
    report(world, resource_id, 6, "jan", component="gpu")
    world.clock.set(at(2, 10))
    # 6 in January + 5 in February = 11 > 10: refused; 6 + 4 = 10: accepted.
    refused(
        world,
        ErrorCode.USAGE_CAP_EXCEEDED,
        ValidationError,
        lambda: report(world, resource_id, 5, "feb-5", component="gpu"),
    )
    report(world, resource_id, 4, "feb-4", component="gpu")
    # A new quarter starts with nothing used: 10 in April is fine.
    world.clock.set(datetime(2026, 4, 2, tzinfo=UTC))
    report(world, resource_id, 10, "apr", component="gpu")


@pytest.mark.parametrize("kind", ["update", "terminate"])
def test_a_resource_being_updated_or_terminated_still_takes_reports(world: World, kind: str):
    resource = world.waiting_for_backend(kind)
    assert resource.state.value in {"updating", "terminating"}
    report(world, resource.id, 6, "k")
    # 6 x 0.05 = 0.30.
    assert [i.price for i in usage_items(world, resource.id, JAN)] == [Decimal("0.30")]


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize(
    "amount",
    [
        -1,
        "-0.01",
        Decimal("-3"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        "NaN",
        "Infinity",
        2.5,
        0.0,
        True,
        None,
    ],
    ids=repr,
)
def test_amounts_that_are_not_finite_non_negative_decimals_are_refused(world: World, amount: Any):
    resource = world.live_basic()
    refused(
        world,
        ErrorCode.INVALID_VALUE,
        ValidationError,
        lambda: report(world, resource.id, amount, "k"),
    )


@pytest.mark.parametrize("month", [date(2026, 1, 15), "2026-01-01"], ids=str)
def test_a_month_that_is_not_a_first_day_is_refused(world: World, month: Any):
    resource = world.live_basic()
    refused(
        world,
        ErrorCode.INVALID_VALUE,
        ValidationError,
        lambda: report(world, resource.id, 1, "k", month=month),
    )


def test_an_unknown_component_is_refused(world: World):
    resource = world.live_basic()
    refused(
        world,
        ErrorCode.UNKNOWN_COMPONENT,
        ValidationError,
        lambda: report(world, resource.id, 1, "k", component="gpu"),
    )


@pytest.mark.parametrize("component", ["base", "setup"])
def test_fixed_and_one_time_components_are_not_reportable(world: World, component: str):
    resource = world.live_basic()
    refused(
        world,
        ErrorCode.COMPONENT_NOT_REPORTABLE,
        ValidationError,
        lambda: report(world, resource.id, 1, "k", component=component),
    )


def test_a_resource_being_created_is_not_reportable(world: World):
    order = world.order()  # waits for the provider: the resource is still being created
    refused(
        world,
        ErrorCode.RESOURCE_NOT_REPORTABLE,
        ValidationError,
        lambda: report(world, order.resource_id, 1, "k"),
    )


def test_a_terminated_resource_is_not_reportable(world: World):
    vm = world.live_vm()
    world.clock.set(at(1, 20))
    world.marketplace.order_termination(world.owner.id, vm.id)
    assert world.marketplace.get_resource(vm.id).terminated_at is not None
    refused(
        world,
        ErrorCode.RESOURCE_NOT_REPORTABLE,
        ValidationError,
        lambda: report(world, vm.id, 1, "k", month=JAN),
    )


@pytest.mark.parametrize("month", [date(2025, 12, 1), FEB, date(2027, 1, 1)], ids=str)
def test_a_month_outside_the_live_time_is_refused(world: World, month: date):
    resource = world.live_basic()  # activated in January 2026, and it is January now
    refused(
        world,
        ErrorCode.PERIOD_OUTSIDE_LIVE_TIME,
        ValidationError,
        lambda: report(world, resource.id, 1, "k", month=month),
    )


def test_a_month_issued_by_the_billing_run_is_closed(world: World):
    resource = world.live_basic()
    world.clock.set(at(2, 1, 0, 30))
    world.marketplace.run_billing()
    refused(
        world,
        ErrorCode.PERIOD_CLOSED,
        ValidationError,
        lambda: report(world, resource.id, 1, "k", month=JAN),
    )
    # February, still open, takes reports: 2 x 0.05 = 0.10.
    report(world, resource.id, 2, "k2")
    assert [i.price for i in usage_items(world, resource.id, FEB)] == [Decimal("0.10")]


@pytest.mark.parametrize(
    "who", ["owner", "project_manager", "project_admin", "project_member", "outsider"]
)
def test_the_consumer_side_and_outsiders_may_not_report(world: World, who: str):
    resource = world.live_basic()
    refused(
        world,
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
        lambda: report(world, resource.id, 1, "k", actor_id=getattr(world, who).id),
    )


def test_a_batch_with_one_bad_line_writes_nothing(world: World):
    resource = world.live_basic()
    report(world, resource.id, 10, "earlier")
    lines = [
        UsageLine(resource.id, "cpu", 20, "good"),
        UsageLine(resource.id, "storage", 3, "good-too"),
        UsageLine(resource.id, "cpu", -1, "bad"),
    ]
    refused(
        world,
        ErrorCode.INVALID_VALUE,
        ValidationError,
        lambda: world.marketplace.report_usages(world.provider_owner.id, lines),
    )
    # The good lines were not kept either: the item still bills 10 x 0.05 = 0.50.
    assert [i.price for i in usage_items(world, resource.id, JAN)] == [Decimal("0.50")]
    assert world.marketplace.current_usage(resource.id, JAN) == {"cpu": Decimal(10)}
