"""The context a command handler runs in: one unit of work, one instant, the ports."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from marketplace_core.authorization import require_permission
from marketplace_core.billing.quantities import DEFAULT_ROUNDING, Rounding
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.inputs import require_enum
from marketplace_core.notifications import Notification
from marketplace_core.plugins import PluginRegistry
from marketplace_core.ports import Authorizer, IdGenerator, UnitOfWork
from marketplace_core.roles import (
    PLATFORM,
    Permission,
    Scope,
    ScopeKind,
    offering_scope,
    organization_scope,
    project_scope,
)
from marketplace_core.users import User

T = TypeVar("T")


@attrs.define
class TotalChange:
    """What a command adds to one scope's total of one month: cost, and usage per
    component."""

    cost: Decimal = Decimal(0)
    usage: dict[str, Decimal] = attrs.field(factory=dict)


@attrs.frozen
class Context:
    """Everything a handler may touch.

    ``now`` is read from the clock once per command, so every timestamp a command writes is
    the same instant and a replay with the same clock gives the same result.
    """

    uow: UnitOfWork
    now: datetime
    ids: IdGenerator
    authorizer: Authorizer
    plugins: PluginRegistry
    rounding: Rounding = DEFAULT_ROUNDING
    """How invoice amounts are rounded."""
    to_process: list[str] = attrs.field(factory=list)
    """Orders that reached ``executing``: handed to their processors before the commit."""
    notifications: list[Notification] = attrs.field(factory=list)
    """Messages to send after the commit."""
    changes: dict[tuple[ScopeKind, str, date], TotalChange] = attrs.field(factory=dict)
    """What the command added to the monthly totals of scopes, not yet written: written,
    and the scopes' policies evaluated, before the commit."""
    memo: dict[Hashable, Any] = attrs.field(factory=dict)
    """Values a command reads many times and never changes (see ``remember``)."""

    @property
    def today(self) -> date:
        """The current calendar date in UTC."""
        return self.now.date()

    def remember(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, computed once per command for ``key``. Only for values the
        command itself does not change (an offering it bills, the invoice it writes to)."""
        if key in self.memo:
            value: T = self.memo[key]
            return value
        value = self.memo[key] = compute()
        return value

    def schedule_processing(self, order_id: str) -> None:
        """Hand an executing order to its processor at the end of this command (the
        facade does it before the commit, unless the host processes orders from workers)."""
        self.to_process.append(order_id)

    def notify(self, notification: Notification) -> None:
        """Send a notification once this command has committed."""
        self.notifications.append(notification)

    def authorize(self, actor_id: str, permission: Permission, scope: Scope) -> User:
        """The acting user, once it is known to hold ``permission`` on ``scope``.

        Raises ``NotFoundError`` for an unknown user and ``PermissionDeniedError`` for one
        without the permission; both before anything is written.
        """
        actor = self.uow.users.get(actor_id)
        require_permission(self.authorizer, actor, permission, scope)
        return actor

    def authorize_any(self, actor_id: str, *needs: tuple[Permission, Scope]) -> User:
        """The acting user, once it holds at least one of ``needs``; otherwise the refusal
        names the first."""
        actor = self.uow.users.get(actor_id)
        for permission, scope in needs:
            if self.authorizer.has_permission(actor, permission, scope):
                return actor
        require_permission(self.authorizer, actor, *needs[0])
        return actor

    def require_scope(
        self, kind: object, scope_id: str, allowed: frozenset[ScopeKind], field: str
    ) -> ScopeKind:
        """``kind`` as one of the ``allowed`` scope kinds, once ``(kind, scope_id)`` is known
        to exist; refuses any other kind (``invalid_value``, naming ``field``) and an unknown
        scope (``not_found``)."""
        scope_kind = require_enum(kind, ScopeKind, field)
        if scope_kind not in allowed:
            names = ", ".join(sorted(k.value for k in allowed))
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"{field}: must be one of {names}, not {scope_kind.value}",
                field=field,
                value=scope_kind.value,
            )
        self.scope_of(scope_kind, scope_id)
        return scope_kind

    def scope_of(self, kind: ScopeKind, scope_id: str) -> Scope:
        """The scope ``(kind, scope_id)`` with its enclosing scopes, loaded from storage."""
        match kind:
            case ScopeKind.ORGANIZATION:
                return organization_scope(self.uow.organizations.get(scope_id).id)
            case ScopeKind.PROJECT:
                project = self.uow.projects.get(scope_id)
                return project_scope(project.id, project.organization_id)
            case ScopeKind.OFFERING:
                offering = self.uow.offerings.get(scope_id)
                return offering_scope(offering.id, offering.provider_id)
            case ScopeKind.PLATFORM:
                return PLATFORM
