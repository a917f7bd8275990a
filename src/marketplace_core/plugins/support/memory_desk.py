"""The reference :class:`~marketplace_core.plugins.support.desk.TicketDesk`: tickets in
memory, with the support team's side (resolve, reject) for tests."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from marketplace_core.errors import BackendError, ErrorCode, InvalidTransitionError, NotFoundError
from marketplace_core.plugins.support.desk import Ticket, TicketStatus


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
