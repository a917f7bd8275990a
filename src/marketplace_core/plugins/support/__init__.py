"""The ``support`` plugin: offerings fulfilled by a support team through tickets.

Every create, update and termination order opens a ticket on the host's ticket desk (Jira,
ServiceNow, Zammad, ...) that says in plain words what to do, and waits. A person does the
work and closes the ticket; the ticket's outcome then ends the order: resolved means done,
rejected means erred (with the support team's comment as the error), canceled means
canceled. Outcomes reach the marketplace in two ways that give the same result: a webhook
handler passes each changed ticket to :func:`apply_ticket`, and a periodic job calls
:func:`sync_tickets`, which also cancels the tickets of orders that ended without them (the
consumer canceled an executing order, say).

- :mod:`.desk`: the :class:`TicketDesk` port, :class:`Ticket` and :class:`TicketStatus`.
- :mod:`.memory_desk`: :class:`InMemoryTicketDesk`, the reference adapter, with the
  methods a support team's tests use to close tickets.
- :mod:`.ticket_text`: :class:`TicketText`, :data:`TicketWriter` and the default
  :func:`write_ticket`.
- :mod:`.processor`: :class:`SupportProcessor`, :data:`SUPPORT_CAPABILITIES`,
  :func:`register_support`.
- :mod:`.outcomes`: :func:`apply_ticket`, :func:`sync_tickets` and
  :class:`TicketSyncReport`.
"""

from marketplace_core.plugins.support.desk import Ticket, TicketDesk, TicketStatus
from marketplace_core.plugins.support.memory_desk import InMemoryTicketDesk
from marketplace_core.plugins.support.outcomes import (
    TicketSyncReport,
    apply_ticket,
    sync_tickets,
)
from marketplace_core.plugins.support.processor import (
    MAX_DESCRIPTION_LENGTH,
    SUPPORT_CAPABILITIES,
    SupportProcessor,
    register_support,
)
from marketplace_core.plugins.support.ticket_text import (
    DESCRIPTION_ATTRIBUTE,
    TicketText,
    TicketWriter,
    write_ticket,
)

__all__ = [
    "DESCRIPTION_ATTRIBUTE",
    "MAX_DESCRIPTION_LENGTH",
    "SUPPORT_CAPABILITIES",
    "InMemoryTicketDesk",
    "SupportProcessor",
    "Ticket",
    "TicketDesk",
    "TicketStatus",
    "TicketSyncReport",
    "TicketText",
    "TicketWriter",
    "apply_ticket",
    "register_support",
    "sync_tickets",
    "write_ticket",
]
