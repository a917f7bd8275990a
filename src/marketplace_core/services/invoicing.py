"""Invoices: the monthly billing run, issuing with credits, payment, tax and credits.

The billing run for a month makes scheduled plan prices current, opens the month's items of
every billed resource that has none yet, and issues the earlier months' pending invoices
(credits are applied then). Each organization is billed in its own unit of work, so a run
that stops half-way is finished by running it again; a run repeated changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import attrs

from marketplace_core.billing import identities
from marketplace_core.billing.calendar import month_end, month_of
from marketplace_core.billing.credits import Credit, allocate_credits
from marketplace_core.billing.invoices import (
    INVOICE_LIFECYCLE,
    Invoice,
    InvoiceEvent,
    InvoiceState,
    InvoiceTotals,
    invoice_totals,
)
from marketplace_core.billing.items import InvoiceItem, ItemKind
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.events import (
    CreditApplied,
    CreditSet,
    InvoiceStateChanged,
    PlanFuturePricesApplied,
    TaxPercentSet,
)
from marketplace_core.frozen import FrozenMap
from marketplace_core.inputs import require_bool, require_month, require_optional_date
from marketplace_core.money import MoneyInput, parse_money
from marketplace_core.offerings import PlanUnit, apply_future_prices
from marketplace_core.organizations import Organization, check_organization_not_archived
from marketplace_core.roles import PLATFORM, Permission
from marketplace_core.services.charging import bill_through, is_billed, write_item
from marketplace_core.services.context import Context
from marketplace_core.services.totals import record_cost


@attrs.frozen
class BillingWork:
    """What a billing run has to do, organization by organization."""

    month: date
    organizations: tuple[tuple[str, tuple[str, ...]], ...]
    """``(organization id, ids of its billed resources)`` for every organization to bill."""


def check_billing_month(ctx: Context, month: date | None) -> date:
    """The month a run bills (default: the current one); refuses future and closed months."""
    current = month_of(ctx.now)
    month = current if month is None else require_month(month, "month")
    if month > current:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"month {month:%Y-%m} has not started yet (it is {ctx.today:%Y-%m-%d})",
            field="month",
            value=month.isoformat(),
        )
    for state in (InvoiceState.CREATED, InvoiceState.PAID, InvoiceState.CANCELED):
        for invoice in ctx.uow.invoices.in_state(state):
            if invoice.month >= month:
                raise ValidationError(
                    ErrorCode.PERIOD_CLOSED,
                    f"{month:%Y-%m} is closed: invoices of {invoice.month:%Y-%m} were "
                    "already issued",
                    month=month.isoformat(),
                )
    return month


def apply_scheduled_prices(ctx: Context, month: date | None = None) -> list[str]:
    """Make the scheduled prices of every plan due by ``month`` current; returns the plans."""
    month = check_billing_month(ctx, month)
    applied = []
    for plan in ctx.uow.plans.all():
        if plan.future_prices_from is not None and plan.future_prices_from <= month:
            ctx.uow.plans.update(apply_future_prices(plan))
            ctx.uow.emit(
                PlanFuturePricesApplied(
                    occurred_at=ctx.now, actor_id=None, plan_id=plan.id, month=month
                )
            )
            applied.append(plan.id)
    return applied


def find_billing_work(ctx: Context, month: date | None = None) -> BillingWork:
    """Every organization with billed resources or pending invoices, and its resources."""
    month = check_billing_month(ctx, month)
    first_after = month_end(month)
    organization_of = {project.id: project.organization_id for project in ctx.uow.projects.all()}
    work: dict[str, list[str]] = defaultdict(list)
    for resource in ctx.uow.resources.all():
        if is_billed(resource) and resource.activated_at < first_after:  # type: ignore[operator]
            work[organization_of[resource.project_id]].append(resource.id)
    for invoice in ctx.uow.invoices.in_state(InvoiceState.PENDING):
        if invoice.month < month:
            work.setdefault(invoice.organization_id, [])
    return BillingWork(
        month, tuple((organization, tuple(ids)) for organization, ids in work.items())
    )


def bill_organization(
    ctx: Context, organization_id: str, resource_ids: Sequence[str], month: date
) -> list[str]:
    """Open ``month`` for the organization's billed resources, then issue its pending
    invoices of earlier months; returns the ids of the invoices issued.

    ``month`` comes from :func:`find_billing_work`, which checked it."""
    for resource_id in resource_ids:
        resource = ctx.uow.resources.get(resource_id)
        if is_billed(resource):
            bill_through(ctx, resource, month)
    issued = []
    for invoice in ctx.uow.invoices.for_organization(organization_id):
        if invoice.state is InvoiceState.PENDING and invoice.month < month:
            issued.append(issue_invoice(ctx, invoice).id)
    return issued


def issue_invoice(ctx: Context, invoice: Invoice) -> Invoice:
    """Apply the organization's credits to a pending invoice, fix its totals, and issue it."""
    items = ctx.uow.invoice_items.for_invoice(invoice.id)
    credits = {c.id: c for c in ctx.uow.credits.for_organization(invoice.organization_id)}
    allocation = allocate_credits(items, credits.values(), places=ctx.rounding.price_places)
    by_id = {item.id: item for item in items}
    lines = []
    for compensation in allocation.compensations:
        paid = by_id[compensation.item_id]
        line = attrs.evolve(
            paid,
            id=ctx.ids.new_id("invoice_item"),
            kind=ItemKind.CREDIT,
            name=f"Credit compensation. {paid.name}",
            unit=PlanUnit.QUANTITY,
            unit_price=-compensation.amount,
            quantity=Decimal(1),
            price=-compensation.amount,
            start=ctx.now,
            end=ctx.now,
            billed_from=ctx.now,
            billed_to=ctx.now,
            open=False,
            details=FrozenMap({"compensates": paid.id, "credit_id": compensation.credit_id}),
            version=0,
        )
        write_item(ctx, line)
        lines.append(line)
    for credit_id, balance in allocation.balances.items():
        credit = credits[credit_id]
        if balance != credit.balance:
            ctx.uow.credits.update(attrs.evolve(credit, balance=balance))
            ctx.uow.emit(
                CreditApplied(
                    occurred_at=ctx.now,
                    actor_id=None,
                    credit_id=credit_id,
                    invoice_id=invoice.id,
                    amount=credit.balance - balance,
                    balance=balance,
                )
            )
    totals = invoice_totals([*items, *lines], invoice.tax_percent, ctx.rounding)
    return _move(ctx, invoice, InvoiceEvent.ISSUE, None, issued_at=ctx.now, totals=totals)


def _move(
    ctx: Context, invoice: Invoice, event: InvoiceEvent, actor_id: str | None, **changes: Any
) -> Invoice:
    target = INVOICE_LIFECYCLE.target(invoice.state, event, invoice.id)
    stored = ctx.uow.invoices.update(attrs.evolve(invoice, state=target, **changes))
    ctx.uow.emit(
        InvoiceStateChanged(
            occurred_at=ctx.now,
            actor_id=actor_id,
            invoice_id=invoice.id,
            event=event.value,
            source=invoice.state.value,
            target=target.value,
            total=stored.totals.total if stored.totals is not None else None,
        )
    )
    return stored


def mark_invoice_paid(ctx: Context, actor_id: str, invoice_id: str) -> Invoice:
    """Record that an issued invoice was paid. Needs ``billing.manage`` (staff)."""
    ctx.authorize(actor_id, Permission.BILLING_MANAGE, PLATFORM)
    invoice = ctx.uow.invoices.get(invoice_id)
    return _move(ctx, invoice, InvoiceEvent.PAY, actor_id, paid_at=ctx.now)


def cancel_invoice(ctx: Context, actor_id: str, invoice_id: str) -> Invoice:
    """Void an issued invoice. Needs ``billing.manage`` (staff). Its items stop counting
    towards the estimated cost that policies watch, and the credit it used is given back (a
    ``CreditApplied`` event with a negative amount)."""
    ctx.authorize(actor_id, Permission.BILLING_MANAGE, PLATFORM)
    invoice = ctx.uow.invoices.get(invoice_id)
    canceled = _move(ctx, invoice, InvoiceEvent.CANCEL, actor_id, canceled_at=ctx.now)
    for item in ctx.uow.invoice_items.for_invoice(invoice.id):
        record_cost(ctx, item, -item.price)
        if item.kind is ItemKind.CREDIT:
            credit = ctx.uow.credits.get(item.details["credit_id"])
            balance = credit.balance - item.price
            credit = ctx.uow.credits.update(attrs.evolve(credit, balance=balance))
            ctx.uow.emit(
                CreditApplied(
                    occurred_at=ctx.now,
                    actor_id=actor_id,
                    credit_id=credit.id,
                    invoice_id=invoice.id,
                    amount=item.price,
                    balance=credit.balance,
                )
            )
    return canceled


def set_tax_percent(
    ctx: Context, actor_id: str, organization_id: str, tax_percent: MoneyInput
) -> Organization:
    """Set the tax percentage (0-100) copied onto the organization's future invoices.
    Needs ``billing.manage`` (staff)."""
    ctx.authorize(actor_id, Permission.BILLING_MANAGE, PLATFORM)
    organization = ctx.uow.organizations.get(organization_id)
    check_organization_not_archived(organization)
    percent = parse_money(tax_percent, "tax_percent")
    if percent > 100:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"tax_percent must be between 0 and 100, got {percent}",
            field="tax_percent",
            value=str(percent),
        )
    stored = ctx.uow.organizations.update(attrs.evolve(organization, tax_percent=percent))
    ctx.uow.emit(
        TaxPercentSet(
            occurred_at=ctx.now,
            actor_id=actor_id,
            organization_id=organization.id,
            tax_percent=percent,
        )
    )
    return stored


def set_credit(
    ctx: Context,
    actor_id: str,
    organization_id: str,
    balance: MoneyInput,
    *,
    project_id: str | None = None,
    offering_ids: Iterable[str] = (),
    end_date: date | None = None,
    use_organization_credit: bool = True,
) -> Credit:
    """Set the organization's credit (or, with ``project_id``, one project's) to ``balance``.

    Needs ``billing.manage`` (staff). ``offering_ids`` limits the credit to those offerings'
    items; ``end_date`` is its last valid day. A project credit with
    ``use_organization_credit`` lets the project fall back on the organization credit.
    """
    ctx.authorize(actor_id, Permission.BILLING_MANAGE, PLATFORM)
    organization = ctx.uow.organizations.get(organization_id)
    check_organization_not_archived(organization)
    if project_id is not None:
        project = ctx.uow.projects.get(project_id)
        if project.organization_id != organization.id:
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"project_id: project {project.id!r} belongs to organization "
                f"{project.organization_id!r}, not {organization.id!r}",
                field="project_id",
                value=project.id,
            )
    offerings = frozenset(ctx.uow.offerings.get(o).id for o in offering_ids)
    fields: dict[str, Any] = {
        "balance": parse_money(balance, "balance"),
        "offering_ids": offerings,
        "end_date": require_optional_date(end_date, "end_date"),
        "use_organization_credit": require_bool(use_organization_credit, "use_organization_credit"),
    }
    existing = next(
        (
            c
            for c in ctx.uow.credits.for_organization(organization.id)
            if c.project_id == project_id
        ),
        None,
    )
    if existing is None:
        credit = ctx.uow.credits.add(
            Credit(
                id=identities.credit_id(organization.id, project_id),
                organization_id=organization.id,
                project_id=project_id,
                created_at=ctx.now,
                **fields,
            )
        )
    else:
        credit = ctx.uow.credits.update(attrs.evolve(existing, **fields))
    ctx.uow.emit(
        CreditSet(
            occurred_at=ctx.now,
            actor_id=actor_id,
            credit_id=credit.id,
            organization_id=organization.id,
            project_id=project_id,
            balance=credit.balance,
        )
    )
    return credit


# --------------------------------------------------------------------------- queries


def get_invoice(ctx: Context, invoice_id: str) -> Invoice:
    """The invoice with this id."""
    return ctx.uow.invoices.get(invoice_id)


def list_invoices(ctx: Context, organization_id: str) -> Sequence[Invoice]:
    """The invoices of an organization, oldest first."""
    return ctx.uow.invoices.for_organization(ctx.uow.organizations.get(organization_id).id)


def find_invoice(ctx: Context, organization_id: str, month: date) -> Invoice | None:
    """The organization's invoice for ``month``, or ``None``."""
    return ctx.uow.invoices.find_for_month(organization_id, require_month(month, "month"))


def list_invoice_items(ctx: Context, invoice_id: str) -> Sequence[InvoiceItem]:
    """The items of an invoice, oldest first."""
    return ctx.uow.invoice_items.for_invoice(ctx.uow.invoices.get(invoice_id).id)


def list_resource_items(ctx: Context, resource_id: str) -> Sequence[InvoiceItem]:
    """Every invoice item of a resource, oldest first."""
    return ctx.uow.invoice_items.for_resource(ctx.uow.resources.get(resource_id).id)


def get_invoice_totals(ctx: Context, invoice_id: str) -> InvoiceTotals:
    """An invoice's totals: as issued, or computed from its items while it is pending."""
    invoice = ctx.uow.invoices.get(invoice_id)
    if invoice.totals is not None:
        return invoice.totals
    items = ctx.uow.invoice_items.for_invoice(invoice.id)
    return invoice_totals(items, invoice.tax_percent, ctx.rounding)


def list_credits(ctx: Context, organization_id: str) -> Sequence[Credit]:
    """The credits of an organization and its projects, oldest first."""
    return ctx.uow.credits.for_organization(ctx.uow.organizations.get(organization_id).id)
