"""User and role-grant commands through the facade."""

from __future__ import annotations

import pytest

from marketplace_core import (
    ConflictError,
    ErrorCode,
    Marketplace,
    NotFoundError,
    PermissionDeniedError,
    Role,
    ValidationError,
)
from marketplace_core.roles import ScopeKind
from tests.support import World, snapshot


def test_the_first_user_is_bootstrapped_as_staff_without_an_actor():
    market = Marketplace()
    root = market.bootstrap_staff_user("root", full_name="Root", email="root@example.org")
    assert root.is_staff
    assert market.events()[0].event.actor_id is None


def test_bootstrapping_is_refused_once_anyone_exists(world: World):
    with pytest.raises(ConflictError) as caught:
        world.marketplace.bootstrap_staff_user("mallory")
    assert caught.value.code is ErrorCode.ALREADY_EXISTS


def test_users_are_created_by_staff_and_usernames_are_unique(world: World):
    with pytest.raises(PermissionDeniedError):
        world.marketplace.create_user(world.owner.id, "newbie")
    user = world.marketplace.create_user(world.staff.id, "newbie", email="n@example.org")
    assert (user.username, user.is_staff, world.marketplace.get_user(user.id)) == (
        "newbie",
        False,
        user,
    )
    with pytest.raises(ConflictError) as caught:
        world.marketplace.create_user(world.staff.id, "newbie")
    assert caught.value.fields["username"] == "newbie"


def test_an_unknown_actor_is_refused_before_anything_happens(world: World):
    before = snapshot(world.storage)
    with pytest.raises(NotFoundError) as caught:
        world.marketplace.create_user("user-404", "ghost")
    assert caught.value.fields == {"entity": "user", "id": "user-404"}
    assert snapshot(world.storage) == before


def test_staff_can_create_staff_and_flip_the_flag(world: World):
    colleague = world.marketplace.create_user(world.staff.id, "ops", is_staff=True)
    assert colleague.is_staff
    demoted = world.marketplace.set_user_staff(world.staff.id, colleague.id, False)
    assert not demoted.is_staff
    assert world.events.events[-1].event.event_type == "UserStaffChanged"


def test_nobody_removes_their_own_staff_flag(world: World):
    with pytest.raises(ValidationError) as caught:
        world.marketplace.set_user_staff(world.staff.id, world.staff.id, False)
    assert caught.value.fields["field"] == "is_staff"


def test_the_staff_flag_must_be_a_bool(world: World):
    with pytest.raises(ValidationError):
        world.marketplace.set_user_staff(world.staff.id, world.owner.id, 1)


def test_an_owner_grants_roles_in_their_organization_and_its_projects(world: World):
    newcomer = world.marketplace.create_user(world.staff.id, "nina")
    grant = world.marketplace.grant_role(
        world.owner.id, newcomer.id, Role.PROJECT_ADMIN, world.project.id
    )
    assert (grant.user_id, grant.role, grant.scope_kind, grant.scope_id, grant.granted_by) == (
        newcomer.id,
        Role.PROJECT_ADMIN,
        ScopeKind.PROJECT,
        world.project.id,
        world.owner.id,
    )
    assert world.marketplace.list_role_grants(newcomer.id) == [grant]
    assert world.events.events[-1].event.role == "project.admin"


def test_an_owner_cannot_grant_roles_in_someone_elses_organization(world: World):
    newcomer = world.marketplace.create_user(world.staff.id, "nina")
    with pytest.raises(PermissionDeniedError):
        world.marketplace.grant_role(
            world.owner.id, newcomer.id, Role.ORGANIZATION_OWNER, world.provider.id
        )


def test_a_role_is_granted_on_a_scope_of_its_kind(world: World):
    newcomer = world.marketplace.create_user(world.staff.id, "nina")
    with pytest.raises(NotFoundError) as caught:
        world.marketplace.grant_role(
            world.staff.id, newcomer.id, Role.PROJECT_ADMIN, world.consumer.id
        )
    assert caught.value.fields["entity"] == "project"


def test_a_role_is_granted_once_per_scope(world: World):
    with pytest.raises(ConflictError) as caught:
        world.marketplace.grant_role(
            world.staff.id, world.owner.id, Role.ORGANIZATION_OWNER, world.consumer.id
        )
    assert caught.value.code is ErrorCode.ALREADY_EXISTS


def test_unknown_roles_are_refused_by_value(world: World):
    with pytest.raises(ValidationError) as caught:
        world.marketplace.grant_role(
            world.staff.id, world.owner.id, "project.overlord", world.project.id
        )
    assert caught.value.fields["field"] == "role"


def test_revoking_a_role_takes_its_permissions_away(world: World):
    (grant,) = world.marketplace.list_role_grants(world.project_manager.id)
    world.marketplace.update_project(world.project_manager.id, world.project.id, name="Before")
    world.marketplace.revoke_role(world.owner.id, grant.id)
    assert world.marketplace.list_role_grants(world.project_manager.id) == []
    with pytest.raises(PermissionDeniedError):
        world.marketplace.update_project(world.project_manager.id, world.project.id, name="After")
    assert world.events.events[-1].event.event_type == "RoleRevoked"


def test_a_project_manager_manages_project_roles_only_in_their_project(world: World):
    newcomer = world.marketplace.create_user(world.staff.id, "nina")
    world.marketplace.grant_role(
        world.project_manager.id, newcomer.id, Role.PROJECT_MEMBER, world.project.id
    )
    other = world.marketplace.create_project(world.owner.id, world.consumer.id, "Other")
    with pytest.raises(PermissionDeniedError):
        world.marketplace.grant_role(
            world.project_manager.id, newcomer.id, Role.PROJECT_MEMBER, other.id
        )
    with pytest.raises(PermissionDeniedError):
        world.marketplace.grant_role(
            world.project_manager.id, newcomer.id, Role.ORGANIZATION_OWNER, world.consumer.id
        )
