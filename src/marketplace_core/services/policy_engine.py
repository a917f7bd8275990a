"""How policies run: running monthly totals, evaluation on every trigger, and the actions.

Whatever changes a scope's cost or usage (an invoice item written, a usage report accepted)
records the change in the command's context (:mod:`marketplace_core.services.totals`).
Before the command commits, :func:`settle` adds the changes to the monthly totals of the
scopes that policies watch and evaluates those policies, in the same unit of work; the due
jobs evaluate every policy, so a period boundary resets what is in force even with no
trigger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

import attrs

from marketplace_core.billing.calendar import add_months
from marketplace_core.billing.invoices import InvoiceState
from marketplace_core.errors import ErrorCode, PolicyViolationError
from marketplace_core.events import (
    PolicyActionReset,
    PolicyActionRun,
)
from marketplace_core.notifications import Notification
from marketplace_core.offerings import Offering
from marketplace_core.orders import OrderType
from marketplace_core.organizations import Project
from marketplace_core.plugins.policy_actions import PolicyActionCall
from marketplace_core.policies import (
    RESOURCE_FLAGS,
    ActionKind,
    MonthlyTotal,
    Policy,
    PolicyAction,
    PolicyMetric,
    evaluate,
    in_window,
    monthly_total_id,
    period_window,
    share_of_limit,
)
from marketplace_core.resources import Resource, ResourceState
from marketplace_core.roles import Role, ScopeKind
from marketplace_core.services.context import Context
from marketplace_core.services.due_jobs import terminate_due_resource
from marketplace_core.services.order_flow import change_resource

# --------------------------------------------------------------------------- aggregates


def settle(ctx: Context) -> bool:
    """Write the command's changes to the monthly totals of the scopes that have policies,
    and evaluate those policies; returns whether there were any changes.

    Scopes without a policy keep no totals (a policy created later computes its scope's
    from the stored history), so a marketplace without policies pays nothing for them.
    """
    if not ctx.changes:
        return False
    changes = dict(ctx.changes)
    ctx.changes.clear()
    watched: dict[tuple[ScopeKind, str], Sequence[Policy]] = {}
    for (kind, scope_id, month), change in changes.items():
        scope = (kind, scope_id)
        if scope not in watched:
            watched[scope] = ctx.uow.policies.for_scope(kind, scope_id)
        if watched[scope]:
            _add_to_total(ctx, kind, scope_id, month, change.cost, change.usage)
    for _scope, scope_policies in sorted(watched.items()):
        for policy in scope_policies:
            apply(ctx, ctx.uow.policies.get(policy.id))
    return True


def _add_to_total(
    ctx: Context,
    kind: ScopeKind,
    scope_id: str,
    month: date,
    cost: Decimal,
    usage: Mapping[str, Decimal],
    *,
    replace_all: bool = False,
) -> None:
    """Add ``cost`` and ``usage`` to a scope's total of ``month`` (or, with ``replace_all``,
    make them its values)."""
    totals = ctx.uow.monthly_totals
    total_id = monthly_total_id(kind, scope_id, month)
    stored = totals.find(total_id)
    if stored is None:
        totals.add(MonthlyTotal(total_id, kind, scope_id, month, cost, usage))
        return
    if replace_all:
        new_cost, new_usage = cost, dict(usage)
    else:
        new_cost, new_usage = stored.cost + cost, dict(stored.usage)
        for component, amount in usage.items():
            new_usage[component] = new_usage.get(component, Decimal(0)) + amount
    totals.update(attrs.evolve(stored, cost=new_cost, usage=new_usage))


def recompute_totals(
    ctx: Context, scope_kind: ScopeKind, scope_id: str
) -> dict[date, tuple[Decimal, dict[str, Decimal]]]:
    """Compute a scope's monthly totals from scratch, from the stored invoice items (but those
    of canceled invoices) and usage reports of every resource it ever held, store them, and
    return them by month.

    Costs the scope's whole history: run when a policy starts watching the scope, and by
    tests that check the running totals.
    """
    months: dict[date, tuple[Decimal, dict[str, Decimal]]] = {}
    canceled = {invoice.id for invoice in ctx.uow.invoices.in_state(InvoiceState.CANCELED)}
    for resource in scope_resources(ctx, scope_kind, scope_id, live=False):
        for item in ctx.uow.invoice_items.for_resource(resource.id):
            cost, usage = months.setdefault(item.month, (Decimal(0), {}))
            if item.invoice_id not in canceled:
                months[item.month] = (cost + item.price, usage)
        offering = ctx.uow.offerings.get(resource.offering_id)
        for component in offering.components:
            latest: dict[date, Decimal] = {}
            for report in ctx.uow.usage_reports.for_component(resource.id, component.type):
                latest[report.month] = report.amount
            for month, amount in latest.items():
                cost, usage = months.setdefault(month, (Decimal(0), {}))
                usage[component.type] = usage.get(component.type, Decimal(0)) + amount
    for stored in ctx.uow.monthly_totals.for_scope(scope_kind, scope_id):
        months.setdefault(stored.month, (Decimal(0), {}))
    for month, (cost, usage) in months.items():
        _add_to_total(ctx, scope_kind, scope_id, month, cost, usage, replace_all=True)
    return months


def metric_of(
    ctx: Context, policy: Policy, totals: Sequence[MonthlyTotal] | None = None
) -> tuple[Decimal, dict[str, Decimal]]:
    """The policy's cost and usage over its current period, from the scope's monthly
    totals (a year at most, or every month of the scope for ``total``)."""
    window = period_window(policy.period, ctx.now)
    if totals is None:
        totals = _totals_in(ctx, policy, window)
    cost, usage = Decimal(0), dict[str, Decimal]()
    for total in totals:
        if in_window(total.month, window):
            cost += total.cost
            for component, amount in total.usage.items():
                usage[component] = usage.get(component, Decimal(0)) + amount
    return cost, usage


def _totals_in(
    ctx: Context, policy: Policy, window: tuple[date | None, date | None]
) -> Sequence[MonthlyTotal]:
    """The scope's totals of the window's months (every month for ``total``), read by id."""
    first, end = window
    if first is None or end is None:
        return ctx.uow.monthly_totals.for_scope(policy.scope_kind, policy.scope_id)
    found = []
    month = first
    while month < end:
        total_id = monthly_total_id(policy.scope_kind, policy.scope_id, month)
        total = ctx.uow.monthly_totals.find(total_id)
        if total is not None:
            found.append(total)
        month = add_months(month, 1)
    return found


# --------------------------------------------------------------------------- evaluation


def apply(ctx: Context, policy: Policy) -> Policy:
    """Evaluate ``policy`` now and carry out what it decides: store its new state, lift the
    actions to reset, run the actions that fire."""
    cost, usage = metric_of(ctx, policy)
    share = share_of_limit(policy, cost, usage)
    decision = evaluate(policy, share, ctx.now)
    stored = policy
    if decision.policy != policy:
        stored = ctx.uow.policies.update(decision.policy)
    reason = "period ended" if decision.new_period else "back under the limit"
    for index in decision.reset:
        reset_action(ctx, stored, policy.actions[index], share, reason)
    for index in decision.run:
        _run(ctx, stored, policy.actions[index], share)
    return stored


def evaluate_all(ctx: Context) -> list[str]:
    """Evaluate every policy (the due jobs' call, so a period boundary resets what is in
    force even when nothing triggers it); returns the ids of the policies that changed."""
    changed = []
    for policy in ctx.uow.policies.all():
        if apply(ctx, policy) is not policy:
            changed.append(policy.id)
    return changed


def scope_resources(
    ctx: Context, scope_kind: ScopeKind, scope_id: str, *, live: bool = True
) -> list[Resource]:
    """The resources of a scope (only the live ones, unless ``live`` is false)."""
    match scope_kind:
        case ScopeKind.PROJECT:
            resources = list(ctx.uow.resources.for_project(scope_id))
        case ScopeKind.ORGANIZATION:
            resources = [
                resource
                for project in ctx.uow.projects.for_organization(scope_id)
                for resource in ctx.uow.resources.for_project(project.id)
            ]
        case _:
            resources = list(ctx.uow.resources.for_offering(scope_id))
    return [r for r in resources if r.is_live] if live else resources


def _run(ctx: Context, policy: Policy, action: PolicyAction, share: Decimal) -> None:
    error = ""
    match action.kind:
        case ActionKind.NOTIFY_PROJECT_MEMBERS | ActionKind.NOTIFY_ORGANIZATION_OWNERS:
            _notify(ctx, policy, action, share)
        case ActionKind.TERMINATE_RESOURCES:
            for resource in scope_resources(ctx, policy.scope_kind, policy.scope_id):
                if _can_terminate(ctx, resource):
                    terminate_due_resource(ctx, resource.id, f"policy {policy.id}")
        case kind if kind in RESOURCE_FLAGS:
            flag = (RESOURCE_FLAGS[kind], policy.id)
            for resource in scope_resources(ctx, policy.scope_kind, policy.scope_id):
                if flag not in resource.policy_flags:
                    flags = resource.policy_flags | {flag}
                    change_resource(ctx, resource, None, None, policy_flags=flags)
        case ActionKind.CUSTOM:
            error = _custom(ctx, policy, action, share, reset=False)
        case _:
            pass  # blocks: in force through the policy's state, checked at placement
    ctx.uow.emit(
        PolicyActionRun(
            occurred_at=ctx.now,
            actor_id=None,
            policy_id=policy.id,
            action=action.label,
            share=share,
            error=error,
        )
    )


def reset_action(
    ctx: Context, policy: Policy, action: PolicyAction, share: Decimal, reason: str
) -> None:
    if action.kind in RESOURCE_FLAGS:
        flag = (RESOURCE_FLAGS[action.kind], policy.id)
        for resource in scope_resources(ctx, policy.scope_kind, policy.scope_id, live=False):
            if flag in resource.policy_flags:
                flags = resource.policy_flags - {flag}
                change_resource(ctx, resource, None, None, policy_flags=flags)
    error = ""
    if action.kind is ActionKind.CUSTOM:
        error = _custom(ctx, policy, action, share, reset=True)
    ctx.uow.emit(
        PolicyActionReset(
            occurred_at=ctx.now,
            actor_id=None,
            policy_id=policy.id,
            action=action.label,
            reason=reason,
            error=error,
        )
    )


def _custom(
    ctx: Context, policy: Policy, action: PolicyAction, share: Decimal, *, reset: bool
) -> str:
    """Call a custom action's handler; returns its failure, if it raised."""
    handler = ctx.plugins.policy_action(action.name)
    if handler is None:
        return f"policy action {action.name!r} is not registered"
    call = PolicyActionCall(
        policy,
        action,
        ctx.now,
        share,
        tuple(scope_resources(ctx, policy.scope_kind, policy.scope_id)),
    )
    try:
        (handler.reset if reset else handler.run)(call)
    except Exception as error:  # a plugin's failure must not undo the triggering command
        return f"{type(error).__name__}: {error}"
    return ""


def _can_terminate(ctx: Context, resource: Resource) -> bool:
    """Whether the system can order the resource's termination now (ok or erred, with no
    order executing)."""
    if resource.state not in (ResourceState.OK, ResourceState.ERRED):
        return False
    return all(not o.is_open for o in ctx.uow.orders.for_resource(resource.id))


def _notify(ctx: Context, policy: Policy, action: PolicyAction, share: Decimal) -> None:
    if action.kind is ActionKind.NOTIFY_PROJECT_MEMBERS:
        grants = ctx.uow.role_grants.for_scope(ScopeKind.PROJECT, policy.scope_id)
        recipients = {grant.user_id for grant in grants}
    else:
        organization_id = _organization_of_scope(ctx, policy)
        grants = ctx.uow.role_grants.for_scope(ScopeKind.ORGANIZATION, organization_id)
        recipients = {g.user_id for g in grants if g.role is Role.ORGANIZATION_OWNER}
    if not recipients:
        return
    what = "cost" if policy.metric is PolicyMetric.ESTIMATED_COST else "usage"
    ctx.notify(
        Notification(
            topic="policy.threshold_reached",
            recipient_ids=tuple(sorted(recipients)),
            subject=f"The {what} of {policy.scope_kind.value} {policy.scope_id} "
            + (
                f"reached {share.quantize(Decimal(1))}% of its limit"
                if share.is_finite()
                else "went over its limit of 0"
            ),
            body=f"Policy {policy.id} on {policy.scope_kind.value} {policy.scope_id} "
            f"({policy.period.value}) ran {action.label}.",
            context={"policy_id": policy.id, "action": action.label, "share": str(share)},
        )
    )


def _organization_of_scope(ctx: Context, policy: Policy) -> str:
    match policy.scope_kind:
        case ScopeKind.PROJECT:
            return ctx.uow.projects.get(policy.scope_id).organization_id
        case ScopeKind.ORGANIZATION:
            return policy.scope_id
        case _:
            return ctx.uow.offerings.get(policy.scope_id).provider_id


# --------------------------------------------------------------------------- order checks


def check_policies_allow(
    ctx: Context, order_type: OrderType, project: Project, offering: Offering
) -> None:
    """Refuse a create order while a policy of the project, its organization or the
    offering blocks creation, and an update order while one blocks modification.
    Terminations are never blocked."""
    if order_type is OrderType.TERMINATE:
        return
    kind, code = (
        (ActionKind.BLOCK_CREATION, ErrorCode.POLICY_BLOCKS_CREATION)
        if order_type is OrderType.CREATE
        else (ActionKind.BLOCK_MODIFICATION, ErrorCode.POLICY_BLOCKS_MODIFICATION)
    )
    for scope_kind, scope_id in (
        (ScopeKind.PROJECT, project.id),
        (ScopeKind.ORGANIZATION, project.organization_id),
        (ScopeKind.OFFERING, offering.id),
    ):
        for policy in ctx.uow.policies.for_scope(scope_kind, scope_id):
            if policy.in_force(kind, ctx.now):
                what = "new resources" if kind is ActionKind.BLOCK_CREATION else "changes"
                raise PolicyViolationError(
                    code,
                    f"policy {policy.id!r} on {scope_kind.value} {scope_id!r} blocks {what} "
                    "while it is in force (a threshold action until its period ends, an "
                    "immediate one until the metric is back under the limit)",
                    policy_id=policy.id,
                    scope_kind=scope_kind.value,
                    scope_id=scope_id,
                )


def flags_in_force(ctx: Context, project: Project) -> frozenset[tuple[str, str]]:
    """The flags a new resource of ``project`` starts with: those of the flag actions in
    force in policies of the project and its organization."""
    flags = set()
    for scope_kind, scope_id in (
        (ScopeKind.PROJECT, project.id),
        (ScopeKind.ORGANIZATION, project.organization_id),
    ):
        for policy in ctx.uow.policies.for_scope(scope_kind, scope_id):
            for kind, flag in RESOURCE_FLAGS.items():
                if policy.in_force(kind, ctx.now):
                    flags.add((flag, policy.id))
    return frozenset(flags)
