"""Property tests of billing, driven through the Marketplace facade on a fixed clock.

What is checked, each against values this file works out on its own (calendar dates for the
days an interval touches, exact fractions for prorated prices, ``math.ceil`` for rounding up
to the cent), never against numbers read back from the library:

1. a monthly fixed charge is the plan price × the days touched ÷ the days of the month,
   within the rounding rule (Waldur's default, and exact proration);
2. the fixed items of a month cover the live time exactly once across plan switches, and so
   do their billed slots, the slot of a switch going to the later plan;
3. a terminated resource gets no item after its termination, and keeps open only items of
   whole earlier months;
4. replaying accepted usage reports changes nothing and answers the reports first accepted;
5. an invoice's totals are the sum of its items, plus tax rounded up to the cent;
6. credits never pay more than an invoice owes (``allocate_credits`` as a pure function,
   and an issued invoice end to end).

The inputs that showed bugs found here (since fixed) stay as explicit ``@example`` s.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import attrs
from hypothesis import example, given, settings
from hypothesis import strategies as st

from marketplace_core import (
    FixedClock,
    InvoiceItem,
    InvoiceState,
    InvoiceTotals,
    ItemKind,
    Marketplace,
    Offering,
    OfferingComponent,
    OrderState,
    Plan,
    PlanUnit,
    Resource,
    ResourceState,
    Rounding,
    UsageLine,
)
from marketplace_core.billing import Credit, CreditAllocation, allocate_credits
from marketplace_core.frozen import FrozenMap
from tests.support import BASE, CPU, SETUP, START, STORAGE, World, build_world

# --------------------------------------------------------------------------- calendar, by hand

ONE_MICROSECOND = timedelta(microseconds=1)
ONE_HOUR = timedelta(hours=1)
ONE_DAY = timedelta(days=1)
CENT = Fraction(1, 100)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def previous_month(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def first_instant(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def days_in(month: date) -> int:
    return (next_month(month) - month).days


def month_of(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


MONTHS = tuple(date(2026 + i // 12, i % 12 + 1, 1) for i in range(1, 36))
"""February 2026 (after the worlds' clocks start, 2026-01-15) to December 2028 (a leap
February, and months of 28 to 31 days)."""


def days_touched(start: datetime, end: datetime) -> int:
    """The calendar days (UTC) that the half-open interval ``[start, end)`` has instants in."""
    return ((end - ONE_MICROSECOND).date() - start.date()).days + 1


def slot_length(unit: PlanUnit) -> timedelta:
    """How long a unit's billing slot is: an hour for hourly plans, a day for every other
    unit (``docs/billing.md``; quantity plans too, as they are prorated like months)."""
    return ONE_HOUR if unit is PlanUnit.HOUR else ONE_DAY


def floor_to(moment: datetime, unit: PlanUnit) -> datetime:
    """The start of the slot of ``unit`` that ``moment`` is in."""
    hour = moment.hour if unit is PlanUnit.HOUR else 0
    return datetime(moment.year, moment.month, moment.day, hour, tzinfo=UTC)


def ceil_to(moment: datetime, unit: PlanUnit) -> datetime:
    """The end of the slot of ``unit`` that ``moment`` is in (``moment`` if it starts one)."""
    start = floor_to(moment, unit)
    return moment if start == moment else start + slot_length(unit)


def slots(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """The slot starts ``start, start + step, …`` before ``end``."""
    found = []
    while start < end:
        found.append(start)
        start += step
    return found


def round_up_to_cent(value: Fraction) -> Decimal:
    """``value`` rounded to the cent away from zero (Waldur's "up")."""
    cents = math.ceil(abs(value) / CENT)
    return Decimal(cents if value >= 0 else -cents).scaleb(-2)


# --------------------------------------------------------------------------- strategies

PRICES = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1000), places=2)
AMOUNTS = st.decimals(min_value=Decimal(0), max_value=Decimal(2000), places=3)
DAY_MICROSECONDS = 24 * 3600 * 10**6


@st.composite
def instant_in(draw: st.DrawFn, month: date) -> datetime:
    """An instant of ``month``: often at midnight or on the hour, where slots meet."""
    day = draw(st.integers(0, days_in(month) - 1))
    within = draw(
        st.one_of(
            st.just(timedelta(0)),
            st.integers(0, 23).map(lambda hours: timedelta(hours=hours)),
            st.integers(0, DAY_MICROSECONDS - 1).map(lambda us: timedelta(microseconds=us)),
        )
    )
    return first_instant(month) + timedelta(days=day) + within


def instants_in(month: date, count: int) -> st.SearchStrategy[list[datetime]]:
    """``count`` distinct instants of ``month``, in order."""
    return st.lists(instant_in(month), min_size=count, max_size=count, unique=True).map(sorted)


# --------------------------------------------------------------------------- worlds


@attrs.frozen
class Shop:
    """The parts of a world the properties use: a marketplace and who acts in it."""

    market: Marketplace
    clock: FixedClock
    staff_id: str
    owner_id: str
    provider_owner_id: str
    provider_id: str
    category_id: str | None
    organization_id: str
    project_id: str


def shop_of(world: World) -> Shop:
    """The standard world (default rounding)."""
    return Shop(
        market=world.marketplace,
        clock=world.clock,
        staff_id=world.staff.id,
        owner_id=world.owner.id,
        provider_owner_id=world.provider_owner.id,
        provider_id=world.provider.id,
        category_id=world.offering.category_id,
        organization_id=world.consumer.id,
        project_id=world.project.id,
    )


def build_shop(rounding: Rounding) -> Shop:
    """The standard world, on a marketplace with its own ``rounding``."""
    return shop_of(build_world(rounding))


def static_offering(
    shop: Shop,
    components: Sequence[OfferingComponent],
    plans: Sequence[tuple[PlanUnit, Mapping[str, Decimal]]],
    *,
    amounts: Mapping[str, int] | None = None,
    name: str = "Instant",
) -> tuple[Offering, list[Plan]]:
    """An active offering of the ``static`` plugin (every order done at once), with plans."""
    market = shop.market
    offering = market.create_offering(
        shop.provider_owner_id,
        shop.provider_id,
        name,
        "static",
        category_id=shop.category_id,
        components=tuple(components),
    )
    made = [
        market.create_plan(
            shop.provider_owner_id,
            offering.id,
            f"Plan {index}",
            unit,
            prices=dict(prices),
            amounts=dict(amounts or {}),
        )
        for index, (unit, prices) in enumerate(plans)
    ]
    return market.activate_offering(shop.staff_id, offering.id), made


def activate(
    shop: Shop,
    at: datetime,
    offering_id: str,
    plan_id: str,
    *,
    limits: Mapping[str, int] | None = None,
    project_id: str | None = None,
) -> Resource:
    """A resource ordered and activated at ``at``."""
    shop.clock.set(at)
    order = shop.market.order_resource(
        shop.owner_id,
        project_id or shop.project_id,
        offering_id,
        plan_id,
        "Resource",
        limits=dict(limits or {}),
    )
    resource = shop.market.get_resource(order.resource_id)
    assert (resource.state, resource.activated_at) == (ResourceState.OK, at)
    return resource


def switch(shop: Shop, resource_id: str, plan_id: str, at: datetime) -> None:
    shop.clock.set(at)
    order = shop.market.order_plan_switch(shop.owner_id, resource_id, plan_id)
    assert order.state is OrderState.DONE
    assert shop.market.get_resource(resource_id).plan_id == plan_id


def terminate(shop: Shop, resource_id: str, at: datetime) -> None:
    shop.clock.set(at)
    shop.market.order_termination(shop.owner_id, resource_id)
    resource = shop.market.get_resource(resource_id)
    assert (resource.state, resource.terminated_at) == (ResourceState.TERMINATED, at)


def fixed_items(shop: Shop, month: date) -> list[InvoiceItem]:
    """The fixed items of ``month`` of the shop's only resource, in the order written."""
    (resource,) = shop.market.list_resources(shop.project_id)
    return [
        item
        for item in shop.market.list_resource_items(resource.id)
        if item.kind is ItemKind.FIXED and item.month == month
    ]


# --------------------------------------------------------------------------- 1. proration


@st.composite
def live_intervals(draw: st.DrawFn) -> tuple[date, datetime, datetime]:
    """A month, and an activation before a termination, both in it."""
    month = draw(st.sampled_from(MONTHS))
    activation, termination = draw(instants_in(month, 2))
    return month, activation, termination


def charge_for(
    shop: Shop, interval: tuple[date, datetime, datetime], price: Decimal, amount: int
) -> Decimal:
    """The fixed charge of a resource on a month-unit plan (``price`` for ``amount`` of the
    fixed component) that lives over ``interval``."""
    month, activation, termination = interval
    offering, (plan,) = static_offering(
        shop, (BASE,), [(PlanUnit.MONTH, {"base": price})], amounts={"base": amount}
    )
    resource = activate(shop, activation, offering.id, plan.id)
    terminate(shop, resource.id, termination)
    charged = [i for i in shop.market.list_resource_items(resource.id) if i.kind is ItemKind.FIXED]
    assert [(item.month, item.open) for item in charged] == [(month, False)]
    return charged[0].price


@settings(max_examples=100)
@given(interval=live_intervals(), price=PRICES, amount=st.integers(1, 4))
def test_a_monthly_fixed_charge_is_prorated_by_the_days_touched_rounded_up(interval, price, amount):
    month, activation, termination = interval
    charged = charge_for(shop_of(build_world()), interval, price, amount)

    unit_price = price * amount
    live_days = days_touched(activation, termination)
    exact = Fraction(unit_price) * live_days / days_in(month)
    # The fraction is rounded up to 2 places (< 0.01 more), the price up to the cent.
    assert exact <= Fraction(charged) <= exact + Fraction(unit_price) * CENT + CENT
    if live_days == days_in(month):
        assert charged == unit_price  # a full month is exactly 1 month


EXACT = Rounding(fraction_places=10, price_mode=ROUND_HALF_EVEN)


@settings(max_examples=60)
@given(interval=live_intervals(), price=PRICES, amount=st.integers(1, 4))
def test_with_exact_proration_a_monthly_fixed_charge_is_within_half_a_cent(interval, price, amount):
    month, activation, termination = interval
    charged = charge_for(build_shop(EXACT), interval, price, amount)

    unit_price = price * amount
    exact = Fraction(unit_price) * days_touched(activation, termination) / days_in(month)
    # The fraction is rounded up at the 10th place; then half-even to the cent.
    slack = CENT / 2 + Fraction(unit_price) / 10**10
    assert abs(Fraction(charged) - exact) <= slack


# --------------------------------------------------------------------------- 2. plan switches

DAY_SLOT_UNITS = (PlanUnit.DAY, PlanUnit.MONTH, PlanUnit.HALF_MONTH)


@attrs.frozen
class SwitchScenario:
    month: date
    plans: tuple[tuple[PlanUnit, Decimal], ...]
    activation: datetime
    billing_run: bool
    """Whether the billing run opens the month (only when activated the month before)."""
    path: tuple[int, ...]
    """The plan activated on, then the plan each switch goes to (never the current one)."""
    switches: tuple[datetime, ...]
    termination: datetime | None


@st.composite
def switch_scenarios(draw: st.DrawFn, *, mixed: bool = False) -> SwitchScenario:
    """Plans of one slot size (hours, or days), or with ``mixed`` of both."""
    if mixed:
        units = st.sampled_from((PlanUnit.HOUR, *DAY_SLOT_UNITS))
    elif draw(st.booleans()):
        units = st.just(PlanUnit.HOUR)
    else:
        units = st.sampled_from(DAY_SLOT_UNITS)
    plans = draw(st.lists(st.tuples(units, PRICES), min_size=2, max_size=4))
    month = draw(st.sampled_from(MONTHS[1:]))
    before = draw(st.booleans())
    count = draw(st.integers(1, 5))
    terminated = draw(st.booleans())
    instants = draw(instants_in(month, count + terminated + (not before)))
    activation = draw(instant_in(previous_month(month))) if before else instants.pop(0)
    termination = instants.pop() if terminated else None
    path = [draw(st.integers(0, len(plans) - 1))]
    for _ in range(count):
        path.append((path[-1] + draw(st.integers(1, len(plans) - 1))) % len(plans))
    return SwitchScenario(
        month=month,
        plans=tuple(plans),
        activation=activation,
        billing_run=before and draw(st.booleans()),
        path=tuple(path),
        switches=tuple(instants),
        termination=termination,
    )


def play_switches(shop: Shop, scenario: SwitchScenario) -> list[Plan]:
    """Activate, switch and maybe terminate as ``scenario`` says; returns the plans."""
    offering, plans = static_offering(
        shop, (BASE,), [(unit, {"base": price}) for unit, price in scenario.plans]
    )
    resource = activate(shop, scenario.activation, offering.id, plans[scenario.path[0]].id)
    if scenario.billing_run:
        shop.clock.set(first_instant(scenario.month))
        shop.market.run_billing()
    for at, index in zip(scenario.switches, scenario.path[1:], strict=True):
        switch(shop, resource.id, plans[index].id, at)
    if scenario.termination is not None:
        terminate(shop, resource.id, scenario.termination)
    return plans


@settings(max_examples=60)
@given(scenario=switch_scenarios())
def test_the_fixed_items_of_a_month_cover_its_live_time_exactly_once_across_plan_switches(
    scenario: SwitchScenario,
):
    shop = shop_of(build_world())
    month = scenario.month
    plans = play_switches(shop, scenario)

    items = fixed_items(shop, month)
    live_from = max(scenario.activation, first_instant(month))
    live_to = scenario.termination or first_instant(next_month(month))

    # One item per plan lived on, in order, meeting where the switches happened.
    assert [item.plan_id for item in items] == [plans[index].id for index in scenario.path]
    assert items[0].start == live_from
    assert items[-1].end == live_to
    for earlier, later, at in zip(items[:-1], items[1:], scenario.switches, strict=True):
        assert earlier.end == later.start == at
        # The slot of a switch goes to the later plan.
        assert earlier.billed_to == later.billed_from == floor_to(at, later.unit)
    assert items[0].billed_from == floor_to(live_from, items[0].unit)
    if scenario.termination is None:
        assert items[-1].billed_to == live_to
    else:  # the slot of a termination goes to the ending item
        assert items[-1].billed_to == ceil_to(scenario.termination, items[-1].unit)
    assert [item.open for item in items] == [False] * (len(items) - 1) + [
        scenario.termination is None
    ]
    assert all(i.start <= i.end and i.billed_from <= i.billed_to for i in items)

    # Billed slots: every slot the live time touches, each billed by exactly one item.
    step = slot_length(items[0].unit)
    billed = Counter(at for item in items for at in slots(item.billed_from, item.billed_to, step))
    touched = slots(floor_to(live_from, items[0].unit), live_to, step)
    assert billed == Counter(touched)
    for item in items:
        if item.unit in (PlanUnit.HOUR, PlanUnit.DAY):  # counted in whole slots
            assert item.quantity == len(slots(item.billed_from, item.billed_to, step))


MIXED_SAME_DAY = SwitchScenario(
    month=date(2026, 3, 1),
    plans=((PlanUnit.HOUR, Decimal(1)), (PlanUnit.DAY, Decimal(1))),
    activation=datetime(2026, 3, 5, 10, 30, tzinfo=UTC),
    billing_run=False,
    path=(0, 1),
    switches=(datetime(2026, 3, 5, 12, 10, tzinfo=UTC),),
    termination=None,
)
"""Hourly from 10:30, daily from 12:10 the same day: the daily item is billed from 10:00 (not a
day boundary) and its 26 whole days leave out 5 March, which no item bills."""


@settings(max_examples=30)
@example(scenario=MIXED_SAME_DAY)
@given(scenario=switch_scenarios(mixed=True))
def test_switches_between_hourly_and_daily_plans_bill_every_live_hour_once(
    scenario: SwitchScenario,
):
    shop = shop_of(build_world())
    play_switches(shop, scenario)

    items = fixed_items(shop, scenario.month)
    live_from = max(scenario.activation, first_instant(scenario.month))
    month_end = first_instant(next_month(scenario.month))
    live_to = scenario.termination or month_end
    for item in items:
        # Each item bills whole slots of its own unit, and its quantity counts them.
        assert floor_to(item.billed_from, item.unit) == item.billed_from
        assert floor_to(item.billed_to, item.unit) == item.billed_to
        step = slot_length(item.unit)
        if item.unit in (PlanUnit.HOUR, PlanUnit.DAY):
            assert item.quantity == len(slots(item.billed_from, item.billed_to, step))
    hours = Counter(at for i in items for at in slots(i.billed_from, i.billed_to, ONE_HOUR))
    assert set(hours.values()) <= {1}  # no hour billed twice
    billed = sorted(hours)
    assert billed == slots(billed[0], billed[-1] + ONE_HOUR, ONE_HOUR)  # one stretch
    assert set(slots(floor_to(live_from, PlanUnit.HOUR), live_to, ONE_HOUR)) <= set(billed)
    # A daily plan may bill the whole day of a change, never more.
    assert billed[0] >= floor_to(live_from, PlanUnit.DAY)
    ending = month_end if scenario.termination is None else ceil_to(live_to, PlanUnit.DAY)
    assert billed[-1] < ending


# --------------------------------------------------------------------------- 3. termination

COMPONENT_TYPES = ("base", "storage", "setup", "cpu")
ALL_COMPONENTS = (CPU, STORAGE, SETUP, BASE)
SOME_PRICES = st.one_of(st.just(Decimal(0)), PRICES)


@st.composite
def plan_specs(draw: st.DrawFn) -> tuple[PlanUnit, Mapping[str, Decimal]]:
    """A plan unit, and a price (often zero) for each of base, storage, setup and cpu."""
    unit = draw(st.sampled_from(list(PlanUnit)))
    return unit, {component: draw(SOME_PRICES) for component in COMPONENT_TYPES}


@attrs.frozen
class TerminationScenario:
    plan: tuple[PlanUnit, Mapping[str, Decimal]]
    storage: int
    activation: datetime
    runs_before: tuple[datetime, ...]
    """Billing runs while the resource lives (at the start of later months)."""
    usage: Decimal | None
    """Usage of cpu reported just before the termination."""
    termination: datetime
    runs_after: tuple[datetime, ...]
    """Billing runs in the months after the termination, one a month."""


@st.composite
def termination_scenarios(draw: st.DrawFn) -> TerminationScenario:
    month = draw(st.sampled_from(MONTHS[:-7]))
    lived = draw(st.integers(0, 2))  # months between activation and termination
    if lived == 0:
        activation, termination = draw(instants_in(month, 2))
    else:
        activation = draw(instant_in(month))
        last = month
        for _ in range(lived):
            last = next_month(last)
        termination = draw(instant_in(last))
    runs_before = []
    during = month
    while during < month_of(termination):
        during = next_month(during)
        if draw(st.booleans()):
            runs_before.append(first_instant(during))
    runs_after = []
    after = month_of(termination)
    for _ in range(draw(st.integers(1, 3))):
        after = next_month(after)
        runs_after.append(draw(instant_in(after)))
    # A priced fixed component, so every month lived has an item (for resources that bill
    # nothing slot by slot, see test_a_resource_without_slot_charges_...).
    unit, prices = draw(plan_specs())
    return TerminationScenario(
        plan=(unit, {**prices, "base": draw(PRICES)}),
        storage=draw(st.integers(1, 1000)),
        activation=activation,
        runs_before=tuple(runs_before),
        usage=draw(st.none() | AMOUNTS),
        termination=termination,
        runs_after=tuple(runs_after),
    )


def live_and_terminate(shop: Shop, scenario: TerminationScenario) -> list[InvoiceItem]:
    """Play ``scenario`` to its last billing run; returns the resource's items."""
    market = shop.market
    offering, (plan,) = static_offering(shop, ALL_COMPONENTS, [scenario.plan])
    resource = activate(
        shop, scenario.activation, offering.id, plan.id, limits={"storage": scenario.storage}
    )
    for at in scenario.runs_before:
        shop.clock.set(at)
        market.run_billing()
    if scenario.usage is not None:
        shop.clock.set(scenario.termination)
        market.report_usage(
            shop.provider_owner_id, resource.id, "cpu", scenario.usage, idempotency_key="cpu"
        )
    terminate(shop, resource.id, scenario.termination)
    for at in scenario.runs_after:
        shop.clock.set(at)
        market.run_billing()
    return list(market.list_resource_items(resource.id))


@settings(max_examples=60)
@given(scenario=termination_scenarios())
def test_a_terminated_resource_gets_no_item_after_its_termination(
    scenario: TerminationScenario,
):
    shop = shop_of(build_world())
    items = live_and_terminate(shop, scenario)

    ended = scenario.termination
    for item in items:
        assert item.month <= month_of(ended)
        assert item.start <= ended
        assert item.end <= ended
        if item.kind in (ItemKind.FIXED, ItemKind.LIMIT):
            assert item.billed_to <= ceil_to(ended, item.unit)
        if item.month == month_of(ended):
            assert not item.open  # (earlier months: see the test below)
    # The test bites: the fixed component was billed for every month the resource lived.
    fixed_months = {item.month for item in items if item.kind is ItemKind.FIXED}
    month = month_of(scenario.activation)
    while month <= month_of(ended - ONE_MICROSECOND):
        assert month in fixed_months
        month = next_month(month)
    # The month of the termination was closed by the first run after it.
    invoice = shop.market.find_invoice(shop.organization_id, month_of(ended))
    assert invoice is not None
    assert invoice.state is InvoiceState.CREATED


EARLIER_MONTH_LEFT_OPEN = TerminationScenario(
    plan=(
        PlanUnit.DAY,
        {"base": Decimal(2), "storage": Decimal(0), "setup": Decimal(0), "cpu": Decimal(0)},
    ),
    storage=1,
    activation=datetime(2026, 2, 10, 12, tzinfo=UTC),
    runs_before=(datetime(2026, 3, 1, tzinfo=UTC),),
    usage=None,
    termination=datetime(2026, 3, 20, tzinfo=UTC),
    runs_after=(datetime(2026, 4, 2, tzinfo=UTC),),
)


@settings(max_examples=20)
@example(scenario=EARLIER_MONTH_LEFT_OPEN)
@given(scenario=termination_scenarios())
def test_the_open_items_of_a_terminated_resource_are_whole_earlier_months(
    scenario: TerminationScenario,
):
    items = live_and_terminate(shop_of(build_world()), scenario)

    # Open means "ran to the end of its month" (InvoiceItem.open): after the termination
    # only items of earlier months can be open, and each of them ends with its month.
    for item in items:
        if item.open:
            assert item.month < month_of(scenario.termination)
            assert item.end == datetime.combine(next_month(item.month), time(), UTC)


@attrs.frozen
class IdleScenario:
    unit: PlanUnit
    activation: datetime
    runs: tuple[datetime, ...]
    """One billing run in each month after the activation's (at least two)."""
    usage: Decimal


@st.composite
def idle_scenarios(draw: st.DrawFn) -> IdleScenario:
    month = draw(st.sampled_from(MONTHS[:-6]))
    activation = draw(instant_in(month))
    runs = []
    for _ in range(draw(st.integers(2, 4))):
        month = next_month(month)
        runs.append(draw(instant_in(month)))
    return IdleScenario(
        unit=draw(st.sampled_from(list(PlanUnit))),
        activation=activation,
        runs=tuple(runs),
        usage=draw(AMOUNTS),
    )


IDLE_FOR_TWO_MONTHS = IdleScenario(
    unit=PlanUnit.MONTH,
    activation=datetime(2026, 2, 10, tzinfo=UTC),
    runs=(
        datetime(2026, 3, 1, 1, tzinfo=UTC),
        datetime(2026, 4, 1, 1, tzinfo=UTC),
        datetime(2026, 5, 1, 1, tzinfo=UTC),
    ),
    usage=Decimal(3),
)
"""A usage-only resource, activated 10 February, that reports nothing until 1 May: the May
run skips the organization with ``period_closed``, and usage and termination are refused."""


@settings(max_examples=10)
@example(scenario=IDLE_FOR_TWO_MONTHS)
@given(scenario=idle_scenarios())
def test_a_resource_without_slot_charges_is_billed_reported_and_terminated_months_later(
    scenario: IdleScenario,
):
    shop = shop_of(build_world())
    market = shop.market
    offering, (plan,) = static_offering(shop, (CPU,), [(scenario.unit, {"cpu": Decimal(1)})])
    resource = activate(shop, scenario.activation, offering.id, plan.id)
    for at in scenario.runs:
        shop.clock.set(at)
        report = market.run_billing()
        assert report.skipped == ()
        ended = market.find_invoice(shop.organization_id, previous_month(month_of(at)))
        assert ended is not None
        assert ended.state is InvoiceState.CREATED

    market.report_usage(
        shop.provider_owner_id, resource.id, "cpu", scenario.usage, idempotency_key="late"
    )
    (usage,) = [i for i in market.list_resource_items(resource.id) if i.kind is ItemKind.USAGE]
    assert (usage.month, usage.quantity) == (month_of(scenario.runs[-1]), scenario.usage)
    terminate(shop, resource.id, scenario.runs[-1])


# --------------------------------------------------------------------------- 4. usage replays


@attrs.frozen
class UsageHistory:
    month: date
    activation: datetime
    reports: tuple[tuple[datetime, str, Decimal, str, bool], ...]
    """``(when, component, month-to-date amount, description, month given explicitly)``."""
    replays: tuple[int, ...]
    """Which reports are sent again, in this order (repeats allowed)."""
    batch: bool
    replay_at: datetime


@st.composite
def usage_histories(draw: st.DrawFn) -> UsageHistory:
    month = draw(st.sampled_from(MONTHS))
    count = draw(st.integers(1, 6))
    activation, *moments, replay_at = draw(instants_in(month, count + 2))
    reports = tuple(
        (
            at,
            draw(st.sampled_from(("cpu", "storage"))),
            draw(AMOUNTS),
            draw(st.sampled_from(("", "nightly"))),
            draw(st.booleans()),
        )
        for at in moments
    )
    return UsageHistory(
        month=month,
        activation=activation,
        reports=reports,
        replays=tuple(draw(st.lists(st.integers(0, count - 1), max_size=8))),
        batch=draw(st.booleans()),
        replay_at=replay_at,
    )


@settings(max_examples=60)
@given(history=usage_histories())
def test_replaying_accepted_usage_reports_changes_nothing_and_answers_the_originals(
    history: UsageHistory,
):
    shop = shop_of(build_world())
    market = shop.market
    offering, (plan,) = static_offering(
        shop,
        (CPU, STORAGE, BASE),
        [(PlanUnit.MONTH, {"cpu": Decimal("0.05"), "storage": Decimal("0.10"), "base": 100})],
    )
    resource = activate(shop, history.activation, offering.id, plan.id, limits={"storage": 10})
    accepted = []
    for index, (at, component, amount, description, explicit) in enumerate(history.reports):
        shop.clock.set(at)
        accepted.append(
            market.report_usage(
                shop.provider_owner_id,
                resource.id,
                component,
                amount,
                idempotency_key=f"report-{index}",
                month=history.month if explicit else None,
                description=description,
            )
        )
    items = market.list_resource_items(resource.id)
    reports = {c: market.list_usage_reports(resource.id, c) for c in ("cpu", "storage")}
    usage = market.current_usage(resource.id, history.month)
    # The test bites: the cpu usage item follows the latest cpu report.
    cpu = [amount for _, component, amount, _, _ in history.reports if component == "cpu"]
    usage_items = [item for item in items if item.kind is ItemKind.USAGE]
    assert [item.quantity for item in usage_items] == cpu[-1:]

    shop.clock.set(history.replay_at)
    lines = [
        UsageLine(
            resource.id,
            history.reports[index][1],
            history.reports[index][2],
            f"report-{index}",
            history.month,
            history.reports[index][3],
        )
        for index in history.replays
    ]
    if history.batch:
        answered = market.report_usages(shop.provider_owner_id, lines)
    else:
        answered = [
            market.report_usage(
                shop.provider_owner_id,
                line.resource_id,
                line.component_type,
                line.amount,
                idempotency_key=line.idempotency_key,
                month=line.month,
                description=line.description,
            )
            for line in lines
        ]

    assert answered == [accepted[index] for index in history.replays]
    assert market.list_resource_items(resource.id) == items
    assert {c: market.list_usage_reports(resource.id, c) for c in reports} == reports
    assert market.current_usage(resource.id, history.month) == usage


# --------------------------------------------------------------------------- a month of activity


@attrs.frozen
class Life:
    """One resource's month: activated, maybe reports cpu usage, maybe terminated."""

    offering: int
    project: int
    instants: tuple[datetime, ...]
    """The activation, then the usage report (if any), then the termination (if any)."""
    usage: Decimal | None
    terminated: bool


@attrs.frozen
class Activity:
    month: date
    plans: tuple[tuple[PlanUnit, Mapping[str, Decimal]], ...]
    """One offering (with one plan) per entry, all with components cpu, storage, setup, base."""
    lives: tuple[Life, ...]


@st.composite
def activities(draw: st.DrawFn) -> Activity:
    month = draw(st.sampled_from(MONTHS))
    plans = tuple(draw(st.lists(plan_specs(), min_size=1, max_size=2)))
    lives = []
    for _ in range(draw(st.integers(1, 4))):
        usage = draw(st.none() | AMOUNTS)
        terminated = draw(st.booleans())
        instants = draw(instants_in(month, 1 + (usage is not None) + terminated))
        lives.append(
            Life(
                offering=draw(st.integers(0, len(plans) - 1)),
                project=draw(st.integers(0, 1)),
                instants=tuple(instants),
                usage=usage,
                terminated=terminated,
            )
        )
    return Activity(month, plans, tuple(lives))


def second_project(shop: Shop) -> str:
    return shop.market.create_project(shop.staff_id, shop.organization_id, "Second").id


def offerings_for(shop: Shop, activity: Activity) -> list[tuple[Offering, Plan]]:
    made = []
    for index, spec in enumerate(activity.plans):
        offering, (plan,) = static_offering(shop, ALL_COMPONENTS, [spec], name=f"Offering {index}")
        made.append((offering, plan))
    return made


def live_through(
    shop: Shop,
    activity: Activity,
    offerings: Sequence[tuple[Offering, Plan]],
    projects: Sequence[str],
) -> list[str]:
    """Play the month's activity in time order; returns the resources' ids."""
    steps: list[tuple[datetime, int, int]] = []
    for number, life in enumerate(activity.lives):
        steps += [(at, number, phase) for phase, at in enumerate(life.instants)]
    ids: dict[int, str] = {}
    for at, number, phase in sorted(steps):
        life = activity.lives[number]
        if phase == 0:
            offering, plan = offerings[life.offering]
            resource = activate(
                shop,
                at,
                offering.id,
                plan.id,
                limits={"storage": 10},
                project_id=projects[life.project],
            )
            ids[number] = resource.id
        elif phase == 1 and life.usage is not None:
            shop.clock.set(at)
            shop.market.report_usage(
                shop.provider_owner_id,
                ids[number],
                "cpu",
                life.usage,
                idempotency_key=f"usage-{number}",
            )
        else:
            terminate(shop, ids[number], at)
    return [ids[number] for number in range(len(activity.lives))]


def month_items(shop: Shop, resource_ids: Sequence[str], month: date) -> set[str]:
    return {
        item.id
        for resource_id in resource_ids
        for item in shop.market.list_resource_items(resource_id)
        if item.month == month
    }


# --------------------------------------------------------------------------- 5. invoice totals

TAX_PERCENTS = st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=2)


@settings(max_examples=40)
@given(activity=activities(), tax=TAX_PERCENTS, later_tax=TAX_PERCENTS)
def test_an_invoice_totals_its_items_plus_tax_rounded_up_to_the_cent(
    activity: Activity, tax: Decimal, later_tax: Decimal
):
    shop = shop_of(build_world())
    market = shop.market
    projects = [shop.project_id, second_project(shop)]
    offerings = offerings_for(shop, activity)
    market.set_tax_percent(shop.staff_id, shop.organization_id, tax)
    resource_ids = live_through(shop, activity, offerings, projects)
    # A percentage set once the invoice is open is for later invoices.
    market.set_tax_percent(shop.staff_id, shop.organization_id, later_tax)
    pending = market.find_invoice(shop.organization_id, activity.month)
    assert pending is not None
    assert (pending.state, pending.tax_percent) == (InvoiceState.PENDING, tax)
    pending_totals = market.get_invoice_totals(pending.id)

    shop.clock.set(first_instant(next_month(activity.month)))
    market.run_billing()

    invoice = market.get_invoice(pending.id)
    items = market.list_invoice_items(invoice.id)
    assert {item.id for item in items} == month_items(shop, resource_ids, activity.month)
    price = sum((item.price for item in items), Decimal(0))
    tax_due = round_up_to_cent(Fraction(price) * Fraction(tax) / 100)
    assert invoice.state is InvoiceState.CREATED
    assert invoice.totals == InvoiceTotals(price, tax_due, price + tax_due)
    assert market.get_invoice_totals(invoice.id) == invoice.totals == pending_totals


# --------------------------------------------------------------------------- 6. credits

ORGANIZATION = "organization-1"
PROJECTS = ("project-1", "project-2", "project-3")
OFFERING_IDS = ("offering-1", "offering-2", "offering-3")
ITEM_MONTHS = (date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1))
END_DATES = st.none() | st.sampled_from((*ITEM_MONTHS, date(2026, 2, 14), date(2026, 1, 31)))
SIGNED_PRICES = st.decimals(min_value=Decimal(-100), max_value=Decimal(100), places=2)
BALANCES = st.decimals(min_value=Decimal(0), max_value=Decimal(300), places=2)
CHARGE_KINDS = [kind for kind in ItemKind if kind is not ItemKind.CREDIT]


def an_item(
    number: int, project_id: str, offering_id: str, month: date, price: Decimal, kind: ItemKind
) -> InvoiceItem:
    start = first_instant(month)
    return InvoiceItem(
        id=f"item-{number}",
        invoice_id=f"invoice-{month:%Y-%m}",
        organization_id=ORGANIZATION,
        project_id=project_id,
        resource_id=f"resource-{number}",
        offering_id=offering_id,
        plan_id=None,
        component_type="base",
        kind=kind,
        name=f"Item {number}",
        month=month,
        unit=PlanUnit.QUANTITY,
        unit_price=price,
        quantity=Decimal(1),
        price=price,
        start=start,
        end=start,
        billed_from=start,
        billed_to=start,
    )


@st.composite
def items_to_pay(draw: st.DrawFn) -> list[InvoiceItem]:
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(PROJECTS),
                st.sampled_from(OFFERING_IDS),
                st.sampled_from(ITEM_MONTHS),
                SIGNED_PRICES,
                st.sampled_from(CHARGE_KINDS),
            ),
            max_size=12,
        )
    )
    return [an_item(number, *row) for number, row in enumerate(rows)]


@st.composite
def a_credit(draw: st.DrawFn, credit_id: str, project_id: str | None) -> Credit:
    return Credit(
        id=credit_id,
        organization_id=ORGANIZATION,
        balance=draw(BALANCES),
        created_at=START,
        project_id=project_id,
        offering_ids=frozenset(draw(st.sets(st.sampled_from(OFFERING_IDS), max_size=2))),
        end_date=draw(END_DATES),
        use_organization_credit=draw(st.booleans()),
    )


@st.composite
def credit_sets(draw: st.DrawFn) -> list[Credit]:
    """At most one organization credit and one credit per project, in any order."""
    credits = []
    if draw(st.booleans()):
        credits.append(draw(a_credit("credit-organization", None)))
    for project_id in PROJECTS:
        if draw(st.booleans()):
            credits.append(draw(a_credit(f"credit-{project_id}", project_id)))
    return draw(st.permutations(credits))


def may_pay(credit: Credit, item: InvoiceItem) -> bool:
    """Whether ``credit`` may pay for ``item`` at all: its month starts by the credit's last
    day, its offering is one the credit is for, and it is the credit's project's."""
    return (
        (credit.end_date is None or first_instant(item.month).date() <= credit.end_date)
        and (not credit.offering_ids or item.offering_id in credit.offering_ids)
        and credit.project_id in (None, item.project_id)
    )


def sources_of(item: InvoiceItem, credits: Sequence[Credit]) -> list[Credit]:
    """The credits that pay for ``item``: its project's credit, then the organization's
    unless the project's credit forbids it."""
    own = next((c for c in credits if c.project_id == item.project_id), None)
    organization = next((c for c in credits if c.project_id is None), None)
    sources = [own] if own is not None and may_pay(own, item) else []
    falls_back = own is None or own.use_organization_credit
    if organization is not None and falls_back and may_pay(organization, item):
        sources.append(organization)
    return sources


def credit_lines(items: Sequence[InvoiceItem], allocation: CreditAllocation) -> list[InvoiceItem]:
    """The credit lines an issued invoice gets for ``allocation``."""
    by_id = {item.id: item for item in items}
    return [
        attrs.evolve(
            by_id[paid.item_id],
            id=f"credit-line-{number}",
            kind=ItemKind.CREDIT,
            unit_price=-paid.amount,
            quantity=Decimal(1),
            price=-paid.amount,
            details=FrozenMap({"compensates": paid.item_id, "credit_id": paid.credit_id}),
        )
        for number, paid in enumerate(allocation.compensations)
    ]


@given(items=items_to_pay(), credits=credit_sets())
def test_credits_pay_at_most_what_is_owed_and_paying_again_pays_nothing(
    items: list[InvoiceItem], credits: list[Credit]
):
    allocation = allocate_credits(items, credits)

    owed = max(sum((item.price for item in items), Decimal(0)), Decimal(0))
    by_item: defaultdict[str, Decimal] = defaultdict(Decimal)
    by_credit: defaultdict[str, Decimal] = defaultdict(Decimal)
    items_by_id = {item.id: item for item in items}
    for paid in allocation.compensations:
        item = items_by_id[paid.item_id]
        assert paid.amount > 0
        assert paid.amount == paid.amount.quantize(Decimal("0.01"))
        assert item.price > 0
        assert paid.credit_id in {credit.id for credit in sources_of(item, credits)}
        by_item[item.id] += paid.amount
        by_credit[paid.credit_id] += paid.amount
    assert allocation.total == sum(by_item.values(), Decimal(0)) <= owed
    assert all(by_item[item.id] <= max(item.price, Decimal(0)) for item in items)
    assert set(allocation.balances) == {credit.id for credit in credits}
    for credit in credits:
        assert allocation.balances[credit.id] == credit.balance - by_credit[credit.id] >= 0
    # Nothing was left unpaid that a credit could still have paid.
    if owed - allocation.total >= CENT:
        for item in items:
            if item.price - by_item[item.id] >= CENT:
                for credit in sources_of(item, credits):
                    assert allocation.balances[credit.id] < CENT

    lines = credit_lines(items, allocation)
    left = [attrs.evolve(c, balance=allocation.balances[c.id]) for c in credits]
    again = allocate_credits([*items, *lines], left)
    assert again.compensations == ()
    assert again.balances == allocation.balances


CreditChoice = tuple[Decimal, frozenset[int], int | None, bool] | None
"""``(balance, offerings it is limited to, end date, use the organization credit)``; the end
date is -1 (the day before the month), 0 (the month's first day), 1 (the next month) or
``None``."""


def credit_choices() -> st.SearchStrategy[CreditChoice]:
    return st.none() | st.tuples(
        BALANCES,
        st.frozensets(st.integers(0, 1), max_size=1),
        st.none() | st.integers(-1, 1),
        st.booleans(),
    )


@settings(max_examples=40)
@given(
    activity=activities(),
    choices=st.tuples(credit_choices(), credit_choices(), credit_choices()),
)
def test_credits_never_make_an_issued_invoice_negative(
    activity: Activity, choices: tuple[CreditChoice, CreditChoice, CreditChoice]
):
    shop = shop_of(build_world())
    market = shop.market
    projects = [shop.project_id, second_project(shop)]
    offerings = offerings_for(shop, activity)
    month = activity.month
    ends = {-1: month - ONE_DAY, 0: month, 1: next_month(month), None: None}
    for project_id, choice in zip([None, *projects], choices, strict=True):
        if choice is not None:
            balance, limited_to, end, fall_back = choice
            market.set_credit(
                shop.staff_id,
                shop.organization_id,
                balance,
                project_id=project_id,
                offering_ids=[offerings[i][0].id for i in limited_to if i < len(offerings)],
                end_date=ends[end],
                use_organization_credit=fall_back,
            )
    before = {credit.id: credit.balance for credit in market.list_credits(shop.organization_id)}
    resource_ids = live_through(shop, activity, offerings, projects)
    shop.clock.set(first_instant(next_month(month)))
    market.run_billing()

    invoice = market.find_invoice(shop.organization_id, month)
    assert invoice is not None
    assert invoice.state is InvoiceState.CREATED
    assert invoice.totals is not None
    items = market.list_invoice_items(invoice.id)
    charges = {item.id: item for item in items if item.kind is not ItemKind.CREDIT}
    lines = [item for item in items if item.kind is ItemKind.CREDIT]
    assert set(charges) == month_items(shop, resource_ids, month) - {i.id for i in lines}
    charged = sum((item.price for item in charges.values()), Decimal(0))
    paid = -sum((line.price for line in lines), Decimal(0))
    assert invoice.totals.price == charged - paid
    assert invoice.totals.total >= 0
    assert Decimal(0) <= paid <= max(charged, Decimal(0))
    by_item: defaultdict[str, Decimal] = defaultdict(Decimal)
    by_credit: defaultdict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        by_item[line.details["compensates"]] -= line.price
        by_credit[line.details["credit_id"]] -= line.price
    assert all(amount <= charges[item_id].price for item_id, amount in by_item.items())
    for credit in market.list_credits(shop.organization_id):
        assert credit.balance == before[credit.id] - by_credit[credit.id] >= 0
