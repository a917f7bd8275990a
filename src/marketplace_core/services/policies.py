"""Policy commands and queries: attach, change and remove policies, and ask how far through
its limit a policy is. The rules that run them are in
:mod:`marketplace_core.services.policy_engine`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import attrs

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.events import (
    PolicyCreated,
    PolicyDeleted,
    PolicyLimitsChanged,
)
from marketplace_core.inputs import require_enum
from marketplace_core.money import MoneyInput, parse_money
from marketplace_core.policies import (
    POLICY_SCOPES,
    ActionKind,
    ActionType,
    Policy,
    PolicyAction,
    PolicyMetric,
    PolicyPeriod,
    check_policy_actions,
    share_of_limit,
)
from marketplace_core.roles import PLATFORM, Permission, ScopeKind
from marketplace_core.services.context import Context
from marketplace_core.services.policy_engine import (
    apply,
    metric_of,
    recompute_totals,
    reset_action,
)

# --------------------------------------------------------------------------- commands


def _authorize_on_scope(ctx: Context, actor_id: str, scope_kind: ScopeKind, scope_id: str) -> None:
    """Organization policies are the platform's (staff); project and offering policies are
    their organization's owners'."""
    if scope_kind is ScopeKind.ORGANIZATION:
        ctx.uow.organizations.get(scope_id)
        ctx.authorize(actor_id, Permission.BILLING_MANAGE, PLATFORM)
    else:
        ctx.authorize(actor_id, Permission.POLICY_MANAGE, ctx.scope_of(scope_kind, scope_id))


def _limits(
    ctx: Context,
    scope_kind: ScopeKind,
    scope_id: str,
    metric: PolicyMetric,
    limit: MoneyInput | None,
    component_limits: Mapping[str, MoneyInput] | None,
) -> tuple[Decimal, dict[str, Decimal]]:
    """The checked limit (estimated cost) or component limits (usage; on an offering, of
    its components)."""
    if metric is PolicyMetric.ESTIMATED_COST:
        if limit is None or component_limits:
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                "an estimated-cost policy takes a limit and no component_limits",
                field="limit",
                value=repr(limit),
            )
        return parse_money(limit, "limit"), {}
    if limit is not None or not component_limits:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            "a usage policy takes component_limits (at least one) and no limit",
            field="component_limits",
            value=repr(component_limits),
        )
    limits = {
        component: parse_money(value, f"component_limits[{component!r}]")
        for component, value in component_limits.items()
    }
    if scope_kind is ScopeKind.OFFERING:
        offering = ctx.uow.offerings.get(scope_id)
        for component in limits:
            if offering.component(component) is None:
                raise ValidationError(
                    ErrorCode.UNKNOWN_COMPONENT,
                    f"component_limits: offering {offering.id!r} has no component {component!r}",
                    offering_id=offering.id,
                    component=component,
                )
    return Decimal(0), limits


def proposed_policy(
    ctx: Context,
    policy_id: str,
    scope_kind: ScopeKind,
    scope_id: str,
    metric: PolicyMetric,
    period: PolicyPeriod,
    actions: Sequence[PolicyAction],
    limit: MoneyInput | None,
    component_limits: Mapping[str, MoneyInput] | None,
    created_by: str | None,
) -> Policy:
    """A policy built from checked input (not stored)."""
    metric = require_enum(metric, PolicyMetric, "metric")
    period = require_enum(period, PolicyPeriod, "period")
    checked = tuple(actions)
    check_policy_actions(scope_kind, checked)
    for action in checked:
        if action.kind is ActionKind.CUSTOM and ctx.plugins.policy_action(action.name) is None:
            raise ValidationError(
                ErrorCode.POLICY_ACTION_NOT_AVAILABLE,
                f"custom policy action {action.name!r} is not registered",
                action=action.name,
                scope_kind=scope_kind.value,
            )
    cost_limit, limits = _limits(ctx, scope_kind, scope_id, metric, limit, component_limits)
    return Policy(
        id=policy_id,
        scope_kind=scope_kind,
        scope_id=scope_id,
        metric=metric,
        period=period,
        actions=checked,
        created_at=ctx.now,
        limit=cost_limit,
        component_limits=limits,
        created_by=created_by,
    )


def policy_scope(ctx: Context, scope_kind: object, scope_id: str) -> ScopeKind:
    """The kind of an existing project, organization or offering a policy names."""
    return ctx.require_scope(scope_kind, scope_id, POLICY_SCOPES, "scope_kind")


def create_policy(
    ctx: Context,
    actor_id: str,
    scope_kind: ScopeKind,
    scope_id: str,
    metric: PolicyMetric,
    period: PolicyPeriod,
    actions: Sequence[PolicyAction],
    *,
    limit: MoneyInput | None = None,
    component_limits: Mapping[str, MoneyInput] | None = None,
) -> Policy:
    """Attach a policy to a project, organization or offering, and evaluate it at once.

    Needs ``policy.manage`` on a project or offering (their organization's owners), and
    ``billing.manage`` (staff) for an organization. An estimated-cost policy takes
    ``limit``; a usage policy takes ``component_limits`` (components of the offering, for an
    offering policy).
    """
    kind = policy_scope(ctx, scope_kind, scope_id)
    _authorize_on_scope(ctx, actor_id, kind, scope_id)
    proposed = proposed_policy(
        ctx,
        ctx.ids.new_id("policy"),
        kind,
        scope_id,
        metric,
        period,
        actions,
        limit,
        component_limits,
        actor_id,
    )
    if not ctx.uow.policies.for_scope(kind, scope_id):
        recompute_totals(ctx, kind, scope_id)  # the scope's first policy: start its totals
    policy = ctx.uow.policies.add(proposed)
    ctx.uow.emit(
        PolicyCreated(
            occurred_at=ctx.now,
            actor_id=actor_id,
            policy_id=policy.id,
            scope_kind=kind.value,
            scope_id=scope_id,
            metric=policy.metric.value,
            period=policy.period.value,
        )
    )
    return apply(ctx, policy)


def change_policy_limits(
    ctx: Context,
    actor_id: str,
    policy_id: str,
    *,
    limit: MoneyInput | None = None,
    component_limits: Mapping[str, MoneyInput] | None = None,
) -> Policy:
    """Change a policy's limit (or component limits). Nothing runs or resets because of the
    edit itself: the next trigger evaluates the policy against the new limit."""
    policy = ctx.uow.policies.get(policy_id)
    _authorize_on_scope(ctx, actor_id, policy.scope_kind, policy.scope_id)
    cost_limit, limits = _limits(
        ctx, policy.scope_kind, policy.scope_id, policy.metric, limit, component_limits
    )
    stored = ctx.uow.policies.update(
        attrs.evolve(policy, limit=cost_limit, component_limits=limits)
    )
    ctx.uow.emit(PolicyLimitsChanged(occurred_at=ctx.now, actor_id=actor_id, policy_id=policy.id))
    return stored


def delete_policy(ctx: Context, actor_id: str, policy_id: str) -> None:
    """Remove a policy, lifting first whatever it has in force (flags, custom actions)."""
    policy = ctx.uow.policies.get(policy_id)
    _authorize_on_scope(ctx, actor_id, policy.scope_kind, policy.scope_id)
    share = share_of_limit(policy, *metric_of(ctx, policy))
    for index, action in enumerate(policy.actions):
        if index in policy.fired or (policy.over and action.type is ActionType.IMMEDIATE):
            reset_action(ctx, policy, action, share, "policy deleted")
    ctx.uow.policies.remove(ctx.uow.policies.get(policy.id))
    ctx.uow.emit(PolicyDeleted(occurred_at=ctx.now, actor_id=actor_id, policy_id=policy.id))


def get_policy(ctx: Context, policy_id: str) -> Policy:
    """The policy with this id."""
    return ctx.uow.policies.get(policy_id)


def list_policies(ctx: Context, scope_kind: ScopeKind, scope_id: str) -> Sequence[Policy]:
    """The policies of one scope, oldest first."""
    return ctx.uow.policies.for_scope(policy_scope(ctx, scope_kind, scope_id), scope_id)


def policy_share(ctx: Context, policy_id: str) -> Decimal:
    """How far through its limit the policy's metric is now, in percent."""
    policy = ctx.uow.policies.get(policy_id)
    return share_of_limit(policy, *metric_of(ctx, policy))
