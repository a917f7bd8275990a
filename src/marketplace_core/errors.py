"""One exception hierarchy for every refusal the library makes.

Every error carries a stable machine-readable :class:`ErrorCode`, a message that names the bad
input and what was expected, and structured ``fields`` a host can render or log. Each family
also subclasses the builtin that fits, so ``except ValueError`` still catches a validation
error and ``except LookupError`` a missing entity.

Codes are never renamed; new ones are added as rules are added. The family (the class) says
how a host should react (show a form error, a 404, a 403, retry on conflict); the code says
which rule refused.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


class ErrorCode(enum.StrEnum):
    """Every code an error of this library can carry."""

    # Generic input validation.
    INVALID_VALUE = "invalid_value"
    # Storage and identity.
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    STALE_VERSION = "stale_version"
    # Authorization.
    PERMISSION_DENIED = "permission_denied"
    # Lifecycles.
    INVALID_TRANSITION = "invalid_transition"
    # Platform primitives.
    ORGANIZATION_BLOCKED = "organization_blocked"
    ORGANIZATION_ARCHIVED = "organization_archived"
    # Catalogue.
    PROVIDER_NOT_REGISTERED = "provider_not_registered"
    PLUGIN_NOT_REGISTERED = "plugin_not_registered"
    INVALID_COMPONENT_SETTINGS = "invalid_component_settings"
    DUPLICATE_COMPONENT = "duplicate_component"
    UNKNOWN_COMPONENT = "unknown_component"
    COMPONENT_IN_USE = "component_in_use"
    BUILTIN_COMPONENT = "builtin_component"
    OFFERING_ARCHIVED = "offering_archived"
    OFFERING_NOT_ACTIVE = "offering_not_active"
    OFFERING_WITHOUT_CATEGORY = "offering_without_category"
    OFFERING_WITHOUT_COMPONENTS = "offering_without_components"
    OFFERING_WITHOUT_PLANS = "offering_without_plans"
    OFFERING_NOT_VISIBLE = "offering_not_visible"
    PLAN_ARCHIVED = "plan_archived"
    # Orders and resources.
    PROJECT_ENDED = "project_ended"
    PLAN_OF_ANOTHER_OFFERING = "plan_of_another_offering"
    PLAN_CAPACITY_REACHED = "plan_capacity_reached"
    PLAN_UNCHANGED = "plan_unchanged"
    LIMITS_UNCHANGED = "limits_unchanged"
    LIMITS_NOT_UPDATABLE = "limits_not_updatable"
    ORDER_IN_PROGRESS = "order_in_progress"
    RESOURCE_NOT_READY = "resource_not_ready"
    ORDER_NOT_CANCELABLE = "order_not_cancelable"
    ORDER_NOT_EXECUTING = "order_not_executing"
    ORDER_OUTDATED = "order_outdated"
    NO_EXECUTING_ORDER = "no_executing_order"
    END_DATE_TOO_SOON = "end_date_too_soon"
    END_DATE_SET_BY_PROVIDER = "end_date_set_by_provider"
    # Limits requested on limit-billed components.
    LIMIT_NOT_ALLOWED = "limit_not_allowed"
    LIMIT_OUT_OF_RANGE = "limit_out_of_range"
    LIMIT_NOT_BOOLEAN = "limit_not_boolean"
    LIMIT_PERIOD_AMOUNT_EXCEEDED = "limit_period_amount_exceeded"
    OFFERING_LIMIT_CAP_EXCEEDED = "offering_limit_cap_exceeded"
    # Billing.
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    COMPONENT_NOT_REPORTABLE = "component_not_reportable"
    RESOURCE_NOT_REPORTABLE = "resource_not_reportable"
    PERIOD_OUTSIDE_LIVE_TIME = "period_outside_live_time"
    PERIOD_CLOSED = "period_closed"
    USAGE_CAP_EXCEEDED = "usage_cap_exceeded"
    USAGE_BELOW_BILLED = "usage_below_billed"
    # Policies, quotas and deny lists.
    POLICY_ACTION_NOT_AVAILABLE = "policy_action_not_available"
    POLICY_BLOCKS_CREATION = "policy_blocks_creation"
    POLICY_BLOCKS_MODIFICATION = "policy_blocks_modification"
    OFFERING_DENIED = "offering_denied"
    QUOTA_EXCEEDED = "quota_exceeded"
    # Plugins and backends.
    USAGE_NOT_PULLABLE = "usage_not_pullable"
    ORDER_NOT_DISPATCHED = "order_not_dispatched"
    ORDER_CLAIMED = "order_claimed"
    CLAIM_NOT_HELD = "claim_not_held"
    BACKEND_FAILED = "backend_failed"
    BACKEND_TIMED_OUT = "backend_timed_out"
    BACKEND_BAD_RESPONSE = "backend_bad_response"


class MarketplaceError(Exception):
    """The root of every error this library raises on purpose.

    ``code`` is stable and machine-readable; ``message`` is for people; ``fields`` holds the
    structured facts (ids, values, limits) the message was built from.
    """

    def __init__(self, code: ErrorCode, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message: str = message
        self.fields: Mapping[str, Any] = MappingProxyType(dict(fields))

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data: ``{"code", "message", "fields"}``, for APIs and vectors."""
        return {"code": str(self.code), "message": self.message, "fields": dict(self.fields)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.code)!r}, {self.message!r})"


class ValidationError(MarketplaceError, ValueError):
    """The input breaks a rule: a malformed value, or a command the current data forbids."""


class NotFoundError(MarketplaceError, LookupError):
    """An entity named by id does not exist. ``fields`` holds ``entity`` and ``id``."""

    def __init__(self, entity: str, entity_id: str) -> None:
        super().__init__(
            ErrorCode.NOT_FOUND,
            f"{entity} {entity_id!r} does not exist",
            entity=entity,
            id=entity_id,
        )
        self.entity = entity
        self.entity_id = entity_id


class PermissionDeniedError(MarketplaceError, PermissionError):
    """The acting user lacks the permission the command needs on its scope."""


class InvalidTransitionError(MarketplaceError):
    """An event was fired on an entity whose current state does not allow it.

    ``fields`` holds ``entity`` (the entity type), ``id``, ``event``, ``state`` and
    ``allowed`` (the events the current state does allow).
    """

    def __init__(
        self, entity: str, entity_id: str, event: str, state: str, allowed: tuple[str, ...]
    ) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none, the state is final"
        super().__init__(
            ErrorCode.INVALID_TRANSITION,
            f"cannot {event} {entity} {entity_id!r} in state {state!r}; "
            f"events allowed there: {allowed_text}",
            entity=entity,
            id=entity_id,
            event=event,
            state=state,
            allowed=allowed,
        )
        self.entity = entity
        self.entity_id = entity_id
        self.event = event
        self.state = state


class ConflictError(MarketplaceError):
    """The write conflicts with stored data: a stale version or a duplicate identity.

    A host usually reloads and retries on ``stale_version``.
    """


class PolicyViolationError(MarketplaceError):
    """A fired policy (or a deny list) vetoes the command."""


class QuotaExceededError(MarketplaceError):
    """The command would take a quota's usage over its limit."""


class BackendError(MarketplaceError):
    """A backend (a script, a remote marketplace, a batch system) failed, timed out or
    answered something the plugin cannot read.

    Processors raise it; the core records its message on the erred order. ``fields`` names
    what was called (``command``, ``url``, ...) and what came back (``exit_code``,
    ``stderr_tail``, ...).
    """
