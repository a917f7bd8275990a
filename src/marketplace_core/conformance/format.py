"""The vector format (``docs/vectors.md``; JSON Schema in ``vector.schema.json``): reading a
vector file into :class:`Vector`, with a clear error for every malformed part.

A vector is a scenario: a start time, setup steps that must succeed, then steps, each with
the outcome expected of it. Names (``"$alice"``) stand for the ids the marketplace hands out,
bound from results as the scenario goes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from marketplace_core.errors import ErrorCode, ValidationError

FORMAT = "marketplace-core-vector/1"
"""The ``format`` every vector of this version declares."""

STATE_QUERIES: Mapping[str, str] = {
    "order": "get_order",
    "resource": "get_resource",
    "offering": "get_offering",
    "invoice": "get_invoice",
}
"""The kinds of entity whose ``state`` a step's ``expect.states`` may check, and the query
that reads each."""

STATE_KINDS = tuple(STATE_QUERIES)

BIND_PATH = re.compile(r"(result|events)(\.[^.]+)*")
"""A binding path: from the step's result or the events it committed, then keys and list
positions separated by dots (the schema's pattern)."""

ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")
"""How vectors write instants: ISO 8601 with an offset (the schema's pattern)."""

Json = Any


class VectorFormatError(ValidationError):
    """A vector file that does not follow the format; ``fields`` names the place
    (``file``, ``where``)."""

    def __init__(self, where: str, problem: str, *, file: str = "") -> None:
        located = f"{file}: {where}" if file else where
        super().__init__(ErrorCode.INVALID_VALUE, f"{located}: {problem}", file=file, where=where)
        self.where = where
        self.problem = problem

    def in_file(self, file: str) -> VectorFormatError:
        """The same error, naming the file it was found in."""
        return VectorFormatError(self.where, self.problem, file=file)


@attrs.frozen
class ExpectedError:
    """The refusal a step expects: its code, and some of its fields."""

    code: str
    fields: Mapping[str, Json] = attrs.field(factory=dict)


@attrs.frozen
class Expectation:
    """What a step expects. ``None`` means "not checked"; ``result`` and ``error`` exclude
    each other, and a step with neither only needs to succeed."""

    result: Json = None
    has_result: bool = False
    error: ExpectedError | None = None
    events: tuple[Json, ...] | None = None
    notifications: tuple[Json, ...] | None = None
    states: Mapping[str, Mapping[str, str]] | None = None


@attrs.frozen
class Step:
    """One command: its name, the acting user (a name, or ``None``), the clock's time when
    it runs (``None``: unchanged), its arguments, the names it binds (name to path), and its
    expected outcome."""

    command: str
    actor: str | None
    at: datetime | None
    args: Mapping[str, Json]
    bind: Mapping[str, str]
    expect: Expectation


@attrs.frozen
class Vector:
    """A scenario: its name and purpose, when the clock starts, the setup, the steps, and
    whether commands hand executing orders to their processors (``False``: the orders wait
    for ``process_executing_orders``, as with a host running workers)."""

    name: str
    description: str
    start: datetime
    setup: tuple[Step, ...]
    steps: tuple[Step, ...]
    process_immediately: bool = True


def load_vector(path: Path) -> Vector:
    """The vector in the file at ``path``; raises :class:`VectorFormatError` naming the file
    and the place when it is not valid JSON or does not follow the format."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise VectorFormatError(
            "the file", f"cannot be read as JSON ({error})", file=str(path)
        ) from None
    try:
        return parse_vector(data)
    except VectorFormatError as error:
        raise error.in_file(str(path)) from None


def parse_vector(data: Json) -> Vector:
    """``data`` (a parsed vector file) as a :class:`Vector`."""
    top = _object(data, "the vector")
    _keys(
        top,
        "the vector",
        {"format", "name", "description", "start", "process_immediately", "setup", "steps"},
    )
    if top.get("format") != FORMAT:
        raise VectorFormatError("format", f"must be {FORMAT!r}, got {top.get('format')!r}")
    process_immediately = top.get("process_immediately", True)
    if not isinstance(process_immediately, bool):
        raise VectorFormatError(
            "process_immediately", f"must be true or false, got {_kind(process_immediately)}"
        )
    return Vector(
        name=_text(top.get("name"), "name"),
        description=_text(top.get("description", ""), "description", blank=True),
        start=_instant(top.get("start"), "start"),
        setup=_steps(top.get("setup", []), "setup"),
        steps=_steps(top.get("steps"), "steps"),
        process_immediately=process_immediately,
    )


def _steps(data: Json, where: str) -> tuple[Step, ...]:
    if not isinstance(data, list):
        raise VectorFormatError(where, f"must be a list of steps, got {_kind(data)}")
    return tuple(_step(item, f"{where}[{index}]") for index, item in enumerate(data))


def _step(data: Json, where: str) -> Step:
    step = _object(data, where)
    _keys(step, where, {"command", "actor", "at", "args", "bind", "expect"})
    actor = step.get("actor")
    if actor is not None:
        actor = _text(actor, f"{where}.actor")
    at = step.get("at")
    bind = _object(step.get("bind", {}), f"{where}.bind")
    for name, path in bind.items():
        _text(name, f"{where}.bind")
        _text(path, f"{where}.bind.{name}")
        if not BIND_PATH.fullmatch(path):
            raise VectorFormatError(
                f"{where}.bind.{name}",
                f"path {path!r} must start with 'result' or 'events', then name keys or "
                "positions separated by single dots",
            )
    return Step(
        command=_text(step.get("command"), f"{where}.command"),
        actor=actor,
        at=None if at is None else _instant(at, f"{where}.at"),
        args=_object(step.get("args", {}), f"{where}.args"),
        bind=bind,
        expect=_expectation(step.get("expect", {}), f"{where}.expect"),
    )


def _expectation(data: Json, where: str) -> Expectation:
    expect = _object(data, where)
    _keys(expect, where, {"result", "error", "events", "notifications", "states"})
    if "result" in expect and "error" in expect:
        raise VectorFormatError(where, "cannot expect both a result and an error")
    error = None
    if "error" in expect:
        error_data = _object(expect["error"], f"{where}.error")
        _keys(error_data, f"{where}.error", {"code", "fields"})
        error = ExpectedError(
            _text(error_data.get("code"), f"{where}.error.code"),
            _object(error_data.get("fields", {}), f"{where}.error.fields"),
        )
    events = _messages(expect, "events", "type", where)
    notifications = _messages(expect, "notifications", "topic", where)
    states = None
    if "states" in expect:
        states = _states(expect["states"], f"{where}.states")
    return Expectation(
        result=expect.get("result"),
        has_result="result" in expect,
        error=error,
        events=events,
        notifications=notifications,
        states=states,
    )


def _messages(expect: dict[str, Json], key: str, kind: str, where: str) -> tuple[Json, ...] | None:
    """The expected events or notifications: a list of objects, each with its ``kind``."""
    if key not in expect:
        return None
    listed = expect[key]
    if not isinstance(listed, list):
        raise VectorFormatError(f"{where}.{key}", f"must be a list, got {_kind(listed)}")
    for index, item in enumerate(listed):
        message = _object(item, f"{where}.{key}[{index}]")
        _text(message.get(kind), f"{where}.{key}[{index}].{kind}")
    return tuple(listed)


def _states(data: Json, where: str) -> Mapping[str, Mapping[str, str]]:
    kinds = _object(data, where)
    _keys(kinds, where, set(STATE_KINDS))
    states: dict[str, dict[str, str]] = {}
    for kind, named in kinds.items():
        entries = _object(named, f"{where}.{kind}")
        states[kind] = {
            _text(name, f"{where}.{kind}"): _text(state, f"{where}.{kind}.{name}")
            for name, state in entries.items()
        }
    return states


def _object(data: Json, where: str) -> dict[str, Json]:
    if not isinstance(data, dict):
        raise VectorFormatError(where, f"must be an object, got {_kind(data)}")
    return data


def _keys(data: dict[str, Json], where: str, allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise VectorFormatError(
            where, f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
        )


def _text(data: Json, where: str, *, blank: bool = False) -> str:
    if not isinstance(data, str) or (not blank and not data.strip()):
        raise VectorFormatError(where, f"must be a non-blank string, got {_kind(data)}")
    return data


def _instant(data: Json, where: str) -> datetime:
    text = _text(data, where)
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise VectorFormatError(where, f"must be an ISO 8601 instant with an offset, got {text!r}")
    return instant


def _kind(data: Json) -> str:
    if data is None:
        return "nothing"
    return f"{type(data).__name__} {data!r}"[:80]
