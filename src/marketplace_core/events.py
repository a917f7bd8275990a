"""Domain events: what happened, named in the past tense.

Commands emit events through the unit of work; on commit they are appended to the storage's
outbox in the same transaction, numbered by ``position``, and handed to the event sink in
that order. A host can replay the outbox from any position, so delivery is at least once and
in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from marketplace_core.frozen import frozen_mapping


@attrs.frozen(kw_only=True)
class DomainEvent:
    """The base of every event: when it happened and who caused it (``None``: the system)."""

    occurred_at: datetime
    actor_id: str | None

    @property
    def event_type(self) -> str:
        """The event's type name, stable across versions (the class name)."""
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """The event as plain data with its ``event_type``, for logs, outboxes and vectors."""
        data = attrs.asdict(self, recurse=False)
        return {
            "event_type": self.event_type,
            **{key: dict(v) if isinstance(v, Mapping) else v for key, v in data.items()},
        }


@attrs.frozen
class RecordedEvent:
    """An event as committed to the outbox, at ``position`` (1, 2, 3, ... in commit order)."""

    position: int
    event: DomainEvent


# --------------------------------------------------------------------------- platform


@attrs.frozen(kw_only=True)
class UserRegistered(DomainEvent):
    """A user was created."""

    user_id: str
    username: str
    is_staff: bool


@attrs.frozen(kw_only=True)
class UserStaffChanged(DomainEvent):
    """A user's staff flag was set or cleared."""

    user_id: str
    is_staff: bool


@attrs.frozen(kw_only=True)
class OrganizationGroupCreated(DomainEvent):
    """An organization group was created."""

    group_id: str
    name: str


@attrs.frozen(kw_only=True)
class OrganizationCreated(DomainEvent):
    """An organization was created."""

    organization_id: str
    name: str


@attrs.frozen(kw_only=True)
class OrganizationUpdated(DomainEvent):
    """An organization's name or group changed; ``changes`` lists the fields."""

    organization_id: str
    changes: tuple[str, ...]


@attrs.frozen(kw_only=True)
class OrganizationBlocked(DomainEvent):
    """An organization was blocked: it may neither order nor publish."""

    organization_id: str


@attrs.frozen(kw_only=True)
class OrganizationUnblocked(DomainEvent):
    """A blocked organization was unblocked."""

    organization_id: str


@attrs.frozen(kw_only=True)
class OrganizationArchived(DomainEvent):
    """An organization was archived: it is read-only from now on."""

    organization_id: str


@attrs.frozen(kw_only=True)
class ProjectCreated(DomainEvent):
    """A project was created in an organization."""

    project_id: str
    organization_id: str
    name: str


@attrs.frozen(kw_only=True)
class ProjectUpdated(DomainEvent):
    """A project's name, dates or auto-approval changed; ``changes`` lists the fields."""

    project_id: str
    changes: tuple[str, ...]


@attrs.frozen(kw_only=True)
class RoleGranted(DomainEvent):
    """A user was given a role on a scope."""

    grant_id: str
    user_id: str
    role: str
    scope_kind: str
    scope_id: str


@attrs.frozen(kw_only=True)
class RoleRevoked(DomainEvent):
    """A user's role on a scope was taken away."""

    grant_id: str
    user_id: str
    role: str
    scope_kind: str
    scope_id: str


# --------------------------------------------------------------------------- catalogue


@attrs.frozen(kw_only=True)
class ProviderRegistered(DomainEvent):
    """An organization was registered as a service provider."""

    organization_id: str


@attrs.frozen(kw_only=True)
class CategoryCreated(DomainEvent):
    """A catalogue category was created."""

    category_id: str
    title: str


@attrs.frozen(kw_only=True)
class OfferingCreated(DomainEvent):
    """A provider created an offering (in draft)."""

    offering_id: str
    provider_id: str
    plugin_type: str


@attrs.frozen(kw_only=True)
class OfferingUpdated(DomainEvent):
    """An offering's descriptive fields, options or visibility changed."""

    offering_id: str
    changes: tuple[str, ...]


@attrs.frozen(kw_only=True)
class OfferingStateChanged(DomainEvent):
    """An offering moved through its lifecycle."""

    offering_id: str
    event: str
    source: str
    target: str


@attrs.frozen(kw_only=True)
class OfferingComponentAdded(DomainEvent):
    """A component was added to an offering."""

    offering_id: str
    component_type: str


@attrs.frozen(kw_only=True)
class OfferingComponentUpdated(DomainEvent):
    """A component's settings changed."""

    offering_id: str
    component_type: str


@attrs.frozen(kw_only=True)
class OfferingComponentRemoved(DomainEvent):
    """A component was removed from an offering."""

    offering_id: str
    component_type: str


@attrs.frozen(kw_only=True)
class PlanCreated(DomainEvent):
    """A plan was created for an offering."""

    plan_id: str
    offering_id: str
    name: str


@attrs.frozen(kw_only=True)
class PlanUpdated(DomainEvent):
    """A plan's name, description or capacity changed; ``changes`` lists the fields."""

    plan_id: str
    changes: tuple[str, ...]


@attrs.frozen(kw_only=True)
class PlanArchived(DomainEvent):
    """A plan was archived: no new resources or switches to it."""

    plan_id: str
    offering_id: str


@attrs.frozen(kw_only=True)
class PlanPricesChanged(DomainEvent):
    """A plan's current prices changed (``prices`` holds the new ones)."""

    plan_id: str
    prices: Mapping[str, Decimal] = attrs.field(converter=frozen_mapping)


@attrs.frozen(kw_only=True)
class PlanFuturePricesScheduled(DomainEvent):
    """Prices were scheduled to replace a plan's current ones at the next billing month."""

    plan_id: str
    prices: Mapping[str, Decimal] = attrs.field(converter=frozen_mapping)


# --------------------------------------------------------------------------- orders and resources


@attrs.frozen(kw_only=True)
class OrderPlaced(DomainEvent):
    """An order was placed (in ``pending-consumer``); ``cost`` is its estimate per unit."""

    order_id: str
    order_type: str
    resource_id: str
    project_id: str
    offering_id: str
    plan_id: str | None
    cost: Decimal | None


@attrs.frozen(kw_only=True)
class OrderReviewed(DomainEvent):
    """One side (``consumer`` or ``provider``) reviewed an order.

    ``actor_id`` is the reviewer; ``automatic`` says the rules approved it without asking.
    """

    order_id: str
    side: str
    approved: bool
    automatic: bool


@attrs.frozen(kw_only=True)
class OrderStateChanged(DomainEvent):
    """An order moved through its lifecycle; ``error_message`` is set when it erred."""

    order_id: str
    event: str
    source: str
    target: str
    error_message: str = ""


@attrs.frozen(kw_only=True)
class OrderClaimChanged(DomainEvent):
    """A worker (before processing) or a site agent (after) claimed an executing order, or
    renewed its lease, or let it go: ``agent_id`` and ``expires_at`` are ``None`` once
    released. ``actor_id`` is ``None`` for a worker's claim, which the system makes."""

    order_id: str
    agent_id: str | None
    expires_at: datetime | None


@attrs.frozen(kw_only=True)
class ResourceCreated(DomainEvent):
    """A resource came into being (in ``creating``) with its create order."""

    resource_id: str
    order_id: str
    project_id: str
    offering_id: str
    plan_id: str | None


@attrs.frozen(kw_only=True)
class ResourceStateChanged(DomainEvent):
    """A resource moved through its lifecycle."""

    resource_id: str
    event: str
    source: str
    target: str
    error_message: str = ""


@attrs.frozen(kw_only=True)
class ResourceChanged(DomainEvent):
    """A resource's plan, limits, cost, backend id or metadata changed, or its error message
    without a state change; ``changes`` lists the fields."""

    resource_id: str
    changes: tuple[str, ...]


@attrs.frozen(kw_only=True)
class ResourceEndDateSet(DomainEvent):
    """A resource's end date was set (``None``: cleared)."""

    resource_id: str
    end_date: date | None


# --------------------------------------------------------------------------- billing


@attrs.frozen(kw_only=True)
class TaxPercentSet(DomainEvent):
    """An organization's tax percentage (copied onto its new invoices) was set."""

    organization_id: str
    tax_percent: Decimal


@attrs.frozen(kw_only=True)
class PlanFuturePricesApplied(DomainEvent):
    """A plan's scheduled prices became its current prices at the start of a month."""

    plan_id: str
    month: date


@attrs.frozen(kw_only=True)
class UsageReported(DomainEvent):
    """A usage report was accepted: ``amount`` is the month-to-date total."""

    report_id: str
    resource_id: str
    component_type: str
    month: date
    amount: Decimal


@attrs.frozen(kw_only=True)
class InvoiceOpened(DomainEvent):
    """An organization's invoice for a month was opened (pending)."""

    invoice_id: str
    organization_id: str
    month: date


@attrs.frozen(kw_only=True)
class InvoiceItemWritten(DomainEvent):
    """An invoice item was added or changed; ``price_change`` is what it added to its
    invoice (negative when a closed item shrank or a refund was written)."""

    item_id: str
    invoice_id: str
    resource_id: str
    kind: str
    price: Decimal
    price_change: Decimal


@attrs.frozen(kw_only=True)
class InvoiceStateChanged(DomainEvent):
    """An invoice was issued, paid or canceled."""

    invoice_id: str
    event: str
    source: str
    target: str
    total: Decimal | None


@attrs.frozen(kw_only=True)
class CreditSet(DomainEvent):
    """An organization or project credit was set to ``balance``."""

    credit_id: str
    organization_id: str
    project_id: str | None
    balance: Decimal


@attrs.frozen(kw_only=True)
class CreditApplied(DomainEvent):
    """A credit paid ``amount`` of an invoice when it was issued (a negative ``amount``: the
    invoice was canceled and the credit given back)."""

    credit_id: str
    invoice_id: str
    amount: Decimal
    balance: Decimal


# --------------------------------------------------------------------------- policies


@attrs.frozen(kw_only=True)
class PolicyCreated(DomainEvent):
    """A policy was attached to a scope."""

    policy_id: str
    scope_kind: str
    scope_id: str
    metric: str
    period: str


@attrs.frozen(kw_only=True)
class PolicyLimitsChanged(DomainEvent):
    """A policy's limit (or component limits) changed; nothing was re-run."""

    policy_id: str


@attrs.frozen(kw_only=True)
class PolicyDeleted(DomainEvent):
    """A policy was removed, after lifting whatever it had in force."""

    policy_id: str


@attrs.frozen(kw_only=True)
class PolicyActionRun(DomainEvent):
    """A policy action fired; ``share`` is how far through its limit the metric was, in
    percent. ``error`` holds the failure of a custom action."""

    policy_id: str
    action: str
    share: Decimal
    error: str = ""


@attrs.frozen(kw_only=True)
class PolicyActionReset(DomainEvent):
    """A policy action was lifted: the metric dropped back (immediate actions), the period
    ended, or the policy was deleted."""

    policy_id: str
    action: str
    reason: str
    error: str = ""


@attrs.frozen(kw_only=True)
class QuotaSet(DomainEvent):
    """A quota was set (``limit`` -1: unlimited)."""

    quota_id: str
    scope_kind: str
    scope_id: str
    kind: str
    component: str
    limit: Decimal


@attrs.frozen(kw_only=True)
class DenyRuleAdded(DomainEvent):
    """An organization or project was barred from an offering or a category."""

    rule_id: str
    subject_kind: str
    subject_id: str
    target: str
    target_id: str


@attrs.frozen(kw_only=True)
class DenyRuleRemoved(DomainEvent):
    """A deny rule was lifted."""

    rule_id: str
