"""Property tests of policies, through the facade on the test world's fixed clock.

(a) Threshold actions run exactly at the first crossing of each period, never twice in one,
    and immediate actions follow every crossing over and back; checked against a model this
    file keeps from the reported CPU totals alone (the cost of a month is its fixed items plus
    the CPU hours × 0.05 rounded up to the cent).
(b) The running monthly totals of every scope with a policy equal sums recomputed from the
    stored invoice items and usage reports, per scope and month, after any sequence of
    orders, usage reports (late ones too), limit changes, terminations, credits, billing
    runs, canceled invoices, and policies added and removed; scopes that never had a policy
    keep none.
(c) While a block_creation action is in force every create order of its scope is refused,
    and none is once it is lifted.
(d) A dry run changes nothing and tells what the same policy, created before the history,
    actually did (over histories where each command moves the cost one way: see the xfail
    tests at the end of test_policies.py for those where it does not).
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from marketplace_core import (
    ActionKind,
    ActionType,
    ErrorCode,
    InvoiceState,
    MarketplaceError,
    OrderType,
    PolicyAction,
    PolicyMetric,
    PolicyPeriod,
    PolicyViolationError,
    Resource,
)
from marketplace_core.events import PolicyActionReset, PolicyActionRun
from marketplace_core.roles import ScopeKind
from tests.support import START, World, build_world, snapshot

KEYS = itertools.count()

JANUARY_FIXED = Fraction("105.55")  # base 55.00 + storage 0.55 + set-up 50.00 from 15 Jan
WHOLE_MONTH_FIXED = Fraction("101.00")  # base 100.00 + storage 10 GB × 0.10
CPU_PRICE = Fraction(5, 100)
LIMIT = Fraction(200)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def first_instant(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def up_to_the_cent(amount: Fraction) -> Fraction:
    return Fraction(math.ceil(amount * 100), 100)


def month_cost(month_index: int, cpu: Fraction) -> Fraction:
    """The cost of world.live_basic() in the month, once something opened it."""
    fixed = JANUARY_FIXED if month_index == 0 else WHOLE_MONTH_FIXED
    return fixed + up_to_the_cent(cpu * CPU_PRICE)


# CPU hours that put the month's cost exactly on, just under or just over a threshold of a
# 200 limit: January 105.55 + 1889 × 0.05 = 200.00 (100 %); 3089 h: 260.00 (130 %); February
# 101.00 + 1980 × 0.05 = 200.00; 3180 h: 260.00. 1888.9 h cost 94.445, rounded up to 94.45:
# exactly 200.00 again.
EDGES = [0, 1888, 1889, 1890, "1888.9", "1888.81", 3088, 3089, 3090, 1979, 1980, 1981, 3180, 3181]
cpu_hours = st.one_of(
    st.integers(0, 5000),
    st.sampled_from(EDGES).map(lambda hours: Decimal(str(hours))),
    st.decimals(0, 5000, places=2),
)


def report_cpu(world: World, resource_id: str, amount: Any, month: date | None = None) -> None:
    world.marketplace.report_usage(
        world.provider_owner.id,
        resource_id,
        "cpu",
        amount,
        idempotency_key=f"cpu-{next(KEYS)}",
        month=month,
    )


# --------------------------------------------------------------------------- the model


@attrs.define
class ModelPolicy:
    """What a policy should do, worked out from the rules in the docs (not the library)."""

    actions: list[tuple[str, ActionType, Fraction]]
    limit: Fraction
    fired: set[int] = attrs.Factory(set)
    over: bool = False
    steps: list[tuple[datetime, str, str]] = attrs.Factory(list)

    def new_period(self, at: datetime) -> None:
        for index, (label, kind, _) in enumerate(self.actions):
            if index in self.fired or (kind is ActionType.IMMEDIATE and self.over):
                self.steps.append((at, label, "reset"))
        self.fired, self.over = set(), False

    def see(self, cost: Fraction, at: datetime) -> None:
        share = cost * 100 / self.limit
        now_over = share > 100
        for index, (label, kind, percent) in enumerate(self.actions):
            if kind is ActionType.THRESHOLD and index not in self.fired and share > percent:
                self.fired.add(index)
                self.steps.append((at, label, "run"))
        immediate = [label for label, kind, _ in self.actions if kind is ActionType.IMMEDIATE]
        if now_over and not self.over:
            self.steps += [(at, label, "run") for label in immediate]
        if self.over and not now_over:
            self.steps += [(at, label, "reset") for label in immediate]
        self.over = now_over

    def in_force(self, index: int) -> bool:
        kind = self.actions[index][1]
        return index in self.fired if kind is ActionType.THRESHOLD else self.over


def policy_steps(world: World, policy_id: str) -> list[tuple[datetime, str, str]]:
    """What the policy did, from the events, in commit order."""
    steps = []
    for recorded in world.events.events:
        event = recorded.event
        if isinstance(event, PolicyActionRun) and event.policy_id == policy_id:
            steps.append((event.occurred_at, event.action, "run"))
        elif isinstance(event, PolicyActionReset) and event.policy_id == policy_id:
            steps.append((event.occurred_at, event.action, "reset"))
    return steps


# --------------------------------------------------------------------------- (a) thresholds

ACTIONS = (
    PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS, percent=Decimal(50)),
    PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS, percent=Decimal(100)),
    PolicyAction(ActionKind.NOTIFY_PROJECT_MEMBERS, percent=Decimal(130)),
    PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS, ActionType.IMMEDIATE),
)
MODEL_ACTIONS = [
    ("notify_organization_owners@50%", ActionType.THRESHOLD, Fraction(50)),
    ("notify_organization_owners@100%", ActionType.THRESHOLD, Fraction(100)),
    ("notify_project_members@130%", ActionType.THRESHOLD, Fraction(130)),
    ("notify_organization_owners", ActionType.IMMEDIATE, Fraction(100)),
]


@settings(max_examples=150)
@given(months=st.lists(st.lists(cpu_hours, max_size=7), min_size=1, max_size=3))
@example(months=[[Decimal(1889)], [Decimal(1980), Decimal(1981), Decimal(0), Decimal(1981)]])
def test_threshold_actions_run_once_per_period_at_the_first_crossing(
    months: list[list[Decimal | int]],
):
    world = build_world()
    market = world.marketplace
    policy = market.create_policy(
        world.owner.id,
        ScopeKind.PROJECT,
        world.project.id,
        PolicyMetric.ESTIMATED_COST,
        PolicyPeriod.MONTH,
        ACTIONS,
        limit=str(LIMIT),
    )
    model = ModelPolicy(MODEL_ACTIONS, LIMIT)
    model.see(Fraction(0), START)  # the creation's evaluation
    resource = world.live_basic()
    model.see(JANUARY_FIXED, START)  # the activation: 52.775 %

    month = date(2026, 1, 1)
    for index, reports in enumerate(months):
        start = START
        if index:
            month = next_month(month)
            start = first_instant(month)
            world.clock.set(start)
            market.run_due_jobs()  # the only trigger at the boundary
            model.new_period(start)
        for hour, amount in enumerate(reports, start=1):
            at = start + timedelta(hours=hour)
            world.clock.set(at)
            report_cpu(world, resource.id, amount)
            model.see(month_cost(index, Fraction(amount)), at)

    live = policy_steps(world, policy.id)
    assert live == model.steps
    # Said directly too: no threshold action (labelled "kind@percent%") runs twice in a month.
    runs = [(at.month, label) for at, label, what in live if what == "run" and "@" in label]
    assert len(runs) == len(set(runs))


# --------------------------------------------------------------------------- (c) blocks

Step = tuple[Any, ...]
block_steps = st.lists(
    st.one_of(
        st.tuples(st.just("report"), cpu_hours),
        st.just(("order",)),
        st.just(("order elsewhere",)),
        st.just(("next month",)),
    ),
    max_size=18,
)


@settings(max_examples=150)
@given(percent=st.sampled_from([50, 100, 130]), steps=block_steps)
@example(
    percent=100,
    steps=[
        ("report", Decimal(1890)),
        ("order",),
        ("next month",),
        ("order",),
        ("report", 0),
        ("order",),
    ],
)
def test_a_block_in_force_refuses_every_create_order_of_its_scope(percent: int, steps: list[Step]):
    world = build_world()
    market = world.marketplace
    elsewhere = market.create_project(world.staff.id, world.consumer.id, "Other").id
    resource = world.live_basic()  # 105.55 before either policy exists
    block = PolicyAction(ActionKind.BLOCK_CREATION, percent=Decimal(percent))
    market.create_policy(
        world.owner.id,
        ScopeKind.PROJECT,
        world.project.id,
        PolicyMetric.ESTIMATED_COST,
        PolicyPeriod.MONTH,
        (block,),
        limit="200",
    )
    # The organization's policy blocks creation in all its projects while over 240.
    market.create_policy(
        world.staff.id,
        ScopeKind.ORGANIZATION,
        world.consumer.id,
        PolicyMetric.ESTIMATED_COST,
        PolicyPeriod.MONTH,
        (PolicyAction(ActionKind.BLOCK_CREATION, ActionType.IMMEDIATE),),
        limit="240",
    )
    project = ModelPolicy([("block", ActionType.THRESHOLD, Fraction(percent))], Fraction(200))
    organization = ModelPolicy([("block", ActionType.IMMEDIATE, Fraction(100))], Fraction(240))
    for model in (project, organization):
        model.see(JANUARY_FIXED, START)

    month_index, month = 0, date(2026, 1, 1)
    for step in steps:
        world.clock.advance(timedelta(minutes=10))
        match step:
            case ("report", amount):
                report_cpu(world, resource.id, amount)
                for model in (project, organization):
                    model.see(month_cost(month_index, Fraction(amount)), world.clock.now())
            case ("next month",) if month_index < 2:
                month_index, month = month_index + 1, next_month(month)
                world.clock.set(first_instant(month))
                market.run_due_jobs()
                for model in (project, organization):
                    model.new_period(world.clock.now())
            case ("order",) | ("order elsewhere",):
                in_project = step == ("order",)
                blocked = organization.in_force(0) or (in_project and project.in_force(0))
                arguments = {} if in_project else {"project_id": elsewhere}
                if blocked:
                    with pytest.raises(PolicyViolationError) as refused:
                        world.order(**arguments)
                    assert refused.value.code is ErrorCode.POLICY_BLOCKS_CREATION
                else:
                    assert world.order(**arguments).type is OrderType.CREATE


# --------------------------------------------------------------------------- (b) running totals


@attrs.define
class Driver:
    """Applies random steps to a world; the steps the rules refuse are skipped (a refused
    command writes nothing, see tests/test_commands_are_atomic.py)."""

    world: World
    projects: list[str]
    resources: list[str] = attrs.Factory(list)
    watched: dict[tuple[ScopeKind, str], str] = attrs.Factory(dict)
    """The scopes with a policy, and the policy."""
    ever_watched: set[tuple[ScopeKind, str]] = attrs.Factory(set)
    months: int = 1
    stay_in_month: bool = False
    """Move to a new month only by a billing run (which opens every live resource's month)."""

    def resource(self, index: int) -> Resource | None:
        if not self.resources:
            return None
        return self.world.marketplace.get_resource(self.resources[index % len(self.resources)])

    def is_basic(self, resource: Resource) -> bool:
        return resource.offering_id == self.world.offering.id

    def candidates(self) -> list[tuple[ScopeKind, str]]:
        market = self.world.marketplace
        offerings = {market.get_resource(r).offering_id for r in self.resources}
        return [(ScopeKind.PROJECT, p) for p in self.projects] + [
            (ScopeKind.OFFERING, o) for o in sorted(offerings | {self.world.offering.id})
        ]

    def watch(self, scope: tuple[ScopeKind, str]) -> None:
        world = self.world
        actor = {
            ScopeKind.PROJECT: world.owner,
            ScopeKind.ORGANIZATION: world.staff,
            ScopeKind.OFFERING: world.provider_owner,
        }[scope[0]]
        policy = world.marketplace.create_policy(
            actor.id,
            *scope,
            PolicyMetric.ESTIMATED_COST,
            PolicyPeriod.MONTH,
            (PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS),),
            limit="100000",
        )
        self.watched[scope] = policy.id
        self.ever_watched.add(scope)

    def apply(self, step: Step) -> None:
        world, market = self.world, self.world.marketplace
        provider = world.provider_owner.id
        match step:
            case ("basic", project):
                order = world.order(project_id=self.projects[project])
                market.approve_order_as_provider(provider, order.id)
                market.resource_creation_succeeded(provider, order.resource_id)
                self.resources.append(order.resource_id)
            case ("vm",):
                self.resources.append(world.live_vm().id)
            case ("usage", index, which, amount, late):
                resource = self.resource(index)
                if resource is None:
                    return
                component = ("cpu", "storage" if self.is_basic(resource) else "ram")[which]
                now = world.clock.now()
                month = date(now.year, now.month, 1)
                if late:  # a late report for the month before
                    month = date(now.year - (now.month == 1), (now.month - 2) % 12 + 1, 1)
                market.report_usage(
                    provider,
                    resource.id,
                    component,
                    amount,
                    idempotency_key=f"u-{next(KEYS)}",
                    month=month,
                )
            case ("limits", index, size):
                resource = self.resource(index)
                if resource is None:
                    return
                if self.is_basic(resource):
                    order = market.order_limit_change(
                        world.owner.id, resource.id, {"storage": size}
                    )
                    market.approve_order_as_provider(provider, order.id)
                    market.resource_update_succeeded(provider, resource.id)
                else:
                    market.order_limit_change(world.owner.id, resource.id, {"ram": size * 512})
            case ("terminate", index):
                resource = self.resource(index)
                if resource is None:
                    return
                order = market.order_termination(world.owner.id, resource.id)
                if self.is_basic(resource):
                    market.approve_order_as_provider(provider, order.id)
                    market.resource_deletion_succeeded(provider, resource.id)
            case ("days", days):
                later = world.clock.now() + timedelta(days=days)
                if not self.stay_in_month or later.month == world.clock.now().month:
                    world.clock.set(later)
            case ("credit", amount):
                market.set_credit(world.staff.id, world.consumer.id, amount)
            case ("cancel", index):
                issued = [
                    invoice
                    for invoice in market.list_invoices(world.consumer.id)
                    if invoice.state is InvoiceState.CREATED
                ]
                if issued:
                    market.cancel_invoice(world.staff.id, issued[index % len(issued)].id)
            case ("billing",) if self.months < 4:
                now = world.clock.now()
                world.clock.set(first_instant(next_month(date(now.year, now.month, 1))))
                self.months += 1
                market.run_billing()
            case ("watch", index):
                unwatched = [s for s in self.candidates() if s not in self.watched]
                if unwatched:
                    self.watch(unwatched[index % len(unwatched)])
            case ("unwatch", index) if self.watched:
                scopes = sorted(self.watched)
                scope = scopes[index % len(scopes)]
                actor = world.staff if scope[0] is ScopeKind.ORGANIZATION else world.owner
                if scope[0] is ScopeKind.OFFERING:
                    actor = world.provider_owner
                market.delete_policy(actor.id, self.watched.pop(scope))
            case _:
                pass

    def try_apply(self, step: Step) -> None:
        with contextlib.suppress(MarketplaceError):
            self.apply(step)


Totals = dict[tuple[ScopeKind, str, date], tuple[Decimal, dict[str, Decimal]]]


def recomputed_totals(world: World) -> Totals:
    """Every scope's cost and usage per month, summed from the stored items and reports."""
    market = world.marketplace
    cost: dict[tuple[ScopeKind, str, date], Decimal] = defaultdict(Decimal)
    usage: dict[tuple[ScopeKind, str, date], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    by_invoice, canceled = [], set()
    for invoice in market.list_invoices(world.consumer.id):
        by_invoice += market.list_invoice_items(invoice.id)
        if invoice.state is InvoiceState.CANCELED:
            canceled.add(invoice.id)
    by_resource = []
    for project in market.list_projects(world.consumer.id):
        for resource in market.list_resources(project.id):
            by_resource += market.list_resource_items(resource.id)
            scopes = (
                (ScopeKind.PROJECT, resource.project_id),
                (ScopeKind.ORGANIZATION, project.organization_id),
                (ScopeKind.OFFERING, resource.offering_id),
            )
            for component in market.get_offering(resource.offering_id).components:
                latest: dict[date, Decimal] = {}
                for report in market.list_usage_reports(resource.id, component.type):
                    latest[report.month] = report.amount  # oldest first: the last one stands
                for month, amount in latest.items():
                    for kind, scope_id in scopes:
                        usage[(kind, scope_id, month)][component.type] += amount
    # Both listings hold the same items (credit lines of issued invoices included).
    assert sorted(i.id for i in by_invoice) == sorted(i.id for i in by_resource)
    for item in by_invoice:
        if item.invoice_id in canceled:
            continue  # a canceled invoice's items stop counting (docs/policies.md)
        for kind, scope_id in (
            (ScopeKind.PROJECT, item.project_id),
            (ScopeKind.ORGANIZATION, item.organization_id),
            (ScopeKind.OFFERING, item.offering_id),
        ):
            cost[(kind, scope_id, item.month)] += item.price
    return {
        key: (cost.get(key, Decimal(0)), {c: a for c, a in usage[key].items() if a})
        for key in set(cost) | set(usage)
        if cost.get(key) or any(usage[key].values())
    }


def stored_totals(world: World) -> Totals:
    with world.storage.unit_of_work() as uow:
        totals = tuple(uow.monthly_totals.all())
    return {
        (t.scope_kind, t.scope_id, t.month): (t.cost, {c: a for c, a in t.usage.items() if a})
        for t in totals
        if t.cost or any(t.usage.values())
    }


def check_totals(driver: Driver) -> None:
    stored, expected = stored_totals(driver.world), recomputed_totals(driver.world)

    def of_watched(totals: Totals) -> Totals:
        return {key: value for key, value in totals.items() if key[:2] in driver.watched}

    assert of_watched(stored) == of_watched(expected)
    # Scopes that never had a policy keep no totals.
    assert {key[:2] for key in stored} <= driver.ever_watched


totals_steps = st.lists(
    st.one_of(
        st.tuples(st.just("basic"), st.integers(0, 1)),
        st.just(("vm",)),
        st.tuples(
            st.just("usage"),
            st.integers(0, 7),
            st.integers(0, 1),
            st.one_of(st.integers(0, 500), st.decimals(0, 500, places=3)),
            st.booleans(),
        ),
        st.tuples(st.just("limits"), st.integers(0, 7), st.integers(1, 40)),
        st.tuples(st.just("terminate"), st.integers(0, 7)),
        st.tuples(st.just("days"), st.integers(1, 20)),
        st.tuples(st.just("credit"), st.integers(0, 300)),
        st.just(("billing",)),
        st.tuples(st.just("cancel"), st.integers(0, 3)),
        st.tuples(st.just("watch"), st.integers(0, 5)),
        st.tuples(st.just("unwatch"), st.integers(0, 5)),
    ),
    min_size=3,
    max_size=20,
)


@settings(max_examples=150)
@given(steps=totals_steps)
@example(
    steps=[
        ("basic", 0),
        ("basic", 1),
        ("usage", 0, 0, 120, False),
        ("credit", 50),
        ("billing",),
        ("usage", 0, 0, 30, True),
        ("cancel", 0),  # January's invoice, with its credit line
        ("watch", 0),  # the other project, with a history already
        ("limits", 0, 20),
        ("unwatch", 0),
        ("usage", 1, 0, 7, False),
        ("watch", 0),
        ("terminate", 0),
    ]
)
def test_the_running_totals_are_the_sums_of_the_stored_items_and_reports(steps: list[Step]):
    world = build_world()
    other = world.marketplace.create_project(world.staff.id, world.consumer.id, "Other").id
    driver = Driver(world, [world.project.id, other])
    driver.watch((ScopeKind.PROJECT, world.project.id))
    driver.watch((ScopeKind.ORGANIZATION, world.consumer.id))
    driver.apply(("basic", 0))
    check_totals(driver)
    for step in steps:
        driver.try_apply(step)
        check_totals(driver)


# --------------------------------------------------------------------------- (d) dry runs

DRY_ACTIONS = (
    PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS, percent=Decimal(50)),
    PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS, percent=Decimal(100)),
    PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS, ActionType.IMMEDIATE),
)
DRY_POLICIES = [(PolicyPeriod.MONTH, "200"), (PolicyPeriod.QUARTER, "450")]

# Limit changes (a command that closes one item and opens another) and terminations that
# are the first touch of a month (opening the month's items and closing them at once) are in:
# the dry run evaluates once per instant, as the live policy does once per command, so it
# must not see the states in between.
dry_steps = st.lists(
    st.one_of(
        st.tuples(st.just("basic"), st.just(0)),
        st.tuples(st.just("usage"), st.integers(0, 3), st.just(0), cpu_hours, st.just(False)),
        st.tuples(st.just("limits"), st.integers(0, 3), st.integers(1, 40)),
        st.tuples(st.just("terminate"), st.integers(0, 3)),
        st.tuples(st.just("days"), st.integers(1, 12)),
        st.just(("billing",)),
    ),
    min_size=2,
    max_size=16,
)


def live_steps(
    world: World, policy_id: str, first: datetime, end: datetime
) -> list[tuple[datetime, str, str]]:
    """What the policy did in ``[first, end)``, without the resets of an earlier period."""
    return [
        (at, action, what)
        for at, action, what, reason in policy_history(world, policy_id)
        if first <= at < end and reason != "period ended"
    ]


def policy_history(world: World, policy_id: str) -> list[tuple[datetime, str, str, str]]:
    history = []
    for recorded in world.events.events:
        event = recorded.event
        if isinstance(event, PolicyActionRun) and event.policy_id == policy_id:
            history.append((event.occurred_at, event.action, "run", ""))
        elif isinstance(event, PolicyActionReset) and event.policy_id == policy_id:
            history.append((event.occurred_at, event.action, "reset", event.reason))
    return history


def window_of(period: PolicyPeriod, month: date) -> tuple[datetime, datetime]:
    length = 1 if period is PolicyPeriod.MONTH else 3
    first = date(month.year, (month.month - 1) // length * length + 1, 1)
    end = first
    for _ in range(length):
        end = next_month(end)
    return first_instant(first), first_instant(end)


@settings(max_examples=150)
@given(steps=dry_steps)
@example(
    steps=[
        ("usage", 0, 0, Decimal(2000), False),  # 205.55: over 200
        ("usage", 0, 0, Decimal(0), False),  # back to 105.55
        ("billing",),  # February: 101.00
        ("usage", 0, 0, Decimal(2000), False),  # 201.00
        ("terminate", 0),
    ]
)
def test_a_dry_run_tells_what_the_policy_did_and_changes_nothing(steps: list[Step]):
    world = build_world()
    market = world.marketplace
    policies = {}
    for period, limit in DRY_POLICIES:
        policies[period] = market.create_policy(
            world.owner.id,
            ScopeKind.PROJECT,
            world.project.id,
            PolicyMetric.ESTIMATED_COST,
            period,
            DRY_ACTIONS,
            limit=limit,
        )
    driver = Driver(world, [world.project.id], stay_in_month=True)
    driver.try_apply(("basic", 0))
    for step in steps:
        world.clock.advance(timedelta(minutes=7))
        driver.try_apply(step)

    now = world.clock.now()
    before = snapshot(world.storage)
    month = date(2026, 1, 1)
    while month <= date(now.year, now.month, 1):
        for period, limit in DRY_POLICIES:
            dry = market.dry_run_policy(
                ScopeKind.PROJECT,
                world.project.id,
                PolicyMetric.ESTIMATED_COST,
                period,
                DRY_ACTIONS,
                month,
                limit=limit,
            )
            first, end = window_of(period, month)
            assert [(s.at, s.action, s.what) for s in dry] == live_steps(
                world, policies[period].id, first, end
            ), (period, month)
        month = next_month(month)
    assert snapshot(world.storage) == before
