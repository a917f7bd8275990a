"""One unit of work's pending writes to one table, merged into reads and applied at commit.

This mirrors ``_Staged`` of the in-memory adapter (which is bound to its in-memory tables):
the writes stay in memory until commit, every read through the unit lays them over what the
database answers, and :meth:`Staged.apply` writes them with compare-and-set statements inside
the commit's transaction.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

from marketplace_core.adapters.sqlite import codec
from marketplace_core.adapters.sqlite.database import Row
from marketplace_core.adapters.sqlite.tables import Key, Table
from marketplace_core.errors import ConflictError, ErrorCode
from marketplace_core.ports import Versioned

EntityT = TypeVar("EntityT", bound=Versioned)

_NEWEST = sys.maxsize
"""The place of an entity not yet committed: after every committed one."""


class Staged(Generic[EntityT]):
    """The writes a unit of work staged to one table (``None`` marks a removal).

    ``base_versions`` holds the version each written id had when the unit first wrote it (0:
    the unit added it), which commit compares with the database; ``positions`` the committed
    ``seq`` of written ids that were stored then, so that they keep their place in listings;
    ``keyed`` the written ids by each key they were written under.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        self.writes: dict[str, EntityT | None] = {}
        self.base_versions: dict[str, int] = {}
        self.positions: dict[str, int] = {}
        self.sequence: dict[str, int] = {}
        self.next_sequence = 0
        self.keyed: dict[str, dict[Key, dict[str, None]]] = {name: {} for name in table.indexes}

    def decode(self, document: str) -> EntityT:
        """The entity stored as ``document``."""
        entity: EntityT = codec.loads(self.table.cls, document)
        return entity

    def write(
        self, entity_id: str, entity: EntityT | None, base_version: int, position: int | None
    ) -> None:
        """Stage ``entity`` (``None``: a removal) read at ``base_version`` from ``position``."""
        if entity is None and self.base_versions.get(entity_id, base_version) == 0:
            # Removing what this unit added: as if it had never been added.
            self.writes.pop(entity_id, None)
            self.base_versions.pop(entity_id, None)
            self.sequence.pop(entity_id, None)
            return
        self.base_versions.setdefault(entity_id, base_version)
        if position is not None:
            self.positions.setdefault(entity_id, position)
        if entity_id not in self.sequence:
            self.sequence[entity_id] = self.next_sequence
            self.next_sequence += 1
        self.writes[entity_id] = entity
        if entity is not None:
            for name in self.table.indexes:
                key = self.table.key_of(name, entity)
                self.keyed[name].setdefault(key, {})[entity_id] = None

    def written_under(self, index: str, key: Key) -> Iterable[str]:
        """The ids written under ``key`` of ``index`` (some may have moved on since)."""
        return self.keyed[index].get(key, {})

    def clear(self) -> None:
        """Drop every staged write."""
        self.writes.clear()
        self.base_versions.clear()
        self.positions.clear()
        self.sequence.clear()
        self.next_sequence = 0
        for buckets in self.keyed.values():
            buckets.clear()

    def merged(
        self,
        rows: Sequence[Row],
        matches: Callable[[EntityT], bool],
        candidates: Iterable[str] | None = None,
    ) -> list[EntityT]:
        """The committed ``rows`` (``seq, id, doc``, oldest first) overlaid with this unit's
        writes, plus the unit's other written entities that ``matches`` accepts (looking
        only at ``candidates`` when given); oldest first."""
        result: list[tuple[tuple[int, int], EntityT]] = []
        seen: set[str] = set()
        writes = self.writes
        for seq, entity_id, document in rows:
            seen.add(entity_id)
            if entity_id in writes:
                staged = writes[entity_id]
                if staged is not None and matches(staged):
                    result.append(((seq, 0), staged))
            else:
                result.append(((seq, 0), self.decode(document)))
        ids = writes if candidates is None else candidates
        others = sorted(
            (i for i in ids if i not in seen and i in writes), key=self.sequence.__getitem__
        )
        moved_in = False
        for entity_id in others:
            entity = writes[entity_id]
            if entity is None or not matches(entity):
                continue
            position = self.positions.get(entity_id)
            if position is None:
                result.append(((_NEWEST, self.sequence[entity_id]), entity))
            else:
                result.append(((position, 0), entity))
                moved_in = True
        if moved_in:
            result.sort(key=lambda pair: pair[0])
        return [entity for _, entity in result]

    def count(self, committed_ids: set[str], matches: Callable[[EntityT], bool]) -> int:
        """How many entities :meth:`merged` would list, given the matching committed ids."""
        total = len(committed_ids)
        for entity_id, entity in self.writes.items():
            listed = entity is not None and matches(entity)
            if entity_id in committed_ids:
                total -= not listed
            else:
                total += listed
        return total

    def apply(self, connection: sqlite3.Connection) -> None:
        """Write every staged change inside the commit's transaction: inserts for adds,
        ``UPDATE``/``DELETE ... WHERE id = ? AND version = ?`` for the rest. Raises
        :class:`ConflictError` when a row is missing, changed since, or taken."""
        table = self.table
        name = table.name
        columns = list(table.columns)
        insert = (
            f"INSERT INTO {name} (id, version, {''.join(c + ', ' for c in columns)}doc) "
            f"VALUES (?, ?, {'?, ' * len(columns)}?)"
        )
        update = (
            f"UPDATE {name} SET version = ?, {''.join(c + ' = ?, ' for c in columns)}doc = ? "
            "WHERE id = ? AND version = ?"
        )
        delete = f"DELETE FROM {name} WHERE id = ? AND version = ?"
        for entity_id, entity in self.writes.items():
            base = self.base_versions[entity_id]
            try:
                if entity is None:
                    touched = connection.execute(delete, (entity_id, base)).rowcount
                elif base == 0:
                    values = table.column_values(entity)
                    document = codec.dumps(entity)
                    connection.execute(insert, (entity_id, entity.version, *values, document))
                    touched = 1
                else:
                    values = table.column_values(entity)
                    document = codec.dumps(entity)
                    parameters = (entity.version, *values, document, entity_id, base)
                    touched = connection.execute(update, parameters).rowcount
            except sqlite3.IntegrityError as error:
                raise self._taken(connection, entity_id, error) from error
            if touched != 1:
                raise ConflictError(
                    ErrorCode.STALE_VERSION,
                    f"{table.entity} {entity_id!r} was changed by another unit of work since "
                    "it was read; nothing was written, reload and retry",
                    entity=table.entity,
                    id=entity_id,
                    expected_version=base,
                )

    def _taken(
        self, connection: sqlite3.Connection, entity_id: str, error: sqlite3.IntegrityError
    ) -> ConflictError:
        entity = self.table.entity
        row = connection.execute(f"SELECT 1 FROM {self.table.name} WHERE id = ?", (entity_id,))
        if row.fetchone() is not None and self.base_versions[entity_id] == 0:
            message = f"{entity} {entity_id!r} already exists; nothing was written"
        else:
            message = (
                f"{entity} {entity_id!r} takes a value another {entity} already holds "
                f"({error}); nothing was written"
            )
        return ConflictError(ErrorCode.ALREADY_EXISTS, message, entity=entity, id=entity_id)
