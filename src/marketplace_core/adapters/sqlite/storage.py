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
from collections.abc import Sequence
from functools import cached_property
from types import TracebackType
from typing import Any, Self, TypeVar

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
from marketplace_core.adapters.sqlite.staging import Staged
from marketplace_core.adapters.sqlite.tables import TABLES
from marketplace_core.errors import ConflictError
from marketplace_core.events import DomainEvent, RecordedEvent
from marketplace_core.offerings import Category
from marketplace_core.organizations import Organization, OrganizationGroup, ServiceProvider

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
    database: Database, staged: Sequence[Staged[Any]], events: Sequence[DomainEvent]
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


class SqliteUnitOfWork:
    """A unit of work on a :class:`SqliteStorage`."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._staged: dict[str, Staged[Any]] = {}
        self._events: list[DomainEvent] = []

    def _repository(self, name: str, kind: type[RepositoryT]) -> RepositoryT:
        staged = self._staged[name] = Staged(TABLES[name])
        return kind(self._database, staged)

    @cached_property
    def organization_groups(self) -> SqliteRepository[OrganizationGroup]:
        """Organization groups."""
        return self._repository("organization_groups", SqliteRepository)

    @cached_property
    def organizations(self) -> SqliteRepository[Organization]:
        """Organizations."""
        return self._repository("organizations", SqliteRepository)

    @cached_property
    def projects(self) -> SqliteProjectRepository:
        """Projects."""
        return self._repository("projects", SqliteProjectRepository)

    @cached_property
    def users(self) -> SqliteUserRepository:
        """Users."""
        return self._repository("users", SqliteUserRepository)

    @cached_property
    def role_grants(self) -> SqliteRoleGrantRepository:
        """Role grants."""
        return self._repository("role_grants", SqliteRoleGrantRepository)

    @cached_property
    def providers(self) -> SqliteRepository[ServiceProvider]:
        """Service provider registrations."""
        return self._repository("providers", SqliteRepository)

    @cached_property
    def categories(self) -> SqliteRepository[Category]:
        """Categories."""
        return self._repository("categories", SqliteRepository)

    @cached_property
    def offerings(self) -> SqliteOfferingRepository:
        """Offerings."""
        return self._repository("offerings", SqliteOfferingRepository)

    @cached_property
    def plans(self) -> SqlitePlanRepository:
        """Plans."""
        return self._repository("plans", SqlitePlanRepository)

    @cached_property
    def resources(self) -> SqliteResourceRepository:
        """Resources."""
        return self._repository("resources", SqliteResourceRepository)

    @cached_property
    def orders(self) -> SqliteOrderRepository:
        """Orders."""
        return self._repository("orders", SqliteOrderRepository)

    @cached_property
    def invoices(self) -> SqliteInvoiceRepository:
        """Invoices."""
        return self._repository("invoices", SqliteInvoiceRepository)

    @cached_property
    def invoice_items(self) -> SqliteInvoiceItemRepository:
        """Invoice items."""
        return self._repository("invoice_items", SqliteInvoiceItemRepository)

    @cached_property
    def usage_reports(self) -> SqliteUsageReportRepository:
        """Usage reports."""
        return self._repository("usage_reports", SqliteUsageReportRepository)

    @cached_property
    def credits(self) -> SqliteCreditRepository:
        """Credits."""
        return self._repository("credits", SqliteCreditRepository)

    @cached_property
    def policies(self) -> SqlitePolicyRepository:
        """Policies."""
        return self._repository("policies", SqlitePolicyRepository)

    @cached_property
    def monthly_totals(self) -> SqliteMonthlyTotalRepository:
        """Monthly totals of scopes."""
        return self._repository("monthly_totals", SqliteMonthlyTotalRepository)

    @cached_property
    def quotas(self) -> SqliteQuotaRepository:
        """Quotas."""
        return self._repository("quotas", SqliteQuotaRepository)

    @cached_property
    def deny_rules(self) -> SqliteDenyRuleRepository:
        """Deny rules."""
        return self._repository("deny_rules", SqliteDenyRuleRepository)

    @property
    def outbox(self) -> SqliteOutbox:
        """The committed events."""
        return SqliteOutbox(self._database)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.rollback()

    def emit(self, event: DomainEvent) -> None:
        """Stage an event for the outbox."""
        self._events.append(event)

    def commit(self) -> Sequence[RecordedEvent]:
        """Write every staged change and event in one transaction, or raise
        ``ConflictError`` and write nothing."""
        try:
            recorded = _commit(self._database, list(self._staged.values()), self._events)
        except ConflictError:
            self.rollback()
            raise
        self._events = []
        return recorded

    def rollback(self) -> None:
        """Drop every staged write and event."""
        for staged in self._staged.values():
            staged.clear()
        self._events = []
