"""Lifecycles: each entity type's state machine, declared once with ``transitions``.

The declaration is a :class:`transitions.Machine` built once per entity type, with no models
attached and ``auto_transitions=False`` (no unguarded ``to_<state>`` back doors). Entities keep
their own ``state`` field; firing an event is a lookup in the table read from that machine,
well under a microsecond, where attaching a machine to every entity would cost about 200 µs
each. The same declaration draws the diagrams in ``docs/`` and exports the tables ports read.

Guards that depend on data (an offering needs a plan to activate) are domain rules named
after what they check; the lifecycle only knows which events each state allows.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, Generic, Protocol, TypeVar

import attrs
from transitions import Machine

from marketplace_core.errors import InvalidTransitionError
from marketplace_core.frozen import replace

StateT = TypeVar("StateT", bound=enum.Enum)
EventT = TypeVar("EventT", bound=enum.StrEnum)


class Stateful(Protocol):
    """An entity with a lifecycle: an id and its own state field."""

    @property
    def id(self) -> str: ...

    @property
    def state(self) -> Any: ...


EntityT = TypeVar("EntityT", bound=Stateful)


@attrs.frozen
class Transition(Generic[StateT, EventT]):
    """``event`` moves an entity from any of ``sources`` to ``target``."""

    event: EventT
    sources: tuple[StateT, ...]
    target: StateT


class Lifecycle(Generic[StateT, EventT]):
    """The state machine of one entity type.

    ``entity`` names the type in errors and diagrams (``"offering"``). ``target`` answers
    "where does this event lead from this state", raising :class:`InvalidTransitionError`
    when the state does not allow the event.
    """

    def __init__(
        self,
        entity: str,
        states: type[StateT],
        events: type[EventT],
        initial: StateT,
        transitions: Iterable[Transition[StateT, EventT]],
    ) -> None:
        self.entity = entity
        self.states = states
        self.events = events
        self.initial = initial
        self.machine = Machine(
            model=None,
            states=list(states),
            initial=initial,
            transitions=[
                {"trigger": str(t.event), "source": list(t.sources), "dest": t.target}
                for t in transitions
            ],
            auto_transitions=False,
            ignore_invalid_triggers=False,
            name=entity,
        )
        self._targets = self._read_targets()
        self._allowed = {
            state: tuple(sorted(str(e) for (s, e) in self._targets if s is state))
            for state in states
        }

    def _read_targets(self) -> dict[tuple[StateT, EventT], StateT]:
        targets: dict[tuple[StateT, EventT], StateT] = {}
        for name, event in self.machine.events.items():
            for source_name, declared in event.transitions.items():
                (transition,) = declared  # one target per (state, event): no guards here
                if transition.dest is None:
                    raise ValueError(f"{self.entity}: internal transitions are not supported")
                targets[(self.states[source_name], self.events(name))] = self.states[
                    transition.dest
                ]
        return targets

    def target(self, state: StateT, event: EventT, entity_id: str) -> StateT:
        """The state ``event`` leads to from ``state``; raises when ``state`` forbids it."""
        try:
            return self._targets[(state, event)]
        except KeyError:
            raise InvalidTransitionError(
                self.entity, entity_id, str(event), str(state.value), self._allowed[state]
            ) from None

    def fire(self, entity: EntityT, event: EventT) -> EntityT:
        """A copy of ``entity`` in the state ``event`` leads to; raises when its state
        forbids the event."""
        return replace(entity, state=self.target(entity.state, event, entity.id))

    def allows(self, state: StateT, event: EventT) -> bool:
        """Whether ``state`` allows ``event``."""
        return (state, event) in self._targets

    def allowed_events(self, state: StateT) -> tuple[str, ...]:
        """The events ``state`` allows, sorted by name."""
        return self._allowed[state]

    def is_final(self, state: StateT) -> bool:
        """Whether no event leaves ``state``."""
        return not self._allowed[state]

    def edges(self) -> tuple[tuple[StateT, EventT, StateT], ...]:
        """Every ``(source, event, target)`` edge, in declaration order of the states."""
        order = {state: index for index, state in enumerate(self.states)}
        return tuple(
            (source, event, target)
            for (source, event), target in sorted(
                self._targets.items(), key=lambda item: (order[item[0][0]], str(item[0][1]))
            )
        )

    def to_mermaid(self) -> str:
        """The lifecycle as a Mermaid ``stateDiagram-v2``, for the docs."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial.name.lower()}"]
        lines += [
            f"    {source.name.lower()} --> {target.name.lower()}: {event}"
            for source, event, target in self.edges()
        ]
        lines += [
            f"    {state.name.lower()} --> [*]" for state in self.states if self.is_final(state)
        ]
        return "\n".join(lines) + "\n"

    def to_table(self) -> dict[str, object]:
        """The lifecycle as plain data, for ports in other languages."""
        return {
            "entity": self.entity,
            "initial": str(self.initial.value),
            "states": [str(state.value) for state in self.states],
            "transitions": [
                {"source": str(s.value), "event": str(e), "target": str(t.value)}
                for s, e, t in self.edges()
            ],
        }
