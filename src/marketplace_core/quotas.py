"""Quotas and deny lists: bounds and vetoes checked before an order is written.

A :class:`Quota` bounds one quantity of a scope (an organization, a project, an offering):
how many live resources it holds, the sum of one component's limits over them, or their
estimated monthly cost. ``-1`` means unlimited and ``0`` allows nothing. An order that would
take the usage over the limit is refused up front. A :class:`DenyRule` bars an organization or
a project from an offering or a whole category.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from decimal import Decimal

import attrs

from marketplace_core.errors import ErrorCode, PolicyViolationError, QuotaExceededError
from marketplace_core.offerings import Offering, PlanUnit
from marketplace_core.resources import Resource
from marketplace_core.roles import ScopeKind

QUOTA_SCOPES = frozenset({ScopeKind.ORGANIZATION, ScopeKind.PROJECT, ScopeKind.OFFERING})
UNLIMITED = Decimal(-1)


class QuotaKind(enum.StrEnum):
    """What a quota counts."""

    LIVE_RESOURCES = "live_resources"
    """Resources that are not terminated (those being created count)."""
    COMPONENT_LIMIT = "component_limit"
    """The sum of one component's limits over the live resources."""
    MONTHLY_COST = "monthly_cost"
    """The sum of the live resources' estimated cost per month."""


@attrs.frozen
class Quota:
    """``limit`` on ``kind`` (of ``component``, for component limits) in a scope."""

    id: str
    scope_kind: ScopeKind
    scope_id: str
    kind: QuotaKind
    limit: Decimal
    component: str = ""
    version: int = 0


MONTHLY_FACTOR = {
    PlanUnit.MONTH: Decimal(1),
    PlanUnit.QUANTITY: Decimal(1),
    PlanUnit.HALF_MONTH: Decimal(2),
    PlanUnit.DAY: Decimal(30),
    PlanUnit.HOUR: Decimal(720),
}
"""Plan units per month, for the cost quota: a month of 30 days (Waldur's price-per-day
conversion)."""


def monthly_cost(cost: Decimal | None, unit: PlanUnit | None) -> Decimal:
    """A resource's estimated cost per month, from its cost per plan unit."""
    if cost is None or unit is None:
        return Decimal(0)
    return cost * MONTHLY_FACTOR[unit]


def quota_usage(quota: Quota, resources: Iterable[Resource], units: dict[str, PlanUnit]) -> Decimal:
    """What ``resources`` (the live resources of the quota's scope) use of it; ``units``
    maps plan ids to their units."""
    live = [r for r in resources if r.is_live]
    if quota.kind is QuotaKind.LIVE_RESOURCES:
        return Decimal(len(live))
    if quota.kind is QuotaKind.COMPONENT_LIMIT:
        return Decimal(sum(r.limits.get(quota.component, 0) for r in live))
    return sum((monthly_cost(r.cost, units.get(r.plan_id or "")) for r in live), Decimal(0))


def check_quota(quota: Quota, usage: Decimal, change: Decimal) -> None:
    """Refuse a change that takes ``usage`` over the quota's limit (unless unlimited).

    A change that lowers the usage is always let through, even while over the limit.
    """
    if quota.limit == UNLIMITED or change <= 0 or usage + change <= quota.limit:
        return
    what = quota.kind.value + (f" of {quota.component!r}" if quota.component else "")
    raise QuotaExceededError(
        ErrorCode.QUOTA_EXCEEDED,
        f"{quota.scope_kind.value} {quota.scope_id!r}: {what} would be {usage + change}, "
        f"over its quota of {quota.limit} ({usage} used)",
        scope_kind=quota.scope_kind.value,
        scope_id=quota.scope_id,
        quota=quota.kind.value,
        component=quota.component,
        usage=str(usage),
        change=str(change),
        limit=str(quota.limit),
    )


class DenyTarget(enum.StrEnum):
    """What a deny rule bars."""

    OFFERING = "offering"
    CATEGORY = "category"


@attrs.frozen
class DenyRule:
    """``(subject_kind, subject_id)`` (an organization or a project) may not order from
    ``(target, target_id)`` (an offering, or every offering of a category)."""

    id: str
    subject_kind: ScopeKind
    subject_id: str
    target: DenyTarget
    target_id: str
    version: int = 0

    def bars(self, offering: Offering) -> bool:
        """Whether the rule bars ``offering``."""
        if self.target is DenyTarget.OFFERING:
            return offering.id == self.target_id
        return offering.category_id == self.target_id


def check_not_denied(rules: Iterable[DenyRule], offering: Offering) -> None:
    """Refuse an order of ``offering`` that one of ``rules`` (those of the ordering project
    and its organization) bars."""
    for rule in rules:
        if rule.bars(offering):
            raise PolicyViolationError(
                ErrorCode.OFFERING_DENIED,
                f"{rule.subject_kind.value} {rule.subject_id!r} may not order offering "
                f"{offering.id!r}: its {rule.target.value} {rule.target_id!r} is on the deny "
                "list",
                subject_kind=rule.subject_kind.value,
                subject_id=rule.subject_id,
                offering_id=offering.id,
                rule_id=rule.id,
            )
