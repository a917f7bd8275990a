"""The commands a vector step may name: every command and query of the facade, the system's
jobs (billing, due jobs, processing executing orders), and the usage pull.

Each is described by its parameters as the facade declares them, so the runner can check a
step's arguments before it calls anything, and a port can read the list as data.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from marketplace_core.marketplace import Marketplace, command_handlers

FACADE_METHODS = ("run_billing", "run_due_jobs", "process_executing_orders", "pull_usage")
"""The facade's methods beyond its commands: the system's jobs, and pulling usage from a
backend (which a vector can only see refused, since vector plugins report no usage)."""

ACTOR_PARAMETER = "actor_id"
"""The parameter that a step's ``actor`` fills."""


@attrs.frozen
class Parameter:
    """One parameter of a command: its name, its declared type (as written in the
    library), and whether a step must give it."""

    name: str
    type: str
    required: bool


@attrs.frozen
class Command:
    """A command a vector may run: its name, what declares its types (the service handler,
    or the facade method), and its parameters (the actor's not included)."""

    name: str
    declaration: Callable[..., Any]
    parameters: tuple[Parameter, ...]
    takes_actor: bool

    def to_table(self) -> dict[str, object]:
        """The command as plain data, for ports."""
        return {
            "name": self.name,
            "actor": self.takes_actor,
            "parameters": [attrs.asdict(parameter) for parameter in self.parameters],
        }


def _command(name: str, declaration: Callable[..., Any], skip: int) -> Command:
    listed = list(inspect.signature(declaration).parameters.values())[skip:]
    takes_actor = bool(listed) and listed[0].name == ACTOR_PARAMETER
    return Command(
        name,
        declaration,
        tuple(
            Parameter(p.name, str(p.annotation), p.default is inspect.Parameter.empty)
            for p in listed[1 if takes_actor else 0 :]
        ),
        takes_actor,
    )


def _commands() -> dict[str, Command]:
    found: dict[str, Command] = {}
    for name, handler in command_handlers().items():
        found[name] = _command(name, handler, skip=1)  # the handler's context
    for name in FACADE_METHODS:
        found[name] = _command(name, getattr(Marketplace, name), skip=1)  # self
    return dict(sorted(found.items()))


COMMANDS: Mapping[str, Command] = _commands()
"""Every command a vector step may name, by name."""


def command_table() -> list[dict[str, object]]:
    """Every command as plain data (name, whether it takes an actor, parameters)."""
    return [command.to_table() for command in COMMANDS.values()]
