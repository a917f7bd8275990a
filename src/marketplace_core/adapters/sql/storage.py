"""The unit of work and outbox every SQL adapter shares (SQL, PostgreSQL).

A unit of work stages its writes in memory (:mod:`.staging`); its reads merge them into what
the database answers. :meth:`SqlUnitOfWork.commit` writes them all, and appends the unit's
events to the outbox, in one transaction of the database: compare-and-set on versions, and
any miss raises ``ConflictError`` and rolls the whole transaction back. Outbox positions come
from a counter row incremented in that transaction, which also serializes the appends, so
positions are gapless and in commit order.

A storage may share a :class:`~.cache.ReadCache` between its units (SQLite does): the commit
drops what it writes from it, and each unit checks it for other connections' commits before
its first read and again after a commit or a rollback.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

from marketplace_core.adapters.sql import codec
from marketplace_core.adapters.sql.cache import ReadCache
from marketplace_core.adapters.sql.database import SqlDatabase
from marketplace_core.adapters.sql.repositories import (
    SqlCreditRepository,
    SqlDenyRuleRepository,
    SqlInvoiceItemRepository,
    SqlInvoiceRepository,
    SqlMonthlyTotalRepository,
    SqlOfferingRepository,
    SqlOrderRepository,
    SqlPlanRepository,
    SqlPolicyRepository,
    SqlProjectRepository,
    SqlQuotaRepository,
    SqlRepository,
    SqlResourceRepository,
    SqlRoleGrantRepository,
    SqlUsageReportRepository,
    SqlUserRepository,
    UnitReads,
)
from marketplace_core.adapters.sql.staging import SqlStaged, Touched, UniqueViolationError
from marketplace_core.adapters.sql.tables import TABLES
from marketplace_core.adapters.unit_of_work import StagedUnitOfWork
from marketplace_core.events import DomainEvent, RecordedEvent

RepositoryT = TypeVar("RepositoryT", bound=SqlRepository[Any])


class SqlOutbox:
    """The committed events of a SQL storage."""

    def __init__(self, database: SqlDatabase) -> None:
        self._database = database

    def read(self, after: int = 0, limit: int | None = None) -> Sequence[RecordedEvent]:
        """Committed events with ``position > after``, in order, at most ``limit``."""
        sql = "SELECT position, doc FROM outbox WHERE position > ? ORDER BY position"
        if limit is not None:
            sql += f" LIMIT {max(limit, 0):d}"
        rows = self._database.fetch(sql, (after,))
        return [RecordedEvent(position, codec.loads_event_trusted(doc)) for position, doc in rows]


def _commit(
    database: SqlDatabase,
    staged: Sequence[SqlStaged[Any]],
    events: Sequence[DomainEvent],
    cache: ReadCache | None = None,
) -> list[RecordedEvent]:
    """Apply ``staged`` and append ``events`` in one transaction; return the events as
    recorded. What the transaction writes is dropped from ``cache`` inside it.

    Where the database batches commits (PostgreSQL), every statement is sent at once and
    the answers are awaited twice: before the outbox positions are known, and at the commit.
    A unique index that refuses a batched row does not say which staged row it was, so the
    commit, rolled back, runs again one statement at a time to name it.
    """
    staged = [table for table in staged if table.writes]
    if not staged and not events:
        return []
    documents = [codec.dumps_event(event) for event in events]
    try:
        try:
            recorded = _write(database, staged, events, documents, cache, database.batches_commits)
        except database.integrity_errors:
            if not database.batches_commits:
                raise
            recorded = _write(database, staged, events, documents, cache, False)
    except UniqueViolationError as violation:
        raise violation.staged.taken(database, violation) from violation.error
    for table in staged:
        table.clear()
    return recorded


def _write(
    database: SqlDatabase,
    staged: Sequence[SqlStaged[Any]],
    events: Sequence[DomainEvent],
    documents: Sequence[str],
    cache: ReadCache | None,
    batched: bool,
) -> list[RecordedEvent]:
    """One try at :func:`_commit`'s transaction."""
    recorded: list[RecordedEvent] = []
    deferred: list[Touched] | None = [] if batched else None
    with database.transaction(batched) as connection:
        for table in staged:
            if cache is not None:
                cache.written(table.table.name, table.writes)
            table.apply(connection, database.integrity_errors, deferred)
        database.note_writes(connection, [table.table.name for table in staged])
        if events:
            # Fetching the new position waits for every statement sent before it.
            (last,) = connection.execute(
                "UPDATE outbox_counter SET last_position = last_position + ? "
                "WHERE id = 1 RETURNING last_position",
                (len(events),),
            ).fetchone()
        elif deferred:
            database.settle(connection)
        for touched in deferred or ():
            touched.check()
        if events:
            start = last - len(events) + 1
            rows = [
                (start + i, event.event_type, document)
                for i, (event, document) in enumerate(zip(events, documents, strict=True))
            ]
            for first in range(0, len(rows), OUTBOX_ROWS_PER_STATEMENT):
                chunk = rows[first : first + OUTBOX_ROWS_PER_STATEMENT]
                connection.execute(_outbox_insert(len(chunk)), [v for row in chunk for v in row])
            recorded = [RecordedEvent(start + i, event) for i, event in enumerate(events)]
    return recorded


OUTBOX_ROWS_PER_STATEMENT = 500
"""Events appended by one statement (three parameters each: well under SQLite's limit)."""


@functools.lru_cache(maxsize=OUTBOX_ROWS_PER_STATEMENT)
def _outbox_insert(rows: int) -> str:
    """One ``INSERT`` of ``rows`` outbox rows: a commit's events cost one statement."""
    return "INSERT INTO outbox (position, event_type, doc) VALUES " + ", ".join(
        ["(?, ?, ?)"] * rows
    )


class SqlUnitOfWork(StagedUnitOfWork[SqlStaged[Any]]):
    """A unit of work on a :class:`SqlStorage`."""

    repository_kinds: ClassVar[Mapping[str, type[Any]]] = {
        "organization_groups": SqlRepository,
        "organizations": SqlRepository,
        "projects": SqlProjectRepository,
        "users": SqlUserRepository,
        "role_grants": SqlRoleGrantRepository,
        "providers": SqlRepository,
        "categories": SqlRepository,
        "offerings": SqlOfferingRepository,
        "plans": SqlPlanRepository,
        "resources": SqlResourceRepository,
        "orders": SqlOrderRepository,
        "invoices": SqlInvoiceRepository,
        "invoice_items": SqlInvoiceItemRepository,
        "usage_reports": SqlUsageReportRepository,
        "credits": SqlCreditRepository,
        "policies": SqlPolicyRepository,
        "monthly_totals": SqlMonthlyTotalRepository,
        "quotas": SqlQuotaRepository,
        "deny_rules": SqlDenyRuleRepository,
    }

    def __init__(self, database: SqlDatabase, cache: ReadCache | None = None) -> None:
        super().__init__()
        self._database = database
        self._cache = cache
        self._reads = None if cache is None else UnitReads(cache)

    def _repository(self, name: str, kind: type[RepositoryT]) -> RepositoryT:
        staged = self._staged[name] = SqlStaged(TABLES[name])
        if self._reads is None:
            return kind(self._database, staged)
        return kind(self._database, staged, self._reads)

    def _write(
        self, staged: Sequence[SqlStaged[Any]], events: Sequence[DomainEvent]
    ) -> list[RecordedEvent]:
        try:
            return _commit(self._database, staged, events, self._cache)
        finally:
            if self._reads is not None:
                self._reads.fresh = False  # check the cache again before the next read

    def rollback(self) -> None:
        """Drop every staged write and event; the next read checks the cache again (a
        unit that retries after a conflict must see what caused it)."""
        super().rollback()
        if self._reads is not None:
            self._reads.fresh = False

    @property
    def outbox(self) -> SqlOutbox:
        """The committed events."""
        return SqlOutbox(self._database)


class SqlStorage:
    """What the SQL storages share: units of work on one database, a read cache shared by
    them, and closing (also as a context manager). Subclasses open the database."""

    def __init__(self, database: SqlDatabase, cache: ReadCache | None) -> None:
        self._database = database
        self._cache = cache

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

    def unit_of_work(self) -> SqlUnitOfWork:
        """A new unit of work on this storage."""
        return SqlUnitOfWork(self._database, self._cache)
