"""Ids of billing records that two writers could race to create.

A month's invoice, the items that open a resource's month, a usage item, a usage report and
a credit each exist at most once for what they are about. Their ids are derived from that,
so when two units of work create the same record at once (a billing run and a usage report
opening the same month, say), storage sees the same id twice and the later commit fails
with a conflict instead of writing a duplicate. Every other id comes from the host's
:class:`~marketplace_core.ports.IdGenerator`.
"""

from __future__ import annotations

from datetime import date


def _month(month: date) -> str:
    """``YYYY-MM`` (formatted by hand: ``strftime`` costs several times as much)."""
    return f"{month.year:04d}-{month.month:02d}"


def invoice_id(organization_id: str, month: date) -> str:
    """The id of an organization's invoice for ``month``."""
    return f"invoice:{organization_id}:{_month(month)}"


def month_item_id(resource_id: str, month: date, component_type: str) -> str:
    """The id of the item that opens ``month`` for one component of a resource."""
    return f"item:{resource_id}:{_month(month)}:{component_type}"


def usage_item_id(resource_id: str, month: date, component_type: str, segment: int) -> str:
    """The id of the usage item of one component in ``month``, on its ``segment`` th plan of
    the month (0 for the first)."""
    return f"item:{resource_id}:{_month(month)}:{component_type}:usage:{segment}"


def usage_report_id(idempotency_key: str) -> str:
    """The id of the report accepted with ``idempotency_key``."""
    return f"usage:{idempotency_key}"


def credit_id(organization_id: str, project_id: str | None) -> str:
    """The id of an organization's credit (``project_id`` ``None``) or of a project's."""
    return f"credit:{organization_id}:{project_id or '-'}"
