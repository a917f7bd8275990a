"""One unit of work's pending writes to one table, and their merge with committed rows.

Both the in-memory and the SQLite adapter keep a unit's writes in memory until commit and lay
them over what storage answers on every read. :class:`Staged` is that storage-agnostic part;
an adapter subclasses it to say where a committed entity stands in listings
(:meth:`Staged.committed_position`) and to apply the writes at commit, and passes each read's
committed ids, oldest first, with how to load one (:meth:`Staged.merged`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from marketplace_core.ports import Versioned

EntityT = TypeVar("EntityT", bound=Versioned)

KeyFunction = Callable[[Any], Hashable]

NEWEST = sys.maxsize
"""The place of an entity not yet committed: after every committed one."""


class Staged(Generic[EntityT]):
    """The writes a unit of work staged to one table (``None`` marks a removal).

    ``base_versions`` holds the version each written id had when the unit first wrote it (0:
    the unit added it); ``sequence`` the order in which ids were first written (the order of
    ``writes``); ``keyed`` the written ids by each secondary key they were written under, so
    a lookup by key visits only the writes that may match, however many the unit holds.
    """

    def __init__(self, key_functions: Mapping[str, KeyFunction]) -> None:
        self.key_functions = key_functions
        self.writes: dict[str, EntityT | None] = {}
        self.base_versions: dict[str, int] = {}
        self.sequence: dict[str, int] = {}
        self.next_sequence = 0
        """Only ever grows: an id removed from ``sequence`` never gives its number away."""
        self.keyed: dict[str, dict[Hashable, dict[str, None]]] = {}
        """Filled on the first write (most units only read most tables)."""

    def committed_position(self, entity_id: str) -> int | None:
        """Where the committed entity ``entity_id`` stands in listings, or ``None`` when it
        is not committed (this unit added it)."""
        raise NotImplementedError

    def write(self, entity_id: str, entity: EntityT | None, base_version: int) -> None:
        """Stage ``entity`` (``None``: a removal) read at ``base_version``."""
        if entity is None and self.committed_position(entity_id) is None:
            # Removing what this unit added: as if it had never been added.
            self.writes.pop(entity_id, None)
            self.base_versions.pop(entity_id, None)
            self.sequence.pop(entity_id, None)
            return
        self.base_versions.setdefault(entity_id, base_version)
        if entity_id not in self.sequence:
            self.sequence[entity_id] = self.next_sequence
            self.next_sequence += 1
        self.writes[entity_id] = entity
        if entity is not None:
            keyed = self.keyed
            for name, key_of in self.key_functions.items():
                buckets = keyed.get(name)
                if buckets is None:
                    buckets = keyed[name] = {}
                key = key_of(entity)
                bucket = buckets.get(key)
                if bucket is None:
                    buckets[key] = {entity_id: None}
                else:
                    bucket[entity_id] = None

    def written_under(self, index: str, key: Hashable) -> Iterable[str]:
        """The ids written under ``key`` of ``index`` (some may have moved on since)."""
        buckets = self.keyed.get(index)
        return () if buckets is None else buckets.get(key, ())

    def clear(self) -> None:
        """Drop every staged write."""
        if not self.next_sequence:
            return  # nothing was ever written since the last clear
        self.writes.clear()
        self.base_versions.clear()
        self.sequence.clear()
        self.next_sequence = 0
        self.keyed.clear()

    def merged(
        self,
        committed_ids: Iterable[str],
        load: Callable[[str], EntityT],
        position: Callable[[str], int | None],
        matches: Callable[[EntityT], bool],
        candidates: Iterable[str] | None = None,
    ) -> list[EntityT]:
        """The committed entities among ``committed_ids`` (oldest first; ``load`` gives one,
        ``position`` its place), overlaid with this unit's writes, plus the unit's other
        written entities that ``matches`` accepts (looking only at ``candidates`` when
        given); oldest first."""
        result: list[EntityT] = []
        seen: set[str] = set()
        writes = self.writes
        for entity_id in committed_ids:
            seen.add(entity_id)
            if entity_id in writes:
                staged = writes[entity_id]
                if staged is not None and matches(staged):
                    result.append(staged)
            else:
                result.append(load(entity_id))
        moved_in = False
        others: Iterable[tuple[str, EntityT | None]]
        if candidates is None:
            others = writes.items()
        else:
            ids = sorted(
                (i for i in candidates if i not in seen and i in writes),
                key=self.sequence.__getitem__,
            )
            others = [(entity_id, writes[entity_id]) for entity_id in ids]
        for entity_id, entity in others:
            if entity is not None and entity_id not in seen and matches(entity):
                result.append(entity)
                moved_in = moved_in or position(entity_id) is not None
        if moved_in:
            result.sort(key=lambda e: _or_newest(position(e.id)))
        return result

    def count(self, committed_ids: Collection[str], matches: Callable[[EntityT], bool]) -> int:
        """How many entities :meth:`merged` would list, given the matching committed ids."""
        total = len(committed_ids)
        for entity_id, entity in self.writes.items():
            listed = entity is not None and matches(entity)
            if entity_id in committed_ids:
                total -= not listed
            else:
                total += listed
        return total


def _or_newest(position: int | None) -> int:
    return NEWEST if position is None else position
