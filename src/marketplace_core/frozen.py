"""Immutable, hashable containers for the fields of entities and events.

Entities are frozen snapshots, and a snapshot holding a plain ``dict`` could still be changed
behind the repository's back. :class:`FrozenMap` is a read-only mapping that compares equal to
any mapping with the same items and hashes like a frozenset of them; :func:`freeze_json`
turns JSON-like data (dicts, lists, scalars) into frozen maps and tuples all the way down.

:func:`adopt_frozen_map` and :func:`freeze_trusted_json` are the unchecked counterparts for
data the library produced itself (a storage adapter's own JSON documents, parsed afresh):
they take ownership of the dicts and lists they are given instead of copying them, and check
neither keys nor leaves. Everything else goes through the checked functions.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import attrs

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.inputs import check_encodable

KeyT = TypeVar("KeyT")
ValueT = TypeVar("ValueT")


class FrozenMap(Mapping[KeyT, ValueT]):
    """A read-only mapping that can be hashed (when its values can)."""

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[KeyT, ValueT] | None = None) -> None:
        self._items: dict[KeyT, ValueT] = dict(items or {})
        self._hash: int | None = None

    def __getitem__(self, key: KeyT) -> ValueT:
        return self._items[key]

    def __iter__(self) -> Iterator[KeyT]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._items == other._items
        return self._items == other if isinstance(other, dict) else super().__eq__(other)


class _FrozenJson(FrozenMap[str, Any]):
    """A :class:`FrozenMap` built by :func:`freeze_json`: frozen all the way down."""

    __slots__ = ()


EMPTY_JSON: Mapping[str, Any] = _FrozenJson()
"""The empty JSON object, frozen: a shared default for JSON fields."""


_new_map = object.__new__


def adopt_frozen_map(items: dict[KeyT, ValueT]) -> FrozenMap[KeyT, ValueT]:
    """A :class:`FrozenMap` over ``items`` itself, not a copy: the caller hands ``items``
    over and must hold no other reference to it (a dict it just built)."""
    frozen: FrozenMap[KeyT, ValueT] = _new_map(FrozenMap)
    frozen._items = items
    frozen._hash = None
    return frozen


def frozen_mapping(value: Mapping[str, Any]) -> FrozenMap[str, Any]:
    """A :class:`FrozenMap` copy of ``value`` (itself when it already is one)."""
    return value if isinstance(value, FrozenMap) else FrozenMap(value)


_SCALARS = (str, int, float, bool, type(None))


_FROZEN = (*_SCALARS, _FrozenJson)


def freeze_json(value: Any, field: str) -> Any:
    """JSON-like ``value`` with every dict made a :class:`FrozenMap` and every list a tuple.

    Keys must be strings and leaves JSON scalars; strings must be encodable as UTF-8;
    anything else is refused, naming the path.
    """
    if isinstance(value, str):
        check_encodable(value, field)
        return value
    if isinstance(value, _FROZEN):
        return value
    if isinstance(value, dict | Mapping):
        frozen = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(
                    ErrorCode.INVALID_VALUE,
                    f"{field} keys must be strings, got {key!r}",
                    field=field,
                    value=repr(key),
                )
            check_encodable(key, field)
            frozen[key] = freeze_json(item, f"{field}[{key!r}]")
        return _FrozenJson(frozen)
    if isinstance(value, list | tuple):
        return tuple(freeze_json(item, f"{field}[{index}]") for index, item in enumerate(value))
    raise ValidationError(
        ErrorCode.INVALID_VALUE,
        f"{field} must hold only JSON data (strings, numbers, booleans, null, lists, objects), "
        f"got {type(value).__name__} {value!r}",
        field=field,
        value=repr(value),
    )


def freeze_trusted_json(value: Any) -> Any:
    """What :func:`freeze_json` makes of ``value``, without its checks and without copying.

    Only for JSON the library wrote itself and has just parsed (``json.loads`` output:
    dicts with string keys, lists, scalars, texts UTF-8 can carry): its dicts are frozen in
    place and handed over to the frozen maps, so the caller must hold no other reference
    to them. Anything from outside goes through :func:`freeze_json`.
    """
    kind = type(value)
    if kind is dict:
        if not value:
            return EMPTY_JSON
        for key, item in value.items():
            if type(item) is dict or type(item) is list:
                value[key] = freeze_trusted_json(item)
        frozen: _FrozenJson = _new_map(_FrozenJson)
        frozen._items = value
        frozen._hash = None
        return frozen
    if kind is list:
        return tuple(
            [
                freeze_trusted_json(item) if type(item) is dict or type(item) is list else item
                for item in value
            ]
        )
    return value


def plain_items(value: Mapping[KeyT, ValueT]) -> Mapping[KeyT, ValueT]:
    """The items of ``value`` as a ``dict``, for reading only (a serializer's input): a
    :class:`FrozenMap`'s own dict, not a copy, so the caller must not change it."""
    return value._items if isinstance(value, FrozenMap) else dict(value)


def thaw_json(value: Any) -> Any:
    """The plain ``dict``/``list`` form of data frozen by :func:`freeze_json`."""
    if isinstance(value, Mapping):
        return {key: thaw_json(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw_json(item) for item in value]
    return value


_T = TypeVar("_T")
_REPLACERS: dict[tuple[type, tuple[str, ...]], Callable[[Any, dict[str, Any]], Any]] = {}


def _compile_replacer(cls: type, changed: tuple[str, ...]) -> Callable[[Any, dict[str, Any]], Any]:
    fields = attrs.fields(cls)
    unknown = set(changed) - {field.name for field in fields}
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {sorted(unknown)[0]!r}")
    direct = _direct_replacer(cls, changed)
    if direct is not None:
        return direct
    arguments = ", ".join(
        f"{field.alias}=changes[{field.name!r}]"
        if field.name in changed
        else f"{field.alias}=instance.{field.name}"
        for field in fields
    )
    namespace: dict[str, Any] = {"cls": cls}
    exec(f"def replacer(instance, changes):\n    return cls({arguments})\n", namespace)
    replacer: Callable[[Any, dict[str, Any]], Any] = namespace["replacer"]
    return replacer


def _direct_replacer(
    cls: type, changed: tuple[str, ...]
) -> Callable[[Any, dict[str, Any]], Any] | None:
    """A replacer that fills the slots of a new instance itself: the changed fields through
    their converters, the others copied as they are (they went through theirs when the
    instance was built). Only for slotted classes whose ``__init__`` does nothing more:
    no validators, no hooks, only plain converters; ``None`` for any other class."""
    fields = attrs.fields(cls)
    hooks = ("__attrs_pre_init__", "__attrs_post_init__")
    if any(getattr(cls, hook, None) is not None for hook in hooks):
        return None
    slots = [inspect.getattr_static(cls, field.name, None) for field in fields]
    if not all(isinstance(slot, types.MemberDescriptorType) for slot in slots):
        return None
    namespace: dict[str, Any] = {"cls": cls, "new": object.__new__}
    lines = []
    for index, (field, slot) in enumerate(zip(fields, slots, strict=True)):
        converter = field.converter
        if field.validator is not None or not field.init or isinstance(converter, attrs.Converter):
            return None
        namespace[f"set_{index}"] = slot.__set__
        if field.name not in changed:
            value = f"instance.{field.name}"
        elif converter is None:
            value = f"changes[{field.name!r}]"
        else:
            namespace[f"convert_{index}"] = converter
            value = f"convert_{index}(changes[{field.name!r}])"
        lines.append(f"    set_{index}(copy, {value})\n")
    source = (
        "def replacer(instance, changes):\n    copy = new(cls)\n"
        + "".join(lines)
        + "    return copy\n"
    )
    exec(source, namespace)
    replacer: Callable[[Any, dict[str, Any]], Any] = namespace["replacer"]
    return replacer


def replace(instance: _T, **changes: Any) -> _T:
    """A copy of the attrs instance with ``changes``: what :func:`attrs.evolve` does, several
    times as fast (the copy is compiled once per class and set of changed fields).

    The changed fields go through their converters and validators as in ``__init__``. For
    slotted classes without validators or ``__attrs_*_init__`` hooks, the unchanged fields
    are copied as they are, without running their converters again: they were converted
    when ``instance`` was built, and a converter must give back a value it made unchanged
    (every converter in this library does)."""
    key = (type(instance), tuple(changes))
    replacer = _REPLACERS.get(key)
    if replacer is None:
        replacer = _REPLACERS[key] = _compile_replacer(*key)
    copy: _T = replacer(instance, changes)
    return copy
