"""Policies in the service layer: running aggregates, evaluation on every trigger, actions.

Whatever changes a scope's cost or usage (an invoice item written, a usage report accepted)
records the change in the command's context (:mod:`marketplace_core.services.totals`).
Before the command commits, :func:`settle` adds the changes to the scopes' monthly totals and
evaluates the policies of the scopes they touched, in the same unit of work; the due jobs
evaluate every policy, so a period boundary resets what is in force even with no trigger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal

import attrs

from marketplace_core.billing.calendar import add_months
from marketplace_core.billing.invoices import InvoiceState
from marketplace_core.billing.items import InvoiceItem
from marketplace_core.errors import ErrorCode, PolicyViolationError, ValidationError
from marketplace_core.events import (
    DomainEvent,
    InvoiceItemWritten,
    InvoiceStateChanged,
    PolicyActionReset,
    PolicyActionRun,
    PolicyCreated,
    PolicyDeleted,
    PolicyLimitsChanged,
    UsageReported,
)
from marketplace_core.inputs import require_enum, require_month
from marketplace_core.money import MoneyInput, parse_money
from marketplace_core.notifications import Notification
from marketplace_core.offerings import Offering
from marketplace_core.orders import OrderType
from marketplace_core.organizations import Project
from marketplace_core.plugins.policy_actions import PolicyActionCall
from marketplace_core.policies import (
    POLICY_SCOPES,
    RESOURCE_FLAGS,
    ActionKind,
    ActionType,
    MonthlyTotal,
    Policy,
    PolicyAction,
    PolicyMetric,
    PolicyPeriod,
    check_policy_actions,
    evaluate,
    in_window,
    monthly_total_id,
    period_window,
    share_of_limit,
)
from marketplace_core.resources import Resource, ResourceState
from marketplace_core.roles import PLATFORM, Permission, Role, ScopeKind
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
    for resource in _scope_resources(ctx, scope_kind, scope_id, live=False):
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
        _reset(ctx, stored, policy.actions[index], share, reason)
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


def _scope_resources(
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
            for resource in _scope_resources(ctx, policy.scope_kind, policy.scope_id):
                if _can_terminate(ctx, resource):
                    terminate_due_resource(ctx, resource.id, f"policy {policy.id}")
        case kind if kind in RESOURCE_FLAGS:
            flag = (RESOURCE_FLAGS[kind], policy.id)
            for resource in _scope_resources(ctx, policy.scope_kind, policy.scope_id):
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


def _reset(ctx: Context, policy: Policy, action: PolicyAction, share: Decimal, reason: str) -> None:
    if action.kind in RESOURCE_FLAGS:
        flag = (RESOURCE_FLAGS[action.kind], policy.id)
        for resource in _scope_resources(ctx, policy.scope_kind, policy.scope_id, live=False):
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
        tuple(_scope_resources(ctx, policy.scope_kind, policy.scope_id)),
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


def _proposed(
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


def _policy_scope(ctx: Context, scope_kind: object, scope_id: str) -> ScopeKind:
    kind = require_enum(scope_kind, ScopeKind, "scope_kind")
    if kind not in POLICY_SCOPES:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"scope_kind: policies attach to projects, organizations or offerings, not "
            f"{kind.value}",
            field="scope_kind",
            value=kind.value,
        )
    ctx.scope_of(kind, scope_id)  # refuses an unknown scope
    return kind


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
    kind = _policy_scope(ctx, scope_kind, scope_id)
    _authorize_on_scope(ctx, actor_id, kind, scope_id)
    proposed = _proposed(
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
            _reset(ctx, policy, action, share, "policy deleted")
    ctx.uow.policies.remove(ctx.uow.policies.get(policy.id))
    ctx.uow.emit(PolicyDeleted(occurred_at=ctx.now, actor_id=actor_id, policy_id=policy.id))


def get_policy(ctx: Context, policy_id: str) -> Policy:
    """The policy with this id."""
    return ctx.uow.policies.get(policy_id)


def list_policies(ctx: Context, scope_kind: ScopeKind, scope_id: str) -> Sequence[Policy]:
    """The policies of one scope, oldest first."""
    return ctx.uow.policies.for_scope(_policy_scope(ctx, scope_kind, scope_id), scope_id)


def policy_share(ctx: Context, policy_id: str) -> Decimal:
    """How far through its limit the policy's metric is now, in percent."""
    policy = ctx.uow.policies.get(policy_id)
    return share_of_limit(policy, *metric_of(ctx, policy))


# --------------------------------------------------------------------------- dry run


@attrs.frozen
class DryRunStep:
    """One thing a proposed policy would have done: at ``at``, ``what`` (``"run"`` or
    ``"reset"``) to ``action``, with the metric ``share`` percent of the limit."""

    at: datetime
    action: str
    what: str
    share: Decimal


def dry_run_policy(
    ctx: Context,
    scope_kind: ScopeKind,
    scope_id: str,
    metric: PolicyMetric,
    period: PolicyPeriod,
    actions: Sequence[PolicyAction],
    month: date,
    *,
    limit: MoneyInput | None = None,
    component_limits: Mapping[str, MoneyInput] | None = None,
) -> list[DryRunStep]:
    """What a proposed policy would have done in the period containing ``month``, replayed
    from the stored history: the invoice items written, the usage reports accepted and the
    invoices canceled, in commit order. As live, the policy is evaluated once the changes of
    a command are in: the replay takes the events of one instant together. Changes nothing.
    """
    kind = _policy_scope(ctx, scope_kind, scope_id)
    month = require_month(month, "month")
    policy = _proposed(
        ctx, "dry-run", kind, scope_id, metric, period, actions, limit, component_limits, None
    )
    window = period_window(policy.period, datetime.combine(month, time(), UTC))
    first, end = window
    start_at = None if first is None else datetime.combine(first, time(), UTC)
    end_at = None if end is None else datetime.combine(end, time(), UTC)
    replay = _Replay(ctx, _scope_members(ctx, kind, scope_id), window)
    steps: list[DryRunStep] = []
    pending_at: datetime | None = None

    def evaluate_at(at: datetime) -> None:
        nonlocal policy
        share = share_of_limit(policy, replay.cost, replay.usage)
        decision = evaluate(policy, share, at)
        steps.extend(
            DryRunStep(at, policy.actions[i].label, "reset", share) for i in decision.reset
        )
        steps.extend(DryRunStep(at, policy.actions[i].label, "run", share) for i in decision.run)
        policy = decision.policy

    for recorded in ctx.uow.outbox.read():
        event = recorded.event
        if end_at is not None and event.occurred_at >= end_at:
            break
        if pending_at is not None and event.occurred_at != pending_at:
            evaluate_at(pending_at)
            pending_at = None
        if replay.apply(event) and (start_at is None or event.occurred_at >= start_at):
            pending_at = event.occurred_at
    if pending_at is not None:
        evaluate_at(pending_at)
    return steps


class _Replay:
    """The metric of a scope over a window, rebuilt event by event from the outbox."""

    def __init__(
        self, ctx: Context, members: set[str], window: tuple[date | None, date | None]
    ) -> None:
        self.ctx, self.members, self.window = ctx, members, window
        self.cost = Decimal(0)
        self.usage: dict[str, Decimal] = {}
        self.last_report: dict[tuple[str, str, date], Decimal] = {}

    def _counts(self, item: InvoiceItem | None) -> bool:
        return (
            item is not None
            and item.resource_id in self.members
            and in_window(item.month, self.window)
        )

    def apply(self, event: DomainEvent) -> bool:
        """Take one event into the metric; whether it changed it."""
        uow = self.ctx.uow
        if isinstance(event, InvoiceItemWritten):
            if self._counts(uow.invoice_items.find(event.item_id)):
                self.cost += event.price_change
                return True
        elif isinstance(event, UsageReported):
            key = (event.resource_id, event.component_type, event.month)
            change = event.amount - self.last_report.get(key, Decimal(0))
            self.last_report[key] = event.amount
            if event.resource_id in self.members and in_window(event.month, self.window):
                component = event.component_type
                self.usage[component] = self.usage.get(component, Decimal(0)) + change
                return True
        elif isinstance(event, InvoiceStateChanged) and event.target == "canceled":
            canceled = [
                i for i in uow.invoice_items.for_invoice(event.invoice_id) if self._counts(i)
            ]
            self.cost -= sum((item.price for item in canceled), Decimal(0))
            return bool(canceled)
        return False


def _scope_members(ctx: Context, scope_kind: ScopeKind, scope_id: str) -> set[str]:
    """The ids of every resource of a scope, terminated ones included."""
    return {r.id for r in _scope_resources(ctx, scope_kind, scope_id, live=False)}
