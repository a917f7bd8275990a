"""The processor protocol: how a backend fulfils orders.

A processor is called once an order is ``executing``. Each call either finishes at once
(:class:`Completed`, with the backend id and metadata) or reports that the backend accepted
the work (:class:`InProgress`) and will report through the marketplace's backend callbacks.
A processor that raises leaves the order ``erred`` with the exception's message; it never
needs to catch its own errors.

Processors must be idempotent per order id: after a crash between the backend call and the
commit that records it, the same order may be handed over again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from marketplace_core.frozen import EMPTY_JSON, freeze_json
from marketplace_core.offerings import Offering, Plan
from marketplace_core.orders import Order
from marketplace_core.resources import Resource


def _frozen_json(value: Mapping[str, Any]) -> Mapping[str, Any]:
    frozen: Mapping[str, Any] = freeze_json(value, "metadata")
    return frozen


@attrs.frozen
class ProcessingRequest:
    """What a processor sees of an order: the order, its resource, offering and plan.

    For a plan switch ``plan`` is the new plan; ``resource`` still shows the old one.
    """

    order: Order
    resource: Resource
    offering: Offering
    plan: Plan | None


@attrs.frozen
class Completed:
    """The backend finished the work. ``backend_id`` (if not ``None``) and ``metadata``
    (merged over what the resource had) are recorded on the resource."""

    backend_id: str | None = None
    metadata: Mapping[str, Any] = attrs.field(default=EMPTY_JSON, converter=_frozen_json)


@attrs.frozen
class InProgress:
    """The backend accepted the work and will report through the callbacks."""

    backend_id: str | None = None


ProcessingResult = Completed | InProgress


class Processor(Protocol):
    """A backend that fulfils orders of one plugin type."""

    def validate(self, request: ProcessingRequest) -> None:
        """Refuse an order the backend cannot take, before anything is stored.

        Called while the order is placed. Raise a
        :class:`~marketplace_core.errors.ValidationError` to refuse; return to accept.
        Must not change the backend.
        """
        ...

    def create(self, request: ProcessingRequest) -> ProcessingResult:
        """Create the resource on the backend."""
        ...

    def update(self, request: ProcessingRequest) -> ProcessingResult:
        """Switch the resource's plan, or change its limits (``request.order`` says which)."""
        ...

    def terminate(self, request: ProcessingRequest) -> ProcessingResult:
        """Remove the resource from the backend."""
        ...
