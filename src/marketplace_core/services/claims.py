"""Claims: workers and site agents take executing orders under a lease.

Workers (processes calling ``process_executing_orders`` with a ``worker_id``) claim an order
before they hand it to its processor (:func:`claim_order_for_processing`), so that two
workers never call a processor for the same order: the claim is committed first, and a
racing claim conflicts on the order's version. A crashed worker's order is offered again
when its lease runs out; the processor may then see it twice, which processors must bear
anyway (they are idempotent per order id). Handing the order over ends the worker's claim.

Site agents take dispatched orders under a lease, and report what they did.

This is the pull model of a site agent. The offering's processor hands each executing order
over at once (it answers "in progress"); an agent at the site lists the orders waiting for
it, claims one for a while (its lease), does the work, and reports the outcome. Two agents
cannot hold the same order: a claim on an order another agent holds is refused, and two
claims racing for a free order conflict on the order's version, so one of them loses. An
agent that crashes lets its lease run out, and the order is offered again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import attrs

from marketplace_core.errors import ConflictError, ErrorCode, ValidationError
from marketplace_core.events import OrderClaimChanged
from marketplace_core.frozen import freeze_json
from marketplace_core.inputs import require_int, require_string, require_text
from marketplace_core.orders import Order, OrderState
from marketplace_core.roles import Permission
from marketplace_core.services.context import Context
from marketplace_core.services.fulfilment import (
    check_not_held_by_another,
    fail_order,
    finish_order,
)
from marketplace_core.services.order_flow import scope_of_offering
from marketplace_core.services.orders import list_executing_orders

MAX_LEASE_SECONDS = 7 * 24 * 3600
"""The longest lease an agent may take: a week."""

PROCESSING_LEASE_SECONDS = 300
"""How long a worker holds an order it processes, unless it says otherwise: five minutes."""


def claim_order_for_processing(
    ctx: Context, order_id: str, worker_id: str, lease_seconds: int = PROCESSING_LEASE_SECONDS
) -> Order:
    """As the system: ``worker_id`` takes an executing order not yet handed to its
    processor, for ``lease_seconds``, before it processes it.

    Refused with ``order_claimed`` while another worker holds the order under a running
    lease, and with ``order_not_executing`` once the order has moved on. Claiming an order
    the worker holds renews its lease; an order already handed over is returned unchanged
    (nothing is left to process).
    """
    worker_id = require_text(worker_id, "worker_id", max_length=200)
    lease_seconds = require_int(
        lease_seconds, "lease_seconds", minimum=1, maximum=MAX_LEASE_SECONDS
    )
    order = ctx.uow.orders.get(order_id)
    _check_executing(order)
    if order.dispatched_at is not None:
        return order
    check_not_held_by_another(ctx, order, worker_id)
    return _set_claim(ctx, order, None, worker_id, timedelta(seconds=lease_seconds))


def list_claimable_orders(
    ctx: Context, offering_id: str, limit: int | None = None
) -> Sequence[Order]:
    """The executing orders of an offering waiting for an agent: handed over to the
    backend and not held under a running lease, oldest first."""
    if limit is not None:
        limit = require_int(limit, "limit", minimum=0)
    waiting = [
        order
        for order in list_executing_orders(ctx, offering_id)
        if order.dispatched_at is not None and not order.is_claimed_at(ctx.now)
    ]
    return waiting[:limit]


def claim_order(
    ctx: Context, actor_id: str, order_id: str, agent_id: str, lease_seconds: int = 300
) -> Order:
    """Claim a dispatched executing order for ``agent_id`` for ``lease_seconds``.

    Needs ``order.fulfil`` on the order's offering. Claiming an order the agent already
    holds renews its lease; an order another agent holds under a running lease is refused
    (``order_claimed``). The agent reports the outcome with
    :func:`report_claimed_order_done` or :func:`report_claimed_order_erred` before the
    lease runs out.
    """
    order, actor_id = _order_for_agent(ctx, actor_id, order_id)
    agent_id = require_text(agent_id, "agent_id", max_length=200)
    lease_seconds = require_int(
        lease_seconds, "lease_seconds", minimum=1, maximum=MAX_LEASE_SECONDS
    )
    _check_executing(order)
    if order.dispatched_at is None:
        raise ValidationError(
            ErrorCode.ORDER_NOT_DISPATCHED,
            f"order {order.id!r} has not been handed to its backend yet; process it first",
            order_id=order.id,
        )
    if order.claimed_by != agent_id and order.is_claimed_at(ctx.now):
        raise ConflictError(
            ErrorCode.ORDER_CLAIMED,
            f"order {order.id!r} is claimed by agent {order.claimed_by!r} until "
            f"{order.claim_expires_at:%Y-%m-%d %H:%M:%S}",
            order_id=order.id,
            agent_id=order.claimed_by,
        )
    return _set_claim(ctx, order, actor_id, agent_id, timedelta(seconds=lease_seconds))


def release_order_claim(ctx: Context, actor_id: str, order_id: str, agent_id: str) -> Order:
    """Give up a claim the agent holds on an executing order, so another agent may take it
    at once.

    Releasing an order the agent does not hold, or one that has ended (its claim then
    records who reported it), changes nothing.
    """
    order, actor_id = _order_for_agent(ctx, actor_id, order_id)
    if (
        order.state is not OrderState.EXECUTING
        or order.claimed_by != agent_id
        or not order.is_claimed_at(ctx.now)
    ):
        return order
    return _set_claim(ctx, order, actor_id, None, None)


def report_claimed_order_done(
    ctx: Context,
    actor_id: str,
    order_id: str,
    agent_id: str,
    *,
    backend_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Order:
    """The agent finished the order: it completes as a backend callback would complete it.

    The agent must hold a running claim on the order (``claim_not_held`` otherwise).
    Reporting the same outcome again, by the same agent, changes nothing.
    """
    order, actor_id = _order_for_agent(ctx, actor_id, order_id)
    if order.state is OrderState.DONE and order.claimed_by == agent_id:
        return order
    _check_claim_held(ctx, order, agent_id)
    resource = ctx.uow.resources.get(order.resource_id)
    frozen: Mapping[str, Any] = freeze_json(metadata or {}, "metadata")
    return finish_order(ctx, order, resource, actor_id, backend_id, frozen)


def report_claimed_order_erred(
    ctx: Context, actor_id: str, order_id: str, agent_id: str, message: str
) -> Order:
    """The agent failed the order: it errs with ``message``, as a failure callback would.

    The agent must hold a running claim on the order. Reporting the same failure again, by
    the same agent, changes nothing.
    """
    order, actor_id = _order_for_agent(ctx, actor_id, order_id)
    message = require_string(message, "message")
    if (
        order.state is OrderState.ERRED
        and order.claimed_by == agent_id
        and order.error_message == message
    ):
        return order
    _check_claim_held(ctx, order, agent_id)
    resource = ctx.uow.resources.get(order.resource_id)
    return fail_order(ctx, order, resource, message, actor_id)


def _order_for_agent(ctx: Context, actor_id: str, order_id: str) -> tuple[Order, str]:
    order = ctx.uow.orders.get(order_id)
    offering = ctx.uow.offerings.get(order.offering_id)
    actor = ctx.authorize(actor_id, Permission.ORDER_FULFIL, scope_of_offering(offering))
    return order, actor.id


def _check_executing(order: Order) -> None:
    if order.state is not OrderState.EXECUTING:
        raise ValidationError(
            ErrorCode.ORDER_NOT_EXECUTING,
            f"order {order.id!r} is {order.state.value}; only executing orders are claimed",
            order_id=order.id,
            state=order.state.value,
        )


def _check_claim_held(ctx: Context, order: Order, agent_id: str) -> None:
    _check_executing(order)
    running = order.is_claimed_at(ctx.now)
    if order.claimed_by != agent_id or not running:
        if running:
            holder = f"agent {order.claimed_by!r} holds it"
        elif order.claimed_by == agent_id:
            holder = "its lease ran out"
        else:
            holder = "nobody holds it"
        raise ConflictError(
            ErrorCode.CLAIM_NOT_HELD,
            f"agent {agent_id!r} does not hold a claim on order {order.id!r} ({holder}); "
            "claim it again before reporting",
            order_id=order.id,
            agent_id=agent_id,
        )


def _set_claim(
    ctx: Context,
    order: Order,
    actor_id: str | None,
    agent_id: str | None,
    lease: timedelta | None,
) -> Order:
    expires_at = None if lease is None else ctx.now + lease
    ctx.uow.emit(
        OrderClaimChanged(
            occurred_at=ctx.now,
            actor_id=actor_id,
            order_id=order.id,
            agent_id=agent_id,
            expires_at=expires_at,
        )
    )
    return ctx.uow.orders.update(
        attrs.evolve(order, claimed_by=agent_id, claim_expires_at=expires_at)
    )
