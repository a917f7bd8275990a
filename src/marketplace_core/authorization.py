"""The default authorizer, and the check every command makes before it acts."""

from __future__ import annotations

from collections.abc import Mapping

from marketplace_core.errors import ErrorCode, PermissionDeniedError
from marketplace_core.ports import Authorizer, RoleGrantRepository
from marketplace_core.roles import DEFAULT_ROLE_PERMISSIONS, Permission, Role, Scope
from marketplace_core.users import User


class RoleAuthorizer:
    """Answers from the stored role grants and a role → permission table.

    Staff hold every permission. Anyone else holds a permission on a scope when one of their
    grants on that scope, or on an enclosing one, is for a role whose permissions include it.
    """

    def __init__(
        self,
        grants: RoleGrantRepository,
        role_permissions: Mapping[Role, frozenset[Permission]] = DEFAULT_ROLE_PERMISSIONS,
    ) -> None:
        self._grants = grants
        self._role_permissions = role_permissions
        self._held: dict[str, dict[tuple[str, str], frozenset[Permission]]] = {}

    def has_permission(self, user: User, permission: Permission, scope: Scope) -> bool:
        """Whether ``user`` holds ``permission`` on ``scope`` or an enclosing scope."""
        if user.is_staff:
            return True
        held = self._held_by(user.id)
        return any(permission in held.get((s.kind, s.id), ()) for s in scope.chain())

    def _held_by(self, user_id: str) -> dict[tuple[str, str], frozenset[Permission]]:
        """The permissions a user holds, by scope; read once per authorizer (the default
        authorizer lives for one command, so it never serves stale grants)."""
        held = self._held.get(user_id)
        if held is None:
            held = {}
            for grant in self._grants.for_user(user_id):
                key = (grant.scope_kind, grant.scope_id)
                held[key] = held.get(key, frozenset()) | self._role_permissions.get(
                    grant.role, frozenset()
                )
            self._held[user_id] = held
        return held


def require_permission(
    authorizer: Authorizer, user: User, permission: Permission, scope: Scope
) -> None:
    """Refuse, with a :class:`PermissionDeniedError`, a user lacking ``permission`` on ``scope``."""
    if not authorizer.has_permission(user, permission, scope):
        raise PermissionDeniedError(
            ErrorCode.PERMISSION_DENIED,
            f"user {user.id!r} lacks permission {permission.value!r} on "
            f"{scope.kind.value} {scope.id!r}",
            user_id=user.id,
            permission=permission.value,
            scope_kind=scope.kind.value,
            scope_id=scope.id,
        )
