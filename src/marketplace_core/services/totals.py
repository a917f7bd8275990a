"""Changes to the running monthly totals of scopes, gathered during a command.

Billing calls :func:`record_cost` for every invoice item it writes and usage ingestion
:func:`record_usage` for every report it accepts; the changes wait in the command's context
until :func:`marketplace_core.services.policy_engine.settle` writes them and evaluates policies.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from marketplace_core.billing.items import InvoiceItem
from marketplace_core.resources import Resource
from marketplace_core.roles import ScopeKind
from marketplace_core.services.context import Context, TotalChange


def _change(ctx: Context, scope_kind: ScopeKind, scope_id: str, month: date) -> TotalChange:
    key = (scope_kind, scope_id, month)
    change = ctx.changes.get(key)
    if change is None:
        change = ctx.changes[key] = TotalChange()
    return change


def record_cost(ctx: Context, item: InvoiceItem, change: Decimal) -> None:
    """Count ``change`` in the price of ``item`` towards its project, organization and
    offering, in the item's month."""
    if not change:
        return
    for kind, scope_id in (
        (ScopeKind.PROJECT, item.project_id),
        (ScopeKind.ORGANIZATION, item.organization_id),
        (ScopeKind.OFFERING, item.offering_id),
    ):
        _change(ctx, kind, scope_id, item.month).cost += change


def record_usage(
    ctx: Context,
    resource: Resource,
    organization_id: str,
    component: str,
    month: date,
    change: Decimal,
) -> None:
    """Count ``change`` in a component's reported usage of ``resource`` in ``month``."""
    if not change:
        return
    for kind, scope_id in (
        (ScopeKind.PROJECT, resource.project_id),
        (ScopeKind.ORGANIZATION, organization_id),
        (ScopeKind.OFFERING, resource.offering_id),
    ):
        usage = _change(ctx, kind, scope_id, month).usage
        usage[component] = usage.get(component, Decimal(0)) + change
