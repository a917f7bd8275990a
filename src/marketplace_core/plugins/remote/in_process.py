"""The reference :class:`RemoteMarketplaceClient`: a remote ``Marketplace`` in this process.

It calls the remote facade's commands as one consumer account (``actor_id``) in one remote
organization (``organization_id``), so the remote marketplace applies its own rules,
permissions and reviews exactly as it would to an HTTP client. Tests use it with two
``Marketplace`` objects; a host can use it when both marketplaces run in one process.

Which remote order and project belong to which local order and project is kept in a
``ledger`` (a mutable mapping of strings). The default is a ``dict``, which lives as long as
the client; a host whose remote storage outlives the process passes a durable mapping (a
``shelve``, a table) so that an order handed over again after a restart finds its remote
order. Remote projects are also found by name (the local project id), so losing the ledger
never duplicates a project.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

from marketplace_core.errors import NotFoundError
from marketplace_core.orders import Order, OrderState
from marketplace_core.plugins.remote.billed import billed_items
from marketplace_core.plugins.remote.port import (
    RemoteInvoiceItem,
    RemoteOrder,
    RemoteOrderKind,
    RemoteOrderRequest,
    RemoteResource,
    RemoteUsage,
)

if TYPE_CHECKING:
    from marketplace_core.marketplace import Marketplace


def _order_key(local_order_id: str) -> str:
    return f"order:{local_order_id}"


def _project_key(local_project_id: str) -> str:
    return f"project:{local_project_id}"


def _remote_order(order: Order) -> RemoteOrder:
    return RemoteOrder(order.id, order.resource_id, order.state, order.error_message)


class InProcessRemoteClient:
    """A :class:`RemoteMarketplaceClient` over a remote ``Marketplace`` object."""

    def __init__(
        self,
        remote: Marketplace,
        actor_id: str,
        organization_id: str,
        *,
        ledger: MutableMapping[str, str] | None = None,
    ) -> None:
        self.remote = remote
        self.actor_id = actor_id
        self.organization_id = organization_id
        self.ledger: MutableMapping[str, str] = {} if ledger is None else ledger

    def ensure_project(self, local_project_id: str) -> str:
        """The remote project named after the local project id, created on first use."""
        key = _project_key(local_project_id)
        if key in self.ledger:
            return self.ledger[key]
        for project in self.remote.list_projects(self.organization_id):
            if project.name == local_project_id:
                break
        else:
            project = self.remote.create_project(
                self.actor_id, self.organization_id, local_project_id
            )
        self.ledger[key] = project.id
        return project.id

    def place_order(self, request: RemoteOrderRequest) -> RemoteOrder:
        """Place ``request`` once per local order (see the port)."""
        known = self._known(request.local_order_id)
        if known is None:
            known = self._place(request)
            self.ledger[_order_key(request.local_order_id)] = known.id
        return _remote_order(known)

    def _place(self, request: RemoteOrderRequest) -> Order:
        remote, actor = self.remote, self.actor_id
        if request.kind is RemoteOrderKind.CREATE:
            return remote.order_resource(
                actor,
                request.remote_project_id,
                request.remote_offering_id,
                request.remote_plan_id,
                request.name,
                limits=dict(request.limits),
                attributes=request.attributes,
            )
        if request.kind is RemoteOrderKind.PLAN_SWITCH:
            return remote.order_plan_switch(
                actor, request.remote_resource_id, request.remote_plan_id
            )
        if request.kind is RemoteOrderKind.LIMIT_CHANGE:
            return remote.order_limit_change(actor, request.remote_resource_id, request.limits)
        return remote.order_termination(
            actor, request.remote_resource_id, attributes=request.attributes
        )

    def _known(self, local_order_id: str) -> Order | None:
        remote_order_id = self.ledger.get(_order_key(local_order_id))
        return None if remote_order_id is None else self.remote.get_order(remote_order_id)

    def retry_order(self, local_order_id: str) -> RemoteOrder:
        """Retry the local order's erred remote order (see the port)."""
        known = self._known(local_order_id)
        if known is None:
            raise NotFoundError("remote order of local order", local_order_id)
        if known.state is OrderState.ERRED:
            known = self.remote.retry_order(self.actor_id, known.id)
        return _remote_order(known)

    def get_order(self, local_order_id: str) -> RemoteOrder | None:
        """The remote order last placed for the local order, if any."""
        known = self._known(local_order_id)
        return None if known is None else _remote_order(known)

    def get_resource(self, remote_resource_id: str) -> RemoteResource:
        """The remote resource as it is now."""
        resource = self.remote.get_resource(remote_resource_id)
        return RemoteResource(
            resource.id,
            resource.state,
            resource.plan_id,
            resource.limits,
            resource.backend_id,
            resource.backend_metadata,
            resource.error_message,
        )

    def list_usage(self, remote_resource_id: str, month: date) -> Sequence[RemoteUsage]:
        """The remote's month-to-date usage totals of the resource."""
        totals = self.remote.current_usage(remote_resource_id, month)
        return [RemoteUsage(kind, amount) for kind, amount in sorted(totals.items())]

    def list_invoice_items(
        self, remote_resource_id: str, month: date
    ) -> Sequence[RemoteInvoiceItem]:
        """The remote's invoice items of the resource in the month, leaving out those of
        canceled invoices."""
        return [
            RemoteInvoiceItem(
                item.id,
                item.resource_id,
                item.component_type,
                item.kind.value,
                item.name,
                item.month,
                item.quantity,
                item.unit_price,
                item.price,
            )
            for item in billed_items(self.remote, remote_resource_id, month)
        ]
