"""No sequence of resource changes, usage reports and billing runs breaks the billing laws.

A Hypothesis state machine runs resources of one ``cloud`` offering (orders finish at once)
through their lives: it orders them on an hourly, a daily or a monthly plan, switches plans,
changes their core limit, reports month-to-date CPU usage (sometimes resending an old report),
terminates them, moves the clock by hours or days, and runs the billing.

After every step the machine checks:

* each item's price is its unit price × quantity under the rounding rule;
* in each month, the fixed items of a resource bill its live slots exactly once: sorted, their
  billed ranges meet end to start and run from the slot of the activation (or the month's
  start) to the slot of the termination (or the month's end);
* the core-limit items of a resource never bill a slot twice, and bill nothing after its
  termination;
* the usage items of a month add up to the month's last accepted report;
* a pending invoice's totals are its items' prices plus the tax by the rule, and an issued
  invoice and its items never change again.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from marketplace_core import (
    BillingType,
    InvoiceItem,
    InvoiceState,
    ItemKind,
    MarketplaceError,
    OfferingComponent,
    Plan,
    PlanUnit,
    Resource,
)
from marketplace_core.billing import DEFAULT_ROUNDING, add_months, month_of
from marketplace_core.billing.calendar import (
    Boundary,
    Slot,
    align,
    month_end,
    month_start,
)
from tests.support import World, build_world

BASE = OfferingComponent("base", "Base fee", BillingType.FIXED)
CORES = OfferingComponent("cores", "Cores", BillingType.LIMIT)
CPU = OfferingComponent("cpu", "CPU hours", BillingType.USAGE)
UNITS = (PlanUnit.HOUR, PlanUnit.DAY, PlanUnit.MONTH, PlanUnit.HALF_MONTH)


class BillingMachine(RuleBasedStateMachine):
    world: World
    plans: list[Plan]

    @initialize()
    def set_up(self) -> None:
        self.world = world = build_world()
        market = world.marketplace
        offering = world.new_offering(
            name="Metered", plugin_type="cloud", components=(BASE, CORES, CPU)
        )
        self.plans = [
            market.create_plan(
                world.provider_owner.id,
                offering.id,
                unit.value,
                unit,
                prices={"base": price, "cores": "0.5", "cpu": "0.02"},
            )
            for unit, price in zip(UNITS, ("0.1", "2", "31", "15.5"), strict=True)
        ]
        self.offering = market.activate_offering(world.staff.id, offering.id)
        market.set_tax_percent(world.staff.id, world.consumer.id, "7.5")
        self.resource_ids: list[str] = []
        self.reports: dict[tuple[str, date], list[tuple[str, Decimal]]] = {}
        self.issued: dict[str, tuple[InvoiceItem, ...]] = {}
        self.opened = date.min
        """The latest month a billing run opened."""

    # ------------------------------------------------------------------ helpers

    def live(self) -> list[Resource]:
        market = self.world.marketplace
        resources = [market.get_resource(r) for r in self.resource_ids]
        return [r for r in resources if r.terminated_at is None]

    def attempt(self, what: str, command: Any, *args: Any, **kwargs: Any) -> None:
        note(f"{self.world.clock.now():%Y-%m-%d %H:%M} {what}")
        try:
            command(*args, **kwargs)
        except MarketplaceError as error:
            note(f"  -> refused: {error.code}")

    # ------------------------------------------------------------------ rules

    @precondition(lambda self: len(self.live()) < 3)
    @rule(plan=st.integers(0, len(UNITS) - 1), cores=st.integers(0, 6))
    def order(self, plan: int, cores: int) -> None:
        world = self.world
        note(f"{world.clock.now():%Y-%m-%d %H:%M} order on {UNITS[plan].value}, {cores} cores")
        order = world.order(
            offering_id=self.offering.id, plan_id=self.plans[plan].id, limits={"cores": cores}
        )
        self.resource_ids.append(order.resource_id)

    @rule(hours=st.one_of(st.integers(1, 30), st.integers(100, 800)))
    def time_passes(self, hours: int) -> None:
        self.world.clock.advance(timedelta(hours=hours, minutes=17))

    @precondition(lambda self: bool(self.live()))
    @rule(data=st.data(), plan=st.integers(0, len(UNITS) - 1))
    def switch_plan(self, data: st.DataObject, plan: int) -> None:
        resource = data.draw(st.sampled_from(self.live()), label="resource")
        self.attempt(
            f"switch {resource.id} to {UNITS[plan].value}",
            self.world.marketplace.order_plan_switch,
            self.world.owner.id,
            resource.id,
            self.plans[plan].id,
        )

    @precondition(lambda self: bool(self.live()))
    @rule(data=st.data(), cores=st.integers(0, 6))
    def change_cores(self, data: st.DataObject, cores: int) -> None:
        resource = data.draw(st.sampled_from(self.live()), label="resource")
        self.attempt(
            f"set {resource.id} to {cores} cores",
            self.world.marketplace.order_limit_change,
            self.world.owner.id,
            resource.id,
            {"cores": cores},
        )

    @precondition(lambda self: bool(self.live()))
    @rule(data=st.data(), more=st.integers(0, 50))
    def report_cpu(self, data: st.DataObject, more: int) -> None:
        resource = data.draw(st.sampled_from(self.live()), label="resource")
        month = month_of(self.world.clock.now())
        history = self.reports.setdefault((resource.id, month), [])
        amount = (history[-1][1] if history else Decimal(0)) + more
        key = f"{resource.id}-{month:%Y-%m}-{len(history)}"
        note(f"{self.world.clock.now():%Y-%m-%d %H:%M} report {amount} cpu on {resource.id}")
        try:
            self.world.marketplace.report_usage(
                self.world.provider_owner.id, resource.id, "cpu", amount, idempotency_key=key
            )
        except MarketplaceError as error:
            note(f"  -> refused: {error.code}")
            return
        history.append((key, amount))

    @precondition(lambda self: bool(self.reports))
    @rule(data=st.data())
    def resend_a_report(self, data: st.DataObject) -> None:
        (resource_id, month), history = data.draw(
            st.sampled_from(sorted(item for item in self.reports.items() if item[1])),
            label="month",
        )
        key, amount = data.draw(st.sampled_from(history), label="report")
        self.attempt(
            f"resend {key}",
            self.world.marketplace.report_usage,
            self.world.provider_owner.id,
            resource_id,
            "cpu",
            amount,
            idempotency_key=key,
            month=month,
        )

    @precondition(lambda self: bool(self.live()))
    @rule(data=st.data())
    def terminate(self, data: st.DataObject) -> None:
        resource = data.draw(st.sampled_from(self.live()), label="resource")
        self.attempt(
            f"terminate {resource.id}",
            self.world.marketplace.order_termination,
            self.world.owner.id,
            resource.id,
        )

    @rule()
    def run_billing(self) -> None:
        self.attempt("run the billing", self.world.marketplace.run_billing)
        self.opened = month_of(self.world.clock.now())
        market = self.world.marketplace
        for invoice in market.list_invoices(self.world.consumer.id):
            if invoice.state is not InvoiceState.PENDING and invoice.id not in self.issued:
                self.issued[invoice.id] = tuple(market.list_invoice_items(invoice.id))

    # ------------------------------------------------------------------ laws

    def items_of(self, resource_id: str, component: str) -> list[InvoiceItem]:
        return [
            item
            for item in self.world.marketplace.list_resource_items(resource_id)
            if item.component_type == component and item.kind is not ItemKind.CREDIT
        ]

    @invariant()
    def prices_follow_the_rounding_rule(self) -> None:
        for resource_id in self.resource_ids:
            for item in self.world.marketplace.list_resource_items(resource_id):
                assert item.price == DEFAULT_ROUNDING.price(item.unit_price, item.quantity)

    @invariant()
    def fixed_items_bill_the_live_slots_exactly_once(self) -> None:
        market = self.world.marketplace
        now = self.world.clock.now()
        for resource_id in self.resource_ids:
            resource = market.get_resource(resource_id)
            if resource.activated_at is None:
                continue
            by_month: dict[date, list[InvoiceItem]] = {}
            for item in self.items_of(resource_id, "base"):
                by_month.setdefault(item.month, []).append(item)
            first_month = month_of(resource.activated_at)
            last_month = month_of(resource.terminated_at or now)
            month = first_month
            while month <= last_month:
                items = sorted(
                    (i for i in by_month.get(month, []) if i.billed_to > i.billed_from),
                    key=lambda i: i.billed_from,
                )
                if not items:  # not opened yet: no event and no run since the month began
                    assert month > self.opened, f"the run left {month:%Y-%m} unbilled"
                    assert not any(m > month for m in by_month), f"{month:%Y-%m} skipped"
                    month = add_months(month, 1)
                    continue
                first = [month_start(month)]
                if month == first_month:
                    first = _slot_edges(resource.activated_at, Boundary.LATER)
                last = [month_end(month)]
                if resource.terminated_at is not None and month == last_month:
                    last = _slot_edges(resource.terminated_at, Boundary.EARLIER)
                _assert_contiguous(items, first, last)
                month = add_months(month, 1)

    @invariant()
    def limit_items_never_bill_a_slot_twice(self) -> None:
        for resource_id in self.resource_ids:
            resource = self.world.marketplace.get_resource(resource_id)
            billed = sorted(
                (i.billed_from, i.billed_to)
                for i in self.items_of(resource_id, "cores")
                if i.billed_to > i.billed_from
            )
            for (_, end), (start, _) in itertools.pairwise(billed):
                assert end <= start, f"{resource_id} bills cores twice from {start}"
            ended = resource.terminated_at
            if ended is not None and billed:
                assert billed[-1][1] <= align(ended, Slot.DAY, Boundary.EARLIER)

    @invariant()
    def usage_items_add_up_to_the_last_report(self) -> None:
        for (resource_id, month), history in self.reports.items():
            if not history:
                continue
            quantities = [i.quantity for i in self.items_of(resource_id, "cpu") if i.month == month]
            assert sum(quantities, Decimal(0)) == history[-1][1]

    @invariant()
    def pending_totals_are_prices_plus_tax(self) -> None:
        market = self.world.marketplace
        for invoice in market.list_invoices(self.world.consumer.id):
            totals = market.get_invoice_totals(invoice.id)
            prices = sum((i.price for i in market.list_invoice_items(invoice.id)), Decimal(0))
            assert totals.price == prices
            assert totals.tax == DEFAULT_ROUNDING.price(prices, invoice.tax_percent / 100)
            assert totals.total == totals.price + totals.tax

    @invariant()
    def issued_invoices_never_change(self) -> None:
        market = self.world.marketplace
        for invoice_id, items in self.issued.items():
            assert tuple(market.list_invoice_items(invoice_id)) == items


def _slot_edges(moment: datetime, boundary: Boundary) -> list[datetime]:
    """Where billing may start (or stop) for a change at ``moment``: the edge of its hour,
    or of its day (a daily plan bills the whole day, and so does an hourly plan that a
    switch on that day handed the day to)."""
    return [align(moment, Slot.HOUR, boundary), align(moment, Slot.DAY, boundary)]


def _assert_contiguous(
    items: Sequence[InvoiceItem], first: list[datetime], last: list[datetime]
) -> None:
    assert items[0].billed_from in first, (items[0].billed_from, first)
    for earlier, later in itertools.pairwise(items):
        assert earlier.billed_to == later.billed_from, (earlier.billed_to, later.billed_from)
    assert items[-1].billed_to in last, (items[-1].billed_to, last)


BillingMachine.TestCase.settings = settings(
    BillingMachine.TestCase.settings, max_examples=60, stateful_step_count=30
)
test_billing_machine = BillingMachine.TestCase
