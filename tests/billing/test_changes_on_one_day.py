"""Changes that meet inside one slot, and late facts about past months: each slot is billed
once, and a late report is priced by the plan of its month.

Built on the helpers of ``test_items``; the world starts on 2026-01-15 09:30 UTC.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from marketplace_core import (
    BillingType,
    ErrorCode,
    LimitPeriod,
    OfferingComponent,
    PlanUnit,
    ValidationError,
)
from tests.billing.test_items import (
    BASE,
    CORES,
    CPU,
    JAN,
    another_plan,
    at,
    change_limits,
    items,
    live,
    offering_with,
    only,
    switch_plan,
)
from tests.support import STORAGE, World


def billed_hours(world: World, resource_id: str, component: str) -> int:
    """Hours of slots billed by the component's items (each slot once, if all is well)."""
    return sum(
        int((i.billed_to - i.billed_from).total_seconds()) // 3600
        for i in items(world, resource_id, component)
        if i.billed_to > i.billed_from
    )


def test_a_decrease_then_a_switch_on_the_same_day_bill_that_day_once(world: World):
    offering, small = offering_with(world, CORES, unit=PlanUnit.DAY, prices={"cores": "1"})
    large = another_plan(world, offering, PlanUnit.DAY, {"cores": "2"})
    resource_id = live(world, offering, small, {"cores": 2})
    world.clock.set(at(1, 20, 10))
    change_limits(world, resource_id, {"cores": 1})  # the 2 cores keep the 20th
    world.clock.set(at(1, 20, 15))
    switch_plan(world, resource_id, large)
    # 15-31 January is 17 days = 408 hours, each billed once: 2 cores on small 15-20 (6
    # days), 1 core on small nothing, 1 core on large 21-31 (11 days).
    assert billed_hours(world, resource_id, "cores") == 17 * 24
    assert sum(i.price for i in items(world, resource_id, "cores")) == Decimal(
        2 * 6 * 1 + 1 * 11 * 2
    )


def test_a_switch_from_an_hourly_to_a_daily_plan_hands_over_at_midnight(world: World):
    offering, hourly = offering_with(world, BASE, unit=PlanUnit.HOUR, prices={"base": "1"})
    daily = another_plan(world, offering, PlanUnit.DAY, {"base": "20"})
    resource_id = live(world, offering, hourly)  # 15 January 09:30
    world.clock.set(at(1, 20, 10, 30))
    switch_plan(world, resource_id, daily)
    hours, days = items(world, resource_id, "base")
    # The daily plan takes the whole 20th: hourly bills 15 Jan 09:00 to 20 Jan 00:00 (111
    # hours = 111.00), daily bills 20-31 January (12 days x 20 = 240.00).
    assert (hours.billed_from, hours.billed_to, hours.price) == (
        at(1, 15, 9),
        at(1, 20),
        Decimal("111.00"),
    )
    assert (days.billed_from, days.billed_to, days.price) == (
        at(1, 20),
        at(2, 1),
        Decimal("240.00"),
    )


def test_a_switch_from_a_daily_to_an_hourly_plan_hands_over_at_midnight(world: World):
    offering, daily = offering_with(world, BASE, unit=PlanUnit.DAY, prices={"base": "20"})
    hourly = another_plan(world, offering, PlanUnit.HOUR, {"base": "1"})
    resource_id = live(world, offering, daily)
    world.clock.set(at(1, 20, 10, 30))
    switch_plan(world, resource_id, hourly)
    days, hours = items(world, resource_id, "base")
    # Daily bills 15-19 January (5 x 20 = 100.00); hourly bills from 20 January 00:00 to
    # 1 February (12 days = 288 hours = 288.00): no hour of the 20th is left out.
    assert (days.billed_to, days.price) == (at(1, 20), Decimal("100.00"))
    assert (hours.billed_from, hours.price) == (at(1, 20), Decimal("288.00"))
    # Together: every hour of 15-31 January (the daily plan took the 15th from 00:00), once.
    assert billed_hours(world, resource_id, "base") == 17 * 24


def test_a_late_report_is_priced_by_the_plan_of_its_month(world: World):
    offering, first = offering_with(world, CPU, unit=PlanUnit.MONTH, prices={"cpu": "0.05"})
    second = another_plan(world, offering, PlanUnit.MONTH, {"cpu": "0.04"})
    resource_id = live(world, offering, first)
    world.clock.set(at(2, 2, 10))
    switch_plan(world, resource_id, second)
    world.clock.set(at(2, 3, 9))
    world.marketplace.report_usage(
        world.provider_owner.id, resource_id, "cpu", "100", idempotency_key="jan", month=JAN
    )
    january = only(items(world, resource_id, "cpu", JAN))
    # January ran on the first plan: 100 x 0.05 = 5.00 (not 100 x 0.04 = 4.00).
    assert (january.plan_id, january.price) == (first.id, Decimal("5.00"))


def test_a_replacing_report_keeps_quantities_to_ten_places(world: World):
    offering, plan = offering_with(world, CPU, unit=PlanUnit.MONTH, prices={"cpu": "1"})
    resource_id = live(world, offering, plan)
    report = world.marketplace.report_usage
    report(world.provider_owner.id, resource_id, "cpu", "5", idempotency_key="a")
    report(world.provider_owner.id, resource_id, "cpu", "0.00000000001", idempotency_key="b")
    item = only(items(world, resource_id, "cpu"))
    # 0.00000000001 has 11 places: kept to 10 (half-even) it is 0, so the price is 0.00.
    assert (item.quantity, item.price) == (Decimal("0E-10"), Decimal("0.00"))


def test_a_schedule_in_effect_is_kept_when_the_next_one_is_made(world: World):
    _, plan = offering_with(world, BASE, unit=PlanUnit.DAY, prices={"base": "10"})
    market, owner = world.marketplace, world.provider_owner.id
    market.schedule_plan_prices(owner, plan.id, {"base": "12"})  # from February
    world.clock.set(at(2, 15, 9))
    market.schedule_plan_prices(owner, plan.id, {"base": "15"})  # from March
    current = market.get_plan(plan.id)
    # The February schedule had started: it is the current price now, not lost.
    assert (dict(current.prices), dict(current.future_prices or {})) == (
        {"base": Decimal(12)},
        {"base": Decimal(15)},
    )


def test_setting_prices_keeps_a_schedule_in_effect_as_the_base(world: World):
    _, plan = offering_with(world, BASE, CPU, unit=PlanUnit.DAY, prices={"base": "10", "cpu": "1"})
    market, owner = world.marketplace, world.provider_owner.id
    market.schedule_plan_prices(owner, plan.id, {"base": "12"})
    world.clock.set(at(2, 15, 9))
    market.set_plan_prices(owner, plan.id, {"base": "13", "cpu": "1"})
    current = market.get_plan(plan.id)
    # The due schedule is spent; the prices set now are current; nothing is left to apply
    # at the next run that would undo them.
    assert (dict(current.prices), current.future_prices) == (
        {"base": Decimal(13), "cpu": Decimal(1)},
        None,
    )


def test_usage_of_a_limit_component_is_not_capped_by_its_limit_amount(world: World):
    # STORAGE's limit_amount (2000 a month) caps the limits allocated, not usage reports.
    resource = world.live_basic()
    assert STORAGE.limit_amount == 2000
    accepted = world.marketplace.report_usage(
        world.provider_owner.id, resource.id, "storage", 2500, idempotency_key="s"
    )
    assert accepted.amount == Decimal(2500)


def test_a_usage_total_below_an_earlier_plan_is_refused(world: World):
    offering, first = offering_with(world, CPU, unit=PlanUnit.MONTH, prices={"cpu": "1"})
    second = another_plan(world, offering, PlanUnit.MONTH, {"cpu": "2"})
    resource_id = live(world, offering, first)
    report = world.marketplace.report_usage
    report(world.provider_owner.id, resource_id, "cpu", 10, idempotency_key="a")
    world.clock.set(at(1, 20, 9))
    switch_plan(world, resource_id, second)
    try:
        report(world.provider_owner.id, resource_id, "cpu", 9, idempotency_key="b")
    except ValidationError as error:
        assert error.code is ErrorCode.USAGE_BELOW_BILLED
    else:
        raise AssertionError("a month-to-date total below what was billed was accepted")


def test_a_quarter_limit_lowered_then_raised_on_one_day_bills_that_day_once(world: World):
    licences = OfferingComponent(
        "lic", "Licences", BillingType.LIMIT, limit_period=LimitPeriod.QUARTER
    )
    offering, _ = offering_with(world, licences, unit=PlanUnit.MONTH, prices={"lic": "30"})
    plan = world.marketplace.list_plans(offering.id)[0]
    world.clock.set(at(2, 10, 9))
    resource_id = live(world, offering, plan, {"lic": 4})
    world.clock.set(at(3, 5, 9))
    change_limits(world, resource_id, {"lic": 2})  # the decrease keeps 5 March at 4
    world.clock.set(at(3, 5, 14))
    change_limits(world, resource_id, {"lic": 6})
    march = items(world, resource_id, "lic", date(2026, 3, 1))
    # Every refund and charge of March starts on 6 March: 5 March stays billed at 4 only.
    assert {i.billed_from for i in march} == {at(3, 6)}
    # 26 of 90 days left from 6 March -> 0.29: 4 refunded (1.16), 2 charged and refunded
    # (0.58 each), 6 charged (1.74), all at 30.
    assert [(i.unit_price, i.quantity) for i in march] == [
        (Decimal(-30), Decimal("1.16")),
        (Decimal(30), Decimal("0.58")),
        (Decimal(-30), Decimal("0.58")),
        (Decimal(30), Decimal("1.74")),
    ]
