"""The :class:`Marketplace` facade: the commands and queries a host calls.

The facade holds no rule. Each of its commands is a handler function from
:mod:`marketplace_core.services`, run in a fresh unit of work: the handler checks the actor's
permission, applies the rules and stages its writes and events; the facade commits, then hands
the committed events to the event sink and the notifications to the notifier. Orders that the
command sent to ``executing`` are handed to their processors before the commit, in the same
unit of work (unless the host processes them from a worker). A handler that raises leaves
storage as it was.
"""

from __future__ import annotations

import decimal
import functools
import inspect
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Concatenate, Generic, ParamSpec, Self, TypeVar, overload

import attrs

from marketplace_core.adapters.memory import InMemoryStorage
from marketplace_core.authorization import RoleAuthorizer
from marketplace_core.billing.quantities import DEFAULT_ROUNDING, Rounding
from marketplace_core.billing.usage import UsageReport
from marketplace_core.clocks import SystemClock
from marketplace_core.errors import ConflictError, ErrorCode, MarketplaceError, ValidationError
from marketplace_core.events import RecordedEvent
from marketplace_core.ids import UuidGenerator
from marketplace_core.inputs import require_text
from marketplace_core.orders import Order
from marketplace_core.plugins import PluginRegistry, UsageSource
from marketplace_core.ports import Authorizer, Clock, EventSink, IdGenerator, Notifier, Storage
from marketplace_core.roles import DEFAULT_ROLE_PERMISSIONS, Permission, Role
from marketplace_core.services import (
    catalogue,
    claims,
    due_jobs,
    fulfilment,
    invoicing,
    orders,
    organizations,
    policies,
    policy_dry_run,
    policy_engine,
    quotas,
    usage,
    usage_pull,
    users,
)
from marketplace_core.services.context import Context

P = ParamSpec("P")
R = TypeVar("R")


RECORD_ATTEMPTS = 5
"""How often a worker records a processor's answer before it gives the order up."""


class _Command(Generic[P, R]):
    """Exposes a handler ``handler(ctx, *args)`` as a facade method ``method(*args)``.

    The bound method carries the handler's name, docstring and signature (without ``ctx``),
    and is cached on the instance, so calling a command costs one dictionary lookup more
    than calling the handler.
    """

    def __init__(self, handler: Callable[Concatenate[Context, P], R]) -> None:
        self.handler = handler
        self.__doc__ = handler.__doc__
        parameters = list(inspect.signature(handler).parameters.values())[1:]
        self.signature = inspect.signature(handler).replace(parameters=parameters)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Self: ...

    @overload
    def __get__(self, instance: Marketplace, owner: type) -> Callable[P, R]: ...

    def __get__(self, instance: Marketplace | None, owner: type) -> Self | Callable[P, R]:
        if instance is None:
            return self
        run = instance._run
        handler = self.handler

        @functools.wraps(handler)
        def method(*args: P.args, **kwargs: P.kwargs) -> R:
            return run(handler, *args, **kwargs)

        method.__signature__ = self.signature  # type: ignore[attr-defined]
        instance.__dict__[self.name] = method
        return method


@attrs.frozen
class BillingReport:
    """What :meth:`Marketplace.run_billing` did."""

    month: date
    """The month billed (its first day)."""
    plans_repriced: tuple[str, ...]
    """The plans whose scheduled prices became current."""
    organizations: tuple[str, ...]
    """The organizations billed."""
    issued: tuple[str, ...]
    """The invoices of earlier months issued."""
    skipped: tuple[tuple[str, str], ...] = ()
    """``(organization id, error code)`` for organizations whose billing was refused; they
    are billed by the next run."""


@attrs.frozen
class UsagePullReport:
    """What a usage pull did: the month, the usage reports ingested (repeats of earlier
    answers included), and ``(resource id, message)`` for each resource whose backend
    failed or whose answer was refused."""

    month: date
    reports: tuple[UsageReport, ...]
    failed: tuple[tuple[str, str], ...]


@attrs.frozen
class DueJobsReport:
    """What :meth:`Marketplace.run_due_jobs` did."""

    terminations: tuple[str, ...]
    """The termination orders placed."""
    released: tuple[str, ...]
    """The orders moved out of ``pending-project``."""
    skipped: tuple[tuple[str, str], ...]
    """``(resource or order id, error code)`` for the work that was refused, to retry later."""
    policies: tuple[str, ...] = ()
    """The policies whose state changed when every policy was evaluated (a period ended,
    say)."""


class Marketplace:
    """A marketplace over the storage and ports a host injects.

    Every argument is optional: ``Marketplace()`` runs on in-memory storage, the system
    clock and random ids, with the default role table, no plugins, no event sink and no
    notifier. ``authorizer`` replaces the default :class:`RoleAuthorizer` (stored role grants
    read through ``role_permissions``). With ``process_immediately`` (the default) an order
    that reaches ``executing`` is handed to its processor by the command that sent it there,
    and what the processor answers is committed with the rest of the command; a host with
    workers turns it off and calls :meth:`process_executing_orders`.
    """

    def __init__(
        self,
        storage: Storage | None = None,
        *,
        clock: Clock | None = None,
        ids: IdGenerator | None = None,
        plugins: PluginRegistry | None = None,
        authorizer: Authorizer | None = None,
        role_permissions: Mapping[Role, frozenset[Permission]] = DEFAULT_ROLE_PERMISSIONS,
        event_sink: EventSink | None = None,
        notifier: Notifier | None = None,
        process_immediately: bool = True,
        rounding: Rounding = DEFAULT_ROUNDING,
    ) -> None:
        self.storage: Storage = storage if storage is not None else InMemoryStorage()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.ids: IdGenerator = ids if ids is not None else UuidGenerator()
        self.plugins = plugins if plugins is not None else PluginRegistry()
        self._authorizer = authorizer
        self._role_permissions = role_permissions
        self._event_sink = event_sink
        self._notifier = notifier
        self.process_immediately = process_immediately
        if not isinstance(rounding, Rounding):
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"rounding must be a Rounding, got {rounding!r}",
                field="rounding",
                value=repr(rounding),
            )
        self.rounding = rounding

    def _run(
        self, handler: Callable[Concatenate[Context, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        try:
            return self._run_unit(handler, *args, **kwargs)
        except decimal.DecimalException as error:  # inputs are bounded; this is the last guard
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                "amounts in this command are too large to compute exactly "
                f"({type(error).__name__}); use smaller prices, limits or usage",
                field="amount",
                value=type(error).__name__,
            ) from error

    def _run_unit(
        self, handler: Callable[Concatenate[Context, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        with self.storage.unit_of_work() as uow:
            context = Context(
                uow=uow,
                now=self.clock.now(),
                ids=self.ids,
                authorizer=self._authorizer
                or RoleAuthorizer(uow.role_grants, self._role_permissions),
                plugins=self.plugins,
                rounding=self.rounding,
            )
            result = handler(context, *args, **kwargs)
            processed_count = 0
            while True:
                if self.process_immediately:
                    while processed_count < len(context.to_process):
                        order_id = context.to_process[processed_count]
                        processed_count += 1
                        processed = fulfilment.process_order(context, order_id)
                        if isinstance(result, Order) and result.id == processed.id:
                            result = processed  # type: ignore[assignment]  # same type
                if not policy_engine.settle(context):
                    break
            recorded = uow.commit()
        if recorded and self._event_sink is not None:
            self._event_sink.publish(recorded)
        if self._notifier is not None:
            for notification in context.notifications:
                self._notifier.notify(notification)
        return result

    def process_executing_orders(
        self,
        limit: int | None = None,
        *,
        worker_id: str | None = None,
        lease_seconds: int = claims.PROCESSING_LEASE_SECONDS,
    ) -> list[Order]:
        """Hand executing orders to their processors, oldest first, each in its own unit of
        work; returns the orders as processed (at most ``limit``).

        With several workers on one storage, give each a ``worker_id``: a worker then claims
        each order for ``lease_seconds`` in a unit of work of its own before it calls the
        processor, so no two workers call a processor for the same order. Workers start at
        different places in the list (by their id), so they seldom race for one order.
        Without a ``worker_id``, orders that another worker took in the meantime are skipped
        after the processor was called.
        """
        if worker_id is not None:
            require_text(worker_id, "worker_id", max_length=200)
        candidates = list(self._run(fulfilment.list_orders_to_process, None, worker_id))
        if worker_id is not None and candidates:
            start = zlib.crc32(worker_id.encode()) % len(candidates)
            candidates = candidates[start:] + candidates[:start]
        processed: list[Order] = []
        answers: dict[str, object] = {}
        for order_id in candidates:
            if limit is not None and len(processed) >= limit:
                break
            try:
                if worker_id is not None:
                    self._run(claims.claim_order_for_processing, order_id, worker_id, lease_seconds)
                processed.append(self._record_answer(order_id, worker_id, answers))
            except ConflictError:
                continue
            except ValidationError as error:
                if error.code is not ErrorCode.ORDER_NOT_EXECUTING:
                    raise
        return processed

    def _record_answer(
        self, order_id: str, worker_id: str | None, answers: dict[str, object]
    ) -> Order:
        """Process one order; when the unit recording the processor's answer conflicts
        while this worker holds the order, record the same answer again (a few times)."""
        for _ in range(RECORD_ATTEMPTS - 1):
            try:
                return self._run(fulfilment.process_order_remembering, order_id, worker_id, answers)
            except ConflictError as error:
                if worker_id is None or order_id not in answers:
                    raise
                if error.code is ErrorCode.ORDER_CLAIMED:
                    raise
        return self._run(fulfilment.process_order_remembering, order_id, worker_id, answers)

    def run_due_jobs(self) -> DueJobsReport:
        """The daily work, as the system: evaluate every policy (so a period boundary resets
        what is in force even when nothing triggers it), terminate resources past their end
        date and the resources of ended projects, and release orders whose project has
        started.

        Each piece of work runs in its own unit of work; work that is refused (a resource with
        an executing order, say) is reported in ``skipped`` and tried again next time.
        """
        changed = self._run(policy_engine.evaluate_all)
        work = self._run(due_jobs.find_due_work)
        terminations: list[str] = []
        released: list[str] = []
        skipped: list[tuple[str, str]] = []
        for resource_id, reason in work.resources_to_terminate:
            try:
                order = self._run(due_jobs.terminate_due_resource, resource_id, reason)
            except MarketplaceError as error:
                skipped.append((resource_id, str(error.code)))
                continue
            if order is not None:
                terminations.append(order.id)
        for order_id in work.orders_to_release:
            try:
                released.append(self._run(due_jobs.release_order, order_id).id)
            except MarketplaceError as error:
                skipped.append((order_id, str(error.code)))
        return DueJobsReport(tuple(terminations), tuple(released), tuple(skipped), tuple(changed))

    def run_billing(self, month: date | None = None) -> BillingReport:
        """The monthly billing run, as the system, for ``month`` (its first day; default:
        the current month).

        Makes scheduled plan prices current, opens the month's items of every billed
        resource, and issues every pending invoice of an earlier month (applying credits).
        Each organization is billed in its own unit of work; one that is refused (a
        conflict with a concurrent command, say) is reported in ``skipped`` and billed by
        the next run. Running it again finishes an interrupted run and otherwise changes
        nothing. Months already closed are refused.
        """
        repriced = self._run(invoicing.apply_scheduled_prices, month)
        work = self._run(invoicing.find_billing_work, month)
        billed: list[str] = []
        issued: list[str] = []
        skipped: list[tuple[str, str]] = []
        for organization_id, resource_ids in work.organizations:
            try:
                issued += self._run(
                    invoicing.bill_organization, organization_id, resource_ids, work.month
                )
            except MarketplaceError as error:
                skipped.append((organization_id, str(error.code)))
                continue
            billed.append(organization_id)
        return BillingReport(
            work.month, tuple(repriced), tuple(billed), tuple(issued), tuple(skipped)
        )

    def pull_usage(
        self,
        actor_id: str,
        offering_id: str,
        month: date | None = None,
        *,
        source: UsageSource | None = None,
    ) -> UsagePullReport:
        """Ask the offering's plugin (or ``source``) what each of the offering's resources
        consumed in ``month`` (default: the current one) and ingest the answers as usage
        reports.

        Needs ``resource.report_usage`` on the offering, and a plugin whose processor is a
        :class:`~marketplace_core.plugins.UsageSource` unless ``source`` is given (a site
        agent passes its own backend). The backend is asked outside any
        unit of work, one resource at a time; each resource's answer is reported as one
        batch. A backend that fails, or an answer that is refused, is reported in
        ``failed`` and does not stop the others.
        """
        work = self._run(usage_pull.find_usage_to_pull, actor_id, offering_id, month, source)
        reports: list[UsageReport] = []
        failed: list[tuple[str, str]] = []
        for request in work.requests:
            try:
                lines = usage_pull.usage_lines(request, work.source.pull_usage(request))
            except Exception as error:  # the backend's failure, kept for the report
                failed.append((request.resource.id, f"{type(error).__name__}: {error}"))
                continue
            if not lines:
                continue
            try:
                reports += self._run(usage.report_usages, actor_id, lines)
            except MarketplaceError as error:
                failed.append((request.resource.id, f"{error.code}: {error.message}"))
        return UsagePullReport(work.month, tuple(reports), tuple(failed))

    def events(self, after: int = 0, limit: int | None = None) -> Sequence[RecordedEvent]:
        """Committed events with ``position > after``, in commit order (the outbox)."""
        with self.storage.unit_of_work() as uow:
            return uow.outbox.read(after, limit)

    # Users and roles.
    bootstrap_staff_user = _Command(users.bootstrap_staff_user)
    create_user = _Command(users.create_user)
    set_user_staff = _Command(users.set_user_staff)
    grant_role = _Command(users.grant_role)
    revoke_role = _Command(users.revoke_role)
    get_user = _Command(users.get_user)
    list_role_grants = _Command(users.list_role_grants)

    # Organizations and projects.
    create_organization_group = _Command(organizations.create_organization_group)
    create_organization = _Command(organizations.create_organization)
    rename_organization = _Command(organizations.rename_organization)
    set_organization_group = _Command(organizations.set_organization_group)
    block_organization = _Command(organizations.block_organization)
    unblock_organization = _Command(organizations.unblock_organization)
    archive_organization = _Command(organizations.archive_organization)
    create_project = _Command(organizations.create_project)
    update_project = _Command(organizations.update_project)
    get_organization_group = _Command(organizations.get_organization_group)
    get_organization = _Command(organizations.get_organization)
    list_organizations = _Command(organizations.list_organizations)
    get_project = _Command(organizations.get_project)
    list_projects = _Command(organizations.list_projects)

    # The catalogue.
    register_provider = _Command(catalogue.register_provider)
    create_category = _Command(catalogue.create_category)
    create_offering = _Command(catalogue.create_offering)
    update_offering = _Command(catalogue.update_offering)
    activate_offering = _Command(catalogue.activate_offering)
    pause_offering = _Command(catalogue.pause_offering)
    resume_offering = _Command(catalogue.resume_offering)
    archive_offering = _Command(catalogue.archive_offering)
    add_offering_component = _Command(catalogue.add_offering_component)
    update_offering_component = _Command(catalogue.update_offering_component)
    remove_offering_component = _Command(catalogue.remove_offering_component)
    create_plan = _Command(catalogue.create_plan)
    update_plan = _Command(catalogue.update_plan)
    archive_plan = _Command(catalogue.archive_plan)
    set_plan_prices = _Command(catalogue.set_plan_prices)
    schedule_plan_prices = _Command(catalogue.schedule_plan_prices)
    get_category = _Command(catalogue.get_category)
    list_categories = _Command(catalogue.list_categories)
    get_offering = _Command(catalogue.get_offering)
    list_offerings = _Command(catalogue.list_offerings)
    get_plan = _Command(catalogue.get_plan)
    list_plans = _Command(catalogue.list_plans)
    list_orderable_offerings = _Command(catalogue.list_orderable_offerings)

    # Orders and resources.
    order_resource = _Command(orders.order_resource)
    order_plan_switch = _Command(orders.order_plan_switch)
    order_limit_change = _Command(orders.order_limit_change)
    order_termination = _Command(orders.order_termination)
    approve_order_as_consumer = _Command(orders.approve_order_as_consumer)
    approve_order_as_provider = _Command(orders.approve_order_as_provider)
    reject_order = _Command(orders.reject_order)
    cancel_order = _Command(orders.cancel_order)
    retry_order = _Command(orders.retry_order)
    process_order = _Command(fulfilment.process_order)
    claim_order_for_processing = _Command(claims.claim_order_for_processing)
    resource_creation_succeeded = _Command(fulfilment.resource_creation_succeeded)
    resource_creation_failed = _Command(fulfilment.resource_creation_failed)
    resource_creation_canceled = _Command(fulfilment.resource_creation_canceled)
    resource_update_succeeded = _Command(fulfilment.resource_update_succeeded)
    resource_update_failed = _Command(fulfilment.resource_update_failed)
    resource_update_canceled = _Command(fulfilment.resource_update_canceled)
    resource_deletion_succeeded = _Command(fulfilment.resource_deletion_succeeded)
    resource_deletion_failed = _Command(fulfilment.resource_deletion_failed)
    resource_deletion_canceled = _Command(fulfilment.resource_deletion_canceled)
    resource_erred_on_backend = _Command(fulfilment.resource_erred_on_backend)

    # Site agents: claims on dispatched orders.
    claim_order = _Command(claims.claim_order)
    release_order_claim = _Command(claims.release_order_claim)
    report_claimed_order_done = _Command(claims.report_claimed_order_done)
    report_claimed_order_erred = _Command(claims.report_claimed_order_erred)
    list_claimable_orders = _Command(claims.list_claimable_orders)
    set_resource_end_date = _Command(due_jobs.set_resource_end_date)
    schedule_termination = _Command(due_jobs.schedule_termination)
    get_order = _Command(orders.get_order)
    list_orders = _Command(orders.list_orders)
    list_project_orders = _Command(orders.list_project_orders)
    list_executing_orders = _Command(orders.list_executing_orders)
    get_resource = _Command(orders.get_resource)
    list_resources = _Command(orders.list_resources)
    list_offering_resources = _Command(orders.list_offering_resources)

    # Usage and billing.
    report_usage = _Command(usage.report_usage)
    report_usages = _Command(usage.report_usages)
    set_tax_percent = _Command(invoicing.set_tax_percent)
    set_credit = _Command(invoicing.set_credit)
    mark_invoice_paid = _Command(invoicing.mark_invoice_paid)
    cancel_invoice = _Command(invoicing.cancel_invoice)
    list_usage_reports = _Command(usage.list_usage_reports)
    current_usage = _Command(usage.current_usage)
    get_invoice = _Command(invoicing.get_invoice)
    find_invoice = _Command(invoicing.find_invoice)
    list_invoices = _Command(invoicing.list_invoices)
    list_invoice_items = _Command(invoicing.list_invoice_items)
    list_resource_items = _Command(invoicing.list_resource_items)
    get_invoice_totals = _Command(invoicing.get_invoice_totals)
    list_credits = _Command(invoicing.list_credits)

    # Policies, quotas and deny lists.
    create_policy = _Command(policies.create_policy)
    change_policy_limits = _Command(policies.change_policy_limits)
    delete_policy = _Command(policies.delete_policy)
    set_quota = _Command(quotas.set_quota)
    add_deny_rule = _Command(quotas.add_deny_rule)
    remove_deny_rule = _Command(quotas.remove_deny_rule)
    get_policy = _Command(policies.get_policy)
    list_policies = _Command(policies.list_policies)
    policy_share = _Command(policies.policy_share)
    dry_run_policy = _Command(policy_dry_run.dry_run_policy)
    list_quotas = _Command(quotas.list_quotas)
    list_deny_rules = _Command(quotas.list_deny_rules)


def command_handlers() -> dict[str, Callable[..., object]]:
    """The service handler behind each facade command and query, by the command's name.

    The handlers take the unit of work's context first; the facade fills it in. Tools that
    describe or replay commands (the conformance vectors) read their signatures here.
    """
    return {
        name: member.handler
        for name, member in vars(Marketplace).items()
        if isinstance(member, _Command)
    }
