"""Invoice items: one priced line of an organization's monthly invoice.

An item bills one component of one resource (or compensates one with credit) for a stretch
of one month: ``[start, end)`` are the instants it covers, ``[billed_from, billed_to)`` the
whole slots it charges for (see :mod:`marketplace_core.billing.calendar`). ``price`` is
always ``rounding.price(unit_price, quantity)``; a refund has a negative ``unit_price``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from marketplace_core.frozen import EMPTY_JSON
from marketplace_core.offerings import PlanUnit


class ItemKind(enum.StrEnum):
    """What an item charges for (the billing types, plus credit compensation)."""

    FIXED = "fixed"
    USAGE = "usage"
    LIMIT = "limit"
    ONE_TIME = "one-time"
    ON_PLAN_SWITCH = "on-plan-switch"
    CREDIT = "credit"


TIME_BASED_KINDS = frozenset({ItemKind.FIXED, ItemKind.LIMIT})
"""Kinds whose month items follow the resource's live time slot by slot (limit items with a
month period; quarter, annual and total limits are billed per period instead)."""


@attrs.frozen
class InvoiceItem:
    """One line of an invoice.

    ``month`` is the billing month (its first day) and ``invoice_id`` the organization's
    invoice for it. ``details`` holds what a reader needs to understand the line: the limit
    it was computed from, the period of a period limit, the item a credit compensates.
    """

    id: str
    invoice_id: str
    organization_id: str
    project_id: str
    resource_id: str
    offering_id: str
    plan_id: str | None
    component_type: str
    kind: ItemKind
    name: str
    month: date
    unit: PlanUnit
    unit_price: Decimal
    quantity: Decimal
    price: Decimal
    start: datetime
    end: datetime
    billed_from: datetime
    billed_to: datetime
    open: bool = False
    """Whether the item runs to the end of its month, following the resource: a plan switch,
    a limit change or the termination within the month closes it (and sets ``end``). Open
    items of a past month ran to its end and are complete; a late usage report for that
    month updates its open usage item."""
    details: Mapping[str, Any] = EMPTY_JSON
    version: int = 0
