"""Every facade command, with a way to run it correctly in the standard world.

Tests use this table to check laws that hold for *every* command (the permission is checked
first; a refused command changes nothing). A test fails when a command is added to the facade
but not to this table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from marketplace_core import BillingType, OfferingComponent, PlanUnit, Role
from tests.support import World

GPU = OfferingComponent("gpu", "GPU", BillingType.USAGE)


@attrs.frozen
class CommandCase:
    """How to run one command: ``prepare`` sets the stage (as staff), ``run`` is the command
    itself, as the actor given, with what ``prepare`` returned."""

    allowed: str
    """The ``World`` attribute naming a user allowed to run the command."""
    run: Callable[[World, str, Any], object]
    prepare: Callable[[World], Any] = lambda world: None


def _draft_offering_with_plan(world: World) -> str:
    market = world.marketplace
    offering = market.create_offering(world.staff.id, world.provider.id, "Draft", "basic")
    market.create_plan(world.staff.id, offering.id, "Plan", PlanUnit.DAY)
    return offering.id


COMMANDS: dict[str, CommandCase] = {
    "create_user": CommandCase("staff", lambda w, a, _: w.marketplace.create_user(a, "someone")),
    "set_user_staff": CommandCase(
        "staff", lambda w, a, _: w.marketplace.set_user_staff(a, w.owner.id, True)
    ),
    "grant_role": CommandCase(
        "owner",
        lambda w, a, _: w.marketplace.grant_role(
            a, w.outsider.id, Role.PROJECT_MEMBER, w.project.id
        ),
    ),
    "revoke_role": CommandCase(
        "owner",
        lambda w, a, grant_id: w.marketplace.revoke_role(a, grant_id),
        prepare=lambda w: w.marketplace.list_role_grants(w.project_member.id)[0].id,
    ),
    "create_organization_group": CommandCase(
        "staff", lambda w, a, _: w.marketplace.create_organization_group(a, "Group")
    ),
    "create_organization": CommandCase(
        "staff", lambda w, a, _: w.marketplace.create_organization(a, "Org")
    ),
    "rename_organization": CommandCase(
        "owner", lambda w, a, _: w.marketplace.rename_organization(a, w.consumer.id, "Uni")
    ),
    "set_organization_group": CommandCase(
        "staff",
        lambda w, a, group_id: w.marketplace.set_organization_group(a, w.consumer.id, group_id),
        prepare=lambda w: w.marketplace.create_organization_group(w.staff.id, "G").id,
    ),
    "block_organization": CommandCase(
        "staff", lambda w, a, _: w.marketplace.block_organization(a, w.consumer.id)
    ),
    "unblock_organization": CommandCase(
        "staff",
        lambda w, a, _: w.marketplace.unblock_organization(a, w.consumer.id),
        prepare=lambda w: w.marketplace.block_organization(w.staff.id, w.consumer.id),
    ),
    "archive_organization": CommandCase(
        "staff", lambda w, a, _: w.marketplace.archive_organization(a, w.consumer.id)
    ),
    "create_project": CommandCase(
        "owner", lambda w, a, _: w.marketplace.create_project(a, w.consumer.id, "P")
    ),
    "update_project": CommandCase(
        "project_manager",
        lambda w, a, _: w.marketplace.update_project(a, w.project.id, name="Renamed"),
    ),
    "register_provider": CommandCase(
        "staff", lambda w, a, _: w.marketplace.register_provider(a, w.consumer.id)
    ),
    "create_category": CommandCase(
        "staff", lambda w, a, _: w.marketplace.create_category(a, "Storage")
    ),
    "create_offering": CommandCase(
        "provider_owner",
        lambda w, a, _: w.marketplace.create_offering(a, w.provider.id, "New", "basic"),
    ),
    "update_offering": CommandCase(
        "offering_manager",
        lambda w, a, _: w.marketplace.update_offering(a, w.offering.id, description="Updated"),
    ),
    "activate_offering": CommandCase(
        "staff",
        lambda w, a, offering_id: w.marketplace.activate_offering(a, offering_id),
        prepare=_draft_offering_with_plan,
    ),
    "pause_offering": CommandCase(
        "provider_owner", lambda w, a, _: w.marketplace.pause_offering(a, w.offering.id)
    ),
    "resume_offering": CommandCase(
        "provider_owner",
        lambda w, a, _: w.marketplace.resume_offering(a, w.offering.id),
        prepare=lambda w: w.marketplace.pause_offering(w.staff.id, w.offering.id),
    ),
    "archive_offering": CommandCase(
        "provider_owner", lambda w, a, _: w.marketplace.archive_offering(a, w.offering.id)
    ),
    "add_offering_component": CommandCase(
        "offering_manager",
        lambda w, a, _: w.marketplace.add_offering_component(a, w.offering.id, GPU),
    ),
    "update_offering_component": CommandCase(
        "offering_manager",
        lambda w, a, _: w.marketplace.update_offering_component(
            a, w.offering.id, OfferingComponent("cpu", "CPU", BillingType.USAGE)
        ),
    ),
    "remove_offering_component": CommandCase(
        "provider_owner",
        lambda w, a, _: w.marketplace.remove_offering_component(a, w.offering.id, "gpu"),
        prepare=lambda w: w.marketplace.add_offering_component(w.staff.id, w.offering.id, GPU),
    ),
    "create_plan": CommandCase(
        "provider_owner",
        lambda w, a, _: w.marketplace.create_plan(a, w.offering.id, "Daily", PlanUnit.DAY),
    ),
    "update_plan": CommandCase(
        "provider_owner", lambda w, a, _: w.marketplace.update_plan(a, w.plan.id, name="Renamed")
    ),
    "archive_plan": CommandCase(
        "provider_owner", lambda w, a, _: w.marketplace.archive_plan(a, w.plan.id)
    ),
    "set_plan_prices": CommandCase(
        "provider_owner",
        lambda w, a, _: w.marketplace.set_plan_prices(a, w.plan.id, {"cpu": 1}),
    ),
    "schedule_plan_prices": CommandCase(
        "provider_owner",
        lambda w, a, _: w.marketplace.schedule_plan_prices(a, w.plan.id, {"cpu": 1}),
    ),
}
"""Each command that acts for a user, and how to run it in the standard world."""

QUERIES = frozenset(
    {
        "get_user",
        "list_role_grants",
        "get_organization_group",
        "get_organization",
        "list_organizations",
        "get_project",
        "list_projects",
        "get_category",
        "list_categories",
        "get_offering",
        "list_offerings",
        "get_plan",
        "list_plans",
        "list_orderable_offerings",
    }
)
"""Read-only facade methods: no actor, no writes."""

WITHOUT_ACTOR = frozenset({"bootstrap_staff_user"})
"""Commands that run without an acting user."""
