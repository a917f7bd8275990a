"""Quotas and deny lists in the service layer: commands, and the check every placed create or
update order passes before anything is written."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal

import attrs

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.events import DenyRuleAdded, DenyRuleRemoved, QuotaSet
from marketplace_core.frozen import replace
from marketplace_core.inputs import require_enum, require_text
from marketplace_core.money import ZERO, MoneyInput, parse_money
from marketplace_core.offerings import Offering, Plan, PlanUnit
from marketplace_core.orders import Order, OrderType, estimate_cost
from marketplace_core.organizations import Project
from marketplace_core.quotas import (
    QUOTA_SCOPES,
    UNLIMITED,
    DenyRule,
    DenyTarget,
    Quota,
    QuotaKind,
    check_not_denied,
    check_quota,
    monthly_cost,
    quota_usage,
)
from marketplace_core.resources import Resource
from marketplace_core.roles import PLATFORM, Permission, ScopeKind
from marketplace_core.services.context import Context
from marketplace_core.services.policy_engine import check_policies_allow, scope_resources

DENY_SUBJECTS = frozenset({ScopeKind.ORGANIZATION, ScopeKind.PROJECT})
"""What a deny rule may bar: an organization or a project."""


@attrs.frozen
class QuotaStatus:
    """A quota and what its scope uses of it now."""

    quota: Quota
    usage: Decimal


def set_quota(
    ctx: Context,
    actor_id: str,
    scope_kind: ScopeKind,
    scope_id: str,
    kind: QuotaKind,
    limit: MoneyInput,
    *,
    component: str = "",
) -> Quota:
    """Set a quota of a scope (``-1``: unlimited). Needs ``quota.manage`` (staff).

    A component-limit quota names a ``component``; the others take none. Setting a quota
    below the current usage is allowed: it refuses further growth, not what exists.
    """
    ctx.authorize(actor_id, Permission.QUOTA_MANAGE, PLATFORM)
    scope = ctx.require_scope(scope_kind, scope_id, QUOTA_SCOPES, "scope_kind")
    kind = require_enum(kind, QuotaKind, "kind")
    amount = parse_money(limit, "limit", allow_negative=True)
    if amount < 0 and amount != UNLIMITED:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"limit must be -1 (unlimited) or at least 0, got {amount}",
            field="limit",
            value=str(amount),
        )
    if (kind is QuotaKind.COMPONENT_LIMIT) != bool(component):
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            "component: a component-limit quota names a component, other quotas none",
            field="component",
            value=repr(component),
        )
    if component:
        require_text(component, "component")
    quota_id = f"quota:{scope.value}:{scope_id}:{kind.value}:{component}"
    existing = ctx.uow.quotas.find(quota_id)
    if existing is None:
        quota = ctx.uow.quotas.add(Quota(quota_id, scope, scope_id, kind, amount, component))
    else:
        quota = ctx.uow.quotas.update(attrs.evolve(existing, limit=amount))
    ctx.uow.emit(
        QuotaSet(
            occurred_at=ctx.now,
            actor_id=actor_id,
            quota_id=quota.id,
            scope_kind=scope.value,
            scope_id=scope_id,
            kind=kind.value,
            component=component,
            limit=amount,
        )
    )
    return quota


def add_deny_rule(
    ctx: Context,
    actor_id: str,
    subject_kind: ScopeKind,
    subject_id: str,
    target: DenyTarget,
    target_id: str,
) -> DenyRule:
    """Bar an organization or a project from an offering or a whole category. Needs
    ``quota.manage`` (staff). Adding a rule that exists returns it."""
    ctx.authorize(actor_id, Permission.QUOTA_MANAGE, PLATFORM)
    subject = ctx.require_scope(subject_kind, subject_id, DENY_SUBJECTS, "subject_kind")
    target = require_enum(target, DenyTarget, "target")
    if target is DenyTarget.OFFERING:
        ctx.uow.offerings.get(target_id)
    else:
        ctx.uow.categories.get(target_id)
    rule_id = f"deny:{subject.value}:{subject_id}:{target.value}:{target_id}"
    existing = ctx.uow.deny_rules.find(rule_id)
    if existing is not None:
        return existing
    rule = ctx.uow.deny_rules.add(DenyRule(rule_id, subject, subject_id, target, target_id))
    ctx.uow.emit(
        DenyRuleAdded(
            occurred_at=ctx.now,
            actor_id=actor_id,
            rule_id=rule.id,
            subject_kind=subject.value,
            subject_id=subject_id,
            target=target.value,
            target_id=target_id,
        )
    )
    return rule


def remove_deny_rule(ctx: Context, actor_id: str, rule_id: str) -> None:
    """Lift a deny rule. Needs ``quota.manage`` (staff)."""
    ctx.authorize(actor_id, Permission.QUOTA_MANAGE, PLATFORM)
    ctx.uow.deny_rules.remove(ctx.uow.deny_rules.get(rule_id))
    ctx.uow.emit(DenyRuleRemoved(occurred_at=ctx.now, actor_id=actor_id, rule_id=rule_id))


# --------------------------------------------------------------------------- the check


def _scopes(project: Project, offering: Offering) -> list[tuple[ScopeKind, str]]:
    return [
        (ScopeKind.PROJECT, project.id),
        (ScopeKind.ORGANIZATION, project.organization_id),
        (ScopeKind.OFFERING, offering.id),
    ]


def _live_resources(ctx: Context, scope_kind: ScopeKind, scope_id: str) -> Iterator[Resource]:
    """The live resources of a scope, each as it will be if its open update order succeeds,
    where that takes more (so two pending increases cannot overrun a quota together)."""
    for resource in scope_resources(ctx, scope_kind, scope_id):
        yield _as_claimed(ctx, resource)


def _as_claimed(ctx: Context, resource: Resource) -> Resource:
    """``resource`` with the larger of its limits and those of its open update order, and
    the dearer of its cost and the order's."""
    pending = [
        order
        for order in ctx.uow.orders.for_resource(resource.id)
        if order.is_open and order.type is OrderType.UPDATE
    ]
    if not pending:
        return resource
    order = pending[-1]
    components = set(resource.limits) | set(order.limits)
    limits = {c: max(resource.limits.get(c, 0), order.limits.get(c, 0)) for c in components}
    claimed = replace(resource, limits=limits)
    if order.plan_id is None:
        return claimed
    plan = ctx.uow.plans.get(order.plan_id)
    offering = ctx.uow.offerings.get(resource.offering_id)
    cost = estimate_cost(plan, offering, order.limits)
    current_unit = ctx.uow.plans.get(resource.plan_id).unit if resource.plan_id else None
    if monthly_cost(cost, plan.unit) > monthly_cost(resource.cost, current_unit):
        claimed = replace(claimed, cost=cost, plan_id=plan.id)
    return claimed


def _plan_units(ctx: Context, offering_ids: set[str]) -> dict[str, PlanUnit]:
    return {
        plan.id: plan.unit
        for offering_id in offering_ids
        for plan in ctx.uow.plans.for_offering(offering_id)
    }


def _change(
    quota: Quota, order: Order, resource: Resource, new_cost: Decimal, old_cost: Decimal
) -> Decimal:
    if quota.kind is QuotaKind.LIVE_RESOURCES:
        return Decimal(1) if order.type is OrderType.CREATE else Decimal(0)
    if quota.kind is QuotaKind.COMPONENT_LIMIT:
        before = 0 if order.type is OrderType.CREATE else resource.limits.get(quota.component, 0)
        return Decimal(order.limits.get(quota.component, 0) - before)
    return new_cost - old_cost


def check_vetoes(ctx: Context, order_type: OrderType, project: Project, offering: Offering) -> None:
    """Refuse a create order that a deny rule of the project or its organization bars, and a
    create or update order that a policy in force blocks. Checked when an order is placed
    and again when it is approved or retried."""
    if order_type is OrderType.CREATE:
        rules = [
            rule
            for kind, scope_id in _scopes(project, offering)[:2]
            for rule in ctx.uow.deny_rules.for_subject(kind, scope_id)
        ]
        check_not_denied(rules, offering)
    check_policies_allow(ctx, order_type, project, offering)


def check_quotas(
    ctx: Context,
    order: Order,
    project: Project,
    offering: Offering,
    plan: Plan | None,
    resource: Resource,
) -> None:
    """Refuse a create or update order that would take a quota of the project, its
    organization or the offering over its limit. Terminations always pass."""
    if order.type is OrderType.TERMINATE:
        return
    quotas = [
        (kind, scope_id, quota)
        for kind, scope_id in _scopes(project, offering)
        for quota in ctx.uow.quotas.for_scope(kind, scope_id)
    ]
    if not quotas:
        return
    new_cost = (
        monthly_cost(estimate_cost(plan, offering, order.limits), plan.unit) if plan else ZERO
    )
    old_cost = ZERO
    if order.type is OrderType.UPDATE and resource.plan_id:
        old_cost = monthly_cost(resource.cost, ctx.uow.plans.get(resource.plan_id).unit)
    usage = _UsageOfScopes(ctx)
    for kind, scope_id, quota in quotas:
        change = _change(quota, order, resource, new_cost, old_cost)
        if change > 0 and quota.limit != UNLIMITED:
            check_quota(quota, usage.of(quota, kind, scope_id), change)


class _UsageOfScopes:
    """What quotas use, reading each scope's resources once however many quotas it has."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.seen: dict[tuple[ScopeKind, str], tuple[list[Resource], dict[str, PlanUnit]]] = {}

    def of(self, quota: Quota, kind: ScopeKind, scope_id: str) -> Decimal:
        """What ``quota`` of ``(kind, scope_id)`` uses now."""
        if (kind, scope_id) not in self.seen:
            live = list(_live_resources(self.ctx, kind, scope_id))
            self.seen[kind, scope_id] = live, _plan_units(self.ctx, {r.offering_id for r in live})
        live, units = self.seen[kind, scope_id]
        return quota_usage(quota, live, units)


# --------------------------------------------------------------------------- queries


def list_quotas(ctx: Context, scope_kind: ScopeKind, scope_id: str) -> list[QuotaStatus]:
    """The quotas of a scope, each with what the scope uses of it now."""
    kind = ctx.require_scope(scope_kind, scope_id, QUOTA_SCOPES, "scope_kind")
    usage = _UsageOfScopes(ctx)
    return [
        QuotaStatus(quota, usage.of(quota, kind, scope_id))
        for quota in ctx.uow.quotas.for_scope(kind, scope_id)
    ]


def list_deny_rules(ctx: Context, subject_kind: ScopeKind, subject_id: str) -> Sequence[DenyRule]:
    """The deny rules barring an organization or a project, oldest first."""
    return ctx.uow.deny_rules.for_subject(
        require_enum(subject_kind, ScopeKind, "subject_kind"), subject_id
    )
