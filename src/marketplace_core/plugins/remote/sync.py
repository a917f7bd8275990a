"""Mirroring the remote marketplace back onto the local one: the ``remote`` plugin's job.

A host runs :meth:`RemoteSync.run` periodically (every minute, say), as a local user who may
fulfil the remote offerings (``order.fulfil`` and ``resource.report_usage``: the local
provider's owner or an offering manager). One run:

1. ends every dispatched local order whose remote order ended, through the local facade's
   backend callbacks: remote ``done`` is the local ``*_succeeded`` (with the remote
   resource's backend id and metadata under ``backend_metadata``), remote ``erred`` the
   local ``*_failed`` with the remote error, remote ``rejected`` or ``canceled`` the local
   ``*_canceled``;
2. errs every local ``ok`` resource whose remote resource erred or was terminated on the
   remote side (``resource_erred_on_backend``);
3. pulls the current month's usage of every remote offering (``Marketplace.pull_usage``).

Every step reads before it writes and acts only on a difference, so a second run changes
nothing. :meth:`RemoteSync.reconcile_invoices` reads the remote invoice items of a month
beside the local ones, for a person to compare; it changes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from marketplace_core.billing.calendar import month_of
from marketplace_core.billing.usage import UsageReport
from marketplace_core.errors import ErrorCode, MarketplaceError, ValidationError
from marketplace_core.money import ZERO
from marketplace_core.offerings import Offering
from marketplace_core.orders import Order, OrderState, OrderType
from marketplace_core.plugins.order_reports import report_canceled, report_done, report_failed
from marketplace_core.plugins.remote.billed import billed_items
from marketplace_core.plugins.remote.port import RemoteInvoiceItem, RemoteOrder, RemoteResource
from marketplace_core.plugins.remote.processor import RemoteProcessor, call_remote
from marketplace_core.resources import Resource, ResourceState

if TYPE_CHECKING:
    from marketplace_core.marketplace import Marketplace


@attrs.frozen
class SyncReport:
    """What one :meth:`RemoteSync.run` changed locally, and what it could not do.

    ``completed``, ``failed`` and ``canceled`` hold local order ids; ``rejected`` holds
    ``(local order id, remote rejection reason)`` for the canceled orders the remote
    provider rejected; ``resources_erred`` local resource ids; ``usage`` the usage reports
    ingested (repeats included). ``problems`` holds ``(local id, message)`` for work that
    failed and is tried again by the next run.
    """

    completed: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    canceled: tuple[str, ...] = ()
    rejected: tuple[tuple[str, str], ...] = ()
    resources_erred: tuple[str, ...] = ()
    usage: tuple[UsageReport, ...] = ()
    problems: tuple[tuple[str, str], ...] = ()

    @property
    def changed_anything(self) -> bool:
        """Whether the run ended an order or erred a resource (usage repeats aside)."""
        return bool(self.completed or self.failed or self.canceled or self.resources_erred)


@attrs.frozen
class InvoiceReconciliation:
    """One local resource's billing for a month on both sides.

    ``local_total`` sums the local invoice items (priced by the local plans);
    ``remote_total`` the remote ones (priced by the remote plans, what the local side owes
    the remote). ``margin`` is what the local side keeps.
    """

    resource_id: str
    remote_resource_id: str
    month: date
    remote_items: tuple[RemoteInvoiceItem, ...]
    remote_total: Decimal
    local_total: Decimal

    @property
    def margin(self) -> Decimal:
        """``local_total - remote_total``."""
        return self.local_total - self.remote_total


def remote_metadata(resource: RemoteResource) -> dict[str, Any]:
    """What the local resource records of its remote resource in ``backend_metadata``."""
    return {
        "remote_resource_id": resource.id,
        "remote_backend_id": resource.backend_id,
        "remote_metadata": dict(resource.backend_metadata),
    }


def _failure_message(remote: RemoteOrder) -> str:
    return f"remote order {remote.id!r} erred: {remote.error_message or 'no message given'}"


class RemoteSync:
    """Mirrors the remote marketplace onto the offerings of ``plugin_type`` in ``market``,
    acting as the local user ``actor_id``."""

    def __init__(self, market: Marketplace, actor_id: str, plugin_type: str = "remote") -> None:
        """Refuses a ``plugin_type`` that is not registered with a :class:`RemoteProcessor`."""
        processor = market.plugins.get(plugin_type).processor
        if not isinstance(processor, RemoteProcessor):
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"plugin type {plugin_type!r} is not a remote plugin "
                f"(its processor is a {type(processor).__name__})",
                field="plugin_type",
                value=plugin_type,
            )
        self.market = market
        self.actor_id = actor_id
        self.plugin_type = plugin_type
        self.client = processor.client

    def offerings(self) -> list[Offering]:
        """The local offerings of ``plugin_type``, archived ones included."""
        return [o for o in self.market.list_offerings() if o.plugin_type == self.plugin_type]

    def run(self, *, pull_usage: bool = True) -> SyncReport:
        """Pull this month's usage (unless ``pull_usage`` is false), then mirror orders and
        resources of every remote offering.

        Usage comes first: a resource whose termination the sync is about to finish still
        takes its last reports, which a terminated one no longer would.
        """
        work = _Run()
        for offering in self.offerings():
            if pull_usage:
                self._pull_usage(offering, work)
            self._sync_orders(offering, work)
            self._sync_resources(offering, work)
        return work.report()

    def _sync_orders(self, offering: Offering, work: _Run) -> None:
        handed_over = [o for o in self.market.list_executing_orders(offering.id) if o.dispatched_at]
        for order in handed_over:
            work.attempt(order.id, functools.partial(self._sync_order, order, work))

    def _sync_order(self, order: Order, work: _Run) -> None:
        client = self.client
        remote = call_remote(
            f"read the remote order of local order {order.id!r}",
            lambda: client.get_order(order.id),
        )
        self._mirror_order(order, remote, work)

    def _mirror_order(self, order: Order, remote: RemoteOrder | None, work: _Run) -> None:
        market, actor = self.market, self.actor_id
        if remote is None:
            message = f"the remote marketplace has no order for local order {order.id!r}"
            report_failed(market, actor, order, message)
            work.failed.append(order.id)
            return
        if remote.state is OrderState.DONE:
            self._succeed(order, remote)
            work.completed.append(order.id)
        elif remote.state is OrderState.ERRED:
            report_failed(market, actor, order, _failure_message(remote))
            work.failed.append(order.id)
        elif remote.state in (OrderState.REJECTED, OrderState.CANCELED):
            report_canceled(market, actor, order)
            work.canceled.append(order.id)
            if remote.state is OrderState.REJECTED:
                work.rejected.append((order.id, remote.error_message))

    def _succeed(self, order: Order, remote: RemoteOrder) -> None:
        if order.type is OrderType.TERMINATE:
            report_done(self.market, self.actor_id, order)
            return
        client = self.client
        resource = call_remote(
            f"read remote resource {remote.resource_id!r}",
            lambda: client.get_resource(remote.resource_id),
        )
        report_done(
            self.market,
            self.actor_id,
            order,
            backend_id=resource.id,
            metadata=remote_metadata(resource),
        )

    def _sync_resources(self, offering: Offering, work: _Run) -> None:
        for resource in self.market.list_offering_resources(offering.id):
            if resource.state is ResourceState.OK and resource.backend_id:
                work.attempt(resource.id, functools.partial(self._mirror_resource, resource, work))

    def _mirror_resource(self, resource: Resource, work: _Run) -> None:
        client, remote_id = self.client, resource.backend_id
        remote = call_remote(
            f"read remote resource {remote_id!r}", lambda: client.get_resource(remote_id)
        )
        if remote.state is ResourceState.ERRED:
            detail = remote.error_message or "no message given"
            message = f"remote resource {remote.id!r} erred: {detail}"
        elif remote.state is ResourceState.TERMINATED:
            message = f"remote resource {remote.id!r} was terminated on the remote marketplace"
        else:
            return
        self.market.resource_erred_on_backend(self.actor_id, resource.id, message)
        work.resources_erred.append(resource.id)

    def _pull_usage(self, offering: Offering, work: _Run) -> None:
        try:
            pulled = self.market.pull_usage(self.actor_id, offering.id)
        except MarketplaceError as error:
            work.problems.append((offering.id, f"{error.code}: {error.message}"))
            return
        work.usage.extend(pulled.reports)
        work.problems.extend(pulled.failed)

    def reconcile_invoices(self, month: date | None = None) -> tuple[InvoiceReconciliation, ...]:
        """The remote and local invoice items of ``month`` (default: the local current one)
        for every local resource that has a remote resource, leaving out items of canceled
        invoices on either side. Reads only; a remote that cannot be read raises
        ``BackendError``."""
        month = month_of(self.market.clock.now()) if month is None else month
        return tuple(
            self._reconcile(resource, month)
            for offering in self.offerings()
            for resource in self.market.list_offering_resources(offering.id)
            if resource.backend_id
        )

    def _reconcile(self, resource: Resource, month: date) -> InvoiceReconciliation:
        client, remote_id = self.client, resource.backend_id
        remote_items = tuple(
            call_remote(
                f"read the invoice items of remote resource {remote_id!r}",
                lambda: client.list_invoice_items(remote_id, month),
            )
        )
        local_items = billed_items(self.market, resource.id, month)
        return InvoiceReconciliation(
            resource.id,
            remote_id,
            month,
            remote_items,
            sum((item.price for item in remote_items), ZERO),
            sum((item.price for item in local_items), ZERO),
        )


@attrs.define
class _Run:
    """What a run has done so far."""

    completed: list[str] = attrs.Factory(list)
    failed: list[str] = attrs.Factory(list)
    canceled: list[str] = attrs.Factory(list)
    rejected: list[tuple[str, str]] = attrs.Factory(list)
    resources_erred: list[str] = attrs.Factory(list)
    usage: list[UsageReport] = attrs.Factory(list)
    problems: list[tuple[str, str]] = attrs.Factory(list)

    def attempt(self, subject_id: str, step: Callable[[], None]) -> None:
        """Run ``step``; a refusal or an unreachable remote is noted against ``subject_id``
        and left for the next run."""
        try:
            step()
        except MarketplaceError as error:
            self.problems.append((subject_id, f"{error.code}: {error.message}"))

    def report(self) -> SyncReport:
        return SyncReport(
            tuple(self.completed),
            tuple(self.failed),
            tuple(self.canceled),
            tuple(self.rejected),
            tuple(self.resources_erred),
            tuple(self.usage),
            tuple(self.problems),
        )
