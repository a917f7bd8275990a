"""Usage reports: what a provider says a resource consumed of a usage component.

A report carries the month-to-date total of one component of one resource for one billing
month; a newer report replaces the older value. Each carries an idempotency key: the same
key with the same content is accepted once and then ignored, the same key with different
content is refused. The rules are pure functions over the values they need.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

import attrs

from marketplace_core.billing.calendar import limit_period_bounds, month_of
from marketplace_core.errors import ConflictError, ErrorCode, ValidationError
from marketplace_core.money import ZERO
from marketplace_core.offerings import BillingType, LimitPeriod, OfferingComponent
from marketplace_core.resources import Resource, ResourceState


@attrs.frozen
class UsageReport:
    """An accepted report: ``amount`` is the month-to-date total of ``component_type`` on
    ``resource_id`` in ``month`` (the month's first day)."""

    id: str
    idempotency_key: str
    resource_id: str
    component_type: str
    month: date
    amount: Decimal
    reported_at: datetime
    reported_by: str | None
    description: str = ""
    version: int = 0

    def same_content(self, other: UsageReport) -> bool:
        """Whether ``other`` says the same thing (ignoring who sent it, when, and its id)."""
        return (
            self.resource_id,
            self.component_type,
            self.month,
            self.amount,
            self.description,
        ) == (
            other.resource_id,
            other.component_type,
            other.month,
            other.amount,
            other.description,
        )


REPORTABLE_STATES = frozenset({ResourceState.OK, ResourceState.UPDATING, ResourceState.TERMINATING})
"""A resource takes usage reports while it is in one of these states (Waldur's rule)."""

_REPORTED_TYPES = frozenset({BillingType.USAGE, BillingType.LIMIT})


def check_repeated_key(previous: UsageReport, report: UsageReport) -> None:
    """Refuse a report whose idempotency key was already used for different content."""
    if not previous.same_content(report):
        raise ConflictError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            f"idempotency key {report.idempotency_key!r} was already used for a report of "
            f"{previous.amount} {previous.component_type!r} on resource "
            f"{previous.resource_id!r} for {previous.month:%Y-%m}; use a new key for new "
            "content",
            idempotency_key=report.idempotency_key,
        )


def check_usage_component(component: OfferingComponent) -> None:
    """Refuse usage of a component that is neither usage- nor limit-billed."""
    if component.billing_type not in _REPORTED_TYPES:
        raise ValidationError(
            ErrorCode.COMPONENT_NOT_REPORTABLE,
            f"component {component.type!r} is billed {component.billing_type.value}; only "
            "usage and limit components take usage reports",
            component=component.type,
            billing_type=component.billing_type.value,
        )


def check_reportable(resource: Resource, month: date, today: date) -> None:
    """Refuse a report on a resource that cannot take one, or for a month outside its life.

    The resource must be in a reportable state and activated; ``month`` must not be in the
    future, nor before the resource's activation month.
    """
    if resource.state not in REPORTABLE_STATES or resource.activated_at is None:
        raise ValidationError(
            ErrorCode.RESOURCE_NOT_REPORTABLE,
            f"resource {resource.id!r} is {resource.state.value}; usage is taken only from "
            "activated resources that are ok, updating or terminating",
            resource_id=resource.id,
            state=resource.state.value,
        )
    if month > month_of(today) or month < month_of(resource.activated_at):
        raise ValidationError(
            ErrorCode.PERIOD_OUTSIDE_LIVE_TIME,
            f"resource {resource.id!r} was not live in {month:%Y-%m}: it was activated "
            f"{resource.activated_at:%Y-%m-%d} and it is {today:%Y-%m-%d} now",
            resource_id=resource.id,
            month=month.isoformat(),
        )


def usage_in_period(
    reports: Iterable[UsageReport], period: LimitPeriod, month: date, *, excluding: date
) -> Decimal:
    """The usage of one component of one resource in the limit period containing ``month``,
    leaving out month ``excluding`` (the month a new report replaces).

    ``reports`` are that component's accepted reports, oldest first; the latest report of
    each month counts.
    """
    latest: dict[date, Decimal] = {}
    for report in reports:
        latest[report.month] = report.amount
    if period is LimitPeriod.TOTAL:
        months: Iterable[date] = latest
    else:
        first, end = limit_period_bounds(period, month)
        months = [m for m in latest if first <= m < end]
    return sum((latest[m] for m in months if m != excluding), ZERO)


def check_usage_cap(component: OfferingComponent, amount: Decimal, used_elsewhere: Decimal) -> None:
    """Refuse usage that takes the period's total over the component's ``limit_amount``.

    ``used_elsewhere`` is the period's usage in the other months (the reported month's
    previous value is replaced, never counted twice).
    """
    cap = component.limit_amount
    if cap is None or component.limit_period is None:
        return
    if used_elsewhere + amount > cap:
        raise ValidationError(
            ErrorCode.USAGE_CAP_EXCEEDED,
            f"usage of {component.type!r}: {amount} on top of {used_elsewhere} reported in the "
            f"rest of the {component.limit_period.value} period exceeds the component's "
            f"limit_amount {cap}",
            component=component.type,
            amount=str(amount),
            used=str(used_elsewhere),
            limit_amount=cap,
        )
