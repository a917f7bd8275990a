"""Invoices: one per organization and billing month, with tax and totals.

An invoice is ``pending`` while its month is being billed (items are still written to it);
the billing run of a later month applies credits and issues it (``created``); staff mark it
``paid``, or ``canceled``. Totals of a pending invoice are computed from its items on read;
an issued invoice keeps the totals it was issued with.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

import attrs

from marketplace_core.billing.items import InvoiceItem
from marketplace_core.billing.quantities import Rounding
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.lifecycle import Lifecycle, Transition
from marketplace_core.money import ZERO


class InvoiceState(enum.StrEnum):
    """Where an invoice is in its life."""

    PENDING = "pending"
    CREATED = "created"
    PAID = "paid"
    CANCELED = "canceled"


class InvoiceEvent(enum.StrEnum):
    """What moves an invoice between states."""

    ISSUE = "issue"
    PAY = "pay"
    CANCEL = "cancel"


INVOICE_LIFECYCLE: Lifecycle[InvoiceState, InvoiceEvent] = Lifecycle(
    "invoice",
    InvoiceState,
    InvoiceEvent,
    InvoiceState.PENDING,
    [
        Transition(InvoiceEvent.ISSUE, (InvoiceState.PENDING,), InvoiceState.CREATED),
        Transition(InvoiceEvent.PAY, (InvoiceState.CREATED,), InvoiceState.PAID),
        Transition(InvoiceEvent.CANCEL, (InvoiceState.CREATED,), InvoiceState.CANCELED),
    ],
)
"""``pending → created → paid``; an issued (created) invoice can be canceled instead."""


@attrs.frozen
class InvoiceTotals:
    """An invoice's sums: ``price`` = Σ item prices, ``tax`` = ``price`` × tax percent ÷ 100
    rounded by the price rule, ``total`` = ``price + tax``."""

    price: Decimal
    tax: Decimal
    total: Decimal


def invoice_totals(
    items: Iterable[InvoiceItem], tax_percent: Decimal, rounding: Rounding
) -> InvoiceTotals:
    """The totals of an invoice with these items and this tax percentage."""
    price = rounding.price(sum((item.price for item in items), ZERO), Decimal(1))
    tax = rounding.price(price, tax_percent / 100)
    return InvoiceTotals(price, tax, price + tax)


@attrs.frozen
class Invoice:
    """An organization's invoice for ``month`` (the month's first day).

    ``tax_percent`` is copied from the organization when the invoice is opened. ``totals`` is
    set when the invoice is issued (``None`` while pending).
    """

    id: str
    organization_id: str
    month: date
    created_at: datetime
    tax_percent: Decimal = ZERO
    state: InvoiceState = InvoiceState.PENDING
    issued_at: datetime | None = None
    paid_at: datetime | None = None
    canceled_at: datetime | None = None
    totals: InvoiceTotals | None = None
    version: int = 0

    def fire(self, event: InvoiceEvent) -> Invoice:
        """The invoice after ``event``; raises when the current state forbids it."""
        return INVOICE_LIFECYCLE.fire(self, event)


def is_month_closed(invoice: Invoice | None) -> bool:
    """Whether an organization's month is closed: its invoice was issued (no invoice yet:
    the month is open)."""
    return invoice is not None and invoice.state is not InvoiceState.PENDING


def check_month_open(invoice: Invoice | None) -> None:
    """Refuse to charge or report into a month whose invoice was already issued."""
    if invoice is not None and is_month_closed(invoice):
        raise ValidationError(
            ErrorCode.PERIOD_CLOSED,
            f"the invoice of organization {invoice.organization_id!r} for "
            f"{invoice.month:%Y-%m} is {invoice.state.value}; its month is closed to new "
            "charges and usage reports",
            organization_id=invoice.organization_id,
            month=invoice.month.isoformat(),
        )
