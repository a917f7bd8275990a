"""Claims: site agents take dispatched orders under a lease and report what they did.

Each rule of ``services/claims.py`` has an example here, and a state machine lets agents
claim, renew, release, report and crash while the clock moves, checking that two agents
never hold one order at once, that only the agent holding an order finishes it, that no
order is done twice, and that no order is lost.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from marketplace_core.errors import (
    ConflictError,
    ErrorCode,
    MarketplaceError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from marketplace_core.events import OrderClaimChanged, OrderStateChanged
from marketplace_core.offerings import PlanUnit
from marketplace_core.orders import Order, OrderState
from marketplace_core.resources import ResourceState
from marketplace_core.services.claims import MAX_LEASE_SECONDS
from tests.support import World, build_world

AGENT, OTHER = "agent-1", "agent-2"


def claim(world: World, order: Order, agent: str = AGENT, lease: int = 300) -> Order:
    return world.marketplace.claim_order(world.provider_owner.id, order.id, agent, lease)


def claim_events(world: World) -> list[OrderClaimChanged]:
    return [e.event for e in world.events.events if isinstance(e.event, OrderClaimChanged)]


def later(world: World, seconds: int) -> None:
    world.clock.advance(timedelta(seconds=seconds))


def claimable(world: World) -> list[str]:
    return [o.id for o in world.marketplace.list_claimable_orders(world.offering.id)]


def waiting_on_another_offering(world: World) -> Order:
    """A dispatched executing order on a second basic offering of the same provider."""
    market, provider = world.marketplace, world.provider_owner.id
    other = world.new_offering(name="Other cluster")
    plan = market.create_plan(provider, other.id, "Plan", PlanUnit.MONTH, prices={})
    market.activate_offering(world.staff.id, other.id)
    order = world.order(offering_id=other.id, plan_id=plan.id)
    return market.approve_order_as_provider(provider, order.id)


# --------------------------------------------------------------------------- listing


def test_claimable_orders_are_the_offerings_dispatched_executing_unheld_orders(
    world: World,
) -> None:
    market = world.marketplace
    first, held, expired, last = (world.waiting_order() for _ in range(4))
    claim(world, held, lease=600)
    claim(world, expired, lease=60)
    pending = world.order()  # waits for the provider: not executing
    market.process_immediately = False
    undispatched = world.order()
    market.approve_order_as_provider(world.provider_owner.id, undispatched.id)
    market.process_immediately = True
    finished = world.waiting_order()
    market.resource_creation_succeeded(world.provider_owner.id, finished.resource_id)
    elsewhere = waiting_on_another_offering(world)
    assert market.get_order(pending.id).state is OrderState.PENDING_PROVIDER
    assert market.get_order(undispatched.id).dispatched_at is None
    assert market.get_order(elsewhere.id).dispatched_at is not None
    assert claimable(world) == [first.id, last.id]
    later(world, 60)  # the 60-second lease has run out: its order is offered again
    assert claimable(world) == [first.id, expired.id, last.id]
    assert [o.id for o in market.list_claimable_orders(world.offering.id, 2)] == [
        first.id,
        expired.id,
    ]
    with pytest.raises(NotFoundError):
        market.list_claimable_orders("offering-404")


# --------------------------------------------------------------------------- claiming


def test_claiming_sets_the_agent_and_the_lease_and_says_so(world: World) -> None:
    order = world.waiting_order()
    claimed = world.marketplace.claim_order(world.offering_manager.id, order.id, AGENT, 120)
    assert claimed.claimed_by == AGENT
    assert claimed.claim_expires_at == world.clock.now() + timedelta(seconds=120)
    assert world.marketplace.get_order(order.id) == claimed
    (event,) = claim_events(world)
    assert (event.order_id, event.agent_id, event.expires_at) == (
        order.id,
        AGENT,
        claimed.claim_expires_at,
    )
    assert event.actor_id == world.offering_manager.id


@pytest.mark.parametrize("actor", ["owner", "project_manager", "outsider"])
def test_only_those_who_fulfil_the_offering_may_claim_release_and_report(
    world: World, actor: str
) -> None:
    market, order = world.marketplace, world.waiting_order()
    claim(world, order)
    someone = getattr(world, actor).id
    for attempt in (
        lambda: market.claim_order(someone, order.id, OTHER),
        lambda: market.release_order_claim(someone, order.id, AGENT),
        lambda: market.report_claimed_order_done(someone, order.id, AGENT),
        lambda: market.report_claimed_order_erred(someone, order.id, AGENT, "no"),
    ):
        with pytest.raises(PermissionDeniedError):
            attempt()
    assert market.get_order(order.id).claimed_by == AGENT
    assert market.get_order(order.id).state is OrderState.EXECUTING


def test_only_executing_orders_are_claimed(world: World) -> None:
    market = world.marketplace
    pending = world.order()
    done = world.waiting_order()
    market.resource_creation_succeeded(world.provider_owner.id, done.resource_id)
    for order in (pending, done):
        with pytest.raises(ValidationError) as refused:
            claim(world, order)
        assert refused.value.code is ErrorCode.ORDER_NOT_EXECUTING
        assert market.get_order(order.id).state.value in refused.value.message
    assert claim_events(world) == []


def test_an_order_not_yet_handed_to_its_backend_is_not_claimed(world: World) -> None:
    market = world.marketplace
    market.process_immediately = False
    order = world.order()
    market.approve_order_as_provider(world.provider_owner.id, order.id)
    with pytest.raises(ValidationError) as refused:
        claim(world, order)
    assert refused.value.code is ErrorCode.ORDER_NOT_DISPATCHED
    market.process_executing_orders()
    assert claim(world, order).claimed_by == AGENT


def test_an_order_held_by_another_agent_is_refused_until_its_lease_runs_out(
    world: World,
) -> None:
    order = world.waiting_order()
    held = claim(world, order, lease=300)
    later(world, 299)
    with pytest.raises(ConflictError) as refused:
        claim(world, order, OTHER)
    assert refused.value.code is ErrorCode.ORDER_CLAIMED
    assert refused.value.fields["agent_id"] == AGENT
    assert f"claimed by agent {AGENT!r} until 2026-01-15 09:35:00" in refused.value.message
    assert world.marketplace.get_order(order.id) == held
    later(world, 1)  # the lease ends at its expiry instant
    taken = claim(world, order, OTHER)
    assert taken.claimed_by == OTHER
    assert taken.claim_expires_at == world.clock.now() + timedelta(seconds=300)


def test_the_holder_renews_its_lease_by_claiming_again(world: World) -> None:
    order = world.waiting_order()
    claim(world, order, lease=300)
    later(world, 200)
    renewed = claim(world, order, lease=300)
    assert renewed.claim_expires_at == world.clock.now() + timedelta(seconds=300)
    later(world, 200)  # past the first lease, within the renewed one
    with pytest.raises(ConflictError):
        claim(world, order, OTHER)
    assert [e.agent_id for e in claim_events(world)] == [AGENT, AGENT]


def test_an_agent_may_claim_again_after_its_own_lease_ran_out(world: World) -> None:
    order = world.waiting_order()
    claim(world, order, lease=60)
    later(world, 61)
    assert claim(world, order, lease=60).claim_expires_at == world.clock.now() + timedelta(
        seconds=60
    )


@pytest.mark.parametrize("lease", [0, -5, MAX_LEASE_SECONDS + 1, True, 1.5, "300", None])
def test_a_lease_outside_one_second_to_a_week_is_refused(world: World, lease: object) -> None:
    order = world.waiting_order()
    with pytest.raises(ValidationError) as refused:
        claim(world, order, lease=lease)  # type: ignore[arg-type]
    assert refused.value.fields["field"] == "lease_seconds"
    assert world.marketplace.get_order(order.id).claimed_by is None


@pytest.mark.parametrize("lease", [1, MAX_LEASE_SECONDS])
def test_the_shortest_and_the_longest_lease_are_taken(world: World, lease: int) -> None:
    claimed = claim(world, world.waiting_order(), lease=lease)
    assert claimed.claim_expires_at == world.clock.now() + timedelta(seconds=lease)


@pytest.mark.parametrize("agent", ["", "   ", "a" * 201, None, 7])
def test_an_agent_needs_a_name(world: World, agent: object) -> None:
    with pytest.raises(ValidationError) as refused:
        claim(world, world.waiting_order(), agent)  # type: ignore[arg-type]
    assert refused.value.fields["field"] == "agent_id"


# --------------------------------------------------------------------------- releasing


def test_a_released_order_is_offered_to_other_agents_at_once(world: World) -> None:
    market, order = world.marketplace, world.waiting_order()
    claim(world, order)
    released = market.release_order_claim(world.provider_owner.id, order.id, AGENT)
    assert (released.claimed_by, released.claim_expires_at) == (None, None)
    assert claimable(world) == [order.id]
    assert claim(world, order, OTHER).claimed_by == OTHER
    assert [(e.agent_id, e.expires_at) for e in claim_events(world)][1] == (None, None)


@pytest.mark.parametrize("situation", ["held by another", "expired", "never claimed"])
def test_releasing_a_claim_not_held_changes_nothing(world: World, situation: str) -> None:
    market, order = world.marketplace, world.waiting_order()
    if situation == "held by another":
        claim(world, order, OTHER)
    elif situation == "expired":
        claim(world, order, lease=60)
        later(world, 60)
    before, events = market.get_order(order.id), len(world.events.events)
    assert market.release_order_claim(world.provider_owner.id, order.id, AGENT) == before
    assert market.get_order(order.id) == before
    assert len(world.events.events) == events


# --------------------------------------------------------------------------- reporting


def test_a_done_report_completes_the_order_like_a_backend_callback(world: World) -> None:
    market, order = world.marketplace, world.waiting_order()
    claim(world, order)
    done = market.report_claimed_order_done(
        world.offering_manager.id, order.id, AGENT, backend_id="acct-7", metadata={"qos": "high"}
    )
    assert done.state is OrderState.DONE
    assert done.completed_at == world.clock.now()
    resource = market.get_resource(order.resource_id)
    assert resource.state is ResourceState.OK
    assert (resource.backend_id, dict(resource.backend_metadata)) == ("acct-7", {"qos": "high"})
    (finished,) = [
        e.event
        for e in world.events.events
        if isinstance(e.event, OrderStateChanged) and e.event.target == "done"
    ]
    assert finished.actor_id == world.offering_manager.id


def test_an_erred_report_errs_order_and_resource(world: World) -> None:
    market, order = world.marketplace, world.waiting_order()
    claim(world, order)
    erred = market.report_claimed_order_erred(
        world.provider_owner.id, order.id, AGENT, "no such account"
    )
    assert (erred.state, erred.error_message) == (OrderState.ERRED, "no such account")
    resource = market.get_resource(order.resource_id)
    assert (resource.state, resource.error_message) == (ResourceState.ERRED, "no such account")


def test_a_failed_termination_leaves_the_resource_ok(world: World) -> None:
    market, order = world.marketplace, world.waiting_order("terminate")
    claim(world, order)
    market.report_claimed_order_erred(world.provider_owner.id, order.id, AGENT, "busy")
    assert market.get_resource(order.resource_id).state is ResourceState.OK


@pytest.mark.parametrize("report", ["done", "erred"])
@pytest.mark.parametrize(
    ("situation", "reason"),
    [
        ("never claimed", "nobody holds it"),
        ("expired", "its lease ran out"),
        ("held by another", f"agent {OTHER!r} holds it"),
        ("released", "nobody holds it"),
    ],
)
def test_an_agent_reports_only_on_an_order_it_holds(
    world: World, report: str, situation: str, reason: str
) -> None:
    market, order = world.marketplace, world.waiting_order()
    if situation == "expired":
        claim(world, order, lease=60)
        later(world, 60)
    elif situation == "held by another":
        claim(world, order, OTHER)
    elif situation == "released":
        claim(world, order)
        market.release_order_claim(world.provider_owner.id, order.id, AGENT)
    before = market.get_order(order.id)
    send = {
        "done": lambda: market.report_claimed_order_done(world.provider_owner.id, order.id, AGENT),
        "erred": lambda: market.report_claimed_order_erred(
            world.provider_owner.id, order.id, AGENT, "x"
        ),
    }[report]
    with pytest.raises(ConflictError) as refused:
        send()
    assert refused.value.code is ErrorCode.CLAIM_NOT_HELD
    assert f"({reason})" in refused.value.message
    assert market.get_order(order.id) == before


def test_a_report_repeated_by_its_agent_changes_nothing(world: World) -> None:
    market, provider = world.marketplace, world.provider_owner.id
    done, erred = world.waiting_order(), world.waiting_order()
    claim(world, done)
    claim(world, erred)
    first_done = market.report_claimed_order_done(provider, done.id, AGENT, backend_id="a-1")
    first_erred = market.report_claimed_order_erred(provider, erred.id, AGENT, "disk full")
    events = len(world.events.events)
    later(world, 3600)  # even after the lease
    assert market.report_claimed_order_done(provider, done.id, AGENT, backend_id="a-1") == (
        first_done
    )
    assert market.report_claimed_order_erred(provider, erred.id, AGENT, "disk full") == (
        first_erred
    )
    assert len(world.events.events) == events


def test_a_different_report_on_a_finished_order_is_refused(world: World) -> None:
    market, provider = world.marketplace, world.provider_owner.id
    done, erred = world.waiting_order(), world.waiting_order()
    claim(world, done)
    claim(world, erred)
    market.report_claimed_order_done(provider, done.id, AGENT)
    market.report_claimed_order_erred(provider, erred.id, AGENT, "disk full")
    for attempt in (
        lambda: market.report_claimed_order_done(provider, done.id, OTHER),
        lambda: market.report_claimed_order_erred(provider, done.id, AGENT, "late"),
        lambda: market.report_claimed_order_erred(provider, erred.id, AGENT, "other reason"),
        lambda: market.report_claimed_order_done(provider, erred.id, AGENT),
    ):
        with pytest.raises(ValidationError) as refused:
            attempt()
        assert refused.value.code is ErrorCode.ORDER_NOT_EXECUTING
    assert market.get_order(done.id).state is OrderState.DONE
    assert market.get_order(erred.id).error_message == "disk full"


def test_report_inputs_are_checked(world: World) -> None:
    market, provider, order = world.marketplace, world.provider_owner.id, world.waiting_order()
    claim(world, order)
    with pytest.raises(ValidationError) as refused:
        market.report_claimed_order_erred(provider, order.id, AGENT, None)  # type: ignore[arg-type]
    assert refused.value.fields["field"] == "message"
    with pytest.raises(ValidationError) as refused:
        market.report_claimed_order_done(provider, order.id, AGENT, metadata={"at": object()})
    assert "metadata" in refused.value.message
    assert market.get_order(order.id).state is OrderState.EXECUTING


def test_a_retried_order_is_not_held_by_the_agent_that_failed_it(world: World) -> None:
    market, order = world.marketplace, world.waiting_order()
    claim(world, order)
    market.report_claimed_order_erred(world.provider_owner.id, order.id, AGENT, "disk full")
    market.retry_order(world.owner.id, order.id)
    assert claimable(world) == [order.id]
    assert claim(world, order, OTHER).claimed_by == OTHER


# --------------------------------------------------------------------------- the state machine

AGENTS = ("agent-a", "agent-b", "agent-c")
MESSAGES = ("disk full", "no such partition")
ORDERS = 3


class AgentsRacing(RuleBasedStateMachine):
    """Agents claim, renew, release, report and crash while time passes.

    The model mirrors each order's claim (holder, expiry) and state, and every command's
    answer must match what the model predicts. Besides, from the answers alone: the leases
    granted on one order never overlap between agents, a report is accepted only from the
    agent whose lease runs, and no order completes twice.
    """

    @initialize()
    def a_world_with_orders_waiting(self) -> None:
        self.world = build_world()
        self.market, self.actor = self.world.marketplace, self.world.provider_owner.id
        self.orders = [self.world.waiting_order().id for _ in range(ORDERS)]
        self.holder: dict[str, str | None] = dict.fromkeys(self.orders)
        self.expires: dict[str, datetime | None] = dict.fromkeys(self.orders)
        self.state = dict.fromkeys(self.orders, OrderState.EXECUTING)
        self.message: dict[str, str] = {}
        self.granted: list[tuple[str, str, datetime, datetime]] = []
        """(order, agent, start, end) of every lease the core granted, cut short by a
        release."""
        self.reported_by: dict[str, str] = {}
        self.dead: set[str] = set()

    @property
    def now(self) -> datetime:
        return self.world.clock.now()

    def running(self, order: str) -> str | None:
        expires = self.expires[order]
        return self.holder[order] if expires is not None and self.now < expires else None

    def expect(self, attempt: object, error: ErrorCode | None) -> object:
        """Run ``attempt``; it must fail with ``error``, or succeed when ``error`` is None."""
        try:
            result = attempt() if callable(attempt) else attempt
        except MarketplaceError as refused:
            assert refused.code is error, f"expected {error}, got {refused!r}"
            return None
        assert error is None, f"expected {error}, but it was accepted"
        return result

    # ------------------------------------------------------------------- rules

    @rule(
        agent=st.sampled_from(AGENTS),
        index=st.integers(0, ORDERS - 1),
        lease=st.sampled_from([60, 300]),
    )
    def claim(self, agent: str, index: int, lease: int) -> None:
        if agent in self.dead:
            return
        order = self.orders[index]
        note(f"{agent} claims {order} for {lease}s at {self.now:%H:%M:%S}")
        running = self.running(order)
        error = (
            ErrorCode.ORDER_NOT_EXECUTING
            if self.state[order] is not OrderState.EXECUTING
            else ErrorCode.ORDER_CLAIMED
            if running not in (None, agent)
            else None
        )
        claimed = self.expect(
            lambda: self.market.claim_order(self.actor, order, agent, lease), error
        )
        if isinstance(claimed, Order):
            end = self.now + timedelta(seconds=lease)
            self.holder[order], self.expires[order] = agent, end
            self.granted.append((order, agent, self.now, end))

    @rule(agent=st.sampled_from(AGENTS), index=st.integers(0, ORDERS - 1))
    def release(self, agent: str, index: int) -> None:
        if agent in self.dead:
            return
        order = self.orders[index]
        note(f"{agent} releases {order}")
        self.market.release_order_claim(self.actor, order, agent)
        if self.running(order) == agent:
            self.holder[order] = self.expires[order] = None
            self.granted = [
                (o, a, start, min(end, self.now) if (o, a) == (order, agent) else end)
                for o, a, start, end in self.granted
            ]

    @rule(agent=st.sampled_from(AGENTS), index=st.integers(0, ORDERS - 1))
    def report_done(self, agent: str, index: int) -> None:
        if agent in self.dead:
            return
        order = self.orders[index]
        note(f"{agent} reports {order} done")
        repeat = self.state[order] is OrderState.DONE and self.holder[order] == agent
        self.finish(order, agent, OrderState.DONE, repeat, "")

    @rule(
        agent=st.sampled_from(AGENTS),
        index=st.integers(0, ORDERS - 1),
        message=st.sampled_from(MESSAGES),
    )
    def report_erred(self, agent: str, index: int, message: str) -> None:
        if agent in self.dead:
            return
        order = self.orders[index]
        note(f"{agent} reports {order} erred: {message}")
        repeat = (
            self.state[order] is OrderState.ERRED
            and self.holder[order] == agent
            and self.message[order] == message
        )
        self.finish(order, agent, OrderState.ERRED, repeat, message)

    def finish(
        self, order: str, agent: str, outcome: OrderState, repeat: bool, message: str
    ) -> None:
        error = (
            None
            if repeat
            else ErrorCode.ORDER_NOT_EXECUTING
            if self.state[order] is not OrderState.EXECUTING
            else ErrorCode.CLAIM_NOT_HELD
            if self.running(order) != agent
            else None
        )
        holds = [a for o, a, start, end in self.granted if o == order and start <= self.now < end]

        def report() -> Order:
            if outcome is OrderState.DONE:
                return self.market.report_claimed_order_done(self.actor, order, agent)
            return self.market.report_claimed_order_erred(self.actor, order, agent, message)

        reported = self.expect(report, error)
        if isinstance(reported, Order) and not repeat:
            assert set(holds) == {agent}, f"{agent} finished {order} while {holds} held it"
            self.state[order], self.message[order] = outcome, message
            self.reported_by[order] = agent

    @rule(agent=st.sampled_from(AGENTS))
    def crash(self, agent: str) -> None:
        note(f"{agent} crashes and never comes back")
        self.dead.add(agent)

    @rule(seconds=st.integers(1, 400))
    def time_passes(self, seconds: int) -> None:
        note(f"{seconds}s pass")
        self.world.clock.advance(timedelta(seconds=seconds))

    # ------------------------------------------------------------------- invariants

    @invariant()
    def leases_of_different_agents_never_overlap(self) -> None:
        for order, agent, start, end in self.granted:
            for other_order, other, other_start, other_end in self.granted:
                overlap = start < other_end and other_start < end
                assert other_order != order or other == agent or not overlap, (
                    f"{agent} and {other} both held {order}"
                )

    @invariant()
    def the_core_agrees_with_the_model(self) -> None:
        for order in self.orders:
            stored = self.market.get_order(order)
            assert stored.state is self.state[order]
            assert (stored.claimed_by, stored.claim_expires_at) == (
                self.holder[order],
                self.expires[order],
            )
        waiting = [
            o for o in self.orders if self.state[o] is OrderState.EXECUTING and not self.running(o)
        ]
        assert [o.id for o in self.market.list_claimable_orders(self.world.offering.id)] == waiting

    @invariant()
    def no_order_finishes_twice(self) -> None:
        finished = Counter(
            e.event.order_id
            for e in self.world.events.events
            if isinstance(e.event, OrderStateChanged) and e.event.target in ("done", "erred")
        )
        assert all(count == 1 for count in finished.values()), finished
        assert set(finished) == set(self.reported_by)

    def teardown(self) -> None:
        """Nothing is lost: once the leases run out, a live agent finishes what is left."""
        if not hasattr(self, "world"):
            return
        self.world.clock.advance(timedelta(seconds=MAX_LEASE_SECONDS))
        for order in self.market.list_claimable_orders(self.world.offering.id):
            self.market.claim_order(self.actor, order.id, "rescuer")
            self.market.report_claimed_order_done(self.actor, order.id, "rescuer")
        for order in self.orders:
            assert self.market.get_order(order).state in (OrderState.DONE, OrderState.ERRED)


AgentsRacing.TestCase.settings = settings(
    AgentsRacing.TestCase.settings, max_examples=60, stateful_step_count=30
)
TestAgentsRacing = AgentsRacing.TestCase


def test_a_report_sent_again_after_the_release_changes_nothing(world: World) -> None:
    market, provider = world.marketplace, world.provider_owner.id
    order = world.waiting_order()
    market.claim_order(provider, order.id, "agent-1", 300)
    erred = market.report_claimed_order_erred(provider, order.id, "agent-1", "disk full")
    market.release_order_claim(provider, order.id, "agent-1")  # site-agent.md, step 6
    # the reply to the report was lost; the agent sends it again
    again = market.report_claimed_order_erred(provider, order.id, "agent-1", "disk full")
    assert again.state is OrderState.ERRED
    assert again.error_message == erred.error_message
