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

Two decoding paths:

- **Checked** (:func:`decoder`, :func:`loads`, :func:`loads_event`): entities are rebuilt
  through their classes, so converters and validators run as in ``__init__``, and JSON
  fields go through :func:`~marketplace_core.frozen.freeze_json`. For documents of unknown
  origin.
- **Trusted** (:func:`trusted_decoder`, :func:`loads_trusted`, :func:`loads_event_trusted`):
  for documents this codec wrote itself (:func:`dumps`, :func:`dumps_event`) of entities
  that passed their checks when they were built, read back from the adapter's own tables.
  Instances are made without calling ``__init__``: fields are set directly, converters and
  validators are skipped (every converter of a stored class returns a decoded value
  unchanged), JSON objects are frozen in place by
  :func:`~marketplace_core.frozen.freeze_trusted_json` and ``Mapping[str, X]`` fields adopt
  the parsed dict as a :class:`~marketplace_core.frozen.FrozenMap`. The result equals (``==``)
  what the checked path builds, frozen all the way down. Classes with an
  ``__attrs_post_init__`` or with fields outside ``__init__`` always take the checked path.

On both paths a field missing from a stored document takes its default (a field added by a
later version of the library; the trusted path hands such a document to the checked one);
unknown keys are ignored. Long listings are decoded with the cyclic garbage collector
paused (:func:`collector_paused`).
"""

from __future__ import annotations

import enum
import gc
import inspect
import json
import threading
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from marketplace_core.events import DomainEvent
from marketplace_core.frozen import (
    EMPTY_JSON,
    FrozenMap,
    adopt_frozen_map,
    freeze_json,
    freeze_trusted_json,
    plain_items,
)

T = TypeVar("T")
Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]

_NONE_TYPE = type(None)
_ENCODERS: dict[object, Encoder] = {}
_DECODERS: dict[object, Decoder] = {}
_TRUSTED_DECODERS: dict[object, Decoder] = {}


def _identity(value: Any) -> Any:
    return value


def _thaw(value: Any) -> Any:
    """JSON-like frozen data (``FrozenMap`` s, tuples) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {
            key: item if type(item) in _LEAVES else _thaw(item)
            for key, item in plain_items(value).items()
        }
    if isinstance(value, tuple | list):
        return [item if type(item) in _LEAVES else _thaw(item) for item in value]
    return value


_LEAVES = frozenset({str, int, float, bool, type(None)})


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


def _compile_decoder(hint: Any, trusted: bool = False) -> Decoder:
    """The decoder of ``hint`` on the checked path, or on the trusted one (see the module
    docstring); the two differ only for JSON data, mappings and ``attrs`` classes."""
    inner_decoder = trusted_decoder if trusted else decoder
    if hint is Any:
        return freeze_trusted_json if trusted else _freeze_stored
    if hint in (str, int, bool):
        return _identity
    if hint is Decimal:
        return Decimal
    if hint is datetime:
        return datetime.fromisoformat
    if hint is date:
        return date.fromisoformat
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum_decoder(hint)
    if isinstance(hint, type) and attrs.has(hint):
        return _trusted_attrs_decoder(hint) if trusted else _attrs_decoder(hint)
    union = _union_arms(hint)
    if union is not None:
        arms, _ = union
        if len(arms) == 1:
            inner = inner_decoder(arms[0])
            if inner is _identity:
                return _identity
            return lambda value: None if value is None else inner(value)
        decoders = {name: inner_decoder(cls) for name, cls in _tagged_classes(arms, hint).items()}
        return lambda value: None if value is None else decoders[value["type"]](value["value"])
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        variadic = len(args) == 2 and args[1] is Ellipsis
        items = [inner_decoder(arg) for arg in (args[:1] if variadic else args)]
        if all(item is _identity for item in items):
            return tuple
        if variadic:
            (item,) = items
            return lambda value: tuple([item(element) for element in value])
        return lambda value: tuple([dec(v) for dec, v in zip(items, value, strict=True)])
    if origin is frozenset:
        item = inner_decoder(args[0])
        return lambda value: frozenset([item(element) for element in value]) if value else _NO_ITEMS
    if origin in (Mapping, dict):
        if args[1] is Any:
            return freeze_trusted_json if trusted else _freeze_stored_mapping
        item = inner_decoder(args[1])
        if item is _identity:
            return adopt_frozen_map if trusted else FrozenMap
        return lambda value: adopt_frozen_map(
            {key: item(element) for key, element in value.items()}
        )
    raise TypeError(f"cannot read a value of type {hint!r}")


def _freeze_stored(value: Any) -> Any:
    return freeze_json(value, "stored value")


def _freeze_stored_mapping(value: Any) -> Any:
    return freeze_json(value, "stored mapping")


def trusted_decoder(hint: Any) -> Decoder:
    """What :func:`decoder` makes of ``hint``, on the trusted path (see the module
    docstring): only for data :func:`encoder` made, freshly parsed; it may take over the
    parsed dicts and lists."""
    found = _TRUSTED_DECODERS.get(hint)
    if found is None:
        found = _TRUSTED_DECODERS[hint] = _compile_decoder(hint, trusted=True)
    return found


_NO_ITEMS: frozenset[Any] = frozenset()


def _enum_decoder(hint: type[enum.Enum]) -> Decoder:
    """The member of ``hint`` with a stored value: a dictionary lookup, or the enum's own
    lookup (and its error) for a value it does not list."""
    members = hint._value2member_map_

    def decode(value: Any) -> Any:
        try:
            return members[value]
        except (KeyError, TypeError):
            return hint(value)

    return decode


_new_instance = object.__new__
_setter_of = object.__setattr__.__get__


def _trusted_field(hint: Any, value: str, index: int, namespace: dict[str, Any]) -> str:
    """The expression decoding the raw field ``value`` of type ``hint`` on the trusted path,
    with the optional and JSON-object cases written out (no call for ``None`` or ``{}``)."""
    union = _union_arms(hint)
    if union is not None and len(union[0]) == 1:
        inner = _trusted_field(union[0][0], value, index, namespace)
        return value if inner == value else f"(None if {value} is None else {inner})"
    field_decoder = trusted_decoder(hint)
    if field_decoder is _identity:
        return value
    namespace[f"decode_{index}"] = field_decoder
    if field_decoder is freeze_trusted_json and typing.get_origin(hint) in (Mapping, dict):
        namespace["EMPTY_JSON"] = EMPTY_JSON
        return f"(decode_{index}({value}) if {value} else EMPTY_JSON)"
    return f"decode_{index}({value})"


def _trusted_attrs_decoder(cls: type) -> Decoder:
    """A decoder compiled for ``cls`` that sets each field of a new instance directly (as
    ``attrs``' own ``__init__`` does for frozen classes, through the slot when the class has
    one), with neither converters nor validators; a document missing a field takes the
    checked path, which applies defaults."""
    if getattr(cls, "__attrs_post_init__", None) is not None or not all(
        field.init for field in attrs.fields(cls)
    ):
        return decoder(cls)
    namespace: dict[str, Any] = {"cls": cls, "new": _new_instance, "checked": decoder(cls)}
    fields = _fields(cls)
    if not fields:
        return _compiled("decode", "data", "new(cls)", namespace)
    slots = [inspect.getattr_static(cls, name, None) for name, _, _ in fields]
    slotted = all(isinstance(slot, types.MemberDescriptorType) for slot in slots)
    lines = []
    for index, (name, _, hint) in enumerate(fields):
        value = _trusted_field(hint, f"v{index}", index, namespace)
        if slotted:
            namespace[f"set_{index}"] = slots[index].__set__
            lines.append(f"    set_{index}(entity, {value})\n")
        else:
            lines.append(f"    set_field({name!r}, {value})\n")
    if not slotted:
        namespace["setter_of"] = _setter_of
        lines.insert(0, "    set_field = setter_of(entity)\n")
    reads = ", ".join(f"data[{name!r}]" for name, _, _ in fields)
    names = ", ".join(f"v{index}" for index in range(len(fields)))
    source = (
        "def decode(data):\n"
        "    try:\n"
        f"        {names} = {reads}\n"
        "    except KeyError:\n"
        "        return checked(data)\n"
        "    entity = new(cls)\n"
        f"{''.join(lines)}"
        "    return entity\n"
    )
    exec(source, namespace)
    decode: Decoder = namespace["decode"]
    return decode


def _fields(cls: type) -> list[tuple[str, str, Any]]:
    """``(name, init alias, type hint)`` of each field of ``cls`` set through ``__init__``."""
    hints = typing.get_type_hints(cls)
    return [
        (field.name, field.alias or field.name, hints[field.name])
        for field in attrs.fields(cls)
        if field.init
    ]


def _encoding(hint: Any, value: str, namespace: dict[str, Any]) -> str:
    """The expression encoding ``value`` (an expression) of type ``hint``, with the common
    cases written out rather than called (the code runs for every entity written)."""
    if hint in (str, int, bool):
        return value
    if hint is Decimal:
        return f"str({value})"
    if hint is datetime:
        namespace["instant"] = _instant
        return f"instant({value})"
    if hint is date:
        return f"{value}.isoformat()"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return f"{value}.value"
    union = _union_arms(hint)
    if union is not None and len(union[0]) == 1:
        name = f"v{len(namespace)}"
        namespace[name] = None
        inner = _encoding(union[0][0], name, namespace)
        return value if inner == name else f"(None if ({name} := {value}) is None else {inner})"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _encoding(args[0], "item", namespace)
        return f"list({value})" if item == "item" else f"[{item} for item in {value}]"
    if origin in (Mapping, dict) and args[1] is not Any:
        namespace["plain_items"] = plain_items
        item = _encoding(args[1], "item", namespace)
        if item == "item":
            return f"plain_items({value})"
        return f"{{key: {item} for key, item in plain_items({value}).items()}}"
    name = f"encode_{len(namespace)}"
    namespace[name] = encoder(hint)
    return f"{name}({value})"


_last_instant: list[tuple[datetime | None, str]] = [(None, "")]


def _instant(value: datetime) -> str:
    """``value.isoformat()``, remembering the last one: a command stamps the same instant
    (its ``now``) on most of what it writes, so most calls repeat the previous one."""
    last, text = _last_instant[0]
    if value is last:
        return text
    text = value.isoformat()
    _last_instant[0] = (value, text)
    return text


def _attrs_encoder(cls: type, event_type: str | None = None) -> Encoder:
    """An encoder compiled for ``cls``: one dict display, each field encoded in line (led by
    ``event_type``, when given)."""
    namespace: dict[str, Any] = {}
    items = [
        f"{name!r}: {_encoding(hint, f'value.{name}', namespace)}" for name, _, hint in _fields(cls)
    ]
    if event_type is not None:
        items.insert(0, f"'event_type': {event_type!r}")
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


def _json_encoder() -> Callable[[Any], str]:
    """Compact JSON text of JSON-able data; the C encoder is built once rather than per call
    (what :func:`json.dumps` with ``separators`` does) when this Python has it."""
    plain = json.JSONEncoder(separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return plain.encode
    try:
        chunks = make(
            None,
            plain.default,
            json.encoder.encode_basestring_ascii,
            None,
            ":",
            ",",
            False,
            False,
            True,
        )
    except TypeError:  # pragma: no cover - another signature
        return plain.encode
    join = "".join

    def encode(data: Any) -> str:
        return join(chunks(data, 0))

    return encode


_to_json = _json_encoder()
_parse: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]
"""The C scanner behind :func:`json.loads`, called directly: the value at the start of a
document, without the checks for surrounding text (trusted documents only)."""


def dumps(value: Any) -> str:
    """The JSON document of an ``attrs`` entity."""
    return _to_json(encoder(type(value))(value))


def loads(cls: type[T], document: str) -> T:
    """The ``cls`` entity :func:`dumps` made ``document`` of (checked path)."""
    entity: T = decoder(cls)(json.loads(document))
    return entity


def loads_trusted(cls: type[T], document: str) -> T:
    """The ``cls`` entity :func:`dumps` made ``document`` of, on the trusted path: only for
    documents this codec wrote (an adapter's own rows); see the module docstring."""
    entity: T = trusted_decoder(cls)(_parse(document, 0)[0])
    return entity


BULK = 5000
"""From this many documents on, :func:`loads_many_trusted` pauses the cyclic garbage
collector while it decodes."""

_pause_lock = threading.Lock()
_pauses = [0, False]  # bulk decodes running, whether the first found the collector on


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector, then resume it if it was running.

    For bulk reads: decoding allocates many small acyclic objects (rows, entities, frozen
    maps, tuples) that the collector would trace again and again as a listing grows (about
    a third of the time of 100,000 entities) without ever freeing one. Nested and
    concurrent pauses count, so the last one to end resumes the collector.
    """
    with _pause_lock:
        if _pauses[0] == 0:
            _pauses[1] = gc.isenabled()
            gc.disable()
        _pauses[0] += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses[0] -= 1
            if _pauses[0] == 0 and _pauses[1]:
                gc.enable()


def loads_many_trusted(cls: type[T], documents: Iterable[str]) -> list[T]:
    """:func:`loads_trusted` of each document, in order; ``documents`` of size
    :data:`BULK` or more are decoded with the cyclic collector paused."""
    decode, parse = trusted_decoder(cls), _parse
    if not isinstance(documents, Sized) or len(documents) < BULK:
        return [decode(parse(document, 0)[0]) for document in documents]
    with collector_paused():
        return [decode(parse(document, 0)[0]) for document in documents]


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


_EVENT_ENCODERS: dict[type, Encoder] = {}


def dumps_event(event: DomainEvent) -> str:
    """The JSON document of an event: its ``event_type``, then its fields."""
    cls = type(event)
    encode = _EVENT_ENCODERS.get(cls)
    if encode is None:
        encode = _EVENT_ENCODERS[cls] = _attrs_encoder(cls, event.event_type)
    return _to_json(encode(event))


def loads_event(document: str) -> DomainEvent:
    """The event :func:`dumps_event` made ``document`` of (checked path)."""
    data = json.loads(document)
    event: DomainEvent = decoder(_event_class(data.pop("event_type")))(data)
    return event


def loads_event_trusted(document: str) -> DomainEvent:
    """The event :func:`dumps_event` made ``document`` of, on the trusted path: only for an
    adapter's own outbox rows; see the module docstring."""
    data = _parse(document, 0)[0]
    event: DomainEvent = trusted_decoder(_event_class(data.pop("event_type")))(data)
    return event
