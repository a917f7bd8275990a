"""Orders: requests to create, change or terminate a resource, and the rules on placing them.

An order is placed in ``pending-consumer``; the approval rules
(:mod:`marketplace_core.approvals`) route it onwards to ``pending-project``,
``pending-provider`` or ``executing``; a processor (plugin) fulfils it, at once or later
through the backend callbacks. The lifecycle is declared once here; routing picks the event.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.frozen import EMPTY_JSON, freeze_json, frozen_mapping
from marketplace_core.lifecycle import Lifecycle, Transition
from marketplace_core.money import ZERO
from marketplace_core.offerings import BillingType, Offering, OfferingState, Plan
from marketplace_core.organizations import Project, project_has_ended
from marketplace_core.resources import Resource, ResourceState


class OrderType(enum.StrEnum):
    """What an order asks for."""

    CREATE = "create"
    UPDATE = "update"
    TERMINATE = "terminate"


class OrderState(enum.StrEnum):
    """Where an order is in its life."""

    PENDING_CONSUMER = "pending-consumer"
    PENDING_PROJECT = "pending-project"
    PENDING_PROVIDER = "pending-provider"
    EXECUTING = "executing"
    DONE = "done"
    ERRED = "erred"
    CANCELED = "canceled"
    REJECTED = "rejected"


class OrderEvent(enum.StrEnum):
    """What moves an order between states."""

    HOLD_FOR_PROJECT = "hold_for_project"
    """Reviewed by the consumer, but the project has not started yet."""
    REQUEST_PROVIDER_REVIEW = "request_provider_review"
    """Reviewed by the consumer (and the project has started); the provider reviews next."""
    EXECUTE = "execute"
    """Every review is done: hand the order to the processor."""
    COMPLETE = "complete"
    FAIL = "fail"
    RETRY = "retry"
    REJECT = "reject"
    CANCEL = "cancel"


_S = OrderState
_E = OrderEvent
PENDING_STATES = (_S.PENDING_CONSUMER, _S.PENDING_PROJECT, _S.PENDING_PROVIDER)
OPEN_STATES = frozenset({*PENDING_STATES, _S.EXECUTING})
"""An order in one of these blocks a second order on the same resource."""

ORDER_LIFECYCLE: Lifecycle[OrderState, OrderEvent] = Lifecycle(
    "order",
    OrderState,
    OrderEvent,
    OrderState.PENDING_CONSUMER,
    [
        Transition(_E.HOLD_FOR_PROJECT, (_S.PENDING_CONSUMER,), _S.PENDING_PROJECT),
        Transition(
            _E.REQUEST_PROVIDER_REVIEW,
            (_S.PENDING_CONSUMER, _S.PENDING_PROJECT),
            _S.PENDING_PROVIDER,
        ),
        Transition(_E.EXECUTE, PENDING_STATES, _S.EXECUTING),
        Transition(_E.COMPLETE, (_S.EXECUTING,), _S.DONE),
        Transition(_E.FAIL, (_S.EXECUTING,), _S.ERRED),
        Transition(_E.RETRY, (_S.ERRED,), _S.EXECUTING),
        Transition(_E.REJECT, PENDING_STATES, _S.REJECTED),
        Transition(_E.CANCEL, (*PENDING_STATES, _S.EXECUTING), _S.CANCELED),
    ],
)
"""Done, rejected and canceled are final; erred waits for a retry."""


@attrs.frozen
class Review:
    """Who reviewed one side of an order, when, and whether it was automatic.

    ``reviewer_id`` is ``None`` when the system acted (a due job, a policy).
    """

    reviewer_id: str | None
    at: datetime
    automatic: bool
    approved: bool = True


def _frozen_json(value: Mapping[str, Any]) -> Mapping[str, Any]:
    frozen: Mapping[str, Any] = freeze_json(value, "attributes")
    return frozen


def _frozen_limits(value: Mapping[str, int] | None) -> Mapping[str, int] | None:
    return None if value is None else frozen_mapping(value)


@attrs.frozen
class Order:
    """A request to create, change or terminate a resource.

    An update order is either a plan switch (``plan_id`` differs from ``old_plan_id``) or a
    limit change (``old_limits`` is set). ``cost`` is the estimate per plan unit, with the
    one-time (create) or switch (plan switch) prices added. ``created_by`` is ``None`` for
    orders the system places. ``dispatched_at`` is set while the backend works on an
    executing order and will report through the callbacks. ``claimed_by`` names who holds
    the order until ``claim_expires_at`` (its lease): a worker processing it before it is
    handed over, or a site agent working on it after; on an ended order it names who ended
    it.
    """

    id: str
    type: OrderType
    resource_id: str
    project_id: str
    offering_id: str
    created_at: datetime
    created_by: str | None
    state: OrderState = OrderState.PENDING_CONSUMER
    plan_id: str | None = None
    old_plan_id: str | None = None
    limits: Mapping[str, int] = attrs.field(factory=dict, converter=frozen_mapping)
    old_limits: Mapping[str, int] | None = attrs.field(default=None, converter=_frozen_limits)
    attributes: Mapping[str, Any] = attrs.field(default=EMPTY_JSON, converter=_frozen_json)
    cost: Decimal | None = None
    consumer_review: Review | None = None
    provider_review: Review | None = None
    error_message: str = ""
    dispatched_at: datetime | None = None
    completed_at: datetime | None = None
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None
    version: int = 0

    def fire(self, event: OrderEvent) -> Order:
        """The order after ``event``; raises when the current state forbids it."""
        return ORDER_LIFECYCLE.fire(self, event)

    def is_claimed_at(self, now: datetime) -> bool:
        """Whether a worker or site agent holds a lease on the order running at ``now``."""
        return self.claim_expires_at is not None and now < self.claim_expires_at

    @property
    def is_open(self) -> bool:
        """Whether the order still blocks another order on its resource."""
        return self.state in OPEN_STATES

    @property
    def is_plan_switch(self) -> bool:
        """Whether this is an update order that switches the plan."""
        return self.type is OrderType.UPDATE and self.old_limits is None

    @property
    def is_limit_change(self) -> bool:
        """Whether this is an update order that changes the limits."""
        return self.type is OrderType.UPDATE and self.old_limits is not None


# --------------------------------------------------------------------------- cost


def _price_sum(plan: Plan, offering: Offering, billing_type: BillingType) -> Decimal:
    return sum(
        (plan.price_of(c.type) for c in offering.components if c.billing_type is billing_type),
        ZERO,
    )


def estimate_cost(
    plan: Plan, offering: Offering, limits: Mapping[str, int], extras: BillingType | None = None
) -> Decimal:
    """The cost per plan unit: fixed prices × amounts, plus limit prices × limit ÷ factor.

    ``extras`` adds the one-time prices (``BillingType.ONE_TIME``, for a create order) or
    the switch prices (``BillingType.ON_PLAN_SWITCH``, for a plan switch). ``Decimal``
    throughout and not rounded to cents: exact, except that a division by a factor that does
    not divide evenly is carried to the context's precision (28 digits by default).
    """
    cost = ZERO
    for component in offering.components:
        price = plan.price_of(component.type)
        if component.billing_type is BillingType.FIXED:
            cost += price * plan.amount_of(component.type)
        elif component.billing_type is BillingType.LIMIT:
            cost += price * limits.get(component.type, 0) / component.factor
    if extras is not None:
        cost += _price_sum(plan, offering, extras)
    return cost


def order_cost(
    order_type: OrderType,
    plan: Plan,
    offering: Offering,
    limits: Mapping[str, int],
    *,
    plan_switch: bool = False,
) -> Decimal:
    """The estimate stored on an order: create orders add the one-time prices, plan
    switches the switch prices; limit changes and terminations add nothing."""
    if order_type is OrderType.CREATE:
        return estimate_cost(plan, offering, limits, BillingType.ONE_TIME)
    if plan_switch:
        return estimate_cost(plan, offering, limits, BillingType.ON_PLAN_SWITCH)
    return estimate_cost(plan, offering, limits)


# --------------------------------------------------------------------------- placement rules


def check_project_not_ended(project: Project, today: date) -> None:
    """Refuse new work in a project whose (inclusive) end date has passed."""
    if project_has_ended(project, today):
        assert project.end_date is not None
        raise ValidationError(
            ErrorCode.PROJECT_ENDED,
            f"project {project.id!r} ended on {project.end_date.isoformat()}; "
            "only termination orders are taken",
            project_id=project.id,
            end_date=project.end_date.isoformat(),
        )


def check_offering_takes_changes(offering: Offering) -> None:
    """Refuse plan switches and limit changes unless the offering is active or paused."""
    if offering.state not in (OfferingState.ACTIVE, OfferingState.PAUSED):
        raise ValidationError(
            ErrorCode.OFFERING_NOT_ACTIVE,
            f"offering {offering.id!r} is {offering.state.value}; resources change only "
            "while it is active or paused",
            offering_id=offering.id,
            state=offering.state.value,
        )


def check_plan_of_offering(plan: Plan, offering: Offering) -> None:
    """Refuse a plan that belongs to another offering."""
    if plan.offering_id != offering.id:
        raise ValidationError(
            ErrorCode.PLAN_OF_ANOTHER_OFFERING,
            f"plan {plan.id!r} belongs to offering {plan.offering_id!r}, not to {offering.id!r}",
            plan_id=plan.id,
            offering_id=offering.id,
        )


def check_plan_capacity(plan: Plan, live_resources_on_plan: int) -> None:
    """Refuse a new resource on a plan whose ``max_amount`` live resources are reached."""
    if plan.max_amount is not None and live_resources_on_plan >= plan.max_amount:
        raise ValidationError(
            ErrorCode.PLAN_CAPACITY_REACHED,
            f"plan {plan.id!r} already has {live_resources_on_plan} live resources, "
            f"its maximum of {plan.max_amount}",
            plan_id=plan.id,
            max_amount=plan.max_amount,
        )


def check_no_open_order(resource: Resource, orders: Iterable[Order]) -> None:
    """Refuse a second open order on a resource (one open order at a time)."""
    for order in orders:
        if order.resource_id == resource.id and order.is_open:
            raise ValidationError(
                ErrorCode.ORDER_IN_PROGRESS,
                f"resource {resource.id!r} already has order {order.id!r} in "
                f"{order.state.value}; wait for it to finish or cancel it",
                resource_id=resource.id,
                order_id=order.id,
            )


def check_order_still_applies(order: Order, resource: Resource) -> None:
    """Refuse to run an order again against a resource that moved on since it was placed.

    A create order needs its resource still being created (or erred by the failed attempt);
    an update needs the resource still on the plan and limits it was placed against (a
    newer order may have changed either, and the update would undo it).
    """
    if order.type is OrderType.CREATE:
        if resource.state not in (ResourceState.CREATING, ResourceState.ERRED):
            raise ValidationError(
                ErrorCode.RESOURCE_NOT_READY,
                f"resource {resource.id!r} is {resource.state.value}; its create order can "
                "only run again while it is creating or erred",
                resource_id=resource.id,
                state=resource.state.value,
            )
        return
    if order.type is not OrderType.UPDATE:
        return
    placed_limits = order.old_limits if order.is_limit_change else order.limits
    if resource.plan_id != order.old_plan_id or resource.limits != placed_limits:
        raise ValidationError(
            ErrorCode.ORDER_OUTDATED,
            f"order {order.id!r} was placed against another plan or other limits than "
            f"resource {resource.id!r} has now; place a new order",
            order_id=order.id,
            resource_id=resource.id,
        )


_READY_FOR = {
    OrderType.UPDATE: frozenset({ResourceState.OK}),
    OrderType.TERMINATE: frozenset({ResourceState.OK, ResourceState.ERRED}),
}


def check_resource_ready(resource: Resource, order_type: OrderType) -> None:
    """Refuse an update unless the resource is ok, a termination unless ok or erred."""
    allowed = _READY_FOR[order_type]
    if resource.state not in allowed:
        states = " or ".join(sorted(state.value for state in allowed))
        raise ValidationError(
            ErrorCode.RESOURCE_NOT_READY,
            f"resource {resource.id!r} is {resource.state.value}; {order_type.value} orders "
            f"need it {states}",
            resource_id=resource.id,
            state=resource.state.value,
        )


def check_end_date(end_date: date | None, today: date) -> None:
    """Refuse an end date in the past (today is allowed: the resource lives through it)."""
    if end_date is not None and end_date < today:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"end_date {end_date.isoformat()} is in the past; the earliest is {today.isoformat()}",
            field="end_date",
            value=end_date.isoformat(),
            expected=f"a date on or after {today.isoformat()}",
        )
