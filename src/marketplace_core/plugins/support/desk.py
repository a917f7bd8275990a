"""The ticket desk port: :class:`TicketDesk`, and the :class:`Ticket` it keeps in a
:class:`TicketStatus`."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

import attrs


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
