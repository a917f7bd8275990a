"""Running vector steps on a marketplace, shared by the runner and the recorder.

A :class:`Session` holds the marketplace a vector runs on, its clock, and the names bound so
far. It runs one step at a time and tells what happened: the result or the refusal, the
events the step committed and the notifications it sent, all observed as plain trees.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from marketplace_core.adapters.memory import RecordingNotifier
from marketplace_core.clocks import FixedClock
from marketplace_core.conformance.commands import ACTOR_PARAMETER, COMMANDS, Command
from marketplace_core.conformance.format import STATE_QUERIES
from marketplace_core.conformance.values import Json, decode_arguments, name_ids, observe
from marketplace_core.conformance.world import vector_marketplace
from marketplace_core.errors import ErrorCode, MarketplaceError, ValidationError
from marketplace_core.events import DomainEvent
from marketplace_core.notifications import Notification
from marketplace_core.ports import IdGenerator, Storage


class StepError(ValidationError):
    """A step that cannot be run as written (an unknown command or name, a missing
    argument, a clock set back). The runner reports it as the vector's failure."""

    def __init__(self, problem: str) -> None:
        super().__init__(ErrorCode.INVALID_VALUE, problem, field="step")


@attrs.frozen
class Observation:
    """What one step did: its observed result (``None`` when refused), its refusal, the
    events it committed (in commit order), and the notifications it sent (in order)."""

    result: Json
    error: MarketplaceError | None
    events: list[Json]
    notifications: list[Json]


def observe_event(event: DomainEvent) -> dict[str, Json]:
    """An event as vectors show it: ``type`` and its fields, without ``occurred_at`` (always
    the step's time)."""
    fields = observe(event)
    del fields["occurred_at"]
    return {"type": event.event_type, **fields}


def observe_notification(notification: Notification) -> dict[str, Json]:
    """A notification as vectors show it: ``topic``, ``recipient_ids`` and ``context``; the
    subject and body are prose, which ports word their own way."""
    return {
        "topic": notification.topic,
        "recipient_ids": observe(notification.recipient_ids),
        "context": observe(notification.context),
    }


class Session:
    """A marketplace for one vector, with the names its steps have bound."""

    def __init__(
        self,
        start: datetime,
        storage: Storage,
        ids: IdGenerator,
        *,
        process_immediately: bool = True,
    ) -> None:
        self.clock = FixedClock(start)
        self._notifier = RecordingNotifier()
        self.market = vector_marketplace(
            storage, self.clock, ids, self._notifier, process_immediately=process_immediately
        )
        self.ids: dict[str, str] = {}
        """Each bound name's id."""
        self.names: dict[str, str] = {}
        """Each bound id's name."""
        self._position = 0

    def move_clock(self, at: datetime) -> None:
        """Set the clock to ``at`` (never back)."""
        try:
            self.clock.set(at)
        except MarketplaceError as error:
            raise StepError(error.message) from None

    def id_of(self, name: str) -> str:
        """The id bound to ``name``."""
        try:
            return self.ids[name]
        except KeyError:
            raise StepError(f"name ${name} is not bound by any earlier step") from None

    def bind(self, name: str, value: Json) -> None:
        """Bind ``name`` to the id ``value``."""
        if not isinstance(value, str):
            raise StepError(f"cannot bind ${name} to {value!r}: not an id")
        if self.ids.get(name, value) != value:
            raise StepError(f"name ${name} is already bound to another id")
        self.ids[name] = value
        self.names.setdefault(value, name)

    def named(self, tree: Json) -> Json:
        """``tree`` with bound ids written as their names."""
        return name_ids(tree, self.names)

    def run(
        self, command_name: str, actor: str | None, arguments: Mapping[str, Any]
    ) -> Observation:
        """Run one command as ``actor`` (an id) with ``arguments`` (JSON, names resolved)."""
        command = COMMANDS.get(command_name)
        if command is None:
            raise StepError(f"unknown command {command_name!r}")
        keywords = self._keywords(command, actor, arguments)
        result: Any = None
        error: MarketplaceError | None = None
        try:
            decoded = decode_arguments(command.declaration, keywords)
            result = getattr(self.market, command.name)(**decoded)
        except MarketplaceError as refusal:
            error = refusal
        recorded = self.market.events(self._position)
        if recorded:
            self._position = recorded[-1].position
        events = [observe_event(r.event) for r in recorded]
        notifications = [observe_notification(n) for n in self._notifier.sent]
        self._notifier.sent.clear()
        return Observation(None if error else observe(result), error, events, notifications)

    def _keywords(
        self, command: Command, actor: str | None, arguments: Mapping[str, Any]
    ) -> dict[str, Any]:
        known = {parameter.name for parameter in command.parameters}
        unknown = sorted(set(arguments) - known)
        if unknown:
            raise StepError(
                f"{command.name} has no argument {unknown[0]!r}; it takes: "
                + (", ".join(sorted(known)) or "nothing")
            )
        missing = [p.name for p in command.parameters if p.required and p.name not in arguments]
        if missing:
            raise StepError(f"{command.name} needs the argument {missing[0]!r}")
        if command.takes_actor != (actor is not None):
            needs = "needs an actor" if command.takes_actor else "takes no actor"
            raise StepError(f"{command.name} {needs}")
        keywords = dict(arguments)
        if actor is not None:
            keywords[ACTOR_PARAMETER] = actor
        return keywords

    def state_of(self, kind: str, name: str) -> str:
        """The state of the ``kind`` entity bound to ``name``, as it is now."""
        entity = getattr(self.market, STATE_QUERIES[kind])(self.id_of(name))
        return str(entity.state.value)


def value_at(observation: Observation, path: str) -> Json:
    """The value at ``path`` (``result.resource_id``, ``events.2.invoice_id``) of what a step
    did; list items are numbered from 0."""
    root, *keys = path.split(".")
    value: Json = observation.result if root == "result" else observation.events
    for key in keys:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            raise StepError(f"cannot bind {path!r}: the step's {root} has nothing at {key!r}")
    return value
