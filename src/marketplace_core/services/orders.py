"""Commands and queries on orders: placing them (create, plan switch, limit change,
termination), reviewing, rejecting, canceling and retrying them.

Placement validates everything before anything is stored, then routes the order through the
reviews (:mod:`marketplace_core.approvals`). An order that reaches ``executing`` is handed to
its processor after the command commits (:mod:`marketplace_core.services.fulfilment`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

import attrs

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.frozen import freeze_json
from marketplace_core.inputs import (
    require_mapping,
    require_optional_date,
    require_string,
    require_text,
)
from marketplace_core.offerings import (
    Offering,
    Plan,
    check_limits,
    check_orderable,
    check_plan_open,
)
from marketplace_core.orders import (
    OPEN_STATES,
    Order,
    OrderEvent,
    OrderState,
    OrderType,
    check_end_date,
    check_no_open_order,
    check_offering_takes_changes,
    check_order_still_applies,
    check_plan_capacity,
    check_plan_of_offering,
    check_project_not_ended,
    check_resource_ready,
    estimate_cost,
    order_cost,
)
from marketplace_core.organizations import (
    Project,
    check_organization_active,
)
from marketplace_core.resources import (
    Resource,
)
from marketplace_core.roles import Permission
from marketplace_core.services.context import Context
from marketplace_core.services.order_flow import (
    advance,
    move_order,
    new_order,
    place,
    require_state,
    review,
    scope_of_offering,
    scope_of_project,
    termination_order,
    undo_for,
)
from marketplace_core.services.policy_engine import flags_in_force
from marketplace_core.services.quotas import check_quotas, check_vetoes
from marketplace_core.users import User


def _check_order_limits(
    ctx: Context,
    offering: Offering,
    project: Project,
    raw_limits: object,
    resource_id: str | None,
) -> dict[str, int]:
    """The requested limits, once every limit rule passes; the aggregates are computed only
    for the components whose rules need them."""
    limits = dict(require_mapping(raw_limits, "limits"))
    used_in_period: dict[str, int] = {}
    allocated_elsewhere: dict[str, int] = {}
    capped = [
        component
        for component in offering.components
        if component.type in limits
        and (component.limit_amount is not None or component.max_available_limit is not None)
    ]
    if capped:
        requested = _requested_limits(ctx, offering.id)
        others = [
            other
            for other in ctx.uow.resources.for_offering(offering.id)
            if other.is_live and other.id != resource_id
        ]
        for component in capped:
            claims = {other.id: _claimed(other, requested, component.type) for other in others}
            if component.limit_amount is not None:
                used_in_period[component.type] = sum(
                    claims[other.id] for other in others if other.project_id == project.id
                )
            if component.max_available_limit is not None:
                allocated_elsewhere[component.type] = sum(claims.values())
    check_limits(
        offering, limits, used_in_period=used_in_period, allocated_elsewhere=allocated_elsewhere
    )
    return limits


def _claimed(
    resource: Resource, requested: Mapping[str, Mapping[str, int]], component_type: str
) -> int:
    """What a resource claims of a component: the larger of what it holds and what an open
    limit change asks for."""
    held = resource.limits.get(component_type, 0)
    return max(held, requested.get(resource.id, {}).get(component_type, 0))


def _open_orders(ctx: Context) -> Iterator[Order]:
    """Every order that still blocks its resource (pending or executing)."""
    for state in sorted(OPEN_STATES):
        yield from ctx.uow.orders.in_state(state)


def _requested_limits(ctx: Context, offering_id: str) -> dict[str, Mapping[str, int]]:
    """The limits that open limit-change orders of the offering ask for, by resource: a
    resource claims the larger of what it holds and what it asked for."""
    return {
        order.resource_id: order.limits
        for order in _open_orders(ctx)
        if order.offering_id == offering_id and order.is_limit_change
    }


def _check_capacity(ctx: Context, plan: Plan, resource_id: str | None) -> None:
    """Refuse a plan whose capacity the live resources on it, and the open switches to it
    from other resources, already fill."""
    if plan.max_amount is None:
        return
    switching_in = sum(
        1
        for order in _open_orders(ctx)
        if order.is_plan_switch and order.plan_id == plan.id and order.resource_id != resource_id
    )
    check_plan_capacity(plan, ctx.uow.resources.count_live_on_plan(plan.id) + switching_in)


def _attributes(attributes: Mapping[str, Any] | None) -> Mapping[str, Any]:
    frozen: Mapping[str, Any] = freeze_json(
        require_mapping({} if attributes is None else attributes, "attributes"), "attributes"
    )
    return frozen


def order_resource(
    ctx: Context,
    actor_id: str,
    project_id: str,
    offering_id: str,
    plan_id: str,
    name: str,
    *,
    limits: Mapping[str, int] | None = None,
    attributes: Mapping[str, Any] | None = None,
    end_date: date | None = None,
) -> Order:
    """Order a new resource of an offering, on a plan, for a project. Needs ``order.create``.

    Refused, with nothing written, unless: the project's organization is active and the
    project has not ended; the offering is orderable by the project; the plan is the
    offering's, not archived and below its capacity; the limits pass every limit rule; the
    end date is not in the past; and the plugin's processor accepts the order.
    """
    project = ctx.uow.projects.get(project_id)
    creator = ctx.authorize(actor_id, Permission.ORDER_CREATE, scope_of_project(project))
    offering = ctx.uow.offerings.get(offering_id)
    plan = ctx.uow.plans.get(plan_id)
    check_project_not_ended(project, ctx.today)
    check_orderable(
        offering,
        ctx.uow.plans.for_offering(offering.id),
        ctx.uow.organizations.get(project.organization_id),
        project.id,
        provider=ctx.uow.organizations.get(offering.provider_id),
        plugin_registered=ctx.plugins.is_registered(offering.plugin_type),
    )
    check_plan_of_offering(plan, offering)
    check_plan_open(plan)
    _check_capacity(ctx, plan, None)
    requested = _check_order_limits(ctx, offering, project, {} if limits is None else limits, None)
    check_end_date(require_optional_date(end_date, "end_date"), ctx.today)
    resource = Resource(
        id=ctx.ids.new_id("resource"),
        name=require_text(name, "name"),
        project_id=project.id,
        offering_id=offering.id,
        created_at=ctx.now,
        plan_id=plan.id,
        limits=requested,
        attributes=_attributes(attributes),
        cost=estimate_cost(plan, offering, requested),
        end_date=end_date,
        end_date_requested_by=creator.id if end_date else None,
        policy_flags=flags_in_force(ctx, project),
    )
    order = new_order(
        ctx,
        OrderType.CREATE,
        resource,
        creator.id,
        plan_id=plan.id,
        limits=requested,
        attributes=resource.attributes,
        cost=order_cost(OrderType.CREATE, plan, offering, requested),
    )
    check_vetoes(ctx, OrderType.CREATE, project, offering)
    check_quotas(ctx, order, project, offering, plan, resource)
    return place(ctx, creator, order, project, offering, plan, resource, new_resource=True)


def _check_parties_can_go_ahead(
    ctx: Context, order_type: OrderType, project: Project, offering: Offering
) -> None:
    """Unless the order terminates: both organizations active, the project not ended, and
    no deny rule or policy in force vetoing it.

    Checked when an order is placed, approved on either side, or retried; terminations are
    always let through, since they only reduce what is held.
    """
    if order_type is OrderType.TERMINATE:
        return
    check_organization_active(ctx.uow.organizations.get(project.organization_id))
    check_project_not_ended(project, ctx.today)
    check_organization_active(ctx.uow.organizations.get(offering.provider_id))
    check_vetoes(ctx, order_type, project, offering)


def _load_for_change(
    ctx: Context, resource_id: str, actor_id: str, permission: Permission
) -> tuple[Resource, Project, Offering, User]:
    """A live resource that may take an update order from the actor."""
    resource = ctx.uow.resources.get(resource_id)
    project = ctx.uow.projects.get(resource.project_id)
    actor = ctx.authorize(actor_id, permission, scope_of_project(project))
    offering = ctx.uow.offerings.get(resource.offering_id)
    _check_parties_can_go_ahead(ctx, OrderType.UPDATE, project, offering)
    check_offering_takes_changes(offering)
    check_resource_ready(resource, OrderType.UPDATE)
    check_no_open_order(resource, ctx.uow.orders.for_resource(resource.id))
    return resource, project, offering, actor


def order_plan_switch(ctx: Context, actor_id: str, resource_id: str, plan_id: str) -> Order:
    """Order a switch of a resource to another plan of its offering. Needs
    ``resource.set_plan``.

    The resource must be ok with no open order; the new plan must be another plan of the
    offering, not archived and below its capacity.
    """
    resource, project, offering, actor = _load_for_change(
        ctx, resource_id, actor_id, Permission.RESOURCE_SET_PLAN
    )
    plan = ctx.uow.plans.get(plan_id)
    check_plan_of_offering(plan, offering)
    check_plan_open(plan)
    if plan.id == resource.plan_id:
        raise ValidationError(
            ErrorCode.PLAN_UNCHANGED,
            f"resource {resource.id!r} is already on plan {plan.id!r}",
            resource_id=resource.id,
            plan_id=plan.id,
        )
    _check_capacity(ctx, plan, resource.id)
    order = new_order(
        ctx,
        OrderType.UPDATE,
        resource,
        actor.id,
        plan_id=plan.id,
        old_plan_id=resource.plan_id,
        limits=resource.limits,
        cost=order_cost(OrderType.UPDATE, plan, offering, resource.limits, plan_switch=True),
    )
    check_quotas(ctx, order, project, offering, plan, resource)
    return place(ctx, actor, order, project, offering, plan, resource, new_resource=False)


def order_limit_change(
    ctx: Context, actor_id: str, resource_id: str, limits: Mapping[str, int]
) -> Order:
    """Order new limits for a resource. Needs ``resource.set_limits``.

    The plugin must allow limit changes, the resource must be ok with no open order, and the
    new limits must differ from the current ones and pass every limit rule.
    """
    resource, project, offering, actor = _load_for_change(
        ctx, resource_id, actor_id, Permission.RESOURCE_SET_LIMITS
    )
    if not ctx.plugins.capabilities(offering.plugin_type).can_update_limits:
        raise ValidationError(
            ErrorCode.LIMITS_NOT_UPDATABLE,
            f"plugin {offering.plugin_type!r} of offering {offering.id!r} does not allow "
            "limit changes",
            offering_id=offering.id,
            plugin_type=offering.plugin_type,
        )
    requested = _check_order_limits(ctx, offering, project, limits, resource.id)
    if requested == resource.limits:
        raise ValidationError(
            ErrorCode.LIMITS_UNCHANGED,
            f"resource {resource.id!r} already has limits {dict(requested)}",
            resource_id=resource.id,
        )
    plan = ctx.uow.plans.get(resource.plan_id) if resource.plan_id else None
    order = new_order(
        ctx,
        OrderType.UPDATE,
        resource,
        actor.id,
        plan_id=resource.plan_id,
        old_plan_id=resource.plan_id,
        limits=requested,
        old_limits=resource.limits,
        cost=order_cost(OrderType.UPDATE, plan, offering, requested) if plan else None,
    )
    check_quotas(ctx, order, project, offering, plan, resource)
    return place(ctx, actor, order, project, offering, plan, resource, new_resource=False)


def order_termination(
    ctx: Context, actor_id: str, resource_id: str, *, attributes: Mapping[str, Any] | None = None
) -> Order:
    """Order the termination of a resource that is ok or erred, with no open order.

    Needs ``resource.terminate`` on the project (the consumer) or on the offering (the
    provider). Refused neither for a blocked organization nor for an ended project:
    termination only reduces what is held.
    """
    resource = ctx.uow.resources.get(resource_id)
    project = ctx.uow.projects.get(resource.project_id)
    offering = ctx.uow.offerings.get(resource.offering_id)
    actor = ctx.authorize_any(
        actor_id,
        (Permission.RESOURCE_TERMINATE, scope_of_project(project)),
        (Permission.RESOURCE_TERMINATE, scope_of_offering(offering)),
    )
    check_resource_ready(resource, OrderType.TERMINATE)
    check_no_open_order(resource, ctx.uow.orders.for_resource(resource.id))
    order = termination_order(ctx, resource, actor.id, _attributes(attributes))
    plan = ctx.uow.plans.get(resource.plan_id) if resource.plan_id else None
    return place(ctx, actor, order, project, offering, plan, resource, new_resource=False)


def approve_order_as_consumer(ctx: Context, actor_id: str, order_id: str) -> Order:
    """Approve an order waiting in ``pending-consumer``. Needs ``order.approve`` on the
    project; unless the order terminates, both organizations must be active and the project
    not ended."""
    order = ctx.uow.orders.get(order_id)
    project = ctx.uow.projects.get(order.project_id)
    actor = ctx.authorize(actor_id, Permission.ORDER_APPROVE, scope_of_project(project))
    require_state(order, OrderState.PENDING_CONSUMER, "approve_as_consumer")
    offering = ctx.uow.offerings.get(order.offering_id)
    _check_parties_can_go_ahead(ctx, order.type, project, offering)
    changes: dict[str, Any] = review(ctx, order, "consumer", actor, automatic=False)
    changes |= advance(ctx, order, actor, project, offering)
    return ctx.uow.orders.update(attrs.evolve(order, **changes))


def approve_order_as_provider(ctx: Context, actor_id: str, order_id: str) -> Order:
    """Approve an order waiting in ``pending-provider``; it executes. Needs ``order.approve``
    on the offering; unless the order terminates, both organizations must be active and the
    project not ended."""
    order = ctx.uow.orders.get(order_id)
    offering = ctx.uow.offerings.get(order.offering_id)
    actor = ctx.authorize(actor_id, Permission.ORDER_APPROVE, scope_of_offering(offering))
    require_state(order, OrderState.PENDING_PROVIDER, "approve_as_provider")
    _check_parties_can_go_ahead(ctx, order.type, ctx.uow.projects.get(order.project_id), offering)
    reviewed = review(ctx, order, "provider", actor, automatic=False)
    ctx.schedule_processing(order.id)
    return move_order(ctx, order, OrderEvent.EXECUTE, actor.id, **reviewed)


def reject_order(ctx: Context, actor_id: str, order_id: str, *, reason: str = "") -> Order:
    """Reject a pending order; a rejected create order terminates its resource.

    While the order waits for the consumer side (``pending-consumer``, ``pending-project``)
    it needs ``order.reject`` on the project, or being its creator; while it waits for the
    provider, ``order.reject`` on the offering.
    """
    order = ctx.uow.orders.get(order_id)
    offering = ctx.uow.offerings.get(order.offering_id)
    if order.state is OrderState.PENDING_PROVIDER:
        side = "provider"
        actor = ctx.authorize(actor_id, Permission.ORDER_REJECT, scope_of_offering(offering))
    else:
        side = "consumer"
        project = ctx.uow.projects.get(order.project_id)
        actor = (
            ctx.uow.users.get(actor_id)
            if actor_id == order.created_by
            else ctx.authorize(actor_id, Permission.ORDER_REJECT, scope_of_project(project))
        )
    if order.state not in (
        OrderState.PENDING_CONSUMER,
        OrderState.PENDING_PROJECT,
        OrderState.PENDING_PROVIDER,
    ):
        require_state(order, OrderState.PENDING_CONSUMER, "reject")
    reviewed = review(ctx, order, side, actor, automatic=False, approved=False)
    order = move_order(
        ctx,
        order,
        OrderEvent.REJECT,
        actor.id,
        error_message=require_string(reason, "reason"),
        **reviewed,
    )
    undo_for(ctx, order, actor.id)
    return order


def cancel_order(ctx: Context, actor_id: str, order_id: str) -> Order:
    """Cancel an order. Needs ``order.cancel`` on the project, or being its creator.

    Pending orders can always be canceled; executing ones only when the plugin can cancel
    orders. A canceled create order terminates its resource; a canceled update or
    termination returns the resource to ok.
    """
    order = ctx.uow.orders.get(order_id)
    project = ctx.uow.projects.get(order.project_id)
    actor = (
        ctx.uow.users.get(actor_id)
        if actor_id == order.created_by
        else ctx.authorize(actor_id, Permission.ORDER_CANCEL, scope_of_project(project))
    )
    if order.state is OrderState.EXECUTING:
        offering = ctx.uow.offerings.get(order.offering_id)
        if not ctx.plugins.capabilities(offering.plugin_type).can_cancel_orders:
            raise ValidationError(
                ErrorCode.ORDER_NOT_CANCELABLE,
                f"order {order.id!r} is executing and plugin {offering.plugin_type!r} "
                "cannot cancel orders once they execute",
                order_id=order.id,
                plugin_type=offering.plugin_type,
            )
    order = move_order(ctx, order, OrderEvent.CANCEL, actor.id)
    undo_for(ctx, order, actor.id)
    return order


def retry_order(ctx: Context, actor_id: str, order_id: str) -> Order:
    """Send an erred order back to ``executing``. Needs ``order.create`` on the project
    (the consumer) or ``order.fulfil`` on the offering (the provider).

    The resource must still exist and have no other open order; unless the order
    terminates, both organizations must be active and the project not ended; an update must
    still apply (the resource is on the plan, or has the limits, it was placed against, and
    a new plan is still open).
    """
    order = ctx.uow.orders.get(order_id)
    project = ctx.uow.projects.get(order.project_id)
    offering = ctx.uow.offerings.get(order.offering_id)
    actor = ctx.authorize_any(
        actor_id,
        (Permission.ORDER_CREATE, scope_of_project(project)),
        (Permission.ORDER_FULFIL, scope_of_offering(offering)),
    )
    require_state(order, OrderState.ERRED, "retry")
    resource = ctx.uow.resources.get(order.resource_id)
    if not resource.is_live:
        raise ValidationError(
            ErrorCode.RESOURCE_NOT_READY,
            f"resource {resource.id!r} is terminated; its orders can no longer be retried",
            resource_id=resource.id,
            state=resource.state.value,
        )
    check_no_open_order(resource, ctx.uow.orders.for_resource(resource.id))
    _check_parties_can_go_ahead(ctx, order.type, project, offering)
    check_order_still_applies(order, resource)
    if order.is_plan_switch and order.plan_id is not None:
        check_plan_open(ctx.uow.plans.get(order.plan_id))
    order = move_order(
        ctx,
        order,
        OrderEvent.RETRY,
        actor.id,
        error_message="",
        dispatched_at=None,
        claimed_by=None,  # a retry is new work: any agent may take it at once
        claim_expires_at=None,
    )
    ctx.schedule_processing(order.id)
    return order


def get_order(ctx: Context, order_id: str) -> Order:
    """The order with this id."""
    return ctx.uow.orders.get(order_id)


def list_orders(ctx: Context, resource_id: str) -> Sequence[Order]:
    """The orders of a resource, oldest first."""
    return ctx.uow.orders.for_resource(ctx.uow.resources.get(resource_id).id)


def list_project_orders(ctx: Context, project_id: str) -> Sequence[Order]:
    """The orders of a project, oldest first."""
    return ctx.uow.orders.for_project(ctx.uow.projects.get(project_id).id)


def list_executing_orders(ctx: Context, offering_id: str) -> Sequence[Order]:
    """The executing orders of an offering's resources, oldest first (what its backend is
    working on, or about to)."""
    offering = ctx.uow.offerings.get(offering_id)
    return [
        order
        for order in ctx.uow.orders.in_state(OrderState.EXECUTING)
        if order.offering_id == offering.id
    ]


def get_resource(ctx: Context, resource_id: str) -> Resource:
    """The resource with this id."""
    return ctx.uow.resources.get(resource_id)


def list_offering_resources(ctx: Context, offering_id: str) -> Sequence[Resource]:
    """The resources of an offering, terminated ones included, oldest first."""
    return ctx.uow.resources.for_offering(ctx.uow.offerings.get(offering_id).id)


def list_resources(ctx: Context, project_id: str) -> Sequence[Resource]:
    """The resources of a project, terminated ones included, oldest first."""
    return ctx.uow.resources.for_project(ctx.uow.projects.get(project_id).id)
