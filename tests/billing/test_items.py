"""Invoice items, by worked example: every billing type, every plan unit, and what plan
switches, limit changes, termination, the billing run and scheduled prices do to them.

The world starts on 2026-01-15 09:30 UTC. Calendar facts used below: January and March have
31 days, February 2026 has 28 (16-28 is its second half: 13 days), the first quarter has
31 + 28 + 31 = 90 days, and 2026 has 365 days. Each expected number is worked out by hand in
the comment next to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from marketplace_core import (
    BillingType,
    InvoiceItem,
    InvoiceState,
    ItemKind,
    LimitPeriod,
    Offering,
    OfferingComponent,
    Plan,
    PlanUnit,
    Resource,
)
from tests.support import World

T = TypeVar("T")

JAN = date(2026, 1, 1)
FEB = date(2026, 2, 1)
MAR = date(2026, 3, 1)
APR = date(2026, 4, 1)

BASE = OfferingComponent("base", "Base fee", BillingType.FIXED)
CORES = OfferingComponent("cores", "Cores", BillingType.LIMIT)
CPU = OfferingComponent("cpu", "CPU hours", BillingType.USAGE)
MIGRATION = OfferingComponent("migration", "Migration fee", BillingType.ON_PLAN_SWITCH)
LICENCES_QUARTER = OfferingComponent(
    "licences", "Licences", BillingType.LIMIT, limit_period=LimitPeriod.QUARTER
)
SEATS_ANNUAL = OfferingComponent(
    "seats", "Seats", BillingType.LIMIT, limit_period=LimitPeriod.ANNUAL
)
TOKENS_TOTAL = OfferingComponent(
    "tokens", "Token packs", BillingType.LIMIT, limit_period=LimitPeriod.TOTAL
)


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def offering_with(
    world: World,
    *components: OfferingComponent,
    unit: PlanUnit,
    prices: dict[str, Any],
    amounts: dict[str, int] | None = None,
) -> tuple[Offering, Plan]:
    """An active offering of the ``cloud`` plugin (orders finish at once) with one plan."""
    market = world.marketplace
    offering = world.new_offering(name="Custom", plugin_type="cloud", components=components)
    plan = market.create_plan(
        world.provider_owner.id, offering.id, "First", unit, prices=prices, amounts=amounts
    )
    market.activate_offering(world.staff.id, offering.id)
    return offering, plan


def another_plan(world: World, offering: Offering, unit: PlanUnit, prices: dict[str, Any]) -> Plan:
    return world.marketplace.create_plan(
        world.provider_owner.id, offering.id, "Second", unit, prices=prices
    )


def live(world: World, offering: Offering, plan: Plan, limits: dict[str, int] | None = None) -> str:
    """Order a resource (activated at once by the cloud backend); returns its id."""
    order = world.order(offering_id=offering.id, plan_id=plan.id, limits=limits or {})
    resource = world.marketplace.get_resource(order.resource_id)
    assert resource.activated_at is not None
    return resource.id


def items(
    world: World, resource_id: str, component: str, month: date | None = None
) -> list[InvoiceItem]:
    return [
        item
        for item in world.marketplace.list_resource_items(resource_id)
        if item.component_type == component and (month is None or item.month == month)
    ]


def only(found: Sequence[T]) -> T:
    assert len(found) == 1, found
    return found[0]


def switch_plan(world: World, resource_id: str, plan: Plan) -> None:
    world.marketplace.order_plan_switch(world.owner.id, resource_id, plan.id)
    assert world.marketplace.get_resource(resource_id).plan_id == plan.id


def change_limits(world: World, resource_id: str, limits: dict[str, int]) -> None:
    world.marketplace.order_limit_change(world.owner.id, resource_id, limits)
    assert dict(world.marketplace.get_resource(resource_id).limits) == limits


def terminate(world: World, resource_id: str) -> None:
    world.marketplace.order_termination(world.owner.id, resource_id)
    assert world.marketplace.get_resource(resource_id).terminated_at is not None


# --------------------------------------------------------------------------- billing types


def test_a_month_plan_bills_fixed_limit_and_one_time_from_the_activation_day(world: World):
    resource: Resource = world.live_basic()
    base = only(items(world, resource.id, "base"))
    storage = only(items(world, resource.id, "storage"))
    setup = only(items(world, resource.id, "setup"))

    # Fixed: 17 of 31 days (15-31 January) -> 0.5484 -> up to 0.55 -> 100 x 0.55 = 55.00.
    assert base.kind is ItemKind.FIXED
    assert (base.unit, base.unit_price, base.quantity, base.price) == (
        PlanUnit.MONTH,
        Decimal(100),
        Decimal("0.55"),
        Decimal("55.00"),
    )
    # The activation day is billed whole: from 15 January 00:00 though activated at 09:30.
    assert (base.start, base.billed_from, base.billed_to) == (at(1, 15, 9, 30), at(1, 15), at(2, 1))
    assert base.open
    assert base.month == JAN

    # Monthly limit: unit price = price 0.10, quantity = 10 GB x 0.55 = 5.5 -> 0.55.
    assert storage.kind is ItemKind.LIMIT
    assert (storage.unit_price, storage.quantity, storage.price) == (
        Decimal("0.10"),
        Decimal("5.5"),
        Decimal("0.55"),
    )
    assert storage.details["limit"] == 10
    assert storage.open

    # One-time: once, at activation, 50 x 1 = 50.00, a closed line at the activation instant.
    assert setup.kind is ItemKind.ONE_TIME
    assert (setup.quantity, setup.price, setup.start, setup.end) == (
        Decimal(1),
        Decimal("50.00"),
        at(1, 15, 9, 30),
        at(1, 15, 9, 30),
    )
    assert not setup.open

    # One invoice, pending, 55.00 + 0.55 + 50.00 = 105.55.
    invoice = only(world.marketplace.list_invoices(world.consumer.id))
    assert invoice.month == JAN
    assert invoice.state is InvoiceState.PENDING
    assert {base.invoice_id, storage.invoice_id, setup.invoice_id} == {invoice.id}
    assert world.marketplace.get_invoice_totals(invoice.id).price == Decimal("105.55")


def test_a_fixed_component_bills_price_times_the_plan_amount(world: World):
    offering, plan = offering_with(
        world, BASE, unit=PlanUnit.DAY, prices={"base": "4"}, amounts={"base": 3}
    )
    resource_id = live(world, offering, plan)
    base = only(items(world, resource_id, "base"))
    # unit price = 4 x 3 = 12; 17 days (15-31 January) -> 12 x 17 = 204.00.
    assert (base.unit_price, base.quantity, base.price) == (
        Decimal(12),
        Decimal(17),
        Decimal("204.00"),
    )


def test_a_usage_component_is_billed_from_the_report_rounded_up_to_the_cent(world: World):
    resource = world.live_basic()
    assert items(world, resource.id, "cpu") == []  # nothing before a report
    world.marketplace.report_usage(
        world.provider_owner.id, resource.id, "cpu", "12.5", idempotency_key="k1"
    )
    cpu = only(items(world, resource.id, "cpu"))
    # 12.5 hours x 0.05 = 0.625 -> up to the cent -> 0.63.
    assert cpu.kind is ItemKind.USAGE
    assert (cpu.unit, cpu.unit_price, cpu.quantity, cpu.price) == (
        PlanUnit.QUANTITY,
        Decimal("0.05"),
        Decimal("12.5"),
        Decimal("0.63"),
    )
    assert cpu.open
    assert cpu.month == JAN


def test_a_monthly_limit_is_divided_by_its_factor(world: World):
    # The cloud plugin's built-in ``ram`` limit is in MB, priced per GB (factor 1024).
    offering, plan = offering_with(world, CPU, unit=PlanUnit.DAY, prices={"ram": "0.5"})
    resource_id = live(world, offering, plan, {"ram": 3072})
    ram = only(items(world, resource_id, "ram"))
    # 3072 / 1024 = 3 GB x 17 days = 51 GB-days x 0.5 = 25.50.
    assert (ram.kind, ram.unit_price, ram.quantity, ram.price) == (
        ItemKind.LIMIT,
        Decimal("0.5"),
        Decimal(51),
        Decimal("25.50"),
    )
    assert (ram.details["limit"], ram.details["factor"]) == (3072, 1024)


def test_a_quarter_limit_is_billed_up_front_for_the_rest_of_the_quarter(world: World):
    offering, plan = offering_with(
        world, LICENCES_QUARTER, unit=PlanUnit.MONTH, prices={"licences": "3"}
    )
    resource_id = live(world, offering, plan, {"licences": 4})
    charge = only(items(world, resource_id, "licences"))
    # 15 January to 31 March: 17 + 28 + 31 = 76 of 90 days -> 0.8444 -> up to 0.85;
    # quantity 4 x 0.85 = 3.40, price 3 x 3.40 = 10.20.
    assert (charge.kind, charge.unit_price, charge.quantity, charge.price) == (
        ItemKind.LIMIT,
        Decimal(3),
        Decimal("3.40"),
        Decimal("10.20"),
    )
    assert (charge.month, charge.billed_from, charge.billed_to) == (JAN, at(1, 15), at(4, 1))
    assert charge.details["limit_period"] == "quarter"

    # February and March add nothing; April charges the whole second quarter.
    world.clock.set(at(4, 1, 0, 30))
    world.marketplace.run_billing()
    assert items(world, resource_id, "licences", FEB) == []
    assert items(world, resource_id, "licences", MAR) == []
    april = only(items(world, resource_id, "licences", APR))
    # Whole quarter: share 1, 4 x 1 = 4 units x 3 = 12.00, April to July.
    assert (april.quantity, april.price) == (Decimal(4), Decimal("12.00"))
    assert (april.billed_from, april.billed_to) == (at(4, 1), at(7, 1))


def test_a_quarter_limit_increase_refunds_and_recharges_from_the_start_of_today(world: World):
    offering, plan = offering_with(
        world, LICENCES_QUARTER, unit=PlanUnit.MONTH, prices={"licences": "3"}
    )
    resource_id = live(world, offering, plan, {"licences": 4})
    world.clock.set(at(2, 10, 14))
    change_limits(world, resource_id, {"licences": 6})
    refund, charge = items(world, resource_id, "licences", FEB)
    # From 10 February 00:00: 19 (10-28 Feb) + 31 = 50 of 90 days -> 0.5556 -> up to 0.56.
    # Refund: -3 x (4 x 0.56 = 2.24) = -6.72; charge: 3 x (6 x 0.56 = 3.36) = 10.08.
    assert (refund.unit_price, refund.quantity, refund.price) == (
        Decimal(-3),
        Decimal("2.24"),
        Decimal("-6.72"),
    )
    assert (charge.unit_price, charge.quantity, charge.price) == (
        Decimal(3),
        Decimal("3.36"),
        Decimal("10.08"),
    )
    assert refund.billed_from == charge.billed_from == at(2, 10)


def test_a_quarter_limit_decrease_and_termination_refund_from_tomorrow(world: World):
    offering, plan = offering_with(
        world, LICENCES_QUARTER, unit=PlanUnit.MONTH, prices={"licences": "3"}
    )
    resource_id = live(world, offering, plan, {"licences": 4})
    world.clock.set(at(2, 10, 14))
    change_limits(world, resource_id, {"licences": 1})
    refund, charge = items(world, resource_id, "licences", FEB)
    # From 11 February: 18 + 31 = 49 of 90 days -> 0.5444 -> up to 0.55.
    # Refund: -3 x (4 x 0.55 = 2.20) = -6.60; charge: 3 x (1 x 0.55) = 1.65.
    assert (refund.price, charge.price) == (Decimal("-6.60"), Decimal("1.65"))
    assert refund.billed_from == charge.billed_from == at(2, 11)

    world.clock.set(at(3, 5, 12))
    terminate(world, resource_id)
    final = only(items(world, resource_id, "licences", MAR))
    # From 6 March: 26 of 90 days -> 0.2889 -> up to 0.29; -3 x (1 x 0.29) = -0.87.
    assert (final.unit_price, final.quantity, final.price) == (
        Decimal(-3),
        Decimal("0.29"),
        Decimal("-0.87"),
    )
    assert final.billed_from == at(3, 6)


def test_an_annual_limit_is_billed_up_front_for_the_rest_of_the_year(world: World):
    offering, plan = offering_with(world, SEATS_ANNUAL, unit=PlanUnit.MONTH, prices={"seats": "12"})
    resource_id = live(world, offering, plan, {"seats": 2})
    charge = only(items(world, resource_id, "seats"))
    # 15 January to 31 December: 365 - 14 = 351 of 365 days -> 0.9616 -> up to 0.97;
    # quantity 2 x 0.97 = 1.94, price 12 x 1.94 = 23.28.
    assert (charge.quantity, charge.price) == (Decimal("1.94"), Decimal("23.28"))
    assert (charge.billed_from, charge.billed_to) == (at(1, 15), datetime(2027, 1, 1, tzinfo=UTC))
    assert charge.details["limit_period"] == "annual"


def test_a_total_limit_is_charged_once_and_changes_bill_the_difference(world: World):
    offering, plan = offering_with(world, TOKENS_TOTAL, unit=PlanUnit.MONTH, prices={"tokens": "5"})
    resource_id = live(world, offering, plan, {"tokens": 3})
    first = only(items(world, resource_id, "tokens"))
    # 3 packs x 5 = 15.00, once.
    assert (first.unit_price, first.quantity, first.price) == (
        Decimal(5),
        Decimal(3),
        Decimal("15.00"),
    )

    world.clock.set(at(1, 20, 10))
    change_limits(world, resource_id, {"tokens": 5})
    world.clock.set(at(1, 25, 10))
    change_limits(world, resource_id, {"tokens": 4})
    _, more, fewer = items(world, resource_id, "tokens")
    # 3 -> 5: 2 more packs x 5 = 10.00; 5 -> 4: one pack back at -5 = -5.00.
    assert (more.unit_price, more.quantity, more.price) == (
        Decimal(5),
        Decimal(2),
        Decimal("10.00"),
    )
    assert (fewer.unit_price, fewer.quantity, fewer.price) == (
        Decimal(-5),
        Decimal(1),
        Decimal("-5.00"),
    )
    # 15 + 10 - 5 = 20 = 4 packs x 5: the total billed matches the limit held.
    assert sum(i.price for i in items(world, resource_id, "tokens")) == Decimal("20.00")

    # Later months charge nothing more for it.
    world.clock.set(at(2, 1, 0, 30))
    world.marketplace.run_billing()
    assert items(world, resource_id, "tokens", FEB) == []


def test_terminating_a_total_limit_refunds_nothing(world: World):
    offering, plan = offering_with(world, TOKENS_TOTAL, unit=PlanUnit.MONTH, prices={"tokens": "5"})
    resource_id = live(world, offering, plan, {"tokens": 3})
    world.clock.set(at(1, 20, 10))
    terminate(world, resource_id)
    # Only the 3 x 5 = 15.00 bought at activation.
    assert [i.price for i in items(world, resource_id, "tokens")] == [Decimal("15.00")]


def test_a_total_limit_refund_after_a_price_change_returns_what_was_charged(world: World):
    offering, plan = offering_with(world, TOKENS_TOTAL, unit=PlanUnit.MONTH, prices={"tokens": "5"})
    resource_id = live(world, offering, plan, {"tokens": 3})  # 3 x 5 = 15.00
    world.clock.set(at(1, 20, 10))
    world.marketplace.schedule_plan_prices(world.provider_owner.id, plan.id, {"tokens": "8"})
    world.clock.set(at(2, 10, 10))
    change_limits(world, resource_id, {"tokens": 0})
    # Nothing held any more: the 15.00 charged comes back, no more (15 - 15 = 0), not the
    # 3 x 8 = 24.00 the new price would make (15 - 24 = -9.00).
    assert sum(i.price for i in items(world, resource_id, "tokens")) == Decimal("0.00")


def test_a_quarter_limit_refund_after_a_price_change_returns_the_price_charged(world: World):
    offering, plan = offering_with(
        world, LICENCES_QUARTER, unit=PlanUnit.MONTH, prices={"licences": "5"}
    )
    resource_id = live(world, offering, plan, {"licences": 4})
    # Charged in January: 4 x 0.85 (76 of 90 days) = 3.40 x 5 = 17.00.
    world.clock.set(at(1, 20, 10))
    world.marketplace.schedule_plan_prices(world.provider_owner.id, plan.id, {"licences": "8"})
    world.clock.set(at(2, 10, 10))
    change_limits(world, resource_id, {"licences": 1})
    refund, charge = items(world, resource_id, "licences", FEB)
    # From 11 February: 49 of 90 days -> 0.55. Refund 4 x 0.55 = 2.20 units at the 5 they
    # were charged at: -11.00 (not -17.60 at the new 8); charge 1 x 0.55 x 8 = 4.40.
    assert (refund.unit_price, refund.quantity, refund.price) == (
        Decimal(-5),
        Decimal("2.20"),
        Decimal("-11.00"),
    )
    assert charge.price == Decimal("4.40")


def test_one_time_is_charged_only_at_activation(world: World):
    resource = world.live_basic()
    world.clock.set(at(2, 1, 0, 30))
    world.marketplace.run_billing()
    # The 50.00 set-up fee of January, and nothing for it in February.
    assert [i.price for i in items(world, resource.id, "setup")] == [Decimal("50.00")]
    assert [i.month for i in items(world, resource.id, "setup")] == [JAN]


def test_on_plan_switch_is_charged_per_switch_to_a_plan_that_prices_it(world: World):
    offering, cheap = offering_with(world, BASE, MIGRATION, unit=PlanUnit.DAY, prices={"base": "2"})
    dear = another_plan(world, offering, PlanUnit.DAY, {"base": "3", "migration": "9"})
    resource_id = live(world, offering, cheap)
    assert items(world, resource_id, "migration") == []  # not at activation

    world.clock.set(at(1, 20, 14))
    switch_plan(world, resource_id, dear)
    fee = only(items(world, resource_id, "migration"))
    # One switch to a plan pricing it at 9: 9 x 1 = 9.00 at the switch instant.
    assert (fee.kind, fee.quantity, fee.price, fee.start) == (
        ItemKind.ON_PLAN_SWITCH,
        Decimal(1),
        Decimal("9.00"),
        at(1, 20, 14),
    )
    assert fee.plan_id == dear.id

    # Back to the plan that does not price it: no new line.
    world.clock.set(at(1, 22, 14))
    switch_plan(world, resource_id, cheap)
    assert len(items(world, resource_id, "migration")) == 1
    # And to the pricing plan again: a second 9.00.
    world.clock.set(at(1, 24, 14))
    switch_plan(world, resource_id, dear)
    assert [i.price for i in items(world, resource_id, "migration")] == [Decimal("9.00")] * 2


# --------------------------------------------------------------------------- plan units


def test_a_day_plan_bills_started_days(world: World):
    offering, plan = offering_with(world, BASE, unit=PlanUnit.DAY, prices={"base": "2"})
    resource_id = live(world, offering, plan)
    base = only(items(world, resource_id, "base"))
    # 15-31 January: 17 days x 2 = 34.00.
    assert (base.unit, base.quantity, base.price) == (PlanUnit.DAY, Decimal(17), Decimal("34.00"))


def test_an_hour_plan_bills_started_hours(world: World):
    offering, plan = offering_with(world, BASE, unit=PlanUnit.HOUR, prices={"base": "0.50"})
    resource_id = live(world, offering, plan)
    base = only(items(world, resource_id, "base"))
    # From 09:00 on 15 January (09:30 started that hour) to 1 February:
    # 15 hours of the 15th + 16 days x 24 = 399 hours x 0.50 = 199.50.
    assert (base.unit, base.billed_from) == (PlanUnit.HOUR, at(1, 15, 9))
    assert (base.quantity, base.price) == (Decimal(399), Decimal("199.50"))

    world.clock.set(at(1, 15, 11, 10))
    terminate(world, resource_id)
    closed = only(items(world, resource_id, "base"))
    # Terminated at 11:10, billed through the 11:00 hour: 09:00-12:00 = 3 x 0.50 = 1.50.
    assert (closed.billed_to, closed.quantity, closed.price) == (
        at(1, 15, 12),
        Decimal(3),
        Decimal("1.50"),
    )
    assert not closed.open


def test_a_half_month_plan_sums_the_shares_of_both_halves(world: World):
    offering, plan = offering_with(world, BASE, unit=PlanUnit.HALF_MONTH, prices={"base": "10"})
    resource_id = live(world, offering, plan)
    january = only(items(world, resource_id, "base", JAN))
    # First half (1-15): the 15th, 1 of 15 days; second half (16-31): 16 of 16.
    # 1/15 + 16/16 = 1.0667 -> up to 1.07 -> 10 x 1.07 = 10.70.
    assert (january.unit, january.quantity, january.price) == (
        PlanUnit.HALF_MONTH,
        Decimal("1.07"),
        Decimal("10.70"),
    )

    world.clock.set(at(2, 1, 0, 30))
    world.marketplace.run_billing()
    february = only(items(world, resource_id, "base", FEB))
    # A whole month is exactly 2 halves: 10 x 2 = 20.00.
    assert (february.quantity, february.price) == (Decimal(2), Decimal("20.00"))

    world.clock.set(at(2, 20, 10))
    terminate(world, resource_id)
    february = only(items(world, resource_id, "base", FEB))
    # Billed through 20 February: 15/15 + 5 (16-20) of 13 = 1.3846 -> up to 1.39 -> 13.90.
    assert (february.quantity, february.price) == (Decimal("1.39"), Decimal("13.90"))


def test_a_half_month_plan_activated_in_the_second_half(world: World):
    offering, plan = offering_with(world, BASE, unit=PlanUnit.HALF_MONTH, prices={"base": "10"})
    world.clock.set(at(1, 20, 8))
    resource_id = live(world, offering, plan)
    base = only(items(world, resource_id, "base"))
    # 0 of 15 + 12 (20-31) of 16 = 0.75 exactly -> 10 x 0.75 = 7.50.
    assert (base.quantity, base.price) == (Decimal("0.75"), Decimal("7.50"))


def test_a_quantity_plan_is_prorated_like_a_month(world: World):
    offering, plan = offering_with(world, BASE, unit=PlanUnit.QUANTITY, prices={"base": "30"})
    resource_id = live(world, offering, plan)
    base = only(items(world, resource_id, "base"))
    # As Waldur does: 15-31 January is 17 of 31 days -> 0.5484 -> up to 0.55 -> 16.50.
    assert (base.unit, base.quantity, base.price) == (
        PlanUnit.QUANTITY,
        Decimal("0.55"),
        Decimal("16.50"),
    )
    assert (base.billed_from, base.billed_to) == (at(1, 15), at(2, 1))

    world.clock.set(at(1, 20, 10))
    terminate(world, resource_id)
    # Billed through 20 January: 6 of 31 days -> 0.1935 -> up to 0.20 -> 6.00.
    assert only(items(world, resource_id, "base")).price == Decimal("6.00")


# --------------------------------------------------------------------------- changes


def test_a_plan_switch_closes_the_old_items_and_opens_new_ones(world: World):
    offering, small = offering_with(
        world, BASE, CORES, unit=PlanUnit.DAY, prices={"base": "2", "cores": "1"}
    )
    large = another_plan(world, offering, PlanUnit.DAY, {"base": "3", "cores": "2"})
    resource_id = live(world, offering, small, {"cores": 2})
    world.clock.set(at(1, 20, 14))
    switch_plan(world, resource_id, large)

    old_base, new_base = items(world, resource_id, "base")
    old_cores, new_cores = items(world, resource_id, "cores")
    # The day of the switch goes to the new plan. Old: 15-19 January = 5 days.
    # base 5 x 2 = 10.00; cores 2 x 5 = 10 core-days x 1 = 10.00.
    assert (old_base.plan_id, old_base.open, old_base.end) == (small.id, False, at(1, 20, 14))
    assert (old_base.billed_to, old_base.quantity, old_base.price) == (
        at(1, 20),
        Decimal(5),
        Decimal("10.00"),
    )
    assert (old_cores.open, old_cores.quantity, old_cores.price) == (
        False,
        Decimal(10),
        Decimal("10.00"),
    )
    # New: 20-31 January = 12 days; base 12 x 3 = 36.00; cores 2 x 12 = 24 x 2 = 48.00.
    assert (new_base.plan_id, new_base.open, new_base.start) == (large.id, True, at(1, 20, 14))
    assert (new_base.billed_from, new_base.quantity, new_base.price) == (
        at(1, 20),
        Decimal(12),
        Decimal("36.00"),
    )
    assert (new_cores.plan_id, new_cores.quantity, new_cores.price) == (
        large.id,
        Decimal(24),
        Decimal("48.00"),
    )


def test_a_limit_increase_bills_from_today_and_a_decrease_from_tomorrow(world: World):
    offering, plan = offering_with(world, CORES, unit=PlanUnit.DAY, prices={"cores": "1"})
    resource_id = live(world, offering, plan, {"cores": 2})
    world.clock.set(at(1, 20, 14))
    change_limits(world, resource_id, {"cores": 5})
    world.clock.set(at(1, 25, 8))
    change_limits(world, resource_id, {"cores": 3})

    two, five, three = items(world, resource_id, "cores")
    # 2 cores, 15-19 January (the 20th goes to the increase): 5 days x 2 = 10.00.
    assert (two.billed_from, two.billed_to, two.price) == (at(1, 15), at(1, 20), Decimal("10.00"))
    # 5 cores, 20-25 January (the 25th stays with the decrease's earlier item): 6 x 5 = 30.00.
    assert (five.billed_from, five.billed_to, five.price) == (
        at(1, 20),
        at(1, 26),
        Decimal("30.00"),
    )
    # 3 cores, 26-31 January: 6 days x 3 = 18.00, still open.
    assert (three.billed_from, three.billed_to, three.price) == (
        at(1, 26),
        at(2, 1),
        Decimal("18.00"),
    )
    assert [i.open for i in (two, five, three)] == [False, False, True]
    # Every day of 15-31 January billed exactly once: 5 + 6 + 6 = 17.
    assert sum((i.billed_to - i.billed_from).days for i in (two, five, three)) == 17


def test_a_decrease_then_an_increase_on_the_same_day_bill_that_day_once(world: World):
    offering, plan = offering_with(world, CORES, unit=PlanUnit.DAY, prices={"cores": "1"})
    resource_id = live(world, offering, plan, {"cores": 2})
    world.clock.set(at(1, 20, 10))
    change_limits(world, resource_id, {"cores": 1})
    world.clock.set(at(1, 20, 15))
    change_limits(world, resource_id, {"cores": 5})
    billed = [
        (i.billed_from, i.billed_to)
        for i in items(world, resource_id, "cores")
        if i.billed_to > i.billed_from
    ]
    # 15-31 January is 17 days; each day should be billed by one item only.
    assert sum((end - start).days for start, end in billed) == 17


def test_termination_closes_items_billed_through_the_termination_day(world: World):
    offering, plan = offering_with(
        world, BASE, CORES, CPU, unit=PlanUnit.DAY, prices={"base": "2", "cores": "1", "cpu": "1"}
    )
    resource_id = live(world, offering, plan, {"cores": 2})
    world.marketplace.report_usage(
        world.provider_owner.id, resource_id, "cpu", 4, idempotency_key="cpu-1"
    )
    world.clock.set(at(1, 20, 14))
    terminate(world, resource_id)

    base = only(items(world, resource_id, "base"))
    cores = only(items(world, resource_id, "cores"))
    cpu = only(items(world, resource_id, "cpu"))
    # 15-20 January, the termination day included: 6 days.
    # base 6 x 2 = 12.00; cores 2 x 6 = 12 core-days x 1 = 12.00.
    assert (base.billed_to, base.quantity, base.price, base.open) == (
        at(1, 21),
        Decimal(6),
        Decimal("12.00"),
        False,
    )
    assert (cores.quantity, cores.price, cores.open) == (Decimal(12), Decimal("12.00"), False)
    # The usage item stops at the termination instant; its 4 x 1 = 4.00 stays.
    assert (cpu.open, cpu.end, cpu.price) == (False, at(1, 20, 14), Decimal("4.00"))

    # The next run opens nothing for it.
    world.clock.set(at(2, 1, 0, 30))
    world.marketplace.run_billing()
    assert [i for i in world.marketplace.list_resource_items(resource_id) if i.month == FEB] == []


def test_termination_of_a_month_plan_bills_the_started_days(world: World):
    offering, plan = offering_with(world, BASE, unit=PlanUnit.MONTH, prices={"base": "100"})
    resource_id = live(world, offering, plan)
    world.clock.set(at(1, 20, 14))
    terminate(world, resource_id)
    # 15-20 January: 6 of 31 days -> 0.1935 -> up to 0.20 -> 100 x 0.20 = 20.00.
    base = only(items(world, resource_id, "base"))
    assert (base.quantity, base.price) == (Decimal("0.20"), Decimal("20.00"))


# --------------------------------------------------------------------------- months


def test_the_billing_run_opens_the_month_from_its_first_day(world: World):
    resource = world.live_basic()
    world.clock.set(at(2, 1, 0, 30))
    world.marketplace.run_billing()
    base = only(items(world, resource.id, "base", FEB))
    storage = only(items(world, resource.id, "storage", FEB))
    # All 28 February days: 28/28 = 1 -> 100.00; storage 10 x 1 x 0.10 = 1.00.
    assert (base.start, base.billed_from, base.billed_to) == (at(2, 1), at(2, 1), at(3, 1))
    assert (base.quantity, base.price, storage.price) == (
        Decimal(1),
        Decimal("100.00"),
        Decimal("1.00"),
    )
    assert base.open
    assert storage.open


def test_a_month_opened_by_an_event_before_the_run_starts_at_the_month_start(world: World):
    offering, plan = offering_with(
        world, BASE, CORES, unit=PlanUnit.DAY, prices={"base": "2", "cores": "1"}
    )
    resource_id = live(world, offering, plan, {"cores": 2})
    world.clock.set(at(2, 10, 14))  # no February run yet
    change_limits(world, resource_id, {"cores": 4})

    base = only(items(world, resource_id, "base", FEB))
    before, after = items(world, resource_id, "cores", FEB)
    # February was opened from 1 February 00:00, not from the change on the 10th.
    assert (base.start, base.billed_from, base.open) == (at(2, 1), at(2, 1), True)
    # base: 28 days x 2 = 56.00.
    assert (base.quantity, base.price) == (Decimal(28), Decimal("56.00"))
    # 2 cores for 1-9 February: 2 x 9 = 18.00; 4 cores for 10-28: 4 x 19 = 76 -> 76.00.
    assert (before.start, before.billed_from, before.billed_to) == (at(2, 1), at(2, 1), at(2, 10))
    assert before.price == Decimal("18.00")
    assert (after.billed_from, after.price) == (at(2, 10), Decimal("76.00"))

    # The run afterwards adds no second set of February items.
    world.clock.set(at(2, 11, 0, 30))
    world.marketplace.run_billing()
    assert len(items(world, resource_id, "base", FEB)) == 1
    assert len(items(world, resource_id, "cores", FEB)) == 2


def test_scheduled_prices_apply_from_next_month_through_the_run(world: World):
    resource = world.live_basic()
    market = world.marketplace
    world.clock.set(at(1, 20, 10))
    plan = market.schedule_plan_prices(
        world.provider_owner.id, world.plan.id, {"base": "120", "cpu": "0.08"}
    )
    assert plan.future_prices_from == FEB
    # January keeps the current prices, even for a report made after scheduling:
    # 10 hours x 0.05 = 0.50.
    market.report_usage(world.provider_owner.id, resource.id, "cpu", 10, idempotency_key="jan")
    assert only(items(world, resource.id, "cpu", JAN)).price == Decimal("0.50")
    assert only(items(world, resource.id, "base", JAN)).unit_price == Decimal(100)

    world.clock.set(at(2, 1, 0, 30))
    report = market.run_billing()
    assert report.plans_repriced == (world.plan.id,)
    repriced = market.get_plan(world.plan.id)
    assert (repriced.prices["base"], repriced.prices["cpu"], repriced.future_prices) == (
        Decimal(120),
        Decimal("0.08"),
        None,
    )
    # The whole of February at the new price: 120 x 1 = 120.00; storage unchanged, 1.00.
    assert only(items(world, resource.id, "base", FEB)).price == Decimal("120.00")
    assert only(items(world, resource.id, "storage", FEB)).price == Decimal("1.00")
    market.report_usage(world.provider_owner.id, resource.id, "cpu", 10, idempotency_key="feb")
    # 10 hours x 0.08 = 0.80.
    assert only(items(world, resource.id, "cpu", FEB)).price == Decimal("0.80")


def test_scheduled_prices_apply_to_items_opened_before_the_run_in_the_new_month(world: World):
    resource = world.live_basic()
    market = world.marketplace
    world.clock.set(at(1, 20, 10))
    market.schedule_plan_prices(
        world.provider_owner.id, world.plan.id, {"base": "120", "cpu": "0.08"}
    )

    world.clock.set(at(2, 3, 10))  # February, before its run
    market.report_usage(world.provider_owner.id, resource.id, "cpu", 10, idempotency_key="feb")
    # The report opened February: base 120 x 28/28 = 120.00; cpu 10 x 0.08 = 0.80.
    assert only(items(world, resource.id, "base", FEB)).price == Decimal("120.00")
    assert only(items(world, resource.id, "cpu", FEB)).price == Decimal("0.80")
    # January is untouched by the schedule: 55.00 as at activation.
    assert only(items(world, resource.id, "base", JAN)).price == Decimal("55.00")

    report = market.run_billing()
    assert report.plans_repriced == (world.plan.id,)
    assert [i.price for i in items(world, resource.id, "base", FEB)] == [Decimal("120.00")]
