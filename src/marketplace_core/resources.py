"""Resources: what a project holds from an offering, created, changed and ended by orders.

A resource's state follows its orders and its backend. Its lifecycle is declared once here;
the order pipeline (:mod:`marketplace_core.services.orders`) decides which event to fire.
Two fixes against Waldur are built into the table: a create order that is rejected or
canceled terminates its resource (``discard``), and a failed termination returns the
resource to ``ok`` (``restore``) with the error recorded.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from marketplace_core.frozen import EMPTY_JSON, freeze_json, frozen_mapping
from marketplace_core.lifecycle import Lifecycle, Transition


class ResourceState(enum.StrEnum):
    """Where a resource is in its life."""

    CREATING = "creating"
    OK = "ok"
    ERRED = "erred"
    UPDATING = "updating"
    TERMINATING = "terminating"
    TERMINATED = "terminated"


class ResourceEvent(enum.StrEnum):
    """What moves a resource between states."""

    SUCCEED = "succeed"
    """The backend finished creating or updating it (or a retried order healed it)."""
    FAIL = "fail"
    """The backend failed it, or reported it broken."""
    BEGIN_UPDATE = "begin_update"
    """The backend accepted an update that finishes later."""
    BEGIN_TERMINATION = "begin_termination"
    """The backend accepted a termination that finishes later."""
    RESTORE = "restore"
    """An update or termination was canceled or failed on the backend: back to ok."""
    TERMINATE = "terminate"
    """The backend removed it, or its create order was rejected or canceled."""


_S = ResourceState
_E = ResourceEvent

RESOURCE_LIFECYCLE: Lifecycle[ResourceState, ResourceEvent] = Lifecycle(
    "resource",
    ResourceState,
    ResourceEvent,
    ResourceState.CREATING,
    [
        Transition(_E.SUCCEED, (_S.CREATING, _S.UPDATING, _S.ERRED), _S.OK),
        Transition(_E.FAIL, (_S.CREATING, _S.UPDATING, _S.OK), _S.ERRED),
        Transition(_E.BEGIN_UPDATE, (_S.OK, _S.ERRED), _S.UPDATING),
        Transition(_E.BEGIN_TERMINATION, (_S.OK, _S.ERRED), _S.TERMINATING),
        Transition(_E.RESTORE, (_S.UPDATING, _S.TERMINATING), _S.OK),
        Transition(_E.TERMINATE, (_S.CREATING, _S.OK, _S.ERRED, _S.TERMINATING), _S.TERMINATED),
    ],
)
"""Terminated is final; everything else can still move."""


def _frozen_json(value: Mapping[str, Any]) -> Mapping[str, Any]:
    frozen: Mapping[str, Any] = freeze_json(value, "attributes")
    return frozen


@attrs.frozen
class Resource:
    """A project's allocation of an offering, on a plan, with limits.

    ``cost`` is the running estimate per plan unit (fixed prices plus limit prices).
    ``end_date`` is inclusive: the resource lives through that day and the due jobs terminate
    it from the next day on; ``end_date_by_provider`` marks a provider's notice, which the
    consumer may bring forward but not lift.
    ``error_message`` holds the last backend error, also after a failed termination.
    ``activated_at`` is when it first became ok: billing runs from then until
    ``terminated_at``.
    """

    id: str
    name: str
    project_id: str
    offering_id: str
    created_at: datetime
    plan_id: str | None = None
    state: ResourceState = ResourceState.CREATING
    limits: Mapping[str, int] = attrs.field(factory=dict, converter=frozen_mapping)
    attributes: Mapping[str, Any] = attrs.field(default=EMPTY_JSON, converter=_frozen_json)
    cost: Decimal | None = None
    backend_id: str = ""
    backend_metadata: Mapping[str, Any] = attrs.field(default=EMPTY_JSON, converter=_frozen_json)
    end_date: date | None = None
    end_date_requested_by: str | None = None
    end_date_by_provider: bool = False
    error_message: str = ""
    activated_at: datetime | None = None
    terminated_at: datetime | None = None
    policy_flags: frozenset[tuple[str, str]] = frozenset()
    """``(flag, policy id)`` for each flag a fired policy set on the resource
    (``jobs_blocked``, ``downscaling_requested``, ``pausing_requested``)."""
    version: int = 0

    def fire(self, event: ResourceEvent) -> Resource:
        """The resource after ``event``; raises when the current state forbids it."""
        return RESOURCE_LIFECYCLE.fire(self, event)

    @property
    def flags(self) -> frozenset[str]:
        """The flags some fired policy sets on the resource (backends honour them)."""
        return frozenset(flag for flag, _ in self.policy_flags)

    @property
    def is_live(self) -> bool:
        """Whether the resource still exists (anything but terminated)."""
        return self.state is not ResourceState.TERMINATED


def is_due_for_termination(resource: Resource, today: date) -> bool:
    """Whether a live resource's (inclusive) end date has passed."""
    return resource.is_live and resource.end_date is not None and today > resource.end_date
