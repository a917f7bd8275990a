"""The shipped strategies draw inputs the facade accepts, and reach every enum member.

Each property test plays a drawn spec into a fresh in-memory marketplace and reads the result
back through the facade: what was stored must be what the spec says. The reach tests draw a
fixed number of derandomized examples and check that every billing type, plan unit,
visibility, role, order command and order state, policy metric, period, action kind and
action type appears, that the due jobs release, cancel and terminate, and that usage is
reported for an earlier month. They ask for what is drawn many times in those examples, not
for rare events, so they hold whatever literals Hypothesis picks up from imported modules.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace_core import BillingType, OrderState, PlanUnit, ResourceState, Role
from marketplace_core.billing.calendar import add_months, month_of
from marketplace_core.money import AMOUNT_LIMIT
from marketplace_core.offerings import LIMIT_CEILING, OfferingState
from marketplace_core.policies import ActionKind, ActionType, PolicyMetric, PolicyPeriod
from marketplace_core.testing.strategies import (
    SPEC_START,
    CatalogueSpec,
    OrderCommand,
    OrderStep,
    OrderStreamSpec,
    OrganizationSpec,
    PolicySpec,
    UsageStreamSpec,
    VisibilityKind,
    apply_order_stream,
    apply_usage_stream,
    build_catalogue,
    build_ordering_world,
    build_organization,
    catalogues,
    create_spec_policy,
    marketplace_for_specs,
    order_streams,
    organizations,
    policies,
    usage_streams,
)

T = TypeVar("T")

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REACH_EXAMPLES = 150
ORDER_REACH_EXAMPLES = 300  # order streams are cheap to draw, and have many outcomes


def drawn(strategy: st.SearchStrategy[T], examples: int = REACH_EXAMPLES) -> list[T]:
    """``examples`` derandomized draws of ``strategy``."""
    values: list[T] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: T) -> None:
        values.append(value)

    collect()
    return values


def reached(values: list[T], members: Callable[[T], object]) -> set[object]:
    found: set[object] = set()
    for value in values:
        found |= set(members(value))  # type: ignore[call-overload]
    return found


# --------------------------------------------------------------------------- accepted


@PROPERTY
@given(spec=catalogues())
def test_a_drawn_catalogue_is_stored_as_drawn(spec: CatalogueSpec) -> None:
    market, staff_id = marketplace_for_specs()
    built = build_catalogue(market, staff_id, spec)
    assert len(built.offerings) == len(spec.offerings)
    for offering_spec, built_offering in zip(spec.offerings, built.offerings, strict=True):
        offering = market.get_offering(built_offering.offering_id)
        assert offering.name == offering_spec.name
        assert offering.provider_id == built.provider_id
        assert offering.category_id == built.category_id
        assert offering.components == offering_spec.components
        assert offering.visibility == built_offering.visibility
        expected_state = OfferingState.ACTIVE if offering_spec.activate else OfferingState.DRAFT
        assert offering.state is expected_state
        for plan_spec, plan_id in zip(offering_spec.plans, built_offering.plan_ids, strict=True):
            plan = market.get_plan(plan_id)
            assert (plan.name, plan.unit, plan.max_amount) == (
                plan_spec.name,
                plan_spec.unit,
                plan_spec.max_amount,
            )
            assert dict(plan.prices) == dict(plan_spec.prices)
            assert dict(plan.amounts) == dict(plan_spec.amounts)


@PROPERTY
@given(spec=organizations())
def test_a_drawn_organization_is_stored_with_its_roles(spec: OrganizationSpec) -> None:
    market, staff_id = marketplace_for_specs()
    built = build_organization(market, staff_id, spec)
    assert market.get_organization(built.organization_id).name == spec.name
    projects = market.list_projects(built.organization_id)
    assert [project.name for project in projects] == list(spec.projects)
    assert all(project.auto_approve is spec.auto_approve for project in projects)
    assert [market.get_user(user_id).username for user_id in built.user_ids] == list(spec.usernames)
    scope_of = {
        "organization": lambda project: built.organization_id,
        "project": lambda project: built.project_ids[project],
        "offering": lambda project: built.offering_id,
    }
    expected = {
        (built.user_ids[grant.user], grant.role, scope_of[grant.role.scope_kind](grant.project))
        for grant in spec.grants
    }
    stored = {
        (grant.user_id, grant.role, grant.scope_id)
        for user_id in built.user_ids
        for grant in market.list_role_grants(user_id)
    }
    assert stored == expected


@PROPERTY
@given(spec=order_streams())
def test_a_drawn_order_stream_runs_along_the_lifecycles(spec: OrderStreamSpec) -> None:
    market, staff_id = marketplace_for_specs()
    world = build_ordering_world(market, staff_id)
    applied = apply_order_stream(market, world, spec)
    assert [order.state for order in applied.orders] == [step.expected for step in spec.steps]
    for step, order in zip(spec.steps, applied.orders, strict=True):
        if step.command is OrderCommand.CREATE:
            later = step.later_project
            assert order.project_id == (applied.later_project_id if later else world.project_id)
    for index, resource_id in enumerate(applied.resource_ids):
        resource = market.get_resource(resource_id)
        assert resource.state is spec.final_resource_states[index]
        if resource.state is ResourceState.OK:
            assert resource.plan_id == world.plan_ids[spec.final_plans[index]]
            assert resource.limits == {"storage": spec.final_limits[index]}


@PROPERTY
@given(spec=usage_streams())
def test_a_drawn_usage_stream_is_taken_once_per_key(spec: UsageStreamSpec) -> None:
    market, staff_id = marketplace_for_specs()
    world = build_ordering_world(market, staff_id)
    applied = apply_usage_stream(market, world, spec)
    first_report: dict[str, str] = {}
    for line, report_id in zip(spec.lines, applied.report_ids, strict=True):
        assert first_report.setdefault(line.idempotency_key, report_id) == report_id
    stored = {
        report.idempotency_key: report
        for resource_id in applied.resource_ids
        for component in ("cpu", "storage")
        for report in market.list_usage_reports(resource_id, component)
    }
    assert set(stored) == set(first_report)  # a repeated line stored nothing new
    for line in spec.lines:
        report = stored[line.idempotency_key]
        assert report.id == first_report[line.idempotency_key]
        assert report.resource_id == applied.resource_ids[line.resource]
        assert (report.component_type, report.amount) == (line.component_type, line.amount)
    created = month_of(SPEC_START)
    after = add_months(created, 1) if spec.next_month else created
    for line, month in zip(spec.lines, applied.months, strict=True):
        assert month == (created if line.earlier_month else after)
        assert stored[line.idempotency_key].month == month


@PROPERTY
@given(spec=policies())
def test_a_drawn_policy_is_stored_as_drawn(spec: PolicySpec) -> None:
    market, staff_id = marketplace_for_specs()
    world = build_ordering_world(market, staff_id)
    policy = create_spec_policy(market, world, spec)
    stored = market.get_policy(policy.id)
    assert (stored.scope_kind, stored.metric, stored.period) == (
        spec.scope_kind,
        spec.metric,
        spec.period,
    )
    assert stored.actions == spec.actions
    assert stored.limit == (spec.limit if spec.limit is not None else Decimal(0))
    assert dict(stored.component_limits) == dict(spec.component_limits)


# --------------------------------------------------------------------------- reach


def test_catalogues_reach_every_billing_type_plan_unit_and_visibility() -> None:
    specs = drawn(catalogues())
    offerings = [offering for spec in specs for offering in spec.offerings]
    components = [component for offering in offerings for component in offering.components]
    plans = [plan for offering in offerings for plan in offering.plans]
    assert {component.billing_type for component in components} == set(BillingType)
    assert {plan.unit for plan in plans} == set(PlanUnit)
    assert {offering.visibility for offering in offerings} == set(VisibilityKind)
    assert any(component.is_boolean for component in components)
    assert any(component.limit_amount is not None for component in components)
    assert any(component.max_available_limit is not None for component in components)
    assert all((component.max_value or 0) <= LIMIT_CEILING for component in components)
    prices = [price for plan in plans for _, price in plan.prices]
    assert all(Decimal(0) <= price < AMOUNT_LIMIT for price in prices)
    assert max(prices) > Decimal(10) ** 12  # large prices are drawn too, not only small ones


def test_organizations_reach_every_role() -> None:
    specs = drawn(organizations())
    assert reached(specs, lambda spec: (grant.role for grant in spec.grants)) == set(Role)


@functools.cache
def drawn_order_streams() -> list[OrderStreamSpec]:
    """The order streams the reach tests share (drawn once: they are many)."""
    return drawn(order_streams(), ORDER_REACH_EXAMPLES)


def after_last_seen(spec: OrderStreamSpec) -> Iterator[tuple[OrderState | None, OrderStep]]:
    """Each step with the state the last earlier step naming its resource expected of the
    resource's latest order (``None`` for a create). Only due jobs change a resource without
    naming it, so when a due-jobs step expects another state, that is their work."""
    seen: dict[int, OrderState] = {}
    for step in spec.steps:
        yield seen.get(step.resource), step
        seen[step.resource] = step.expected


FINISHED = {OrderState.DONE, OrderState.ERRED, OrderState.CANCELED, OrderState.REJECTED}


def test_order_streams_reach_every_command_and_outcome() -> None:
    specs = drawn_order_streams()
    commands = Counter(step.command for spec in specs for step in spec.steps)
    assert set(commands) == set(OrderCommand)
    assert min(commands.values()) >= 20  # retries and backend cancellations too, not by luck
    outcomes = Counter(step.expected for spec in specs for step in spec.steps)
    assert set(outcomes) == set(OrderState)
    assert outcomes[OrderState.PENDING_PROJECT] >= 50
    final = reached(specs, lambda spec: spec.final_resource_states)
    # A resource left terminating needs a full life in one stream: rare, so asked of the
    # steps instead (a termination approved by the provider is executing).
    assert final >= set(ResourceState) - {ResourceState.TERMINATING}
    assert any(
        earlier.command is OrderCommand.TERMINATION
        and later.command is OrderCommand.APPROVE_AS_PROVIDER
        and later.resource == earlier.resource
        for spec in specs
        for earlier, later in zip(spec.steps, spec.steps[1:], strict=False)
    )
    places = Counter(
        step.later_project
        for spec in specs
        for step in spec.steps
        if step.command is OrderCommand.CREATE
    )
    assert min(places[True], places[False]) >= 50  # the later project and the world's own


def test_order_streams_retry_only_what_erred() -> None:
    retried = Counter(
        before
        for spec in drawn_order_streams()
        for before, step in after_last_seen(spec)
        if step.command is OrderCommand.RETRY
    )
    assert set(retried) == {OrderState.ERRED}
    assert retried[OrderState.ERRED] >= 20


def test_order_streams_let_the_due_jobs_release_cancel_and_terminate() -> None:
    changes = Counter(
        (before, step.expected)
        for spec in drawn_order_streams()
        for before, step in after_last_seen(spec)
        if step.command is OrderCommand.RUN_DUE_JOBS and before is not step.expected
    )
    released = changes[OrderState.PENDING_PROJECT, OrderState.PENDING_PROVIDER]
    canceled = sum(
        count
        for (before, after), count in changes.items()
        if before not in FINISHED and after is OrderState.CANCELED
    )
    # A new executing order on a resource whose order had finished: a due termination.
    terminated = sum(
        count
        for (before, after), count in changes.items()
        if before in FINISHED and after is OrderState.EXECUTING
    )
    assert released >= 20
    assert canceled >= 5
    assert terminated >= 10
    noticed = sum(  # the provider's notice runs out too (its last day is a week ahead)
        1
        for spec in drawn_order_streams()
        for index, (before, step) in enumerate(after_last_seen(spec))
        if step.command is OrderCommand.RUN_DUE_JOBS
        and before in FINISHED
        and step.expected is OrderState.EXECUTING
        and any(
            earlier.command is OrderCommand.SCHEDULE_TERMINATION
            and earlier.resource == step.resource
            for earlier in spec.steps[:index]
        )
    )
    assert noticed >= 1


def test_usage_streams_repeat_lines_and_batch_them() -> None:
    specs = drawn(usage_streams())
    repeats = Counter(
        any(count > 1 for count in Counter(line.idempotency_key for line in spec.lines).values())
        for spec in specs
    )
    assert repeats[True] > 0
    assert repeats[False] > 0
    assert any(len(batch) > 1 for spec in specs for batch in spec.batches)
    assert reached(specs, lambda spec: (line.component_type for line in spec.lines)) == {
        "cpu",
        "storage",
    }
    months = Counter(line.earlier_month for spec in specs for line in spec.lines)
    assert months[True] >= 20  # reports for the month before, still open
    assert months[False] >= 20
    assert all(spec.next_month for spec in specs if any(line.earlier_month for line in spec.lines))


def test_policies_reach_every_metric_period_and_action() -> None:
    specs = drawn(policies())
    assert {spec.metric for spec in specs} == set(PolicyMetric)
    assert {spec.period for spec in specs} == set(PolicyPeriod)
    actions = [action for spec in specs for action in spec.actions]
    assert {action.kind for action in actions} == set(ActionKind)
    assert {action.type for action in actions} == set(ActionType)
