"""Order stream specs: order commands that follow the order and resource lifecycles, the
backend's answers, end dates, and the days that pass for the due jobs."""

from __future__ import annotations

import enum
from datetime import date, timedelta

import attrs
from hypothesis import strategies as st

from marketplace_core.marketplace import Marketplace
from marketplace_core.orders import Order, OrderState, OrderType
from marketplace_core.resources import ResourceState
from marketplace_core.roles import Role
from marketplace_core.services.due_jobs import PROVIDER_NOTICE
from marketplace_core.testing.strategies.marketplaces import OrderingWorld, movable_clock

LATER_PROJECT_DAYS = 2
"""How many days after an order stream begins its later project starts: until then, its
orders wait in ``pending-project`` once the consumer side is done."""


class OrderCommand(enum.StrEnum):
    """The commands an order stream uses."""

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
    BACKEND_CANCELED = "backend-canceled"
    RETRY = "retry"
    SET_END_DATE = "set-end-date"
    SCHEDULE_TERMINATION = "schedule-termination"
    RUN_DUE_JOBS = "run-due-jobs"


class Orderer(enum.StrEnum):
    """Who places an order: the consumer's owner (no consumer review) or a project admin
    (the order waits for the consumer's approval)."""

    OWNER = "owner"
    ADMIN = "admin"


@attrs.frozen
class OrderStep:
    """One command on resource ``resource`` (the index of its create step's resource), and
    the state the resource's latest order must be in afterwards. ``limit`` is the storage
    limit of a create or limit change; ``plan`` the index of the plan of a create or plan
    switch; ``later_project`` puts a create in the project that starts
    :data:`LATER_PROJECT_DAYS` after the stream begins. ``day`` counts days from the
    stream's first day: the resource's last day for an end date or a provider's notice, the
    day the clock moves to before the due jobs run (they may touch every resource; the step
    names one they changed, when they changed any)."""

    command: OrderCommand
    resource: int
    expected: OrderState
    orderer: Orderer = Orderer.OWNER
    limit: int = 0
    plan: int = 0
    later_project: bool = False
    day: int = 0


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
    """What :func:`apply_order_stream` got: for each step the order it returned (for end
    dates and due jobs, the named resource's latest order, read back), the ids of the
    resources created (in the order of their create steps), and the later project's id."""

    orders: tuple[Order, ...]
    resource_ids: tuple[str, ...]
    later_project_id: str = ""


@attrs.define
class _ModelResource:
    """What the stream knows of one resource: its state, plan and limit, its latest order
    (open while ``order_state`` is set), and its end date."""

    state: ResourceState
    plan: int
    limit: int
    later: bool
    last: OrderState
    order_type: OrderType | None = None
    order_state: OrderState | None = None
    orderer: Orderer = Orderer.OWNER
    by_system: bool = False
    pending: tuple[int, int] = (0, 0)  # plan and limit an open update would set
    retryable: OrderType | None = None  # the type of the latest order, when it erred
    end_day: int | None = None


_SETTLED = {
    OrderCommand.REJECT: OrderState.REJECTED,
    OrderCommand.CANCEL: OrderState.CANCELED,
    OrderCommand.BACKEND_SUCCEEDED: OrderState.DONE,
    OrderCommand.BACKEND_FAILED: OrderState.ERRED,
    OrderCommand.BACKEND_CANCELED: OrderState.CANCELED,
}

_DISPATCHED = {
    OrderType.UPDATE: ResourceState.UPDATING,
    OrderType.TERMINATE: ResourceState.TERMINATING,
}
"""Where a resource goes when the (manual) backend takes its change order."""


def _move(resource: _ModelResource, state: OrderState) -> None:
    """The open order moves to ``state``; an executing change order is handed to the
    backend at once."""
    resource.order_state = resource.last = state
    if state is OrderState.EXECUTING and resource.order_type in _DISPATCHED:
        resource.state = _DISPATCHED[resource.order_type]


def _open(
    resource: _ModelResource,
    order_type: OrderType,
    state: OrderState,
    orderer: Orderer = Orderer.OWNER,
    *,
    by_system: bool = False,
) -> None:
    resource.order_type, resource.orderer, resource.by_system = order_type, orderer, by_system
    resource.retryable = None
    _move(resource, state)


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
        resource.retryable = kind
    elif kind is OrderType.CREATE:
        resource.state = ResourceState.TERMINATED
    elif resource.state in (ResourceState.UPDATING, ResourceState.TERMINATING):
        resource.state = ResourceState.OK  # a dispatched change undone; pending ones left none
    resource.last = _SETTLED[command]
    resource.order_type = resource.order_state = None


_FORWARD = {
    OrderState.PENDING_CONSUMER: (OrderCommand.APPROVE_AS_CONSUMER,) * 4,
    OrderState.PENDING_PROJECT: (OrderCommand.RUN_DUE_JOBS,) * 4,
    OrderState.PENDING_PROVIDER: (OrderCommand.APPROVE_AS_PROVIDER,) * 4,
    OrderState.EXECUTING: (OrderCommand.BACKEND_SUCCEEDED,) * 4,
}
"""The moves that take an open order forward, drawn more often than its alternatives
together, so streams reach the later states (an ok resource, an executing termination, end
dates that pass) often. An order waiting for its project goes forward when the clock
reaches the start and the due jobs run."""

_SETBACKS = {
    OrderState.PENDING_CONSUMER: (OrderCommand.REJECT, OrderCommand.CANCEL),
    OrderState.PENDING_PROJECT: (OrderCommand.REJECT, OrderCommand.CANCEL),
    OrderState.PENDING_PROVIDER: (OrderCommand.REJECT, OrderCommand.CANCEL),
    OrderState.EXECUTING: (
        OrderCommand.BACKEND_FAILED,
        OrderCommand.BACKEND_FAILED,  # twice: an erred order is what a retry needs
        OrderCommand.CANCEL,
        OrderCommand.BACKEND_CANCELED,
    ),
}

_PLACING = (
    OrderCommand.CREATE,
    OrderCommand.LIMIT_CHANGE,
    OrderCommand.PLAN_SWITCH,
    OrderCommand.TERMINATION,
)


@attrs.define
class _StreamModel:
    """The resources of a stream being drawn, and the day it has reached."""

    max_resources: int
    resources: list[_ModelResource] = attrs.Factory(list)
    today: int = 0

    def routed(self, resource: _ModelResource, *, by_system: bool = False) -> OrderState:
        """Where an order goes once its consumer side is done: it waits for a project that
        has not started, then for the provider (which the system's own orders skip)."""
        if resource.later and self.today < LATER_PROJECT_DAYS:
            return OrderState.PENDING_PROJECT
        return OrderState.EXECUTING if by_system else OrderState.PENDING_PROVIDER

    def moves(self) -> list[tuple[OrderCommand, int]]:
        """Every command valid now, on the resource it names (forward moves first, and more
        often than the setbacks together; retries of an erred order three times)."""
        moves: list[tuple[OrderCommand, int]] = []
        for index, resource in enumerate(self.resources):
            commands: tuple[OrderCommand, ...] = ()
            if resource.order_state is not None:
                state = resource.order_state
                commands = (*_FORWARD[state], *_SETBACKS[state])
            elif resource.state is ResourceState.OK:
                commands = _PLACING[1:]
            elif resource.state is ResourceState.ERRED:
                commands = (OrderCommand.TERMINATION,)
            if resource.retryable is not None and resource.state is not ResourceState.TERMINATED:
                commands += (OrderCommand.RETRY,) * 3
            if resource.end_day is None and resource.state is not ResourceState.TERMINATED:
                commands += (OrderCommand.SET_END_DATE,)  # or the provider's notice
            moves += [(command, index) for command in commands]
        if len(self.resources) < self.max_resources:
            moves.append((OrderCommand.CREATE, len(self.resources)))
        if any(resource.end_day is not None for resource in self.resources):
            # Days pass when there is an end date to reach; -1: the step names a resource later.
            moves.append((OrderCommand.RUN_DUE_JOBS, -1))
        return moves

    def run_due_jobs(self) -> list[int]:
        """Play the due jobs on the model; returns the resources whose latest order or
        state they changed."""
        before = [(resource.last, resource.state) for resource in self.resources]
        due = [
            resource
            for resource in self.resources
            if resource.state is not ResourceState.TERMINATED
            and resource.end_day is not None
            and self.today > resource.end_day
            and resource.order_type is not OrderType.TERMINATE  # a termination under way
        ]
        for resource in due:
            if resource.order_state is OrderState.EXECUTING:
                continue  # refused; tried again by the next run
            if resource.order_state is not None:
                _settle(resource, OrderCommand.CANCEL)
            if resource.state is not ResourceState.TERMINATED:
                resource.pending = (resource.plan, resource.limit)
                state = self.routed(resource, by_system=True)
                _open(resource, OrderType.TERMINATE, state, by_system=True)
        for resource in self.resources:
            released = resource.order_state is OrderState.PENDING_PROJECT and (
                self.today >= LATER_PROJECT_DAYS
            )
            if released and not any(resource is other for other in due):
                _move(resource, self.routed(resource, by_system=resource.by_system))
        return [
            index
            for index, resource in enumerate(self.resources)
            if (resource.last, resource.state) != before[index]
        ]

    def place(self, draw: st.DrawFn, command: OrderCommand, index: int) -> OrderStep:
        """A create, limit change, plan switch or termination by the owner or an admin."""
        orderer = draw(st.sampled_from(Orderer))
        later = False
        if command is OrderCommand.CREATE:
            limit, plan = draw(st.integers(1, 1000)), draw(st.integers(0, 1))
            later = draw(st.booleans())
            placeholder = OrderState.PENDING_CONSUMER  # set when the order opens below
            self.resources.append(
                _ModelResource(ResourceState.CREATING, plan, limit, later, placeholder)
            )
            order_type = OrderType.CREATE
        else:
            resource = self.resources[index]
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
        resource = self.resources[index]
        admin = orderer is Orderer.ADMIN
        state = OrderState.PENDING_CONSUMER if admin else self.routed(resource)
        _open(resource, order_type, state, orderer)
        return OrderStep(command, index, state, orderer, limit, plan, later)

    def pass_days(self, draw: st.DrawFn, index: int) -> OrderStep:
        """Days pass and the due jobs run. ``index`` is a resource whose order waits for the
        later project (the clock then reaches its start), or -1 for any day ahead."""
        earliest = self.today + 1
        if index >= 0:
            earliest = max(earliest, LATER_PROJECT_DAYS)
        days = st.integers(earliest, earliest + 4)
        ends = sorted(  # or just past a last day still ahead, a provider's notice too
            {resource.end_day + 1 for resource in self.resources if resource.end_day is not None}
            - set(range(earliest))
        )
        if ends:
            days |= st.sampled_from(ends)
        self.today = draw(days)
        changed = self.run_due_jobs()
        if index < 0:
            index = draw(st.sampled_from(changed or range(len(self.resources))))
        resource = self.resources[index]
        return OrderStep(
            OrderCommand.RUN_DUE_JOBS, index, resource.last, resource.orderer, day=self.today
        )

    def set_end_date(self, draw: st.DrawFn, index: int) -> OrderStep:
        """The consumer sets a last day from today on, or the provider gives notice."""
        resource = self.resources[index]
        command, earliest = OrderCommand.SET_END_DATE, self.today
        if draw(st.booleans()):
            command, earliest = OrderCommand.SCHEDULE_TERMINATION, earliest + PROVIDER_NOTICE.days
        resource.end_day = draw(st.integers(earliest, earliest + 2))
        return OrderStep(command, index, resource.last, resource.orderer, day=resource.end_day)

    def respond(self, command: OrderCommand, index: int) -> OrderStep:
        """An approval, a rejection or cancellation, the backend's answer, or a retry."""
        resource = self.resources[index]
        if command is OrderCommand.APPROVE_AS_CONSUMER:
            _move(resource, self.routed(resource))
        elif command is OrderCommand.APPROVE_AS_PROVIDER:
            _move(resource, OrderState.EXECUTING)
        elif command is OrderCommand.RETRY:
            assert resource.retryable is not None
            _open(resource, resource.retryable, OrderState.EXECUTING, resource.orderer)
        else:
            _settle(resource, command)
        return OrderStep(command, index, resource.last, resource.orderer)


@st.composite
def order_streams(draw: st.DrawFn, max_steps: int = 24, max_resources: int = 3) -> OrderStreamSpec:
    """Up to ``max_steps`` commands on up to ``max_resources`` resources of an
    :class:`OrderingWorld`, each valid where it is drawn: creates (in the world's project or
    in one that starts :data:`LATER_PROJECT_DAYS` later, so orders wait in
    ``pending-project``), limit changes, plan switches and terminations by the owner or a
    project admin; consumer and provider approvals, rejections and cancellations; the
    backend's success, failure and cancellation; retries of erred orders; end dates set by
    the consumer and notices given by the provider; and days passing, after which the due
    jobs release waiting orders and terminate the resources whose last day has gone."""
    model = _StreamModel(max_resources)
    steps: list[OrderStep] = []
    for _ in range(draw(st.integers(1, max_steps))):
        moves = model.moves()
        if not moves:
            break
        command, index = draw(st.sampled_from(moves))
        if command in _PLACING:
            steps.append(model.place(draw, command, index))
        elif command is OrderCommand.RUN_DUE_JOBS:
            steps.append(model.pass_days(draw, index))
        elif command is OrderCommand.SET_END_DATE:
            steps.append(model.set_end_date(draw, index))
        else:
            steps.append(model.respond(command, index))
    resources = model.resources
    return OrderStreamSpec(
        tuple(steps),
        tuple(resource.state for resource in resources),
        tuple(resource.plan for resource in resources),
        tuple(resource.limit for resource in resources),
    )


def apply_order_stream(
    market: Marketplace, world: OrderingWorld, spec: OrderStreamSpec
) -> AppliedOrderStream:
    """Run the steps on ``world``; returns each step's order (as the facade returned it, or
    read back after end dates and due jobs) and the ids of the created resources.

    It first creates the later project in the world's organization (the admin administers it
    too); the steps that pass days move the market's clock, which must be a
    :class:`~marketplace_core.clocks.FixedClock` (as :func:`marketplace_for_specs` makes).
    """
    clock = movable_clock(market)
    start = clock.now()
    first_day = start.date()
    later_project = market.create_project(
        world.staff_id,
        world.consumer_id,
        "Later project",
        start_date=first_day + timedelta(days=LATER_PROJECT_DAYS),
    )
    market.grant_role(world.staff_id, world.admin_id, Role.PROJECT_ADMIN, later_project.id)
    resource_ids: list[str] = []
    latest: dict[int, Order] = {}
    results: list[Order] = []
    consumer = {Orderer.OWNER: world.owner_id, Orderer.ADMIN: world.admin_id}
    provider = world.provider_owner_id
    for step in spec.steps:
        actor = consumer[step.orderer]
        match step.command:
            case OrderCommand.CREATE:
                project_id = later_project.id if step.later_project else world.project_id
                order = market.order_resource(
                    actor,
                    project_id,
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
                order = market.approve_order_as_consumer(world.owner_id, latest[step.resource].id)
            case OrderCommand.APPROVE_AS_PROVIDER:
                order = market.approve_order_as_provider(provider, latest[step.resource].id)
            case OrderCommand.REJECT:
                pending = latest[step.resource]
                judge = provider if pending.state is OrderState.PENDING_PROVIDER else world.owner_id
                order = market.reject_order(judge, pending.id, reason="drawn rejection")
            case OrderCommand.CANCEL:
                order = market.cancel_order(actor, latest[step.resource].id)
            case OrderCommand.RETRY:
                order = market.retry_order(provider, latest[step.resource].id)
            case OrderCommand.SET_END_DATE | OrderCommand.SCHEDULE_TERMINATION:
                last_day = first_day + timedelta(days=step.day)
                _end_resource_on(market, world, step.command, resource_ids[step.resource], last_day)
                order = market.get_order(latest[step.resource].id)
            case OrderCommand.RUN_DUE_JOBS:
                clock.set(start + timedelta(days=step.day))
                _run_due_jobs(market, resource_ids, latest)
                order = latest[step.resource]
            case _:
                order = _report_backend(market, provider, latest[step.resource], step.command)
        latest[step.resource] = order
        results.append(order)
    return AppliedOrderStream(tuple(results), tuple(resource_ids), later_project.id)


def _end_resource_on(
    market: Marketplace, world: OrderingWorld, command: OrderCommand, resource_id: str, day: date
) -> None:
    """The owner sets the resource's last day, or the provider gives notice of it."""
    if command is OrderCommand.SET_END_DATE:
        market.set_resource_end_date(world.owner_id, resource_id, day)
    else:
        market.schedule_termination(world.provider_owner_id, resource_id, day)


def _run_due_jobs(market: Marketplace, resource_ids: list[str], latest: dict[int, Order]) -> None:
    """Run the due jobs, then read back the latest order of every resource: the one it had,
    or the termination the jobs placed."""
    report = market.run_due_jobs()
    for index, known in latest.items():
        latest[index] = market.get_order(known.id)
    for order_id in report.terminations:
        termination = market.get_order(order_id)
        latest[resource_ids.index(termination.resource_id)] = termination


def _report_backend(
    market: Marketplace, provider_id: str, order: Order, command: OrderCommand
) -> Order:
    """The backend's report on ``order``, through the callback of its type and outcome."""
    resource_id, order_id = order.resource_id, order.id
    match order.type, command:
        case OrderType.CREATE, OrderCommand.BACKEND_SUCCEEDED:
            return market.resource_creation_succeeded(provider_id, resource_id, order_id=order_id)
        case OrderType.CREATE, OrderCommand.BACKEND_FAILED:
            return market.resource_creation_failed(
                provider_id, resource_id, "drawn failure", order_id=order_id
            )
        case OrderType.CREATE, _:
            return market.resource_creation_canceled(provider_id, resource_id, order_id=order_id)
        case OrderType.UPDATE, OrderCommand.BACKEND_SUCCEEDED:
            return market.resource_update_succeeded(provider_id, resource_id, order_id=order_id)
        case OrderType.UPDATE, OrderCommand.BACKEND_FAILED:
            return market.resource_update_failed(
                provider_id, resource_id, "drawn failure", order_id=order_id
            )
        case OrderType.UPDATE, _:
            return market.resource_update_canceled(provider_id, resource_id, order_id=order_id)
        case _, OrderCommand.BACKEND_SUCCEEDED:
            return market.resource_deletion_succeeded(provider_id, resource_id, order_id=order_id)
        case _, OrderCommand.BACKEND_FAILED:
            return market.resource_deletion_failed(
                provider_id, resource_id, "drawn failure", order_id=order_id
            )
        case _:
            return market.resource_deletion_canceled(provider_id, resource_id, order_id=order_id)
