"""The support plugin's processor: :class:`SupportProcessor`, which opens a ticket per
order, :data:`SUPPORT_CAPABILITIES` and :func:`register_support`."""

from __future__ import annotations

from marketplace_core.inputs import require_string
from marketplace_core.plugins.processor import InProgress, ProcessingRequest
from marketplace_core.plugins.registry import PluginCapabilities, PluginRegistry
from marketplace_core.plugins.support.desk import Ticket, TicketDesk, TicketStatus
from marketplace_core.plugins.support.ticket_text import (
    DESCRIPTION_ATTRIBUTE,
    TicketWriter,
    write_ticket,
)

SUPPORT_CAPABILITIES = PluginCapabilities(can_update_limits=True, can_cancel_orders=True)
"""Limits can be changed and executing orders canceled; no provider review by default (the
ticket is the provider's review)."""

MAX_DESCRIPTION_LENGTH = 10_000
"""The longest consumer note an order may carry."""


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
