"""Entities and events to JSON documents and back, exactly, driven by their ``attrs`` fields.

One generic codec serves every aggregate and every event: it reads each class's fields and
their type hints once and compiles an encoder and a decoder for them. What each hint becomes:

- ``Decimal``: its ``str`` (``"1.50"`` stays ``"1.50"``, ``"Infinity"`` too);
- ``datetime``: ISO 8601 with its offset; ``date``: ISO 8601 (never a ``datetime``);
- enums: their ``.value``, rebuilt through the enum class;
- ``bool``, ``int``, ``str``, ``None``: JSON's own (``true`` stays apart from ``1``);
- ``tuple[...]`` and ``frozenset[...]``: JSON arrays, rebuilt as the same containers;
- ``Mapping[str, X]``: JSON objects, rebuilt as :class:`~marketplace_core.frozen.FrozenMap`
  (``Mapping[str, Any]`` through :func:`~marketplace_core.frozen.freeze_json`);
- nested ``attrs`` values: objects of their fields; a union of several ``attrs`` classes
  (offering visibility) is tagged ``{"type": class name, "value": ...}``.

Entities are rebuilt through their classes, so converters and validators run as in
``__init__``. A field missing from a stored document takes its default (a field added by a
later version of the library); unknown keys are ignored.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from marketplace_core.events import DomainEvent
from marketplace_core.frozen import FrozenMap, freeze_json

T = TypeVar("T")
Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]

_NONE_TYPE = type(None)
_ENCODERS: dict[object, Encoder] = {}
_DECODERS: dict[object, Decoder] = {}


def _identity(value: Any) -> Any:
    return value


def _thaw(value: Any) -> Any:
    """JSON-like frozen data (``FrozenMap`` s, tuples) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_thaw(item) for item in value]
    return value


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def encoder(hint: Any) -> Encoder:
    """A function turning a value of type ``hint`` into JSON-able data."""
    found = _ENCODERS.get(hint)
    if found is None:
        found = _ENCODERS[hint] = _compile_encoder(hint)
    return found


def decoder(hint: Any) -> Decoder:
    """A function turning what :func:`encoder` made of a ``hint`` value back into it."""
    found = _DECODERS.get(hint)
    if found is None:
        found = _DECODERS[hint] = _compile_decoder(hint)
    return found


def _union_arms(hint: Any) -> tuple[list[Any], bool] | None:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(hint)
        return [arg for arg in args if arg is not _NONE_TYPE], _NONE_TYPE in args
    return None


def _tagged_classes(arms: list[Any], hint: Any) -> dict[str, type]:
    if not all(isinstance(arm, type) and attrs.has(arm) for arm in arms):
        raise TypeError(f"cannot store a union of {hint!r}: only unions of attrs classes")
    return {arm.__name__: arm for arm in arms}


def _compile_encoder(hint: Any) -> Encoder:
    if hint is Any or hint in (str, int, bool):
        return _thaw if hint is Any else _identity
    if hint is Decimal:
        return str
    if hint is datetime or hint is date:
        return lambda value: value.isoformat()
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return lambda value: value.value
    if isinstance(hint, type) and attrs.has(hint):
        return _attrs_encoder(hint)
    union = _union_arms(hint)
    if union is not None:
        arms, optional = union
        if len(arms) == 1:
            inner = encoder(arms[0])
            if inner is _identity:
                return _identity
            return lambda value: None if value is None else inner(value)
        classes = _tagged_classes(arms, hint)
        encoders = {name: encoder(cls) for name, cls in classes.items()}

        def encode_tagged(value: Any) -> Any:
            if value is None and optional:
                return None
            name = type(value).__name__
            return {"type": name, "value": encoders[name](value)}

        return encode_tagged
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = encoder(args[0])
            return lambda value: [item(element) for element in value]
        items = [encoder(arg) for arg in args]
        return lambda value: [enc(v) for enc, v in zip(items, value, strict=True)]
    if origin is frozenset:
        item = encoder(args[0])
        return lambda value: sorted((item(element) for element in value), key=_sort_key)
    if origin in (Mapping, dict):
        item = encoder(args[1])
        return lambda value: {key: item(element) for key, element in value.items()}
    raise TypeError(f"cannot store a value of type {hint!r}")


def _compile_decoder(hint: Any) -> Decoder:
    if hint is Any:
        return lambda value: freeze_json(value, "stored value")
    if hint in (str, int, bool):
        return _identity
    if hint is Decimal:
        return Decimal
    if hint is datetime:
        return datetime.fromisoformat
    if hint is date:
        return date.fromisoformat
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    if isinstance(hint, type) and attrs.has(hint):
        return _attrs_decoder(hint)
    union = _union_arms(hint)
    if union is not None:
        arms, _ = union
        if len(arms) == 1:
            inner = decoder(arms[0])
            if inner is _identity:
                return _identity
            return lambda value: None if value is None else inner(value)
        decoders = {name: decoder(cls) for name, cls in _tagged_classes(arms, hint).items()}
        return lambda value: None if value is None else decoders[value["type"]](value["value"])
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = decoder(args[0])
            return lambda value: tuple(item(element) for element in value)
        items = [decoder(arg) for arg in args]
        return lambda value: tuple(dec(v) for dec, v in zip(items, value, strict=True))
    if origin is frozenset:
        item = decoder(args[0])
        return lambda value: frozenset(item(element) for element in value)
    if origin in (Mapping, dict):
        if args[1] is Any:
            return lambda value: freeze_json(value, "stored mapping")
        item = decoder(args[1])
        return lambda value: FrozenMap({key: item(element) for key, element in value.items()})
    raise TypeError(f"cannot read a value of type {hint!r}")


def _fields(cls: type) -> list[tuple[str, str, Any]]:
    """``(name, init alias, type hint)`` of each field of ``cls`` set through ``__init__``."""
    hints = typing.get_type_hints(cls)
    return [
        (field.name, field.alias or field.name, hints[field.name])
        for field in attrs.fields(cls)
        if field.init
    ]


def _attrs_encoder(cls: type) -> Encoder:
    """An encoder compiled for ``cls``: one dict display, fields that JSON holds as they
    are read directly (the code runs for every entity written)."""
    namespace: dict[str, Any] = {}
    items = []
    for index, (name, _, hint) in enumerate(_fields(cls)):
        field_encoder = encoder(hint)
        if field_encoder is _identity:
            items.append(f"{name!r}: value.{name}")
        else:
            namespace[f"encode_{index}"] = field_encoder
            items.append(f"{name!r}: encode_{index}(value.{name})")
    return _compiled("encode", "value", f"{{{', '.join(items)}}}", namespace)


def _attrs_decoder(cls: type) -> Decoder:
    """A decoder compiled for ``cls``: one constructor call over the document's keys; a
    document missing a field (written before the field existed) takes the slow path, which
    lets the field's default apply."""
    fields = [(name, alias, decoder(hint)) for name, alias, hint in _fields(cls)]
    namespace: dict[str, Any] = {"cls": cls}
    arguments = []
    for index, (name, alias, field_decoder) in enumerate(fields):
        if field_decoder is _identity:
            arguments.append(f"{alias}=data[{name!r}]")
        else:
            namespace[f"decode_{index}"] = field_decoder
            arguments.append(f"{alias}=decode_{index}(data[{name!r}])")
    fast = _compiled("decode", "data", f"cls({', '.join(arguments)})", namespace)

    def decode(data: Mapping[str, Any]) -> Any:
        try:
            return fast(data)
        except KeyError:
            if all(name in data for name, _, _ in fields):
                raise
        return cls(**{alias: dec(data[name]) for name, alias, dec in fields if name in data})

    return decode


def _compiled(
    name: str, argument: str, expression: str, namespace: dict[str, Any]
) -> Callable[[Any], Any]:
    exec(f"def {name}({argument}):\n    return {expression}\n", namespace)
    function: Callable[[Any], Any] = namespace[name]
    return function


def dumps(value: Any) -> str:
    """The JSON document of an ``attrs`` entity."""
    return json.dumps(encoder(type(value))(value), separators=(",", ":"))


def loads(cls: type[T], document: str) -> T:
    """The ``cls`` entity :func:`dumps` made ``document`` of."""
    entity: T = decoder(cls)(json.loads(document))
    return entity


_EVENT_CLASSES: dict[str, type[DomainEvent]] = {}


def _event_class(event_type: str) -> type[DomainEvent]:
    """The event class named ``event_type`` (every subclass of ``DomainEvent`` loaded)."""
    cls = _EVENT_CLASSES.get(event_type)
    if cls is None:
        pending: list[type[DomainEvent]] = [DomainEvent]
        while pending:
            klass = pending.pop()
            _EVENT_CLASSES.setdefault(klass.__name__, klass)
            pending.extend(klass.__subclasses__())
        cls = _EVENT_CLASSES.get(event_type)
        if cls is None:
            raise LookupError(f"no event class named {event_type!r} is loaded")
    return cls


def dumps_event(event: DomainEvent) -> str:
    """The JSON document of an event: its fields and its ``event_type``."""
    data = encoder(type(event))(event)
    return json.dumps({"event_type": event.event_type, **data}, separators=(",", ":"))


def loads_event(document: str) -> DomainEvent:
    """The event :func:`dumps_event` made ``document`` of."""
    data = json.loads(document)
    event: DomainEvent = decoder(_event_class(data.pop("event_type")))(data)
    return event
