"""Ticket outcomes ending orders: :func:`apply_ticket` for one changed ticket (a webhook),
:func:`sync_tickets` for polling a support offering's desk, and its
:class:`TicketSyncReport`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from marketplace_core.errors import ErrorCode, NotFoundError, ValidationError
from marketplace_core.inputs import shorten_message
from marketplace_core.orders import Order, OrderState
from marketplace_core.plugins.order_reports import report_canceled, report_done, report_failed
from marketplace_core.plugins.support.desk import Ticket, TicketDesk, TicketStatus
from marketplace_core.plugins.support.processor import SupportProcessor

if TYPE_CHECKING:
    from marketplace_core.marketplace import Marketplace


@attrs.frozen
class TicketSyncReport:
    """What :func:`sync_tickets` did.

    ``ended``: the orders a closed ticket ended, as they ended. ``canceled_tickets``: open
    tickets canceled on the desk because their order had ended without them. ``missing``:
    ids of orders handed to the desk that have no ticket there (a host should look into
    them; the sync cannot end them).
    """

    ended: tuple[Order, ...] = ()
    canceled_tickets: tuple[Ticket, ...] = ()
    missing: tuple[str, ...] = ()


def apply_ticket(market: Marketplace, actor_id: str, ticket: Ticket) -> Order:
    """End the ticket's order the way the ticket says, as ``actor_id`` (who needs
    ``order.fulfil`` on the offering), and return the order as it is then.

    Resolved: the order is done (a create records the ticket key as the backend id; create
    and update record ``support_ticket`` and ``support_resolution`` in the backend metadata).
    Rejected: the order errs with the resolution comment as its message (cut to the 4,000
    characters a message may hold, keeping both ends). Canceled: the order is canceled. An
    open ticket, a ticket that is not the order's own (a duplicate), or a ticket whose order
    is not executing or was not handed to the desk yet, changes nothing, so applying a
    ticket twice counts once. Refuses a ticket whose order belongs to an offering of another
    plugin.
    """
    order = market.get_order(ticket.order_id)
    desk = _support_desk(market, order.offering_id)
    own = desk.find_ticket(order.id)
    if (
        not ticket.status.is_closed
        or own is None
        or own.key != ticket.key
        or order.state is not OrderState.EXECUTING
        or order.dispatched_at is None
    ):
        return order
    if ticket.status is TicketStatus.REJECTED:
        message = shorten_message(ticket.resolution_comment or f"ticket {ticket.key} was rejected")
        return report_failed(market, actor_id, order, message)
    if ticket.status is TicketStatus.CANCELED:
        return report_canceled(market, actor_id, order)
    metadata = {"support_ticket": ticket.key, "support_resolution": ticket.resolution_comment}
    return report_done(market, actor_id, order, backend_id=ticket.key, metadata=metadata)


def sync_tickets(market: Marketplace, actor_id: str, offering_id: str) -> TicketSyncReport:
    """Poll the desk of a support offering: apply every closed ticket of the offering's
    executing orders (as :func:`apply_ticket`), then cancel on the desk every open ticket
    whose order has ended (done, erred, canceled) without it.

    Only orders handed to the desk count (an order still waiting to be processed has no
    ticket yet). An error (the actor
    lacks ``order.fulfil``, the desk is unreachable, a concurrent command won) is raised;
    what was applied before it stays applied, and running the sync again finishes the
    rest. A sync that finds nothing new changes nothing.
    """
    desk = _support_desk(market, offering_id)
    ended: list[Order] = []
    missing: list[str] = []
    handed_over = [o for o in market.list_executing_orders(offering_id) if o.dispatched_at]
    for order in handed_over:
        ticket = desk.find_ticket(order.id)
        if ticket is None:
            missing.append(order.id)
            continue
        if not ticket.status.is_closed:
            continue
        ended.append(apply_ticket(market, actor_id, ticket))
    canceled = [
        desk.cancel_ticket(ticket.key, _stale_comment(order))
        for ticket, order in _tickets_with_orders(market, desk.list_open_tickets())
        if order.offering_id == offering_id and order.state is not OrderState.EXECUTING
    ]
    return TicketSyncReport(tuple(ended), tuple(canceled), tuple(missing))


def _tickets_with_orders(
    market: Marketplace, tickets: Iterable[Ticket]
) -> Iterable[tuple[Ticket, Order]]:
    for ticket in tickets:
        try:
            yield ticket, market.get_order(ticket.order_id)
        except NotFoundError:
            continue  # a ticket of another marketplace sharing the desk


def _stale_comment(order: Order) -> str:
    return (
        f"Canceled by the marketplace: order {order.id} is {order.state.value} "
        "and no longer needs this ticket."
    )


def _support_desk(market: Marketplace, offering_id: str) -> TicketDesk:
    offering = market.get_offering(offering_id)
    processor = market.plugins.get(offering.plugin_type).processor
    if not isinstance(processor, SupportProcessor):
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"offering {offering.id!r} has plugin type {offering.plugin_type!r}, which is "
            "not a support plugin; tickets apply only to support offerings",
            field="offering_id",
            value=offering.id,
            plugin_type=offering.plugin_type,
        )
    return processor.desk
