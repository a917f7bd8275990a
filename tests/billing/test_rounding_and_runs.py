"""The rounding setting, the unit quantities as pure functions, and a billing run that meets
a refusal for one organization."""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace_core import (
    BillingType,
    ConflictError,
    ErrorCode,
    FixedClock,
    InMemoryStorage,
    Marketplace,
    OfferingComponent,
    PlanUnit,
    PluginRegistry,
    Rounding,
    SequentialIdGenerator,
    UsageLine,
    ValidationError,
)
from marketplace_core.billing.calendar import add_months, month_end, month_start
from marketplace_core.billing.quantities import unit_quantity
from marketplace_core.events import DomainEvent, InvoiceOpened, RecordedEvent
from marketplace_core.services import catalogue
from marketplace_core.testing import InstantProcessor
from tests.support import World

EXACT = Rounding(fraction_places=10, price_mode=decimal.ROUND_HALF_EVEN)
MONTHS = st.integers(0, 35).map(lambda n: add_months(date(2025, 1, 1), n))


@pytest.mark.parametrize(
    "settings",
    [
        {"price_places": -1},
        {"price_places": 11},
        {"price_places": True},
        {"fraction_places": "2"},
        {"price_mode": "UP"},
        {"fraction_mode": None},
    ],
    ids=str,
)
def test_a_malformed_rounding_is_refused(settings: dict[str, Any]):
    with pytest.raises(ValidationError) as refused:
        Rounding(**settings)
    assert refused.value.code is ErrorCode.INVALID_VALUE
    assert next(iter(settings)) in refused.value.message


def test_the_marketplace_takes_only_a_rounding():
    with pytest.raises(ValidationError) as refused:
        Marketplace(rounding="up")  # type: ignore[arg-type]
    assert refused.value.fields["field"] == "rounding"


def test_prices_round_away_from_zero_to_the_cent_by_default():
    rounding = Rounding()
    # 3 x 0.333 = 0.999 -> 1.00; a refund of the same rounds to -1.00, away from zero too.
    assert rounding.price(Decimal("0.333"), Decimal(3)) == Decimal("1.00")
    assert rounding.price(Decimal("-0.333"), Decimal(3)) == Decimal("-1.00")
    # 16 of 30 days is 0.5333... -> 0.54; a whole month is exactly 1.
    assert rounding.fraction(16, 30) == Decimal("0.54")
    assert rounding.fraction(30, 30) == Decimal(1)
    # Ten places (still rounded up) and prices half-even: 2 x 1.005 = 2.01.
    assert EXACT.fraction(16, 30) == Decimal("0.5333333334")
    assert EXACT.price(Decimal("1.005"), Decimal(2)) == Decimal("2.01")


@given(month=MONTHS)
def test_a_whole_month_is_one_unit_of_each_kind(month: date):
    start, end = month_start(month), month_end(month)
    days = (end - start).days
    expected = {
        PlanUnit.MONTH: Decimal(1),
        PlanUnit.QUANTITY: Decimal(1),
        PlanUnit.HALF_MONTH: Decimal(2),
        PlanUnit.DAY: Decimal(days),
        PlanUnit.HOUR: Decimal(days * 24),
    }
    for unit, quantity in expected.items():
        assert unit_quantity(unit, month, start, end, Rounding()) == quantity


@given(month=MONTHS, first=st.integers(0, 30), length=st.integers(0, 31))
def test_day_based_quantities_count_the_days_billed(month: date, first: int, length: int):
    start, end = month_start(month), month_end(month)
    days_in_month = (end - start).days
    first = min(first, days_in_month)
    billed_from = start.replace(day=first + 1) if first < days_in_month else end
    days = min(length, days_in_month - first)
    billed_to = datetime.fromordinal(billed_from.toordinal() + days).replace(tzinfo=UTC)
    assert unit_quantity(PlanUnit.DAY, month, billed_from, billed_to, EXACT) == days
    month_share = unit_quantity(PlanUnit.MONTH, month, billed_from, billed_to, EXACT)
    assert abs(month_share - Decimal(days) / days_in_month) < Decimal("1e-10")
    halves = unit_quantity(PlanUnit.HALF_MONTH, month, billed_from, billed_to, EXACT)
    assert 0 <= halves <= 2
    assert (halves == 0) == (days == 0)


class ConflictOnce(InMemoryStorage):
    """In-memory storage where another writer wins once: the first unit of work that opens
    ``organization_id``'s invoice meets a stale version at commit."""

    def __init__(self, organization_id: str) -> None:
        super().__init__()
        self.organization_id = organization_id
        self.armed = False

    def _commit(self, staged: Iterable[Any], events: Sequence[DomainEvent]) -> list[RecordedEvent]:
        opened = {e.organization_id for e in events if isinstance(e, InvoiceOpened)}
        if self.armed and self.organization_id in opened:
            self.armed = False
            raise ConflictError(ErrorCode.STALE_VERSION, "another writer got there first")
        return super()._commit(staged, events)


def test_a_refused_organization_is_skipped_and_billed_by_the_next_run():
    clock = FixedClock(datetime(2026, 1, 15, 9, 30, tzinfo=UTC))
    storage = ConflictOnce("")
    plugins = PluginRegistry()
    plugins.register("static", InstantProcessor())
    market = Marketplace(storage, clock=clock, ids=SequentialIdGenerator(), plugins=plugins)
    root = market.bootstrap_staff_user("root")
    payer = market.create_organization(root.id, "Payer")
    other = market.create_organization(root.id, "Other")
    provider = market.create_organization(root.id, "Provider")
    market.register_provider(root.id, provider.id)
    category = market.create_category(root.id, "HPC")
    fee = OfferingComponent("base", "Base fee", BillingType.FIXED)
    offering = market.create_offering(
        root.id, provider.id, "Cluster", "static", category_id=category.id, components=(fee,)
    )
    plan = market.create_plan(root.id, offering.id, "P", PlanUnit.MONTH, prices={"base": 10})
    market.activate_offering(root.id, offering.id)
    for organization in (payer, other):
        project = market.create_project(root.id, organization.id, "P")
        market.order_resource(root.id, project.id, offering.id, plan.id, "r")
    storage.organization_id = payer.id

    clock.set(datetime(2026, 2, 1, 0, 30, tzinfo=UTC))
    storage.armed = True
    first = market.run_billing()
    # The payer's unit of work met a concurrent writer: skipped, the other was billed.
    assert (first.skipped, first.organizations) == (((payer.id, "stale_version"),), (other.id,))
    assert market.find_invoice(payer.id, date(2026, 2, 1)) is None
    second = market.run_billing()
    assert (second.skipped, second.organizations) == ((), (payer.id, other.id))
    assert market.find_invoice(payer.id, date(2026, 2, 1)) is not None


def test_a_batch_line_must_be_a_usage_line(world: World):
    resource = world.live_basic()
    with pytest.raises(ValidationError) as refused:
        world.marketplace.report_usages(
            world.provider_owner.id,
            [UsageLine(resource.id, "cpu", 1, "a"), ("cpu", 2)],  # type: ignore[list-item]
        )
    assert refused.value.fields["field"] == "lines[1]"


def test_the_largest_price_times_the_largest_limit_is_billed_exactly(world: World):
    """With 28 significant digits the product raised decimal.InvalidOperation when it was
    rounded to the cent; prices are computed with 60."""
    market = world.marketplace
    offering, _ = world.cloud_offering()
    price = Decimal("99999999999999999.99")
    plan = market.create_plan(
        world.provider_owner.id, offering.id, "Huge", PlanUnit.MONTH, prices={"ram": price}
    )
    order = world.order(offering_id=offering.id, plan_id=plan.id, limits={"ram": 10**15})
    (item,) = [i for i in market.list_resource_items(order.resource_id) if i.price]
    with decimal.localcontext(prec=60):
        expected = (price * item.quantity).quantize(Decimal("0.01"), decimal.ROUND_UP)
    assert item.price == expected
    assert item.price > Decimal(10) ** 28


def test_an_amount_too_large_to_compute_is_refused_and_changes_nothing(world: World):
    """The last guard: a decimal error in any command is a ValidationError, and the unit of
    work is dropped."""
    market = world.marketplace
    before = (len(market.events()), market.list_categories())

    def overflowing(ctx: Any) -> object:
        catalogue.create_category(ctx, world.staff.id, "Staged, then dropped")
        return Decimal("9e999999") * 10

    with pytest.raises(ValidationError) as refused:
        market._run(overflowing)
    assert refused.value.code is ErrorCode.INVALID_VALUE
    assert "too large to compute exactly (Overflow)" in refused.value.message
    assert (len(market.events()), market.list_categories()) == before
