"""No sequence of order commands breaks the order and resource laws.

A Hypothesis state machine drives the facade as random actors: it places create, plan-switch,
limit-change and termination orders, approves them on either side, rejects, cancels and
retries them, processes executing orders, reports every backend outcome, sets end dates,
moves the clock and runs the due jobs. Two offerings are in play: the world's manual
``basic`` offering (the provider reviews, then reports through the callbacks) and a ``cloud``
offering whose scripted processor succeeds, finishes later or raises as the machine tells it.
Orders are processed right after each command, or only by the worker, as the example draws;
the project starts with a live resource of each offering.

After every step the machine checks:

* a command that raised changed nothing (storage and the published events are as before);
* a resource has at most one open order;
* a terminated resource, and its orders, never change again;
* orders and resources move only along the edges of the tables written out below, so a done,
  rejected or canceled order never moves again and an erred one only goes back to executing;
* a rejected or canceled create order leaves its resource terminated;
* a resource's state agrees with its orders, and it holds the plan and limits of its last
  finished create or update order;
* with immediate processing, no executing order waits to be handed to its processor.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from hypothesis import event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from marketplace_core import (
    MarketplaceError,
    Order,
    OrderState,
    OrderType,
    PlanUnit,
    Resource,
    ResourceState,
)
from marketplace_core.events import OrderStateChanged, ResourceStateChanged
from marketplace_core.testing import Outcome
from tests.support import build_world, snapshot

ORDER_MOVES: Mapping[str, frozenset[str]] = {
    "pending-consumer": frozenset(
        {"pending-project", "pending-provider", "executing", "rejected", "canceled"}
    ),
    "pending-project": frozenset({"pending-provider", "executing", "rejected", "canceled"}),
    "pending-provider": frozenset({"executing", "rejected", "canceled"}),
    "executing": frozenset({"done", "erred", "canceled"}),
    "erred": frozenset({"executing"}),
    "done": frozenset(),
    "rejected": frozenset(),
    "canceled": frozenset(),
}
"""DESIGN §5: where an order may go from each state (done, rejected, canceled are final)."""

RESOURCE_MOVES: Mapping[str, frozenset[str]] = {
    "creating": frozenset({"ok", "erred", "terminated"}),
    "ok": frozenset({"updating", "terminating", "erred", "terminated"}),
    "erred": frozenset({"ok", "updating", "terminating", "terminated"}),
    "updating": frozenset({"ok", "erred"}),
    "terminating": frozenset({"ok", "terminated"}),
    "terminated": frozenset(),
}
"""docs/orders.md: where a resource may go from each state (terminated is final)."""

OPEN = frozenset({"pending-consumer", "pending-project", "pending-provider", "executing"})
PENDING = (OrderState.PENDING_CONSUMER, OrderState.PENDING_PROJECT, OrderState.PENDING_PROVIDER)
AFTER_THE_END = (
    "order_plan_switch",
    "order_limit_change",
    "order_termination",
    "set_resource_end_date",
    "schedule_termination",
    "resource_erred_on_backend",
    "resource_creation_succeeded",
    "resource_update_failed",
    "resource_deletion_canceled",
)
"""Commands that name a resource, tried by staff on terminated ones: each must change nothing."""
STAGES = {OrderType.CREATE: "creation", OrderType.UPDATE: "update", OrderType.TERMINATE: "deletion"}
"""The backend callbacks of each order type: ``resource_<stage>_<outcome>``."""

ACTORS = (
    "staff",
    "owner",
    "project_manager",
    "project_admin",
    "project_member",
    "provider_owner",
    "offering_manager",
    "outsider",
)
ORDERERS = ("owner", "project_manager", "project_admin", "staff")
"""Who may order in the world's project (only the owner and staff in the project that starts
later: the project roles are held in the world's project)."""
PROJECT_ROLES = ("project_manager", "project_admin")

T = TypeVar("T")


def mostly(right: Sequence[T], others: Sequence[T], weight: int = 3) -> st.SearchStrategy[T]:
    """Mostly one of ``right``, sometimes one of ``others``. The right ones come first (where
    shrinking goes) and last (an end Hypothesis likes to draw)."""
    return st.sampled_from([*right] * weight + [*others] + [*right] * weight)


VALID_LIMITS: Mapping[str, list[dict[str, Any]]] = {
    "basic": [{"storage": 10}, {"storage": 20}, {"storage": 200}],
    "cloud": [{"ram": 1024}, {"ram": 2048}, {}],
}
WRONG_LIMITS: Mapping[str, list[dict[str, Any]]] = {
    "basic": [
        {"storage": 0},  # below the minimum
        {"storage": 1001},  # above the maximum
        {},  # storage is required
        {"cpu": 5},  # a usage component takes no limit
    ],
    "cloud": [{"ram": -1}, {"storage": 10}],
}


def shown(result: object) -> str:
    if isinstance(result, Order):
        return f"{result.id} ({result.type.value}, {result.state.value})"
    if isinstance(result, Resource):
        return f"{result.id} ({result.state.value})"
    if isinstance(result, list):
        return f"[{', '.join(shown(item) for item in result)}]"
    return repr(result)


class OrderMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        world = self.world = build_world()
        market = self.market = world.marketplace
        cloud, small = world.cloud_offering()
        premium = market.create_plan(
            world.provider_owner.id, world.offering.id, "Premium", PlanUnit.MONTH
        )
        large = market.create_plan(world.provider_owner.id, cloud.id, "Large", PlanUnit.DAY)
        self.plugin = {world.offering.id: "basic", cloud.id: "cloud"}
        self.plans = {
            world.offering.id: [world.plan.id, premium.id],
            cloud.id: [small.id, large.id],
        }
        today = world.clock.now().date()
        later = market.create_project(
            world.staff.id,
            world.consumer.id,
            "Next term",
            start_date=today + timedelta(days=1),
            end_date=today + timedelta(days=5),
        )
        self.projects = [world.project.id, later.id]
        # The project starts with a live resource of each offering, so that changes and
        # terminations are in play from the first step.
        world.live_basic()
        world.order(offering_id=cloud.id, plan_id=small.id, limits={"ram": 1024})
        self.all_plans = [plan for plan_ids in self.plans.values() for plan in plan_ids]
        # What the last command left, read through the facade queries (see ``attempt``).
        self.resources: dict[str, Resource] = {}
        self.orders_of: dict[str, list[Order]] = {}
        # What the invariants remember between steps.
        self.order_position = 0
        self.order_state: dict[str, str] = {}
        self.resource_position = 0
        self.resource_state: dict[str, str] = {}
        self.finished_position = 0
        self.held: dict[str, tuple[str | None, dict[str, int]]] = {}
        self.terminated: dict[str, tuple[Resource, list[Order]]] = {}
        self.read_back()

    @initialize(immediately=st.booleans())
    def choose_how_orders_are_processed(self, immediately: bool) -> None:
        note(f"process_immediately = {immediately}")
        self.market.process_immediately = immediately
        self.read_back()

    # ------------------------------------------------------------------ helpers

    @property
    def orders(self) -> dict[str, Order]:
        return {order.id: order for orders in self.orders_of.values() for order in orders}

    def read_back(self) -> None:
        """Read every resource and order back through the facade."""
        self.resources = {
            resource.id: resource
            for project_id in self.projects
            for resource in self.market.list_resources(project_id)
        }
        self.orders_of = {
            resource_id: list(self.market.list_orders(resource_id))
            for resource_id in self.resources
        }

    def attempt(self, command: str, *args: Any, **kwargs: Any) -> Any:
        """Run a facade command; a refusal must leave storage and the published events as
        they were, and nothing but a ``MarketplaceError`` may escape."""
        before = snapshot(self.world.storage)
        published = len(self.world.events.events)
        note(f"{command}{args!r}{f' {kwargs!r}' if kwargs else ''}")
        try:
            result = getattr(self.market, command)(*args, **kwargs)
        except MarketplaceError as error:
            note(f"  -> refused: {error!r}")
            event(f"{command}: refused ({error.code})")
            assert snapshot(self.world.storage) == before, f"{command} raised but wrote"
            assert len(self.world.events.events) == published, f"{command} raised but published"
            return None
        note(f"  -> {shown(result)}")
        event(f"{command}: ok")
        self.read_back()
        return result

    def pick(
        self,
        data: st.DataObject,
        fitting: Collection[str],
        pool: Collection[str],
        tempting: Collection[str] = (),
    ) -> str:
        """Mostly an id the command fits; otherwise one it nearly fits (``tempting``, when
        there are any) or any known id, to see the refusals."""
        if len(fitting) > 0 and data.draw(mostly([True], [False], 2), label="fits"):
            return data.draw(st.sampled_from(sorted(fitting)), label="id")
        return data.draw(st.sampled_from(sorted(tempting or pool)), label="id")

    def pick_order(self, data: st.DataObject, *states: OrderState) -> Order:
        orders = self.orders
        return orders[self.pick(data, self.orders_in(*states), orders)]

    def pick_resource(
        self, data: st.DataObject, fitting: Collection[str], tempting: Collection[str] = ()
    ) -> Resource:
        return self.resources[self.pick(data, fitting, self.resources, tempting)]

    def orders_in(self, *states: OrderState) -> list[str]:
        return [order.id for order in self.orders.values() if order.state in states]

    def cancelable(self) -> list[str]:
        """Pending orders, and executing orders of the basic offering (its plugin cancels)."""
        return [
            order.id
            for order in self.orders.values()
            if order.state in PENDING
            or (order.state is OrderState.EXECUTING and self.plugin[order.offering_id] == "basic")
        ]

    def retryable(self) -> list[str]:
        """Erred orders of live resources (refused while another order is open)."""
        return [
            order.id
            for order in self.orders.values()
            if order.state is OrderState.ERRED and self.resources[order.resource_id].is_live
        ]

    def busy(self) -> list[str]:
        """Live resources with an open order: they take no other order."""
        return [r.id for r in self.resources.values() if r.is_live and self.open_order(r.id)]

    def open_order(self, resource_id: str) -> Order | None:
        return next((o for o in self.orders_of[resource_id] if o.state in OPEN), None)

    def in_state(self, *states: ResourceState, idle: bool = False) -> list[str]:
        """Resources in one of ``states`` (and with no open order, if ``idle``)."""
        return [
            r.id
            for r in self.resources.values()
            if r.state in states and not (idle and self.open_order(r.id))
        ]

    def without_end_date(self) -> list[str]:
        return [r.id for r in self.resources.values() if r.is_live and r.end_date is None]

    def waiting_for_a_day(self) -> bool:
        """Whether a day's passing may matter: a live resource has an end date or lives in a
        project that ends, or an order waits for its project to start."""
        return bool(self.orders_in(OrderState.PENDING_PROJECT)) or any(
            resource.end_date or resource.project_id != self.projects[0]
            for resource in self.resources.values()
            if resource.is_live
        )

    def actor(self, data: st.DataObject, *right: str, order: Order | None = None) -> str:
        """Mostly someone allowed to act (``creator``: whoever placed ``order``), sometimes
        anyone at all; returns the user's id."""
        wrong = [name for name in ACTORS if name not in right]
        name = data.draw(mostly(right, wrong, weight=len(wrong)), label="actor")
        if name == "creator":
            assert order is not None
            return order.created_by or self.world.staff.id
        user_id: str = getattr(self.world, name).id
        return user_id

    def consumers(self, project_id: str, *right: str) -> tuple[str, ...]:
        """``right``, without the project roles outside the world's project."""
        if project_id == self.projects[0]:
            return right
        return tuple(name for name in right if name not in PROJECT_ROLES)

    def fulfillers(self, offering_id: str) -> tuple[str, ...]:
        """Who may report for the offering's backend (the offering manager manages only the
        world's offering)."""
        if self.plugin[offering_id] == "basic":
            return ("provider_owner", "offering_manager", "staff")
        return ("provider_owner", "staff")

    # ------------------------------------------------------------------ the backend

    @precondition(lambda self: len(self.world.cloud.script) < 3)
    @rule(outcomes=st.lists(mostly([Outcome.LATER], list(Outcome), 1), min_size=1, max_size=3))
    def script_the_cloud(self, outcomes: list[Outcome]) -> None:
        note(f"the cloud will answer {[outcome.value for outcome in outcomes]}")
        self.world.cloud.then(*outcomes)

    # ------------------------------------------------------------------ placing orders

    @rule(data=st.data())
    def order_a_resource(self, data: st.DataObject) -> None:
        offering_id = data.draw(st.sampled_from(sorted(self.plugin)), label="offering")
        plugin = self.plugin[offering_id]
        plan_id = data.draw(mostly(self.plans[offering_id], self.all_plans, 2), label="plan")
        project_id = data.draw(mostly(self.projects[:1], self.projects), label="project")
        today = self.world.clock.now().date()
        end_date = data.draw(
            mostly([None], [today, today + timedelta(days=2), today - timedelta(days=1)]),
            label="end date",
        )
        self.attempt(
            "order_resource",
            self.actor(data, *self.consumers(project_id, *ORDERERS)),
            project_id,
            offering_id,
            plan_id,
            "Resource",
            limits=data.draw(mostly(VALID_LIMITS[plugin], WRONG_LIMITS[plugin]), label="limits"),
            end_date=end_date,
        )

    @precondition(lambda self: self.in_state(ResourceState.OK, idle=True))
    @rule(data=st.data())
    def order_a_plan_switch(self, data: st.DataObject) -> None:
        resource = self.pick_resource(
            data, self.in_state(ResourceState.OK, idle=True), tempting=self.busy()
        )
        plans = self.plans[resource.offering_id]
        new_plans = [plan for plan in plans if plan != resource.plan_id]
        plan_id = data.draw(mostly(new_plans, self.all_plans), label="plan")
        actor = self.actor(data, *self.consumers(resource.project_id, *ORDERERS))
        self.attempt("order_plan_switch", actor, resource.id, plan_id)

    @precondition(lambda self: self.in_state(ResourceState.OK, idle=True))
    @rule(data=st.data())
    def order_a_limit_change(self, data: st.DataObject) -> None:
        resource = self.pick_resource(
            data, self.in_state(ResourceState.OK, idle=True), tempting=self.busy()
        )
        plugin, held = self.plugin[resource.offering_id], dict(resource.limits)
        new_limits = [limits for limits in VALID_LIMITS[plugin] if limits != held]
        limits = data.draw(mostly(new_limits, [*WRONG_LIMITS[plugin], held]), label="limits")
        actor = self.actor(data, *self.consumers(resource.project_id, *ORDERERS))
        self.attempt("order_limit_change", actor, resource.id, limits)

    @precondition(lambda self: self.in_state(ResourceState.OK, ResourceState.ERRED, idle=True))
    @rule(data=st.data())
    def order_a_termination(self, data: st.DataObject) -> None:
        fitting = self.in_state(ResourceState.OK, ResourceState.ERRED, idle=True)
        resource = self.pick_resource(data, fitting, tempting=self.busy())
        right = (*self.consumers(resource.project_id, *ORDERERS), "provider_owner")
        self.attempt("order_termination", self.actor(data, *right), resource.id)

    # ------------------------------------------------------------------ reviewing orders

    @precondition(lambda self: self.orders_in(OrderState.PENDING_CONSUMER))
    @rule(data=st.data())
    def approve_as_consumer(self, data: st.DataObject) -> None:
        order = self.pick_order(data, OrderState.PENDING_CONSUMER)
        actor = self.actor(data, "owner", "staff")
        self.attempt("approve_order_as_consumer", actor, order.id)

    @precondition(lambda self: self.orders_in(OrderState.PENDING_PROVIDER))
    @rule(data=st.data())
    def approve_as_provider(self, data: st.DataObject) -> None:
        order = self.pick_order(data, OrderState.PENDING_PROVIDER)
        actor = self.actor(data, "provider_owner", "staff")
        self.attempt("approve_order_as_provider", actor, order.id)

    @precondition(lambda self: self.orders_in(*PENDING))
    @rule(data=st.data())
    def reject(self, data: st.DataObject) -> None:
        order = self.pick_order(data, *PENDING)
        if order.state is OrderState.PENDING_PROVIDER:
            actor = self.actor(data, "provider_owner", "staff")
        else:
            actor = self.actor(data, "creator", "owner", "staff", order=order)
        self.attempt("reject_order", actor, order.id, reason="not now")

    @precondition(lambda self: self.cancelable())
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        orders = self.orders
        order = orders[self.pick(data, self.cancelable(), orders)]
        right = ("creator", *self.consumers(order.project_id, *ORDERERS))
        self.attempt("cancel_order", self.actor(data, *right, order=order), order.id)

    @precondition(lambda self: self.retryable())
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        orders = self.orders
        idle = [i for i in self.retryable() if not self.open_order(orders[i].resource_id)]
        order = orders[self.pick(data, idle, orders, tempting=self.retryable())]
        right = (*self.consumers(order.project_id, *ORDERERS), *self.fulfillers(order.offering_id))
        self.attempt("retry_order", self.actor(data, *right), order.id)

    # ------------------------------------------------------------------ fulfilment

    @precondition(lambda self: self.orders_in(OrderState.EXECUTING))
    @rule(data=st.data())
    def process(self, data: st.DataObject) -> None:
        if data.draw(st.booleans(), label="one order"):
            executing = self.orders_in(OrderState.EXECUTING)
            self.attempt("process_order", self.pick(data, executing, self.orders))
        else:
            self.attempt("process_executing_orders")

    def backend_reports(self, data: st.DataObject, outcome: str, *args: Any, **kwargs: Any) -> None:
        """The backend reports ``outcome`` on a resource's work: mostly through the callback
        of an order type with work in progress, on a resource where that work is going on."""
        working = {
            stage: [
                o.resource_id
                for o in self.orders.values()
                if o.type is order_type and o.state is OrderState.EXECUTING
            ]
            for order_type, stage in STAGES.items()
        }
        busy = [stage for stage, resource_ids in working.items() if resource_ids]
        stage = data.draw(mostly(busy, list(STAGES.values())), label="stage")
        resource = self.pick_resource(data, working[stage])
        if stage == "deletion":
            kwargs.pop("metadata", None)  # a removed resource reports no metadata
        actor = self.actor(data, *self.fulfillers(resource.offering_id))
        self.attempt(f"resource_{stage}_{outcome}", actor, resource.id, *args, **kwargs)

    @precondition(lambda self: self.orders_in(OrderState.EXECUTING))
    @rule(data=st.data(), metadata=st.sampled_from([None, {"ip": "10.0.0.7"}]))
    def backend_finishes_the_work(
        self, data: st.DataObject, metadata: dict[str, str] | None
    ) -> None:
        self.backend_reports(data, "succeeded", metadata=metadata)

    @precondition(lambda self: self.orders_in(OrderState.EXECUTING))
    @rule(data=st.data(), message=st.sampled_from(["the backend is down", "no capacity left"]))
    def backend_fails_the_work(self, data: st.DataObject, message: str) -> None:
        self.backend_reports(data, "failed", message)

    @precondition(lambda self: self.orders_in(OrderState.EXECUTING))
    @rule(data=st.data())
    def backend_cancels_the_work(self, data: st.DataObject) -> None:
        self.backend_reports(data, "canceled")

    @precondition(lambda self: self.in_state(ResourceState.OK))
    @rule(data=st.data())
    def backend_reports_a_resource_broken(self, data: st.DataObject) -> None:
        resource = self.pick_resource(data, self.in_state(ResourceState.OK))
        actor = self.actor(data, *self.fulfillers(resource.offering_id))
        self.attempt("resource_erred_on_backend", actor, resource.id, "the disk is gone")

    @precondition(lambda self: self.in_state(ResourceState.TERMINATED))
    @rule(data=st.data(), command=st.sampled_from(AFTER_THE_END))
    def staff_act_on_a_terminated_resource(self, data: st.DataObject, command: str) -> None:
        terminated = self.in_state(ResourceState.TERMINATED)
        resource = self.resources[data.draw(st.sampled_from(terminated), label="resource")]
        today = self.world.clock.now().date()
        other_plan = next(p for p in self.plans[resource.offering_id] if p != resource.plan_id)
        arguments: dict[str, tuple[Any, ...]] = {
            "order_plan_switch": (other_plan,),
            "order_limit_change": (VALID_LIMITS[self.plugin[resource.offering_id]][1],),
            "order_termination": (),
            "set_resource_end_date": (today,),
            "schedule_termination": (today + timedelta(days=7),),
            "resource_erred_on_backend": ("the disk is gone",),
            "resource_creation_succeeded": (),
            "resource_update_failed": ("too late",),
            "resource_deletion_canceled": (),
        }
        self.attempt(command, self.world.staff.id, resource.id, *arguments[command])

    # ------------------------------------------------------------------ time

    @precondition(lambda self: self.without_end_date())
    @rule(data=st.data())
    def set_an_end_date(self, data: st.DataObject) -> None:
        resource = self.pick_resource(data, self.without_end_date())
        today = self.world.clock.now().date()
        if data.draw(st.booleans(), label="provider's notice"):
            days = data.draw(mostly([7, 8, 10], [3]), label="days")
            actor = self.actor(data, "provider_owner", "staff")
            self.attempt("schedule_termination", actor, resource.id, today + timedelta(days))
        else:
            days = data.draw(mostly([0, 1, 2], [-1]), label="days")
            right = self.consumers(resource.project_id, "owner", "project_manager", "staff")
            on = today + timedelta(days)
            self.attempt("set_resource_end_date", self.actor(data, *right), resource.id, on)

    @precondition(lambda self: self.waiting_for_a_day())
    @rule(days=st.integers(0, 3))
    def days_pass_and_the_due_jobs_run(self, days: int) -> None:
        note(f"{days} day(s) pass")
        self.world.clock.advance(timedelta(days=days))
        report = self.attempt("run_due_jobs")
        if report is None:
            return
        for kind in ("terminations", "released", "skipped"):
            if getattr(report, kind):
                event(f"run_due_jobs: {kind}")

    # ------------------------------------------------------------------ the laws

    @invariant()
    def a_resource_has_at_most_one_open_order(self) -> None:
        for resource_id, orders in self.orders_of.items():
            open_orders = [order.id for order in orders if order.state in OPEN]
            assert len(open_orders) <= 1, f"{resource_id} has open orders {open_orders}"

    @invariant()
    def a_terminated_resource_never_changes_again(self) -> None:
        for resource_id, resource in self.resources.items():
            now = (resource, self.orders_of[resource_id])
            if resource_id in self.terminated:
                assert now == self.terminated[resource_id], f"{resource_id} changed"
            elif resource.state is ResourceState.TERMINATED:
                self.terminated[resource_id] = now

    @invariant()
    def orders_move_only_along_the_lifecycle(self) -> None:
        for recorded in self.market.events(self.order_position):
            self.order_position = recorded.position
            moved = recorded.event
            if not isinstance(moved, OrderStateChanged):
                continue
            last = self.order_state.get(moved.order_id, "pending-consumer")
            assert moved.source == last, f"{moved.order_id} left {moved.source}, was in {last}"
            assert moved.target in ORDER_MOVES[last], f"{moved.order_id}: {last} → {moved.target}"
            self.order_state[moved.order_id] = moved.target
        for order_id, order in self.orders.items():
            walked = self.order_state.get(order_id, "pending-consumer")
            assert order.state == walked, f"{order_id} is {order.state}, its events say {walked}"

    @invariant()
    def resources_move_only_along_their_lifecycle(self) -> None:
        for recorded in self.market.events(self.resource_position):
            self.resource_position = recorded.position
            moved = recorded.event
            if not isinstance(moved, ResourceStateChanged):
                continue
            last = self.resource_state.get(moved.resource_id, "creating")
            assert moved.source == last, f"{moved.resource_id} left {moved.source}, was {last}"
            assert moved.target in RESOURCE_MOVES[last], f"{moved.resource_id}: → {moved.target}"
            self.resource_state[moved.resource_id] = moved.target
        for resource_id, resource in self.resources.items():
            walked = self.resource_state.get(resource_id, "creating")
            assert resource.state == walked, f"{resource_id} is {resource.state}, not {walked}"

    @invariant()
    def a_rejected_or_canceled_create_order_leaves_its_resource_terminated(self) -> None:
        for resource_id, orders in self.orders_of.items():
            create = orders[0]
            assert create.type is OrderType.CREATE
            if create.state in (OrderState.REJECTED, OrderState.CANCELED):
                resource = self.resources[resource_id]
                assert resource.state is ResourceState.TERMINATED, f"{resource_id} lives on"

    @invariant()
    def a_resource_state_agrees_with_its_orders(self) -> None:
        for resource_id, resource in self.resources.items():
            orders = self.orders_of[resource_id]
            current = self.open_order(resource_id)
            kind = current.type if current else None
            # The order the backend is working on (it answered "in progress").
            dispatched = current.type if current and current.dispatched_at else None
            terminated = any(
                o.type is OrderType.TERMINATE and o.state is OrderState.DONE for o in orders
            )
            match resource.state:
                case ResourceState.CREATING:
                    assert kind is OrderType.CREATE, f"{resource_id} creating without its order"
                case ResourceState.UPDATING:
                    assert dispatched is OrderType.UPDATE, f"{resource_id} updating"
                case ResourceState.TERMINATING:
                    assert dispatched is OrderType.TERMINATE, f"{resource_id} terminating"
                case ResourceState.TERMINATED:
                    assert current is None, f"{resource_id} terminated with an open order"
                    discarded = orders[0].state in (OrderState.REJECTED, OrderState.CANCELED)
                    assert discarded or terminated, f"{resource_id} terminated without a reason"
            if dispatched is OrderType.UPDATE:
                assert resource.state is ResourceState.UPDATING, f"{resource_id} not updating"
            if dispatched is OrderType.TERMINATE:
                assert resource.state is ResourceState.TERMINATING, f"{resource_id} not terminating"
            if terminated:
                assert resource.state is ResourceState.TERMINATED, f"{resource_id} not terminated"

    @invariant()
    def a_resource_holds_what_its_last_finished_order_asked_for(self) -> None:
        for resource_id, orders in self.orders_of.items():
            self.held.setdefault(resource_id, (orders[0].plan_id, dict(orders[0].limits)))
        known = self.orders
        for recorded in self.market.events(self.finished_position):
            self.finished_position = recorded.position
            moved = recorded.event
            if isinstance(moved, OrderStateChanged) and moved.target == "done":
                order = known[moved.order_id]
                if order.type is not OrderType.TERMINATE:
                    self.held[order.resource_id] = (order.plan_id, dict(order.limits))
        for resource_id, resource in self.resources.items():
            holds = (resource.plan_id, dict(resource.limits))
            assert holds == self.held[resource_id], f"{resource_id} holds {holds}"

    @invariant()
    def with_immediate_processing_no_executing_order_waits(self) -> None:
        if self.market.process_immediately:
            waiting = [
                order.id
                for order in self.orders.values()
                if order.state is OrderState.EXECUTING and order.dispatched_at is None
            ]
            assert not waiting, f"{waiting} wait for a processor"


OrderMachine.TestCase.settings = settings(
    OrderMachine.TestCase.settings, max_examples=100, stateful_step_count=30
)
test_orders = OrderMachine.TestCase
