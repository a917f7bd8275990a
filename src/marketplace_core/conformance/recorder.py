"""The recorder: write a vector by playing a scenario on the reference.

A scenario is a few lines of calls, each naming a command, its actor and its arguments;
the recorder runs each on the in-memory reference and writes down what it did: the result
(or the refusal), the events, and the states that changed. Ids are named as they appear
(``$order-1``, or a name the scenario chooses), so a scenario refers to earlier results by
the names the calls return::

    recorder = Recorder("orders/cancel-pending", "A pending order can be canceled.", start=T0)
    staff = recorder.setup("bootstrap_staff_user", as_="staff", username="staff")
    ...
    order = recorder.step("order_resource", actor="$alice", project_id=project["id"], ...)
    recorder.step("cancel_order", actor="$alice", order_id=order["id"])
    recorder.write(Path("vectors"))

The written vector is checked by running it (with other ids) before it is saved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from marketplace_core.adapters.memory import InMemoryStorage
from marketplace_core.conformance.format import FORMAT, STATE_KINDS, parse_vector
from marketplace_core.conformance.runner import VECTOR_SUFFIX, run_vector
from marketplace_core.conformance.session import Observation, Session, value_at
from marketplace_core.conformance.values import (
    Json,
    observe,
    resolve_names,
    to_expectation,
    to_json,
)
from marketplace_core.errors import ErrorCode, MarketplaceError, ValidationError
from marketplace_core.ids import SequentialIdGenerator

PLAIN_VALUE = re.compile(r"\$?[A-Za-z0-9_.:/@%+\-]*")
"""Error field values a vector keeps: names, identifiers, codes, states, numbers. Prose and
values echoed in Python's notation are left out, since ports word them differently."""


class _RecordingIds:
    """Sequential ids, remembering each one's kind."""

    def __init__(self) -> None:
        self._sequence = SequentialIdGenerator()
        self.kinds: dict[str, str] = {}

    def new_id(self, kind: str) -> str:
        issued = self._sequence.new_id(kind)
        self.kinds[issued] = kind
        return issued


class Recorder:
    """Records a vector named ``name`` (a path below the vector directory, without the
    suffix: ``"orders/cancel-pending"``) from the calls made on it, starting at ``start``;
    ``process_immediately=False`` leaves executing orders to ``process_executing_orders``."""

    def __init__(
        self, name: str, description: str, *, start: datetime, process_immediately: bool = True
    ) -> None:
        self.name = name
        self.description = description
        self.start = start
        self.process_immediately = process_immediately
        self._ids = _RecordingIds()
        self._session = Session(
            start, InMemoryStorage(), self._ids, process_immediately=process_immediately
        )
        self._setup: list[dict[str, Json]] = []
        self._steps: list[dict[str, Json]] = []
        self._states: dict[tuple[str, str], str] = {}

    def setup(
        self,
        command: str,
        /,
        *,
        actor: str | None = None,
        at: datetime | None = None,
        as_: str | Mapping[str, str] | None = None,
        **arguments: Any,
    ) -> Json:
        """Run a setup step, which must succeed; returns its result with ids as names.
        ``as_`` names the result's ``id``, or (a mapping) the ids at paths in the result:
        ``{"id": "order", "resource_id": "vm"}``. Ids not named so are named by their
        value in the reference (``order-1``)."""
        if self._steps:
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"setup step {command!r} comes after a checked step; a vector runs every "
                "setup step first, so record it with step()",
                field="setup",
                value=command,
            )
        entry, observation = self._record(command, actor, at, as_, arguments)
        if observation.error is not None:
            raise observation.error
        self._setup.append(entry)
        self._changed_states()
        return self._session.named(to_expectation(observation.result))

    def step(
        self,
        command: str,
        /,
        *,
        actor: str | None = None,
        at: datetime | None = None,
        as_: str | Mapping[str, str] | None = None,
        **arguments: Any,
    ) -> Json:
        """Run a step and write down what it did; returns its result with ids as names
        (``None`` when it was refused)."""
        entry, observation = self._record(command, actor, at, as_, arguments)
        expect: dict[str, Json] = {}
        named = self._session.named
        if observation.error is not None:
            expect["error"] = _expected_error(observation.error, named)
        else:
            expect["result"] = to_expectation(named(observation.result))
            expect["events"] = to_expectation(named(observation.events))
            expect["notifications"] = to_expectation(named(observation.notifications))
        states = self._changed_states()
        if states:
            expect["states"] = states
        entry["expect"] = expect
        self._steps.append(entry)
        return None if observation.error else to_expectation(named(observation.result))

    def _record(
        self,
        command: str,
        actor: str | None,
        at: datetime | None,
        as_: str | Mapping[str, str] | None,
        arguments: Mapping[str, Any],
    ) -> tuple[dict[str, Json], Observation]:
        session = self._session
        entry: dict[str, Json] = {"command": command}
        if actor is not None:
            entry["actor"] = actor
        if at is not None:
            session.move_clock(at)
            entry["at"] = at.isoformat()
        written = to_json(dict(arguments))
        entry["args"] = written
        resolved = resolve_names(written, session.id_of)
        actor_id = None if actor is None else resolve_names(actor, session.id_of)
        observation = session.run(command, actor_id, resolved)
        if observation.error is None:
            bind = self._bind(observation, as_, set(_strings(resolved)))
            if bind:
                entry["bind"] = bind
        return entry, observation

    def _bind(
        self, observation: Observation, as_: str | Mapping[str, str] | None, given: set[str]
    ) -> dict[str, str]:
        """Name every new id the step produced: as ``as_`` says (a name for the result's
        ``id``, or names by path in the result), and each other new id by its reference
        value."""
        session = self._session
        bind: dict[str, str] = {}
        chosen = {"id": as_} if isinstance(as_, str) else dict(as_ or {})
        for path, name in chosen.items():
            session.bind(name, value_at(observation, f"result.{path}"))
            bind[name] = f"result.{path}"
        roots = (("result", observation.result), ("events", observation.events))
        for root, tree in roots:
            for path, value in _ids_in(tree, root):
                if value not in session.names and value not in given:
                    session.bind(value, value)
                    bind[value] = path
        return bind

    def _changed_states(self) -> dict[str, dict[str, str]]:
        """The states of named entities that changed since the last step, by kind."""
        session = self._session
        changed: dict[str, dict[str, str]] = {}
        for name, entity_id in session.ids.items():
            kind = self._ids.kinds.get(entity_id) or entity_id.split(":", 1)[0]
            if kind not in STATE_KINDS:
                continue
            state = session.state_of(kind, name)
            if self._states.get((kind, name)) != state:
                self._states[(kind, name)] = state
                changed.setdefault(kind, {})[name] = state
        return changed

    def vector(self) -> dict[str, Json]:
        """The vector recorded so far, as JSON data."""
        data: dict[str, Json] = {
            "format": FORMAT,
            "name": self.name,
            "description": self.description,
            "start": self.start.isoformat(),
        }
        if not self.process_immediately:
            data["process_immediately"] = False
        return data | {"setup": self._setup, "steps": self._steps}

    def write(self, directory: Path) -> Path:
        """Check the vector by running it, then write it under ``directory``; returns the
        file's path. Raises when the recorded vector does not pass (it depends on something
        a vector cannot carry, such as the order of ids)."""
        data = self.vector()
        outcome = run_vector(parse_vector(json.loads(json.dumps(data))))
        if not outcome.passed:
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"vector {self.name!r} does not pass when replayed: {outcome.failure}",
                field="vector",
                value=self.name,
            )
        path = directory / f"{self.name}{VECTOR_SUFFIX}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_vector(data), encoding="utf-8")
        return path


def dump_vector(data: Mapping[str, Json]) -> str:
    """A vector as the text of its file."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _expected_error(error: MarketplaceError, named: Any) -> dict[str, Json]:
    fields = {
        key: value
        for key, value in to_expectation(named(observe(error.fields))).items()
        if key != "value" and _plain(value)
    }
    expected: dict[str, Json] = {"code": str(error.code)}
    if fields:
        expected["fields"] = fields
    return expected


def _plain(value: Json) -> bool:
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, bool | int) or value is None:
        return True
    return isinstance(value, str) and PLAIN_VALUE.fullmatch(value) is not None


def _ids_in(tree: Json, path: str, key: str = "") -> Iterator[tuple[str, str]]:
    """``(path, value)`` for every non-empty string in ``tree`` under a key ``id`` or
    ``..._id``, or in a list under a key ``..._ids``."""
    if isinstance(tree, dict):
        for child_key, item in tree.items():
            yield from _ids_in(item, f"{path}.{child_key}", child_key)
    elif isinstance(tree, list):
        for index, item in enumerate(tree):
            yield from _ids_in(item, f"{path}.{index}", key if key.endswith("_ids") else "")
    elif isinstance(tree, str) and tree and (key == "id" or key.endswith(("_id", "_ids"))):
        yield path, tree


def _strings(tree: Json) -> Iterator[str]:
    if isinstance(tree, str):
        yield tree
    elif isinstance(tree, dict):
        for item in tree.values():
            yield from _strings(item)
    elif isinstance(tree, list):
        for item in tree:
            yield from _strings(item)
