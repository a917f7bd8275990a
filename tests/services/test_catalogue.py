"""The catalogue commands through the facade: who may run them, what they store, what they emit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketplace_core import (
    BillingType,
    ConflictError,
    ErrorCode,
    InvalidTransitionError,
    LimitedTo,
    NotFoundError,
    OfferingComponent,
    OfferingOptions,
    OfferingState,
    PermissionDeniedError,
    PlanUnit,
    PrivateToOrganization,
    PrivateToProject,
    Shared,
    ValidationError,
)
from tests.support import CPU, World, snapshot


def last_event(world: World):
    return world.events.events[-1].event


# --------------------------------------------------------------------------- providers


def test_registering_a_provider_needs_staff(world: World):
    other = world.marketplace.create_organization(world.staff.id, "Lab")
    with pytest.raises(PermissionDeniedError):
        world.marketplace.register_provider(world.owner.id, other.id)
    provider = world.marketplace.register_provider(world.staff.id, other.id)
    assert provider.id == other.id
    assert last_event(world).event_type == "ProviderRegistered"


def test_an_organization_is_registered_as_provider_once(world: World):
    with pytest.raises(ConflictError) as caught:
        world.marketplace.register_provider(world.staff.id, world.provider.id)
    assert caught.value.code is ErrorCode.ALREADY_EXISTS


def test_a_blocked_organization_cannot_become_a_provider(world: World):
    world.marketplace.block_organization(world.staff.id, world.consumer.id)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.register_provider(world.staff.id, world.consumer.id)
    assert caught.value.code is ErrorCode.ORGANIZATION_BLOCKED


# --------------------------------------------------------------------------- offerings


def test_a_new_offering_starts_in_draft_with_the_plugins_builtin_components_first(world: World):
    offering = world.new_offering(plugin_type="cloud", components=(CPU,))
    assert offering.state is OfferingState.DRAFT
    assert [c.type for c in offering.components] == ["ram", "cpu"]
    event = last_event(world)
    assert (event.event_type, event.offering_id, event.plugin_type) == (
        "OfferingCreated",
        offering.id,
        "cloud",
    )


def test_only_the_providers_owners_create_its_offerings(world: World):
    with pytest.raises(PermissionDeniedError) as caught:
        world.marketplace.create_offering(world.owner.id, world.provider.id, "X", "basic")
    assert caught.value.fields["permission"] == "offering.create"


def test_an_organization_must_be_a_registered_provider_to_offer(world: World):
    with pytest.raises(ValidationError) as caught:
        world.marketplace.create_offering(world.owner.id, world.consumer.id, "X", "basic")
    assert caught.value.code is ErrorCode.PROVIDER_NOT_REGISTERED


def test_an_offering_needs_a_registered_plugin_type(world: World):
    with pytest.raises(ValidationError) as caught:
        world.new_offering(plugin_type="openstack")
    assert caught.value.code is ErrorCode.PLUGIN_NOT_REGISTERED
    assert "'basic'" in caught.value.message


def test_an_offering_refuses_a_component_type_twice(world: World):
    with pytest.raises(ValidationError) as caught:
        world.new_offering(components=(CPU, CPU))
    assert caught.value.code is ErrorCode.DUPLICATE_COMPONENT


def test_an_offering_refuses_a_category_that_does_not_exist(world: World):
    with pytest.raises(NotFoundError) as caught:
        world.new_offering(category_id="category-404")
    assert caught.value.fields == {"entity": "category", "id": "category-404"}


@pytest.mark.parametrize(
    "visibility",
    [
        LimitedTo(organization_ids=frozenset({"organization-404"})),
        LimitedTo(organization_group_ids=frozenset({"group-404"})),
        PrivateToOrganization("organization-404"),
        PrivateToProject("project-404"),
    ],
)
def test_visibility_must_name_things_that_exist(world: World, visibility):
    with pytest.raises(NotFoundError):
        world.new_offering(visibility=visibility)


@pytest.mark.parametrize(
    "visibility",
    [LimitedTo(), LimitedTo(organization_ids={"organization-1"}), "everyone", None.__class__],
)
def test_malformed_visibility_is_refused(world: World, visibility):
    with pytest.raises(ValidationError) as caught:
        world.marketplace.update_offering(
            world.provider_owner.id, world.offering.id, visibility=visibility
        )
    assert caught.value.code is ErrorCode.INVALID_VALUE
    assert caught.value.fields["field"] == "visibility"


def test_options_must_be_offering_options_of_booleans(world: World):
    with pytest.raises(ValidationError) as caught:
        world.new_offering(options=OfferingOptions(auto_approve_in_service_provider_projects="yes"))  # type: ignore[arg-type]
    assert caught.value.fields["field"] == "options.auto_approve_in_service_provider_projects"
    with pytest.raises(ValidationError):
        world.new_offering(options={"needs_provider_review": True})


def test_updating_an_offering_changes_only_what_was_passed_and_says_what_changed(world: World):
    before = world.offering
    updated = world.marketplace.update_offering(
        world.offering_manager.id,
        world.offering.id,
        description="Now with GPUs",
        visibility=PrivateToOrganization(world.consumer.id),
    )
    assert updated.description == "Now with GPUs"
    assert updated.visibility == PrivateToOrganization(world.consumer.id)
    assert (updated.name, updated.components, updated.version) == (
        before.name,
        before.components,
        before.version + 1,
    )
    assert last_event(world).changes == ("description", "visibility")


def test_an_update_that_changes_nothing_writes_nothing(world: World):
    before = snapshot(world.storage)
    same = world.marketplace.update_offering(
        world.provider_owner.id, world.offering.id, name=world.offering.name
    )
    assert same == world.offering
    assert snapshot(world.storage) == before


def test_an_archived_offering_is_frozen(world: World):
    world.marketplace.archive_offering(world.provider_owner.id, world.offering.id)
    for change in (
        lambda: world.marketplace.update_offering(
            world.provider_owner.id, world.offering.id, name="X"
        ),
        lambda: world.marketplace.add_offering_component(
            world.provider_owner.id,
            world.offering.id,
            OfferingComponent("gpu", "GPU", BillingType.USAGE),
        ),
        lambda: world.marketplace.create_plan(
            world.provider_owner.id, world.offering.id, "Late", PlanUnit.DAY
        ),
    ):
        with pytest.raises(ValidationError) as caught:
            change()
        assert caught.value.code is ErrorCode.OFFERING_ARCHIVED


# --------------------------------------------------------------------------- offering lifecycle


def test_activation_is_for_staff_by_default(world: World):
    offering = world.new_offering()
    world.marketplace.create_plan(world.provider_owner.id, offering.id, "Basic", PlanUnit.MONTH)
    with pytest.raises(PermissionDeniedError) as caught:
        world.marketplace.activate_offering(world.provider_owner.id, offering.id)
    assert caught.value.fields["permission"] == "offering.activate"
    assert (
        world.marketplace.activate_offering(world.staff.id, offering.id).state
        is OfferingState.ACTIVE
    )


def test_activation_needs_a_plan_that_is_not_archived(world: World):
    offering = world.new_offering()
    with pytest.raises(ValidationError) as caught:
        world.marketplace.activate_offering(world.staff.id, offering.id)
    assert caught.value.code is ErrorCode.OFFERING_WITHOUT_PLANS
    plan = world.marketplace.create_plan(world.provider_owner.id, offering.id, "P", PlanUnit.DAY)
    world.marketplace.archive_plan(world.provider_owner.id, plan.id)
    with pytest.raises(ValidationError):
        world.marketplace.activate_offering(world.staff.id, offering.id)


def test_resuming_also_needs_a_plan_that_is_not_archived(world: World):
    world.marketplace.pause_offering(world.provider_owner.id, world.offering.id)
    world.marketplace.archive_plan(world.provider_owner.id, world.plan.id)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.resume_offering(world.provider_owner.id, world.offering.id)
    assert caught.value.code is ErrorCode.OFFERING_WITHOUT_PLANS


def test_a_blocked_provider_cannot_activate_or_resume(world: World):
    world.marketplace.pause_offering(world.provider_owner.id, world.offering.id)
    world.marketplace.block_organization(world.staff.id, world.provider.id)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.resume_offering(world.provider_owner.id, world.offering.id)
    assert caught.value.code is ErrorCode.ORGANIZATION_BLOCKED


def test_pause_resume_archive_record_each_move(world: World):
    market, owner = world.marketplace, world.provider_owner.id
    market.pause_offering(owner, world.offering.id)
    market.resume_offering(owner, world.offering.id)
    archived = market.archive_offering(owner, world.offering.id)
    moves = [
        (e.event.event, e.event.source, e.event.target)
        for e in world.events.events
        if e.event.event_type == "OfferingStateChanged" and e.event.offering_id == world.offering.id
    ]
    assert moves == [
        ("activate", "draft", "active"),
        ("pause", "active", "paused"),
        ("resume", "paused", "active"),
        ("archive", "active", "archived"),
    ]
    assert archived.state is OfferingState.ARCHIVED


def test_an_archived_offering_never_moves_again(world: World):
    world.marketplace.archive_offering(world.provider_owner.id, world.offering.id)
    with pytest.raises(InvalidTransitionError) as caught:
        world.marketplace.activate_offering(world.staff.id, world.offering.id)
    assert (caught.value.event, caught.value.state) == ("activate", "archived")


# --------------------------------------------------------------------------- components


GPU = OfferingComponent("gpu", "GPU hours", BillingType.USAGE, measured_unit="hour")


def test_adding_a_component_keeps_the_others_and_emits_an_event(world: World):
    offering = world.marketplace.add_offering_component(
        world.offering_manager.id, world.offering.id, GPU
    )
    assert [c.type for c in offering.components][-1] == "gpu"
    assert len(offering.components) == len(world.offering.components) + 1
    assert last_event(world).component_type == "gpu"


def test_a_component_with_contradictory_settings_is_refused(world: World):
    broken = OfferingComponent("gpu", "GPU", BillingType.USAGE, max_value=10)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.add_offering_component(world.provider_owner.id, world.offering.id, broken)
    assert caught.value.code is ErrorCode.INVALID_COMPONENT_SETTINGS
    assert caught.value.fields["setting"] == "max_value"


def test_updating_a_component_replaces_its_settings(world: World):
    wider = OfferingComponent(
        "storage", "Storage", BillingType.LIMIT, measured_unit="GB", max_value=4000
    )
    offering = world.marketplace.update_offering_component(
        world.provider_owner.id, world.offering.id, wider
    )
    assert offering.component("storage") == wider


def test_updating_an_unknown_component_is_refused(world: World):
    with pytest.raises(ValidationError) as caught:
        world.marketplace.update_offering_component(world.provider_owner.id, world.offering.id, GPU)
    assert caught.value.code is ErrorCode.UNKNOWN_COMPONENT


def test_a_builtin_component_can_be_tuned_but_not_rebilled_or_removed(world: World):
    offering = world.new_offering(plugin_type="cloud", components=())
    tuned = OfferingComponent("ram", "RAM", BillingType.LIMIT, factor=1024, max_value=64)
    assert (
        world.marketplace.update_offering_component(
            world.provider_owner.id, offering.id, tuned
        ).component("ram")
        == tuned
    )
    rebilled = OfferingComponent("ram", "RAM", BillingType.USAGE)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.update_offering_component(world.provider_owner.id, offering.id, rebilled)
    assert caught.value.code is ErrorCode.BUILTIN_COMPONENT
    with pytest.raises(ValidationError) as caught:
        world.marketplace.remove_offering_component(world.provider_owner.id, offering.id, "ram")
    assert caught.value.code is ErrorCode.BUILTIN_COMPONENT


def test_a_component_priced_by_a_plan_cannot_be_removed(world: World):
    with pytest.raises(ValidationError) as caught:
        world.marketplace.remove_offering_component(
            world.provider_owner.id, world.offering.id, "cpu"
        )
    assert caught.value.code is ErrorCode.COMPONENT_IN_USE
    assert caught.value.fields["plan_id"] == world.plan.id


def test_an_unpriced_component_can_be_removed(world: World):
    market = world.marketplace
    market.add_offering_component(world.provider_owner.id, world.offering.id, GPU)
    offering = market.remove_offering_component(world.provider_owner.id, world.offering.id, "gpu")
    assert offering.component("gpu") is None
    assert last_event(world).event_type == "OfferingComponentRemoved"


# --------------------------------------------------------------------------- plans


def test_a_plan_prices_components_exactly(world: World):
    plan = world.marketplace.create_plan(
        world.provider_owner.id,
        world.offering.id,
        "Premium",
        "month",
        prices={"cpu": "0.1", "storage": 2},
        amounts={"base": 4},
        max_amount=10,
    )
    assert plan.unit is PlanUnit.MONTH
    assert plan.price_of("cpu") == Decimal("0.1")
    assert plan.price_of("setup") == 0
    assert plan.amount_of("base") == 4
    assert plan.max_amount == 10
    assert world.marketplace.list_plans(world.offering.id)[-1] == plan


@pytest.mark.parametrize(
    ("prices", "amounts", "code"),
    [
        ({"gpu": 1}, {}, ErrorCode.UNKNOWN_COMPONENT),
        ({"cpu": 0.5}, {}, ErrorCode.INVALID_VALUE),
        ({"cpu": "-1"}, {}, ErrorCode.INVALID_VALUE),
        ({"cpu": "NaN"}, {}, ErrorCode.INVALID_VALUE),
        ({}, {"cpu": 2}, ErrorCode.INVALID_VALUE),
        ({}, {"base": -1}, ErrorCode.INVALID_VALUE),
        ({}, {"gpu": 1}, ErrorCode.UNKNOWN_COMPONENT),
    ],
)
def test_bad_prices_and_amounts_are_refused(world: World, prices, amounts, code):
    before = snapshot(world.storage)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.create_plan(
            world.provider_owner.id,
            world.offering.id,
            "Bad",
            PlanUnit.DAY,
            prices=prices,
            amounts=amounts,
        )
    assert caught.value.code is code
    assert snapshot(world.storage) == before


def test_a_plan_unit_must_be_known(world: World):
    with pytest.raises(ValidationError) as caught:
        world.marketplace.create_plan(world.provider_owner.id, world.offering.id, "X", "fortnight")
    assert caught.value.fields["field"] == "unit"


def test_a_plan_capacity_is_at_least_one(world: World):
    with pytest.raises(ValidationError):
        world.marketplace.create_plan(
            world.provider_owner.id, world.offering.id, "X", PlanUnit.DAY, max_amount=0
        )


def test_setting_prices_replaces_them_and_scheduling_keeps_them_until_next_month(world: World):
    market, owner = world.marketplace, world.provider_owner.id
    scheduled = market.schedule_plan_prices(owner, world.plan.id, {"cpu": "0.07"})
    assert scheduled.price_of("cpu") == Decimal("0.05")
    assert scheduled.future_prices == {"cpu": Decimal("0.07")}
    assert last_event(world).event_type == "PlanFuturePricesScheduled"
    replaced = market.set_plan_prices(owner, world.plan.id, {"cpu": "0.06"})
    assert dict(replaced.prices) == {"cpu": Decimal("0.06")}
    assert last_event(world).prices == {"cpu": Decimal("0.06")}


def test_an_archived_plan_refuses_every_change(world: World):
    market, owner = world.marketplace, world.provider_owner.id
    archived = market.archive_plan(owner, world.plan.id)
    assert archived.archived
    for change in (
        lambda: market.archive_plan(owner, world.plan.id),
        lambda: market.set_plan_prices(owner, world.plan.id, {"cpu": 1}),
        lambda: market.schedule_plan_prices(owner, world.plan.id, {"cpu": 1}),
        lambda: market.update_plan(owner, world.plan.id, name="Renamed"),
    ):
        with pytest.raises(ValidationError) as caught:
            change()
        assert caught.value.code is ErrorCode.PLAN_ARCHIVED


def test_updating_a_plan_emits_what_changed(world: World):
    plan = world.marketplace.update_plan(
        world.provider_owner.id, world.plan.id, name="Standard 2026", max_amount=None
    )
    assert plan.name == "Standard 2026"
    assert last_event(world).changes == ("name",)


def test_plans_are_managed_by_the_provider_not_the_consumer(world: World):
    with pytest.raises(PermissionDeniedError):
        world.marketplace.set_plan_prices(world.owner.id, world.plan.id, {"cpu": 0})


# --------------------------------------------------------------------------- orderability


def test_a_project_sees_the_shared_active_offering(world: World):
    assert world.marketplace.list_orderable_offerings(world.project.id) == [world.offering]


def test_a_draft_or_paused_offering_is_not_orderable(world: World):
    world.new_offering()
    world.marketplace.pause_offering(world.provider_owner.id, world.offering.id)
    assert world.marketplace.list_orderable_offerings(world.project.id) == []


def test_an_offering_limited_to_a_group_is_orderable_by_its_members_only(world: World):
    market, staff = world.marketplace, world.staff.id
    group = market.create_organization_group(staff, "Nordic universities")
    market.update_offering(
        world.provider_owner.id,
        world.offering.id,
        visibility=LimitedTo(organization_group_ids=frozenset({group.id})),
    )
    assert market.list_orderable_offerings(world.project.id) == []
    market.set_organization_group(staff, world.consumer.id, group.id)
    assert [o.id for o in market.list_orderable_offerings(world.project.id)] == [world.offering.id]


def test_an_offering_private_to_a_project_is_hidden_from_its_sibling_projects(world: World):
    market = world.marketplace
    sibling = market.create_project(world.owner.id, world.consumer.id, "Sibling")
    market.update_offering(
        world.provider_owner.id, world.offering.id, visibility=PrivateToProject(world.project.id)
    )
    assert len(market.list_orderable_offerings(world.project.id)) == 1
    assert market.list_orderable_offerings(sibling.id) == []


def test_queries_read_what_commands_stored(world: World):
    market = world.marketplace
    assert market.get_offering(world.offering.id) == world.offering
    assert market.get_plan(world.plan.id) == world.plan
    assert market.list_offerings() == [world.offering]
    assert market.list_offerings(world.consumer.id) == []
    assert [c.title for c in market.list_categories()] == ["HPC"]
    assert market.get_category(world.offering.category_id).title == "HPC"
    assert Shared() == world.offering.visibility


def test_a_priced_component_keeps_its_billing_type(world: World):
    rebilled = OfferingComponent("storage", "Storage", BillingType.USAGE)
    with pytest.raises(ValidationError) as caught:
        world.marketplace.update_offering_component(
            world.provider_owner.id, world.offering.id, rebilled
        )
    assert caught.value.code is ErrorCode.COMPONENT_IN_USE
    world.marketplace.add_offering_component(world.provider_owner.id, world.offering.id, GPU)
    fixed_gpu = OfferingComponent("gpu", "GPU hours", BillingType.FIXED)
    offering = world.marketplace.update_offering_component(
        world.provider_owner.id, world.offering.id, fixed_gpu
    )
    assert offering.component("gpu") == fixed_gpu


def test_a_blocked_provider_sells_nothing_new_but_may_wind_down(world: World):
    market, owner = world.marketplace, world.provider_owner.id
    market.block_organization(world.staff.id, world.provider.id)
    assert market.list_orderable_offerings(world.project.id) == []
    for widen in (
        lambda: market.create_plan(owner, world.offering.id, "More", PlanUnit.DAY),
        lambda: market.set_plan_prices(owner, world.plan.id, {"cpu": 1}),
        lambda: market.update_offering(owner, world.offering.id, description="Still here"),
        lambda: market.add_offering_component(owner, world.offering.id, GPU),
    ):
        with pytest.raises(ValidationError) as caught:
            widen()
        assert caught.value.code is ErrorCode.ORGANIZATION_BLOCKED
    assert market.archive_plan(owner, world.plan.id).archived
    assert market.archive_offering(owner, world.offering.id).state is OfferingState.ARCHIVED


def test_a_blocked_consumer_may_order_nothing(world: World):
    world.marketplace.block_organization(world.staff.id, world.consumer.id)
    assert world.marketplace.list_orderable_offerings(world.project.id) == []


def test_setting_the_same_prices_writes_nothing(world: World):
    before = snapshot(world.storage)
    same = world.marketplace.set_plan_prices(
        world.provider_owner.id, world.plan.id, dict(world.plan.prices)
    )
    assert same == world.plan
    assert snapshot(world.storage) == before


def test_plugin_options_are_json_and_stored_frozen(world: World):
    offering = world.new_offering(plugin_options={"create": ["provision.sh", "--quick"]})
    assert offering.plugin_options == {"create": ("provision.sh", "--quick")}
    with pytest.raises(ValidationError) as caught:
        world.marketplace.update_offering(
            world.provider_owner.id, offering.id, plugin_options={"timeout": Decimal(3)}
        )
    assert caught.value.fields["field"] == "plugin_options['timeout']"
