"""Pulling usage: asking a plugin's backend what the resources of an offering consumed."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import attrs

from marketplace_core.billing.calendar import month_end, month_of, month_start
from marketplace_core.billing.usage import REPORTABLE_STATES
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.inputs import require_month
from marketplace_core.money import parse_money
from marketplace_core.offerings import Offering
from marketplace_core.plugins.usage_source import PulledUsage, UsageRequest, UsageSource
from marketplace_core.roles import Permission
from marketplace_core.services.context import Context
from marketplace_core.services.order_flow import scope_of_offering
from marketplace_core.services.usage import UsageLine


@attrs.frozen
class UsageToPull:
    """The usage source to ask, the month, and one request per resource."""

    source: UsageSource
    month: date
    requests: tuple[UsageRequest, ...]


def find_usage_to_pull(
    ctx: Context,
    actor_id: str,
    offering_id: str,
    month: date | None = None,
    source: UsageSource | None = None,
) -> UsageToPull:
    """The usage source to ask (``source``, or else the offering's plugin) and a request for
    every resource of the offering that can take a report for ``month`` (default: the
    current one).

    Needs ``resource.report_usage`` on the offering; refuses an offering whose plugin
    cannot tell usage (``usage_not_pullable``) when no ``source`` is given.
    """
    offering = ctx.uow.offerings.get(offering_id)
    ctx.authorize(actor_id, Permission.RESOURCE_REPORT_USAGE, scope_of_offering(offering))
    month = month_of(ctx.now) if month is None else require_month(month, "month")
    if month > month_of(ctx.now):
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"month: {month:%Y-%m} has not started yet; usage is pulled for the current "
            "month or an earlier one",
            field="month",
            value=month.isoformat(),
        )
    if source is None:
        processor = ctx.plugins.get(offering.plugin_type).processor
        if not isinstance(processor, UsageSource):
            raise ValidationError(
                ErrorCode.USAGE_NOT_PULLABLE,
                f"plugin {offering.plugin_type!r} of offering {offering.id!r} cannot tell "
                "usage (its processor has no pull_usage); report usage with report_usage "
                "instead",
                offering_id=offering.id,
                plugin_type=offering.plugin_type,
            )
        source = processor
    return UsageToPull(source, month, _reportable_requests(ctx, offering, month))


def _reportable_requests(ctx: Context, offering: Offering, month: date) -> tuple[UsageRequest, ...]:
    """A request for each resource of ``offering`` that takes usage reports and was live in
    ``month``."""
    starts, ends = month_start(month), month_end(month)
    return tuple(
        UsageRequest(
            resource,
            offering,
            ctx.uow.plans.get(resource.plan_id) if resource.plan_id else None,
            month,
        )
        for resource in ctx.uow.resources.for_offering(offering.id)
        if resource.state in REPORTABLE_STATES
        and resource.activated_at is not None
        and resource.activated_at < ends
        and (resource.terminated_at is None or resource.terminated_at > starts)
    )


def usage_lines(request: UsageRequest, pulled: Sequence[PulledUsage]) -> list[UsageLine]:
    """The usage reports a pull makes. The idempotency key names the resource, component,
    month, exact amount and description, so the same answer pulled again is reported once
    and any change is a new report. An amount that is not money (a float, say) is refused,
    naming the component."""
    resource_id, month = request.resource.id, request.month
    lines = []
    for usage in pulled:
        amount = parse_money(usage.amount, f"pulled usage of {usage.component_type!r}")
        key = ":".join(
            (
                "pulled",
                resource_id,
                usage.component_type,
                f"{month:%Y-%m}",
                _exact_text(amount),
                hashlib.sha256(usage.description.encode("utf-8")).hexdigest()[:12],
            )
        )
        lines.append(
            UsageLine(resource_id, usage.component_type, amount, key, month, usage.description)
        )
    return lines


def _exact_text(amount: Decimal) -> str:
    """``amount`` as a plain numeral without trailing zeros, exactly (``normalize`` would
    round to the context's 28 digits): ``12.50`` and ``12.5`` read the same."""
    text = format(amount, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
