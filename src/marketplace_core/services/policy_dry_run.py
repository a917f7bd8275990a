"""The dry run: what a proposed policy would have done, replayed from the stored history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal

import attrs

from marketplace_core.billing.items import InvoiceItem
from marketplace_core.events import (
    DomainEvent,
    InvoiceItemWritten,
    InvoiceStateChanged,
    UsageReported,
)
from marketplace_core.inputs import require_month
from marketplace_core.money import MoneyInput
from marketplace_core.policies import (
    PolicyAction,
    PolicyMetric,
    PolicyPeriod,
    evaluate,
    in_window,
    period_window,
    share_of_limit,
)
from marketplace_core.roles import ScopeKind
from marketplace_core.services.context import Context
from marketplace_core.services.policies import policy_scope, proposed_policy
from marketplace_core.services.policy_engine import scope_resources

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
    kind = policy_scope(ctx, scope_kind, scope_id)
    month = require_month(month, "month")
    policy = proposed_policy(
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
    return {r.id for r in scope_resources(ctx, scope_kind, scope_id, live=False)}
