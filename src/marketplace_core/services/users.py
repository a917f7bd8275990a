"""Commands and queries on users and their role grants."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from marketplace_core.errors import ConflictError, ErrorCode, ValidationError
from marketplace_core.events import RoleGranted, RoleRevoked, UserRegistered, UserStaffChanged
from marketplace_core.inputs import (
    require_bool,
    require_enum,
    require_string,
    require_text,
)
from marketplace_core.roles import PLATFORM, Permission, Role, RoleGrant
from marketplace_core.services.context import Context
from marketplace_core.users import User


def _new_user(
    ctx: Context, actor_id: str | None, username: str, full_name: str, email: str, is_staff: bool
) -> User:
    require_text(username, "username", max_length=150)
    require_string(full_name, "full_name", max_length=255)
    require_string(email, "email", max_length=255)
    if ctx.uow.users.find_by_username(username) is not None:
        raise ConflictError(
            ErrorCode.ALREADY_EXISTS,
            f"username {username!r} is taken; usernames are unique",
            entity="user",
            username=username,
        )
    user = ctx.uow.users.add(
        User(
            id=ctx.ids.new_id("user"),
            username=username,
            created_at=ctx.now,
            full_name=full_name,
            email=email,
            is_staff=is_staff,
        )
    )
    ctx.uow.emit(
        UserRegistered(
            occurred_at=ctx.now,
            actor_id=actor_id,
            user_id=user.id,
            username=username,
            is_staff=is_staff,
        )
    )
    return user


def bootstrap_staff_user(
    ctx: Context, username: str, *, full_name: str = "", email: str = ""
) -> User:
    """Create the first user, as staff, on an empty marketplace.

    Every other command needs an acting user; this one needs none, and is refused
    (``already_exists``) as soon as any user exists.
    """
    if ctx.uow.users.all():
        raise ConflictError(
            ErrorCode.ALREADY_EXISTS,
            "the marketplace already has users; a staff user creates the next ones",
            entity="user",
        )
    return _new_user(ctx, None, username, full_name, email, True)


def create_user(
    ctx: Context,
    actor_id: str,
    username: str,
    *,
    full_name: str = "",
    email: str = "",
    is_staff: bool = False,
) -> User:
    """Create a user. Needs ``user.create``; creating staff also needs ``user.set_staff``."""
    ctx.authorize(actor_id, Permission.USER_CREATE, PLATFORM)
    if require_bool(is_staff, "is_staff"):
        ctx.authorize(actor_id, Permission.USER_SET_STAFF, PLATFORM)
    return _new_user(ctx, actor_id, username, full_name, email, is_staff)


def set_user_staff(ctx: Context, actor_id: str, user_id: str, is_staff: bool) -> User:
    """Set or clear a user's staff flag. Needs ``user.set_staff``."""
    actor = ctx.authorize(actor_id, Permission.USER_SET_STAFF, PLATFORM)
    require_bool(is_staff, "is_staff")
    user = ctx.uow.users.get(user_id)
    if user.id == actor.id and not is_staff:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"user {actor.id!r} cannot remove their own staff flag; ask another staff user",
            field="is_staff",
            value=is_staff,
        )
    if user.is_staff == is_staff:
        return user
    user = ctx.uow.users.update(attrs.evolve(user, is_staff=is_staff))
    ctx.uow.emit(
        UserStaffChanged(occurred_at=ctx.now, actor_id=actor.id, user_id=user.id, is_staff=is_staff)
    )
    return user


def grant_role(ctx: Context, actor_id: str, user_id: str, role: Role, scope_id: str) -> RoleGrant:
    """Give ``user_id`` the ``role`` on a scope of the role's kind. Needs ``role.manage`` there.

    A project role is granted on a project, an organization role on an organization, an
    offering role on an offering. Granting a role the user already holds there is refused.
    """
    role = require_enum(role, Role, "role")
    scope = ctx.scope_of(role.scope_kind, scope_id)
    actor = ctx.authorize(actor_id, Permission.ROLE_MANAGE, scope)
    user = ctx.uow.users.get(user_id)
    for grant in ctx.uow.role_grants.for_user(user.id):
        if (grant.role, grant.scope_id) == (role, scope.id):
            raise ConflictError(
                ErrorCode.ALREADY_EXISTS,
                f"user {user.id!r} already holds {role.value!r} on {scope.kind.value} {scope.id!r}",
                entity="role grant",
                id=grant.id,
            )
    grant = ctx.uow.role_grants.add(
        RoleGrant(
            id=ctx.ids.new_id("grant"),
            user_id=user.id,
            role=role,
            scope_kind=scope.kind,
            scope_id=scope.id,
            granted_at=ctx.now,
            granted_by=actor.id,
        )
    )
    ctx.uow.emit(
        RoleGranted(
            occurred_at=ctx.now,
            actor_id=actor.id,
            grant_id=grant.id,
            user_id=user.id,
            role=role.value,
            scope_kind=scope.kind.value,
            scope_id=scope.id,
        )
    )
    return grant


def revoke_role(ctx: Context, actor_id: str, grant_id: str) -> RoleGrant:
    """Take a role grant away. Needs ``role.manage`` on the grant's scope."""
    grant = ctx.uow.role_grants.get(grant_id)
    actor = ctx.authorize(
        actor_id, Permission.ROLE_MANAGE, ctx.scope_of(grant.scope_kind, grant.scope_id)
    )
    ctx.uow.role_grants.remove(grant)
    ctx.uow.emit(
        RoleRevoked(
            occurred_at=ctx.now,
            actor_id=actor.id,
            grant_id=grant.id,
            user_id=grant.user_id,
            role=grant.role.value,
            scope_kind=grant.scope_kind.value,
            scope_id=grant.scope_id,
        )
    )
    return grant


def get_user(ctx: Context, user_id: str) -> User:
    """The user with this id."""
    return ctx.uow.users.get(user_id)


def list_role_grants(ctx: Context, user_id: str) -> Sequence[RoleGrant]:
    """Every role grant a user holds."""
    return ctx.uow.role_grants.for_user(ctx.uow.users.get(user_id).id)
