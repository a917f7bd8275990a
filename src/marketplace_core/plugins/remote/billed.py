"""The invoice items that count on either side: those not on a canceled invoice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from marketplace_core.billing.invoices import InvoiceState
from marketplace_core.billing.items import InvoiceItem

if TYPE_CHECKING:  # the facade imports the plugins package
    from marketplace_core.marketplace import Marketplace


def billed_items(market: Marketplace, resource_id: str, month: date) -> Sequence[InvoiceItem]:
    """The invoice items of ``resource_id`` in ``month`` whose invoice was not canceled
    (a canceled invoice's items stay stored, but nobody owes them)."""
    items = [item for item in market.list_resource_items(resource_id) if item.month == month]
    canceled = {
        invoice_id
        for invoice_id in {item.invoice_id for item in items}
        if market.get_invoice(invoice_id).state is InvoiceState.CANCELED
    }
    return [item for item in items if item.invoice_id not in canceled]
