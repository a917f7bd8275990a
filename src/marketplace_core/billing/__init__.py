"""Billing: usage reports, invoice items, invoices and credits, as values and pure rules.

The service layer (:mod:`marketplace_core.services.charging`, ``usage`` and ``invoicing``)
stores them; ``docs/billing.md`` explains every rule with worked numbers.
"""

from marketplace_core.billing.calendar import Boundary, Slot, add_months, month_of
from marketplace_core.billing.credits import (
    Compensation,
    Credit,
    CreditAllocation,
    allocate_credits,
)
from marketplace_core.billing.invoices import (
    INVOICE_LIFECYCLE,
    Invoice,
    InvoiceEvent,
    InvoiceState,
    InvoiceTotals,
    invoice_totals,
)
from marketplace_core.billing.items import InvoiceItem, ItemKind
from marketplace_core.billing.quantities import DEFAULT_ROUNDING, Rounding, unit_quantity
from marketplace_core.billing.usage import UsageReport

__all__ = [
    "DEFAULT_ROUNDING",
    "INVOICE_LIFECYCLE",
    "Boundary",
    "Compensation",
    "Credit",
    "CreditAllocation",
    "Invoice",
    "InvoiceEvent",
    "InvoiceItem",
    "InvoiceState",
    "InvoiceTotals",
    "ItemKind",
    "Rounding",
    "Slot",
    "UsageReport",
    "add_months",
    "allocate_credits",
    "invoice_totals",
    "month_of",
    "unit_quantity",
]
