"""Processors for tests, demos and benchmarks: backends that answer as told.

They stand in for the edge of the world (a cloud API, a batch system) and follow the
:class:`~marketplace_core.plugins.Processor` protocol exactly, so code tested against them
runs unchanged against a real plugin.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.plugins.processor import Completed, InProgress, ProcessingRequest


class InstantProcessor:
    """A backend that finishes everything at once; the backend id is ``backend-`` and the
    resource id, or none with ``backend_ids=False``."""

    backend_ids = True
    """Whether ``create`` names a backend id (a class default, so subclasses that define
    their own ``__init__`` keep it)."""

    def __init__(self, *, backend_ids: bool = True) -> None:
        self.backend_ids = backend_ids

    def validate(self, request: ProcessingRequest) -> None:
        """Accept every order."""

    def create(self, request: ProcessingRequest) -> Completed:
        """Done at once."""
        if not self.backend_ids:
            return Completed()
        return Completed(backend_id=f"backend-{request.resource.id}")

    def update(self, request: ProcessingRequest) -> Completed:
        """Done at once."""
        return Completed()

    def terminate(self, request: ProcessingRequest) -> Completed:
        """Done at once."""
        return Completed()


class Outcome(enum.Enum):
    """How a :class:`ScriptedProcessor` answers one call."""

    SUCCEED = "succeed"
    """Return ``Completed``."""
    LATER = "later"
    """Return ``InProgress``: the test reports through the callbacks."""
    RAISE = "raise"
    """Raise ``RuntimeError`` (a backend crash)."""
    REFUSE = "refuse"
    """Refuse in ``validate`` (the order is never stored)."""


class ScriptedProcessor:
    """A backend that answers each call with the next scripted :class:`Outcome`.

    ``validate`` consumes an outcome only when the next one is ``REFUSE``. When the script
    runs out, every call succeeds. ``calls`` records ``(method, order id)`` in order.
    """

    def __init__(self, outcomes: Iterable[Outcome] = ()) -> None:
        self.script: deque[Outcome] = deque(outcomes)
        self.calls: list[tuple[str, str]] = []

    def then(self, *outcomes: Outcome) -> ScriptedProcessor:
        """Append outcomes to the script; returns the processor."""
        self.script.extend(outcomes)
        return self

    def validate(self, request: ProcessingRequest) -> None:
        """Refuse when the script says so."""
        self.calls.append(("validate", request.order.id))
        if self.script and self.script[0] is Outcome.REFUSE:
            self.script.popleft()
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"the backend refuses order {request.order.id!r}",
                field="order",
                value=request.order.id,
            )

    def _answer(self, method: str, request: ProcessingRequest) -> Completed | InProgress:
        self.calls.append((method, request.order.id))
        outcome = self.script.popleft() if self.script else Outcome.SUCCEED
        if outcome is Outcome.RAISE:
            raise RuntimeError(f"backend crashed on {method} of {request.order.id}")
        if outcome is Outcome.LATER:
            return InProgress()
        return Completed(backend_id=f"backend-{request.resource.id}")

    def create(self, request: ProcessingRequest) -> Completed | InProgress:
        """Answer as scripted."""
        return self._answer("create", request)

    def update(self, request: ProcessingRequest) -> Completed | InProgress:
        """Answer as scripted."""
        return self._answer("update", request)

    def terminate(self, request: ProcessingRequest) -> Completed | InProgress:
        """Answer as scripted."""
        return self._answer("terminate", request)
