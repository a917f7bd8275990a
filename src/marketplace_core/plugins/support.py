"""The ``support`` plugin: offerings fulfilled by a support team through tickets.

Every create, update and termination order opens a ticket on the host's ticket desk (Jira,
ServiceNow, Zammad, ...) that says in plain words what to do, and waits. A person does the
work and closes the ticket; the ticket's outcome then ends the order: resolved means done,
rejected means erred (with the support team's comment as the error), canceled means
canceled. Outcomes reach the marketplace in two ways that give the same result: a webhook
handler passes each changed ticket to :func:`apply_ticket`, and a periodic job calls
:func:`sync_tickets`, which also cancels the tickets of orders that ended without them (the
consumer canceled an executing order, say).

The desk is a port, :class:`TicketDesk`; :class:`InMemoryTicketDesk` is its reference
adapter, with the methods a support team's tests use to close tickets.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from marketplace_core.errors import (
    BackendError,
    ErrorCode,
    InvalidTransitionError,
    NotFoundError,
    ValidationError,
)
from marketplace_core.frozen import thaw_json
from marketplace_core.inputs import require_string
from marketplace_core.offerings import Offering
from marketplace_core.orders import Order, OrderState, OrderType
from marketplace_core.plugins.processor import InProgress, ProcessingRequest
from marketplace_core.plugins.registry import PluginCapabilities, PluginRegistry

if TYPE_CHECKING:
    from marketplace_core.marketplace import Marketplace

SUPPORT_CAPABILITIES = PluginCapabilities(can_update_limits=True, can_cancel_orders=True)
"""Limits can be changed and executing orders canceled; no provider review by default (the
ticket is the provider's review)."""

DESCRIPTION_ATTRIBUTE = "description"
"""The order attribute in which a consumer may write to the support team; it is quoted in
the ticket."""

MAX_DESCRIPTION_LENGTH = 10_000
"""The longest consumer note an order may carry."""

MAX_MESSAGE_LENGTH = 4000
"""The longest error message the marketplace records; longer rejection comments are cut."""


class TicketStatus(enum.StrEnum):
    """Where a ticket is. Every status but ``open`` is final until the ticket is reopened."""

    OPEN = "open"
    """Waiting for the support team (an adapter maps every unfinished workflow status here)."""
    RESOLVED = "resolved"
    """The work is done."""
    REJECTED = "rejected"
    """The support team will not or cannot do the work; the comment says why."""
    CANCELED = "canceled"
    """Nobody needs the work any more."""

    @property
    def is_closed(self) -> bool:
        """Whether the ticket has an outcome."""
        return self is not TicketStatus.OPEN


@attrs.frozen
class Ticket:
    """One ticket on the desk, for one order.

    ``resolution_comment`` is what the support team wrote when closing the ticket (empty
    while it is open).
    """

    key: str
    order_id: str
    summary: str
    description: str
    status: TicketStatus = TicketStatus.OPEN
    resolution_comment: str = ""


@attrs.frozen
class TicketText:
    """The words of a new ticket: a one-line ``summary`` and a longer ``description``."""

    summary: str
    description: str


class TicketDesk(Protocol):
    """The ticket system a support team works in, as the support plugin uses it.

    Every method may raise :class:`~marketplace_core.errors.BackendError` when the desk
    cannot be reached or answers something the adapter cannot read.
    """

    def open_ticket(self, order_id: str, summary: str, description: str) -> Ticket:
        """Open a ticket for ``order_id`` and return it.

        Idempotent per order id: when the order already has a ticket, return that ticket as
        it is now (whatever its status), and open nothing.
        """
        ...

    def get_ticket(self, key: str) -> Ticket:
        """The ticket with this key, as it is now; raise
        :class:`~marketplace_core.errors.NotFoundError` for an unknown key."""
        ...

    def find_ticket(self, order_id: str) -> Ticket | None:
        """The ticket of ``order_id``, or ``None`` if the order has none."""
        ...

    def list_open_tickets(self) -> Sequence[Ticket]:
        """Every ticket this marketplace opened that is still open."""
        ...

    def cancel_ticket(self, key: str, comment: str) -> Ticket:
        """Close an open ticket as canceled, with ``comment`` as its resolution comment.

        A ticket that is already closed is returned unchanged (the support team may have
        closed it in the meantime).
        """
        ...

    def reopen_ticket(self, key: str, comment: str) -> Ticket:
        """Put a rejected or canceled ticket back to open, noting ``comment`` on it, and
        clear its resolution comment.

        An open or resolved ticket is returned unchanged.
        """
        ...


class InMemoryTicketDesk:
    """A :class:`TicketDesk` in memory, keyed ``SUP-1``, ``SUP-2``, ... in opening order.

    Besides the port, it has the support team's side: :meth:`resolve`, :meth:`reject`
    (and :meth:`cancel_ticket`) close a ticket with a comment, :meth:`tickets` lists every
    ticket, :meth:`comments` the notes written on one, and :meth:`fail_next_call` makes the
    desk unreachable for one call.
    """

    def __init__(self, prefix: str = "SUP") -> None:
        self.prefix = prefix
        self._tickets: dict[str, Ticket] = {}
        self._by_order: dict[str, str] = {}
        self._comments: dict[str, list[str]] = {}
        self._failure = ""

    # ---------------------------------------------------------------- the port

    def open_ticket(self, order_id: str, summary: str, description: str) -> Ticket:
        """Open a ticket for the order, or return the one it has."""
        self._check_reachable()
        if order_id in self._by_order:
            return self._tickets[self._by_order[order_id]]
        key = f"{self.prefix}-{len(self._tickets) + 1}"
        ticket = Ticket(key, order_id, summary, description)
        self._tickets[key] = ticket
        self._by_order[order_id] = key
        self._comments[key] = []
        return ticket

    def get_ticket(self, key: str) -> Ticket:
        """The ticket with this key."""
        self._check_reachable()
        try:
            return self._tickets[key]
        except KeyError:
            raise NotFoundError("ticket", key) from None

    def find_ticket(self, order_id: str) -> Ticket | None:
        """The ticket of the order, or ``None``."""
        self._check_reachable()
        key = self._by_order.get(order_id)
        return None if key is None else self._tickets[key]

    def list_open_tickets(self) -> Sequence[Ticket]:
        """The open tickets, oldest first."""
        self._check_reachable()
        return [t for t in self._tickets.values() if t.status is TicketStatus.OPEN]

    def cancel_ticket(self, key: str, comment: str) -> Ticket:
        """Close an open ticket as canceled; a closed one is returned unchanged."""
        ticket = self.get_ticket(key)
        if ticket.status.is_closed:
            return ticket
        return self._store(ticket, TicketStatus.CANCELED, comment)

    def reopen_ticket(self, key: str, comment: str) -> Ticket:
        """Reopen a rejected or canceled ticket; any other is returned unchanged."""
        ticket = self.get_ticket(key)
        if ticket.status not in (TicketStatus.REJECTED, TicketStatus.CANCELED):
            return ticket
        return self._store(ticket, TicketStatus.OPEN, comment)

    # ---------------------------------------------------------------- the support team's side

    def resolve(self, key: str, comment: str = "") -> Ticket:
        """The support team did the work."""
        return self._close(key, TicketStatus.RESOLVED, "resolve", comment)

    def reject(self, key: str, comment: str) -> Ticket:
        """The support team will not do the work, and says why in ``comment``."""
        return self._close(key, TicketStatus.REJECTED, "reject", comment)

    def tickets(self) -> Sequence[Ticket]:
        """Every ticket, oldest first."""
        return list(self._tickets.values())

    def comments(self, key: str) -> Sequence[str]:
        """The notes written on the ticket (closing and reopening comments), oldest first."""
        self.get_ticket(key)
        return tuple(self._comments[key])

    def fail_next_call(self, message: str) -> None:
        """Make the next port call raise a :class:`BackendError` with ``message``."""
        self._failure = message

    # ---------------------------------------------------------------- inside

    def _check_reachable(self) -> None:
        if self._failure:
            message, self._failure = self._failure, ""
            raise BackendError(ErrorCode.BACKEND_FAILED, message, desk=self.prefix)

    def _close(self, key: str, status: TicketStatus, action: str, comment: str) -> Ticket:
        ticket = self.get_ticket(key)
        if ticket.status.is_closed:
            raise InvalidTransitionError("ticket", key, action, ticket.status.value, ("reopen",))
        return self._store(ticket, status, comment)

    def _store(self, ticket: Ticket, status: TicketStatus, comment: str) -> Ticket:
        resolution = "" if status is TicketStatus.OPEN else comment
        changed = attrs.evolve(ticket, status=status, resolution_comment=resolution)
        self._tickets[ticket.key] = changed
        if comment:
            self._comments[ticket.key].append(comment)
        return changed


# --------------------------------------------------------------------------- ticket text

TicketWriter = Callable[[ProcessingRequest], TicketText]
"""Turns an order into the words of its ticket."""

_WHAT = {
    OrderType.CREATE: "set up",
    OrderType.UPDATE: "change",
    OrderType.TERMINATE: "remove",
}


def write_ticket(request: ProcessingRequest) -> TicketText:
    """The default ticket text: what to do, to which resource, in which offering, on which
    plan and with which limits (old and new values for an update), and what the consumer
    wrote. The request carries names for the resource, offering and new plan; the project,
    the user and a plan switch's old plan are named by id."""
    order, resource, offering = request.order, request.resource, request.offering
    plan_name = f'"{request.plan.name}" ({request.plan.id})' if request.plan else "none"
    lines = [
        f"Please {_WHAT[order.type]} the resource below, then resolve this ticket. "
        "If it cannot be done, reject the ticket and say why in the comment.",
        "",
        f"Order:     {order.id} ({_kind(order)})",
        f'Resource:  "{resource.name}" ({resource.id})',
    ]
    if resource.backend_id:
        lines.append(f"Backend:   {resource.backend_id}")
    lines += [
        f"Project:   {order.project_id}",
        f'Offering:  "{offering.name}" ({offering.id})',
    ]
    if order.is_plan_switch:
        lines.append(f"Plan:      {order.old_plan_id} -> {plan_name}")
        summary = f'Switch "{resource.name}" to plan "{_name(request)}"'
    else:
        lines.append(f"Plan:      {plan_name}")
        summary = {
            OrderType.CREATE: f'Create "{resource.name}" on plan "{_name(request)}"',
            OrderType.UPDATE: f'Change the limits of "{resource.name}"',
            OrderType.TERMINATE: f'Terminate "{resource.name}"',
        }[order.type]
    lines += _limit_lines(offering, order)
    if order.created_by:
        lines.append(f"Ordered by: {order.created_by}")
    lines += _attribute_lines(order.attributes)
    return TicketText(f'{summary} in "{offering.name}"', "\n".join(lines))


def _kind(order: Order) -> str:
    if order.is_plan_switch:
        return "plan switch"
    if order.is_limit_change:
        return "limit change"
    return order.type.value


def _name(request: ProcessingRequest) -> str:
    return request.plan.name if request.plan else "none"


def _limit_lines(offering: Offering, order: Order) -> list[str]:
    types = list(order.limits)
    if order.old_limits is not None:
        types += [t for t in order.old_limits if t not in order.limits]
    if not types:
        return ["Limits:    none"]
    known = [c.type for c in offering.components]
    ordered = sorted(types, key=lambda t: (known.index(t) if t in known else len(known), t))
    lines = ["Limits:"]
    for component_type in ordered:
        component = offering.component(component_type)
        label = f"{component.name} ({component_type})" if component else component_type
        unit = f" {component.measured_unit}" if component and component.measured_unit else ""
        new = order.limits.get(component_type)
        new_text = "removed" if new is None else f"{new}{unit}"
        if order.old_limits is None:
            lines.append(f"  {label}: {new_text}")
            continue
        old = order.old_limits.get(component_type)
        if old == new:
            lines.append(f"  {label}: {new_text} (unchanged)")
        else:
            old_text = "none" if old is None else f"{old}{unit}"
            lines.append(f"  {label}: {old_text} -> {new_text}")
    return lines


def _attribute_lines(attributes: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    note = attributes.get(DESCRIPTION_ATTRIBUTE)
    if isinstance(note, str) and note.strip():
        lines += ["", "The consumer wrote:"] + [f"> {line}" for line in note.splitlines()]
    others = sorted(k for k in attributes if k != DESCRIPTION_ATTRIBUTE)
    if others:
        lines += ["", "Order attributes:"]
        lines += [f"  {k}: {json.dumps(thaw_json(attributes[k]), sort_keys=True)}" for k in others]
    return lines


# --------------------------------------------------------------------------- the processor


class SupportProcessor:
    """Opens a ticket for every order and answers "in progress"; the ticket's outcome ends
    the order later (see :func:`apply_ticket` and :func:`sync_tickets`).

    The create ticket's key becomes the resource's backend id. An order handed over again
    finds its ticket (the desk opens one ticket per order); if that ticket was rejected or
    canceled (the order erred and is being retried), it is reopened.
    """

    def __init__(self, desk: TicketDesk, *, write_ticket: TicketWriter = write_ticket) -> None:
        self.desk = desk
        self.write_ticket = write_ticket

    def validate(self, request: ProcessingRequest) -> None:
        """Refuse a consumer note (``attributes["description"]``) that is not a string of
        at most 10,000 characters."""
        note = request.order.attributes.get(DESCRIPTION_ATTRIBUTE)
        if note is not None:
            require_string(
                note, f"attributes.{DESCRIPTION_ATTRIBUTE}", max_length=MAX_DESCRIPTION_LENGTH
            )

    def create(self, request: ProcessingRequest) -> InProgress:
        """Open the create ticket; its key is the resource's backend id."""
        return InProgress(backend_id=self._open(request).key)

    def update(self, request: ProcessingRequest) -> InProgress:
        """Open a ticket for the plan switch or limit change."""
        self._open(request)
        return InProgress()

    def terminate(self, request: ProcessingRequest) -> InProgress:
        """Open a ticket to remove the resource."""
        self._open(request)
        return InProgress()

    def _open(self, request: ProcessingRequest) -> Ticket:
        text = self.write_ticket(request)
        ticket = self.desk.open_ticket(request.order.id, text.summary, text.description)
        if ticket.status in (TicketStatus.REJECTED, TicketStatus.CANCELED):
            ticket = self.desk.reopen_ticket(
                ticket.key,
                f"Reopened: marketplace order {request.order.id} was handed over again "
                f"after the ticket was {ticket.status.value}. Please handle it once more.",
            )
        return ticket


def register_support(
    registry: PluginRegistry,
    desk: TicketDesk,
    plugin_type: str = "support",
    *,
    write_ticket: TicketWriter = write_ticket,
) -> None:
    """Register the support plugin under ``plugin_type``, opening its tickets on ``desk``."""
    registry.register(
        plugin_type, SupportProcessor(desk, write_ticket=write_ticket), SUPPORT_CAPABILITIES
    )


# --------------------------------------------------------------------------- ticket outcomes


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
    Rejected: the order errs with the resolution comment as its message (cut to
    :data:`MAX_MESSAGE_LENGTH` characters). Canceled: the order is canceled. An open ticket,
    or a ticket whose order is not executing or was not handed to the desk yet, changes
    nothing, so applying a ticket twice counts once. Refuses a ticket whose order belongs
    to an offering of another plugin.
    """
    order = market.get_order(ticket.order_id)
    _support_desk(market, order.offering_id)
    if (
        not ticket.status.is_closed
        or order.state is not OrderState.EXECUTING
        or order.dispatched_at is None
    ):
        return order
    resource_id = order.resource_id
    if ticket.status is TicketStatus.REJECTED:
        message = _shorten(ticket.resolution_comment or f"ticket {ticket.key} was rejected")
        fail = {
            OrderType.CREATE: market.resource_creation_failed,
            OrderType.UPDATE: market.resource_update_failed,
            OrderType.TERMINATE: market.resource_deletion_failed,
        }[order.type]
        return fail(actor_id, resource_id, message)
    if ticket.status is TicketStatus.CANCELED:
        cancel = {
            OrderType.CREATE: market.resource_creation_canceled,
            OrderType.UPDATE: market.resource_update_canceled,
            OrderType.TERMINATE: market.resource_deletion_canceled,
        }[order.type]
        return cancel(actor_id, resource_id)
    metadata = {"support_ticket": ticket.key, "support_resolution": ticket.resolution_comment}
    if order.type is OrderType.CREATE:
        return market.resource_creation_succeeded(
            actor_id, resource_id, backend_id=ticket.key, metadata=metadata
        )
    if order.type is OrderType.UPDATE:
        return market.resource_update_succeeded(actor_id, resource_id, metadata=metadata)
    return market.resource_deletion_succeeded(actor_id, resource_id)


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


def _shorten(message: str) -> str:
    if len(message) <= MAX_MESSAGE_LENGTH:
        return message
    return message[: MAX_MESSAGE_LENGTH - 1] + "\u2026"


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
