"""The steps every order command shares: moving orders and resources through their
lifecycles, recording reviews, routing, placing, and undoing a resource's pending change.

These are the service layer's building blocks, not commands: each takes the command's
:class:`~marketplace_core.services.context.Context` and stages writes and events in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marketplace_core.approvals import (
    May,
    needs_consumer_review,
    needs_provider_review,
    next_step,
)
from marketplace_core.errors import InvalidTransitionError
from marketplace_core.events import (
    OrderPlaced,
    OrderReviewed,
    OrderStateChanged,
    ResourceChanged,
    ResourceCreated,
    ResourceStateChanged,
)
from marketplace_core.frozen import replace
from marketplace_core.notifications import Notification
from marketplace_core.offerings import Offering, Plan
from marketplace_core.orders import (
    ORDER_LIFECYCLE,
    Order,
    OrderEvent,
    OrderState,
    OrderType,
    Review,
)
from marketplace_core.organizations import Project, project_has_started
from marketplace_core.plugins.processor import ProcessingRequest
from marketplace_core.resources import (
    RESOURCE_LIFECYCLE,
    Resource,
    ResourceEvent,
    ResourceState,
)
from marketplace_core.roles import Permission, Scope, offering_scope, project_scope
from marketplace_core.services.charging import on_resource_changed
from marketplace_core.services.context import Context
from marketplace_core.users import User


def scope_of_project(project: Project) -> Scope:
    """Where consumer-side permissions are checked: the project, inside its organization."""
    return project_scope(project.id, project.organization_id)


def scope_of_offering(offering: Offering) -> Scope:
    """Where provider-side permissions are checked: the offering, inside its provider."""
    return offering_scope(offering.id, offering.provider_id)


def resource_for_provider(
    ctx: Context, actor_id: str, resource_id: str, permission: Permission
) -> tuple[Resource, User]:
    """A resource, and the actor once known to hold ``permission`` on its offering."""
    resource = ctx.uow.resources.get(resource_id)
    offering = ctx.uow.offerings.get(resource.offering_id)
    return resource, ctx.authorize(actor_id, permission, scope_of_offering(offering))


def transition(
    ctx: Context, order: Order, event: OrderEvent, actor_id: str | None, **changes: Any
) -> dict[str, Any]:
    """Announce that ``order`` moves by ``event``; returns the fields to set (the new state
    and ``changes``).

    Commands gather every change of one order (reviews, the move) and write the order once.
    """
    target = ORDER_LIFECYCLE.target(order.state, event, order.id)
    ctx.uow.emit(
        OrderStateChanged(
            occurred_at=ctx.now,
            actor_id=actor_id,
            order_id=order.id,
            event=event.value,
            source=order.state.value,
            target=target.value,
            error_message=changes.get("error_message", order.error_message),
        )
    )
    return {"state": target, **changes}


def move_order(
    ctx: Context, order: Order, event: OrderEvent, actor_id: str | None, **changes: Any
) -> Order:
    """The order after ``event`` (with ``changes``), stored."""
    return ctx.uow.orders.update(
        replace(order, **transition(ctx, order, event, actor_id, **changes))
    )


def change_resource(
    ctx: Context,
    resource: Resource,
    event: ResourceEvent | None,
    actor_id: str | None,
    **changes: Any,
) -> Resource:
    """Store the resource after ``event`` (if any) with ``changes``; emit what changed, and
    bill it (a resource that becomes ok for the first time is activated now)."""
    changed = {key for key, value in changes.items() if getattr(resource, key) != value}
    if event is None and not changed:
        return resource
    if event is not None:
        changes["state"] = RESOURCE_LIFECYCLE.target(resource.state, event, resource.id)
        if changes["state"] is ResourceState.OK and resource.activated_at is None:
            changes["activated_at"] = ctx.now
    stored = ctx.uow.resources.update(replace(resource, **changes))
    on_resource_changed(ctx, resource, stored)
    if event is not None:
        ctx.uow.emit(
            ResourceStateChanged(
                occurred_at=ctx.now,
                actor_id=actor_id,
                resource_id=resource.id,
                event=event.value,
                source=resource.state.value,
                target=stored.state.value,
                error_message=stored.error_message,
            )
        )
    shown = changed & {"plan_id", "limits", "backend_id", "backend_metadata", "cost"}
    if event is None and "error_message" in changed:
        shown.add("error_message")  # otherwise the state change already carries it
    if shown:
        ctx.uow.emit(
            ResourceChanged(
                occurred_at=ctx.now,
                actor_id=actor_id,
                resource_id=resource.id,
                changes=tuple(sorted(shown)),
            )
        )
    return stored


def require_state(order: Order, state: OrderState, action: str) -> None:
    """Refuse ``action`` (a command, not a lifecycle event) on an order not in ``state``."""
    if order.state is not state:
        raise InvalidTransitionError(
            "order",
            order.id,
            action,
            order.state.value,
            ORDER_LIFECYCLE.allowed_events(order.state),
        )


def review(
    ctx: Context,
    order: Order,
    side: str,
    reviewer: User | None,
    *,
    automatic: bool,
    approved: bool = True,
) -> dict[str, Review]:
    """Announce ``side``'s review of ``order``; returns the field to set."""
    recorded = Review(
        reviewer_id=reviewer.id if reviewer else None,
        at=ctx.now,
        automatic=automatic,
        approved=approved,
    )
    ctx.uow.emit(
        OrderReviewed(
            occurred_at=ctx.now,
            actor_id=recorded.reviewer_id,
            order_id=order.id,
            side=side,
            approved=approved,
            automatic=automatic,
        )
    )
    return {f"{side}_review": recorded}


def permissions_of(ctx: Context, user: User | None) -> May:
    """The approval rules' question "may this user do that?" (the system may do anything)."""
    if user is None:
        return lambda permission, scope: True
    return lambda permission, scope: ctx.authorizer.has_permission(user, permission, scope)


def route_placed(
    ctx: Context, order: Order, creator: User | None, project: Project, offering: Offering
) -> dict[str, Any]:
    """Route a new order: keep it for the consumer's review (no change), or stamp that
    review automatic and move the order on. Returns the fields to set."""
    if needs_consumer_review(order.type, creator, project, offering, permissions_of(ctx, creator)):
        notify_approvers(ctx, order, "consumer", scope_of_project(project))
        return {}
    changes: dict[str, Any] = review(ctx, order, "consumer", creator, automatic=True)
    return changes | advance(ctx, order, creator, project, offering)


def advance(
    ctx: Context, order: Order, reviewer: User | None, project: Project, offering: Offering
) -> dict[str, Any]:
    """Move a consumer-reviewed order on: hold it for its project, ask the provider, or
    execute it (with the provider's review stamped automatic). Returns the fields to set."""
    plugin = ctx.plugins.capabilities(offering.plugin_type)
    event = next_step(
        project_started=project_has_started(project, ctx.today),
        provider_review_needed=needs_provider_review(
            offering, plugin, reviewer, permissions_of(ctx, reviewer)
        ),
    )
    changes: dict[str, Any] = {}
    if event is OrderEvent.EXECUTE:
        changes |= review(ctx, order, "provider", reviewer, automatic=True)
        ctx.schedule_processing(order.id)
    elif event is OrderEvent.REQUEST_PROVIDER_REVIEW:
        notify_approvers(ctx, order, "provider", scope_of_offering(offering))
    return changes | transition(ctx, order, event, reviewer.id if reviewer else None)


def notify_approvers(ctx: Context, order: Order, side: str, scope: Scope) -> None:
    """Tell the users who may approve ``order`` on ``side`` that it waits for them."""
    candidates = {
        grant.user_id
        for enclosing in scope.chain()
        for grant in ctx.uow.role_grants.for_scope(enclosing.kind, enclosing.id)
    }
    recipients = tuple(
        sorted(
            user_id
            for user_id in candidates
            if ctx.authorizer.has_permission(
                ctx.uow.users.get(user_id), Permission.ORDER_APPROVE, scope
            )
        )
    )
    if not recipients:
        return
    ctx.notify(
        Notification(
            topic=f"order.awaiting_{side}_review",
            recipient_ids=recipients,
            subject=f"Order {order.id} awaits your review",
            body=f"The {order.type.value} order {order.id} for resource {order.resource_id} "
            f"waits for the {side}'s approval.",
            context={"order_id": order.id, "resource_id": order.resource_id, "side": side},
        )
    )


def check_with_processor(
    ctx: Context, order: Order, resource: Resource, offering: Offering, plan: Plan | None
) -> None:
    """Let the plugin's processor refuse the order before anything is stored."""
    processor = ctx.plugins.get(offering.plugin_type).processor
    processor.validate(ProcessingRequest(order, resource, offering, plan))


def place(
    ctx: Context,
    creator: User | None,
    order: Order,
    project: Project,
    offering: Offering,
    plan: Plan | None,
    resource: Resource,
    *,
    new_resource: bool,
) -> Order:
    """Store a validated order (and its new resource), then route it."""
    check_with_processor(ctx, order, resource, offering, plan)
    actor_id = creator.id if creator else None
    if new_resource:
        ctx.uow.resources.add(resource)
        ctx.uow.emit(
            ResourceCreated(
                occurred_at=ctx.now,
                actor_id=actor_id,
                resource_id=resource.id,
                order_id=order.id,
                project_id=project.id,
                offering_id=offering.id,
                plan_id=resource.plan_id,
            )
        )
    ctx.uow.emit(
        OrderPlaced(
            occurred_at=ctx.now,
            actor_id=actor_id,
            order_id=order.id,
            order_type=order.type.value,
            resource_id=order.resource_id,
            project_id=project.id,
            offering_id=offering.id,
            plan_id=order.plan_id,
            cost=order.cost,
        )
    )
    routed = route_placed(ctx, order, creator, project, offering)
    return ctx.uow.orders.add(replace(order, **routed) if routed else order)


def undo_for(ctx: Context, order: Order, actor_id: str | None) -> None:
    """Put the resource back after its order was rejected or canceled."""
    resource = ctx.uow.resources.get(order.resource_id)
    if order.type is OrderType.CREATE:
        if resource.is_live:
            change_resource(ctx, resource, ResourceEvent.TERMINATE, actor_id, terminated_at=ctx.now)
    elif resource.state in (ResourceState.UPDATING, ResourceState.TERMINATING):
        change_resource(ctx, resource, ResourceEvent.RESTORE, actor_id)


def new_order(
    ctx: Context, order_type: OrderType, resource: Resource, created_by: str | None, **fields: Any
) -> Order:
    """A new order of ``order_type`` on ``resource``, placed now by ``created_by`` (``None``:
    the system), with the order's other ``fields``."""
    return Order(
        id=ctx.ids.new_id("order"),
        type=order_type,
        resource_id=resource.id,
        project_id=resource.project_id,
        offering_id=resource.offering_id,
        created_at=ctx.now,
        created_by=created_by,
        **fields,
    )


def termination_order(
    ctx: Context, resource: Resource, created_by: str | None, attributes: Mapping[str, Any]
) -> Order:
    """A new termination order of ``resource``."""
    return new_order(
        ctx,
        OrderType.TERMINATE,
        resource,
        created_by,
        plan_id=resource.plan_id,
        limits=resource.limits,
        attributes=attributes,
    )
