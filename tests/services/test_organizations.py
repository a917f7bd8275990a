"""Organization, group and project commands through the facade."""

from __future__ import annotations

from datetime import date

import pytest

from marketplace_core import (
    DEFAULT_ROLE_PERMISSIONS,
    ErrorCode,
    Marketplace,
    NotFoundError,
    Permission,
    PermissionDeniedError,
    Role,
    ValidationError,
)
from tests.support import World, snapshot


def event_types(world: World) -> list[str]:
    return [recorded.event.event_type for recorded in world.events.events]


def test_organizations_are_created_by_staff(world: World):
    with pytest.raises(PermissionDeniedError) as caught:
        world.marketplace.create_organization(world.owner.id, "Spin-off")
    assert caught.value.fields["permission"] == "organization.create"
    organization = world.marketplace.create_organization(world.staff.id, "Spin-off")
    assert (organization.name, organization.blocked, organization.archived) == (
        "Spin-off",
        False,
        False,
    )
    assert world.marketplace.list_organizations()[-1] == organization


def test_an_organization_can_start_in_an_existing_group_only(world: World):
    with pytest.raises(NotFoundError):
        world.marketplace.create_organization(world.staff.id, "Lab", group_id="group-9")
    group = world.marketplace.create_organization_group(world.staff.id, "EU")
    assert (
        world.marketplace.create_organization(world.staff.id, "Lab", group_id=group.id).group_id
        == group.id
    )


def test_moving_an_organization_between_groups_is_for_staff(world: World):
    group = world.marketplace.create_organization_group(world.staff.id, "EU")
    with pytest.raises(PermissionDeniedError):
        world.marketplace.set_organization_group(world.owner.id, world.consumer.id, group.id)
    moved = world.marketplace.set_organization_group(world.staff.id, world.consumer.id, group.id)
    assert moved.group_id == group.id
    assert world.events.events[-1].event.changes == ("group_id",)
    assert (
        world.marketplace.set_organization_group(world.staff.id, world.consumer.id, None).group_id
        is None
    )


def test_blocking_is_idempotent_and_unblocking_lifts_it(world: World):
    market = world.marketplace
    assert market.block_organization(world.staff.id, world.consumer.id).blocked
    count = len(world.events.events)
    assert market.block_organization(world.staff.id, world.consumer.id).blocked
    assert len(world.events.events) == count
    assert not market.unblock_organization(world.staff.id, world.consumer.id).blocked
    assert event_types(world)[-2:] == ["OrganizationBlocked", "OrganizationUnblocked"]


def test_a_blocked_organization_creates_no_projects(world: World):
    world.marketplace.block_organization(world.staff.id, world.consumer.id)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.create_project(world.owner.id, world.consumer.id, "New")
    assert caught.value.code is ErrorCode.ORGANIZATION_BLOCKED


def test_an_archived_organization_is_read_only(world: World):
    world.marketplace.archive_organization(world.staff.id, world.consumer.id)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.update_project(world.owner.id, world.project.id, name="Renamed")
    assert caught.value.code is ErrorCode.ORGANIZATION_ARCHIVED
    assert event_types(world)[-1] == "OrganizationArchived"


def test_organization_owners_and_project_managers_shape_projects(world: World):
    project = world.marketplace.create_project(
        world.owner.id,
        world.consumer.id,
        "Summer school",
        start_date=date(2026, 6, 1),
        end_date=date(2026, 6, 30),
    )
    assert (project.organization_id, project.start_date, project.end_date) == (
        world.consumer.id,
        date(2026, 6, 1),
        date(2026, 6, 30),
    )
    renamed = world.marketplace.update_project(
        world.project_manager.id, world.project.id, name="PhD"
    )
    assert renamed.name == "PhD"
    assert world.events.events[-1].event.changes == ("name",)
    assert world.marketplace.list_projects(world.consumer.id)[-1] == project


@pytest.mark.parametrize("actor", ["project_admin", "project_member", "provider_owner", "outsider"])
def test_only_managers_and_owners_update_a_project(world: World, actor: str):
    with pytest.raises(PermissionDeniedError):
        world.marketplace.update_project(getattr(world, actor).id, world.project.id, name="X")


def test_a_project_cannot_end_before_it_starts(world: World):
    with pytest.raises(ValidationError) as caught:
        world.marketplace.create_project(
            world.owner.id,
            world.consumer.id,
            "Backwards",
            start_date=date(2026, 6, 30),
            end_date=date(2026, 6, 1),
        )
    assert caught.value.fields["field"] == "end_date"
    world.marketplace.update_project(world.owner.id, world.project.id, start_date=date(2026, 3, 1))
    with pytest.raises(ValidationError):
        world.marketplace.update_project(
            world.owner.id, world.project.id, end_date=date(2026, 2, 1)
        )


def test_project_dates_are_dates_not_datetimes(world: World):
    with pytest.raises(ValidationError) as caught:
        world.marketplace.update_project(
            world.owner.id, world.project.id, end_date=world.clock.now()
        )
    assert caught.value.fields["field"] == "end_date"


def test_none_clears_a_date_and_unset_leaves_it(world: World):
    market = world.marketplace
    market.update_project(world.owner.id, world.project.id, end_date=date(2026, 12, 31))
    kept = market.update_project(world.owner.id, world.project.id, name="Renamed")
    assert kept.end_date == date(2026, 12, 31)
    cleared = market.update_project(world.owner.id, world.project.id, end_date=None)
    assert cleared.end_date is None


def test_turning_auto_approval_on_needs_the_approve_permission(world: World):
    before = snapshot(world.storage)
    with pytest.raises(PermissionDeniedError) as caught:
        world.marketplace.update_project(
            world.project_manager.id, world.project.id, auto_approve=True
        )
    assert caught.value.fields["permission"] == "order.approve"
    assert snapshot(world.storage) == before
    assert world.marketplace.update_project(
        world.owner.id, world.project.id, auto_approve=True
    ).auto_approve


def test_creating_an_auto_approved_project_needs_the_approve_permission(world: World):
    creators = dict(DEFAULT_ROLE_PERMISSIONS)
    creators[Role.ORGANIZATION_MANAGER] = frozenset({Permission.PROJECT_CREATE})
    market = Marketplace(
        world.storage,
        clock=world.clock,
        ids=world.marketplace.ids,
        plugins=world.marketplace.plugins,
        role_permissions=creators,
    )
    manager = market.create_user(world.staff.id, "max")
    market.grant_role(world.staff.id, manager.id, Role.ORGANIZATION_MANAGER, world.consumer.id)
    assert not market.create_project(manager.id, world.consumer.id, "Manual").auto_approve
    with pytest.raises(PermissionDeniedError) as caught:
        market.create_project(manager.id, world.consumer.id, "Auto", auto_approve=True)
    assert caught.value.fields["permission"] == "order.approve"
    assert market.create_project(
        world.owner.id, world.consumer.id, "Auto", auto_approve=True
    ).auto_approve


def test_an_update_that_changes_nothing_writes_nothing(world: World):
    before = snapshot(world.storage)
    world.marketplace.update_project(world.owner.id, world.project.id, name=world.project.name)
    assert snapshot(world.storage) == before


def test_names_must_not_be_blank(world: World):
    with pytest.raises(ValidationError) as caught:
        world.marketplace.create_organization(world.staff.id, "   ")
    assert caught.value.fields["field"] == "name"


def test_queries_refuse_unknown_ids(world: World):
    with pytest.raises(NotFoundError):
        world.marketplace.get_project("project-404")
    with pytest.raises(NotFoundError):
        world.marketplace.list_projects("organization-404")
    assert world.marketplace.get_organization(world.consumer.id) == world.consumer


def test_owners_rename_their_organization(world: World):
    renamed = world.marketplace.rename_organization(world.owner.id, world.consumer.id, "Uni")
    assert renamed.name == "Uni"
    assert world.events.events[-1].event.changes == ("name",)
    with pytest.raises(PermissionDeniedError):
        world.marketplace.rename_organization(world.provider_owner.id, world.consumer.id, "Mine")


def test_nothing_changes_an_archived_organization(world: World):
    market, staff = world.marketplace, world.staff.id
    group = market.create_organization_group(staff, "EU")
    market.archive_organization(staff, world.consumer.id)
    for change in (
        lambda: market.block_organization(staff, world.consumer.id),
        lambda: market.set_organization_group(staff, world.consumer.id, group.id),
        lambda: market.rename_organization(staff, world.consumer.id, "Reborn"),
    ):
        with pytest.raises(ValidationError) as caught:
            change()
        assert caught.value.code is ErrorCode.ORGANIZATION_ARCHIVED
    assert market.archive_organization(staff, world.consumer.id).archived
