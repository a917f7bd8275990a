"""One unit of work's pending writes to one table, merged into reads and applied at commit.

The storage-agnostic part (the writes, and their merge with committed rows) is
:class:`marketplace_core.adapters.staging.Staged`, shared with the in-memory adapter: the
writes stay in memory until commit, every read through the unit lays them over what the
database answers, and :meth:`SqlStaged.apply` writes them with compare-and-set statements
inside the commit's transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from marketplace_core.adapters.sql import codec
from marketplace_core.adapters.sql.cache import Row as DecodedRow
from marketplace_core.adapters.sql.database import Connection, Cursor, SqlDatabase
from marketplace_core.adapters.sql.tables import Table
from marketplace_core.adapters.staging import EntityT, KeyFunction, Staged
from marketplace_core.errors import ConflictError, ErrorCode


@functools.cache
def _statements(name: str, columns: tuple[str, ...]) -> tuple[str, str, str]:
    """The insert, compare-and-set update and compare-and-set delete of the table ``name``
    with the key ``columns``."""
    insert = (
        f"INSERT INTO {name} (id, version, {''.join(c + ', ' for c in columns)}doc) "
        f"VALUES (?, ?, {'?, ' * len(columns)}?)"
    )
    update = (
        f"UPDATE {name} SET version = ?, {''.join(c + ' = ?, ' for c in columns)}doc = ? "
        "WHERE id = ? AND version = ?"
    )
    delete = f"DELETE FROM {name} WHERE id = ? AND version = ?"
    return insert, update, delete


_KEY_FUNCTIONS: dict[int, tuple[Table, dict[str, KeyFunction]]] = {}


def _key_function(table: Table, index: str) -> KeyFunction:
    """``table.key_of(index, entity)`` as one function of the entity."""
    getters = tuple(table.columns[column] for column in table.indexes[index])
    if len(getters) == 1:
        (only,) = getters
        return lambda entity: (only(entity),)
    if len(getters) == 2:
        first, second = getters
        return lambda entity: (first(entity), second(entity))
    return lambda entity: tuple(getter(entity) for getter in getters)


def _key_functions(table: Table) -> dict[str, KeyFunction]:
    """The key function of each index of ``table``, made once per table."""
    found = _KEY_FUNCTIONS.get(id(table))
    if found is None or found[0] is not table:
        functions = {name: _key_function(table, name) for name in table.indexes}
        found = _KEY_FUNCTIONS[id(table)] = (table, functions)
    return found[1]


class SqlStaged(Staged[EntityT]):
    """The writes a unit of work staged to one table (see :class:`Staged`).

    ``positions`` holds the committed ``seq`` of written ids that were stored when the unit
    first wrote them, so that they keep their place in listings.
    """

    def __init__(self, table: Table) -> None:
        super().__init__(_key_functions(table))
        self.table = table
        self.positions: dict[str, int] = {}

    def committed_position(self, entity_id: str) -> int | None:
        """The committed ``seq`` of a written id, or ``None`` when the unit added it."""
        return self.positions.get(entity_id)

    def decode(self, document: str) -> EntityT:
        """The entity stored as ``document``, a ``doc`` of this table: written by
        :meth:`apply` through the codec, so it is decoded on the codec's trusted path."""
        entity: EntityT = codec.loads_trusted(self.table.cls, document)
        return entity

    def decode_all(self, documents: Sequence[str]) -> list[EntityT]:
        """The entities stored as ``documents``, in order (see :meth:`decode`)."""
        entities: list[EntityT] = codec.loads_many_trusted(self.table.cls, documents)
        return entities

    def write(
        self,
        entity_id: str,
        entity: EntityT | None,
        base_version: int,
        position: int | None = None,
    ) -> None:
        """Stage ``entity`` (``None``: a removal) read at ``base_version`` from ``position``."""
        if position is not None:
            self.positions.setdefault(entity_id, position)
        super().write(entity_id, entity, base_version)

    def clear(self) -> None:
        """Drop every staged write."""
        if self.next_sequence:
            super().clear()
            self.positions.clear()

    def listing(
        self,
        rows: Sequence[DecodedRow],
        matches: Callable[[EntityT], bool],
        candidates: Iterable[str] | None = None,
    ) -> list[EntityT]:
        """:meth:`Staged.merged` over the committed ``rows`` (``seq, id, entity``, oldest
        first)."""
        found = {entity_id: (seq, entity) for seq, entity_id, entity in rows}

        def position(entity_id: str) -> int | None:
            row = found.get(entity_id)
            return self.positions.get(entity_id) if row is None else row[0]

        return self.merged(
            found, lambda entity_id: found[entity_id][1], position, matches, candidates
        )

    def apply(
        self,
        connection: Connection,
        integrity_errors: tuple[type[Exception], ...],
        deferred: list[Touched] | None = None,
    ) -> None:
        """Write every staged change inside the commit's transaction: inserts for adds,
        ``UPDATE``/``DELETE ... WHERE id = ? AND version = ?`` for the rest. Raises
        :class:`ConflictError` when a row is missing or changed since, and
        :class:`UniqueViolationError` when a row takes an id or a unique value already stored
        (``integrity_errors``: how the driver says so). In a batched transaction the rows
        touched are not known yet: ``deferred`` collects them for :func:`check_touched`."""
        table = self.table
        insert, update, delete = _statements(table.name, tuple(table.columns))
        for entity_id, entity in self.writes.items():
            base = self.base_versions[entity_id]
            try:
                if entity is None:
                    cursor = connection.execute(delete, (entity_id, base))
                elif base == 0:
                    values = table.column_values(entity)
                    document = codec.dumps(entity)
                    connection.execute(insert, (entity_id, entity.version, *values, document))
                    continue
                else:
                    values = table.column_values(entity)
                    document = codec.dumps(entity)
                    parameters = (entity.version, *values, document, entity_id, base)
                    cursor = connection.execute(update, parameters)
            except integrity_errors as error:
                raise UniqueViolationError(self, entity_id, error) from error
            touched = Touched(cursor, self, entity_id)
            if deferred is None:
                touched.check()
            else:
                deferred.append(touched)

    def taken(self, database: SqlDatabase, violation: UniqueViolationError) -> ConflictError:
        """The conflict to raise for ``violation``, told apart (after the rollback) into an
        id already stored and a unique value another row holds."""
        entity, entity_id = self.table.entity, violation.entity_id
        stored = database.fetch(f"SELECT 1 FROM {self.table.name} WHERE id = ?", (entity_id,))
        if stored and self.base_versions[entity_id] == 0:
            message = f"{entity} {entity_id!r} already exists; nothing was written"
        else:
            message = (
                f"{entity} {entity_id!r} takes a value another {entity} already holds "
                f"({violation.error}); nothing was written"
            )
        return ConflictError(ErrorCode.ALREADY_EXISTS, message, entity=entity, id=entity_id)


@attrs.frozen
class Touched:
    """An ``UPDATE`` or ``DELETE`` of one staged row: its cursor says whether it touched
    the row (a compare-and-set that matched)."""

    cursor: Cursor
    staged: SqlStaged[Any]
    entity_id: str

    def check(self) -> None:
        """Raise :class:`ConflictError` (``stale_version``) unless exactly the row was
        touched: missing, or changed since it was read."""
        if self.cursor.rowcount != 1:
            table = self.staged.table
            raise ConflictError(
                ErrorCode.STALE_VERSION,
                f"{table.entity} {self.entity_id!r} was changed by another unit of work since "
                "it was read; nothing was written, reload and retry",
                entity=table.entity,
                id=self.entity_id,
                expected_version=self.staged.base_versions[self.entity_id],
            )


class UniqueViolationError(Exception):
    """A staged row broke a unique constraint; the commit turns it into a
    :class:`ConflictError` once its transaction is rolled back (PostgreSQL refuses reads in
    a failed transaction)."""

    def __init__(self, staged: SqlStaged[Any], entity_id: str, error: Exception) -> None:
        super().__init__(str(error))
        self.staged = staged
        self.entity_id = entity_id
        self.error = error
