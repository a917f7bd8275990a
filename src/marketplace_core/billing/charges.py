"""Building invoice items from a resource, its plan and the moment something happened.

These are pure functions: :class:`Charging` carries what every item of one resource in one
month shares, and each function returns new or closed items for the service layer to store.
The rules they implement are written out in ``docs/billing.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from marketplace_core.billing.calendar import (
    limit_period_bounds,
    midnight,
    month_end,
)
from marketplace_core.billing.items import InvoiceItem, ItemKind
from marketplace_core.billing.quantities import (
    Rounding,
    clean_quantity,
    unit_quantity,
    whole_days,
)
from marketplace_core.frozen import EMPTY_JSON, FrozenMap, replace
from marketplace_core.offerings import (
    BillingType,
    LimitPeriod,
    Offering,
    OfferingComponent,
    Plan,
    PlanUnit,
)
from marketplace_core.resources import Resource

PERIOD_LIMITS = frozenset({LimitPeriod.QUARTER, LimitPeriod.ANNUAL})
"""Limit periods billed up front for the whole period rather than slot by slot."""


def effective_prices(plan: Plan, month: date) -> Mapping[str, Decimal]:
    """The plan's prices in ``month``: scheduled future prices count from their month on."""
    if (
        plan.future_prices is not None
        and plan.future_prices_from is not None
        and month >= plan.future_prices_from
    ):
        return {**plan.prices, **plan.future_prices}
    return plan.prices


def limit_period_of(component: OfferingComponent) -> LimitPeriod:
    """How a limit component is billed: per month unless its period says otherwise."""
    return component.limit_period or LimitPeriod.MONTH


def is_time_based(component: OfferingComponent) -> bool:
    """Whether a component is billed slot by slot over the resource's live time."""
    if component.billing_type is BillingType.FIXED:
        return True
    return (
        component.billing_type is BillingType.LIMIT
        and limit_period_of(component) is LimitPeriod.MONTH
    )


@attrs.frozen
class Charging:
    """What the items of one resource in one month share.

    ``new_id`` makes item ids. ``plan`` is the plan the items bill (``None``: no charges).
    """

    resource: Resource
    organization_id: str
    offering: Offering
    plan: Plan | None
    month: date
    invoice_id: str
    rounding: Rounding
    new_id: Callable[[], str]

    @property
    def prices(self) -> Mapping[str, Decimal]:
        """The plan's prices in this month (none without a plan)."""
        return effective_prices(self.plan, self.month) if self.plan is not None else {}

    def item(
        self,
        component: OfferingComponent,
        kind: ItemKind,
        *,
        unit: PlanUnit,
        unit_price: Decimal,
        quantity: Decimal,
        start: datetime,
        end: datetime,
        billed_from: datetime | None = None,
        billed_to: datetime | None = None,
        open: bool = False,
        details: Mapping[str, Any] = EMPTY_JSON,
        item_id: str | None = None,
    ) -> InvoiceItem:
        """A new item of this resource in this month, priced by the rounding rule (with a
        fresh id unless ``item_id`` is given)."""
        quantity = clean_quantity(quantity)
        plan = self.plan
        return InvoiceItem(
            id=self.new_id() if item_id is None else item_id,
            invoice_id=self.invoice_id,
            organization_id=self.organization_id,
            project_id=self.resource.project_id,
            resource_id=self.resource.id,
            offering_id=self.offering.id,
            plan_id=plan.id if plan is not None else None,
            component_type=component.type,
            kind=kind,
            name=self.name_of(component.name, kind),
            month=self.month,
            unit=unit,
            unit_price=unit_price,
            quantity=quantity,
            price=self.rounding.price(unit_price, quantity),
            start=start,
            end=end,
            billed_from=start if billed_from is None else billed_from,
            billed_to=end if billed_to is None else billed_to,
            open=open,
            details=details,
        )

    @staticmethod
    def limit_units(component: OfferingComponent, limit: int) -> Decimal:
        """A limit in the component's price unit (the limit ÷ the component's factor)."""
        return clean_quantity(Decimal(limit) / component.factor)

    def name_of(self, component_name: str, kind: ItemKind) -> str:
        """An item's name: the resource and the component, with the offering and plan for
        everything but usage."""
        if kind is ItemKind.USAGE:
            return f"{self.resource.name} / {component_name}"
        plan_name = self.plan.name if self.plan is not None else "no plan"
        return f"{self.resource.name} ({self.offering.name} / {plan_name}) / {component_name}"

    def restamp(self, item: InvoiceItem, component_name: str, item_id: str) -> InvoiceItem:
        """A new item ``item_id`` like ``item`` (of another resource on the same plan, limits
        and month), for this resource."""
        return replace(
            item,
            id=item_id,
            invoice_id=self.invoice_id,
            organization_id=self.organization_id,
            project_id=self.resource.project_id,
            resource_id=self.resource.id,
            name=self.name_of(component_name, item.kind),
        )

    # ------------------------------------------------------------------ slot by slot

    def time_items(
        self,
        start: datetime,
        billed_from: datetime,
        not_before: Mapping[str, datetime] = EMPTY_JSON,
    ) -> list[InvoiceItem]:
        """Open items for every priced fixed component and every set monthly limit, from
        ``start`` to the end of the month, billing the slots from ``billed_from`` (or, for a
        component in ``not_before``, from there if it is later)."""
        items = []
        for component in self.offering.components:
            if is_time_based(component):
                first = max(billed_from, not_before.get(component.type, billed_from))
                item = self.time_item(component, start, first)
                if item is not None:
                    items.append(item)
        return items

    def time_item(
        self, component: OfferingComponent, start: datetime, billed_from: datetime
    ) -> InvoiceItem | None:
        """An open item for one fixed or monthly limit component from ``start``, billing the
        slots from ``billed_from`` (``None`` when it costs nothing: unpriced, or a limit not
        set or zero)."""
        plan = self.plan
        price = self.prices.get(component.type)
        if plan is None or not price:
            return None
        if component.billing_type is BillingType.FIXED:
            unit_price = price * plan.amount_of(component.type)
            details: Mapping[str, Any] = EMPTY_JSON
        else:
            limit = self.resource.limits.get(component.type, 0)
            if limit <= 0:
                return None
            unit_price = price
            details = FrozenMap({"limit": limit, "factor": component.factor})
        end = month_end(self.month)
        return self.item(
            component,
            ItemKind(component.billing_type.value),
            unit=plan.unit,
            unit_price=unit_price,
            quantity=_time_quantity(
                plan.unit, self.month, billed_from, end, details, self.rounding
            ),
            start=start,
            end=end,
            billed_from=billed_from,
            billed_to=end,
            open=True,
            details=details,
        )

    # ------------------------------------------------------------------ once

    def one_off_items(self, billing_type: BillingType, at: datetime) -> list[InvoiceItem]:
        """One item per priced component of ``billing_type`` (one-time or on-plan-switch)."""
        kind = ItemKind(billing_type.value)
        return [
            self.item(
                component,
                kind,
                unit=PlanUnit.QUANTITY,
                unit_price=self.prices[component.type],
                quantity=Decimal(1),
                start=at,
                end=at,
            )
            for component in self.offering.components
            if component.billing_type is billing_type and self.prices.get(component.type)
        ]

    def total_limit_item(
        self,
        component: OfferingComponent,
        units: Decimal,
        at: datetime,
        limit: int,
        refund_price: Decimal | None = None,
    ) -> InvoiceItem | None:
        """A line for ``units`` more of a ``total`` limit at its price, or for fewer (negative
        ``units``) refunded at ``refund_price`` (what they were charged; default: the
        price)."""
        price = self.prices.get(component.type)
        if units < 0 and refund_price is not None:
            price = refund_price
        if not price or not units:
            return None
        return self.item(
            component,
            ItemKind.LIMIT,
            unit=PlanUnit.QUANTITY,
            unit_price=price if units > 0 else -price,
            quantity=abs(units),
            start=at,
            end=at,
            details=FrozenMap({"limit": limit, "limit_period": LimitPeriod.TOTAL.value}),
        )

    def period_item(
        self,
        component: OfferingComponent,
        limit: int,
        start: datetime,
        billed_from: datetime,
        *,
        refund_price: Decimal | None = None,
        item_id: str | None = None,
    ) -> InvoiceItem | None:
        """The charge of a quarter or annual ``limit`` for the rest of its period from
        ``start``, billing the days from ``billed_from``: the period price × limit × the share
        of the period's days left. With ``refund_price`` (what the period was charged at),
        the refund of those days instead. ``None`` when there is nothing to charge."""
        price = self.prices.get(component.type) if refund_price is None else refund_price
        if not price or limit <= 0:
            return None
        first, end_month = limit_period_bounds(limit_period_of(component), self.month)
        period_start, period_end = midnight(first), midnight(end_month)
        billed_from = max(billed_from, period_start)
        if billed_from >= period_end:
            return None
        share = self.rounding.fraction(
            whole_days(billed_from, period_end), whole_days(period_start, period_end)
        )
        return self.item(
            component,
            ItemKind.LIMIT,
            unit=PlanUnit.QUANTITY,
            unit_price=price if refund_price is None else -price,
            quantity=self.limit_units(component, limit) * share,
            start=start,
            end=period_end,
            billed_from=billed_from,
            billed_to=period_end,
            details=FrozenMap(
                {
                    "limit": limit,
                    "factor": component.factor,
                    "limit_period": limit_period_of(component).value,
                    "period_start": first.isoformat(),
                    "period_end": end_month.isoformat(),
                }
            ),
            item_id=item_id,
        )


def _time_quantity(
    unit: PlanUnit,
    month: date,
    billed_from: datetime,
    billed_to: datetime,
    details: Mapping[str, Any],
    rounding: Rounding,
) -> Decimal:
    quantity = unit_quantity(unit, month, billed_from, billed_to, rounding)
    if "limit" in details:
        units: Decimal = Decimal(details["limit"]) / details["factor"] * quantity
        return units
    return quantity


def close_item(
    item: InvoiceItem, end: datetime, billed_to: datetime, rounding: Rounding
) -> InvoiceItem:
    """An open slot-by-slot item cut at ``end``: it stops following the resource, and bills
    its slots up to ``billed_to`` (never fewer than none)."""
    billed_to = max(billed_to, item.billed_from)
    quantity = clean_quantity(
        _time_quantity(item.unit, item.month, item.billed_from, billed_to, item.details, rounding)
    )
    return replace(
        item,
        end=max(end, item.start),
        billed_to=billed_to,
        quantity=quantity,
        price=rounding.price(item.unit_price, quantity),
        open=False,
    )


def billed_total_units(
    items: Iterable[InvoiceItem], component_type: str
) -> tuple[Decimal, Decimal | None]:
    """The units of a ``total`` limit billed so far (charges minus refunds), and the average
    price they were charged at (``None`` when none are billed)."""
    units = amount = Decimal(0)
    for item in items:
        if (
            item.kind is ItemKind.LIMIT
            and item.component_type == component_type
            and item.details.get("limit_period") == LimitPeriod.TOTAL.value
        ):
            sign = 1 if item.unit_price > 0 else -1
            units += sign * item.quantity
            amount += item.unit_price * item.quantity
    if units <= 0:
        return units, None
    return units, clean_quantity(amount / units)


def period_charge_price(
    items: Iterable[InvoiceItem], component_type: str, month: date
) -> Decimal | None:
    """The unit price the quarter or annual limit period containing ``month`` was last
    charged at (``None`` if it was not)."""
    price = None
    for item in items:
        if (
            item.kind is ItemKind.LIMIT
            and item.component_type == component_type
            and item.unit_price > 0
            and item.details.get("period_start", "") <= month.isoformat()
            and month.isoformat() < item.details.get("period_end", "")
        ):
            price = item.unit_price
    return price
