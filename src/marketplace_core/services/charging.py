"""Writing invoice items as a resource lives: activation, plan switches, limit changes,
termination, usage, and the months in between.

:func:`on_resource_changed` is called by the order flow whenever a resource is stored, so
every change of a billed resource reaches billing in the same unit of work. A month's items
of a resource are opened by whatever touches the resource first in that month (an event or
the billing run), always from the start of the month, so the order in which they run does
not matter.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from marketplace_core.billing import identities
from marketplace_core.billing.calendar import (
    SLOT_OF_UNIT,
    Boundary,
    Slot,
    add_months,
    align,
    coarsest_slot,
    limit_period_bounds,
    month_end,
    month_of,
    month_start,
)
from marketplace_core.billing.charges import (
    PERIOD_LIMITS,
    Charging,
    billed_total_units,
    close_item,
    limit_period_of,
    period_charge_price,
)
from marketplace_core.billing.invoices import Invoice, check_month_open, is_month_closed
from marketplace_core.billing.items import TIME_BASED_KINDS, InvoiceItem, ItemKind
from marketplace_core.billing.quantities import clean_quantity
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.events import InvoiceItemWritten, InvoiceOpened
from marketplace_core.frozen import replace
from marketplace_core.money import ZERO
from marketplace_core.offerings import BillingType, LimitPeriod, OfferingComponent, PlanUnit
from marketplace_core.orders import OrderState, OrderType
from marketplace_core.resources import Resource, ResourceState
from marketplace_core.services.context import Context
from marketplace_core.services.totals import record_cost


def invoice_for(ctx: Context, organization_id: str, month: date) -> Invoice:
    """The organization's pending invoice for ``month``, opened if it has none yet.

    Refuses (``period_closed``) when the month's invoice was already issued.
    """
    invoice = ctx.uow.invoices.find_for_month(organization_id, month)
    if invoice is None:
        organization = ctx.uow.organizations.get(organization_id)
        invoice = ctx.uow.invoices.add(
            Invoice(
                id=identities.invoice_id(organization_id, month),
                organization_id=organization_id,
                month=month,
                created_at=ctx.now,
                tax_percent=organization.tax_percent,
            )
        )
        ctx.uow.emit(
            InvoiceOpened(
                occurred_at=ctx.now,
                actor_id=None,
                invoice_id=invoice.id,
                organization_id=organization_id,
                month=month,
            )
        )
    check_month_open(invoice)
    return invoice


def organization_of(ctx: Context, resource: Resource) -> str:
    """The id of the organization that pays for ``resource``."""
    return ctx.remember(
        ("organization of", resource.project_id),
        lambda: ctx.uow.projects.get(resource.project_id).organization_id,
    )


def charging(ctx: Context, resource: Resource, month: date, plan_id: str | None) -> Charging:
    """What the items of ``resource`` in ``month`` on plan ``plan_id`` share."""
    uow, remember = ctx.uow, ctx.remember
    organization_id = organization_of(ctx, resource)
    return Charging(
        resource=resource,
        organization_id=organization_id,
        offering=remember(
            ("offering", resource.offering_id), lambda: uow.offerings.get(resource.offering_id)
        ),
        plan=remember(
            ("plan", plan_id), lambda: uow.plans.get(plan_id) if plan_id is not None else None
        ),
        month=month,
        invoice_id=remember(
            ("invoice", organization_id, month),
            lambda: invoice_for(ctx, organization_id, month).id,
        ),
        rounding=ctx.rounding,
        new_id=lambda: ctx.ids.new_id("invoice_item"),
    )


def write_item(ctx: Context, item: InvoiceItem | None, previous: InvoiceItem | None = None) -> None:
    """Store a new item (or the next snapshot of ``previous``) and announce it."""
    if item is None:
        return
    if previous is None:
        stored = ctx.uow.invoice_items.add(item)
        change = item.price
    else:
        stored = ctx.uow.invoice_items.update(item)
        change = item.price - previous.price
    record_cost(ctx, stored, change)
    ctx.uow.emit(
        InvoiceItemWritten(
            occurred_at=ctx.now,
            actor_id=None,
            item_id=stored.id,
            invoice_id=stored.invoice_id,
            resource_id=stored.resource_id,
            kind=stored.kind.value,
            price=stored.price,
            price_change=change,
        )
    )


def is_billed(resource: Resource) -> bool:
    """Whether a resource is billed: activated, and not yet terminated."""
    return resource.activated_at is not None and resource.state is not ResourceState.TERMINATED


# --------------------------------------------------------------------------- whole months


def open_month(ctx: Context, resource: Resource, month: date) -> None:
    """Write a whole month of a resource that was live at its start: its slot-by-slot items
    from the start of the month, and the charges of quarter and annual limits whose period
    starts with it."""
    bill = charging(ctx, resource, month, resource.plan_id)
    start = month_start(month)
    names = {component.type: component.name for component in bill.offering.components}
    whole_month = ctx.remember(
        ("whole month", resource.plan_id, resource.limits, month),
        lambda: bill.time_items(start, start),
    )
    for template in whole_month:
        kind = template.component_type
        item_id = identities.month_item_id(resource.id, month, kind)
        write_item(ctx, bill.restamp(template, names[kind], item_id))
    for component in _limit_components(bill, PERIOD_LIMITS):
        if limit_period_bounds(limit_period_of(component), month)[0] == month:
            limit = resource.limits.get(component.type, 0)
            item_id = identities.month_item_id(resource.id, month, component.type)
            write_item(ctx, bill.period_item(component, limit, start, start, item_id=item_id))


def bill_through(ctx: Context, resource: Resource, month: date) -> None:
    """Open every month of a billed resource up to ``month`` that has no items yet.

    ``resource`` must be the resource as it was during those months (before the change
    being billed): nothing changed it since its last billed month, or that change would
    have opened the months. The search for the last billed month stops at a closed month:
    the run that closed it opened every month up to it.
    """
    if resource.activated_at is None:
        return
    first = month_of(resource.activated_at)
    last = month
    while last >= first and not ctx.uow.invoice_items.for_resource(resource.id, last):
        if last < month and _is_closed(ctx, resource, last):
            break
        last = add_months(last, -1)
    missing = add_months(max(last, first), 1)
    while missing <= month:
        open_month(ctx, resource, missing)
        missing = add_months(missing, 1)


def _is_closed(ctx: Context, resource: Resource, month: date) -> bool:
    """Whether the month's invoice of the resource's organization was issued."""
    invoice = ctx.uow.invoices.find_for_month(organization_of(ctx, resource), month)
    return is_month_closed(invoice)


# --------------------------------------------------------------------------- life events


def on_resource_changed(ctx: Context, before: Resource, after: Resource) -> None:
    """Bill what just happened to a resource: activation, termination, or a change of plan
    or limits of a billed resource."""
    if before.activated_at is None:
        if after.activated_at is not None:
            _activated(ctx, after)
        return
    if after.state is ResourceState.TERMINATED:
        if before.state is not ResourceState.TERMINATED:
            _terminated(ctx, before)
        return
    if before.plan_id != after.plan_id:
        _plan_switched(ctx, before, after)
    elif before.limits != after.limits:
        _limits_changed(ctx, before, after)


def _limit_components(bill: Charging, periods: frozenset[LimitPeriod]) -> list[OfferingComponent]:
    return [
        component
        for component in bill.offering.components
        if component.billing_type is BillingType.LIMIT and limit_period_of(component) in periods
    ]


def _activated(ctx: Context, resource: Resource) -> None:
    now = ctx.now
    bill = charging(ctx, resource, month_of(now), resource.plan_id)
    if bill.plan is not None:
        first = align(now, SLOT_OF_UNIT[bill.plan.unit], Boundary.LATER)
        for item in bill.time_items(now, first):
            write_item(ctx, item)
    for item in bill.one_off_items(BillingType.ONE_TIME, now):
        write_item(ctx, item)
    first_day = align(now, Slot.DAY, Boundary.LATER)
    for component in _limit_components(bill, PERIOD_LIMITS):
        limit = resource.limits.get(component.type, 0)
        write_item(ctx, bill.period_item(component, limit, now, first_day))
    for component in _limit_components(bill, frozenset({LimitPeriod.TOTAL})):
        limit = resource.limits.get(component.type, 0)
        units = bill.limit_units(component, limit)
        write_item(ctx, bill.total_limit_item(component, units, now, limit))


def _open_items(ctx: Context, resource: Resource) -> tuple[date, list[InvoiceItem]]:
    """The current month, and the resource's open items in it (after opening missing
    months)."""
    month = month_of(ctx.now)
    bill_through(ctx, resource, month)
    return month, [i for i in ctx.uow.invoice_items.for_resource(resource.id, month) if i.open]


def _close(
    ctx: Context,
    items: list[InvoiceItem],
    cut: datetime | Callable[[InvoiceItem], datetime],
    component: str | None = None,
) -> None:
    """Close the open items (those of ``component`` only, when given): slot-by-slot items
    bill up to ``cut`` (or ``cut(item)``); usage items stop at now (unless only one
    component closes)."""
    for item in items:
        if component is not None and item.component_type != component:
            continue
        if item.kind in TIME_BASED_KINDS:
            billed_to = cut if isinstance(cut, datetime) else cut(item)
            write_item(ctx, close_item(item, ctx.now, billed_to, ctx.rounding), item)
        elif item.kind is ItemKind.USAGE and component is None:
            end = max(ctx.now, item.start)
            write_item(ctx, replace(item, end=end, billed_to=end, open=False), item)


def _billed_beyond(
    ctx: Context, resource: Resource, month: date, cut: datetime
) -> dict[str, datetime]:
    """Per component, where the slots its items already bill past ``cut`` end (a limit
    decrease earlier the same day kept the day): a new item of it starts there, so no
    slot is billed twice."""
    beyond: dict[str, datetime] = {}
    for item in ctx.uow.invoice_items.for_resource(resource.id, month):
        billed = item.billed_to > item.billed_from
        if billed and item.kind in TIME_BASED_KINDS and not item.open and item.billed_to > cut:
            kind = item.component_type
            beyond[kind] = max(item.billed_to, beyond.get(kind, cut))
    return beyond


def _period_day(
    ctx: Context, resource: Resource, month: date, component: OfferingComponent, day: datetime
) -> datetime:
    """Where a quarter or annual limit's change takes effect: ``day``, or later when a
    decrease earlier the same day kept that day for the old limit (no day is billed twice)."""
    for item in ctx.uow.invoice_items.for_resource(resource.id, month):
        charged = (
            item.kind is ItemKind.LIMIT and item.unit_price > 0 and "period_start" in item.details
        )
        if charged and item.component_type == component.type and item.billed_from > day:
            day = item.billed_from
    return day


def _refund_period(
    ctx: Context, bill: Charging, component: OfferingComponent, limit: int, billed_from: datetime
) -> None:
    """Refund the rest of a quarter or annual limit period at the price it was charged."""
    charged = period_charge_price(
        ctx.uow.invoice_items.for_resource(bill.resource.id), component.type, bill.month
    )
    if charged is not None:
        refund = bill.period_item(component, limit, ctx.now, billed_from, refund_price=charged)
        write_item(ctx, refund)


def _terminated(ctx: Context, before: Resource) -> None:
    month, items = _open_items(ctx, before)
    now = ctx.now
    _close(ctx, items, lambda item: align(now, SLOT_OF_UNIT[item.unit], Boundary.EARLIER))
    bill = charging(ctx, before, month, before.plan_id)
    next_day = align(now, Slot.DAY, Boundary.EARLIER)
    for component in _limit_components(bill, PERIOD_LIMITS):
        _refund_period(ctx, bill, component, before.limits.get(component.type, 0), next_day)


def _plan_switched(ctx: Context, before: Resource, after: Resource) -> None:
    now = ctx.now
    month, items = _open_items(ctx, before)
    old = charging(ctx, before, month, before.plan_id)
    new = charging(ctx, after, month, after.plan_id)
    units = [plan.unit for plan in (old.plan, new.plan) if plan is not None]
    cut = align(now, coarsest_slot(*units), Boundary.LATER)
    _close(ctx, items, cut)
    for item in new.time_items(now, cut, _billed_beyond(ctx, before, month, cut)):
        write_item(ctx, item)
    for item in new.one_off_items(BillingType.ON_PLAN_SWITCH, now):
        write_item(ctx, item)
    today = align(now, Slot.DAY, Boundary.LATER)
    for component in _limit_components(new, PERIOD_LIMITS):
        old_limit = before.limits.get(component.type, 0)
        new_limit = after.limits.get(component.type, 0)
        key = component.type
        if (old.prices.get(key), old_limit) != (new.prices.get(key), new_limit):
            day = _period_day(ctx, before, month, component, today)
            _refund_period(ctx, old, component, old_limit, day)
            write_item(ctx, new.period_item(component, new_limit, now, day))
    _bill_total_limits(ctx, new, before, after)


def _limits_changed(ctx: Context, before: Resource, after: Resource) -> None:
    now = ctx.now
    month, items = _open_items(ctx, before)
    bill = charging(ctx, after, month, after.plan_id)
    for component in _limit_components(bill, frozenset(LimitPeriod)):
        old_limit = before.limits.get(component.type, 0)
        new_limit = after.limits.get(component.type, 0)
        if old_limit == new_limit:
            continue
        boundary = Boundary.LATER if new_limit > old_limit else Boundary.EARLIER
        period = limit_period_of(component)
        if period is LimitPeriod.MONTH and bill.plan is not None:
            cut = align(now, SLOT_OF_UNIT[bill.plan.unit], boundary)
            _close(ctx, items, cut, component.type)
            first = _billed_beyond(ctx, before, month, cut).get(component.type, cut)
            write_item(ctx, bill.time_item(component, now, first))
        elif period in PERIOD_LIMITS:
            day = _period_day(ctx, before, month, component, align(now, Slot.DAY, boundary))
            _refund_period(ctx, bill, component, old_limit, day)
            write_item(ctx, bill.period_item(component, new_limit, now, day))
    _bill_total_limits(ctx, bill, before, after)


def _bill_total_limits(ctx: Context, bill: Charging, before: Resource, after: Resource) -> None:
    """Delta lines for ``total`` limits whose value changed: charge the units the new limit
    adds at the price, or refund the units it drops at the price they were charged."""
    for component in _limit_components(bill, frozenset({LimitPeriod.TOTAL})):
        limit = after.limits.get(component.type, 0)
        if limit == before.limits.get(component.type, 0):
            continue
        history = ctx.uow.invoice_items.for_resource(after.id)
        billed, charged_at = billed_total_units(history, component.type)
        units = bill.limit_units(component, limit) - billed
        write_item(ctx, bill.total_limit_item(component, units, ctx.now, limit, charged_at))


# --------------------------------------------------------------------------- usage


def bill_usage(
    ctx: Context, resource: Resource, component: OfferingComponent, month: date, amount: Decimal
) -> None:
    """Bring the usage item of ``component`` in ``month`` to the reported month-to-date total.

    After a plan switch the month has a closed usage item per earlier plan; the open one
    bills what the total adds to theirs. A total below what earlier plans already billed
    is refused (``usage_below_billed``).
    """
    in_month = ctx.uow.invoice_items.for_resource(resource.id, month)
    if not in_month:
        bill_through(ctx, resource, month)
        in_month = ctx.uow.invoice_items.for_resource(resource.id, month)
    items = [i for i in in_month if i.kind is ItemKind.USAGE and i.component_type == component.type]
    closed = [i for i in items if not i.open]
    already = sum((i.quantity for i in closed), ZERO)
    quantity = amount - already
    if quantity < 0:
        raise ValidationError(
            ErrorCode.USAGE_BELOW_BILLED,
            f"usage of {component.type!r} on resource {resource.id!r} for {month:%Y-%m}: the "
            f"month-to-date total {amount} is below the {already} already billed on "
            "earlier plans this month",
            resource_id=resource.id,
            component=component.type,
            amount=str(amount),
            billed=str(already),
        )
    current = next((i for i in items if i.open), None)
    if current is not None:
        quantity = clean_quantity(quantity)
        if current.quantity != quantity:
            price = ctx.rounding.price(current.unit_price, quantity)
            write_item(ctx, replace(current, quantity=quantity, price=price), current)
        return
    start = max(
        [i.end for i in closed] + [month_start(month), resource.activated_at or month_start(month)]
    )
    bill = charging(ctx, resource, month, _plan_in(ctx, resource, month))
    item = bill.item(
        component,
        ItemKind.USAGE,
        unit=PlanUnit.QUANTITY,
        unit_price=bill.prices.get(component.type, ZERO),
        quantity=quantity,
        start=start,
        end=month_end(month),
        open=True,
        item_id=identities.usage_item_id(resource.id, month, component.type, len(closed)),
    )
    write_item(ctx, item)


def _plan_in(ctx: Context, resource: Resource, month: date) -> str | None:
    """The plan a resource was on at the end of ``month`` (so far, for the current one): the
    plan of its last order done before then."""
    if month == month_of(ctx.now):
        return resource.plan_id
    end = month_end(month)
    plan_id = resource.plan_id
    for order in ctx.uow.orders.for_resource(resource.id):
        completed = order.completed_at
        if (
            order.state is OrderState.DONE
            and completed is not None
            and completed < end
            and order.type is not OrderType.TERMINATE
        ):
            plan_id = order.plan_id
    return plan_id
