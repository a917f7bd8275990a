"""Workers claim an executing order before they hand it to its processor, so that several
workers on one storage never call a processor twice for the same order."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from datetime import timedelta

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from marketplace_core import (
    ConflictError,
    ErrorCode,
    Marketplace,
    OrderState,
    PlanUnit,
    PluginCapabilities,
    PluginRegistry,
    ValidationError,
)
from marketplace_core.events import OrderClaimChanged, OrderStateChanged
from marketplace_core.marketplace import RECORD_ATTEMPTS
from marketplace_core.plugins.processor import Completed, ProcessingRequest
from marketplace_core.ports import Storage, UnitOfWork
from marketplace_core.testing import Outcome
from tests.services.test_fulfilment import held_marketplace, order_vm
from tests.support import World, build_world


def creates(world: World) -> Counter[str]:
    """How many times the cloud backend was asked to create each order."""
    return Counter(order_id for method, order_id in world.cloud.calls if method == "create")


def test_a_worker_claims_an_order_processes_it_and_is_recorded_as_its_processor(world: World):
    held = held_marketplace(world)
    order = order_vm(world, held)
    (processed,) = held.process_executing_orders(worker_id="w1", lease_seconds=60)
    assert (processed.id, processed.state) == (order.id, OrderState.DONE)
    assert processed.claimed_by == "w1"
    claims = [e.event for e in world.marketplace.events() if isinstance(e.event, OrderClaimChanged)]
    assert [(c.order_id, c.agent_id, c.actor_id) for c in claims] == [(order.id, "w1", None)]
    assert claims[0].expires_at == world.clock.now() + timedelta(seconds=60)


def test_an_order_another_worker_holds_is_left_alone_until_its_lease_runs_out(world: World):
    held = held_marketplace(world)
    order = order_vm(world, held)
    held.claim_order_for_processing(order.id, "crashed", lease_seconds=60)
    assert held.process_executing_orders(worker_id="w2") == []
    with pytest.raises(ConflictError) as refused:
        held.process_order(order.id, "w2")
    assert refused.value.code is ErrorCode.ORDER_CLAIMED
    assert "'crashed'" in str(refused.value)
    with pytest.raises(ConflictError) as taken:
        held.claim_order_for_processing(order.id, "w2")
    assert taken.value.code is ErrorCode.ORDER_CLAIMED
    assert held.get_order(order.id).claimed_by == "crashed"
    assert creates(world) == Counter()
    world.clock.advance(timedelta(seconds=60))
    (processed,) = held.process_executing_orders(worker_id="w2")
    assert (processed.state, processed.claimed_by) == (OrderState.DONE, "w2")
    assert creates(world) == Counter({order.id: 1})


def test_a_worker_without_an_id_does_not_process_an_order_a_worker_holds(world: World):
    held = held_marketplace(world)
    order = order_vm(world, held)
    held.claim_order_for_processing(order.id, "w1")
    assert held.process_executing_orders() == []
    assert creates(world) == Counter()


def test_handing_an_order_over_ends_the_workers_claim_so_an_agent_may_take_it(world: World):
    held = held_marketplace(world)
    world.cloud.then(Outcome.LATER)
    order = order_vm(world, held)
    (dispatched,) = held.process_executing_orders(worker_id="w1")
    assert dispatched.dispatched_at is not None
    assert (dispatched.claimed_by, dispatched.claim_expires_at) == (None, None)
    agent = held.claim_order(world.provider_owner.id, order.id, "agent-1")
    assert agent.claimed_by == "agent-1"


def test_claiming_renews_the_workers_own_lease(world: World):
    held = held_marketplace(world)
    order = order_vm(world, held)
    held.claim_order_for_processing(order.id, "w1", lease_seconds=10)
    world.clock.advance(timedelta(seconds=5))
    renewed = held.claim_order_for_processing(order.id, "w1", lease_seconds=10)
    assert renewed.claim_expires_at == world.clock.now() + timedelta(seconds=10)


def test_a_claim_on_an_order_that_is_not_executing_or_already_handed_over(world: World):
    held = held_marketplace(world)
    done = world.live_vm()
    (order,) = world.marketplace.list_orders(done.id)
    with pytest.raises(ValidationError) as refused:
        held.claim_order_for_processing(order.id, "w1")
    assert refused.value.code is ErrorCode.ORDER_NOT_EXECUTING
    world.cloud.then(Outcome.LATER)
    waiting = order_vm(world, held)
    held.process_executing_orders()
    dispatched = held.get_order(waiting.id)
    assert held.claim_order_for_processing(waiting.id, "w1") == dispatched


@pytest.mark.parametrize(
    ("arguments", "field"),
    [(("",), "worker_id"), (("w1", 0), "lease_seconds"), (("w1", 10**9), "lease_seconds")],
)
def test_bad_claims_are_refused_naming_the_field(world: World, arguments, field):
    held = held_marketplace(world)
    order = order_vm(world, held)
    with pytest.raises(ValidationError) as refused:
        held.claim_order_for_processing(order.id, *arguments)
    assert field in str(refused.value)
    assert held.get_order(order.id).claimed_by is None


def test_a_worker_with_an_id_processes_every_order_up_to_its_limit(world: World):
    held = held_marketplace(world)
    orders = {order_vm(world, held).id for _ in range(7)}
    first = held.process_executing_orders(limit=3, worker_id="w1")
    rest = held.process_executing_orders(worker_id="w1")
    assert len(first) == 3
    assert {o.id for o in first} | {o.id for o in rest} == orders
    assert creates(world) == Counter(dict.fromkeys(orders, 1))


def test_four_worker_threads_call_the_processor_once_per_order():
    world = build_world()
    held = held_marketplace(world)
    orders = {order_vm(world, held).id for _ in range(60)}
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def work(worker: str) -> None:
        try:
            barrier.wait()
            while held.process_executing_orders(limit=5, worker_id=worker):
                pass
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert creates(world) == Counter(dict.fromkeys(orders, 1))
    assert {held.get_order(order_id).state for order_id in orders} == {OrderState.DONE}


class Workers(RuleBasedStateMachine):
    """Workers claim, crash and process in any order while the clock moves: a processor is
    called for an order only by the worker holding it, and never twice within one lease."""

    LEASE = 30

    def __init__(self) -> None:
        super().__init__()
        self.world = build_world()
        self.held = held_marketplace(self.world)
        self.orders: list[str] = []
        self.called_at: dict[str, list[tuple[str, object]]] = {}

    @rule()
    def place(self) -> None:
        self.orders.append(order_vm(self.world, self.held).id)

    @rule(worker=st.sampled_from(["a", "b", "c"]), data=st.data())
    def claim_and_crash(self, worker: str, data: st.DataObject) -> None:
        if not self.orders:
            return
        order_id = data.draw(st.sampled_from(self.orders))
        with contextlib.suppress(ConflictError, ValidationError):
            self.held.claim_order_for_processing(order_id, worker, self.LEASE)

    @rule(worker=st.sampled_from(["a", "b", "c"]), limit=st.integers(1, 3))
    def process(self, worker: str, limit: int) -> None:
        before = len(self.world.cloud.calls)
        self.held.process_executing_orders(limit, worker_id=worker, lease_seconds=self.LEASE)
        for method, order_id in self.world.cloud.calls[before:]:
            if method == "create":
                self.called_at.setdefault(order_id, []).append((worker, self.world.clock.now()))

    @rule(seconds=st.integers(1, 40))
    def wait(self, seconds: int) -> None:
        self.world.clock.advance(timedelta(seconds=seconds))

    @invariant()
    def each_order_is_processed_at_most_once(self) -> None:
        for order_id, calls in self.called_at.items():
            assert len(calls) == 1, f"{order_id} processed by {calls}"
            assert self.held.get_order(order_id).claimed_by == calls[0][0]


Workers.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
test_workers = Workers.TestCase


class MeddlingProcessor:
    """Completes orders, but the first ``meddles`` times it is asked it renames the resource
    through another unit of work, so the unit recording its answer conflicts."""

    def __init__(self, world: World, meddles: int) -> None:
        self.world = world
        self.meddles = meddles
        self.calls: list[str] = []

    def validate(self, request: ProcessingRequest) -> None:
        pass

    def create(self, request: ProcessingRequest) -> Completed:
        self.calls.append(request.order.id)
        for _ in range(min(self.meddles, 1)):
            self.meddles -= 1
            with self.world.storage.unit_of_work() as uow:
                resource = uow.resources.get(request.resource.id)
                uow.resources.update(attrs.evolve(resource, name=f"renamed {self.meddles}"))
                uow.commit()
        return Completed(backend_id="b-1")

    update = terminate = create


def meddled_world(meddles: int) -> tuple[World, MeddlingProcessor, str]:
    world = build_world()
    processor = MeddlingProcessor(world, meddles)
    plugins = PluginRegistry()
    plugins.register("meddled", processor, PluginCapabilities(needs_provider_review=False))
    world.marketplace.plugins = plugins
    offering = world.new_offering(plugin_type="meddled")
    plan = world.marketplace.create_plan(
        world.provider_owner.id, offering.id, "Plan", PlanUnit.MONTH, prices={"cpu": 1}
    )
    world.marketplace.activate_offering(world.staff.id, offering.id)
    held = held_marketplace(world, plugins)
    order = held.order_resource(
        world.owner.id, world.project.id, offering.id, plan.id, "r", limits={"storage": 1}
    )
    return world, processor, order.id


def test_a_worker_records_its_answer_again_when_the_unit_conflicts_without_asking_twice():
    world, processor, order_id = meddled_world(meddles=1)
    held = held_marketplace(world, world.marketplace.plugins)
    (processed,) = held.process_executing_orders(worker_id="w1")
    assert (processed.id, processed.state) == (order_id, OrderState.DONE)
    assert processor.calls == [order_id]


class RefusedCommits:
    """Storage whose units of work fail their commit with a conflict, ``failures`` times,
    when they finish an order (a stand-in for a database under heavy contention)."""

    def __init__(self, storage: Storage, failures: int) -> None:
        self.storage = storage
        self.failures = failures

    def unit_of_work(self) -> UnitOfWork:
        unit = self.storage.unit_of_work()
        commit = unit.commit

        def refusing_commit() -> object:
            finishing = any(
                isinstance(e, OrderStateChanged) and e.target == "done" for e in unit._events
            )
            if finishing and self.failures > 0:
                self.failures -= 1
                unit.rollback()
                raise ConflictError(ErrorCode.STALE_VERSION, "refused for the test")
            return commit()

        unit.commit = refusing_commit  # type: ignore[method-assign]
        return unit


def test_a_worker_gives_an_order_up_after_conflicting_again_and_again():
    world, processor, order_id = meddled_world(meddles=0)
    refusing = RefusedCommits(world.storage, failures=RECORD_ATTEMPTS)
    held = Marketplace(
        refusing, clock=world.clock, plugins=world.marketplace.plugins, process_immediately=False
    )
    assert held.process_executing_orders(worker_id="w1") == []
    assert held.get_order(order_id).state is OrderState.EXECUTING
    assert processor.calls == [order_id]
    (processed,) = held.process_executing_orders(worker_id="w1")
    assert processed.state is OrderState.DONE
    assert processor.calls == [order_id, order_id]
