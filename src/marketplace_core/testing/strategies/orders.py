"""Order stream specs: order commands that follow the order and resource lifecycles."""

from __future__ import annotations

import enum

import attrs
from hypothesis import strategies as st

from marketplace_core.marketplace import Marketplace
from marketplace_core.orders import Order, OrderState, OrderType
from marketplace_core.resources import ResourceState
from marketplace_core.testing.strategies.marketplaces import OrderingWorld


class OrderCommand(enum.StrEnum):
    """The order commands an order stream uses."""

    CREATE = "create"
    LIMIT_CHANGE = "limit-change"
    PLAN_SWITCH = "plan-switch"
    TERMINATION = "termination"
    APPROVE_AS_CONSUMER = "approve-as-consumer"
    APPROVE_AS_PROVIDER = "approve-as-provider"
    REJECT = "reject"
    CANCEL = "cancel"
    BACKEND_SUCCEEDED = "backend-succeeded"
    BACKEND_FAILED = "backend-failed"


class Orderer(enum.StrEnum):
    """Who places an order: the consumer's owner (no consumer review) or a project admin
    (the order waits for the consumer's approval)."""

    OWNER = "owner"
    ADMIN = "admin"


@attrs.frozen
class OrderStep:
    """One command on resource ``resource`` (the index of its create step's resource), and
    the state its order must be in afterwards. ``limit`` is the storage limit of a create or
    limit change; ``plan`` the index of the plan of a create or plan switch."""

    command: OrderCommand
    resource: int
    expected: OrderState
    orderer: Orderer = Orderer.OWNER
    limit: int = 0
    plan: int = 0


@attrs.frozen
class OrderStreamSpec:
    """Order steps, each valid in the state the earlier ones left, and the state, plan
    index and storage limit each resource must end with (in create order)."""

    steps: tuple[OrderStep, ...]
    final_resource_states: tuple[ResourceState, ...]
    final_plans: tuple[int, ...] = ()
    final_limits: tuple[int, ...] = ()


@attrs.frozen
class AppliedOrderStream:
    """What :func:`apply_order_stream` got: the order each step returned, and the ids of
    the resources created (in the order of their create steps)."""

    orders: tuple[Order, ...]
    resource_ids: tuple[str, ...]


@attrs.define
class _ModelResource:
    state: ResourceState
    plan: int
    limit: int
    order_type: OrderType | None = None
    order_state: OrderState | None = None
    orderer: Orderer = Orderer.OWNER
    pending: tuple[int, int] = (0, 0)  # plan and limit an open update would set


_SETTLED = {
    OrderCommand.REJECT: OrderState.REJECTED,
    OrderCommand.CANCEL: OrderState.CANCELED,
    OrderCommand.BACKEND_SUCCEEDED: OrderState.DONE,
    OrderCommand.BACKEND_FAILED: OrderState.ERRED,
}


def _settle(resource: _ModelResource, command: OrderCommand) -> None:
    """Where a resource goes when its open order is rejected, canceled, done or erred."""
    kind = resource.order_type
    if command is OrderCommand.BACKEND_SUCCEEDED:
        done = ResourceState.TERMINATED if kind is OrderType.TERMINATE else ResourceState.OK
        resource.state = done
        if kind is OrderType.UPDATE:
            resource.plan, resource.limit = resource.pending
    elif command is OrderCommand.BACKEND_FAILED:
        # A failed termination puts the resource back; a failed create or update breaks it.
        failed = ResourceState.OK if kind is OrderType.TERMINATE else ResourceState.ERRED
        resource.state = failed
    elif kind is OrderType.CREATE:
        resource.state = ResourceState.TERMINATED
    elif resource.state in (ResourceState.UPDATING, ResourceState.TERMINATING):
        resource.state = ResourceState.OK  # a dispatched change undone; pending ones left none
    resource.order_type = resource.order_state = None


_DISPATCHED = {
    OrderType.UPDATE: ResourceState.UPDATING,
    OrderType.TERMINATE: ResourceState.TERMINATING,
}
"""Where a resource goes when its change order starts executing."""


_FORWARD = {
    OrderState.PENDING_CONSUMER: OrderCommand.APPROVE_AS_CONSUMER,
    OrderState.PENDING_PROVIDER: OrderCommand.APPROVE_AS_PROVIDER,
    OrderState.EXECUTING: OrderCommand.BACKEND_SUCCEEDED,
}
"""The move that takes an open order forward; drawn as often as its alternatives together,
so streams reach the later states (an ok resource, an executing termination) often."""

_SETBACKS = {
    OrderState.PENDING_CONSUMER: (OrderCommand.REJECT, OrderCommand.CANCEL),
    OrderState.PENDING_PROVIDER: (OrderCommand.REJECT, OrderCommand.CANCEL),
    OrderState.EXECUTING: (OrderCommand.BACKEND_FAILED, OrderCommand.CANCEL),
}


def _moves(resources: list[_ModelResource], max_resources: int) -> list[tuple[OrderCommand, int]]:
    """Every command valid now, on the resource it names (forward moves first and twice)."""
    moves: list[tuple[OrderCommand, int]] = []
    for index, resource in enumerate(resources):
        commands: tuple[OrderCommand, ...] = ()
        if resource.order_state is not None:
            forward = _FORWARD[resource.order_state]
            commands = (forward, forward, *_SETBACKS[resource.order_state])
        elif resource.state is ResourceState.OK:
            commands = (
                OrderCommand.LIMIT_CHANGE,
                OrderCommand.PLAN_SWITCH,
                OrderCommand.TERMINATION,
            )
        elif resource.state is ResourceState.ERRED:
            commands = (OrderCommand.TERMINATION,)
        moves += [(command, index) for command in commands]
    if len(resources) < max_resources:
        moves.append((OrderCommand.CREATE, len(resources)))
    return moves


@st.composite
def order_streams(draw: st.DrawFn, max_steps: int = 16, max_resources: int = 3) -> OrderStreamSpec:
    """Up to ``max_steps`` order commands on up to ``max_resources`` resources of an
    :class:`OrderingWorld`: creates, limit changes, plan switches and terminations by the
    owner or a project admin, consumer and provider approvals, rejections, cancellations and
    the backend's success or failure, each valid where it is drawn."""
    resources: list[_ModelResource] = []
    steps: list[OrderStep] = []
    for _ in range(draw(st.integers(1, max_steps))):
        moves = _moves(resources, max_resources)
        if not moves:
            break
        command, index = draw(st.sampled_from(moves))
        orderer = Orderer.OWNER
        limit = plan = 0
        if command in (
            OrderCommand.CREATE,
            OrderCommand.LIMIT_CHANGE,
            OrderCommand.PLAN_SWITCH,
            OrderCommand.TERMINATION,
        ):
            orderer = draw(st.sampled_from(Orderer))
            state = (
                OrderState.PENDING_CONSUMER
                if orderer is Orderer.ADMIN
                else OrderState.PENDING_PROVIDER
            )
            if command is OrderCommand.CREATE:
                limit, plan = draw(st.integers(1, 1000)), draw(st.integers(0, 1))
                resources.append(_ModelResource(ResourceState.CREATING, plan, limit))
                order_type = OrderType.CREATE
            else:
                resource = resources[index]
                plan, limit = resource.plan, resource.limit
                order_type = OrderType.UPDATE
                if command is OrderCommand.LIMIT_CHANGE:
                    drawn = draw(st.integers(1, 999))  # any limit but the current one
                    limit = drawn + (drawn >= resource.limit)
                elif command is OrderCommand.PLAN_SWITCH:
                    plan = 1 - resource.plan
                else:
                    order_type = OrderType.TERMINATE
                resource.pending = (plan, limit)
            model = resources[index]
            model.order_type, model.order_state, model.orderer = order_type, state, orderer
        else:
            model = resources[index]
            if command is OrderCommand.APPROVE_AS_CONSUMER:
                state = OrderState.PENDING_PROVIDER
            elif command is OrderCommand.APPROVE_AS_PROVIDER:
                state = OrderState.EXECUTING
                if model.order_type in _DISPATCHED:
                    model.state = _DISPATCHED[model.order_type]
            else:
                state = _SETTLED[command]
            orderer = model.orderer
            if command in _SETTLED:
                _settle(model, command)
            else:
                model.order_state = state
        steps.append(OrderStep(command, index, state, orderer, limit, plan))
    return OrderStreamSpec(
        tuple(steps),
        tuple(resource.state for resource in resources),
        tuple(resource.plan for resource in resources),
        tuple(resource.limit for resource in resources),
    )


def apply_order_stream(
    market: Marketplace, world: OrderingWorld, spec: OrderStreamSpec
) -> AppliedOrderStream:
    """Run the steps on ``world``; returns each step's order (as the facade returned it,
    read back after the backend callbacks) and the ids of the created resources."""
    resource_ids: list[str] = []
    open_orders: dict[int, Order] = {}
    results: list[Order] = []
    consumer = {Orderer.OWNER: world.owner_id, Orderer.ADMIN: world.admin_id}
    provider = world.provider_owner_id
    for step in spec.steps:
        actor = consumer[step.orderer]
        match step.command:
            case OrderCommand.CREATE:
                order = market.order_resource(
                    actor,
                    world.project_id,
                    world.offering_id,
                    world.plan_ids[step.plan],
                    f"resource {step.resource}",
                    limits={"storage": step.limit},
                )
                resource_ids.append(order.resource_id)
            case OrderCommand.LIMIT_CHANGE:
                order = market.order_limit_change(
                    actor, resource_ids[step.resource], {"storage": step.limit}
                )
            case OrderCommand.PLAN_SWITCH:
                order = market.order_plan_switch(
                    actor, resource_ids[step.resource], world.plan_ids[step.plan]
                )
            case OrderCommand.TERMINATION:
                order = market.order_termination(actor, resource_ids[step.resource])
            case OrderCommand.APPROVE_AS_CONSUMER:
                order = market.approve_order_as_consumer(
                    world.owner_id, open_orders[step.resource].id
                )
            case OrderCommand.APPROVE_AS_PROVIDER:
                order = market.approve_order_as_provider(provider, open_orders[step.resource].id)
            case OrderCommand.REJECT:
                pending = open_orders[step.resource]
                judge = provider if pending.state is OrderState.PENDING_PROVIDER else world.owner_id
                order = market.reject_order(judge, pending.id, reason="drawn rejection")
            case OrderCommand.CANCEL:
                order = market.cancel_order(actor, open_orders[step.resource].id)
            case OrderCommand.BACKEND_SUCCEEDED | OrderCommand.BACKEND_FAILED:
                order = _report_backend(market, provider, open_orders[step.resource], step.command)
        open_orders[step.resource] = order
        results.append(order)
    return AppliedOrderStream(tuple(results), tuple(resource_ids))


def _report_backend(
    market: Marketplace, provider_id: str, order: Order, command: OrderCommand
) -> Order:
    resource_id = order.resource_id
    succeeded = command is OrderCommand.BACKEND_SUCCEEDED
    match order.type, succeeded:
        case OrderType.CREATE, True:
            return market.resource_creation_succeeded(provider_id, resource_id, order_id=order.id)
        case OrderType.CREATE, False:
            return market.resource_creation_failed(
                provider_id, resource_id, "drawn failure", order_id=order.id
            )
        case OrderType.UPDATE, True:
            return market.resource_update_succeeded(provider_id, resource_id, order_id=order.id)
        case OrderType.UPDATE, False:
            return market.resource_update_failed(
                provider_id, resource_id, "drawn failure", order_id=order.id
            )
        case _, True:
            return market.resource_deletion_succeeded(provider_id, resource_id, order_id=order.id)
        case _:
            return market.resource_deletion_failed(
                provider_id, resource_id, "drawn failure", order_id=order.id
            )
