"""The SQLite storage: :class:`SqliteStorage` opens units of work on one database file.

A unit of work stages its writes in memory (:mod:`.staging`); its reads merge them into what
the database answers. :meth:`SqliteUnitOfWork.commit` writes them all, and appends the
unit's events to the outbox, in one ``BEGIN IMMEDIATE`` ... ``COMMIT``: compare-and-set on
versions, and any miss raises ``ConflictError`` and rolls the whole transaction back.
Outbox positions come from a counter row updated in that transaction, so they are gapless
and in commit order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

from marketplace_core.adapters.sqlite import codec
from marketplace_core.adapters.sqlite.database import Database
from marketplace_core.adapters.sqlite.repositories import (
    SqliteCreditRepository,
    SqliteDenyRuleRepository,
    SqliteInvoiceItemRepository,
    SqliteInvoiceRepository,
    SqliteMonthlyTotalRepository,
    SqliteOfferingRepository,
    SqliteOrderRepository,
    SqlitePlanRepository,
    SqlitePolicyRepository,
    SqliteProjectRepository,
    SqliteQuotaRepository,
    SqliteRepository,
    SqliteResourceRepository,
    SqliteRoleGrantRepository,
    SqliteUsageReportRepository,
    SqliteUserRepository,
)
from marketplace_core.adapters.sqlite.staging import SqliteStaged
from marketplace_core.adapters.sqlite.tables import TABLES
from marketplace_core.adapters.unit_of_work import StagedUnitOfWork
from marketplace_core.events import DomainEvent, RecordedEvent

RepositoryT = TypeVar("RepositoryT", bound=SqliteRepository[Any])


class SqliteOutbox:
    """The committed events of a SQLite storage."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def read(self, after: int = 0, limit: int | None = None) -> Sequence[RecordedEvent]:
        """Committed events with ``position > after``, in order, at most ``limit``."""
        rows = self._database.fetch(
            "SELECT position, doc FROM outbox WHERE position > ? ORDER BY position LIMIT ?",
            (after, -1 if limit is None else max(limit, 0)),
        )
        return [RecordedEvent(position, codec.loads_event(doc)) for position, doc in rows]


class SqliteStorage:
    """Every aggregate in one SQLite file (WAL mode), migrated to the current schema when
    opened. Threads may share a storage; processes each open their own on the same file.

    ``timeout``: how long a commit waits for another process's write lock, in seconds.
    ``synchronous``: SQLite's ``PRAGMA synchronous``; ``NORMAL`` (the default) survives a
    killed process, ``FULL`` also a power loss, at the cost of an fsync per commit.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float = 30.0, synchronous: str = "NORMAL"
    ) -> None:
        self.path = path
        self._database = Database(path, timeout=timeout, synchronous=synchronous)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, timeout: float = 30.0, synchronous: str = "NORMAL"
    ) -> SqliteStorage:
        """The storage in the file at ``path``, created and migrated as needed."""
        return cls(path, timeout=timeout, synchronous=synchronous)

    def close(self) -> None:
        """Close the database connection; units of work on it can no longer be used."""
        self._database.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def unit_of_work(self) -> SqliteUnitOfWork:
        """A new unit of work on this storage."""
        return SqliteUnitOfWork(self._database)


def _commit(
    database: Database, staged: Sequence[SqliteStaged[Any]], events: Sequence[DomainEvent]
) -> list[RecordedEvent]:
    """Apply ``staged`` and append ``events`` in one transaction; return the events as
    recorded."""
    staged = [table for table in staged if table.writes]
    if not staged and not events:
        return []
    documents = [codec.dumps_event(event) for event in events]
    with database.transaction() as connection:
        for table in staged:
            table.apply(connection)
        recorded: list[RecordedEvent] = []
        if events:
            (last,) = connection.execute(
                "SELECT last_position FROM outbox_counter WHERE id = 1"
            ).fetchone()
            start = last + 1
            connection.executemany(
                "INSERT INTO outbox (position, event_type, doc) VALUES (?, ?, ?)",
                [
                    (start + i, event.event_type, document)
                    for i, (event, document) in enumerate(zip(events, documents, strict=True))
                ],
            )
            connection.execute(
                "UPDATE outbox_counter SET last_position = ? WHERE id = 1",
                (last + len(events),),
            )
            recorded = [RecordedEvent(start + i, event) for i, event in enumerate(events)]
    for table in staged:
        table.clear()
    return recorded


class SqliteUnitOfWork(StagedUnitOfWork[SqliteStaged[Any]]):
    """A unit of work on a :class:`SqliteStorage`."""

    repository_kinds: ClassVar[Mapping[str, type[Any]]] = {
        "organization_groups": SqliteRepository,
        "organizations": SqliteRepository,
        "projects": SqliteProjectRepository,
        "users": SqliteUserRepository,
        "role_grants": SqliteRoleGrantRepository,
        "providers": SqliteRepository,
        "categories": SqliteRepository,
        "offerings": SqliteOfferingRepository,
        "plans": SqlitePlanRepository,
        "resources": SqliteResourceRepository,
        "orders": SqliteOrderRepository,
        "invoices": SqliteInvoiceRepository,
        "invoice_items": SqliteInvoiceItemRepository,
        "usage_reports": SqliteUsageReportRepository,
        "credits": SqliteCreditRepository,
        "policies": SqlitePolicyRepository,
        "monthly_totals": SqliteMonthlyTotalRepository,
        "quotas": SqliteQuotaRepository,
        "deny_rules": SqliteDenyRuleRepository,
    }

    def __init__(self, database: Database) -> None:
        super().__init__()
        self._database = database

    def _repository(self, name: str, kind: type[RepositoryT]) -> RepositoryT:
        staged = self._staged[name] = SqliteStaged(TABLES[name])
        return kind(self._database, staged)

    def _write(
        self, staged: Sequence[SqliteStaged[Any]], events: Sequence[DomainEvent]
    ) -> list[RecordedEvent]:
        return _commit(self._database, staged, events)

    @property
    def outbox(self) -> SqliteOutbox:
        """The committed events."""
        return SqliteOutbox(self._database)
