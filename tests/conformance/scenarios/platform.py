"""The platform: users, roles, organizations and projects; identity and permission refusals,
and blocked or archived organizations."""

from __future__ import annotations

from marketplace_core.conformance import Recorder
from marketplace_core.offerings import PlanUnit
from marketplace_core.roles import Role
from tests.conformance.world import T0, order, people, standard


def vector_organization_project_and_roles(name: str) -> Recorder:
    rec = Recorder(
        name,
        "What success looks like on the platform: the first user bootstraps as staff, staff "
        "creates a group, an organization in it, a user and an owner grant; the owner creates "
        "a project and renames the organization.",
        start=T0,
    )
    rec.step("bootstrap_staff_user", username="staff", as_="staff")
    rec.step("create_organization_group", actor="$staff", name="Universities", as_="group")
    rec.step("create_organization", actor="$staff", name="Physics", group_id="$group", as_="org")
    rec.step("create_user", actor="$staff", username="alice", full_name="Alice", as_="alice")
    rec.step(
        "grant_role",
        actor="$staff",
        user_id="$alice",
        role=Role.ORGANIZATION_OWNER,
        scope_id="$org",
        as_="grant",
    )
    rec.step("create_project", actor="$alice", organization_id="$org", name="Thesis", as_="project")
    rec.step("rename_organization", actor="$alice", organization_id="$org", name="Physics Dept")
    rec.step("list_projects", organization_id="$org")
    return rec


def vector_duplicate_username_refused(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Usernames are unique: creating a second user with a taken username is refused as "
        "already_exists, and so is bootstrapping a staff user once any user exists.",
        start=T0,
    )
    people(rec)
    rec.step("create_user", actor="$staff", username="owner")
    rec.step("bootstrap_staff_user", username="root")
    return rec


def vector_duplicate_registration_refused(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An organization is registered as a provider once: registering it again is refused as "
        "already_exists. Granting a role the user already holds on the same scope is refused "
        "the same way.",
        start=T0,
    )
    people(rec)
    rec.step("register_provider", actor="$staff", organization_id="$provider")
    rec.step(
        "grant_role",
        actor="$staff",
        user_id="$owner",
        role=Role.ORGANIZATION_OWNER,
        scope_id="$consumer",
    )
    return rec


def vector_unknown_ids_not_found(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Queries naming an id that does not exist are refused as not_found, naming the kind "
        "of entity and the id.",
        start=T0,
    )
    people(rec)
    rec.step("get_user", user_id="no-such-user")
    rec.step("get_organization", organization_id="no-such-organization")
    rec.step("get_project", project_id="no-such-project")
    rec.step("get_offering", offering_id="no-such-offering")
    rec.step("get_plan", plan_id="no-such-plan")
    rec.step("get_category", category_id="no-such-category")
    rec.step("get_order", order_id="no-such-order")
    return rec


def vector_command_naming_unknown_id_refused(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A command naming an id that does not exist is refused as not_found and writes "
        "nothing: a project in an unknown organization, an order of an unknown offering or "
        "plan, a role for an unknown user.",
        start=T0,
    )
    standard(rec)
    rec.step("create_project", actor="$staff", organization_id="no-such-organization", name="X")
    order(rec, offering="no-such-offering", limits=None, as_=None, checked=True)
    order(rec, plan="no-such-plan", limits=None, as_=None, checked=True)
    rec.step(
        "grant_role",
        actor="$staff",
        user_id="no-such-user",
        role=Role.PROJECT_MEMBER,
        scope_id="$project",
    )
    return rec


def vector_outsider_refused(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A user without a role may do nothing on another's scope: creating an offering for a "
        "provider, a project in an organization, or an order in a project is refused as "
        "permission_denied.",
        start=T0,
    )
    standard(rec)
    rec.step(
        "create_offering",
        actor="$outsider",
        provider_id="$provider",
        name="Pirate",
        plugin_type="instant",
        category_id="$category",
    )
    rec.step("create_project", actor="$outsider", organization_id="$consumer", name="Mine")
    order(rec, actor="$outsider", as_=None, checked=True)
    return rec


def vector_roles_bound_what_users_may_do(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Roles bound what users may do: a project member may not approve an order; a project "
        "manager may not activate an offering (staff only) or create a plan for a provider "
        "it does not belong to; the consumer owner may not create users.",
        start=T0,
    )
    standard(rec, plugin="manual")
    order(rec, actor="$manager", as_={"id": "order"})
    rec.step("approve_order_as_consumer", actor="$member", order_id="$order")
    rec.step("activate_offering", actor="$provider-owner", offering_id="$offering")
    rec.step(
        "create_plan",
        actor="$manager",
        offering_id="$offering",
        name="Cheap",
        unit=PlanUnit.MONTH,
        prices={"cores": "1"},
    )
    rec.step("create_user", actor="$owner", username="friend")
    return rec


def vector_blocked_organization_cannot_order(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A blocked organization may not order or create projects (organization_blocked); "
        "once unblocked, it orders again.",
        start=T0,
    )
    standard(rec)
    rec.step("block_organization", actor="$staff", organization_id="$consumer")
    order(rec, as_=None, checked=True)
    rec.step("create_project", actor="$owner", organization_id="$consumer", name="Another")
    rec.step("unblock_organization", actor="$staff", organization_id="$consumer")
    order(rec, as_=None, checked=True)
    return rec


def vector_blocked_provider_cannot_sell(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A blocked provider sells nothing: its offerings cannot be ordered, nor can it create "
        "offerings; organization_blocked names the provider's organization.",
        start=T0,
    )
    standard(rec)
    rec.step("block_organization", actor="$staff", organization_id="$provider")
    order(rec, as_=None, checked=True)
    rec.step(
        "create_offering",
        actor="$provider-owner",
        provider_id="$provider",
        name="Storage",
        plugin_type="instant",
        category_id="$category",
    )
    rec.step("list_orderable_offerings", project_id="$project")
    return rec


def vector_archived_organization_is_read_only(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An archived organization is read-only for good: ordering, creating a project, "
        "renaming it and blocking it are refused as organization_archived.",
        start=T0,
    )
    standard(rec)
    rec.step("archive_organization", actor="$staff", organization_id="$consumer")
    order(rec, as_=None, checked=True)
    rec.step("create_project", actor="$owner", organization_id="$consumer", name="Another")
    rec.step("rename_organization", actor="$owner", organization_id="$consumer", name="Renamed")
    rec.step("block_organization", actor="$staff", organization_id="$consumer")
    return rec
