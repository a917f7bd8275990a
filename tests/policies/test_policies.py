"""Policies end to end, through the Marketplace facade on the test world's fixed clock.

Numbers used throughout (see tests/support.py and docs/billing.md): ``world.live_basic()``
activated on 15 January 2026 costs 105.55 in January (base 17/31 → 0.55 × 100 = 55.00, storage
10 GB × 0.55 × 0.10 = 0.55, set-up 50.00); a month it runs whole costs 101.00 (base 100.00 +
storage 1.00); CPU hours cost 0.05 each. ``world.live_vm()`` activated the same day costs 5.17
(ram 1 unit × 17 days × 0.01 = 0.17, set-up 5.00).
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from marketplace_core import (
    ActionKind,
    ActionType,
    ErrorCode,
    OrderState,
    OrderType,
    PermissionDeniedError,
    Policy,
    PolicyAction,
    PolicyMetric,
    PolicyPeriod,
    PolicyViolationError,
    Resource,
    ResourceState,
    Role,
    User,
    ValidationError,
)
from marketplace_core.events import (
    PolicyActionReset,
    PolicyActionRun,
    PolicyCreated,
    PolicyDeleted,
    PolicyLimitsChanged,
)
from marketplace_core.plugins import PolicyActionCall
from marketplace_core.roles import ScopeKind
from tests.support import START, World, snapshot

FEB_1 = datetime(2026, 2, 1, tzinfo=UTC)
MAR_15 = datetime(2026, 3, 15, 12, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)

KEYS = itertools.count()
FLAG_OF = {
    ActionKind.BLOCK_HPC_JOBS: "jobs_blocked",
    ActionKind.REQUEST_DOWNSCALING: "downscaling_requested",
    ActionKind.REQUEST_PAUSING: "pausing_requested",
}


# --------------------------------------------------------------------------- helpers


def runs(world: World, policy_id: str) -> list[PolicyActionRun]:
    return [
        e.event
        for e in world.events.events
        if isinstance(e.event, PolicyActionRun) and e.event.policy_id == policy_id
    ]


def resets(world: World, policy_id: str) -> list[PolicyActionReset]:
    return [
        e.event
        for e in world.events.events
        if isinstance(e.event, PolicyActionReset) and e.event.policy_id == policy_id
    ]


def labels(events: list[Any]) -> list[str]:
    return [event.action for event in events]


def policy_notices(world: World) -> list[Any]:
    return [n for n in world.notifications.sent if n.topic == "policy.threshold_reached"]


def report_cpu(world: World, resource: Resource, amount: int | str) -> None:
    """The provider reports the month-to-date CPU hours of ``resource`` for the current
    month."""
    world.marketplace.report_usage(
        world.provider_owner.id, resource.id, "cpu", amount, idempotency_key=f"cpu-{next(KEYS)}"
    )


def cost_policy(
    world: World,
    *actions: PolicyAction,
    limit: str,
    scope: tuple[ScopeKind, str] | None = None,
    actor: User | None = None,
    period: PolicyPeriod = PolicyPeriod.MONTH,
) -> Policy:
    kind, scope_id = scope or (ScopeKind.PROJECT, world.project.id)
    return world.marketplace.create_policy(
        (actor or world.owner).id, kind, scope_id, PolicyMetric.ESTIMATED_COST, period, actions,
        limit=limit,
    )  # fmt: skip


def other_project(world: World) -> str:
    return world.marketplace.create_project(world.staff.id, world.consumer.id, "Other").id


def live_basic_in(world: World, project_id: str) -> Resource:
    order = world.order(project_id=project_id)
    world.marketplace.approve_order_as_provider(world.provider_owner.id, order.id)
    world.marketplace.resource_creation_succeeded(world.provider_owner.id, order.resource_id)
    return world.marketplace.get_resource(order.resource_id)


def terminated_vm(world: World) -> Resource:
    vm = world.live_vm()
    world.marketplace.order_termination(world.owner.id, vm.id)  # the cloud finishes at once
    resource = world.marketplace.get_resource(vm.id)
    assert resource.state is ResourceState.TERMINATED
    return resource


def new_period(world: World, moment: datetime = FEB_1) -> tuple[str, ...]:
    """Move the clock to ``moment`` and run the due jobs; returns the changed policies."""
    world.clock.set(moment)
    return world.marketplace.run_due_jobs().policies


def refused_creation(world: World, **order: Any) -> PolicyViolationError:
    before = snapshot(world.storage)
    with pytest.raises(PolicyViolationError) as refused:
        world.order(**order)
    assert snapshot(world.storage) == before
    assert refused.value.code is ErrorCode.POLICY_BLOCKS_CREATION
    return refused.value


BLOCK_CREATION = PolicyAction(ActionKind.BLOCK_CREATION)
BLOCK_MODIFICATION = PolicyAction(ActionKind.BLOCK_MODIFICATION)


# --------------------------------------------------------------------------- notifications


def test_notify_project_members_reaches_every_role_holder_of_the_project(world: World):
    policy = cost_policy(
        world,
        PolicyAction(ActionKind.NOTIFY_PROJECT_MEMBERS, percent=Decimal(50)),
        limit="200",
    )
    assert policy_notices(world) == []
    world.live_basic()  # 105.55 of 200 = 52.775 %, over 50 %
    [notice] = policy_notices(world)
    # The project's manager, admin and member; not the organization's owner.
    members = (world.project_manager.id, world.project_admin.id, world.project_member.id)
    assert notice.recipient_ids == tuple(sorted(members))
    assert notice.context["policy_id"] == policy.id
    assert notice.context["action"] == "notify_project_members@50%"
    assert Decimal(notice.context["share"]) == Decimal("52.775")
    [run] = runs(world, policy.id)
    assert (run.action, run.share, run.error, run.occurred_at) == (
        "notify_project_members@50%",
        Decimal("52.775"),
        "",
        START,
    )
    # More cost in January: 100 CPU hours, 5.00 more. No second notice in the period.
    report_cpu(world, world.marketplace.list_resources(world.project.id)[0], 100)
    assert len(policy_notices(world)) == 1
    # February: the due jobs reset it; the first February report opens February's items,
    # 101.00 + 20 × 0.05 = 102.00, 51 % of 200: notified again.
    new_period(world)
    assert [(r.action, r.reason) for r in resets(world, policy.id)] == [
        ("notify_project_members@50%", "period ended")
    ]
    report_cpu(world, world.marketplace.list_resources(world.project.id)[0], 20)
    assert len(policy_notices(world)) == 2
    assert runs(world, policy.id)[-1].share == Decimal(51)


@pytest.mark.parametrize(
    "scope_kind", [ScopeKind.PROJECT, ScopeKind.ORGANIZATION, ScopeKind.OFFERING]
)
def test_notify_organization_owners_reaches_the_owners_only(world: World, scope_kind: ScopeKind):
    market = world.marketplace
    second_owner = market.create_user(world.staff.id, "bob")
    market.grant_role(world.staff.id, second_owner.id, Role.ORGANIZATION_OWNER, world.consumer.id)
    manager = market.create_user(world.staff.id, "carl")
    market.grant_role(world.staff.id, manager.id, Role.ORGANIZATION_MANAGER, world.consumer.id)
    scope, actor, recipients = {
        ScopeKind.PROJECT: (world.project.id, world.owner, {world.owner.id, second_owner.id}),
        ScopeKind.ORGANIZATION: (world.consumer.id, world.staff, {world.owner.id, second_owner.id}),
        # An offering's policy tells its provider's owners.
        ScopeKind.OFFERING: (world.offering.id, world.provider_owner, {world.provider_owner.id}),
    }[scope_kind]
    policy = cost_policy(
        world,
        PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS),
        limit="100",
        scope=(scope_kind, scope),
        actor=actor,
    )
    world.live_basic()  # 105.55 % of 100
    [notice] = policy_notices(world)
    assert set(notice.recipient_ids) == recipients
    assert notice.context["action"] == "notify_organization_owners@100%"
    assert labels(runs(world, policy.id)) == ["notify_organization_owners@100%"]


# --------------------------------------------------------------------------- block_creation


@pytest.mark.parametrize(
    "scope_kind", [ScopeKind.PROJECT, ScopeKind.ORGANIZATION, ScopeKind.OFFERING]
)
def test_block_creation_refuses_create_orders_and_allows_the_rest(
    world: World, scope_kind: ScopeKind
):
    market = world.marketplace
    first, second = world.live_basic(), world.live_basic()  # 211.10
    scope, actor = {
        ScopeKind.PROJECT: (world.project.id, world.owner),
        ScopeKind.ORGANIZATION: (world.consumer.id, world.staff),
        ScopeKind.OFFERING: (world.offering.id, world.provider_owner),
    }[scope_kind]
    # Created over its limit: the creation's evaluation runs the block at once.
    policy = cost_policy(world, BLOCK_CREATION, limit="100", scope=(scope_kind, scope), actor=actor)
    assert policy.fired == frozenset({0})
    refused = refused_creation(world)
    assert refused.fields == {
        "policy_id": policy.id,
        "scope_kind": scope_kind.value,
        "scope_id": scope,
    }
    # Changes and terminations of the scope's resources are not blocked.
    update = market.order_limit_change(world.owner.id, first.id, {"storage": 20})
    assert (update.type, update.state) == (OrderType.UPDATE, OrderState.PENDING_PROVIDER)
    termination = market.order_termination(world.owner.id, second.id)
    assert termination.type is OrderType.TERMINATE
    # Outside the scope creation goes on.
    if scope_kind is ScopeKind.PROJECT:
        assert world.order(project_id=other_project(world)).type is OrderType.CREATE
    elif scope_kind is ScopeKind.OFFERING:
        assert world.live_vm().state is ResourceState.OK  # another offering
    else:  # the organization's other projects are blocked too
        refused_creation(world, project_id=other_project(world))


def test_block_creation_is_lifted_by_the_next_period(world: World):
    world.live_basic()
    policy = cost_policy(world, BLOCK_CREATION, limit="100")
    refused_creation(world)
    assert new_period(world) == (policy.id,)
    assert [(r.action, r.reason, r.occurred_at) for r in resets(world, policy.id)] == [
        ("block_creation@100%", "period ended", FEB_1)
    ]
    assert world.order().type is OrderType.CREATE


# --------------------------------------------------------------------------- block_modification


@pytest.mark.parametrize(
    "scope_kind", [ScopeKind.PROJECT, ScopeKind.ORGANIZATION, ScopeKind.OFFERING]
)
def test_block_modification_refuses_updates_only(world: World, scope_kind: ScopeKind):
    market = world.marketplace
    resource = world.live_basic()
    premium = market.create_plan(
        world.provider_owner.id, world.offering.id, "Premium", "month", prices={"base": 200}
    )
    scope, actor = {
        ScopeKind.PROJECT: (world.project.id, world.owner),
        ScopeKind.ORGANIZATION: (world.consumer.id, world.staff),
        ScopeKind.OFFERING: (world.offering.id, world.provider_owner),
    }[scope_kind]
    # 105.55 % of 100: fires at once.
    cost_policy(world, BLOCK_MODIFICATION, limit="100", scope=(scope_kind, scope), actor=actor)
    before = snapshot(world.storage)
    with pytest.raises(PolicyViolationError) as limits_refused:
        market.order_limit_change(world.owner.id, resource.id, {"storage": 20})
    with pytest.raises(PolicyViolationError) as plan_refused:
        market.order_plan_switch(world.owner.id, resource.id, premium.id)
    assert snapshot(world.storage) == before
    assert limits_refused.value.code is ErrorCode.POLICY_BLOCKS_MODIFICATION
    assert plan_refused.value.code is ErrorCode.POLICY_BLOCKS_MODIFICATION
    # New resources and terminations are not modifications.
    assert world.order().type is OrderType.CREATE
    assert market.order_termination(world.owner.id, resource.id).type is OrderType.TERMINATE


def test_an_immediate_block_modification_lifts_when_the_cost_drops_back(world: World):
    market = world.marketplace
    resource = world.live_basic()  # 105.55 of 110: 95.95 %
    policy = cost_policy(
        world, PolicyAction(ActionKind.BLOCK_MODIFICATION, ActionType.IMMEDIATE), limit="110"
    )
    assert runs(world, policy.id) == []
    report_cpu(world, resource, 200)  # + 10.00 = 115.55, 105.04… %
    assert labels(runs(world, policy.id)) == ["block_modification"]
    with pytest.raises(PolicyViolationError):
        market.order_limit_change(world.owner.id, resource.id, {"storage": 20})
    report_cpu(world, resource, 90)  # + 4.50 = 110.05: still over 110
    assert resets(world, policy.id) == []
    report_cpu(world, resource, 89)  # + 4.45 = 110.00: exactly the limit, no longer over
    assert [(r.action, r.reason) for r in resets(world, policy.id)] == [
        ("block_modification", "back under the limit")
    ]
    assert market.order_limit_change(world.owner.id, resource.id, {"storage": 20}).type is (
        OrderType.UPDATE
    )


# --------------------------------------------------------------------------- terminate_resources


def test_terminate_resources_orders_system_terminations(world: World):
    market = world.marketplace
    vm = world.live_vm()  # 5.17, completes at once on the cloud
    basic = world.live_basic()  # the basic plugin waits for its provider
    busy = world.live_basic()
    pending_change = market.order_limit_change(world.owner.id, busy.id, {"storage": 20})
    elsewhere = live_basic_in(world, other_project(world))
    policy = cost_policy(world, PolicyAction(ActionKind.TERMINATE_RESOURCES), limit="100")
    assert labels(runs(world, policy.id)) == ["terminate_resources@100%"]

    vm_orders = market.list_orders(vm.id)
    assert [(o.type, o.state, o.created_by) for o in vm_orders] == [
        (OrderType.CREATE, OrderState.DONE, world.owner.id),
        (OrderType.TERMINATE, OrderState.DONE, None),  # placed by the system
    ]
    assert vm_orders[-1].attributes["reason"] == f"policy {policy.id}"
    assert market.get_resource(vm.id).state is ResourceState.TERMINATED
    # The basic resource's termination executes and waits for the provider.
    assert [(o.type, o.state) for o in market.list_orders(basic.id)][-1] == (
        OrderType.TERMINATE,
        OrderState.EXECUTING,
    )
    # A resource with an open order is left alone, and so are other projects'.
    assert [o.id for o in market.list_orders(busy.id)][-1] == pending_change.id
    assert market.get_resource(busy.id).state is ResourceState.OK
    assert [o.type for o in market.list_orders(elsewhere.id)] == [OrderType.CREATE]
    # The period's end resets the action; nothing comes back to life.
    new_period(world)
    assert labels(resets(world, policy.id)) == ["terminate_resources@100%"]
    assert market.get_resource(vm.id).state is ResourceState.TERMINATED


# --------------------------------------------------------------------------- resource flags


@pytest.mark.parametrize("kind", list(FLAG_OF))
def test_a_threshold_flag_is_set_on_live_resources_until_the_period_ends(
    world: World, kind: ActionKind
):
    market = world.marketplace
    basic, vm = world.live_basic(), world.live_vm()
    dead = terminated_vm(world)
    elsewhere = live_basic_in(world, other_project(world))
    flag = FLAG_OF[kind]
    policy = cost_policy(world, PolicyAction(kind), limit="100")  # 105.55 + 5.17 + 5.01 > 100
    assert [market.get_resource(r.id).policy_flags for r in (basic, vm)] == [
        frozenset({(flag, policy.id)})
    ] * 2
    assert market.get_resource(basic.id).flags == {flag}
    assert market.get_resource(dead.id).flags == frozenset()
    assert market.get_resource(elsewhere.id).flags == frozenset()
    # Nothing else triggers the policy: only the due jobs of 1 February lift the flags.
    world.clock.set(FEB_1)
    assert market.get_resource(basic.id).flags == {flag}
    assert market.run_due_jobs().policies == (policy.id,)
    assert [market.get_resource(r.id).flags for r in (basic, vm, dead, elsewhere)] == [
        frozenset()
    ] * 4
    assert [(r.action, r.reason) for r in resets(world, policy.id)] == [
        (f"{kind.value}@100%", "period ended")
    ]


@pytest.mark.parametrize("kind", list(FLAG_OF))
def test_an_immediate_flag_follows_the_cost_over_and_under(world: World, kind: ActionKind):
    market = world.marketplace
    basic, vm = world.live_basic(), world.live_vm()  # 110.72
    flag = FLAG_OF[kind]
    policy = cost_policy(world, PolicyAction(kind, ActionType.IMMEDIATE), limit="115")
    assert market.get_resource(basic.id).flags == frozenset()
    report_cpu(world, basic, 100)  # + 5.00 = 115.72 > 115
    assert [market.get_resource(r.id).flags for r in (basic, vm)] == [{flag}, {flag}]
    report_cpu(world, basic, 20)  # + 1.00 = 111.72
    assert [market.get_resource(r.id).flags for r in (basic, vm)] == [frozenset()] * 2
    assert labels(runs(world, policy.id)) == [kind.value]
    assert labels(resets(world, policy.id)) == [kind.value]


def test_flags_of_two_policies_are_kept_apart(world: World):
    market = world.marketplace
    basic = world.live_basic()
    pausing = PolicyAction(ActionKind.REQUEST_PAUSING)
    on_project = cost_policy(world, pausing, limit="100")
    on_organization = cost_policy(
        world, pausing, limit="100", scope=(ScopeKind.ORGANIZATION, world.consumer.id),
        actor=world.staff,
    )  # fmt: skip
    assert market.get_resource(basic.id).policy_flags == {
        ("pausing_requested", on_project.id),
        ("pausing_requested", on_organization.id),
    }
    market.delete_policy(world.owner.id, on_project.id)
    # The organization's policy still asks for a pause.
    assert market.get_resource(basic.id).policy_flags == {("pausing_requested", on_organization.id)}
    assert market.get_resource(basic.id).flags == {"pausing_requested"}


def test_a_resource_ordered_while_a_flag_is_in_force_starts_with_it(world: World):
    market = world.marketplace
    world.live_basic()
    jobs = cost_policy(world, PolicyAction(ActionKind.BLOCK_HPC_JOBS), limit="100")
    pausing = cost_policy(
        world,
        PolicyAction(ActionKind.REQUEST_PAUSING),
        limit="100",
        scope=(ScopeKind.ORGANIZATION, world.consumer.id),
        actor=world.staff,
    )
    # Ordered after both fired: it is created flagged, before it is even live.
    later = market.get_resource(world.order().resource_id)
    assert later.state is ResourceState.CREATING
    assert later.policy_flags == {("jobs_blocked", jobs.id), ("pausing_requested", pausing.id)}
    # In February both are lifted, from it too; a new resource starts clean.
    new_period(world)
    assert market.get_resource(later.id).policy_flags == frozenset()
    assert market.get_resource(world.order().resource_id).policy_flags == frozenset()


def test_an_order_placed_before_a_block_waits_for_it_to_lift(world: World):
    market = world.marketplace
    basic = world.live_basic()  # 105.55
    waiting_create = world.order()
    waiting_update = market.order_limit_change(world.owner.id, basic.id, {"storage": 20})
    cost_policy(world, BLOCK_CREATION, BLOCK_MODIFICATION, limit="100")  # both fire
    before = snapshot(world.storage)
    with pytest.raises(PolicyViolationError) as create_refused:
        market.approve_order_as_provider(world.provider_owner.id, waiting_create.id)
    with pytest.raises(PolicyViolationError) as update_refused:
        market.approve_order_as_provider(world.provider_owner.id, waiting_update.id)
    assert snapshot(world.storage) == before
    assert create_refused.value.code is ErrorCode.POLICY_BLOCKS_CREATION
    assert update_refused.value.code is ErrorCode.POLICY_BLOCKS_MODIFICATION
    new_period(world)
    for order in (waiting_create, waiting_update):
        approved = market.approve_order_as_provider(world.provider_owner.id, order.id)
        assert approved.state is OrderState.EXECUTING


# --------------------------------------------------------------------------- custom actions


class Recorder:
    """A custom action that writes down its calls (and fails when told to)."""

    def __init__(self, fail_on: str = "") -> None:
        self.calls: list[tuple[str, str, Decimal, tuple[str, ...]]] = []
        self.fail_on = fail_on

    def _record(self, what: str, call: PolicyActionCall) -> None:
        resources = tuple(r.id for r in call.resources)
        self.calls.append((what, call.action.label, call.share, resources))
        if what == self.fail_on:
            raise RuntimeError(f"ticket system down ({what})")

    def run(self, call: PolicyActionCall) -> None:
        self._record("run", call)

    def reset(self, call: PolicyActionCall) -> None:
        self._record("reset", call)


def test_a_custom_action_runs_and_resets(world: World):
    recorder = Recorder()
    world.marketplace.plugins.register_policy_action("ticket", recorder)
    basic = world.live_basic()  # 105.55
    policy = cost_policy(
        world,
        PolicyAction(ActionKind.CUSTOM, percent=Decimal(90), name="ticket"),
        PolicyAction(ActionKind.CUSTOM, ActionType.IMMEDIATE, name="ticket"),
        limit="110",
    )
    # 105.55 / 110 = 95.954…%: over 90 %, not over 100 %.
    share = Decimal("105.55") * 100 / 110
    assert recorder.calls == [("run", "ticket@90%", share, (basic.id,))]
    report_cpu(world, basic, 200)  # 115.55 / 110 = 105.045…%
    report_cpu(world, basic, 0)  # back to 105.55
    over = Decimal("115.55") * 100 / 110
    assert recorder.calls[1:] == [
        ("run", "ticket", over, (basic.id,)),
        ("reset", "ticket", share, (basic.id,)),
    ]
    new_period(world)  # February, nothing spent yet: the threshold action is lifted
    assert recorder.calls[3:] == [("reset", "ticket@90%", Decimal(0), (basic.id,))]
    assert [(r.action, r.error) for r in runs(world, policy.id)] == [
        ("ticket@90%", ""),
        ("ticket", ""),
    ]


def test_a_failing_custom_action_is_recorded_without_undoing_the_command(world: World):
    market = world.marketplace
    failing = Recorder(fail_on="run")
    market.plugins.register_policy_action("ticket", failing)
    basic = world.live_basic()  # 105.55
    policy = cost_policy(world, PolicyAction(ActionKind.CUSTOM, name="ticket"), limit="110")
    report_cpu(world, basic, 200)  # 115.55: the handler raises
    [run] = runs(world, policy.id)
    assert run.error == "RuntimeError: ticket system down (run)"
    assert run.share == Decimal("115.55") * 100 / 110
    # The report that triggered it is stored and billed, and the action counts as run.
    [report] = market.list_usage_reports(basic.id, "cpu")
    assert report.amount == 200
    cpu_item = next(i for i in market.list_resource_items(basic.id) if i.component_type == "cpu")
    assert cpu_item.price == Decimal("10.00")
    assert market.get_policy(policy.id).fired == frozenset({0})
    report_cpu(world, basic, 300)
    assert len(runs(world, policy.id)) == 1  # once per period, failed or not
    # A reset that raises is recorded too, and does not undo the due jobs.
    failing.fail_on = "reset"
    assert new_period(world) == (policy.id,)
    assert market.get_policy(policy.id).fired == frozenset()
    assert [(r.action, r.reason, r.error) for r in resets(world, policy.id)] == [
        ("ticket@100%", "period ended", "RuntimeError: ticket system down (reset)")
    ]


def test_an_unregistered_custom_action_is_refused(world: World):
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as refused:
        cost_policy(world, PolicyAction(ActionKind.CUSTOM, name="nobody"), limit="10")
    assert refused.value.code is ErrorCode.POLICY_ACTION_NOT_AVAILABLE
    assert snapshot(world.storage) == before


# --------------------------------------------------------------------------- periods


def test_the_due_jobs_alone_reset_at_a_month_boundary(world: World):
    market = world.marketplace
    world.live_basic()
    policy = cost_policy(world, BLOCK_CREATION, limit="100")
    assert labels(runs(world, policy.id)) == ["block_creation@100%"]
    items_before = snapshot(world.storage)["invoice_items"]
    world.clock.set(datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC))
    assert market.run_due_jobs().policies == ()  # still January
    world.clock.set(FEB_1)
    assert market.run_due_jobs().policies == (policy.id,)
    stored = market.get_policy(policy.id)
    assert (stored.period_start, stored.fired) == (FEB_1, frozenset())
    assert [(r.action, r.reason, r.occurred_at) for r in resets(world, policy.id)] == [
        ("block_creation@100%", "period ended", FEB_1)
    ]
    assert len(runs(world, policy.id)) == 1  # nothing in February yet: 0 % of 100
    assert snapshot(world.storage)["invoice_items"] == items_before  # no other trigger
    assert market.run_due_jobs().policies == ()  # once


def test_a_quarterly_policy_keeps_what_fired_until_the_next_quarter(world: World):
    market = world.marketplace
    policy = cost_policy(
        world,
        PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS, percent=Decimal(50)),
        BLOCK_CREATION,
        limit="150",
        period=PolicyPeriod.QUARTER,
    )
    world.live_basic()  # 105.55 / 150 = 70.37 %: the notice only
    assert labels(runs(world, policy.id)) == ["notify_organization_owners@50%"]
    assert new_period(world) == ()  # February is in the same quarter
    # February's billing run adds 101.00: 206.55 in the quarter, 137.7 %.
    market.run_billing()
    assert labels(runs(world, policy.id)) == [
        "notify_organization_owners@50%",
        "block_creation@100%",
    ]
    assert runs(world, policy.id)[-1].share == Decimal("206.55") * 100 / 150
    assert new_period(world, MAR_15) == ()
    market.run_billing()  # March: 101.00 more, nothing runs twice
    assert len(runs(world, policy.id)) == 2
    refused_creation(world)
    assert resets(world, policy.id) == []
    assert new_period(world, APR_1) == (policy.id,)
    assert [(r.action, r.reason, r.occurred_at) for r in resets(world, policy.id)] == [
        ("notify_organization_owners@50%", "period ended", APR_1),
        ("block_creation@100%", "period ended", APR_1),
    ]
    assert world.order().type is OrderType.CREATE


def test_the_first_trigger_of_a_period_resets_then_runs(world: World):
    """Without the due jobs, the first report of February both resets January's actions and
    runs February's, in that order, at the same instant."""
    basic = world.live_basic()  # 105.55 of 200: 52.775 %
    policy = cost_policy(world, WARN_50, limit="200")
    feb_2 = datetime(2026, 2, 2, 8, tzinfo=UTC)
    world.clock.set(feb_2)
    # Opens February: 101.00 + 20 × 0.05 = 102.00, 51 %.
    report_cpu(world, basic, 20)
    history = [
        (type(r.event).__name__, r.event.occurred_at)
        for r in world.events.events
        if getattr(r.event, "policy_id", None) == policy.id
        and isinstance(r.event, PolicyActionRun | PolicyActionReset)
    ]
    assert history == [
        ("PolicyActionRun", START),
        ("PolicyActionReset", feb_2),
        ("PolicyActionRun", feb_2),
    ]
    assert resets(world, policy.id)[0].reason == "period ended"
    assert runs(world, policy.id)[-1].share == Decimal(51)


def test_a_zero_limit_is_crossed_by_any_spending(world: World):
    policy = cost_policy(world, PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS), limit="0")
    assert runs(world, policy.id) == []  # nothing spent: 0 %
    world.live_basic()
    [run] = runs(world, policy.id)
    assert run.share == Decimal("Infinity")
    [notice] = policy_notices(world)
    assert notice.subject == f"The cost of project {world.project.id} went over its limit of 0"


def test_canceling_an_invoice_lowers_the_cost_policies_see(world: World):
    market = world.marketplace
    policy = cost_policy(
        world,
        PolicyAction(ActionKind.BLOCK_CREATION, ActionType.IMMEDIATE),
        limit="150",
        period=PolicyPeriod.QUARTER,
    )
    world.live_basic()  # 105.55 in January
    world.clock.set(datetime(2026, 2, 1, 1, tzinfo=UTC))
    market.run_billing()  # issues January; February's 101.00: 206.55 in Q1, 137.7 %
    assert labels(runs(world, policy.id)) == ["block_creation"]
    refused_creation(world)
    january = market.find_invoice(world.consumer.id, date(2026, 1, 1))
    world.clock.set(datetime(2026, 2, 3, 1, tzinfo=UTC))
    market.cancel_invoice(world.staff.id, january.id)
    # January's items stop counting: 101.00 of 150, 67.33 %.
    assert market.policy_share(policy.id) == Decimal(101) * 100 / 150
    assert [(r.action, r.reason) for r in resets(world, policy.id)] == [
        ("block_creation", "back under the limit")
    ]
    assert world.order().type is OrderType.CREATE


# --------------------------------------------------------------------------- editing and deleting


def test_changing_limits_runs_and_resets_nothing(world: World):
    market = world.marketplace
    basic = world.live_basic()  # 105.55
    warn = PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS, percent=Decimal(50))
    pause = PolicyAction(ActionKind.REQUEST_PAUSING, ActionType.IMMEDIATE)
    policy = cost_policy(world, BLOCK_CREATION, pause, limit="100")
    low = cost_policy(world, warn, limit="1000")  # 10.6 %
    assert market.get_resource(basic.id).flags == {"pausing_requested"}
    events_before = len(world.events.events)
    # Raise the first policy's limit far above the cost, and lower the second one's under it.
    raised = market.change_policy_limits(world.owner.id, policy.id, limit="10000")
    lowered = market.change_policy_limits(world.owner.id, low.id, limit="100")
    assert raised.limit == Decimal(10000)
    assert (raised.fired, raised.over) == (frozenset({0}), True)
    assert (lowered.fired, lowered.over) == (frozenset(), False)
    new = [e.event for e in world.events.events[events_before:]]
    assert [type(e) for e in new] == [PolicyLimitsChanged, PolicyLimitsChanged]
    assert market.get_resource(basic.id).flags == {"pausing_requested"}
    refused_creation(world)
    assert policy_notices(world) == []
    # The next trigger evaluates against the new limits: the due jobs, here.
    assert set(market.run_due_jobs().policies) == {policy.id, low.id}
    assert market.get_resource(basic.id).flags == frozenset()  # the immediate one lifted
    assert [(r.action, r.reason) for r in resets(world, policy.id)] == [
        ("request_pausing", "back under the limit")
    ]
    refused_creation(world)  # the threshold block stays for the rest of January
    assert labels(runs(world, low.id)) == ["notify_organization_owners@50%"]


def test_deleting_a_policy_lifts_what_it_has_in_force(world: World):
    market = world.marketplace
    recorder = Recorder()
    market.plugins.register_policy_action("ticket", recorder)
    basic = world.live_basic()
    policy = cost_policy(
        world,
        BLOCK_CREATION,
        PolicyAction(ActionKind.BLOCK_HPC_JOBS),
        PolicyAction(ActionKind.CUSTOM, name="ticket"),
        PolicyAction(ActionKind.REQUEST_DOWNSCALING, percent=Decimal(200)),  # not fired
        limit="100",
    )
    assert market.get_resource(basic.id).flags == {"jobs_blocked"}
    refused_creation(world)
    market.delete_policy(world.owner.id, policy.id)
    assert market.get_resource(basic.id).policy_flags == frozenset()
    assert [(r.action, r.reason) for r in resets(world, policy.id)] == [
        ("block_creation@100%", "policy deleted"),
        ("block_hpc_jobs@100%", "policy deleted"),
        ("ticket@100%", "policy deleted"),
    ]
    assert [call[:2] for call in recorder.calls] == [
        ("run", "ticket@100%"),
        ("reset", "ticket@100%"),
    ]
    last = world.events.events[-1].event
    assert isinstance(last, PolicyDeleted)
    assert last.policy_id == policy.id
    assert market.list_policies(ScopeKind.PROJECT, world.project.id) == []
    assert world.order().type is OrderType.CREATE


# --------------------------------------------------------------------------- authorization


@pytest.mark.parametrize(
    ("scope_kind", "who"),
    [
        (ScopeKind.ORGANIZATION, "owner"),  # the organization's own owner is not enough
        (ScopeKind.ORGANIZATION, "project_manager"),
        (ScopeKind.PROJECT, "project_manager"),
        (ScopeKind.PROJECT, "project_admin"),
        (ScopeKind.PROJECT, "outsider"),
        (ScopeKind.PROJECT, "provider_owner"),
        (ScopeKind.OFFERING, "offering_manager"),
        (ScopeKind.OFFERING, "owner"),  # the consumer's owner
    ],
)
def test_creating_a_policy_needs_the_right_role(world: World, scope_kind: ScopeKind, who: str):
    scope_id = {
        ScopeKind.ORGANIZATION: world.consumer.id,
        ScopeKind.PROJECT: world.project.id,
        ScopeKind.OFFERING: world.offering.id,
    }[scope_kind]
    before = snapshot(world.storage)
    with pytest.raises(PermissionDeniedError):
        cost_policy(
            world,
            BLOCK_CREATION,
            limit="10",
            scope=(scope_kind, scope_id),
            actor=getattr(world, who),
        )
    assert snapshot(world.storage) == before


@pytest.mark.parametrize(
    ("scope_kind", "who"),
    [
        (ScopeKind.ORGANIZATION, "staff"),
        (ScopeKind.PROJECT, "owner"),
        (ScopeKind.PROJECT, "staff"),
        (ScopeKind.OFFERING, "provider_owner"),
        (ScopeKind.OFFERING, "staff"),
    ],
)
def test_staff_and_owners_create_policies(world: World, scope_kind: ScopeKind, who: str):
    scope_id = {
        ScopeKind.ORGANIZATION: world.consumer.id,
        ScopeKind.PROJECT: world.project.id,
        ScopeKind.OFFERING: world.offering.id,
    }[scope_kind]
    actor = getattr(world, who)
    policy = cost_policy(
        world, BLOCK_CREATION, limit="10", scope=(scope_kind, scope_id), actor=actor
    )
    assert (policy.scope_kind, policy.scope_id, policy.created_by) == (
        scope_kind,
        scope_id,
        actor.id,
    )
    assert world.marketplace.list_policies(scope_kind, scope_id) == [policy]
    created = world.events.events[-1].event
    assert isinstance(created, PolicyCreated)
    assert created.policy_id == policy.id


def test_editing_and_deleting_need_the_same_roles(world: World):
    market = world.marketplace
    project_policy = cost_policy(world, BLOCK_CREATION, limit="10")
    organization_policy = cost_policy(
        world, BLOCK_CREATION, limit="10", scope=(ScopeKind.ORGANIZATION, world.consumer.id),
        actor=world.staff,
    )  # fmt: skip
    before = snapshot(world.storage)
    for actor, policy in [
        (world.project_manager, project_policy),
        (world.outsider, project_policy),
        (world.owner, organization_policy),
    ]:
        with pytest.raises(PermissionDeniedError):
            market.change_policy_limits(actor.id, policy.id, limit="1000")
        with pytest.raises(PermissionDeniedError):
            market.delete_policy(actor.id, policy.id)
    assert snapshot(world.storage) == before


# --------------------------------------------------------------------------- usage policies


@pytest.mark.parametrize(
    ("reports", "fires"),
    [
        ([("cpu", 101)], True),  # cpu 101 % of 100
        ([("storage", 51)], True),  # storage 102 % of 50, cpu 0 %
        ([("cpu", 100), ("storage", 50)], False),  # both exactly at their limits
        ([("cpu", 99), ("storage", 49)], False),
        # Each of two resources reports 60 CPU hours: the offering's usage is 120.
        ([("cpu", 60), ("cpu@second", 60)], True),
    ],
)
def test_a_usage_policy_on_an_offering_fires_when_any_component_crosses(
    world: World, reports: list[tuple[str, int]], fires: bool
):
    market = world.marketplace
    first, second = world.live_basic(), world.live_basic()
    policy = market.create_policy(
        world.provider_owner.id,
        ScopeKind.OFFERING,
        world.offering.id,
        PolicyMetric.USAGE,
        PolicyPeriod.MONTH,
        (BLOCK_CREATION,),
        component_limits={"cpu": 100, "storage": 50},
    )
    for target, amount in reports:
        component, _, which = target.partition("@")
        resource = second if which else first
        market.report_usage(
            world.provider_owner.id, resource.id, component, amount,
            idempotency_key=f"{target}-{next(KEYS)}",
        )  # fmt: skip
    assert bool(runs(world, policy.id)) is fires
    if fires:
        refused_creation(world)
    else:
        assert world.order().type is OrderType.CREATE
    # Another offering's resources are not counted, and its orders are not blocked.
    vm = world.live_vm()
    assert vm.state is ResourceState.OK


def test_a_usage_policy_on_an_offering_checks_its_components(world: World):
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as refused:
        world.marketplace.create_policy(
            world.provider_owner.id,
            ScopeKind.OFFERING,
            world.offering.id,
            PolicyMetric.USAGE,
            PolicyPeriod.MONTH,
            (BLOCK_CREATION,),
            component_limits={"gpu": 1},
        )
    assert refused.value.code is ErrorCode.UNKNOWN_COMPONENT
    assert snapshot(world.storage) == before


def test_monthly_usage_totals_are_per_month(world: World):
    """A usage policy sums the reports of its period's months only: January's CPU hours
    do not count in February."""
    basic = world.live_basic()
    policy = world.marketplace.create_policy(
        world.owner.id, ScopeKind.PROJECT, world.project.id, PolicyMetric.USAGE,
        PolicyPeriod.MONTH, (BLOCK_CREATION,), component_limits={"cpu": 100},
    )  # fmt: skip
    report_cpu(world, basic, 80)
    world.clock.set(datetime(2026, 2, 3, tzinfo=UTC))
    report_cpu(world, basic, 80)  # 80 in February, not 160
    assert runs(world, policy.id) == []
    assert world.marketplace.policy_share(policy.id) == Decimal(80)
    assert date(2026, 2, 1) == world.marketplace.list_usage_reports(basic.id, "cpu")[-1].month


def test_limits_of_the_wrong_kind_are_refused_on_edit(world: World):
    market = world.marketplace
    policy = cost_policy(world, BLOCK_CREATION, limit="100")
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as refused:
        market.change_policy_limits(world.owner.id, policy.id, component_limits={"cpu": 5})
    assert refused.value.code is ErrorCode.INVALID_VALUE
    assert snapshot(world.storage) == before


def test_editing_an_offering_policy_checks_its_components(world: World):
    market = world.marketplace
    policy = market.create_policy(
        world.provider_owner.id,
        ScopeKind.OFFERING,
        world.offering.id,
        PolicyMetric.USAGE,
        PolicyPeriod.MONTH,
        (BLOCK_CREATION,),
        component_limits={"cpu": 100},
    )
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as refused:
        market.change_policy_limits(world.provider_owner.id, policy.id, component_limits={"gpu": 1})
    assert refused.value.code is ErrorCode.UNKNOWN_COMPONENT
    assert snapshot(world.storage) == before


# --------------------------------------------------------------------------- dry runs

WARN_50 = PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS, percent=Decimal(50))
OVER = PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS, ActionType.IMMEDIATE)


def dry_run(world: World, actions: tuple[PolicyAction, ...], month: date, limit: str = "200"):
    steps = world.marketplace.dry_run_policy(
        ScopeKind.PROJECT,
        world.project.id,
        PolicyMetric.ESTIMATED_COST,
        PolicyPeriod.MONTH,
        actions,
        month,
        limit=limit,
    )
    return [(s.at, s.action, s.what, s.share) for s in steps]


def test_a_dry_run_replays_the_history_and_changes_nothing(world: World):
    market = world.marketplace
    recorder = Recorder()
    market.plugins.register_policy_action("ticket", recorder)
    basic = world.live_basic()  # 105.55: 52.775 % of 200
    world.clock.set(datetime(2026, 1, 20, 12, tzinfo=UTC))
    report_cpu(world, basic, 2000)  # + 100.00 = 205.55: 102.775 %
    world.clock.set(datetime(2026, 1, 21, 12, tzinfo=UTC))
    report_cpu(world, basic, 0)  # back to 105.55
    before = snapshot(world.storage)
    ticket = PolicyAction(ActionKind.CUSTOM, ActionType.IMMEDIATE, name="ticket")
    assert dry_run(world, (WARN_50, OVER, ticket), date(2026, 1, 1)) == [
        (START, "notify_organization_owners@50%", "run", Decimal("52.775")),
        (
            datetime(2026, 1, 20, 12, tzinfo=UTC),
            "notify_organization_owners",
            "run",
            Decimal("102.775"),
        ),
        (datetime(2026, 1, 20, 12, tzinfo=UTC), "ticket", "run", Decimal("102.775")),
        (
            datetime(2026, 1, 21, 12, tzinfo=UTC),
            "notify_organization_owners",
            "reset",
            Decimal("52.775"),
        ),
        (datetime(2026, 1, 21, 12, tzinfo=UTC), "ticket", "reset", Decimal("52.775")),
    ]
    assert dry_run(world, (WARN_50,), date(2026, 2, 1)) == []  # nothing happened in February
    assert snapshot(world.storage) == before
    assert recorder.calls == []  # no handler is called
    with pytest.raises(ValidationError):
        dry_run(world, (PolicyAction(ActionKind.CUSTOM, name="nobody"),), date(2026, 1, 1))


def test_a_dry_run_agrees_when_a_termination_opens_a_month(world: World):
    market = world.marketplace
    policy = cost_policy(world, WARN_50, limit="200")
    basic = world.live_basic()  # 52.775 %: the warning runs in January
    world.clock.set(datetime(2026, 2, 1, 9, 30, tzinfo=UTC))
    # The termination is the first thing to touch February: it opens base 100.00 and storage
    # 1.00 (50.5 % for a moment), then closes them after one day: 1/28 → 0.04, 4.00 and
    # 0.04, so February holds 4.04 (2.02 %) when the command commits.
    order = market.order_termination(world.owner.id, basic.id)
    market.approve_order_as_provider(world.provider_owner.id, order.id)
    market.resource_deletion_succeeded(world.provider_owner.id, basic.id)
    assert market.policy_share(policy.id) == Decimal("2.02")
    assert [r.occurred_at for r in runs(world, policy.id)] == [START]  # nothing in February
    assert dry_run(world, (WARN_50,), date(2026, 2, 1)) == []


def test_a_dry_run_agrees_across_a_limit_change(world: World):
    market = world.marketplace
    policy = cost_policy(world, OVER, limit="200")
    basic = world.live_basic()
    report_cpu(world, basic, 1891)  # 105.55 + 94.55 = 200.10: over 200, the action runs
    world.clock.set(datetime(2026, 1, 20, 10, tzinfo=UTC))
    # 10 → 20 GB: the 10 GB item closes (15-19 Jan, 5/31 → 0.17, 0.55 → 0.17: −0.38, so
    # 199.72 for a moment) and a 20 GB item opens (12/31 → 0.39 × 20 × 0.10 = 0.78): 200.50.
    order = market.order_limit_change(world.owner.id, basic.id, {"storage": 20})
    market.approve_order_as_provider(world.provider_owner.id, order.id)
    market.resource_update_succeeded(world.provider_owner.id, basic.id)
    assert market.policy_share(policy.id) == Decimal("100.25")
    assert labels(runs(world, policy.id)) == ["notify_organization_owners"]
    assert resets(world, policy.id) == []
    # The action ran once, on 15 January, and nothing since.
    assert [(at, what) for at, _, what, _ in dry_run(world, (OVER,), date(2026, 1, 1))] == [
        (START, "run")
    ]


def test_a_dry_run_sees_a_canceled_invoice(world: World):
    market = world.marketplace
    over = PolicyAction(ActionKind.BLOCK_CREATION, ActionType.IMMEDIATE)
    policy = cost_policy(world, over, limit="150", period=PolicyPeriod.QUARTER)
    world.live_basic()
    feb_1, feb_3 = datetime(2026, 2, 1, 1, tzinfo=UTC), datetime(2026, 2, 3, 1, tzinfo=UTC)
    world.clock.set(feb_1)
    market.run_billing()  # 206.55 in Q1: over 150
    world.clock.set(feb_3)
    market.cancel_invoice(
        world.staff.id, market.find_invoice(world.consumer.id, date(2026, 1, 1)).id
    )  # 101.00 in Q1: back under
    assert [(r.occurred_at, r.action) for r in resets(world, policy.id)] == [
        (feb_3, "block_creation")
    ]
    steps = market.dry_run_policy(
        ScopeKind.PROJECT,
        world.project.id,
        PolicyMetric.ESTIMATED_COST,
        PolicyPeriod.QUARTER,
        (over,),
        date(2026, 2, 1),
        limit="150",
    )
    assert [(s.at, s.what) for s in steps] == [(feb_1, "run"), (feb_3, "reset")]
