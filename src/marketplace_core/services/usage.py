"""Usage reports: providers (and their agents) tell what resources consumed.

A report is the month-to-date total of one usage (or limit) component of one resource; the
usage item of that month follows it. Reports come one by one or in batches; a batch is one
command, so it is accepted whole or refused whole.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import attrs

from marketplace_core.billing.calendar import month_of
from marketplace_core.billing.identities import usage_report_id
from marketplace_core.billing.invoices import check_month_open
from marketplace_core.billing.usage import (
    UsageReport,
    check_repeated_key,
    check_reportable,
    check_usage_cap,
    check_usage_component,
    usage_in_period,
)
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.events import UsageReported
from marketplace_core.inputs import require_month, require_string, require_text
from marketplace_core.money import ZERO, MoneyInput, parse_money
from marketplace_core.offerings import BillingType, Offering, require_component
from marketplace_core.roles import Permission
from marketplace_core.services.charging import bill_usage, organization_of
from marketplace_core.services.context import Context
from marketplace_core.services.order_flow import scope_of_offering
from marketplace_core.services.totals import record_usage


@attrs.frozen
class UsageLine:
    """One report in a batch: the month-to-date ``amount`` of ``component_type`` on
    ``resource_id`` for ``month`` (``None``: the current month), with its idempotency key."""

    resource_id: str
    component_type: str
    amount: MoneyInput
    idempotency_key: str
    month: date | None = None
    description: str = ""


def report_usage(
    ctx: Context,
    actor_id: str,
    resource_id: str,
    component_type: str,
    amount: MoneyInput,
    *,
    idempotency_key: str,
    month: date | None = None,
    description: str = "",
) -> UsageReport:
    """Report the month-to-date usage of one component of a resource.

    Needs ``resource.report_usage`` on the offering (the provider's owners and managers and
    the offering's managers). ``month`` is the first day of the billing month (default: the
    current one). The same ``idempotency_key`` with the same content returns the report
    accepted first and changes nothing; with other content it is refused.
    """
    line = UsageLine(resource_id, component_type, amount, idempotency_key, month, description)
    return report_usages(ctx, actor_id, [line])[0]


def report_usages(ctx: Context, actor_id: str, lines: Sequence[UsageLine]) -> list[UsageReport]:
    """Report a batch of usage lines at once (see :func:`report_usage`); every line is
    checked, and one refused line refuses the batch."""
    actor = ctx.uow.users.get(actor_id)
    allowed: set[str] = set()
    accepted = []
    for index, line in enumerate(lines):
        field = f"lines[{index}]" if len(lines) > 1 else "usage"
        if not isinstance(line, UsageLine):
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"{field} must be a UsageLine, got {line!r}",
                field=field,
                value=repr(line),
            )
        resource = ctx.uow.resources.get(line.resource_id)
        offering = ctx.remember(
            ("offering", resource.offering_id),
            functools.partial(ctx.uow.offerings.get, resource.offering_id),
        )
        if offering.id not in allowed:
            ctx.authorize(actor.id, Permission.RESOURCE_REPORT_USAGE, scope_of_offering(offering))
            allowed.add(offering.id)
        accepted.append(_accept(ctx, actor.id, line, offering, field))
    return accepted


def _accept(
    ctx: Context, actor_id: str, line: UsageLine, offering: Offering, field: str
) -> UsageReport:
    key = require_text(line.idempotency_key, f"{field}.idempotency_key")
    month = month_of(ctx.now) if line.month is None else require_month(line.month, f"{field}.month")
    report = UsageReport(
        id=usage_report_id(key),
        idempotency_key=key,
        resource_id=line.resource_id,
        component_type=require_text(line.component_type, f"{field}.component_type"),
        month=month,
        amount=parse_money(line.amount, f"{field}.amount"),
        reported_at=ctx.now,
        reported_by=actor_id,
        description=require_string(line.description, f"{field}.description"),
    )
    previous = ctx.uow.usage_reports.find_by_key(key)
    if previous is not None:
        check_repeated_key(previous, report)
        return previous
    resource = ctx.uow.resources.get(report.resource_id)
    component = require_component(offering, report.component_type, f"{field}.component_type")
    check_usage_component(component)
    check_reportable(resource, month, ctx.today)
    organization_id = organization_of(ctx, resource)
    invoice = ctx.remember(
        ("stored invoice", organization_id, month),
        lambda: ctx.uow.invoices.find_for_month(organization_id, month),
    )
    check_month_open(invoice)
    period = component.limit_period
    if period is not None and component.billing_type is BillingType.USAGE:
        history = ctx.uow.usage_reports.for_component(resource.id, component.type)
        used = usage_in_period(history, period, month, excluding=month)
        check_usage_cap(component, report.amount, used)
    latest = ctx.uow.usage_reports.latest(resource.id, component.type, month)
    before = latest.amount if latest is not None else ZERO
    stored = ctx.uow.usage_reports.add(report)
    record_usage(ctx, resource, organization_id, component.type, month, stored.amount - before)
    ctx.uow.emit(
        UsageReported(
            occurred_at=ctx.now,
            actor_id=actor_id,
            report_id=stored.id,
            resource_id=resource.id,
            component_type=component.type,
            month=month,
            amount=stored.amount,
        )
    )
    if component.billing_type is BillingType.USAGE:
        bill_usage(ctx, resource, component, month, stored.amount)
    return stored


def list_usage_reports(
    ctx: Context, resource_id: str, component_type: str
) -> Sequence[UsageReport]:
    """The accepted reports of one component of a resource, oldest first."""
    return ctx.uow.usage_reports.for_component(
        ctx.uow.resources.get(resource_id).id, component_type
    )


def current_usage(ctx: Context, resource_id: str, month: date) -> dict[str, Decimal]:
    """The month-to-date usage of every reported component of a resource in ``month``."""
    resource = ctx.uow.resources.get(resource_id)
    month = require_month(month, "month")
    offering = ctx.uow.offerings.get(resource.offering_id)
    totals = {}
    for component in offering.components:
        latest = ctx.uow.usage_reports.latest(resource.id, component.type, month)
        if latest is not None:
            totals[component.type] = latest.amount
    return totals
