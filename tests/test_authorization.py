"""The default role table, the default authorizer, and injecting a host's own."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace_core import (
    DEFAULT_ROLE_PERMISSIONS,
    Marketplace,
    Permission,
    PermissionDeniedError,
    Role,
    RoleGrant,
    User,
)
from marketplace_core.adapters.memory import InMemoryStorage
from marketplace_core.authorization import RoleAuthorizer, require_permission
from marketplace_core.roles import (
    PLATFORM,
    Scope,
    ScopeKind,
    offering_scope,
    organization_scope,
    project_scope,
)
from tests.support import World

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_default_table_follows_waldur():
    owner = DEFAULT_ROLE_PERMISSIONS[Role.ORGANIZATION_OWNER]
    assert {Permission.ORDER_APPROVE, Permission.ORDER_APPROVE_PRIVATE} <= owner
    for role in (Role.PROJECT_MANAGER, Role.PROJECT_ADMIN):
        assert Permission.ORDER_APPROVE not in DEFAULT_ROLE_PERMISSIONS[role]
        assert Permission.ORDER_APPROVE_PRIVATE in DEFAULT_ROLE_PERMISSIONS[role]
    assert Permission.RESOURCE_REPORT_USAGE in DEFAULT_ROLE_PERMISSIONS[Role.OFFERING_MANAGER]
    assert DEFAULT_ROLE_PERMISSIONS[Role.PROJECT_MEMBER] == frozenset()


def test_platform_permissions_belong_to_no_role():
    platform = {
        Permission.USER_CREATE,
        Permission.USER_SET_STAFF,
        Permission.ORGANIZATION_CREATE,
        Permission.ORGANIZATION_BLOCK,
        Permission.ORGANIZATION_GROUP_MANAGE,
        Permission.CATEGORY_MANAGE,
        Permission.PROVIDER_REGISTER,
        Permission.OFFERING_ACTIVATE,
    }
    for permissions in DEFAULT_ROLE_PERMISSIONS.values():
        assert not permissions & platform


def test_each_role_names_the_kind_of_scope_it_is_held_on():
    assert Role.ORGANIZATION_OWNER.scope_kind is ScopeKind.ORGANIZATION
    assert Role.PROJECT_MEMBER.scope_kind is ScopeKind.PROJECT
    assert Role.OFFERING_MANAGER.scope_kind is ScopeKind.OFFERING


def test_scopes_chain_to_their_enclosing_organization():
    assert [s.id for s in project_scope("p", "o").chain()] == ["p", "o"]
    assert [s.kind for s in offering_scope("x", "o").chain()] == [
        ScopeKind.OFFERING,
        ScopeKind.ORGANIZATION,
    ]
    assert list(PLATFORM.chain()) == [PLATFORM]


class FakeGrants:
    """The read side of a role-grant repository, over a list."""

    def __init__(self, grants: list[RoleGrant]) -> None:
        self.grants = grants

    def for_user(self, user_id: str) -> list[RoleGrant]:
        return [grant for grant in self.grants if grant.user_id == user_id]


def grant(role: Role, scope_id: str, user_id: str = "u") -> RoleGrant:
    return RoleGrant(
        id=f"{role}-{scope_id}",
        user_id=user_id,
        role=role,
        scope_kind=role.scope_kind,
        scope_id=scope_id,
        granted_at=NOW,
    )


USER = User(id="u", username="u", created_at=NOW)
SCOPES = {
    "org": organization_scope("org"),
    "other-org": organization_scope("other-org"),
    "project": project_scope("project", "org"),
    "other-project": project_scope("other-project", "other-org"),
    "offering": offering_scope("offering", "org"),
}
ROLE_SCOPES = {
    ScopeKind.ORGANIZATION: ["org", "other-org"],
    ScopeKind.PROJECT: ["project", "other-project"],
    ScopeKind.OFFERING: ["offering"],
}


def grants_strategy() -> st.SearchStrategy[list[RoleGrant]]:
    return st.lists(
        st.sampled_from(list(Role)).flatmap(
            lambda role: st.sampled_from(ROLE_SCOPES[role.scope_kind]).map(
                lambda scope_id: grant(role, scope_id)
            )
        ),
        max_size=4,
    )


def reference_has_permission(
    grants: list[RoleGrant], staff: bool, permission: Permission, scope: Scope
) -> bool:
    """The rule in the plainest words: staff may; otherwise some grant on the scope or on an
    enclosing scope carries the permission."""
    if staff:
        return True
    enclosing = []
    while scope is not None:
        enclosing.append((scope.kind, scope.id))
        scope = scope.parent
    return any(
        (g.scope_kind, g.scope_id) in enclosing and permission in DEFAULT_ROLE_PERMISSIONS[g.role]
        for g in grants
    )


@given(
    grants=grants_strategy(),
    staff=st.booleans(),
    permission=st.sampled_from(list(Permission)),
    scope=st.sampled_from(sorted(SCOPES)),
)
def test_the_role_authorizer_agrees_with_the_plain_rule(grants, staff, permission, scope):
    user = User(id="u", username="u", created_at=NOW, is_staff=staff)
    authorizer = RoleAuthorizer(FakeGrants(grants))
    assert authorizer.has_permission(user, permission, SCOPES[scope]) == reference_has_permission(
        grants, staff, permission, SCOPES[scope]
    )


def test_an_organization_owner_holds_project_permissions_through_the_organization():
    authorizer = RoleAuthorizer(FakeGrants([grant(Role.ORGANIZATION_OWNER, "org")]))
    assert authorizer.has_permission(USER, Permission.RESOURCE_TERMINATE, SCOPES["project"])
    assert not authorizer.has_permission(
        USER, Permission.RESOURCE_TERMINATE, SCOPES["other-project"]
    )


def test_a_project_role_does_not_reach_up_to_the_organization():
    authorizer = RoleAuthorizer(FakeGrants([grant(Role.PROJECT_MANAGER, "project")]))
    assert authorizer.has_permission(USER, Permission.PROJECT_UPDATE, SCOPES["project"])
    assert not authorizer.has_permission(USER, Permission.PROJECT_CREATE, SCOPES["org"])


def test_a_host_role_table_replaces_the_default():
    table = dict(DEFAULT_ROLE_PERMISSIONS)
    table[Role.PROJECT_MANAGER] = DEFAULT_ROLE_PERMISSIONS[Role.PROJECT_MANAGER] | {
        Permission.ORDER_APPROVE
    }
    grants = FakeGrants([grant(Role.PROJECT_MANAGER, "project")])
    assert not RoleAuthorizer(grants).has_permission(
        USER, Permission.ORDER_APPROVE, SCOPES["project"]
    )
    assert RoleAuthorizer(grants, table).has_permission(
        USER, Permission.ORDER_APPROVE, SCOPES["project"]
    )


def test_require_permission_names_user_permission_and_scope():
    with pytest.raises(PermissionDeniedError) as caught:
        require_permission(
            RoleAuthorizer(FakeGrants([])), USER, Permission.PLAN_MANAGE, SCOPES["offering"]
        )
    assert caught.value.fields == {
        "user_id": "u",
        "permission": "plan.manage",
        "scope_kind": "offering",
        "scope_id": "offering",
    }
    assert "plan.manage" in caught.value.message
    assert isinstance(caught.value, PermissionError)


class AllowListAuthorizer:
    """A host's authorizer: only listed usernames may act, on anything."""

    def __init__(self, usernames: set[str]) -> None:
        self.usernames = usernames
        self.questions: list[tuple[str, Permission, str]] = []

    def has_permission(self, user: User, permission: Permission, scope: Scope) -> bool:
        self.questions.append((user.username, permission, scope.id))
        return user.username in self.usernames


def test_a_host_authorizer_decides_instead_of_the_stored_grants():
    authorizer = AllowListAuthorizer({"root", "robot"})
    market = Marketplace(InMemoryStorage(), authorizer=authorizer)
    root = market.bootstrap_staff_user("root")
    robot = market.create_user(root.id, "robot")
    organization = market.create_organization(robot.id, "Made by a robot")
    assert ("robot", Permission.ORGANIZATION_CREATE, "platform") in authorizer.questions
    stranger = market.create_user(root.id, "stranger", is_staff=True)
    with pytest.raises(PermissionDeniedError):
        market.create_project(stranger.id, organization.id, "Denied despite staff")


def test_every_command_checks_the_actor(world: World):
    with pytest.raises(PermissionDeniedError):
        world.marketplace.create_category(world.outsider.id, "Quantum")
    with pytest.raises(PermissionDeniedError):
        world.marketplace.archive_offering(world.outsider.id, world.offering.id)
