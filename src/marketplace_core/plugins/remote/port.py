"""The port to the remote marketplace: the few calls the ``remote`` plugin makes there.

A host implements :class:`RemoteMarketplaceClient` over whatever reaches the other
marketplace (its REST API, a message queue); :class:`~marketplace_core.plugins.remote.
in_process.InProcessRemoteClient` is the reference implementation over a ``Marketplace``
object in the same process. The client acts on the remote side as one consumer account in
one remote organization; the records here are what it reads back, in the library's own
vocabulary (states are the remote's :class:`OrderState` and :class:`ResourceState`).

Failures: a client raises :class:`~marketplace_core.errors.MarketplaceError` when the remote
marketplace refuses a call (with the remote's code and message), and
:class:`~marketplace_core.errors.BackendError` (``backend_timed_out``, ``backend_failed``,
``backend_bad_response``) when it cannot reach the remote or cannot read its answer. Any
other exception is taken as "unreachable".
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import attrs

from marketplace_core.frozen import EMPTY_JSON, freeze_json, frozen_mapping
from marketplace_core.orders import OrderState
from marketplace_core.resources import ResourceState


def _frozen_json(value: Mapping[str, Any]) -> Mapping[str, Any]:
    frozen: Mapping[str, Any] = freeze_json(value, "remote")
    return frozen


class RemoteOrderKind(enum.StrEnum):
    """What a remote order asks for."""

    CREATE = "create"
    PLAN_SWITCH = "plan-switch"
    LIMIT_CHANGE = "limit-change"
    TERMINATE = "terminate"


@attrs.frozen
class RemoteOrderRequest:
    """An order to place on the remote marketplace on behalf of one local order.

    ``local_order_id`` is the idempotency key. Which fields matter depends on ``kind``:
    a create names ``remote_project_id``, ``remote_offering_id``, ``remote_plan_id``,
    ``name``, ``limits`` and ``attributes``; a plan switch ``remote_resource_id`` and
    ``remote_plan_id``; a limit change ``remote_resource_id`` and ``limits``; a termination
    ``remote_resource_id`` and ``attributes``. Limits are already in the remote's component
    types.
    """

    local_order_id: str
    kind: RemoteOrderKind
    remote_project_id: str = ""
    remote_offering_id: str = ""
    remote_resource_id: str = ""
    remote_plan_id: str = ""
    name: str = ""
    limits: Mapping[str, int] = attrs.field(factory=dict, converter=frozen_mapping)
    attributes: Mapping[str, Any] = attrs.field(default=EMPTY_JSON, converter=_frozen_json)


@attrs.frozen
class RemoteOrder:
    """A remote order as the remote marketplace sees it now."""

    id: str
    resource_id: str
    state: OrderState
    error_message: str = ""


@attrs.frozen
class RemoteResource:
    """A remote resource as the remote marketplace sees it now (limits in the remote's
    component types)."""

    id: str
    state: ResourceState
    plan_id: str | None = None
    limits: Mapping[str, int] = attrs.field(factory=dict, converter=frozen_mapping)
    backend_id: str = ""
    backend_metadata: Mapping[str, Any] = attrs.field(default=EMPTY_JSON, converter=_frozen_json)
    error_message: str = ""


@attrs.frozen
class RemoteUsage:
    """The month-to-date usage of one remote component of a remote resource."""

    component_type: str
    amount: Decimal
    description: str = ""


@attrs.frozen
class RemoteInvoiceItem:
    """One line the remote marketplace bills the local side for: a read-only record for
    reconciliation, priced by the remote's plans."""

    id: str
    resource_id: str
    component_type: str
    kind: str
    name: str
    month: date
    quantity: Decimal
    unit_price: Decimal
    price: Decimal


class RemoteMarketplaceClient(Protocol):
    """What the ``remote`` plugin needs from the other marketplace.

    Every method may raise ``MarketplaceError`` (the remote refused) or ``BackendError``
    (the remote could not be reached or read); see the module docstring.
    """

    def ensure_project(self, local_project_id: str) -> str:
        """The id of the remote project that holds the resources of ``local_project_id``,
        created in the client's remote organization on first use. The same local project
        always maps to the same remote project."""
        ...

    def place_order(self, request: RemoteOrderRequest) -> RemoteOrder:
        """Place ``request`` on the remote marketplace, idempotently per
        ``request.local_order_id``: if an order was placed for that local order before,
        return it as it is now, whatever its state; otherwise place one and remember it as
        the local order's remote order.

        The remote's reviews are left to the remote side: a consumer account that may
        approve orders in its organization skips the consumer review, and the remote
        provider reviews if its offering asks for it.
        """
        ...

    def retry_order(self, local_order_id: str) -> RemoteOrder:
        """Send the erred remote order of ``local_order_id`` back to work; an order that is
        not erred is returned unchanged. Raises ``NotFoundError`` for a local order with no
        remote order."""
        ...

    def get_order(self, local_order_id: str) -> RemoteOrder | None:
        """The remote order last placed for ``local_order_id``, or ``None`` if none was."""
        ...

    def get_resource(self, remote_resource_id: str) -> RemoteResource:
        """The remote resource; raises ``NotFoundError`` if the remote does not know it."""
        ...

    def list_usage(self, remote_resource_id: str, month: date) -> Sequence[RemoteUsage]:
        """The month-to-date usage of every reported component of the remote resource in
        ``month`` (its first day)."""
        ...

    def list_invoice_items(
        self, remote_resource_id: str, month: date
    ) -> Sequence[RemoteInvoiceItem]:
        """The remote's invoice items for the remote resource in ``month`` (its first day)."""
        ...
