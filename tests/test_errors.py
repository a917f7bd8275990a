"""The error hierarchy, and a scenario that raises every error code through the real rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import attrs
import pytest

from marketplace_core import (
    BillingType,
    ConflictError,
    ErrorCode,
    InvalidTransitionError,
    MarketplaceError,
    NotFoundError,
    OfferingComponent,
    PermissionDeniedError,
    PolicyViolationError,
    PrivateToOrganization,
    QuotaExceededError,
    ValidationError,
)
from marketplace_core.offerings import (
    check_limit_bounds,
    check_limit_period_amount,
    check_limits_allowed,
    check_offering_limit_cap,
    check_orderable,
)
from tests.support import STORAGE, World, build_world


def test_every_family_is_a_marketplace_error_and_the_fitting_builtin():
    assert issubclass(ValidationError, ValueError)
    assert issubclass(NotFoundError, LookupError)
    assert issubclass(PermissionDeniedError, PermissionError)
    for family in (
        ValidationError,
        NotFoundError,
        PermissionDeniedError,
        InvalidTransitionError,
        ConflictError,
        PolicyViolationError,
        QuotaExceededError,
    ):
        assert issubclass(family, MarketplaceError)


def test_an_error_is_plain_data_too():
    error = ValidationError(ErrorCode.INVALID_VALUE, "name must be non-blank", field="name")
    assert error.to_dict() == {
        "code": "invalid_value",
        "message": "name must be non-blank",
        "fields": {"field": "name"},
    }
    assert str(error) == "name must be non-blank"
    assert repr(error) == "ValidationError('invalid_value', 'name must be non-blank')"
    with pytest.raises(TypeError):
        error.fields["field"] = "other"  # type: ignore[index]


def test_codes_are_unique_snake_case_strings():
    values = [code.value for code in ErrorCode]
    assert len(values) == len(set(values))
    assert all(value == value.lower() and " " not in value for value in values)


def _offering_private_to_provider(world: World):
    world.marketplace.update_offering(
        world.provider_owner.id,
        world.offering.id,
        visibility=PrivateToOrganization(world.provider.id),
    )
    organization = world.marketplace.get_organization(world.consumer.id)
    offering = world.marketplace.get_offering(world.offering.id)
    check_orderable(
        offering,
        [world.plan],
        organization,
        world.project.id,
        provider=world.provider,
        plugin_registered=True,
    )


def _draft_offering_ordered(world: World):
    offering = world.new_offering()
    organization = world.marketplace.get_organization(world.consumer.id)
    check_orderable(
        offering,
        [world.plan],
        organization,
        world.project.id,
        provider=world.provider,
        plugin_registered=True,
    )


def _offering_without(world: World, **changes) -> None:
    offering = attrs.evolve(world.offering, **changes)
    organization = world.marketplace.get_organization(world.consumer.id)
    check_orderable(
        offering,
        [world.plan],
        organization,
        world.project.id,
        provider=world.provider,
        plugin_registered=True,
    )


def _stale_write(world: World) -> None:
    with world.storage.unit_of_work() as first, world.storage.unit_of_work() as second:
        plan = first.plans.get(world.plan.id)
        first.plans.update(attrs.evolve(plan, name="First"))
        first.commit()
        second.plans.update(attrs.evolve(plan, name="Second"))


SCENARIOS: dict[ErrorCode, tuple[type[MarketplaceError], Callable[[World], object]]] = {
    ErrorCode.INVALID_VALUE: (
        ValidationError,
        lambda w: w.marketplace.create_organization(w.staff.id, ""),
    ),
    ErrorCode.NOT_FOUND: (NotFoundError, lambda w: w.marketplace.get_offering("offering-404")),
    ErrorCode.ALREADY_EXISTS: (
        ConflictError,
        lambda w: w.marketplace.create_user(w.staff.id, w.owner.username),
    ),
    ErrorCode.STALE_VERSION: (ConflictError, _stale_write),
    ErrorCode.PERMISSION_DENIED: (
        PermissionDeniedError,
        lambda w: w.marketplace.create_category(w.owner.id, "Mine"),
    ),
    ErrorCode.INVALID_TRANSITION: (
        InvalidTransitionError,
        lambda w: w.marketplace.resume_offering(w.provider_owner.id, w.offering.id),
    ),
    ErrorCode.ORGANIZATION_BLOCKED: (
        ValidationError,
        lambda w: (
            w.marketplace.block_organization(w.staff.id, w.consumer.id),
            w.marketplace.create_project(w.owner.id, w.consumer.id, "P"),
        ),
    ),
    ErrorCode.ORGANIZATION_ARCHIVED: (
        ValidationError,
        lambda w: (
            w.marketplace.archive_organization(w.staff.id, w.consumer.id),
            w.marketplace.create_project(w.owner.id, w.consumer.id, "P"),
        ),
    ),
    ErrorCode.PROVIDER_NOT_REGISTERED: (
        ValidationError,
        lambda w: w.marketplace.create_offering(w.owner.id, w.consumer.id, "O", "basic"),
    ),
    ErrorCode.PLUGIN_NOT_REGISTERED: (
        ValidationError,
        lambda w: w.new_offering(plugin_type="vmware"),
    ),
    ErrorCode.INVALID_COMPONENT_SETTINGS: (
        ValidationError,
        lambda w: w.new_offering(
            components=(OfferingComponent("x", "X", BillingType.FIXED, is_boolean=True),)
        ),
    ),
    ErrorCode.DUPLICATE_COMPONENT: (
        ValidationError,
        lambda w: w.new_offering(components=(STORAGE, STORAGE)),
    ),
    ErrorCode.UNKNOWN_COMPONENT: (
        ValidationError,
        lambda w: w.marketplace.set_plan_prices(w.provider_owner.id, w.plan.id, {"gpu": 1}),
    ),
    ErrorCode.COMPONENT_IN_USE: (
        ValidationError,
        lambda w: w.marketplace.remove_offering_component(
            w.provider_owner.id, w.offering.id, "storage"
        ),
    ),
    ErrorCode.BUILTIN_COMPONENT: (
        ValidationError,
        lambda w: w.marketplace.remove_offering_component(
            w.provider_owner.id, w.new_offering(plugin_type="cloud").id, "ram"
        ),
    ),
    ErrorCode.OFFERING_ARCHIVED: (
        ValidationError,
        lambda w: (
            w.marketplace.archive_offering(w.provider_owner.id, w.offering.id),
            w.marketplace.update_offering(w.provider_owner.id, w.offering.id, name="X"),
        ),
    ),
    ErrorCode.OFFERING_NOT_ACTIVE: (ValidationError, _draft_offering_ordered),
    ErrorCode.OFFERING_WITHOUT_CATEGORY: (
        ValidationError,
        lambda w: _offering_without(w, category_id=None),
    ),
    ErrorCode.OFFERING_WITHOUT_COMPONENTS: (
        ValidationError,
        lambda w: _offering_without(w, components=()),
    ),
    ErrorCode.OFFERING_WITHOUT_PLANS: (
        ValidationError,
        lambda w: w.marketplace.activate_offering(w.staff.id, w.new_offering().id),
    ),
    ErrorCode.OFFERING_NOT_VISIBLE: (ValidationError, _offering_private_to_provider),
    ErrorCode.PLAN_ARCHIVED: (
        ValidationError,
        lambda w: (
            w.marketplace.archive_plan(w.provider_owner.id, w.plan.id),
            w.marketplace.archive_plan(w.provider_owner.id, w.plan.id),
        ),
    ),
    ErrorCode.LIMIT_NOT_ALLOWED: (
        ValidationError,
        lambda w: check_limits_allowed(w.offering, {"cpu": 4}),
    ),
    ErrorCode.LIMIT_OUT_OF_RANGE: (ValidationError, lambda w: check_limit_bounds(STORAGE, 1001)),
    ErrorCode.LIMIT_NOT_BOOLEAN: (
        ValidationError,
        lambda w: check_limit_bounds(
            OfferingComponent("vpn", "VPN", BillingType.LIMIT, is_boolean=True), 2
        ),
    ),
    ErrorCode.LIMIT_PERIOD_AMOUNT_EXCEEDED: (
        ValidationError,
        lambda w: check_limit_period_amount(STORAGE, 600, used_in_period=1500),
    ),
    ErrorCode.OFFERING_LIMIT_CAP_EXCEEDED: (
        ValidationError,
        lambda w: check_offering_limit_cap(STORAGE, 600, allocated_elsewhere=4500),
    ),
}


def test_every_error_code_has_a_scenario():
    assert set(SCENARIOS) == set(ErrorCode)


@pytest.mark.parametrize("code", list(ErrorCode), ids=str)
def test_the_scenario_raises_its_code_from_its_family(code: ErrorCode):
    family, scenario = SCENARIOS[code]
    world = build_world()
    with pytest.raises(MarketplaceError) as caught:
        scenario(world)
    assert caught.value.code is code
    assert type(caught.value) is family
    assert caught.value.message


def test_dates_in_messages_are_iso(world: World):
    with pytest.raises(ValidationError) as caught:
        world.marketplace.create_project(
            world.owner.id,
            world.consumer.id,
            "P",
            start_date=date(2026, 2, 2),
            end_date=date(2026, 2, 1),
        )
    assert "2026-02-01" in caught.value.message
