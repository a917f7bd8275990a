"""Reporting a backend's outcome on a given order: the callback that fits its type.

Backends that mirror an outside system (a remote marketplace, a ticket desk) know which
order they report on. These helpers pick the facade callback for the order's type and pass
the order's id, so a late report never lands on a newer order of the same resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from marketplace_core.orders import Order, OrderType

if TYPE_CHECKING:  # the facade imports the plugins package
    from marketplace_core.marketplace import Marketplace


def report_done(
    market: Marketplace,
    actor_id: str,
    order: Order,
    *,
    backend_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Order:
    """The backend finished ``order``; ``backend_id`` counts for a create only, ``metadata``
    for a create or an update."""
    resource_id = order.resource_id
    if order.type is OrderType.CREATE:
        return market.resource_creation_succeeded(
            actor_id, resource_id, backend_id=backend_id, metadata=metadata, order_id=order.id
        )
    if order.type is OrderType.UPDATE:
        return market.resource_update_succeeded(
            actor_id, resource_id, metadata=metadata, order_id=order.id
        )
    return market.resource_deletion_succeeded(actor_id, resource_id, order_id=order.id)


def report_failed(market: Marketplace, actor_id: str, order: Order, message: str) -> Order:
    """The backend failed ``order`` with ``message``."""
    fail = {
        OrderType.CREATE: market.resource_creation_failed,
        OrderType.UPDATE: market.resource_update_failed,
        OrderType.TERMINATE: market.resource_deletion_failed,
    }[order.type]
    return fail(actor_id, order.resource_id, message, order_id=order.id)


def report_canceled(market: Marketplace, actor_id: str, order: Order) -> Order:
    """The backend canceled ``order``."""
    cancel = {
        OrderType.CREATE: market.resource_creation_canceled,
        OrderType.UPDATE: market.resource_update_canceled,
        OrderType.TERMINATE: market.resource_deletion_canceled,
    }[order.type]
    return cancel(actor_id, order.resource_id, order_id=order.id)
