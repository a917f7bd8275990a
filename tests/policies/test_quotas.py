"""Quotas and deny lists, through the facade.

Three quota kinds bound a project, an organization or an offering: how many live resources
it holds, the sum of one component's limits, and the estimated monthly cost. Deny rules bar
an organization or a project from an offering or a whole category. Every refusal must leave
storage, the event sink and the notifier untouched.

The cloud offerings here finish every order at once (the ``cloud`` plugin with an empty
script). Its built-in ``ram`` component has factor 1024, so a plan's ram price is per 1024
units of limit.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from marketplace_core import (
    DenyTarget,
    ErrorCode,
    MarketplaceError,
    NotFoundError,
    Offering,
    OrderState,
    PermissionDeniedError,
    Plan,
    PlanUnit,
    PolicyViolationError,
    Project,
    QuotaExceededError,
    QuotaKind,
    ResourceState,
    ScopeKind,
    User,
    ValidationError,
)
from marketplace_core.events import DenyRuleAdded, DenyRuleRemoved, QuotaSet
from marketplace_core.testing import Outcome
from tests.support import BASE, World, snapshot

# --------------------------------------------------------------------------- helpers


def refused(
    world: World,
    command: Callable[[], object],
    code: ErrorCode,
    family: type[MarketplaceError],
) -> MarketplaceError:
    """Run ``command`` expecting ``family`` with ``code``; nothing stored, published or
    sent."""
    before = snapshot(world.storage)
    published, sent = len(world.events.events), len(world.notifications.sent)
    with pytest.raises(family) as caught:
        command()
    assert caught.value.code is code
    assert snapshot(world.storage) == before
    assert world.events.events[published:] == []
    assert world.notifications.sent[sent:] == []
    return caught.value


def set_quota(
    world: World, scope: ScopeKind, scope_id: str, kind: QuotaKind, limit, component: str = ""
):
    return world.marketplace.set_quota(
        world.staff.id, scope, scope_id, kind, limit, component=component
    )


def vm(
    world: World,
    offering: Offering,
    plan: Plan,
    *,
    ram: int = 1024,
    project: Project | None = None,
    actor: User | None = None,
):
    """Place a create order for a cloud resource (done at once) in ``project`` (the world's
    by default, ordered by its owner; staff order elsewhere); returns the order."""
    actor = actor or (world.staff if project else world.owner)
    return world.marketplace.order_resource(
        actor.id,
        (project or world.project).id,
        offering.id,
        plan.id,
        "vm",
        limits={"ram": ram},
    )


def usage_of(world: World, scope: ScopeKind, scope_id: str, kind: QuotaKind) -> Decimal:
    (status,) = [s for s in world.marketplace.list_quotas(scope, scope_id) if s.quota.kind is kind]
    return status.usage


def other_project(world: World) -> Project:
    """A second project of the consumer organization."""
    return world.marketplace.create_project(world.staff.id, world.consumer.id, "Lab")


def foreign_project(world: World) -> Project:
    """A project of another consumer organization."""
    market = world.marketplace
    organization = market.create_organization(world.staff.id, "College")
    return market.create_project(world.staff.id, organization.id, "Elsewhere")


def priced_offering(world: World) -> tuple[Offering, dict[str, Plan]]:
    """A cloud offering with a fixed ``base`` fee and the plugin's ``ram``, and plans:

    ``daily``:  base 2 + ram 0.5 per 1024, per day  -> ram 1024: 2.5/day = 75/month
    ``monthly``: base 40 per month                  -> 40/month
    ``dear``:    base 90 per month                  -> 90/month
    """
    market, provider = world.marketplace, world.provider_owner.id
    offering = world.new_offering(name="Priced VMs", plugin_type="cloud", components=(BASE,))
    plans = {
        "daily": market.create_plan(
            provider, offering.id, "Daily", PlanUnit.DAY, prices={"base": "2", "ram": "0.5"}
        ),
        "monthly": market.create_plan(
            provider, offering.id, "Monthly", PlanUnit.MONTH, prices={"base": "40"}
        ),
        "dear": market.create_plan(
            provider, offering.id, "Dear", PlanUnit.MONTH, prices={"base": "90"}
        ),
    }
    return market.activate_offering(world.staff.id, offering.id), plans


# --------------------------------------------------------------------------- set_quota


def test_setting_a_quota_twice_replaces_its_limit(world: World):
    first = set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES, 5)
    second = set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES, "3")
    assert second.id == first.id
    assert second.limit == Decimal(3)
    (status,) = world.marketplace.list_quotas(ScopeKind.PROJECT, world.project.id)
    assert status.quota.limit == Decimal(3)
    limits = [e.event.limit for e in world.events.events if isinstance(e.event, QuotaSet)]
    assert limits == [Decimal(5), Decimal(3)]


@pytest.mark.parametrize("limit", ["-1", -1, "-1.00", 0, "0", "7", Decimal("2.5")])
def test_minus_one_and_non_negative_limits_are_accepted(world: World, limit):
    quota = set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.MONTHLY_COST, limit)
    assert quota.limit == Decimal(limit)


@pytest.mark.parametrize("limit", [-2, "-2", "-100", "-0.5", "-0.01", "-1.01", Decimal("-3")])
def test_negative_limits_other_than_minus_one_are_refused(world: World, limit):
    error = refused(
        world,
        lambda: set_quota(
            world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES, limit
        ),
        ErrorCode.INVALID_VALUE,
        ValidationError,
    )
    assert error.fields["field"] == "limit"


@pytest.mark.parametrize("limit", [1.5, None, "lots", True])
def test_limits_that_are_not_decimals_are_refused(world: World, limit):
    refused(
        world,
        lambda: set_quota(
            world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES, limit
        ),
        ErrorCode.INVALID_VALUE,
        ValidationError,
    )


@pytest.mark.parametrize("kind", [QuotaKind.LIVE_RESOURCES, QuotaKind.MONTHLY_COST])
def test_a_component_is_refused_for_quotas_that_do_not_count_components(world: World, kind):
    error = refused(
        world,
        lambda: set_quota(world, ScopeKind.PROJECT, world.project.id, kind, 5, component="ram"),
        ErrorCode.INVALID_VALUE,
        ValidationError,
    )
    assert error.fields["field"] == "component"


def test_a_component_limit_quota_without_a_component_is_refused(world: World):
    error = refused(
        world,
        lambda: set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.COMPONENT_LIMIT, 5),
        ErrorCode.INVALID_VALUE,
        ValidationError,
    )
    assert error.fields["field"] == "component"


def test_an_unknown_quota_kind_is_refused(world: World):
    refused(
        world,
        lambda: set_quota(world, ScopeKind.PROJECT, world.project.id, "gpu_hours", 5),  # type: ignore[arg-type]
        ErrorCode.INVALID_VALUE,
        ValidationError,
    )


@pytest.mark.parametrize(
    "scope", [ScopeKind.PROJECT, ScopeKind.ORGANIZATION, ScopeKind.OFFERING], ids=str
)
def test_a_quota_on_an_unknown_scope_is_refused(world: World, scope):
    error = refused(
        world,
        lambda: set_quota(world, scope, "no-such-thing", QuotaKind.LIVE_RESOURCES, 1),
        ErrorCode.NOT_FOUND,
        NotFoundError,
    )
    assert error.fields["id"] == "no-such-thing"


def test_a_quota_on_a_scope_of_the_wrong_kind_is_refused(world: World):
    # A project id named as an organization: the kind decides where it is looked up.
    refused(
        world,
        lambda: set_quota(
            world, ScopeKind.ORGANIZATION, world.project.id, QuotaKind.LIVE_RESOURCES, 1
        ),
        ErrorCode.NOT_FOUND,
        NotFoundError,
    )


@pytest.mark.parametrize("scope", [ScopeKind.PLATFORM, "platform", "galaxy"], ids=str)
def test_a_quota_on_the_platform_or_a_made_up_scope_kind_is_refused(world: World, scope):
    error = refused(
        world,
        lambda: set_quota(world, scope, "", QuotaKind.LIVE_RESOURCES, 1),
        ErrorCode.INVALID_VALUE,
        ValidationError,
    )
    assert error.fields["field"] == "scope_kind"


@pytest.mark.parametrize(
    "who", ["owner", "project_manager", "provider_owner", "offering_manager", "outsider"]
)
def test_only_staff_set_quotas(world: World, who):
    actor = getattr(world, who)
    refused(
        world,
        lambda: world.marketplace.set_quota(
            actor.id, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES, 10
        ),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    )


# --------------------------------------------------------------------------- live resources


def test_a_project_live_resources_quota_refuses_the_create_past_it(world: World):
    offering, plan = world.cloud_offering()
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES, 2)
    vm(world, offering, plan)
    vm(world, offering, plan)  # 2 of 2: exactly at the limit is fine
    assert usage_of(world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES) == 2

    error = refused(
        world, lambda: vm(world, offering, plan), ErrorCode.QUOTA_EXCEEDED, QuotaExceededError
    )
    # 2 used + 1 = 3 > 2
    assert error.fields["usage"] == "2"
    assert error.fields["change"] == "1"
    assert error.fields["limit"] == "2"
    assert error.fields["scope_id"] == world.project.id

    # Other projects, of the same organization or not, are not bounded by it.
    vm(world, offering, plan, project=other_project(world))
    vm(world, offering, plan, project=foreign_project(world))


def test_an_organization_live_resources_quota_counts_all_its_projects(world: World):
    offering, plan = world.cloud_offering()
    lab = other_project(world)
    set_quota(world, ScopeKind.ORGANIZATION, world.consumer.id, QuotaKind.LIVE_RESOURCES, 3)
    vm(world, offering, plan)  # Thesis: 1
    vm(world, offering, plan, project=lab)  # Lab: 1, organization: 2
    world.order()  # the basic offering counts too: organization 3 of 3
    assert usage_of(world, ScopeKind.ORGANIZATION, world.consumer.id, QuotaKind.LIVE_RESOURCES) == 3

    # 3 + 1 = 4 > 3, from either project and on either offering.
    for command in (
        lambda: vm(world, offering, plan),
        lambda: vm(world, offering, plan, project=lab),
        world.order,
    ):
        refused(world, command, ErrorCode.QUOTA_EXCEEDED, QuotaExceededError)
    vm(world, offering, plan, project=foreign_project(world))  # another organization


def test_an_offering_live_resources_quota_counts_every_consumer(world: World):
    offering, plan = world.cloud_offering()
    set_quota(world, ScopeKind.OFFERING, offering.id, QuotaKind.LIVE_RESOURCES, 2)
    vm(world, offering, plan)
    vm(world, offering, plan, project=foreign_project(world))  # 2 of 2
    assert usage_of(world, ScopeKind.OFFERING, offering.id, QuotaKind.LIVE_RESOURCES) == 2

    lab = other_project(world)
    error = refused(
        world,
        lambda: vm(world, offering, plan, project=lab),
        ErrorCode.QUOTA_EXCEEDED,
        QuotaExceededError,
    )
    assert (error.fields["scope_kind"], error.fields["scope_id"]) == ("offering", offering.id)
    world.order()  # the world's own offering has no quota


def test_terminated_resources_do_not_count(world: World):
    market = world.marketplace
    offering, plan = world.cloud_offering()
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES, 1)
    first = vm(world, offering, plan)
    refused(world, lambda: vm(world, offering, plan), ErrorCode.QUOTA_EXCEEDED, QuotaExceededError)

    market.order_termination(world.owner.id, first.resource_id)
    assert market.get_resource(first.resource_id).state is ResourceState.TERMINATED
    assert usage_of(world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES) == 0
    assert vm(world, offering, plan).state is OrderState.DONE  # 0 + 1 = 1, at the limit


def test_resources_being_created_count(world: World):
    market = world.marketplace
    offering, plan = world.cloud_offering()
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES, 2)
    waiting = world.order()  # basic offering: waits for the provider, resource creating
    world.cloud.then(Outcome.LATER)
    running = vm(world, offering, plan)  # the backend has not answered yet
    assert market.get_resource(waiting.resource_id).state is ResourceState.CREATING
    assert market.get_resource(running.resource_id).state is ResourceState.CREATING
    assert usage_of(world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES) == 2

    refused(world, lambda: vm(world, offering, plan), ErrorCode.QUOTA_EXCEEDED, QuotaExceededError)

    # The provider rejects the waiting one: its resource is gone, and the room is back.
    market.reject_order(world.provider_owner.id, waiting.id)
    assert usage_of(world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES) == 1
    vm(world, offering, plan)


def test_erred_resources_count_until_terminated(world: World):
    market = world.marketplace
    offering, plan = world.cloud_offering()
    world.cloud.then(Outcome.RAISE)
    failed = vm(world, offering, plan)  # the backend crashed: order and resource erred
    assert market.get_resource(failed.resource_id).state is ResourceState.ERRED
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES, 1)
    refused(world, lambda: vm(world, offering, plan), ErrorCode.QUOTA_EXCEEDED, QuotaExceededError)
    market.order_termination(world.owner.id, failed.resource_id)
    vm(world, offering, plan)


@pytest.mark.parametrize(
    "scope", [ScopeKind.PROJECT, ScopeKind.ORGANIZATION, ScopeKind.OFFERING], ids=str
)
def test_minus_one_is_unlimited(world: World, scope):
    offering, plan = world.cloud_offering()
    scope_id = {
        ScopeKind.PROJECT: world.project.id,
        ScopeKind.ORGANIZATION: world.consumer.id,
        ScopeKind.OFFERING: offering.id,
    }[scope]
    set_quota(world, scope, scope_id, QuotaKind.LIVE_RESOURCES, 1)
    vm(world, offering, plan)
    refused(world, lambda: vm(world, offering, plan), ErrorCode.QUOTA_EXCEEDED, QuotaExceededError)
    set_quota(world, scope, scope_id, QuotaKind.LIVE_RESOURCES, -1)
    for _ in range(3):
        vm(world, offering, plan)
    assert usage_of(world, scope, scope_id, QuotaKind.LIVE_RESOURCES) == 4


@pytest.mark.parametrize(
    "scope", [ScopeKind.PROJECT, ScopeKind.ORGANIZATION, ScopeKind.OFFERING], ids=str
)
def test_zero_allows_nothing(world: World, scope):
    offering, plan = world.cloud_offering()
    scope_id = {
        ScopeKind.PROJECT: world.project.id,
        ScopeKind.ORGANIZATION: world.consumer.id,
        ScopeKind.OFFERING: offering.id,
    }[scope]
    set_quota(world, scope, scope_id, QuotaKind.LIVE_RESOURCES, 0)
    error = refused(
        world, lambda: vm(world, offering, plan), ErrorCode.QUOTA_EXCEEDED, QuotaExceededError
    )
    assert (error.fields["usage"], error.fields["limit"]) == ("0", "0")  # 0 + 1 > 0


def test_a_quota_below_usage_refuses_growth_but_not_shrinking(world: World):
    market = world.marketplace
    offering, plan = world.cloud_offering()
    orders = [vm(world, offering, plan) for _ in range(3)]
    # Setting a quota under what exists is allowed; nothing existing is touched.
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES, 1)
    (status,) = market.list_quotas(ScopeKind.PROJECT, world.project.id)
    assert (status.usage, status.quota.limit) == (3, 1)

    refused(world, lambda: vm(world, offering, plan), ErrorCode.QUOTA_EXCEEDED, QuotaExceededError)
    # A limit change does not add a resource: it passes while 3 > 1.
    change = market.order_limit_change(world.owner.id, orders[0].resource_id, {"ram": 2048})
    assert change.state is OrderState.DONE
    # Terminations pass; 3 -> 2 -> 1.
    for order in orders[1:]:
        assert market.order_termination(world.owner.id, order.resource_id).state is OrderState.DONE
    assert usage_of(world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES) == 1
    # 1 + 1 = 2 > 1: still no room for another.
    refused(world, lambda: vm(world, offering, plan), ErrorCode.QUOTA_EXCEEDED, QuotaExceededError)


def test_the_tightest_of_the_three_scopes_decides(world: World):
    offering, plan = world.cloud_offering()
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES, 5)
    set_quota(world, ScopeKind.ORGANIZATION, world.consumer.id, QuotaKind.LIVE_RESOURCES, 5)
    set_quota(world, ScopeKind.OFFERING, offering.id, QuotaKind.LIVE_RESOURCES, 1)
    vm(world, offering, plan)
    error = refused(
        world, lambda: vm(world, offering, plan), ErrorCode.QUOTA_EXCEEDED, QuotaExceededError
    )
    assert error.fields["scope_kind"] == "offering"


# --------------------------------------------------------------------------- component limits


def test_a_component_limit_quota_bounds_the_sum_of_the_limits(world: World):
    offering, plan = world.cloud_offering()
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.COMPONENT_LIMIT, 3072, "ram")
    vm(world, offering, plan, ram=1024)
    vm(world, offering, plan, ram=2048)  # 1024 + 2048 = 3072, at the limit
    assert usage_of(world, ScopeKind.PROJECT, world.project.id, QuotaKind.COMPONENT_LIMIT) == 3072

    error = refused(
        world,
        lambda: vm(world, offering, plan, ram=1),
        ErrorCode.QUOTA_EXCEEDED,
        QuotaExceededError,
    )
    # 3072 + 1 = 3073 > 3072
    assert (error.fields["usage"], error.fields["change"]) == ("3072", "1")
    assert error.fields["component"] == "ram"
    # Asking for none of the component adds nothing to its sum.
    assert vm(world, offering, plan, ram=0).state is OrderState.DONE


def test_a_component_limit_quota_counts_only_its_component(world: World):
    offering, plan = world.cloud_offering()
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.COMPONENT_LIMIT, 0, "storage")
    vm(world, offering, plan, ram=4096)  # no storage asked: fine
    refused(world, world.order, ErrorCode.QUOTA_EXCEEDED, QuotaExceededError)  # storage 10 > 0


def test_limit_changes_under_a_component_limit_quota(world: World):
    market = world.marketplace
    offering, plan = world.cloud_offering()
    first = vm(world, offering, plan, ram=1024)
    vm(world, offering, plan, ram=1024)
    set_quota(
        world, ScopeKind.ORGANIZATION, world.consumer.id, QuotaKind.COMPONENT_LIMIT, 2560, "ram"
    )

    # 2048 + (2048 - 1024) = 3072 > 2560
    error = refused(
        world,
        lambda: market.order_limit_change(world.owner.id, first.resource_id, {"ram": 2048}),
        ErrorCode.QUOTA_EXCEEDED,
        QuotaExceededError,
    )
    assert (error.fields["usage"], error.fields["change"]) == ("2048", "1024")
    # 2048 + (1536 - 1024) = 2560, exactly the limit
    market.order_limit_change(world.owner.id, first.resource_id, {"ram": 1536})
    assert (
        usage_of(world, ScopeKind.ORGANIZATION, world.consumer.id, QuotaKind.COMPONENT_LIMIT)
        == 2560
    )

    # Squeeze the quota to 0: every decrease still passes, every increase does not.
    set_quota(world, ScopeKind.ORGANIZATION, world.consumer.id, QuotaKind.COMPONENT_LIMIT, 0, "ram")
    market.order_limit_change(world.owner.id, first.resource_id, {"ram": 512})
    assert market.get_resource(first.resource_id).limits == {"ram": 512}
    refused(
        world,
        lambda: market.order_limit_change(world.owner.id, first.resource_id, {"ram": 513}),
        ErrorCode.QUOTA_EXCEEDED,
        QuotaExceededError,
    )


# --------------------------------------------------------------------------- monthly cost


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        (PlanUnit.MONTH, Decimal("2.5")),  # 2.5 x 1
        (PlanUnit.HALF_MONTH, Decimal("5.0")),  # 2.5 x 2
        (PlanUnit.DAY, Decimal("75.0")),  # 2.5 x 30
        (PlanUnit.HOUR, Decimal("1800.0")),  # 2.5 x 720
    ],
    ids=str,
)
def test_monthly_cost_converts_the_plan_unit(world: World, unit, expected):
    market = world.marketplace
    offering = world.new_offering(name="Units", plugin_type="cloud", components=(BASE,))
    # base 2 + ram 0.5 x 1024 / 1024 = 2.5 per unit
    plan = market.create_plan(
        world.provider_owner.id, offering.id, "P", unit, prices={"base": "2", "ram": "0.5"}
    )
    offering = market.activate_offering(world.staff.id, offering.id)
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.MONTHLY_COST, -1)
    vm(world, offering, plan)
    assert usage_of(world, ScopeKind.PROJECT, world.project.id, QuotaKind.MONTHLY_COST) == expected


def test_a_monthly_cost_quota_refuses_the_create_past_it(world: World):
    offering, plans = priced_offering(world)
    set_quota(world, ScopeKind.ORGANIZATION, world.consumer.id, QuotaKind.MONTHLY_COST, 115)
    vm(world, offering, plans["daily"])  # 2.5/day x 30 = 75
    vm(world, offering, plans["monthly"])  # + 40 = 115, at the limit
    assert usage_of(world, ScopeKind.ORGANIZATION, world.consumer.id, QuotaKind.MONTHLY_COST) == 115

    lab = other_project(world)
    error = refused(
        world,
        lambda: vm(world, offering, plans["monthly"], project=lab),
        ErrorCode.QUOTA_EXCEEDED,
        QuotaExceededError,
    )
    # 115 + 40 = 155 > 115
    assert (Decimal(error.fields["usage"]), Decimal(error.fields["change"])) == (115, 40)


def test_one_time_fees_are_not_monthly_cost(world: World):
    offering, plan = world.cloud_offering()  # Small: ram 0.01/day, setup fee 5
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.MONTHLY_COST, "0.30")
    vm(world, offering, plan)  # 0.01 x 1024/1024 x 30 = 0.30; the setup fee is not monthly
    assert usage_of(world, ScopeKind.PROJECT, world.project.id, QuotaKind.MONTHLY_COST) == Decimal(
        "0.30"
    )
    refused(world, lambda: vm(world, offering, plan), ErrorCode.QUOTA_EXCEEDED, QuotaExceededError)


def test_plan_switches_under_a_monthly_cost_quota(world: World):
    market = world.marketplace
    offering, plans = priced_offering(world)
    on_monthly = vm(world, offering, plans["monthly"]).resource_id  # 40
    on_daily = vm(world, offering, plans["daily"]).resource_id  # 75
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.MONTHLY_COST, 120)

    # monthly -> dear: 115 + (90 - 40) = 165 > 120
    error = refused(
        world,
        lambda: market.order_plan_switch(world.owner.id, on_monthly, plans["dear"].id),
        ErrorCode.QUOTA_EXCEEDED,
        QuotaExceededError,
    )
    assert (Decimal(error.fields["usage"]), Decimal(error.fields["change"])) == (115, 50)

    # daily -> monthly is cheaper: 115 + (40 - 75) = 80
    assert market.order_plan_switch(world.owner.id, on_daily, plans["monthly"].id).state is (
        OrderState.DONE
    )
    assert usage_of(world, ScopeKind.PROJECT, world.project.id, QuotaKind.MONTHLY_COST) == 80
    # monthly -> dear now: 80 + 50 = 130 > 120, still refused
    refused(
        world,
        lambda: market.order_plan_switch(world.owner.id, on_monthly, plans["dear"].id),
        ErrorCode.QUOTA_EXCEEDED,
        QuotaExceededError,
    )
    # monthly -> daily: 80 + (75 - 40) = 115 <= 120
    market.order_plan_switch(world.owner.id, on_monthly, plans["daily"].id)
    assert usage_of(world, ScopeKind.PROJECT, world.project.id, QuotaKind.MONTHLY_COST) == 115


def test_limit_changes_under_a_monthly_cost_quota(world: World):
    market = world.marketplace
    offering, plans = priced_offering(world)
    daily = vm(world, offering, plans["daily"], ram=2048).resource_id  # (2 + 1) x 30 = 90
    set_quota(world, ScopeKind.OFFERING, offering.id, QuotaKind.MONTHLY_COST, 100)

    # ram 4096: (2 + 2) x 30 = 120; 90 + 30 = 120 > 100
    refused(
        world,
        lambda: market.order_limit_change(world.owner.id, daily, {"ram": 4096}),
        ErrorCode.QUOTA_EXCEEDED,
        QuotaExceededError,
    )
    # ram 2560: (2 + 1.25) x 30 = 97.5 <= 100
    market.order_limit_change(world.owner.id, daily, {"ram": 2560})
    assert usage_of(world, ScopeKind.OFFERING, offering.id, QuotaKind.MONTHLY_COST) == Decimal(
        "97.5"
    )
    # Squeezed to 0, a decrease still passes: ram 1024 -> (2 + 0.5) x 30 = 75
    set_quota(world, ScopeKind.OFFERING, offering.id, QuotaKind.MONTHLY_COST, 0)
    market.order_limit_change(world.owner.id, daily, {"ram": 1024})
    assert usage_of(world, ScopeKind.OFFERING, offering.id, QuotaKind.MONTHLY_COST) == 75


# --------------------------------------------------------------------------- list_quotas


def test_list_quotas_reports_each_quota_with_its_usage(world: World):
    market = world.marketplace
    offering, plans = priced_offering(world)
    vm(world, offering, plans["daily"], ram=2048)  # (2 + 1) x 30 = 90 a month
    vm(world, offering, plans["monthly"], ram=1024)  # 40 a month
    gone = vm(world, offering, plans["dear"], ram=4096).resource_id
    market.order_termination(world.owner.id, gone)  # counts for nothing below
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.LIVE_RESOURCES, 10)
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.COMPONENT_LIMIT, -1, "ram")
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.MONTHLY_COST, 500)
    set_quota(world, ScopeKind.ORGANIZATION, world.consumer.id, QuotaKind.LIVE_RESOURCES, 4)

    listed = {
        (s.quota.kind, s.quota.component): (s.quota.limit, s.usage)
        for s in market.list_quotas(ScopeKind.PROJECT, world.project.id)
    }
    assert listed == {
        (QuotaKind.LIVE_RESOURCES, ""): (10, 2),
        (QuotaKind.COMPONENT_LIMIT, "ram"): (-1, 2048 + 1024),
        (QuotaKind.MONTHLY_COST, ""): (500, 90 + 40),
    }
    (org,) = market.list_quotas(ScopeKind.ORGANIZATION, world.consumer.id)
    assert (org.quota.limit, org.usage) == (4, 2)
    assert market.list_quotas(ScopeKind.OFFERING, offering.id) == []


def test_list_quotas_refuses_the_platform(world: World):
    with pytest.raises(ValidationError):
        world.marketplace.list_quotas(ScopeKind.PLATFORM, "")


# --------------------------------------------------------------------------- deny rules


def deny(world: World, subject: ScopeKind, subject_id: str, target: DenyTarget, target_id: str):
    return world.marketplace.add_deny_rule(world.staff.id, subject, subject_id, target, target_id)


@pytest.mark.parametrize("target", list(DenyTarget), ids=str)
@pytest.mark.parametrize("subject", [ScopeKind.ORGANIZATION, ScopeKind.PROJECT], ids=str)
def test_a_deny_rule_refuses_create_orders(world: World, subject, target):
    subject_id = world.consumer.id if subject is ScopeKind.ORGANIZATION else world.project.id
    target_id = world.offering.id if target is DenyTarget.OFFERING else world.offering.category_id
    rule = deny(world, subject, subject_id, target, target_id)

    error = refused(world, world.order, ErrorCode.OFFERING_DENIED, PolicyViolationError)
    assert error.fields["rule_id"] == rule.id
    assert error.fields["offering_id"] == world.offering.id
    assert [e.event.rule_id for e in world.events.events if isinstance(e.event, DenyRuleAdded)] == [
        rule.id
    ]


def test_an_offering_rule_spares_other_offerings_and_a_category_rule_bars_them_all(world: World):
    market = world.marketplace
    same_category, small = world.cloud_offering()  # in the world offering's category
    elsewhere = market.create_category(world.staff.id, "Storage")
    other_category, other_plan = world.cloud_offering(category_id=elsewhere.id)

    deny(world, ScopeKind.PROJECT, world.project.id, DenyTarget.OFFERING, world.offering.id)
    refused(world, world.order, ErrorCode.OFFERING_DENIED, PolicyViolationError)
    vm(world, same_category, small)
    vm(world, other_category, other_plan)

    deny(world, ScopeKind.PROJECT, world.project.id, DenyTarget.CATEGORY, elsewhere.id)
    refused(
        world,
        lambda: vm(world, other_category, other_plan),
        ErrorCode.OFFERING_DENIED,
        PolicyViolationError,
    )
    vm(world, same_category, small)  # its category is not barred


def test_a_project_rule_spares_other_projects_and_an_organization_rule_does_not(world: World):
    offering, plan = world.cloud_offering()
    lab, elsewhere = other_project(world), foreign_project(world)

    deny(world, ScopeKind.PROJECT, world.project.id, DenyTarget.OFFERING, offering.id)
    refused(
        world, lambda: vm(world, offering, plan), ErrorCode.OFFERING_DENIED, PolicyViolationError
    )
    vm(world, offering, plan, project=lab)

    deny(world, ScopeKind.ORGANIZATION, world.consumer.id, DenyTarget.OFFERING, offering.id)
    refused(
        world,
        lambda: vm(world, offering, plan, project=lab),
        ErrorCode.OFFERING_DENIED,
        PolicyViolationError,
    )
    vm(world, offering, plan, project=elsewhere)  # another organization


def test_removing_a_rule_lifts_it(world: World):
    market = world.marketplace
    rule = deny(
        world, ScopeKind.ORGANIZATION, world.consumer.id, DenyTarget.OFFERING, world.offering.id
    )
    assert market.list_deny_rules(ScopeKind.ORGANIZATION, world.consumer.id) == [rule]
    refused(world, world.order, ErrorCode.OFFERING_DENIED, PolicyViolationError)

    market.remove_deny_rule(world.staff.id, rule.id)
    assert world.events.events[-1].event.rule_id == rule.id
    assert isinstance(world.events.events[-1].event, DenyRuleRemoved)
    assert list(market.list_deny_rules(ScopeKind.ORGANIZATION, world.consumer.id)) == []
    assert world.order().state is OrderState.PENDING_PROVIDER
    # It is gone: removing it again is refused.
    refused(
        world,
        lambda: market.remove_deny_rule(world.staff.id, rule.id),
        ErrorCode.NOT_FOUND,
        NotFoundError,
    )


def test_adding_an_existing_rule_returns_it_and_writes_nothing(world: World):
    rule = deny(
        world, ScopeKind.PROJECT, world.project.id, DenyTarget.CATEGORY, world.offering.category_id
    )
    before = snapshot(world.storage)
    published = len(world.events.events)
    again = deny(
        world, ScopeKind.PROJECT, world.project.id, DenyTarget.CATEGORY, world.offering.category_id
    )
    assert again == rule
    assert snapshot(world.storage) == before
    assert world.events.events[published:] == []
    assert len(world.marketplace.list_deny_rules(ScopeKind.PROJECT, world.project.id)) == 1


def test_deny_rules_leave_existing_resources_alone(world: World):
    market = world.marketplace
    offering, small = world.cloud_offering()
    resource_id = vm(world, offering, small).resource_id
    large = market.create_plan(
        world.provider_owner.id, offering.id, "Large", PlanUnit.DAY, prices={"ram": "0.03"}
    )
    deny(world, ScopeKind.PROJECT, world.project.id, DenyTarget.OFFERING, offering.id)
    deny(
        world, ScopeKind.ORGANIZATION, world.consumer.id, DenyTarget.CATEGORY, offering.category_id
    )

    assert market.order_limit_change(world.owner.id, resource_id, {"ram": 2048}).state is (
        OrderState.DONE
    )
    assert market.order_plan_switch(world.owner.id, resource_id, large.id).state is OrderState.DONE
    assert market.order_termination(world.owner.id, resource_id).state is OrderState.DONE
    assert market.get_resource(resource_id).state is ResourceState.TERMINATED


@pytest.mark.parametrize("subject", [ScopeKind.OFFERING, ScopeKind.PLATFORM, "galaxy"], ids=str)
def test_deny_rule_subjects_are_organizations_or_projects(world: World, subject):
    error = refused(
        world,
        lambda: deny(world, subject, world.offering.id, DenyTarget.OFFERING, world.offering.id),
        ErrorCode.INVALID_VALUE,
        ValidationError,
    )
    assert error.fields["field"] == "subject_kind"


@pytest.mark.parametrize("target", list(DenyTarget), ids=str)
def test_a_deny_rule_on_an_unknown_target_is_refused(world: World, target):
    refused(
        world,
        lambda: deny(world, ScopeKind.PROJECT, world.project.id, target, "no-such-thing"),
        ErrorCode.NOT_FOUND,
        NotFoundError,
    )


def test_a_deny_rule_on_a_made_up_target_kind_or_unknown_subject_is_refused(world: World):
    refused(
        world,
        lambda: deny(world, ScopeKind.PROJECT, world.project.id, "provider", world.provider.id),  # type: ignore[arg-type]
        ErrorCode.INVALID_VALUE,
        ValidationError,
    )
    refused(
        world,
        lambda: deny(
            world, ScopeKind.PROJECT, "no-such-project", DenyTarget.OFFERING, world.offering.id
        ),
        ErrorCode.NOT_FOUND,
        NotFoundError,
    )


@pytest.mark.parametrize("who", ["owner", "project_manager", "provider_owner", "outsider"])
def test_only_staff_manage_deny_rules(world: World, who):
    market, actor = world.marketplace, getattr(world, who)
    refused(
        world,
        lambda: market.add_deny_rule(
            actor.id, ScopeKind.PROJECT, world.project.id, DenyTarget.OFFERING, world.offering.id
        ),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    )
    rule = deny(world, ScopeKind.PROJECT, world.project.id, DenyTarget.OFFERING, world.offering.id)
    refused(
        world,
        lambda: market.remove_deny_rule(actor.id, rule.id),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    )
    assert market.list_deny_rules(ScopeKind.PROJECT, world.project.id) == [rule]


# --------------------------------------------------------------------------- open updates


def test_pending_limit_increases_count_against_a_component_limit_quota(world: World):
    market = world.marketplace
    first, second = world.live_basic(), world.live_basic()  # storage 10 each: 20
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.COMPONENT_LIMIT, 30, "storage")
    # 20 + (20 - 10) = 30: fits; it waits for the provider.
    pending = market.order_limit_change(world.owner.id, first.id, {"storage": 20})
    assert pending.state is OrderState.PENDING_PROVIDER
    # With the pending claim, 30 + (20 - 10) = 40 > 30: should be refused. It is placed,
    # and once the provider approves both and they succeed, storage is 40 of a quota of 30.
    refused(
        world,
        lambda: market.order_limit_change(world.owner.id, second.id, {"storage": 20}),
        ErrorCode.QUOTA_EXCEEDED,
        QuotaExceededError,
    )


def test_pending_plan_switches_count_against_a_monthly_cost_quota(world: World):
    market = world.marketplace
    # The world's basic plan: base 100 + storage 0.10 x 10 = 101 a month each.
    first, second = world.live_basic(), world.live_basic()  # 202
    dear = market.create_plan(
        world.provider_owner.id,
        world.offering.id,
        "Premium",
        PlanUnit.MONTH,
        prices={"base": "150", "storage": "0.10"},  # 151 a month with storage 10
    )
    set_quota(world, ScopeKind.PROJECT, world.project.id, QuotaKind.MONTHLY_COST, 260)
    # 202 + (151 - 101) = 252 <= 260: fits; it waits for the provider.
    assert market.order_plan_switch(world.owner.id, first.id, dear.id).state is (
        OrderState.PENDING_PROVIDER
    )
    # With the pending switch, 252 + 50 = 302 > 260: should be refused.
    refused(
        world,
        lambda: market.order_plan_switch(world.owner.id, second.id, dear.id),
        ErrorCode.QUOTA_EXCEEDED,
        QuotaExceededError,
    )
