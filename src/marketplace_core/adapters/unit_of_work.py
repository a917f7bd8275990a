"""What every adapter's unit of work shares: its repositories, wired by name, and the staging
of events, commit and rollback around an adapter's own write of the staged changes.

An adapter subclasses :class:`StagedUnitOfWork`, names its repository class for each
repository in :attr:`~StagedUnitOfWork.repository_kinds`, and implements
:meth:`~StagedUnitOfWork._repository` (a repository over a new :class:`Staged` of one table)
and :meth:`~StagedUnitOfWork._write` (every staged change and event, at once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar, overload

from marketplace_core.adapters.staging import Staged
from marketplace_core.errors import ConflictError
from marketplace_core.events import DomainEvent, RecordedEvent
from marketplace_core.ports import (
    CategoryRepository,
    CreditRepository,
    DenyRuleRepository,
    InvoiceItemRepository,
    InvoiceRepository,
    MonthlyTotalRepository,
    OfferingRepository,
    OrderRepository,
    OrganizationGroupRepository,
    OrganizationRepository,
    PlanRepository,
    PolicyRepository,
    ProjectRepository,
    QuotaRepository,
    ResourceRepository,
    RoleGrantRepository,
    ServiceProviderRepository,
    UsageReportRepository,
    UserRepository,
)

T = TypeVar("T")
StagedT = TypeVar("StagedT", bound=Staged[Any])


class Wired(Generic[T]):
    """A repository of a unit of work, made on first use from the unit's repository kind
    of the same name, then kept on the unit."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, unit: None, owner: type) -> Self: ...

    @overload
    def __get__(self, unit: StagedUnitOfWork[Any], owner: type) -> T: ...

    def __get__(self, unit: StagedUnitOfWork[Any] | None, owner: type) -> Self | T:
        if unit is None:
            return self
        repository: T = unit._repository(self.name, unit.repository_kinds[self.name])
        unit.__dict__[self.name] = repository
        return repository


class StagedUnitOfWork(Generic[StagedT]):
    """A unit of work that stages writes per table (:attr:`_staged`) and events until
    :meth:`commit`."""

    repository_kinds: ClassVar[Mapping[str, type[Any]]]
    """The adapter's repository class for each repository, by name."""

    organization_groups: Wired[OrganizationGroupRepository] = Wired()
    organizations: Wired[OrganizationRepository] = Wired()
    projects: Wired[ProjectRepository] = Wired()
    users: Wired[UserRepository] = Wired()
    role_grants: Wired[RoleGrantRepository] = Wired()
    providers: Wired[ServiceProviderRepository] = Wired()
    categories: Wired[CategoryRepository] = Wired()
    offerings: Wired[OfferingRepository] = Wired()
    plans: Wired[PlanRepository] = Wired()
    resources: Wired[ResourceRepository] = Wired()
    orders: Wired[OrderRepository] = Wired()
    invoices: Wired[InvoiceRepository] = Wired()
    invoice_items: Wired[InvoiceItemRepository] = Wired()
    usage_reports: Wired[UsageReportRepository] = Wired()
    credits: Wired[CreditRepository] = Wired()
    policies: Wired[PolicyRepository] = Wired()
    monthly_totals: Wired[MonthlyTotalRepository] = Wired()
    quotas: Wired[QuotaRepository] = Wired()
    deny_rules: Wired[DenyRuleRepository] = Wired()

    def __init__(self) -> None:
        self._staged: dict[str, StagedT] = {}
        self._events: list[DomainEvent] = []

    def _repository(self, name: str, kind: type[Any]) -> Any:
        """A ``kind`` repository over the table ``name``, staging into :attr:`_staged`."""
        raise NotImplementedError

    def _write(
        self, staged: Sequence[StagedT], events: Sequence[DomainEvent]
    ) -> list[RecordedEvent]:
        """Write ``staged`` and ``events`` at once, or raise ``ConflictError`` and write
        nothing; return the events as recorded."""
        raise NotImplementedError

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
        """Write every staged change and event at once, or raise ``ConflictError`` and
        write nothing."""
        try:
            recorded = self._write(list(self._staged.values()), self._events)
        except ConflictError:
            self.rollback()
            raise
        self._events = []
        return recorded

    def rollback(self) -> None:
        """Drop every staged write and event."""
        for staged in self._staged.values():
            if staged.next_sequence:  # written to since the last clear
                staged.clear()
        self._events = []
