"""Fulfilment: handing executing orders to their processors, and the backend callbacks.

A processor answers at once (the order is done or erred) or later; a backend that answers
later reports through the callbacks, which find the resource's executing order of the
matching type. A callback delivered twice has the effect of one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from marketplace_core.errors import ConflictError, ErrorCode, ValidationError
from marketplace_core.frozen import freeze_json
from marketplace_core.inputs import require_string, shorten_message
from marketplace_core.orders import (
    Order,
    OrderEvent,
    OrderState,
    OrderType,
    estimate_cost,
)
from marketplace_core.plugins.processor import Completed, InProgress, ProcessingRequest
from marketplace_core.resources import (
    Resource,
    ResourceEvent,
    ResourceState,
)
from marketplace_core.roles import Permission
from marketplace_core.services.context import Context
from marketplace_core.services.order_flow import (
    change_resource,
    move_order,
    resource_for_provider,
    undo_for,
)


def process_order(ctx: Context, order_id: str, worker_id: str | None = None) -> Order:
    """Hand an executing order to its plugin's processor and record what it answered.

    An order already handed over (waiting for the callbacks) is returned unchanged. A
    processor that raises, or an unregistered plugin, leaves the order erred with the
    message; the resource follows the table in ``docs/orders.md``. An order another worker
    holds under a running lease (``claims.claim_order_for_processing``) is refused with
    ``order_claimed``; ``worker_id`` names the worker processing it.
    """
    return process_order_remembering(ctx, order_id, worker_id, None)


@attrs.frozen
class ProcessorFailed:
    """A processor's call that raised, remembered as the message the order errs with."""

    message: str


def process_order_remembering(
    ctx: Context, order_id: str, worker_id: str | None, answers: dict[str, object] | None
) -> Order:
    """:func:`process_order`, taking the processor's answer from ``answers`` when it already
    gave one for this order, and keeping its new answers there: a worker whose unit of work
    conflicted after the backend answered records the same answer again, without asking the
    backend twice."""
    order = ctx.uow.orders.get(order_id)
    if order.state is not OrderState.EXECUTING:
        raise ValidationError(
            ErrorCode.ORDER_NOT_EXECUTING,
            f"order {order.id!r} is {order.state.value}; only executing orders are processed",
            order_id=order.id,
            state=order.state.value,
        )
    if order.dispatched_at is not None:
        return order
    check_not_held_by_another(ctx, order, worker_id)
    resource = ctx.uow.resources.get(order.resource_id)
    offering = ctx.uow.offerings.get(order.offering_id)
    if answers is not None and order.id in answers:
        result = answers[order.id]
    else:
        plan = ctx.uow.plans.get(order.plan_id) if order.plan_id else None
        result = _ask_processor(ctx, ProcessingRequest(order, resource, offering, plan))
        if answers is not None:
            answers[order.id] = result
    if isinstance(result, ProcessorFailed):
        return fail_order(ctx, order, resource, result.message, None)
    if isinstance(result, Completed):
        return finish_order(ctx, order, resource, None, result.backend_id, result.metadata)
    if isinstance(result, InProgress):
        return _dispatched(ctx, order, resource, result.backend_id)
    return fail_order(
        ctx,
        order,
        resource,
        f"processor of {offering.plugin_type!r} returned {result!r}; "
        "expected Completed or InProgress",
        None,
    )


def _ask_processor(ctx: Context, request: ProcessingRequest) -> object:
    """What the order's processor answers, or :class:`ProcessorFailed` when it raises."""
    try:
        processor = ctx.plugins.get(request.offering.plugin_type).processor
        step = {
            OrderType.CREATE: processor.create,
            OrderType.UPDATE: processor.update,
            OrderType.TERMINATE: processor.terminate,
        }[request.order.type]
        result: object = step(request)
    except Exception as error:
        return ProcessorFailed(shorten_message(f"{type(error).__name__}: {error}"))
    return result


def _dispatched(ctx: Context, order: Order, resource: Resource, backend_id: str | None) -> Order:
    changes = {} if backend_id is None else {"backend_id": backend_id}
    event = {
        OrderType.CREATE: None,
        OrderType.UPDATE: ResourceEvent.BEGIN_UPDATE,
        OrderType.TERMINATE: ResourceEvent.BEGIN_TERMINATION,
    }[order.type]
    change_resource(ctx, resource, event, None, **changes)
    # A worker's processing claim ends here, so that site agents may claim the order at once.
    return ctx.uow.orders.update(
        attrs.evolve(order, dispatched_at=ctx.now, claimed_by=None, claim_expires_at=None)
    )


def finish_order(
    ctx: Context,
    order: Order,
    resource: Resource,
    actor_id: str | None,
    backend_id: str | None,
    metadata: Mapping[str, Any],
) -> Order:
    """The backend finished ``order``: record ``backend_id`` and ``metadata`` (merged over
    the resource's), apply what the order asked for, and complete it."""
    changes: dict[str, Any] = {}
    if backend_id is not None:
        changes["backend_id"] = backend_id
    if metadata:
        changes["backend_metadata"] = {**resource.backend_metadata, **metadata}
    event: ResourceEvent | None = ResourceEvent.SUCCEED
    if order.type is OrderType.TERMINATE:
        event = ResourceEvent.TERMINATE
        changes["terminated_at"] = ctx.now
    elif order.type is OrderType.UPDATE:
        offering = ctx.uow.offerings.get(order.offering_id)
        plan = ctx.uow.plans.get(order.plan_id) if order.plan_id else None
        changes["plan_id"] = order.plan_id
        changes["limits"] = order.limits
        changes["cost"] = estimate_cost(plan, offering, order.limits) if plan else None
    if event is ResourceEvent.SUCCEED and resource.state is ResourceState.OK:
        event = None  # a synchronous update leaves an ok resource ok
    changes["error_message"] = ""
    change_resource(ctx, resource, event, actor_id, **changes)
    return move_order(ctx, order, OrderEvent.COMPLETE, actor_id, completed_at=ctx.now)


def fail_order(
    ctx: Context, order: Order, resource: Resource, message: str, actor_id: str | None
) -> Order:
    """Err the order and record the error on the resource too. A resource being created or
    updated errs; one being terminated goes back to ok (the backend still has it); one the
    processor never touched (it raised before starting) keeps its state."""
    event = {
        ResourceState.CREATING: ResourceEvent.FAIL,
        ResourceState.UPDATING: ResourceEvent.FAIL,
        ResourceState.TERMINATING: ResourceEvent.RESTORE,
    }.get(resource.state)
    change_resource(ctx, resource, event, actor_id, error_message=message)
    return move_order(ctx, order, OrderEvent.FAIL, actor_id, error_message=message)


_OUTCOME_STATES = {
    "succeeded": OrderState.DONE,
    "failed": OrderState.ERRED,
    "canceled": OrderState.CANCELED,
}


def _report(
    ctx: Context,
    actor_id: str,
    resource_id: str,
    order_type: OrderType,
    outcome: str,
    *,
    message: str = "",
    backend_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    order_id: str | None = None,
) -> Order:
    """Apply a backend's report to the resource's executing order of ``order_type`` (to
    order ``order_id`` only, when given: a late report then never lands on a newer order).

    A report that was already applied (the order already ended that way) changes nothing.
    """
    resource, actor = resource_for_provider(ctx, actor_id, resource_id, Permission.ORDER_FULFIL)
    orders = [
        o
        for o in ctx.uow.orders.for_resource(resource.id)
        if o.type is order_type and (order_id is None or o.id == order_id)
    ]
    executing = [o for o in orders if o.state is OrderState.EXECUTING]
    if not executing:
        if orders and orders[-1].state is _OUTCOME_STATES[outcome]:
            return orders[-1]
        which = f"{order_type.value} order" + ("" if order_id is None else f" {order_id!r}")
        raise ValidationError(
            ErrorCode.NO_EXECUTING_ORDER,
            f"resource {resource.id!r} has no executing {which} for the backend to report "
            f"{outcome} on",
            resource_id=resource.id,
            order_type=order_type.value,
        )
    (order,) = executing
    if outcome == "succeeded":
        frozen: Mapping[str, Any] = freeze_json(metadata or {}, "metadata")
        return finish_order(ctx, order, resource, actor.id, backend_id, frozen)
    if outcome == "failed":
        return fail_order(ctx, order, resource, require_string(message, "message"), actor.id)
    order = move_order(ctx, order, OrderEvent.CANCEL, actor.id)
    undo_for(ctx, order, actor.id)
    return order


def resource_creation_succeeded(
    ctx: Context,
    actor_id: str,
    resource_id: str,
    *,
    backend_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    order_id: str | None = None,
) -> Order:
    """The backend created the resource: the create order is done, the resource ok.
    Needs ``order.fulfil`` on the offering."""
    return _report(
        ctx,
        actor_id,
        resource_id,
        OrderType.CREATE,
        "succeeded",
        backend_id=backend_id,
        metadata=metadata,
        order_id=order_id,
    )


def resource_creation_failed(
    ctx: Context, actor_id: str, resource_id: str, message: str, *, order_id: str | None = None
) -> Order:
    """The backend could not create the resource: order and resource err."""
    return _report(
        ctx, actor_id, resource_id, OrderType.CREATE, "failed", message=message, order_id=order_id
    )


def resource_creation_canceled(
    ctx: Context, actor_id: str, resource_id: str, *, order_id: str | None = None
) -> Order:
    """The backend canceled the creation: the order is canceled, the resource terminated."""
    return _report(ctx, actor_id, resource_id, OrderType.CREATE, "canceled", order_id=order_id)


def resource_update_succeeded(
    ctx: Context,
    actor_id: str,
    resource_id: str,
    *,
    metadata: Mapping[str, Any] | None = None,
    order_id: str | None = None,
) -> Order:
    """The backend applied the update: the resource takes the new plan or limits, and is ok."""
    return _report(
        ctx,
        actor_id,
        resource_id,
        OrderType.UPDATE,
        "succeeded",
        metadata=metadata,
        order_id=order_id,
    )


def resource_update_failed(
    ctx: Context, actor_id: str, resource_id: str, message: str, *, order_id: str | None = None
) -> Order:
    """The backend failed the update: order and resource err."""
    return _report(
        ctx, actor_id, resource_id, OrderType.UPDATE, "failed", message=message, order_id=order_id
    )


def resource_update_canceled(
    ctx: Context, actor_id: str, resource_id: str, *, order_id: str | None = None
) -> Order:
    """The backend canceled the update: the order is canceled, the resource back to ok."""
    return _report(ctx, actor_id, resource_id, OrderType.UPDATE, "canceled", order_id=order_id)


def resource_deletion_succeeded(
    ctx: Context, actor_id: str, resource_id: str, *, order_id: str | None = None
) -> Order:
    """The backend removed the resource: the termination is done, the resource terminated."""
    return _report(ctx, actor_id, resource_id, OrderType.TERMINATE, "succeeded", order_id=order_id)


def resource_deletion_failed(
    ctx: Context, actor_id: str, resource_id: str, message: str, *, order_id: str | None = None
) -> Order:
    """The backend could not remove the resource: the order errs, the resource stays ok with
    the error recorded."""
    return _report(
        ctx,
        actor_id,
        resource_id,
        OrderType.TERMINATE,
        "failed",
        message=message,
        order_id=order_id,
    )


def resource_deletion_canceled(
    ctx: Context, actor_id: str, resource_id: str, *, order_id: str | None = None
) -> Order:
    """The backend canceled the termination: the order is canceled, the resource back to ok."""
    return _report(ctx, actor_id, resource_id, OrderType.TERMINATE, "canceled", order_id=order_id)


def resource_erred_on_backend(
    ctx: Context, actor_id: str, resource_id: str, message: str
) -> Resource:
    """The backend reports a healthy resource broken: it errs with the message.

    Needs ``order.fulfil`` on the offering. Reporting the same error again changes nothing;
    only an ok resource can be reported broken (use the failure callbacks for work in
    progress).
    """
    resource, actor = resource_for_provider(ctx, actor_id, resource_id, Permission.ORDER_FULFIL)
    message = require_string(message, "message")
    if resource.state is ResourceState.ERRED and resource.error_message == message:
        return resource
    if resource.state is not ResourceState.OK:
        raise ValidationError(
            ErrorCode.RESOURCE_NOT_READY,
            f"resource {resource.id!r} is {resource.state.value}; only an ok resource can be "
            "reported erred on the backend",
            resource_id=resource.id,
            state=resource.state.value,
        )
    return change_resource(ctx, resource, ResourceEvent.FAIL, actor.id, error_message=message)


def held_by_another(ctx: Context, order: Order, worker_id: str | None) -> bool:
    """Whether someone other than ``worker_id`` holds ``order`` under a running lease."""
    return order.claimed_by != worker_id and order.is_claimed_at(ctx.now)


def check_not_held_by_another(ctx: Context, order: Order, worker_id: str | None) -> None:
    """Refuse (``order_claimed``) an order another worker holds under a running lease."""
    if held_by_another(ctx, order, worker_id):
        raise ConflictError(
            ErrorCode.ORDER_CLAIMED,
            f"order {order.id!r} is being processed by worker {order.claimed_by!r} until "
            f"{order.claim_expires_at:%Y-%m-%d %H:%M:%S}",
            order_id=order.id,
            worker_id=order.claimed_by,
        )


def list_orders_to_process(
    ctx: Context, limit: int | None = None, worker_id: str | None = None
) -> Sequence[str]:
    """Ids of executing orders not yet handed to their processor, oldest first, leaving out
    those another worker than ``worker_id`` holds under a running lease."""
    return [
        order.id
        for order in ctx.uow.orders.in_state(OrderState.EXECUTING)
        if order.dispatched_at is None and not held_by_another(ctx, order, worker_id)
    ][:limit]
