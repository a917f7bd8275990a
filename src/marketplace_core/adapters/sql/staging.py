"""One unit of work's pending writes to one table, merged into reads and applied at commit.

The storage-agnostic part (the writes, and their merge with committed rows) is
:class:`marketplace_core.adapters.staging.Staged`, shared with the in-memory adapter: the
writes stay in memory until commit, every read through the unit lays them over what the
database answers, and :meth:`SqlStaged.apply` writes them with compare-and-set statements
inside the commit's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from marketplace_core.adapters.sql import codec
from marketplace_core.adapters.sql.database import Connection, Row, SqlDatabase
from marketplace_core.adapters.sql.tables import Table
from marketplace_core.adapters.staging import EntityT, Staged
from marketplace_core.errors import ConflictError, ErrorCode


class SqlStaged(Staged[EntityT]):
    """The writes a unit of work staged to one table (see :class:`Staged`).

    ``positions`` holds the committed ``seq`` of written ids that were stored when the unit
    first wrote them, so that they keep their place in listings.
    """

    def __init__(self, table: Table) -> None:
        super().__init__({name: partial(table.key_of, name) for name in table.indexes})
        self.table = table
        self.positions: dict[str, int] = {}

    def committed_position(self, entity_id: str) -> int | None:
        """The committed ``seq`` of a written id, or ``None`` when the unit added it."""
        return self.positions.get(entity_id)

    def decode(self, document: str) -> EntityT:
        """The entity stored as ``document``."""
        entity: EntityT = codec.loads(self.table.cls, document)
        return entity

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
        super().clear()
        self.positions.clear()

    def listing(
        self,
        rows: Sequence[Row],
        matches: Callable[[EntityT], bool],
        candidates: Iterable[str] | None = None,
    ) -> list[EntityT]:
        """:meth:`Staged.merged` over the committed ``rows`` (``seq, id, doc``, oldest
        first)."""
        found = {entity_id: (seq, document) for seq, entity_id, document in rows}

        def position(entity_id: str) -> int | None:
            row = found.get(entity_id)
            return self.positions.get(entity_id) if row is None else row[0]

        return self.merged(
            found, lambda entity_id: self.decode(found[entity_id][1]), position, matches, candidates
        )

    def apply(self, connection: Connection, integrity_errors: tuple[type[Exception], ...]) -> None:
        """Write every staged change inside the commit's transaction: inserts for adds,
        ``UPDATE``/``DELETE ... WHERE id = ? AND version = ?`` for the rest. Raises
        :class:`ConflictError` when a row is missing or changed since, and
        :class:`UniqueViolationError` when a row takes an id or a unique value already stored
        (``integrity_errors``: how the driver says so)."""
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
            except integrity_errors as error:
                raise UniqueViolationError(self, entity_id, error) from error
            if touched != 1:
                raise ConflictError(
                    ErrorCode.STALE_VERSION,
                    f"{table.entity} {entity_id!r} was changed by another unit of work since "
                    "it was read; nothing was written, reload and retry",
                    entity=table.entity,
                    id=entity_id,
                    expected_version=base,
                )

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


class UniqueViolationError(Exception):
    """A staged row broke a unique constraint; the commit turns it into a
    :class:`ConflictError` once its transaction is rolled back (PostgreSQL refuses reads in
    a failed transaction)."""

    def __init__(self, staged: SqlStaged[Any], entity_id: str, error: Exception) -> None:
        super().__init__(str(error))
        self.staged = staged
        self.entity_id = entity_id
        self.error = error
