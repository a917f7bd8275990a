"""Credits: prepaid balances that pay for invoice items when an invoice is issued.

An organization may hold one organization credit, and each of its projects one project
credit. They are separate balances: a project's items are paid from its project credit
first, then (when ``use_organization_credit``) from the organization credit; items of
projects without a project credit are paid from the organization credit. A credit may be
limited to some offerings, and may end: it pays for invoices of months that start on or
before its ``end_date``.

:func:`allocate_credits` is the one computation: the billing run applies its result when it
issues an invoice, and a policy can call it to ask what credit would cover of a month so far.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal

import attrs

from marketplace_core.billing.items import InvoiceItem, ItemKind
from marketplace_core.money import ZERO


@attrs.frozen
class Credit:
    """A prepaid balance of an organization (``project_id`` is ``None``) or of one project.

    ``offering_ids`` limits it to items of those offerings (empty: any). ``end_date`` is the
    last day of its validity (inclusive; ``None``: no end).
    """

    id: str
    organization_id: str
    balance: Decimal
    created_at: datetime
    project_id: str | None = None
    offering_ids: frozenset[str] = frozenset()
    end_date: date | None = None
    use_organization_credit: bool = True
    version: int = 0

    def pays_for(self, item: InvoiceItem) -> bool:
        """Whether this credit may pay for ``item`` at all (ignoring its balance)."""
        if self.end_date is not None and item.month > self.end_date:
            return False
        if self.offering_ids and item.offering_id not in self.offering_ids:
            return False
        return self.project_id is None or self.project_id == item.project_id


@attrs.frozen
class Compensation:
    """``amount`` of ``credit_id`` pays for (part of) item ``item_id``."""

    item_id: str
    credit_id: str
    amount: Decimal


@attrs.frozen
class CreditAllocation:
    """What a set of credits pays for an invoice's items, and the balances left."""

    compensations: tuple[Compensation, ...]
    balances: Mapping[str, Decimal]
    """Every credit's balance after paying (credits that paid nothing keep theirs)."""

    @property
    def total(self) -> Decimal:
        """The amount the credits pay in all."""
        return sum((c.amount for c in self.compensations), ZERO)


def compensated_item_ids(items: Iterable[InvoiceItem]) -> frozenset[str]:
    """The ids of items that credit lines among ``items`` already compensate."""
    return frozenset(item.details["compensates"] for item in items if item.kind is ItemKind.CREDIT)


def allocate_credits(
    items: Sequence[InvoiceItem], credits: Iterable[Credit], *, places: int = 2
) -> CreditAllocation:
    """What ``credits`` pay for ``items``, cheapest item first; a pure function.

    Every payment is a whole number of ``places`` decimal places (rounded down), so a credit
    line's price is exactly the amount paid.

    Items with a positive price that no credit line among ``items`` compensates yet are paid
    in ascending price (then id) order: each from its project's credit first, then from the
    organization credit when the project credit allows it (or when the project has none).
    A balance never goes below zero, an item is never paid beyond its price, and credits
    never pay more than the invoice's net price (refund lines included), so the invoice's
    price never drops below zero. Allocating again over the items with the
    resulting credit lines added pays nothing more.
    """
    credits = list(credits)
    balances = {credit.id: credit.balance for credit in credits}
    organization = next((c for c in credits if c.project_id is None), None)
    by_project = {c.project_id: c for c in credits if c.project_id is not None}
    done = compensated_item_ids(items)
    payable = sorted(
        (i for i in items if i.kind is not ItemKind.CREDIT and i.price > 0 and i.id not in done),
        key=lambda item: (item.price, item.id),
    )
    step = Decimal(1).scaleb(-places)
    budget = max(sum((item.price for item in items), ZERO), ZERO)
    compensations: list[Compensation] = []
    for item in payable:
        owed = item.price
        sources: list[Credit] = []
        own = by_project.get(item.project_id)
        if own is not None and own.pays_for(item):
            sources.append(own)
        falls_back = own is None or own.use_organization_credit
        if organization is not None and falls_back and organization.pays_for(item):
            sources.append(organization)
        for credit in sources:
            paid = min(owed, balances[credit.id], budget).quantize(step, ROUND_DOWN)
            if paid > 0:
                balances[credit.id] -= paid
                owed -= paid
                budget -= paid
                compensations.append(Compensation(item.id, credit.id, paid))
    return CreditAllocation(tuple(compensations), balances)
