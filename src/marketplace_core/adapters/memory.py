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

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import date
from functools import cached_property
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from marketplace_core.billing.credits import Credit
from marketplace_core.billing.invoices import Invoice, InvoiceState
from marketplace_core.billing.items import InvoiceItem
from marketplace_core.billing.usage import UsageReport
from marketplace_core.errors import ConflictError, ErrorCode, NotFoundError
from marketplace_core.events import DomainEvent, RecordedEvent
from marketplace_core.frozen import replace
from marketplace_core.notifications import Notification
from marketplace_core.offerings import Category, Offering, Plan
from marketplace_core.orders import Order, OrderState
from marketplace_core.organizations import Organization, OrganizationGroup, Project, ServiceProvider
from marketplace_core.policies import MonthlyTotal, Policy
from marketplace_core.ports import Versioned
from marketplace_core.quotas import DenyRule, Quota
from marketplace_core.resources import Resource
from marketplace_core.roles import RoleGrant, ScopeKind
from marketplace_core.users import User

EntityT = TypeVar("EntityT", bound=Versioned)
RepositoryT = TypeVar("RepositoryT", bound="InMemoryRepository[Any]")

KeyFunction = Callable[[Any], Hashable]


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


class _Staged(Generic[EntityT]):
    """One unit of work's pending writes to one table (``None`` marks a removal).

    ``keyed`` indexes the written ids by each secondary key they were written under, so a
    lookup by key visits only the writes that may match, however many the unit holds.
    """

    def __init__(self, table: _Table[EntityT]) -> None:
        self.table = table
        self.writes: dict[str, EntityT | None] = {}
        self.base_versions: dict[str, int] = {}
        self.sequence: dict[str, int] = {}
        """The order in which ids were first written (the order of ``writes``)."""
        self.next_sequence = 0
        """Only ever grows: an id removed from ``sequence`` never gives its number away."""
        self.keyed: dict[str, dict[Hashable, dict[str, None]]] = {
            name: {} for name in table.key_functions
        }

    def find(self, entity_id: str) -> EntityT | None:
        if entity_id in self.writes:
            return self.writes[entity_id]
        return self.table.rows.get(entity_id)

    def write(self, entity_id: str, entity: EntityT | None, base_version: int) -> None:
        if entity is None and entity_id not in self.table.rows:
            # Removing what this unit added: as if it had never been added.
            del self.writes[entity_id]
            del self.base_versions[entity_id]
            del self.sequence[entity_id]
            return
        self.base_versions.setdefault(entity_id, base_version)
        if entity_id not in self.sequence:
            self.sequence[entity_id] = self.next_sequence
            self.next_sequence += 1
        self.writes[entity_id] = entity
        if entity is not None:
            for name, key_of in self.table.key_functions.items():
                self.keyed[name].setdefault(key_of(entity), {})[entity_id] = None

    def written_under(self, index: str, key: Hashable) -> Iterable[str]:
        """The ids written under ``key`` of ``index`` (some may have moved on since)."""
        return self.keyed[index].get(key, {})

    def clear(self) -> None:
        self.writes.clear()
        self.base_versions.clear()
        self.sequence.clear()
        self.next_sequence = 0
        for buckets in self.keyed.values():
            buckets.clear()

    def merged(
        self,
        committed_ids: Iterable[str],
        matches: Callable[[EntityT], bool],
        candidates: Iterable[str] | None = None,
    ) -> list[EntityT]:
        """Committed entities among ``committed_ids``, overlaid with this unit's writes,
        plus the unit's other written entities that ``matches`` accepts (looking only at
        ``candidates`` when given); oldest first."""
        result: list[EntityT] = []
        seen: set[str] = set()
        for entity_id in committed_ids:
            seen.add(entity_id)
            if entity_id in self.writes:
                staged = self.writes[entity_id]
                if staged is not None and matches(staged):
                    result.append(staged)
            else:
                result.append(self.table.rows[entity_id])
        moved_in = False
        others: Iterable[tuple[str, EntityT | None]]
        if candidates is None:
            others = self.writes.items()
        else:
            ids = sorted(
                (i for i in candidates if i not in seen and i in self.writes),
                key=self.sequence.__getitem__,
            )
            others = [(entity_id, self.writes[entity_id]) for entity_id in ids]
        for entity_id, entity in others:
            if entity is not None and entity_id not in seen and matches(entity):
                result.append(entity)
                moved_in = moved_in or entity_id in self.table.position
        if moved_in:
            newest = self.table.next_position
            result.sort(key=lambda e: self.table.position.get(e.id, newest))
        return result

    def count(self, committed_ids: Mapping[str, None], matches: Callable[[EntityT], bool]) -> int:
        """How many entities :meth:`merged` would list, without listing them."""
        total = len(committed_ids)
        for entity_id, entity in self.writes.items():
            listed = entity is not None and matches(entity)
            if entity_id in committed_ids:
                total -= not listed
            else:
                total += listed
        return total

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


class InMemoryRepository(Generic[EntityT]):
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
            return self._staged.merged(self._staged.table.rows, _always)

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

    def _by(self, index: str, key: Hashable) -> list[EntityT]:
        key_of = self._staged.table.key_functions[index]
        with self._staged.table.lock:
            return self._staged.merged(
                self._staged.table.bucket(index, key),
                lambda entity: key_of(entity) == key,
                self._staged.written_under(index, key),
            )


class InMemoryProjectRepository(InMemoryRepository[Project]):
    """Projects, indexed by organization."""

    def for_organization(self, organization_id: str) -> Sequence[Project]:
        """The projects of one organization, oldest first."""
        return self._by("organization_id", organization_id)


class InMemoryUserRepository(InMemoryRepository[User]):
    """Users, indexed by username."""

    def find_by_username(self, username: str) -> User | None:
        """The user with this username, or ``None``."""
        matches = self._by("username", username)
        return matches[0] if matches else None


class InMemoryRoleGrantRepository(InMemoryRepository[RoleGrant]):
    """Role grants, indexed by user and by scope."""

    def for_user(self, user_id: str) -> Sequence[RoleGrant]:
        """Every grant a user holds."""
        return self._by("user_id", user_id)

    def for_scope(self, kind: ScopeKind, scope_id: str) -> Sequence[RoleGrant]:
        """Every grant held on one scope."""
        return self._by("scope", (kind, scope_id))

    def remove(self, grant: RoleGrant) -> None:
        """Stage the removal of a grant."""
        self._remove(grant)


class InMemoryOfferingRepository(InMemoryRepository[Offering]):
    """Offerings, indexed by provider."""

    def for_provider(self, provider_id: str) -> Sequence[Offering]:
        """The offerings of one provider organization."""
        return self._by("provider_id", provider_id)


class InMemoryPlanRepository(InMemoryRepository[Plan]):
    """Plans, indexed by offering."""

    def for_offering(self, offering_id: str) -> Sequence[Plan]:
        """The plans of one offering."""
        return self._by("offering_id", offering_id)


class InMemoryResourceRepository(InMemoryRepository[Resource]):
    """Resources, indexed by project, offering and live plan."""

    def for_project(self, project_id: str) -> Sequence[Resource]:
        """The resources of one project."""
        return self._by("project_id", project_id)

    def for_offering(self, offering_id: str) -> Sequence[Resource]:
        """The resources of one offering."""
        return self._by("offering_id", offering_id)

    def count_live_on_plan(self, plan_id: str) -> int:
        """How many resources on the plan are not terminated."""
        key = (plan_id, True)
        with self._staged.table.lock:
            return self._staged.count(
                self._staged.table.bucket("live_plan", key),
                lambda resource: (resource.plan_id, resource.is_live) == key,
            )


class InMemoryOrderRepository(InMemoryRepository[Order]):
    """Orders, indexed by resource, project and state."""

    def for_resource(self, resource_id: str) -> Sequence[Order]:
        """The orders of one resource."""
        return self._by("resource_id", resource_id)

    def for_project(self, project_id: str) -> Sequence[Order]:
        """The orders of one project."""
        return self._by("project_id", project_id)

    def in_state(self, state: OrderState, limit: int | None = None) -> Sequence[Order]:
        """Orders in ``state``, oldest first."""
        orders = self._by("state", state)
        return orders if limit is None else orders[:limit]


class InMemoryInvoiceRepository(InMemoryRepository[Invoice]):
    """Invoices, indexed by organization, month and state."""

    def for_organization(self, organization_id: str) -> Sequence[Invoice]:
        """The invoices of one organization."""
        return self._by("organization_id", organization_id)

    def find_for_month(self, organization_id: str, month: date) -> Invoice | None:
        """The organization's invoice for ``month``, or ``None``."""
        found = self._by("month", (organization_id, month))
        return found[0] if found else None

    def in_state(self, state: InvoiceState) -> Sequence[Invoice]:
        """The invoices in ``state``."""
        return self._by("state", state)


class InMemoryInvoiceItemRepository(InMemoryRepository[InvoiceItem]):
    """Invoice items, indexed by invoice, by resource and by resource and month."""

    def for_invoice(self, invoice_id: str) -> Sequence[InvoiceItem]:
        """The items of one invoice."""
        return self._by("invoice_id", invoice_id)

    def for_resource(self, resource_id: str, month: date | None = None) -> Sequence[InvoiceItem]:
        """The items of one resource, or of one resource in one month."""
        if month is None:
            return self._by("resource_id", resource_id)
        return self._by("resource_month", (resource_id, month))


class InMemoryUsageReportRepository(InMemoryRepository[UsageReport]):
    """Usage reports, indexed by idempotency key and by resource component."""

    def find_by_key(self, idempotency_key: str) -> UsageReport | None:
        """The report accepted with this key, or ``None``."""
        found = self._by("idempotency_key", idempotency_key)
        return found[0] if found else None

    def for_component(
        self, resource_id: str, component_type: str, month: date | None = None
    ) -> Sequence[UsageReport]:
        """The reports of one component of one resource, or of it in one month."""
        if month is None:
            return self._by("component", (resource_id, component_type))
        return self._by("component_month", (resource_id, component_type, month))

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


class InMemoryCreditRepository(InMemoryRepository[Credit]):
    """Credits, indexed by organization."""

    def for_organization(self, organization_id: str) -> Sequence[Credit]:
        """The credits of one organization and its projects."""
        return self._by("organization_id", organization_id)


class InMemoryPolicyRepository(InMemoryRepository[Policy]):
    """Policies, indexed by scope."""

    def for_scope(self, scope_kind: ScopeKind, scope_id: str) -> Sequence[Policy]:
        """The policies of one scope."""
        return self._by("scope", (scope_kind, scope_id))

    def remove(self, policy: Policy) -> None:
        """Stage the removal of a policy."""
        self._remove(policy)


class InMemoryMonthlyTotalRepository(InMemoryRepository[MonthlyTotal]):
    """Monthly totals, indexed by scope."""

    def for_scope(self, scope_kind: ScopeKind, scope_id: str) -> Sequence[MonthlyTotal]:
        """Every month's total of one scope."""
        return self._by("scope", (scope_kind, scope_id))


class InMemoryQuotaRepository(InMemoryRepository[Quota]):
    """Quotas, indexed by scope."""

    def for_scope(self, scope_kind: ScopeKind, scope_id: str) -> Sequence[Quota]:
        """The quotas of one scope."""
        return self._by("scope", (scope_kind, scope_id))


class InMemoryDenyRuleRepository(InMemoryRepository[DenyRule]):
    """Deny rules, indexed by subject."""

    def for_subject(self, subject_kind: ScopeKind, subject_id: str) -> Sequence[DenyRule]:
        """The rules barring one organization or project."""
        return self._by("subject", (subject_kind, subject_id))

    def remove(self, rule: DenyRule) -> None:
        """Stage the removal of a rule."""
        self._remove(rule)


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
    return lambda entity: getattr(entity, name)


def _scope(entity: Any) -> Hashable:
    key: Hashable = (entity.scope_kind, entity.scope_id)
    return key


class InMemoryUnitOfWork:
    """A unit of work on an :class:`InMemoryStorage`."""

    def __init__(self, storage: InMemoryStorage) -> None:
        self._storage = storage
        self._staged: dict[str, _Staged[Any]] = {}
        self._repositories: dict[str, Any] = {}
        self._events: list[DomainEvent] = []

    def _repository(self, name: str, kind: type[RepositoryT]) -> RepositoryT:
        repository = self._repositories.get(name)
        if repository is None:
            staged = self._staged[name] = _Staged(self._storage._tables[name])
            repository = self._repositories[name] = kind(staged)
        return repository

    @cached_property
    def organization_groups(self) -> InMemoryRepository[OrganizationGroup]:
        """Organization groups."""
        return self._repository("organization_groups", InMemoryRepository)

    @cached_property
    def organizations(self) -> InMemoryRepository[Organization]:
        """Organizations."""
        return self._repository("organizations", InMemoryRepository)

    @cached_property
    def projects(self) -> InMemoryProjectRepository:
        """Projects."""
        return self._repository("projects", InMemoryProjectRepository)

    @cached_property
    def users(self) -> InMemoryUserRepository:
        """Users."""
        return self._repository("users", InMemoryUserRepository)

    @cached_property
    def role_grants(self) -> InMemoryRoleGrantRepository:
        """Role grants."""
        return self._repository("role_grants", InMemoryRoleGrantRepository)

    @cached_property
    def providers(self) -> InMemoryRepository[ServiceProvider]:
        """Service provider registrations."""
        return self._repository("providers", InMemoryRepository)

    @cached_property
    def categories(self) -> InMemoryRepository[Category]:
        """Categories."""
        return self._repository("categories", InMemoryRepository)

    @cached_property
    def offerings(self) -> InMemoryOfferingRepository:
        """Offerings."""
        return self._repository("offerings", InMemoryOfferingRepository)

    @cached_property
    def plans(self) -> InMemoryPlanRepository:
        """Plans."""
        return self._repository("plans", InMemoryPlanRepository)

    @cached_property
    def resources(self) -> InMemoryResourceRepository:
        """Resources."""
        return self._repository("resources", InMemoryResourceRepository)

    @cached_property
    def orders(self) -> InMemoryOrderRepository:
        """Orders."""
        return self._repository("orders", InMemoryOrderRepository)

    @cached_property
    def invoices(self) -> InMemoryInvoiceRepository:
        """Invoices."""
        return self._repository("invoices", InMemoryInvoiceRepository)

    @cached_property
    def invoice_items(self) -> InMemoryInvoiceItemRepository:
        """Invoice items."""
        return self._repository("invoice_items", InMemoryInvoiceItemRepository)

    @cached_property
    def usage_reports(self) -> InMemoryUsageReportRepository:
        """Usage reports."""
        return self._repository("usage_reports", InMemoryUsageReportRepository)

    @cached_property
    def credits(self) -> InMemoryCreditRepository:
        """Credits."""
        return self._repository("credits", InMemoryCreditRepository)

    @cached_property
    def policies(self) -> InMemoryPolicyRepository:
        """Policies."""
        return self._repository("policies", InMemoryPolicyRepository)

    @cached_property
    def monthly_totals(self) -> InMemoryMonthlyTotalRepository:
        """Monthly totals of scopes."""
        return self._repository("monthly_totals", InMemoryMonthlyTotalRepository)

    @cached_property
    def quotas(self) -> InMemoryQuotaRepository:
        """Quotas."""
        return self._repository("quotas", InMemoryQuotaRepository)

    @cached_property
    def deny_rules(self) -> InMemoryDenyRuleRepository:
        """Deny rules."""
        return self._repository("deny_rules", InMemoryDenyRuleRepository)

    @property
    def outbox(self) -> InMemoryOutbox:
        """The committed events."""
        return InMemoryOutbox(self._storage._events)

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
        """Apply every staged write and event at once, or raise ``ConflictError``."""
        try:
            recorded = self._storage._commit(self._staged.values(), self._events)
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
