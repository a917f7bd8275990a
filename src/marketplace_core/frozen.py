"""Immutable, hashable containers for the fields of entities and events.

Entities are frozen snapshots, and a snapshot holding a plain ``dict`` could still be changed
behind the repository's back. :class:`FrozenMap` is a read-only mapping that compares equal to
any mapping with the same items and hashes like a frozenset of them; :func:`freeze_json`
turns JSON-like data (dicts, lists, scalars) into frozen maps and tuples all the way down.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from marketplace_core.errors import ErrorCode, ValidationError

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


def frozen_mapping(value: Mapping[str, Any]) -> FrozenMap[str, Any]:
    """A :class:`FrozenMap` copy of ``value`` (itself when it already is one)."""
    return value if isinstance(value, FrozenMap) else FrozenMap(value)


_SCALARS = (str, int, float, bool, type(None))


def freeze_json(value: Any, field: str) -> Any:
    """JSON-like ``value`` with every dict made a :class:`FrozenMap` and every list a tuple.

    Keys must be strings and leaves JSON scalars; anything else is refused, naming the path.
    """
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Mapping):
        frozen = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(
                    ErrorCode.INVALID_VALUE,
                    f"{field} keys must be strings, got {key!r}",
                    field=field,
                    value=repr(key),
                )
            frozen[key] = freeze_json(item, f"{field}[{key!r}]")
        return FrozenMap(frozen)
    if isinstance(value, list | tuple):
        return tuple(freeze_json(item, f"{field}[{index}]") for index, item in enumerate(value))
    raise ValidationError(
        ErrorCode.INVALID_VALUE,
        f"{field} must hold only JSON data (strings, numbers, booleans, null, lists, objects), "
        f"got {type(value).__name__} {value!r}",
        field=field,
        value=repr(value),
    )


def thaw_json(value: Any) -> Any:
    """The plain ``dict``/``list`` form of data frozen by :func:`freeze_json`."""
    if isinstance(value, Mapping):
        return {key: thaw_json(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw_json(item) for item in value]
    return value
