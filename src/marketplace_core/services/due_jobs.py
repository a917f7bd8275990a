"""End dates and the due jobs: setting a resource's last day, a provider's notice of
termination, and the daily work that terminates what is due and releases waiting orders.
"""

from __future__ import annotations

from datetime import date, timedelta

import attrs

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.events import (
    ResourceEndDateSet,
)
from marketplace_core.frozen import freeze_json
from marketplace_core.inputs import (
    require_date,
    require_optional_date,
)
from marketplace_core.orders import (
    Order,
    OrderEvent,
    OrderState,
    OrderType,
    check_end_date,
    check_no_open_order,
    check_resource_ready,
)
from marketplace_core.organizations import (
    project_has_ended,
    project_has_started,
)
from marketplace_core.resources import (
    Resource,
    is_due_for_termination,
)
from marketplace_core.roles import Permission
from marketplace_core.services.context import Context
from marketplace_core.services.order_flow import (
    advance,
    move_order,
    place,
    require_state,
    resource_for_provider,
    scope_of_project,
    termination_order,
    undo_for,
)
from marketplace_core.users import User

PROVIDER_NOTICE = timedelta(days=7)
"""How far ahead a provider must schedule a termination."""


def _set_end_date(
    ctx: Context, resource: Resource, end_date: date | None, actor: User, *, by_provider: bool
) -> Resource:
    if not resource.is_live:
        raise ValidationError(
            ErrorCode.RESOURCE_NOT_READY,
            f"resource {resource.id!r} is terminated; it has no end date to set",
            resource_id=resource.id,
            state=resource.state.value,
        )
    if resource.end_date == end_date:
        return resource
    resource = ctx.uow.resources.update(
        attrs.evolve(
            resource,
            end_date=end_date,
            end_date_requested_by=actor.id if end_date else None,
            end_date_by_provider=by_provider and end_date is not None,
        )
    )
    ctx.uow.emit(
        ResourceEndDateSet(
            occurred_at=ctx.now, actor_id=actor.id, resource_id=resource.id, end_date=end_date
        )
    )
    return resource


def set_resource_end_date(
    ctx: Context, actor_id: str, resource_id: str, end_date: date | None
) -> Resource:
    """Set (or, with ``None``, clear) the inclusive last day of a resource. Needs
    ``resource.set_end_date`` on the project; today is the earliest date allowed.

    After a provider's notice (:func:`schedule_termination`) the consumer may only bring the
    date forward, not clear or postpone it.
    """
    resource = ctx.uow.resources.get(resource_id)
    project = ctx.uow.projects.get(resource.project_id)
    actor = ctx.authorize(actor_id, Permission.RESOURCE_SET_END_DATE, scope_of_project(project))
    check_end_date(require_optional_date(end_date, "end_date"), ctx.today)
    notice = resource.end_date if resource.end_date_by_provider else None
    if notice is not None and (end_date is None or end_date > notice):
        raise ValidationError(
            ErrorCode.END_DATE_SET_BY_PROVIDER,
            f"the provider gave notice that resource {resource.id!r} ends on "
            f"{notice.isoformat()}; the date can only be brought forward",
            resource_id=resource.id,
            end_date=notice.isoformat(),
        )
    return _set_end_date(ctx, resource, end_date, actor, by_provider=notice is not None)


def schedule_termination(ctx: Context, actor_id: str, resource_id: str, on: date) -> Resource:
    """The provider gives notice: the resource's last day becomes ``on``, at least seven
    days from today. Needs ``resource.set_end_date`` on the offering."""
    resource, actor = resource_for_provider(
        ctx, actor_id, resource_id, Permission.RESOURCE_SET_END_DATE
    )
    earliest = ctx.today + PROVIDER_NOTICE
    if require_date(on, "on") < earliest:
        raise ValidationError(
            ErrorCode.END_DATE_TOO_SOON,
            f"a provider schedules a termination at least {PROVIDER_NOTICE.days} days ahead: "
            f"the earliest is {earliest.isoformat()}, not {on.isoformat()}",
            resource_id=resource.id,
            earliest=earliest.isoformat(),
        )
    return _set_end_date(ctx, resource, on, actor, by_provider=True)


@attrs.frozen
class DueWork:
    """What the due jobs have to do today."""

    resources_to_terminate: tuple[tuple[str, str], ...]
    """``(resource id, reason)`` for resources past their end date or in ended projects."""
    orders_to_release: tuple[str, ...]
    """Orders waiting in ``pending-project`` whose project has started."""


def find_due_work(ctx: Context) -> DueWork:
    """The resources to terminate and the orders to release, as of today."""
    due: dict[str, str] = {}
    for project in ctx.uow.projects.all():
        if project_has_ended(project, ctx.today):
            assert project.end_date is not None
            for resource in ctx.uow.resources.for_project(project.id):
                if resource.is_live:
                    due[resource.id] = f"project ended on {project.end_date.isoformat()}"
    for resource in ctx.uow.resources.all():
        if is_due_for_termination(resource, ctx.today) and resource.id not in due:
            assert resource.end_date is not None
            due[resource.id] = f"end date {resource.end_date.isoformat()} passed"
    for resource_id in list(due):  # a termination already under way needs nothing more
        if any(
            order.type is OrderType.TERMINATE and order.is_open
            for order in ctx.uow.orders.for_resource(resource_id)
        ):
            del due[resource_id]
    releases = tuple(
        order.id
        for order in ctx.uow.orders.in_state(OrderState.PENDING_PROJECT)
        if order.resource_id not in due
        and project_has_started(ctx.uow.projects.get(order.project_id), ctx.today)
    )
    return DueWork(tuple(due.items()), releases)


def terminate_due_resource(ctx: Context, resource_id: str, reason: str) -> Order | None:
    """As the system: cancel the resource's pending orders and order its termination.

    Returns the termination order, or ``None`` when canceling a pending create order
    already terminated the resource. Refused while an order is executing.
    """
    resource = ctx.uow.resources.get(resource_id)
    for order in ctx.uow.orders.for_resource(resource.id):
        if order.state is OrderState.EXECUTING:
            check_no_open_order(resource, [order])
        if order.is_open:
            undo_for(ctx, move_order(ctx, order, OrderEvent.CANCEL, None), None)
    resource = ctx.uow.resources.get(resource.id)
    if not resource.is_live:
        return None
    check_resource_ready(resource, OrderType.TERMINATE)
    project = ctx.uow.projects.get(resource.project_id)
    offering = ctx.uow.offerings.get(resource.offering_id)
    plan = ctx.uow.plans.get(resource.plan_id) if resource.plan_id else None
    order = termination_order(ctx, resource, None, freeze_json({"reason": reason}, "attributes"))
    return place(ctx, None, order, project, offering, plan, resource, new_resource=False)


def release_order(ctx: Context, order_id: str) -> Order:
    """As the system: move an order out of ``pending-project`` now that its project started."""
    order = ctx.uow.orders.get(order_id)
    require_state(order, OrderState.PENDING_PROJECT, "release")
    reviewer_id = order.consumer_review.reviewer_id if order.consumer_review else None
    reviewer = ctx.uow.users.get(reviewer_id) if reviewer_id else None
    project = ctx.uow.projects.get(order.project_id)
    offering = ctx.uow.offerings.get(order.offering_id)
    return ctx.uow.orders.update(
        attrs.evolve(order, **advance(ctx, order, reviewer, project, offering))
    )
