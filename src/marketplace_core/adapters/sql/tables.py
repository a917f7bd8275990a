"""What each aggregate's table holds besides its document: the columns its queries select on.

Every table has ``seq`` (the insertion sequence: listings are oldest first, and an update
keeps its row's place), ``id``, ``version`` (the compare-and-set guard) and ``doc`` (the whole
entity as JSON, see :mod:`.codec`). The columns below are derived from the entity on every
write; :mod:`.schema` creates them and their indexes.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import attrs

from marketplace_core.billing.credits import Credit
from marketplace_core.billing.invoices import Invoice
from marketplace_core.billing.items import InvoiceItem
from marketplace_core.billing.usage import UsageReport
from marketplace_core.offerings import Category, Offering, Plan
from marketplace_core.orders import Order
from marketplace_core.organizations import Organization, OrganizationGroup, Project, ServiceProvider
from marketplace_core.policies import MonthlyTotal, Policy
from marketplace_core.quotas import DenyRule, Quota
from marketplace_core.resources import Resource
from marketplace_core.roles import RoleGrant
from marketplace_core.users import User

Key = tuple[Any, ...]


def sql_value(value: Any) -> Any:
    """A key value as SQLite stores it: enums by value, dates as ISO text, booleans as 0/1."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


@attrs.frozen
class Table:
    """One aggregate's table: its entity class, the name errors use for it, its key columns
    (each with how to compute it from an entity) and its indexes (name: columns)."""

    name: str
    entity: str
    cls: type
    columns: Mapping[str, Callable[[Any], Any]] = attrs.field(factory=dict)
    indexes: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)

    def key_of(self, index: str, entity: Any) -> Key:
        """The key ``entity`` is found under in ``index`` (Python values)."""
        return tuple(self.columns[column](entity) for column in self.indexes[index])

    def column_values(self, entity: Any) -> list[Any]:
        """The key columns of ``entity``, as stored, in :attr:`columns` order."""
        return [sql_value(value_of(entity)) for value_of in self.columns.values()]


def _attr(name: str) -> Callable[[Any], Any]:
    return operator.attrgetter(name)


def _columns(*names: str, **computed: Callable[[Any], Any]) -> dict[str, Callable[[Any], Any]]:
    return {**{name: _attr(name) for name in names}, **computed}


def _single(*names: str) -> dict[str, tuple[str, ...]]:
    return {name: (name,) for name in names}


_SCOPE = {"scope": ("scope_kind", "scope_id")}

TABLES: Mapping[str, Table] = {
    table.name: table
    for table in [
        Table("organization_groups", "organization group", OrganizationGroup),
        Table("organizations", "organization", Organization),
        Table(
            "projects",
            "project",
            Project,
            _columns("organization_id"),
            _single("organization_id"),
        ),
        Table("users", "user", User, _columns("username"), _single("username")),
        Table(
            "role_grants",
            "role grant",
            RoleGrant,
            _columns("user_id", "scope_kind", "scope_id"),
            {**_single("user_id"), **_SCOPE},
        ),
        Table("providers", "service provider", ServiceProvider),
        Table("categories", "category", Category),
        Table("offerings", "offering", Offering, _columns("provider_id"), _single("provider_id")),
        Table("plans", "plan", Plan, _columns("offering_id"), _single("offering_id")),
        Table(
            "resources",
            "resource",
            Resource,
            _columns("project_id", "offering_id", "plan_id", live=_attr("is_live")),
            {**_single("project_id", "offering_id"), "live_plan": ("plan_id", "live")},
        ),
        Table(
            "orders",
            "order",
            Order,
            _columns("resource_id", "project_id", "state"),
            _single("resource_id", "project_id", "state"),
        ),
        Table(
            "invoices",
            "invoice",
            Invoice,
            _columns("organization_id", "month", "state"),
            {**_single("organization_id", "state"), "month": ("organization_id", "month")},
        ),
        Table(
            "invoice_items",
            "invoice item",
            InvoiceItem,
            _columns("invoice_id", "resource_id", "month"),
            {**_single("invoice_id", "resource_id"), "resource_month": ("resource_id", "month")},
        ),
        Table(
            "usage_reports",
            "usage report",
            UsageReport,
            _columns("idempotency_key", "resource_id", "component_type", "month"),
            {
                **_single("idempotency_key"),
                "component": ("resource_id", "component_type"),
                "component_month": ("resource_id", "component_type", "month"),
            },
        ),
        Table("credits", "credit", Credit, _columns("organization_id"), _single("organization_id")),
        Table("policies", "policy", Policy, _columns("scope_kind", "scope_id"), _SCOPE),
        Table(
            "monthly_totals",
            "monthly total",
            MonthlyTotal,
            _columns("scope_kind", "scope_id"),
            _SCOPE,
        ),
        Table("quotas", "quota", Quota, _columns("scope_kind", "scope_id"), _SCOPE),
        Table(
            "deny_rules",
            "deny rule",
            DenyRule,
            _columns("subject_kind", "subject_id"),
            {"subject": ("subject_kind", "subject_id")},
        ),
    ]
}
"""Every aggregate's table, by its repository's name on the unit of work."""
