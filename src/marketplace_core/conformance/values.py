"""Values in vectors: how command arguments are written in JSON, and how results are observed.

Arguments are decoded by the Python type the command declares for them: dates and instants
from ISO 8601 text, enumerations from their values, ``Decimal`` amounts from text, attrs
value types (a component, a policy action) from objects of their fields, and the members of
a union of value types (an offering's visibility) from objects tagged with ``"type"``. A
value that does not decode is handed to the command unchanged, so a vector can show how the
library refuses a malformed input.

Results and events are observed as plain trees: attrs instances become dicts of their fields
(the storage's ``version`` left out), enumerations their values, collections lists. Amounts
stay ``Decimal`` and instants ``datetime`` so that comparisons are by value.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, cast

import attrs

from marketplace_core.offerings import LimitedTo, PrivateToOrganization, PrivateToProject, Shared

TAGGED_CLASSES: Mapping[str, type] = {
    "shared": Shared,
    "limited_to": LimitedTo,
    "private_to_organization": PrivateToOrganization,
    "private_to_project": PrivateToProject,
}
"""The value types written with a ``"type"`` tag, because they stand in a union."""

_TAGS: Mapping[type, str] = {cls: tag for tag, cls in TAGGED_CLASSES.items()}

OMITTED_FIELDS = frozenset({"version"})
"""Fields of stored entities that vectors never show: the storage's concern, not the domain's."""

Json = Any
"""A value as :mod:`json` reads or writes it."""


# --------------------------------------------------------------------------- encoding


def to_json(value: object) -> Json:
    """``value`` as JSON data, the way vectors write arguments: attrs value types with the
    fields that differ from their defaults (and a ``"type"`` tag when they stand in a
    union), amounts as text, dates and instants in ISO 8601."""
    return to_expectation(_tree(value, with_defaults=False))


def observe(value: object) -> Json:
    """``value`` as a tree to compare with an expectation: every field of attrs instances
    (except ``version``), enumerations as values, collections as lists and dicts; amounts,
    dates and instants kept as they are."""
    return _tree(value, with_defaults=True)


def _tree(value: object, *, with_defaults: bool) -> Json:
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, bool | int | str | Decimal | date):
        return value
    if attrs.has(type(value)):
        data: dict[str, Json] = {}
        if type(value) in _TAGS:
            data["type"] = _TAGS[type(value)]
        for field in attrs.fields(cast(Any, type(value))):
            item = getattr(value, field.name)
            if field.name in OMITTED_FIELDS or (not with_defaults and _is_default(field, item)):
                continue
            data[field.name] = _tree(item, with_defaults=with_defaults)
        return data
    if isinstance(value, Mapping):
        return {str(key): _tree(item, with_defaults=with_defaults) for key, item in value.items()}
    if isinstance(value, frozenset | set):
        return sorted((_tree(item, with_defaults=with_defaults) for item in value), key=repr)
    if isinstance(value, Iterable):
        return [_tree(item, with_defaults=with_defaults) for item in value]
    raise TypeError(f"cannot write {type(value).__name__} {value!r} in a vector")


def _is_default(field: attrs.Attribute[Any], value: object) -> bool:
    default: Any = field.default
    if default is attrs.NOTHING:
        return False
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        if default.takes_self:
            return False
        default = default.factory()
    elif field.converter is not None and callable(field.converter):
        default = field.converter(default)
    return bool(value == default)


def to_expectation(tree: Json) -> Json:
    """An observed tree written as JSON: amounts as text, dates and instants in ISO 8601."""
    if isinstance(tree, Decimal):
        return str(tree)
    if isinstance(tree, datetime | date):
        return tree.isoformat()
    if isinstance(tree, dict):
        return {key: to_expectation(item) for key, item in tree.items()}
    if isinstance(tree, list):
        return [to_expectation(item) for item in tree]
    return tree


# --------------------------------------------------------------------------- names


def resolve_names(value: Json, lookup: Callable[[str], str]) -> Json:
    """``value`` with every ``"$name"`` string (keys included) replaced by ``lookup(name)``,
    and every ``"$$..."`` by the literal ``"$..."``."""
    if isinstance(value, str):
        if value.startswith("$$"):
            return value[1:]
        if value.startswith("$"):
            return lookup(value[1:])
        return value
    if isinstance(value, dict):
        return {
            resolve_names(key, lookup): resolve_names(item, lookup) for key, item in value.items()
        }
    if isinstance(value, list):
        return [resolve_names(item, lookup) for item in value]
    return value


def name_ids(tree: Json, names: Mapping[str, str]) -> Json:
    """``tree`` with every string that is a bound id replaced by ``"$" + its name``, and
    every other string starting with ``$`` escaped as ``"$$..."``."""
    if isinstance(tree, str):
        if tree in names:
            return "$" + names[tree]
        return "$" + tree if tree.startswith("$") else tree
    if isinstance(tree, dict):
        return {name_ids(key, names): name_ids(item, names) for key, item in tree.items()}
    if isinstance(tree, list):
        return [name_ids(item, names) for item in tree]
    return tree


# --------------------------------------------------------------------------- matching


def mismatch(expected: Json, actual: Json, path: str = "") -> str | None:
    """Where ``actual`` (an observed, named tree) departs from ``expected``, or ``None``.

    Objects match when every expected key matches (extra actual keys are allowed); lists
    when they have the same length and match item by item; amounts by value; instants and
    dates by value, whatever the offset they are written with.
    """
    where = path or "the value"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {_show(actual)}"
        for key, item in expected.items():
            if key not in actual:
                return f"{where}: expected key {key!r}, which is missing"
            problem = mismatch(item, actual[key], f"{path}.{key}" if path else key)
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected a list, got {_show(actual)}"
        if len(expected) != len(actual):
            return f"{where}: expected {len(expected)} items, got {len(actual)}: {_show(actual)}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            problem = mismatch(want, got, f"{path}.{index}" if path else str(index))
            if problem:
                return problem
        return None
    if _same_scalar(expected, actual):
        return None
    return f"{where}: expected {_show(expected)}, got {_show(actual)}"


def _same_scalar(expected: Json, actual: Json) -> bool:
    if isinstance(actual, Decimal):
        if isinstance(expected, str | int) and not isinstance(expected, bool):
            try:
                return Decimal(expected) == actual
            except InvalidOperation:
                return False
        return False
    if isinstance(actual, datetime):
        if not isinstance(expected, str):
            return False
        try:
            return datetime.fromisoformat(expected) == actual
        except ValueError:
            return False
    if isinstance(actual, date):
        return isinstance(expected, str) and expected == actual.isoformat()
    return type(expected) is type(actual) and bool(expected == actual)


def _show(value: Json) -> str:
    text = repr(to_expectation(value))
    return text if len(text) <= 200 else text[:197] + "..."


# --------------------------------------------------------------------------- decoding


def decode(value: Json, kind: object) -> Any:
    """``value`` (JSON, names resolved) as the Python type ``kind``, or ``value`` unchanged
    when it does not decode (the command then refuses it with its own error)."""
    try:
        return _decode(value, kind)
    except _UndecodableError:
        return value


class _UndecodableError(Exception):
    pass


def _decode(value: Json, kind: object) -> Any:
    if kind is Any or kind is object:
        return value
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return _decode_union(value, typing.get_args(kind))
    if origin is typing.Literal:
        return value
    if origin is not None:
        return _decode_generic(value, origin, typing.get_args(kind))
    if not isinstance(kind, type):
        return value
    if issubclass(kind, enum.Enum):
        try:
            return kind(value)
        except ValueError:
            raise _UndecodableError from None
    if kind is datetime:
        return _parse(datetime.fromisoformat, value)
    if kind is date:
        return _parse(date.fromisoformat, value)
    if kind is Decimal:
        if isinstance(value, str | int) and not isinstance(value, bool):
            return _parse(Decimal, value)
        raise _UndecodableError
    if attrs.has(kind):
        return _decode_attrs(value, kind)
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise _UndecodableError
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise _UndecodableError


def _parse(parse: Callable[[str], Any], value: Json) -> Any:
    if not isinstance(value, str):
        raise _UndecodableError
    try:
        return parse(value)
    except (ValueError, InvalidOperation):
        raise _UndecodableError from None


def _decode_union(value: Json, members: tuple[object, ...]) -> Any:
    if value is None and type(None) in members:
        return None
    present = [member for member in members if member is not type(None)]
    if isinstance(value, dict) and "type" in value:
        tagged = TAGGED_CLASSES.get(value["type"])
        if tagged is not None and tagged in present:
            fields = {key: item for key, item in value.items() if key != "type"}
            return _decode_attrs(fields, tagged)
    if isinstance(value, str | bool | int) and any(member is type(value) for member in present):
        return value
    for member in present:
        try:
            return _decode(value, member)
        except _UndecodableError:
            continue
    raise _UndecodableError


def _decode_generic(value: Json, origin: object, arguments: tuple[object, ...]) -> Any:
    if origin in (Mapping, dict):
        if not isinstance(value, dict):
            raise _UndecodableError
        key_kind, item_kind = arguments or (Any, Any)
        return {_decode(key, key_kind): _decode(item, item_kind) for key, item in value.items()}
    if not isinstance(value, list):
        raise _UndecodableError
    item_kind = arguments[0] if arguments else Any
    items = [_decode(item, item_kind) for item in value]
    if origin is frozenset:
        return frozenset(items)
    if origin is list:
        return items
    return tuple(items)


def _decode_attrs(value: Json, kind: type) -> Any:
    if not isinstance(value, dict):
        raise _UndecodableError
    hints = _hints(kind)
    known = {field.name for field in attrs.fields(kind)}
    if not set(value) <= known:
        raise _UndecodableError
    return kind(**{key: _decode(item, hints.get(key, Any)) for key, item in value.items()})


@cache
def _hints(kind: object) -> dict[str, object]:
    return typing.get_type_hints(kind)


def parameter_types(function: Callable[..., Any]) -> dict[str, object]:
    """The declared type of each parameter of ``function``."""
    return _hints(function)


def decode_arguments(function: Callable[..., Any], arguments: Mapping[str, Json]) -> dict[str, Any]:
    """``arguments`` (JSON, names resolved) decoded by the parameter types of ``function``."""
    kinds = parameter_types(function)
    return {name: decode(value, kinds.get(name, Any)) for name, value in arguments.items()}
