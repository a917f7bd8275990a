"""No sequence of offering commands leaves the declared lifecycle.

A Hypothesis state machine creates offerings and plans and fires every lifecycle command as
random actors. A plain model written here (the design's table, the guards, who may do what)
predicts each outcome; the machine checks the facade agrees, and that every move the event
log records is an edge of ``OFFERING_LIFECYCLE``.
"""

from __future__ import annotations

from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from marketplace_core import (
    InvalidTransitionError,
    OfferingState,
    PermissionDeniedError,
    PlanUnit,
    ValidationError,
)
from marketplace_core.errors import ErrorCode
from marketplace_core.offerings import OFFERING_LIFECYCLE
from tests.support import CPU, build_world

DRAFT, ACTIVE, PAUSED, ARCHIVED = "draft", "active", "paused", "archived"

DESIGN_TABLE = {
    ("activate", DRAFT): ACTIVE,
    ("pause", ACTIVE): PAUSED,
    ("resume", PAUSED): ACTIVE,
    ("archive", DRAFT): ARCHIVED,
    ("archive", ACTIVE): ARCHIVED,
    ("archive", PAUSED): ARCHIVED,
}
"""DESIGN §4: draft → active ⇄ paused → archived."""

MAY_FIRE = {
    "activate": {"staff"},
    "pause": {"staff", "provider_owner"},
    "resume": {"staff", "provider_owner"},
    "archive": {"staff", "provider_owner"},
}
"""Who may fire each event in the standard world (activation is staff moderation)."""

NEEDS_OPEN_PLAN = {"activate", "resume"}


class OfferingLifecycleMachine(RuleBasedStateMachine):
    offerings = Bundle("offerings")
    plans = Bundle("plans")

    def __init__(self) -> None:
        super().__init__()
        self.world = build_world()
        self.state: dict[str, str] = {self.world.offering.id: ACTIVE}
        self.open_plans: dict[str, set[str]] = {self.world.offering.id: {self.world.plan.id}}
        self.plan_offering: dict[str, str] = {self.world.plan.id: self.world.offering.id}

    @rule(target=offerings)
    def create_offering(self) -> str:
        offering = self.world.new_offering(components=(CPU,))
        note(f"created {offering.id}")
        self.state[offering.id] = DRAFT
        self.open_plans[offering.id] = set()
        return offering.id

    @rule(target=plans, offering_id=offerings)
    def create_plan(self, offering_id: str) -> str:
        if self.state[offering_id] == ARCHIVED:
            try:
                self.world.marketplace.create_plan(
                    self.world.provider_owner.id, offering_id, "P", PlanUnit.DAY
                )
            except ValidationError as error:
                assert error.code is ErrorCode.OFFERING_ARCHIVED
                return "plan-none"
            raise AssertionError("a plan was added to an archived offering")
        plan = self.world.marketplace.create_plan(
            self.world.provider_owner.id, offering_id, "P", PlanUnit.DAY
        )
        note(f"created {plan.id} for {offering_id}")
        self.open_plans[offering_id].add(plan.id)
        self.plan_offering[plan.id] = offering_id
        return plan.id

    @rule(plan_id=plans)
    def archive_plan(self, plan_id: str) -> None:
        offering_id = self.plan_offering.get(plan_id)
        if offering_id is None or plan_id not in self.open_plans[offering_id]:
            return
        if self.state[offering_id] == ARCHIVED:
            try:
                self.world.marketplace.archive_plan(self.world.provider_owner.id, plan_id)
            except ValidationError as error:
                assert error.code is ErrorCode.OFFERING_ARCHIVED
                return
            raise AssertionError("a plan of an archived offering was changed")
        self.world.marketplace.archive_plan(self.world.provider_owner.id, plan_id)
        note(f"archived {plan_id}")
        self.open_plans[offering_id].discard(plan_id)

    @rule(
        offering_id=offerings,
        event=st.sampled_from(sorted(MAY_FIRE)),
        actor=st.sampled_from(["staff", "provider_owner", "offering_manager", "owner"]),
    )
    def fire(self, offering_id: str, event: str, actor: str) -> None:
        market = self.world.marketplace
        command = getattr(market, f"{event}_offering")
        current = self.state[offering_id]
        note(f"{actor} {event}s {offering_id} ({current})")
        if actor not in MAY_FIRE[event]:
            expected: type[Exception] | None = PermissionDeniedError
        elif (event, current) not in DESIGN_TABLE:
            expected = InvalidTransitionError
        elif event in NEEDS_OPEN_PLAN and not self.open_plans[offering_id]:
            expected = ValidationError
        else:
            expected = None
        try:
            offering = command(getattr(self.world, actor).id, offering_id)
        except (PermissionDeniedError, InvalidTransitionError, ValidationError) as error:
            assert type(error) is expected, f"expected {expected}, got {error!r}"
            return
        assert expected is None, f"expected {expected}, but {event} succeeded"
        self.state[offering_id] = DESIGN_TABLE[(event, current)]
        assert offering.state == OfferingState(self.state[offering_id])

    @invariant()
    def stored_states_match_the_model(self) -> None:
        for offering_id, state in self.state.items():
            assert self.world.marketplace.get_offering(offering_id).state.value == state

    @invariant()
    def every_recorded_move_is_a_declared_edge(self) -> None:
        declared = {(s.value, e.value, t.value) for s, e, t in OFFERING_LIFECYCLE.edges()}
        assert declared == {(s, e, t) for (e, s), t in DESIGN_TABLE.items()}
        for recorded in self.world.events.events:
            event = recorded.event
            if event.event_type == "OfferingStateChanged":
                assert (event.source, event.event, event.target) in declared


OfferingLifecycleMachine.TestCase.settings = settings(
    OfferingLifecycleMachine.TestCase.settings, max_examples=100, stateful_step_count=30
)
test_offering_lifecycle = OfferingLifecycleMachine.TestCase
