"""The words of a ticket: :class:`TicketText`, the :data:`TicketWriter` a host may replace,
and the default :func:`write_ticket`."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from marketplace_core.frozen import thaw_json
from marketplace_core.offerings import Offering
from marketplace_core.orders import Order, OrderType
from marketplace_core.plugins.processor import ProcessingRequest

DESCRIPTION_ATTRIBUTE = "description"
"""The order attribute in which a consumer may write to the support team; it is quoted in
the ticket."""


@attrs.frozen
class TicketText:
    """The words of a new ticket: a one-line ``summary`` and a longer ``description``."""

    summary: str
    description: str


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
