"""Invoices, by example: one per organization and month, the billing run that issues them,
tax, payment and cancellation, and the credits applied when an invoice is issued.

The world starts on 2026-01-15 09:30 UTC. ``world.live_basic()`` activated then bills in
January: storage 10 GB x 0.55 (17 of 31 days, rounded up) x 0.10 = 0.55, set-up 50.00 and
base 100 x 0.55 = 55.00; 105.55 in all. A whole February bills base 100.00 + storage
10 x 1 x 0.10 = 1.00 = 101.00.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from marketplace_core import (
    ErrorCode,
    InvalidTransitionError,
    Invoice,
    InvoiceItem,
    InvoiceState,
    InvoiceTotals,
    ItemKind,
    MarketplaceError,
    OrderState,
    PermissionDeniedError,
    Resource,
    ValidationError,
)
from marketplace_core.marketplace import BillingReport
from tests.support import World, snapshot

JAN = date(2026, 1, 1)
FEB = date(2026, 2, 1)
MAR = date(2026, 3, 1)

JANUARY_PRICE = Decimal("105.55")  # 0.55 + 50.00 + 55.00
FEBRUARY_PRICE = Decimal("101.00")  # 100.00 + 1.00


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def invoice_of(world: World, month: date, organization_id: str | None = None) -> Invoice:
    invoice = world.marketplace.find_invoice(organization_id or world.consumer.id, month)
    assert invoice is not None
    return invoice


def issued_totals(world: World, month: date) -> InvoiceTotals:
    """The totals an issued invoice of the consumer was stored with."""
    totals = invoice_of(world, month).totals
    assert totals is not None
    return totals


def credit_lines(world: World, invoice: Invoice) -> list[InvoiceItem]:
    return [
        item
        for item in world.marketplace.list_invoice_items(invoice.id)
        if item.kind is ItemKind.CREDIT
    ]


def live_basic_in(world: World, project_id: str) -> Resource:
    """A live basic resource in another project, ordered by staff."""
    market = world.marketplace
    order = world.order(actor=world.staff, project_id=project_id)
    if order.state is OrderState.PENDING_PROVIDER:
        market.approve_order_as_provider(world.provider_owner.id, order.id)
    market.resource_creation_succeeded(world.provider_owner.id, order.resource_id)
    return market.get_resource(order.resource_id)


def issue_january(world: World) -> BillingReport:
    """The February run (on 1 February 00:30), which issues January."""
    world.clock.set(at(2, 1, 0, 30))
    return world.marketplace.run_billing()


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


# --------------------------------------------------------------------------- invoices


def test_one_invoice_per_organization_and_month(world: World):
    market = world.marketplace
    basic = world.live_basic()
    vm = world.live_vm()
    other = market.create_organization(world.staff.id, "College")
    lab = market.create_project(world.staff.id, other.id, "Lab")
    theirs = live_basic_in(world, lab.id)

    (ours,) = market.list_invoices(world.consumer.id)
    (their_invoice,) = market.list_invoices(other.id)
    assert (ours.month, their_invoice.month) == (JAN, JAN)
    assert ours.id != their_invoice.id
    # Both of our resources bill on our one invoice; theirs on theirs.
    for item in market.list_resource_items(basic.id) + market.list_resource_items(vm.id):
        assert item.invoice_id == ours.id
    assert {i.invoice_id for i in market.list_resource_items(theirs.id)} == {their_invoice.id}

    issue_january(world)
    assert [i.month for i in market.list_invoices(world.consumer.id)] == [JAN, FEB]
    assert [i.month for i in market.list_invoices(other.id)] == [JAN, FEB]


def test_the_run_issues_earlier_months_and_opens_the_current_one(world: World):
    world.live_basic()
    report = issue_january(world)
    january = invoice_of(world, JAN)
    february = invoice_of(world, FEB)

    assert (report.month, report.issued, report.organizations) == (
        FEB,
        (january.id,),
        (world.consumer.id,),
    )
    assert (january.state, january.issued_at) == (InvoiceState.CREATED, at(2, 1, 0, 30))
    assert january.totals == InvoiceTotals(JANUARY_PRICE, Decimal("0.00"), JANUARY_PRICE)
    # Stored totals are what the query answers.
    assert world.marketplace.get_invoice_totals(january.id) == january.totals

    assert (february.state, february.totals, february.created_at) == (
        InvoiceState.PENDING,
        None,
        at(2, 1, 0, 30),
    )
    # The pending February invoice: 100.00 + 1.00.
    assert world.marketplace.get_invoice_totals(february.id).price == FEBRUARY_PRICE


def test_running_the_billing_twice_changes_nothing(world: World):
    world.live_basic()
    issue_january(world)
    before = snapshot(world.storage)
    report = world.marketplace.run_billing()
    assert report.issued == ()
    assert snapshot(world.storage) == before


def test_a_run_for_a_month_that_has_not_started_is_refused(world: World):
    world.live_basic()
    refused(
        world,
        ErrorCode.INVALID_VALUE,
        ValidationError,
        lambda: world.marketplace.run_billing(FEB),
    )


def test_a_run_for_a_closed_month_is_refused(world: World):
    world.live_basic()
    issue_january(world)
    refused(
        world,
        ErrorCode.PERIOD_CLOSED,
        ValidationError,
        lambda: world.marketplace.run_billing(JAN),
    )


def test_the_tax_percent_is_copied_when_the_invoice_opens(world: World):
    market = world.marketplace
    market.set_tax_percent(world.staff.id, world.consumer.id, "2")
    world.live_basic()
    market.set_tax_percent(world.staff.id, world.consumer.id, "20")
    january = invoice_of(world, JAN)
    assert january.tax_percent == Decimal(2)  # opened at 2%, unaffected by the change

    issue_january(world)
    january = invoice_of(world, JAN)
    # 105.55 x 2% = 2.111 -> up to the cent -> 2.12; total 105.55 + 2.12 = 107.67.
    assert january.totals == InvoiceTotals(JANUARY_PRICE, Decimal("2.12"), Decimal("107.67"))
    # February opened after the change: 101.00 x 20% = 20.20, total 121.20.
    february = invoice_of(world, FEB)
    assert february.tax_percent == Decimal(20)
    assert market.get_invoice_totals(february.id) == InvoiceTotals(
        FEBRUARY_PRICE, Decimal("20.20"), Decimal("121.20")
    )


@pytest.mark.parametrize("percent", ["100.01", "101", -1, "-0.5"], ids=str)
def test_a_tax_percent_outside_0_to_100_is_refused(world: World, percent: Any):
    refused(
        world,
        ErrorCode.INVALID_VALUE,
        ValidationError,
        lambda: world.marketplace.set_tax_percent(world.staff.id, world.consumer.id, percent),
    )


def test_the_tax_percent_bounds_are_accepted(world: World):
    market = world.marketplace
    assert market.set_tax_percent(world.staff.id, world.consumer.id, 100).tax_percent == 100
    assert market.set_tax_percent(world.staff.id, world.consumer.id, "0").tax_percent == 0


# --------------------------------------------------------------------------- payment


def test_an_issued_invoice_is_marked_paid(world: World):
    world.live_basic()
    issue_january(world)
    world.clock.set(at(2, 5, 9))
    paid = world.marketplace.mark_invoice_paid(world.staff.id, invoice_of(world, JAN).id)
    assert (paid.state, paid.paid_at) == (InvoiceState.PAID, at(2, 5, 9))
    assert invoice_of(world, JAN) == paid


def test_an_issued_invoice_is_canceled(world: World):
    world.live_basic()
    issue_january(world)
    world.clock.set(at(2, 5, 9))
    canceled = world.marketplace.cancel_invoice(world.staff.id, invoice_of(world, JAN).id)
    assert (canceled.state, canceled.canceled_at) == (InvoiceState.CANCELED, at(2, 5, 9))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (None, "pay"),  # still pending
        (None, "cancel"),
        ("pay", "pay"),
        ("pay", "cancel"),
        ("cancel", "pay"),
        ("cancel", "cancel"),
    ],
)
def test_invalid_invoice_transitions_are_refused(world: World, first: str | None, second: str):
    market = world.marketplace
    world.live_basic()
    issue_january(world)
    command = {"pay": market.mark_invoice_paid, "cancel": market.cancel_invoice}
    invoice = invoice_of(world, FEB) if first is None else invoice_of(world, JAN)
    if first is not None:
        command[first](world.staff.id, invoice.id)
    refused(
        world,
        ErrorCode.INVALID_TRANSITION,
        InvalidTransitionError,
        lambda: command[second](world.staff.id, invoice.id),
    )


@pytest.mark.parametrize("who", ["owner", "provider_owner", "project_manager", "outsider"])
def test_only_staff_manage_invoices_tax_and_credits(world: World, who: str):
    market = world.marketplace
    world.live_basic()
    issue_january(world)
    actor = getattr(world, who).id
    january = invoice_of(world, JAN).id
    for attempt in (
        lambda: market.mark_invoice_paid(actor, january),
        lambda: market.cancel_invoice(actor, january),
        lambda: market.set_tax_percent(actor, world.consumer.id, "10"),
        lambda: market.set_credit(actor, world.consumer.id, "100"),
    ):
        refused(world, ErrorCode.PERMISSION_DENIED, PermissionDeniedError, attempt)


# --------------------------------------------------------------------------- credits


def test_an_organization_credit_pays_the_cheapest_items_first(world: World):
    market = world.marketplace
    world.live_basic()
    credit = market.set_credit(world.staff.id, world.consumer.id, "52")
    issue_january(world)
    january = invoice_of(world, JAN)
    lines = credit_lines(world, january)
    paid = {i.id: i for i in market.list_invoice_items(january.id)}
    # Cheapest first: storage 0.55 in full (51.45 left), set-up 50.00 in full (1.45 left),
    # then 1.45 of base 55.00.
    assert [(paid[line.details["compensates"]].component_type, line.price) for line in lines] == [
        ("storage", Decimal("-0.55")),
        ("setup", Decimal("-50.00")),
        ("base", Decimal("-1.45")),
    ]
    for line in lines:
        assert (line.kind, line.quantity, line.unit_price) == (ItemKind.CREDIT, 1, line.price)
        assert line.details["credit_id"] == credit.id
    # 105.55 - 52.00 = 53.55; the credit is used up, not negative.
    assert january.totals is not None
    assert january.totals.price == Decimal("53.55")
    assert [c.balance for c in market.list_credits(world.consumer.id)] == [Decimal("0.00")]


def test_a_credit_larger_than_the_invoice_keeps_its_rest_for_later_months(world: World):
    market = world.marketplace
    world.live_basic()
    market.set_credit(world.staff.id, world.consumer.id, "200")
    issue_january(world)
    # January: 105.55 paid, invoice 0.00, 200 - 105.55 = 94.45 left.
    assert invoice_of(world, JAN).totals == InvoiceTotals(
        Decimal("0.00"), Decimal("0.00"), Decimal("0.00")
    )
    assert [c.balance for c in market.list_credits(world.consumer.id)] == [Decimal("94.45")]

    world.clock.set(at(3, 1, 0, 30))
    market.run_billing()
    # February: 101.00 - 94.45 = 6.55 left to pay, and the balance stops at 0.
    assert invoice_of(world, FEB).totals == InvoiceTotals(
        Decimal("6.55"), Decimal("0.00"), Decimal("6.55")
    )
    assert [c.balance for c in market.list_credits(world.consumer.id)] == [Decimal("0.00")]
    assert sum(line.price for line in credit_lines(world, invoice_of(world, FEB))) == Decimal(
        "-94.45"
    )


def test_a_project_credit_pays_first_then_the_organization_credit(world: World):
    market = world.marketplace
    world.live_basic()
    organization = market.set_credit(world.staff.id, world.consumer.id, "100")
    project = market.set_credit(
        world.staff.id, world.consumer.id, "30", project_id=world.project.id
    )
    issue_january(world)
    lines = credit_lines(world, invoice_of(world, JAN))
    # storage 0.55 from the project (29.45 left); set-up 50.00: 29.45 from the project, the
    # other 20.55 from the organization (79.45 left); base 55.00 from the organization.
    assert [(line.details["credit_id"], line.price) for line in lines] == [
        (project.id, Decimal("-0.55")),
        (project.id, Decimal("-29.45")),
        (organization.id, Decimal("-20.55")),
        (organization.id, Decimal("-55.00")),
    ]
    balances = {c.id: c.balance for c in market.list_credits(world.consumer.id)}
    # Organization: 100 - 20.55 - 55.00 = 24.45; project: 30 - 30 = 0.
    assert balances == {organization.id: Decimal("24.45"), project.id: Decimal("0.00")}
    assert issued_totals(world, JAN).price == Decimal("0.00")


def test_a_project_credit_without_fallback_leaves_the_organization_credit_alone(world: World):
    market = world.marketplace
    world.live_basic()
    second = market.create_project(world.staff.id, world.consumer.id, "Second")
    live_basic_in(world, second.id)
    organization = market.set_credit(world.staff.id, world.consumer.id, "200")
    market.set_credit(
        world.staff.id,
        world.consumer.id,
        "30",
        project_id=world.project.id,
        use_organization_credit=False,
    )
    issue_january(world)
    # Two resources, 2 x 105.55 = 211.10. The first project's items get only their project
    # credit, 30; the second project's 105.55 come from the organization credit (200 ->
    # 94.45), which pays nothing of the first project's 75.55 still owed.
    assert issued_totals(world, JAN).price == Decimal("75.55")
    balances = {c.project_id: c.balance for c in market.list_credits(world.consumer.id)}
    assert balances == {None: Decimal("94.45"), world.project.id: Decimal("0.00")}
    paid_by_organization = [
        line
        for line in credit_lines(world, invoice_of(world, JAN))
        if line.details["credit_id"] == organization.id
    ]
    assert {line.project_id for line in paid_by_organization} == {second.id}


def test_a_credit_limited_to_offerings_pays_only_their_items(world: World):
    market = world.marketplace
    world.live_basic()
    vm = world.live_vm()
    market.set_credit(world.staff.id, world.consumer.id, "1000", offering_ids=[vm.offering_id])
    issue_january(world)
    lines = credit_lines(world, invoice_of(world, JAN))
    # The VM bills ram 1 GB x 17 days x 0.01 = 0.17 and set-up 5.00: 5.17 paid, and none of
    # the basic resource's 105.55.
    assert [line.price for line in lines] == [Decimal("-0.17"), Decimal("-5.00")]
    assert {line.offering_id for line in lines} == {vm.offering_id}
    assert [c.balance for c in market.list_credits(world.consumer.id)] == [Decimal("994.83")]
    assert issued_totals(world, JAN).price == JANUARY_PRICE


def test_an_expired_credit_pays_nothing(world: World):
    market = world.marketplace
    world.live_basic()
    market.set_credit(world.staff.id, world.consumer.id, "50", end_date=date(2025, 12, 31))
    issue_january(world)
    assert credit_lines(world, invoice_of(world, JAN)) == []
    assert [c.balance for c in market.list_credits(world.consumer.id)] == [Decimal(50)]
    assert issued_totals(world, JAN).price == JANUARY_PRICE


def test_a_credit_ending_on_the_first_day_of_the_month_still_pays_it(world: World):
    market = world.marketplace
    world.live_basic()
    market.set_credit(world.staff.id, world.consumer.id, "50", end_date=JAN)
    issue_january(world)
    # 0.55, then 49.45 of the 50.00 set-up fee: 105.55 - 50 = 55.55.
    assert [line.price for line in credit_lines(world, invoice_of(world, JAN))] == [
        Decimal("-0.55"),
        Decimal("-49.45"),
    ]
    assert issued_totals(world, JAN).price == Decimal("55.55")


def test_a_credit_for_a_project_of_another_organization_is_refused(world: World):
    market = world.marketplace
    other = market.create_organization(world.staff.id, "College")
    lab = market.create_project(world.staff.id, other.id, "Lab")
    refused(
        world,
        ErrorCode.INVALID_VALUE,
        ValidationError,
        lambda: market.set_credit(world.staff.id, world.consumer.id, "10", project_id=lab.id),
    )


def test_canceling_an_issued_invoice_gives_its_credit_back(world: World):
    world.live_basic()
    world.marketplace.set_credit(world.staff.id, world.consumer.id, "30")
    world.clock.set(at(2, 1, 0, 30))
    world.marketplace.run_billing()
    # January's 105.55 took the whole 30.00 credit.
    assert world.marketplace.list_credits(world.consumer.id)[0].balance == Decimal(0)
    world.marketplace.cancel_invoice(world.staff.id, invoice_of(world, JAN).id)
    credit = world.marketplace.list_credits(world.consumer.id)[0]
    assert credit.balance == Decimal("30.00")
    given_back = [r.event for r in world.events.events if r.event.event_type == "CreditApplied"][-1]
    assert given_back.amount < 0  # type: ignore[attr-defined]
