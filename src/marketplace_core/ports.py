"""The ports: what the library needs from its host, as :class:`typing.Protocol` s.

A host injects storage (a :class:`Storage` that opens :class:`UnitOfWork` s, one repository
per aggregate), a :class:`Clock`, an :class:`IdGenerator`, and optionally an
:class:`Authorizer`, a :class:`Notifier` and an :class:`EventSink`. The in-memory adapters in
:mod:`marketplace_core.adapters.memory` are the reference implementation of every port; the
contract each method states is what the library relies on.

Every repository works on immutable entity snapshots that carry ``id`` and ``version``.
``version`` counts committed writes: a new entity has version 0 and is stored as 1; each
update must present the version it was read at and is stored one higher.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self, TypeVar

from marketplace_core.billing.credits import Credit
from marketplace_core.billing.invoices import Invoice, InvoiceState
from marketplace_core.billing.items import InvoiceItem
from marketplace_core.billing.usage import UsageReport
from marketplace_core.events import DomainEvent, RecordedEvent
from marketplace_core.notifications import Notification
from marketplace_core.offerings import Category, Offering, Plan
from marketplace_core.orders import Order, OrderState
from marketplace_core.organizations import Organization, OrganizationGroup, Project, ServiceProvider
from marketplace_core.policies import MonthlyTotal, Policy
from marketplace_core.quotas import DenyRule, Quota
from marketplace_core.resources import Resource
from marketplace_core.roles import Permission, RoleGrant, Scope, ScopeKind
from marketplace_core.users import User


class Clock(Protocol):
    """The source of time. The library never reads the system clock itself."""

    def now(self) -> datetime:
        """The current instant as a timezone-aware ``datetime`` in UTC.

        Successive calls never go backwards.
        """
        ...


class IdGenerator(Protocol):
    """The source of ids for new entities."""

    def new_id(self, kind: str) -> str:
        """A fresh id for a new entity of ``kind`` (``"offering"``, ``"plan"``, ...).

        Never returns an id it returned before, for any kind.
        """
        ...


class Authorizer(Protocol):
    """Decides whether a user may act; the default reads the stored role grants."""

    def has_permission(self, user: User, permission: Permission, scope: Scope) -> bool:
        """Whether ``user`` holds ``permission`` on ``scope``.

        A permission held on any scope of ``scope.chain()`` holds on ``scope``. Must not
        write anything.
        """
        ...


class Notifier(Protocol):
    """Delivers messages to people (e-mail, chat, a queue...)."""

    def notify(self, notification: Notification) -> None:
        """Deliver ``notification`` to its recipients.

        Called after the command that caused it has committed. Failures should be handled
        (retried, logged) by the notifier: the command is already done.
        """
        ...


class EventSink(Protocol):
    """Receives committed domain events, in commit order."""

    def publish(self, events: Sequence[RecordedEvent]) -> None:
        """Take the events one unit of work committed, in their outbox order.

        Called after commit. If it raises, the command stays committed and the events stay
        in the outbox, where :meth:`Outbox.read` finds them again.
        """
        ...


class Versioned(Protocol):
    """What every stored entity has: an ``id`` and a ``version``."""

    @property
    def id(self) -> str: ...

    @property
    def version(self) -> int: ...


EntityT = TypeVar("EntityT", bound=Versioned)


class Repository(Protocol[EntityT]):
    """Storage of one aggregate type, seen through a unit of work.

    Reads see the unit's own uncommitted writes. Writes are staged in the unit and reach
    storage only on :meth:`UnitOfWork.commit`.
    """

    def get(self, entity_id: str) -> EntityT:
        """The entity with this id; raises :class:`~marketplace_core.errors.NotFoundError`."""
        ...

    def find(self, entity_id: str) -> EntityT | None:
        """The entity with this id, or ``None``."""
        ...

    def add(self, entity: EntityT) -> EntityT:
        """Stage a new entity (``version`` 0) and return it as stored (``version`` 1).

        Raises :class:`~marketplace_core.errors.ConflictError` (``already_exists``) when the
        id is taken.
        """
        ...

    def update(self, entity: EntityT) -> EntityT:
        """Stage a new snapshot of a stored entity and return it with ``version`` + 1.

        ``entity.version`` must equal the stored version; otherwise raises
        :class:`~marketplace_core.errors.ConflictError` (``stale_version``) and stages
        nothing. Raises :class:`~marketplace_core.errors.NotFoundError` for an unknown id.
        """
        ...

    def all(self) -> Sequence[EntityT]:
        """Every entity, oldest first."""
        ...


class OrganizationGroupRepository(Repository[OrganizationGroup], Protocol):
    """Organization groups."""


class OrganizationRepository(Repository[Organization], Protocol):
    """Organizations."""


class ProjectRepository(Repository[Project], Protocol):
    """Projects."""

    def for_organization(self, organization_id: str) -> Sequence[Project]:
        """The projects of one organization, oldest first."""
        ...


class UserRepository(Repository[User], Protocol):
    """Users."""

    def find_by_username(self, username: str) -> User | None:
        """The user with this exact username, or ``None``."""
        ...


class RoleGrantRepository(Repository[RoleGrant], Protocol):
    """Role grants."""

    def for_user(self, user_id: str) -> Sequence[RoleGrant]:
        """Every grant a user holds, oldest first."""
        ...

    def for_scope(self, kind: ScopeKind, scope_id: str) -> Sequence[RoleGrant]:
        """Every grant held on one scope, oldest first."""
        ...

    def remove(self, grant: RoleGrant) -> None:
        """Stage the removal of a grant, checking its version as :meth:`update` does."""
        ...


class ServiceProviderRepository(Repository[ServiceProvider], Protocol):
    """Service provider registrations, keyed by their organization's id."""


class CategoryRepository(Repository[Category], Protocol):
    """Catalogue categories."""


class OfferingRepository(Repository[Offering], Protocol):
    """Offerings."""

    def for_provider(self, provider_id: str) -> Sequence[Offering]:
        """The offerings of one provider organization, oldest first."""
        ...


class PlanRepository(Repository[Plan], Protocol):
    """Plans."""

    def for_offering(self, offering_id: str) -> Sequence[Plan]:
        """The plans of one offering, oldest first."""
        ...


class ResourceRepository(Repository[Resource], Protocol):
    """Resources."""

    def for_project(self, project_id: str) -> Sequence[Resource]:
        """The resources of one project, terminated ones included, oldest first."""
        ...

    def for_offering(self, offering_id: str) -> Sequence[Resource]:
        """The resources of one offering, terminated ones included, oldest first."""
        ...

    def count_live_on_plan(self, plan_id: str) -> int:
        """How many resources on the plan are not terminated."""
        ...


class OrderRepository(Repository[Order], Protocol):
    """Orders."""

    def for_resource(self, resource_id: str) -> Sequence[Order]:
        """The orders of one resource, oldest first."""
        ...

    def for_project(self, project_id: str) -> Sequence[Order]:
        """The orders of one project, oldest first."""
        ...

    def in_state(self, state: OrderState, limit: int | None = None) -> Sequence[Order]:
        """Orders in ``state``, oldest first, at most ``limit`` of them."""
        ...


class InvoiceRepository(Repository[Invoice], Protocol):
    """Invoices: at most one per organization and month."""

    def for_organization(self, organization_id: str) -> Sequence[Invoice]:
        """The invoices of one organization, oldest first."""
        ...

    def find_for_month(self, organization_id: str, month: date) -> Invoice | None:
        """The organization's invoice for ``month`` (its first day), or ``None``."""
        ...

    def in_state(self, state: InvoiceState) -> Sequence[Invoice]:
        """The invoices in ``state``, oldest first."""
        ...


class InvoiceItemRepository(Repository[InvoiceItem], Protocol):
    """Invoice items."""

    def for_invoice(self, invoice_id: str) -> Sequence[InvoiceItem]:
        """The items of one invoice, oldest first."""
        ...

    def for_resource(self, resource_id: str, month: date | None = None) -> Sequence[InvoiceItem]:
        """The items of one resource, oldest first: all of them, or those of one ``month``."""
        ...


class UsageReportRepository(Repository[UsageReport], Protocol):
    """Accepted usage reports."""

    def find_by_key(self, idempotency_key: str) -> UsageReport | None:
        """The report accepted with this idempotency key, or ``None``."""
        ...

    def for_component(
        self, resource_id: str, component_type: str, month: date | None = None
    ) -> Sequence[UsageReport]:
        """The reports of one component of one resource, oldest first: all of them, or
        those for one ``month``."""
        ...

    def latest(self, resource_id: str, component_type: str, month: date) -> UsageReport | None:
        """The report of one component of one resource for ``month`` accepted last (the
        month-to-date total in force), or ``None``. Reports are only ever added."""
        ...


class CreditRepository(Repository[Credit], Protocol):
    """Organization and project credits."""

    def for_organization(self, organization_id: str) -> Sequence[Credit]:
        """The credits of one organization and its projects, oldest first."""
        ...


class PolicyRepository(Repository[Policy], Protocol):
    """Policies."""

    def for_scope(self, scope_kind: ScopeKind, scope_id: str) -> Sequence[Policy]:
        """The policies attached to one scope, oldest first."""
        ...

    def remove(self, policy: Policy) -> None:
        """Stage the removal of a policy, checking its version as :meth:`update` does."""
        ...


class MonthlyTotalRepository(Repository[MonthlyTotal], Protocol):
    """The running monthly aggregates of scopes (ids from
    :func:`~marketplace_core.policies.monthly_total_id`)."""

    def for_scope(self, scope_kind: ScopeKind, scope_id: str) -> Sequence[MonthlyTotal]:
        """Every month's total of one scope, oldest first."""
        ...


class QuotaRepository(Repository[Quota], Protocol):
    """Quotas."""

    def for_scope(self, scope_kind: ScopeKind, scope_id: str) -> Sequence[Quota]:
        """The quotas of one scope, oldest first."""
        ...


class DenyRuleRepository(Repository[DenyRule], Protocol):
    """Deny rules."""

    def for_subject(self, subject_kind: ScopeKind, subject_id: str) -> Sequence[DenyRule]:
        """The rules barring one organization or project, oldest first."""
        ...

    def remove(self, rule: DenyRule) -> None:
        """Stage the removal of a rule, checking its version as :meth:`update` does."""
        ...


class Outbox(Protocol):
    """The committed events, in commit order."""

    def read(self, after: int = 0, limit: int | None = None) -> Sequence[RecordedEvent]:
        """Committed events with ``position > after``, in order, at most ``limit`` of them."""
        ...


class UnitOfWork(Protocol):
    """One atomic piece of work: every write and event of a command, or none of them.

    Use as a context manager. Leaving the block without :meth:`commit` discards everything
    staged, as does an exception.
    """

    @property
    def organization_groups(self) -> OrganizationGroupRepository: ...

    @property
    def organizations(self) -> OrganizationRepository: ...

    @property
    def projects(self) -> ProjectRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def role_grants(self) -> RoleGrantRepository: ...

    @property
    def providers(self) -> ServiceProviderRepository: ...

    @property
    def categories(self) -> CategoryRepository: ...

    @property
    def offerings(self) -> OfferingRepository: ...

    @property
    def plans(self) -> PlanRepository: ...

    @property
    def resources(self) -> ResourceRepository: ...

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def invoices(self) -> InvoiceRepository: ...

    @property
    def invoice_items(self) -> InvoiceItemRepository: ...

    @property
    def usage_reports(self) -> UsageReportRepository: ...

    @property
    def credits(self) -> CreditRepository: ...

    @property
    def policies(self) -> PolicyRepository: ...

    @property
    def monthly_totals(self) -> MonthlyTotalRepository: ...

    @property
    def quotas(self) -> QuotaRepository: ...

    @property
    def deny_rules(self) -> DenyRuleRepository: ...

    @property
    def outbox(self) -> Outbox: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Discard whatever was staged and not committed."""
        ...

    def emit(self, event: DomainEvent) -> None:
        """Stage an event; it is appended to the outbox by :meth:`commit`."""
        ...

    def commit(self) -> Sequence[RecordedEvent]:
        """Write every staged change and event atomically; return the events as recorded.

        Raises :class:`~marketplace_core.errors.ConflictError` (``stale_version``), writing
        nothing, when another unit committed a newer version of an entity this one changed
        since it was read. The unit may be used again after a commit.
        """
        ...

    def rollback(self) -> None:
        """Discard every staged change and event."""
        ...


class Storage(Protocol):
    """A place where aggregates live; opens units of work on it."""

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work (not yet entered)."""
        ...


class ClosableStorage(Storage, Protocol):
    """A storage holding a connection (or nothing) that its owner closes when done."""

    def close(self) -> None:
        """Release the connection; units of work on the storage can no longer be used."""
        ...
