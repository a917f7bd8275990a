"""A storage's cache of committed rows, shared by its units of work, for databases that can
tell cheaply whether another connection committed (SQLite's ``PRAGMA data_version``), or to
which tables (PostgreSQL's ``table_changes`` counts, one statement).

Commands read the same few rows over and over (the acting user and its grants, the project,
the offering and its plans, the policies, quotas and deny rules of each scope) and write
others. :class:`ReadCache` keeps what reads by id and keyed queries answered, decoded, so
that a repeated read costs a dictionary lookup instead of a statement and a decode. It stays
exact:

- this storage's own commits drop what they write (the ids written, and every keyed answer
  of the tables written) inside their transaction, and a read keeps its answer only if no
  drop happened while it ran, so no read can put back a row a commit changed;
- commits by other connections (other processes on the same file) are detected by the
  database's change counter, checked when a unit of work first reads and again after each
  of its commits: when it moved, the whole cache is dropped. Within one unit, reads may
  therefore miss what another process committed after the unit's check; a write based on
  such a read is refused at commit by its version, as for any stale read.

Entities are immutable, so units share the decoded snapshots safely.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

Row = tuple[int, str, Any]
"""A committed row, decoded: ``(seq, id, entity)``."""

Found = tuple[int, Any] | None
"""What a read by id found: ``(seq, entity)``, or ``None`` for no row."""

MISSING: Any = object()
"""Returned by :meth:`TableCache.row` for an id the cache knows nothing about."""


class ReadCache:
    """The committed rows a storage's units of work read, by table (see the module
    docstring). ``change_counter`` reads the database's count of the commits made by other
    connections."""

    def __init__(self, change_counter: Callable[[], Hashable | Mapping[str, int]]) -> None:
        self._change_counter = change_counter
        self._seen: Hashable | Mapping[str, int] = None
        self.lock = threading.Lock()
        self.generation = 0
        """Moves on every drop: a read keeps its answer only if it did not move meanwhile."""
        self._tables: dict[str, TableCache] = {}

    def table(self, name: str) -> TableCache:
        """The part of the cache that holds the table ``name``."""
        table = self._tables.get(name)
        if table is None:
            table = self._tables.setdefault(name, TableCache(self))
        return table

    def refresh(self) -> None:
        """Drop what other connections may have changed since the last check: everything
        when the change counter is one number (SQLite's), only the tables whose counts
        moved when it counts per table (PostgreSQL's, a mapping of table name to count)."""
        seen = self._change_counter()
        if seen == self._seen:
            return
        with self.lock:
            previous, self._seen = self._seen, seen
            if isinstance(seen, Mapping) and isinstance(previous, Mapping):
                self.generation += 1
                for name, cached in self._tables.items():
                    if seen.get(name) != previous.get(name):
                        cached.rows.clear()
                        cached.answers.clear()
            else:
                self._drop_all()

    def clear(self) -> None:
        """Drop everything."""
        with self.lock:
            self._drop_all()

    def written(self, table: str, entity_ids: Iterable[str]) -> None:
        """Drop what this storage is committing to ``table``: the rows of ``entity_ids``
        and every keyed answer of the table. Called inside the commit's transaction."""
        cached = self._tables.get(table)
        with self.lock:
            self.generation += 1
            if cached is not None:
                for entity_id in entity_ids:
                    cached.rows.pop(entity_id, None)
                cached.answers.clear()

    def _drop_all(self) -> None:
        self.generation += 1
        for cached in self._tables.values():
            cached.rows.clear()
            cached.answers.clear()


class TableCache:
    """One table's part of a :class:`ReadCache`: ``rows`` by id, ``answers`` by query."""

    __slots__ = ("_cache", "answers", "rows")

    def __init__(self, cache: ReadCache) -> None:
        self._cache = cache
        self.rows: dict[str, Found] = {}
        self.answers: dict[Hashable, list[Row]] = {}

    @property
    def generation(self) -> int:
        """The cache's generation, to pass back to :meth:`keep_row` or
        :meth:`keep_answer` once the read is done."""
        return self._cache.generation

    def keep_row(self, entity_id: str, found: Found, generation: int) -> None:
        """Keep what a read by id started at ``generation`` found, unless a drop happened
        since."""
        cache = self._cache
        with cache.lock:
            if generation == cache.generation:
                self.rows[entity_id] = found

    def keep_answer(self, query: Hashable, rows: list[Row], generation: int) -> None:
        """Keep what a keyed query started at ``generation`` answered, unless a drop
        happened since."""
        cache = self._cache
        with cache.lock:
            if generation == cache.generation:
                self.answers[query] = rows
