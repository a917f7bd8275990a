"""The in-memory adapters: the reference implementation of every port.

:class:`InMemoryStorage` keeps committed entities in dictionaries with secondary indexes. A
unit of work stages its writes in front of them and applies them all at once on commit,
after checking that no entity it changed was committed by someone else in between; leaving
the unit without committing drops the staged writes, so nothing is left behind.

It is meant for tests, simulations and embedded hosts in one process. Threads may share it:
one lock serializes commits and every listing of the committed tables, so a listing never
meets a table being changed. There is no snapshot isolation: a unit of work sees other
units' commits as they land (two reads may straddle one commit), and a write based on a
stale read is refused at commit by its version. Hosts
with several processes use the SQLite or PostgreSQL adapters.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any, ClassVar, Generic, TypeVar

from marketplace_core.adapters import repositories as queries
from marketplace_core.adapters.staging import KeyFunction, Staged
from marketplace_core.adapters.unit_of_work import StagedUnitOfWork
from marketplace_core.billing.credits import Credit
from marketplace_core.billing.invoices import Invoice
from marketplace_core.billing.items import InvoiceItem
from marketplace_core.billing.usage import UsageReport
from marketplace_core.errors import ConflictError, ErrorCode, NotFoundError
from marketplace_core.events import DomainEvent, RecordedEvent
from marketplace_core.frozen import replace
from marketplace_core.notifications import Notification
from marketplace_core.offerings import Offering, Plan
from marketplace_core.orders import Order
from marketplace_core.organizations import Project
from marketplace_core.policies import MonthlyTotal, Policy
from marketplace_core.ports import Versioned
from marketplace_core.quotas import DenyRule, Quota
from marketplace_core.resources import Resource
from marketplace_core.roles import RoleGrant
from marketplace_core.users import User

EntityT = TypeVar("EntityT", bound=Versioned)
RepositoryT = TypeVar("RepositoryT", bound="InMemoryRepository[Any]")


class _Table(Generic[EntityT]):
    """The committed entities of one aggregate type, by id and by each secondary key.

    Every listing is oldest first: ``rows`` keeps insertion order, and an index bucket that
    an entity moved into (its key changed) is put back in order when it is next read.
    """

    def __init__(
        self, entity: str, lock: threading.Lock, indexes: Mapping[str, KeyFunction]
    ) -> None:
        self.entity = entity
        self.lock = lock
        """The storage's lock: held by commits, and by reads that iterate the table."""
        self.rows: dict[str, EntityT] = {}
        self.key_functions = dict(indexes)
        self.indexes: dict[str, dict[Hashable, dict[str, None]]] = {name: {} for name in indexes}
        self.position: dict[str, int] = {}
        self.next_position = 0
        self._unordered: set[tuple[str, Hashable]] = set()

    def put(self, entity: EntityT) -> None:
        old = self.rows.get(entity.id)
        self.rows[entity.id] = entity
        if old is None:
            self.position[entity.id] = self.next_position
            self.next_position += 1
        for name, key_of in self.key_functions.items():
            key = key_of(entity)
            if old is not None:
                old_key = key_of(old)
                if old_key == key:
                    continue
                self._drop(name, old_key, entity.id)
                self._unordered.add((name, key))
            self.indexes[name].setdefault(key, {})[entity.id] = None

    def delete(self, entity_id: str) -> None:
        entity = self.rows.pop(entity_id)
        del self.position[entity_id]
        for name, key_of in self.key_functions.items():
            self._drop(name, key_of(entity), entity_id)

    def bucket(self, index: str, key: Hashable) -> dict[str, None]:
        """The ids with ``key`` in ``index``, oldest first."""
        bucket = self.indexes[index].get(key)
        if bucket is None:
            return {}
        if (index, key) in self._unordered:
            self._unordered.discard((index, key))
            bucket = dict.fromkeys(sorted(bucket, key=self.position.__getitem__))
            self.indexes[index][key] = bucket
        return bucket

    def _drop(self, index: str, key: Hashable, entity_id: str) -> None:
        bucket = self.indexes[index][key]
        del bucket[entity_id]
        if not bucket:
            del self.indexes[index][key]
            self._unordered.discard((index, key))


class _Staged(Staged[EntityT]):
    """One unit of work's pending writes to one in-memory table (see :class:`Staged`)."""

    def __init__(self, table: _Table[EntityT]) -> None:
        super().__init__(table.key_functions)
        self.table = table

    def committed_position(self, entity_id: str) -> int | None:
        """Where the committed entity stands in the table's listings, or ``None``."""
        return self.table.position.get(entity_id)

    def find(self, entity_id: str) -> EntityT | None:
        if entity_id in self.writes:
            return self.writes[entity_id]
        return self.table.rows.get(entity_id)

    def listing(
        self,
        committed_ids: Iterable[str],
        matches: Callable[[EntityT], bool],
        candidates: Iterable[str] | None = None,
    ) -> list[EntityT]:
        """:meth:`Staged.merged` over the committed entities among ``committed_ids``."""
        table = self.table
        return self.merged(
            committed_ids, table.rows.__getitem__, table.position.get, matches, candidates
        )

    def conflicts(self) -> list[str]:
        rows = self.table.rows
        return [
            entity_id
            for entity_id, base in self.base_versions.items()
            if (rows[entity_id].version if entity_id in rows else 0) != base
        ]

    def apply(self) -> None:
        for entity_id, entity in self.writes.items():
            if entity is None:
                self.table.delete(entity_id)
            else:
                self.table.put(entity)
        self.clear()


def _with_version(entity: EntityT, version: int) -> EntityT:
    return replace(entity, version=version)


def _always(entity: object) -> bool:
    return True


class InMemoryRepository(queries.KeyedRepository[EntityT]):
    """A repository over one in-memory table, through one unit of work."""

    def __init__(self, staged: _Staged[EntityT]) -> None:
        self._staged = staged

    def get(self, entity_id: str) -> EntityT:
        """The entity with this id; raises ``NotFoundError``."""
        entity = self._staged.find(entity_id)
        if entity is None:
            raise NotFoundError(self._staged.table.entity, entity_id)
        return entity

    def find(self, entity_id: str) -> EntityT | None:
        """The entity with this id, or ``None``."""
        return self._staged.find(entity_id)

    def add(self, entity: EntityT) -> EntityT:
        """Stage a new entity and return it at version 1."""
        if self._staged.find(entity.id) is not None or entity.id in self._staged.table.rows:
            raise ConflictError(
                ErrorCode.ALREADY_EXISTS,
                f"{self._staged.table.entity} {entity.id!r} already exists",
                entity=self._staged.table.entity,
                id=entity.id,
            )
        stored = _with_version(entity, 1)
        self._staged.write(entity.id, stored, 0)
        return stored

    def update(self, entity: EntityT) -> EntityT:
        """Stage a new snapshot of a stored entity and return it at version + 1."""
        self._check_current(entity)
        stored = _with_version(entity, entity.version + 1)
        self._staged.write(entity.id, stored, entity.version)
        return stored

    def all(self) -> Sequence[EntityT]:
        """Every entity, oldest first."""
        with self._staged.table.lock:
            return self._staged.listing(self._staged.table.rows, _always)

    def _check_current(self, entity: EntityT) -> None:
        current = self.get(entity.id)
        if current.version != entity.version:
            raise ConflictError(
                ErrorCode.STALE_VERSION,
                f"{self._staged.table.entity} {entity.id!r} was changed by someone else: "
                f"you have version {entity.version}, storage has {current.version}; "
                "reload and retry",
                entity=self._staged.table.entity,
                id=entity.id,
                expected_version=entity.version,
                actual_version=current.version,
            )

    def _remove(self, entity: EntityT) -> None:
        self._check_current(entity)
        self._staged.write(entity.id, None, entity.version)

    def _by(self, index: str, key: queries.Key, limit: int | None = None) -> list[EntityT]:
        value = key[0] if len(key) == 1 else key
        staged = self._staged
        table = staged.table
        with table.lock:
            bucket = table.bucket(index, value)
            if not staged.writes:
                rows = table.rows
                found = [rows[entity_id] for entity_id in bucket]
            else:
                key_of = table.key_functions[index]
                found = staged.listing(
                    bucket,
                    lambda entity: key_of(entity) == value,
                    staged.written_under(index, value),
                )
        return found if limit is None else found[:limit]

    def _count(self, index: str, key: queries.Key) -> int:
        value = key[0] if len(key) == 1 else key
        staged = self._staged
        table = staged.table
        with table.lock:
            bucket = table.bucket(index, value)
            if not staged.writes:
                return len(bucket)
            key_of = table.key_functions[index]
            return staged.count(bucket, lambda entity: key_of(entity) == value)


class InMemoryProjectRepository(InMemoryRepository[Project], queries.ProjectQueries):
    """Projects, indexed by organization."""


class InMemoryUserRepository(InMemoryRepository[User], queries.UserQueries):
    """Users, indexed by username (unique, compared exactly)."""


class InMemoryRoleGrantRepository(InMemoryRepository[RoleGrant], queries.RoleGrantQueries):
    """Role grants, indexed by user and by scope."""


class InMemoryOfferingRepository(InMemoryRepository[Offering], queries.OfferingQueries):
    """Offerings, indexed by provider."""


class InMemoryPlanRepository(InMemoryRepository[Plan], queries.PlanQueries):
    """Plans, indexed by offering."""


class InMemoryResourceRepository(InMemoryRepository[Resource], queries.ResourceQueries):
    """Resources, indexed by project, offering and live plan."""


class InMemoryOrderRepository(InMemoryRepository[Order], queries.OrderQueries):
    """Orders, indexed by resource, project and state."""


class InMemoryInvoiceRepository(InMemoryRepository[Invoice], queries.InvoiceQueries):
    """Invoices, indexed by organization, month and state."""


class InMemoryInvoiceItemRepository(InMemoryRepository[InvoiceItem], queries.InvoiceItemQueries):
    """Invoice items, indexed by invoice, by resource and by resource and month."""


class InMemoryUsageReportRepository(InMemoryRepository[UsageReport], queries.UsageReportQueries):
    """Usage reports, indexed by idempotency key and by resource component."""

    def latest(self, resource_id: str, component_type: str, month: date) -> UsageReport | None:
        """The report accepted last for the month, without listing the month's reports."""
        key = (resource_id, component_type, month)
        staged = self._staged
        written = [i for i in staged.written_under("component_month", key) if i in staged.writes]
        if written:
            return staged.writes[max(written, key=staged.sequence.__getitem__)]
        with staged.table.lock:
            bucket = staged.table.bucket("component_month", key)
            return staged.table.rows[next(reversed(bucket))] if bucket else None


class InMemoryCreditRepository(InMemoryRepository[Credit], queries.CreditQueries):
    """Credits, indexed by organization."""


class InMemoryPolicyRepository(InMemoryRepository[Policy], queries.PolicyQueries):
    """Policies, indexed by scope."""


class InMemoryMonthlyTotalRepository(InMemoryRepository[MonthlyTotal], queries.MonthlyTotalQueries):
    """Monthly totals, indexed by scope."""


class InMemoryQuotaRepository(InMemoryRepository[Quota], queries.QuotaQueries):
    """Quotas, indexed by scope."""


class InMemoryDenyRuleRepository(InMemoryRepository[DenyRule], queries.DenyRuleQueries):
    """Deny rules, indexed by subject."""


class InMemoryOutbox:
    """The committed events of an in-memory storage."""

    def __init__(self, events: list[RecordedEvent]) -> None:
        self._events = events

    def read(self, after: int = 0, limit: int | None = None) -> Sequence[RecordedEvent]:
        """Committed events with ``position > after``, in order."""
        selected = self._events[max(after, 0) :]
        return selected if limit is None else selected[:limit]


class InMemoryStorage:
    """Every aggregate in dictionaries; the default storage for tests and simulations."""

    def __init__(self) -> None:
        self._lock = lock = threading.Lock()
        self._events: list[RecordedEvent] = []
        self._tables: dict[str, _Table[Any]] = {
            "organization_groups": _Table("organization group", lock, {}),
            "organizations": _Table("organization", lock, {}),
            "projects": _Table("project", lock, {"organization_id": _attr("organization_id")}),
            "users": _Table("user", lock, {"username": _attr("username")}),
            "role_grants": _Table(
                "role grant",
                lock,
                {
                    "user_id": _attr("user_id"),
                    "scope": lambda grant: (grant.scope_kind, grant.scope_id),
                },
            ),
            "providers": _Table("service provider", lock, {}),
            "categories": _Table("category", lock, {}),
            "offerings": _Table("offering", lock, {"provider_id": _attr("provider_id")}),
            "plans": _Table("plan", lock, {"offering_id": _attr("offering_id")}),
            "resources": _Table(
                "resource",
                lock,
                {
                    "project_id": _attr("project_id"),
                    "offering_id": _attr("offering_id"),
                    "live_plan": lambda resource: (resource.plan_id, resource.is_live),
                },
            ),
            "orders": _Table(
                "order",
                lock,
                {
                    "resource_id": _attr("resource_id"),
                    "project_id": _attr("project_id"),
                    "state": _attr("state"),
                },
            ),
            "invoices": _Table(
                "invoice",
                lock,
                {
                    "organization_id": _attr("organization_id"),
                    "month": lambda invoice: (invoice.organization_id, invoice.month),
                    "state": _attr("state"),
                },
            ),
            "invoice_items": _Table(
                "invoice item",
                lock,
                {
                    "invoice_id": _attr("invoice_id"),
                    "resource_id": _attr("resource_id"),
                    "resource_month": lambda item: (item.resource_id, item.month),
                },
            ),
            "usage_reports": _Table(
                "usage report",
                lock,
                {
                    "idempotency_key": _attr("idempotency_key"),
                    "component": lambda report: (report.resource_id, report.component_type),
                    "component_month": lambda report: (
                        report.resource_id,
                        report.component_type,
                        report.month,
                    ),
                },
            ),
            "credits": _Table("credit", lock, {"organization_id": _attr("organization_id")}),
            "policies": _Table("policy", lock, {"scope": _scope}),
            "monthly_totals": _Table("monthly total", lock, {"scope": _scope}),
            "quotas": _Table("quota", lock, {"scope": _scope}),
            "deny_rules": _Table(
                "deny rule", lock, {"subject": lambda rule: (rule.subject_kind, rule.subject_id)}
            ),
        }

    def unit_of_work(self) -> InMemoryUnitOfWork:
        """A new unit of work on this storage."""
        return InMemoryUnitOfWork(self)

    def close(self) -> None:
        """Nothing to release: the data lives as long as the storage object."""

    def _commit(
        self, staged: Iterable[_Staged[Any]], events: Sequence[DomainEvent]
    ) -> list[RecordedEvent]:
        staged = [table for table in staged if table.writes]
        with self._lock:
            for table in staged:
                stale = table.conflicts()
                if stale:
                    raise ConflictError(
                        ErrorCode.STALE_VERSION,
                        f"{table.table.entity} {stale[0]!r} was changed by another unit of "
                        "work since it was read; nothing was written, reload and retry",
                        entity=table.table.entity,
                        id=stale[0],
                    )
            for table in staged:
                table.apply()
            start = len(self._events) + 1
            recorded = [RecordedEvent(start + i, event) for i, event in enumerate(events)]
            self._events.extend(recorded)
            return recorded


def _attr(name: str) -> KeyFunction:
    return operator.attrgetter(name)


def _scope(entity: Any) -> Hashable:
    key: Hashable = (entity.scope_kind, entity.scope_id)
    return key


class InMemoryUnitOfWork(StagedUnitOfWork[_Staged[Any]]):
    """A unit of work on an :class:`InMemoryStorage`."""

    repository_kinds: ClassVar[Mapping[str, type[Any]]] = {
        "organization_groups": InMemoryRepository,
        "organizations": InMemoryRepository,
        "projects": InMemoryProjectRepository,
        "users": InMemoryUserRepository,
        "role_grants": InMemoryRoleGrantRepository,
        "providers": InMemoryRepository,
        "categories": InMemoryRepository,
        "offerings": InMemoryOfferingRepository,
        "plans": InMemoryPlanRepository,
        "resources": InMemoryResourceRepository,
        "orders": InMemoryOrderRepository,
        "invoices": InMemoryInvoiceRepository,
        "invoice_items": InMemoryInvoiceItemRepository,
        "usage_reports": InMemoryUsageReportRepository,
        "credits": InMemoryCreditRepository,
        "policies": InMemoryPolicyRepository,
        "monthly_totals": InMemoryMonthlyTotalRepository,
        "quotas": InMemoryQuotaRepository,
        "deny_rules": InMemoryDenyRuleRepository,
    }

    def __init__(self, storage: InMemoryStorage) -> None:
        super().__init__()
        self._storage = storage
        self._repositories: dict[str, Any] = {}

    def _repository(self, name: str, kind: type[RepositoryT]) -> RepositoryT:
        repository = self._repositories.get(name)
        if repository is None:
            staged = self._staged[name] = _Staged(self._storage._tables[name])
            repository = self._repositories[name] = kind(staged)
        return repository

    def _write(
        self, staged: Sequence[_Staged[Any]], events: Sequence[DomainEvent]
    ) -> list[RecordedEvent]:
        return self._storage._commit(staged, events)

    @property
    def outbox(self) -> InMemoryOutbox:
        """The committed events."""
        return InMemoryOutbox(self._storage._events)


class EventLog:
    """An event sink that keeps every published event in a list, in order."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []

    def publish(self, events: Sequence[RecordedEvent]) -> None:
        """Append ``events``."""
        self.events.extend(events)


class RecordingNotifier:
    """A notifier that keeps every notification in a list instead of sending it."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def notify(self, notification: Notification) -> None:
        """Append ``notification``."""
        self.sent.append(notification)
