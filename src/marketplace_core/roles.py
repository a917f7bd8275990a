"""Roles, permissions and scopes: who may do what, where.

Permissions are granted through roles held on a scope (an organization, a project, an
offering). A permission held on an organization also holds on its projects and on the
offerings it provides; staff hold every permission. Which role carries which permission is
data: :data:`DEFAULT_ROLE_PERMISSIONS` follows Waldur's defaults, and a host may pass its own
table (or its own :class:`~marketplace_core.ports.Authorizer`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from datetime import datetime
from types import MappingProxyType

import attrs


class ScopeKind(enum.StrEnum):
    """The kinds of thing a permission can be held on."""

    PLATFORM = "platform"
    ORGANIZATION = "organization"
    PROJECT = "project"
    OFFERING = "offering"


@attrs.frozen
class Scope:
    """Where a permission is checked, with the chain of enclosing scopes.

    A project's parent is its organization; an offering's parent is its provider's
    organization. A permission held on any scope of the chain holds on the scope itself.
    """

    kind: ScopeKind
    id: str
    parent: Scope | None = None

    def chain(self) -> Iterator[Scope]:
        """This scope, then each enclosing one."""
        scope: Scope | None = self
        while scope is not None:
            yield scope
            scope = scope.parent


PLATFORM = Scope(ScopeKind.PLATFORM, "platform")
"""The whole marketplace. By default no role is held here: only staff act on it."""


def organization_scope(organization_id: str) -> Scope:
    """The scope of an organization."""
    return Scope(ScopeKind.ORGANIZATION, organization_id)


def project_scope(project_id: str, organization_id: str) -> Scope:
    """The scope of a project inside its organization."""
    return Scope(ScopeKind.PROJECT, project_id, organization_scope(organization_id))


def offering_scope(offering_id: str, provider_id: str) -> Scope:
    """The scope of an offering inside its provider's organization."""
    return Scope(ScopeKind.OFFERING, offering_id, organization_scope(provider_id))


class Permission(enum.StrEnum):
    """Every permission a command checks."""

    # Platform: staff only in the default table.
    USER_CREATE = "user.create"
    USER_SET_STAFF = "user.set_staff"
    ORGANIZATION_CREATE = "organization.create"
    ORGANIZATION_BLOCK = "organization.block"
    ORGANIZATION_GROUP_MANAGE = "organization_group.manage"
    CATEGORY_MANAGE = "category.manage"
    PROVIDER_REGISTER = "provider.register"
    OFFERING_ACTIVATE = "offering.activate"
    BILLING_MANAGE = "billing.manage"
    QUOTA_MANAGE = "quota.manage"
    # Organization, project and offering administration.
    ORGANIZATION_UPDATE = "organization.update"
    ROLE_MANAGE = "role.manage"
    PROJECT_CREATE = "project.create"
    PROJECT_UPDATE = "project.update"
    OFFERING_CREATE = "offering.create"
    OFFERING_UPDATE = "offering.update"
    OFFERING_PAUSE = "offering.pause"
    OFFERING_ARCHIVE = "offering.archive"
    PLAN_MANAGE = "plan.manage"
    POLICY_MANAGE = "policy.manage"
    # Orders and resources.
    ORDER_CREATE = "order.create"
    ORDER_APPROVE = "order.approve"
    ORDER_APPROVE_PRIVATE = "order.approve_private"
    ORDER_REJECT = "order.reject"
    ORDER_CANCEL = "order.cancel"
    ORDER_FULFIL = "order.fulfil"
    RESOURCE_TERMINATE = "resource.terminate"
    RESOURCE_SET_PLAN = "resource.set_plan"
    RESOURCE_SET_LIMITS = "resource.set_limits"
    RESOURCE_SET_END_DATE = "resource.set_end_date"
    RESOURCE_REPORT_USAGE = "resource.report_usage"


class Role(enum.StrEnum):
    """The roles a user can hold, each on one kind of scope."""

    ORGANIZATION_OWNER = "organization.owner"
    ORGANIZATION_MANAGER = "organization.manager"
    PROJECT_MANAGER = "project.manager"
    PROJECT_ADMIN = "project.admin"
    PROJECT_MEMBER = "project.member"
    OFFERING_MANAGER = "offering.manager"

    @property
    def scope_kind(self) -> ScopeKind:
        """The kind of scope this role is granted on."""
        return ScopeKind(self.value.split(".", 1)[0])


_PROJECT_WORK = frozenset(
    {
        Permission.ORDER_CREATE,
        Permission.ORDER_APPROVE_PRIVATE,
        Permission.ORDER_CANCEL,
        Permission.RESOURCE_TERMINATE,
        Permission.RESOURCE_SET_PLAN,
        Permission.RESOURCE_SET_LIMITS,
    }
)

DEFAULT_ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.ORGANIZATION_OWNER: frozenset(
            {
                Permission.ORGANIZATION_UPDATE,
                Permission.ROLE_MANAGE,
                Permission.PROJECT_CREATE,
                Permission.PROJECT_UPDATE,
                Permission.OFFERING_CREATE,
                Permission.OFFERING_UPDATE,
                Permission.OFFERING_PAUSE,
                Permission.OFFERING_ARCHIVE,
                Permission.PLAN_MANAGE,
                Permission.POLICY_MANAGE,
                Permission.ORDER_APPROVE,
                Permission.ORDER_REJECT,
                Permission.ORDER_FULFIL,
                Permission.RESOURCE_SET_END_DATE,
                Permission.RESOURCE_REPORT_USAGE,
            }
            | _PROJECT_WORK
        ),
        Role.ORGANIZATION_MANAGER: frozenset(
            {
                Permission.OFFERING_UPDATE,
                Permission.PLAN_MANAGE,
                Permission.ORDER_FULFIL,
                Permission.RESOURCE_REPORT_USAGE,
            }
        ),
        Role.PROJECT_MANAGER: frozenset(
            {Permission.PROJECT_UPDATE, Permission.ROLE_MANAGE, Permission.RESOURCE_SET_END_DATE}
            | _PROJECT_WORK
        ),
        Role.PROJECT_ADMIN: _PROJECT_WORK,
        Role.PROJECT_MEMBER: frozenset(),
        Role.OFFERING_MANAGER: frozenset(
            {Permission.OFFERING_UPDATE, Permission.ORDER_FULFIL, Permission.RESOURCE_REPORT_USAGE}
        ),
    }
)
"""Waldur's defaults: owners approve orders (private ones too) and report usage; project
managers and admins order and manage their resources, and approve orders for private
offerings only; the provider's owners and managers and the offering's managers fulfil
orders (report backend outcomes) and report usage. Platform permissions belong to no role:
only staff hold them."""


@attrs.frozen
class RoleGrant:
    """``user_id`` holds ``role`` on the scope ``(scope_kind, scope_id)``."""

    id: str
    user_id: str
    role: Role
    scope_kind: ScopeKind
    scope_id: str
    granted_at: datetime
    granted_by: str | None = None
    version: int = 0
