"""Commands and queries on organization groups, organizations and projects."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import attrs

from marketplace_core.events import (
    OrganizationArchived,
    OrganizationBlocked,
    OrganizationCreated,
    OrganizationGroupCreated,
    OrganizationUnblocked,
    OrganizationUpdated,
    ProjectCreated,
    ProjectUpdated,
)
from marketplace_core.inputs import (
    UNSET,
    Unset,
    require_bool,
    require_optional_date,
    require_text,
)
from marketplace_core.organizations import (
    Organization,
    OrganizationGroup,
    Project,
    check_organization_active,
    check_organization_not_archived,
    check_project_dates,
)
from marketplace_core.roles import PLATFORM, Permission, organization_scope, project_scope
from marketplace_core.services.context import Context


def create_organization_group(ctx: Context, actor_id: str, name: str) -> OrganizationGroup:
    """Create an organization group. Needs ``organization_group.manage``."""
    actor = ctx.authorize(actor_id, Permission.ORGANIZATION_GROUP_MANAGE, PLATFORM)
    group = ctx.uow.organization_groups.add(
        OrganizationGroup(
            id=ctx.ids.new_id("group"), name=require_text(name, "name"), created_at=ctx.now
        )
    )
    ctx.uow.emit(
        OrganizationGroupCreated(
            occurred_at=ctx.now, actor_id=actor.id, group_id=group.id, name=group.name
        )
    )
    return group


def create_organization(
    ctx: Context, actor_id: str, name: str, *, group_id: str | None = None
) -> Organization:
    """Create an organization, optionally in a group. Needs ``organization.create``."""
    actor = ctx.authorize(actor_id, Permission.ORGANIZATION_CREATE, PLATFORM)
    require_text(name, "name")
    if group_id is not None:
        ctx.uow.organization_groups.get(group_id)
    organization = ctx.uow.organizations.add(
        Organization(
            id=ctx.ids.new_id("organization"), name=name, created_at=ctx.now, group_id=group_id
        )
    )
    ctx.uow.emit(
        OrganizationCreated(
            occurred_at=ctx.now, actor_id=actor.id, organization_id=organization.id, name=name
        )
    )
    return organization


def rename_organization(
    ctx: Context, actor_id: str, organization_id: str, name: str
) -> Organization:
    """Rename an organization that is not archived. Needs ``organization.update`` on it."""
    actor = ctx.authorize(
        actor_id, Permission.ORGANIZATION_UPDATE, organization_scope(organization_id)
    )
    organization = ctx.uow.organizations.get(organization_id)
    check_organization_not_archived(organization)
    if organization.name == require_text(name, "name"):
        return organization
    organization = ctx.uow.organizations.update(attrs.evolve(organization, name=name))
    ctx.uow.emit(
        OrganizationUpdated(
            occurred_at=ctx.now,
            actor_id=actor.id,
            organization_id=organization.id,
            changes=("name",),
        )
    )
    return organization


def set_organization_group(
    ctx: Context, actor_id: str, organization_id: str, group_id: str | None
) -> Organization:
    """Move an organization into a group (or out of any). Needs ``organization_group.manage``.

    Groups decide which limited offerings an organization sees, so this is a platform
    permission rather than the organization's own.
    """
    actor = ctx.authorize(actor_id, Permission.ORGANIZATION_GROUP_MANAGE, PLATFORM)
    organization = ctx.uow.organizations.get(organization_id)
    check_organization_not_archived(organization)
    if group_id is not None:
        ctx.uow.organization_groups.get(group_id)
    if organization.group_id == group_id:
        return organization
    organization = ctx.uow.organizations.update(attrs.evolve(organization, group_id=group_id))
    ctx.uow.emit(
        OrganizationUpdated(
            occurred_at=ctx.now,
            actor_id=actor.id,
            organization_id=organization.id,
            changes=("group_id",),
        )
    )
    return organization


def _set_organization_flag(
    ctx: Context,
    actor_id: str,
    organization_id: str,
    flag: str,
    value: bool,
    event: type[OrganizationBlocked | OrganizationUnblocked | OrganizationArchived],
) -> Organization:
    actor = ctx.authorize(actor_id, Permission.ORGANIZATION_BLOCK, PLATFORM)
    organization = ctx.uow.organizations.get(organization_id)
    if getattr(organization, flag) == value:
        return organization
    check_organization_not_archived(organization)
    changes: dict[str, Any] = {flag: value}
    organization = ctx.uow.organizations.update(attrs.evolve(organization, **changes))
    ctx.uow.emit(event(occurred_at=ctx.now, actor_id=actor.id, organization_id=organization.id))
    return organization


def block_organization(ctx: Context, actor_id: str, organization_id: str) -> Organization:
    """Block an organization: it may no longer order or publish. Needs ``organization.block``."""
    return _set_organization_flag(
        ctx, actor_id, organization_id, "blocked", True, OrganizationBlocked
    )


def unblock_organization(ctx: Context, actor_id: str, organization_id: str) -> Organization:
    """Lift a block. Needs ``organization.block``."""
    return _set_organization_flag(
        ctx, actor_id, organization_id, "blocked", False, OrganizationUnblocked
    )


def archive_organization(ctx: Context, actor_id: str, organization_id: str) -> Organization:
    """Archive an organization; it becomes read-only for good. Needs ``organization.block``."""
    return _set_organization_flag(
        ctx, actor_id, organization_id, "archived", True, OrganizationArchived
    )


def create_project(
    ctx: Context,
    actor_id: str,
    organization_id: str,
    name: str,
    *,
    start_date: date | None = None,
    end_date: date | None = None,
    auto_approve: bool = False,
) -> Project:
    """Create a project in an active organization. Needs ``project.create`` there.

    Turning ``auto_approve`` on also needs ``order.approve``: it waives the consumer review.
    """
    actor = ctx.authorize(actor_id, Permission.PROJECT_CREATE, organization_scope(organization_id))
    organization = ctx.uow.organizations.get(organization_id)
    check_organization_active(organization)
    require_text(name, "name")
    require_optional_date(start_date, "start_date")
    require_optional_date(end_date, "end_date")
    check_project_dates(start_date, end_date)
    if require_bool(auto_approve, "auto_approve"):
        ctx.authorize(actor_id, Permission.ORDER_APPROVE, organization_scope(organization.id))
    project = ctx.uow.projects.add(
        Project(
            id=ctx.ids.new_id("project"),
            organization_id=organization.id,
            name=name,
            created_at=ctx.now,
            start_date=start_date,
            end_date=end_date,
            auto_approve=auto_approve,
        )
    )
    ctx.uow.emit(
        ProjectCreated(
            occurred_at=ctx.now,
            actor_id=actor.id,
            project_id=project.id,
            organization_id=organization.id,
            name=name,
        )
    )
    return project


def update_project(
    ctx: Context,
    actor_id: str,
    project_id: str,
    *,
    name: str | Unset = UNSET,
    start_date: date | Unset | None = UNSET,
    end_date: date | Unset | None = UNSET,
    auto_approve: bool | Unset = UNSET,
) -> Project:
    """Change a project's name, dates or auto-approval. Needs ``project.update``.

    Arguments left out stay as they are; ``None`` clears a date. Changing ``auto_approve``
    also needs ``order.approve`` on the project. The project's organization must be active.
    """
    project = ctx.uow.projects.get(project_id)
    scope = project_scope(project.id, project.organization_id)
    actor = ctx.authorize(actor_id, Permission.PROJECT_UPDATE, scope)
    check_organization_active(ctx.uow.organizations.get(project.organization_id))
    changes: dict[str, Any] = {}
    if not isinstance(name, Unset):
        changes["name"] = require_text(name, "name")
    if not isinstance(start_date, Unset):
        changes["start_date"] = require_optional_date(start_date, "start_date")
    if not isinstance(end_date, Unset):
        changes["end_date"] = require_optional_date(end_date, "end_date")
    if not isinstance(auto_approve, Unset):
        changes["auto_approve"] = require_bool(auto_approve, "auto_approve")
        if auto_approve != project.auto_approve:
            ctx.authorize(actor_id, Permission.ORDER_APPROVE, scope)
    changes = {key: value for key, value in changes.items() if getattr(project, key) != value}
    if not changes:
        return project
    updated = attrs.evolve(project, **changes)
    check_project_dates(updated.start_date, updated.end_date)
    project = ctx.uow.projects.update(updated)
    ctx.uow.emit(
        ProjectUpdated(
            occurred_at=ctx.now,
            actor_id=actor.id,
            project_id=project.id,
            changes=tuple(sorted(changes)),
        )
    )
    return project


def get_organization_group(ctx: Context, group_id: str) -> OrganizationGroup:
    """The organization group with this id."""
    return ctx.uow.organization_groups.get(group_id)


def get_organization(ctx: Context, organization_id: str) -> Organization:
    """The organization with this id."""
    return ctx.uow.organizations.get(organization_id)


def list_organizations(ctx: Context) -> Sequence[Organization]:
    """Every organization, oldest first."""
    return ctx.uow.organizations.all()


def get_project(ctx: Context, project_id: str) -> Project:
    """The project with this id."""
    return ctx.uow.projects.get(project_id)


def list_projects(ctx: Context, organization_id: str) -> Sequence[Project]:
    """The projects of an organization, oldest first."""
    return ctx.uow.projects.for_organization(ctx.uow.organizations.get(organization_id).id)
