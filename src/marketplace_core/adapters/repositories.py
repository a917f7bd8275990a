"""The queries every adapter's repositories answer, written once over three primitives.

Each ``*Queries`` class below is a mixin of an adapter's repository for one aggregate: it
turns the port's query methods into :meth:`KeyedRepository._by` (the entities under a key of
an index, oldest first, in the unit's view), :meth:`KeyedRepository._count` and
:meth:`KeyedRepository._remove`, which the adapter's base repository implements. Keys are
tuples of the index's values, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Generic, TypeVar

from marketplace_core.billing.credits import Credit
from marketplace_core.billing.invoices import Invoice, InvoiceState
from marketplace_core.billing.items import InvoiceItem
from marketplace_core.billing.usage import UsageReport
from marketplace_core.offerings import Offering, Plan
from marketplace_core.orders import Order, OrderState
from marketplace_core.organizations import Project
from marketplace_core.policies import MonthlyTotal, Policy
from marketplace_core.ports import Versioned
from marketplace_core.quotas import DenyRule, Quota
from marketplace_core.resources import Resource
from marketplace_core.roles import RoleGrant, ScopeKind
from marketplace_core.users import User

EntityT = TypeVar("EntityT", bound=Versioned)

Key = tuple[Any, ...]


class KeyedRepository(Generic[EntityT]):
    """What the queries need from an adapter's repository."""

    def _by(self, index: str, key: Key, limit: int | None = None) -> list[EntityT]:
        """The entities under ``key`` of ``index`` in the unit's view, oldest first, at
        most ``limit`` of them."""
        raise NotImplementedError

    def _count(self, index: str, key: Key) -> int:
        """How many entities :meth:`_by` would list."""
        raise NotImplementedError

    def _remove(self, entity: EntityT) -> None:
        """Stage the removal of a stored entity (checked against its version)."""
        raise NotImplementedError


class ProjectQueries(KeyedRepository[Project]):
    """Projects, indexed by organization."""

    def for_organization(self, organization_id: str) -> Sequence[Project]:
        """The projects of one organization, oldest first."""
        return self._by("organization_id", (organization_id,))


class UserQueries(KeyedRepository[User]):
    """Users, indexed by username (unique, compared exactly)."""

    def find_by_username(self, username: str) -> User | None:
        """The user with this exact username, or ``None``."""
        found = self._by("username", (username,))
        return found[0] if found else None


class RoleGrantQueries(KeyedRepository[RoleGrant]):
    """Role grants, indexed by user and by scope."""

    def for_user(self, user_id: str) -> Sequence[RoleGrant]:
        """Every grant a user holds, oldest first."""
        return self._by("user_id", (user_id,))

    def for_scope(self, kind: ScopeKind, scope_id: str) -> Sequence[RoleGrant]:
        """Every grant held on one scope, oldest first."""
        return self._by("scope", (kind, scope_id))

    def remove(self, grant: RoleGrant) -> None:
        """Stage the removal of a grant."""
        self._remove(grant)


class OfferingQueries(KeyedRepository[Offering]):
    """Offerings, indexed by provider."""

    def for_provider(self, provider_id: str) -> Sequence[Offering]:
        """The offerings of one provider organization, oldest first."""
        return self._by("provider_id", (provider_id,))


class PlanQueries(KeyedRepository[Plan]):
    """Plans, indexed by offering."""

    def for_offering(self, offering_id: str) -> Sequence[Plan]:
        """The plans of one offering, oldest first."""
        return self._by("offering_id", (offering_id,))


class ResourceQueries(KeyedRepository[Resource]):
    """Resources, indexed by project, offering and live plan."""

    def for_project(self, project_id: str) -> Sequence[Resource]:
        """The resources of one project, oldest first."""
        return self._by("project_id", (project_id,))

    def for_offering(self, offering_id: str) -> Sequence[Resource]:
        """The resources of one offering, oldest first."""
        return self._by("offering_id", (offering_id,))

    def count_live_on_plan(self, plan_id: str) -> int:
        """How many resources on the plan are not terminated."""
        return self._count("live_plan", (plan_id, True))


class OrderQueries(KeyedRepository[Order]):
    """Orders, indexed by resource, project and state."""

    def for_resource(self, resource_id: str) -> Sequence[Order]:
        """The orders of one resource, oldest first."""
        return self._by("resource_id", (resource_id,))

    def for_project(self, project_id: str) -> Sequence[Order]:
        """The orders of one project, oldest first."""
        return self._by("project_id", (project_id,))

    def in_state(self, state: OrderState, limit: int | None = None) -> Sequence[Order]:
        """Orders in ``state``, oldest first, at most ``limit`` of them."""
        return self._by("state", (state,), limit)


class InvoiceQueries(KeyedRepository[Invoice]):
    """Invoices, indexed by organization, month and state."""

    def for_organization(self, organization_id: str) -> Sequence[Invoice]:
        """The invoices of one organization, oldest first."""
        return self._by("organization_id", (organization_id,))

    def find_for_month(self, organization_id: str, month: date) -> Invoice | None:
        """The organization's invoice for ``month``, or ``None``."""
        found = self._by("month", (organization_id, month))
        return found[0] if found else None

    def in_state(self, state: InvoiceState) -> Sequence[Invoice]:
        """The invoices in ``state``, oldest first."""
        return self._by("state", (state,))


class InvoiceItemQueries(KeyedRepository[InvoiceItem]):
    """Invoice items, indexed by invoice, by resource and by resource and month."""

    def for_invoice(self, invoice_id: str) -> Sequence[InvoiceItem]:
        """The items of one invoice, oldest first."""
        return self._by("invoice_id", (invoice_id,))

    def for_resource(self, resource_id: str, month: date | None = None) -> Sequence[InvoiceItem]:
        """The items of one resource, or of one resource in one month, oldest first."""
        if month is None:
            return self._by("resource_id", (resource_id,))
        return self._by("resource_month", (resource_id, month))


class UsageReportQueries(KeyedRepository[UsageReport]):
    """Usage reports, indexed by idempotency key and by resource component."""

    def find_by_key(self, idempotency_key: str) -> UsageReport | None:
        """The report accepted with this key, or ``None``."""
        found = self._by("idempotency_key", (idempotency_key,))
        return found[0] if found else None

    def for_component(
        self, resource_id: str, component_type: str, month: date | None = None
    ) -> Sequence[UsageReport]:
        """The reports of one component of one resource, or of it in one month."""
        if month is None:
            return self._by("component", (resource_id, component_type))
        return self._by("component_month", (resource_id, component_type, month))


class CreditQueries(KeyedRepository[Credit]):
    """Credits, indexed by organization."""

    def for_organization(self, organization_id: str) -> Sequence[Credit]:
        """The credits of one organization and its projects, oldest first."""
        return self._by("organization_id", (organization_id,))


class PolicyQueries(KeyedRepository[Policy]):
    """Policies, indexed by scope."""

    def for_scope(self, scope_kind: ScopeKind, scope_id: str) -> Sequence[Policy]:
        """The policies of one scope, oldest first."""
        return self._by("scope", (scope_kind, scope_id))

    def remove(self, policy: Policy) -> None:
        """Stage the removal of a policy."""
        self._remove(policy)


class MonthlyTotalQueries(KeyedRepository[MonthlyTotal]):
    """Monthly totals, indexed by scope."""

    def for_scope(self, scope_kind: ScopeKind, scope_id: str) -> Sequence[MonthlyTotal]:
        """Every month's total of one scope, oldest first."""
        return self._by("scope", (scope_kind, scope_id))


class QuotaQueries(KeyedRepository[Quota]):
    """Quotas, indexed by scope."""

    def for_scope(self, scope_kind: ScopeKind, scope_id: str) -> Sequence[Quota]:
        """The quotas of one scope, oldest first."""
        return self._by("scope", (scope_kind, scope_id))


class DenyRuleQueries(KeyedRepository[DenyRule]):
    """Deny rules, indexed by subject."""

    def for_subject(self, subject_kind: ScopeKind, subject_id: str) -> Sequence[DenyRule]:
        """The rules barring one organization or project, oldest first."""
        return self._by("subject", (subject_kind, subject_id))

    def remove(self, rule: DenyRule) -> None:
        """Stage the removal of a rule."""
        self._remove(rule)
