"""The error hierarchy, and a scenario that raises every error code through the real rules."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from marketplace_core import (
    ActionKind,
    BackendError,
    BillingType,
    ConflictError,
    DenyTarget,
    ErrorCode,
    InvalidTransitionError,
    LimitPeriod,
    MarketplaceError,
    NotFoundError,
    OfferingComponent,
    PermissionDeniedError,
    PlanUnit,
    PolicyAction,
    PolicyMetric,
    PolicyPeriod,
    PolicyViolationError,
    PrivateToOrganization,
    QuotaExceededError,
    QuotaKind,
    ScopeKind,
    ValidationError,
)
from marketplace_core.billing.usage import check_usage_cap
from marketplace_core.offerings import (
    check_limit_bounds,
    check_limit_period_amount,
    check_limits_allowed,
    check_offering_limit_cap,
    check_orderable,
)
from marketplace_core.plugins import ProcessingRequest
from marketplace_core.plugins.script import ScriptProcessor
from marketplace_core.testing import Outcome
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
        BackendError,
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


def _order_from(world: World, offering) -> None:
    check_orderable(
        offering,
        [world.plan],
        world.marketplace.get_organization(world.consumer.id),
        world.project.id,
        provider=world.provider,
        plugin_registered=True,
    )


def _offering_private_to_provider(world: World):
    world.marketplace.update_offering(
        world.provider_owner.id,
        world.offering.id,
        visibility=PrivateToOrganization(world.provider.id),
    )
    _order_from(world, world.marketplace.get_offering(world.offering.id))


def _draft_offering_ordered(world: World):
    _order_from(world, world.new_offering())


def _offering_without(world: World, **changes) -> None:
    _order_from(world, attrs.evolve(world.offering, **changes))


def _vm_order(world: World):
    offering, plan = world.cloud_offering()
    return world.order(offering_id=offering.id, plan_id=plan.id, limits={"ram": 1024})


def _live_vm(world: World):
    return world.marketplace.get_resource(_vm_order(world).resource_id)


def _live_static(world: World):
    offering = world.new_offering(plugin_type="static")
    plan = world.marketplace.create_plan(world.provider_owner.id, offering.id, "P", "month")
    world.marketplace.activate_offering(world.staff.id, offering.id)
    order = world.order(offering_id=offering.id, plan_id=plan.id)
    return world.marketplace.get_resource(order.resource_id)


def _live_basic(world: World):
    order = world.order()
    world.marketplace.approve_order_as_provider(world.provider_owner.id, order.id)
    world.marketplace.resource_creation_succeeded(world.provider_owner.id, order.resource_id)
    return world.marketplace.get_resource(order.resource_id)


def _stale_write(world: World) -> None:
    with world.storage.unit_of_work() as first, world.storage.unit_of_work() as second:
        plan = first.plans.get(world.plan.id)
        first.plans.update(attrs.evolve(plan, name="First"))
        first.commit()
        second.plans.update(attrs.evolve(plan, name="Second"))


def _retry_outdated(world: World):
    vm = _live_vm(world)
    world.cloud.then(Outcome.RAISE)
    erred = world.marketplace.order_limit_change(world.owner.id, vm.id, {"ram": 2048})
    world.marketplace.order_limit_change(world.owner.id, vm.id, {"ram": 4096})
    world.marketplace.retry_order(world.owner.id, erred.id)


CAPPED_GPU = OfferingComponent(
    "gpu", "GPU hours", BillingType.USAGE, limit_period=LimitPeriod.MONTH, limit_amount=10
)


def _live_basic_id(world: World) -> str:
    return world.live_basic().id


def _report_cpu(
    world: World, resource_id: str, amount: int, key: str, month: date | None = None
) -> object:
    return world.marketplace.report_usage(
        world.provider_owner.id, resource_id, "cpu", amount, idempotency_key=key, month=month
    )


def _over_a_blocking_policy(world: World, block: ActionKind) -> str:
    """A live resource whose project's monthly spending policy (limit 10) has fired
    ``block``: January already costs 105.55."""
    resource = world.live_basic()
    world.marketplace.create_policy(
        world.owner.id,
        ScopeKind.PROJECT,
        world.project.id,
        PolicyMetric.ESTIMATED_COST,
        PolicyPeriod.MONTH,
        [PolicyAction(block)],
        limit=10,
    )
    return resource.id


def _report_after_the_run(world: World) -> object:
    resource_id = _live_basic_id(world)
    world.clock.set(datetime(2026, 2, 1, 1, tzinfo=UTC))
    world.marketplace.run_billing()
    return _report_cpu(world, resource_id, 1, "late", month=date(2026, 1, 1))


def _report_less_after_a_switch(world: World) -> object:
    vm = _live_vm(world)
    other = world.marketplace.create_plan(
        world.provider_owner.id, vm.offering_id, "Large", PlanUnit.DAY, prices={"cpu": "0.03"}
    )
    _report_cpu(world, vm.id, 10, "before")
    world.marketplace.order_plan_switch(world.owner.id, vm.id, other.id)
    return _report_cpu(world, vm.id, 5, "after")


SCRIPTS = Path(__file__).parent / "plugins" / "scripts"


def _run_script(
    world: World, environment: dict[str, str], program: str = "emit.py", timeout: float = 30.0
) -> object:
    """Run a test program as the ``create`` program of the world's offering."""
    processor = ScriptProcessor(SCRIPTS, timeout=timeout, environment=environment)
    order = world.waiting_order()
    offering = attrs.evolve(
        world.offering, plugin_options={"create": program, "terminate": "emit.py"}
    )
    resource = world.marketplace.get_resource(order.resource_id)
    return processor.create(ProcessingRequest(order, resource, offering, world.plan))


def _run_sleeper(world: World) -> object:
    with tempfile.TemporaryDirectory() as directory:
        return _run_script(world, {"PIDS_TO": f"{directory}/pids"}, "sleeper.py", 0.3)


def _claim_twice(world: World) -> object:
    order = world.waiting_order()
    world.marketplace.claim_order(world.provider_owner.id, order.id, "agent-1")
    return world.marketplace.claim_order(world.provider_owner.id, order.id, "agent-2")


def _claim_undispatched(world: World) -> object:
    world.marketplace.process_immediately = False
    order = world.order()
    world.marketplace.approve_order_as_provider(world.provider_owner.id, order.id)
    return world.marketplace.claim_order(world.provider_owner.id, order.id, "agent-1")


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
    ErrorCode.PROJECT_ENDED: (
        ValidationError,
        lambda w: (
            w.marketplace.update_project(w.owner.id, w.project.id, end_date=date(2026, 1, 31)),
            w.clock.set(datetime(2026, 2, 1, tzinfo=UTC)),
            w.order(),
        ),
    ),
    ErrorCode.PLAN_OF_ANOTHER_OFFERING: (
        ValidationError,
        lambda w: w.order(plan_id=w.cloud_offering()[1].id),
    ),
    ErrorCode.PLAN_CAPACITY_REACHED: (
        ValidationError,
        lambda w: (
            w.marketplace.update_plan(w.provider_owner.id, w.plan.id, max_amount=1),
            w.order(),
            w.order(),
        ),
    ),
    ErrorCode.PLAN_UNCHANGED: (
        ValidationError,
        lambda w: w.marketplace.order_plan_switch(w.owner.id, (vm := _live_vm(w)).id, vm.plan_id),
    ),
    ErrorCode.LIMITS_UNCHANGED: (
        ValidationError,
        lambda w: w.marketplace.order_limit_change(w.owner.id, _live_vm(w).id, {"ram": 1024}),
    ),
    ErrorCode.LIMITS_NOT_UPDATABLE: (
        ValidationError,
        lambda w: w.marketplace.order_limit_change(w.owner.id, _live_static(w).id, {"storage": 20}),
    ),
    ErrorCode.ORDER_IN_PROGRESS: (
        ValidationError,
        lambda w: w.marketplace.order_termination(
            w.owner.id,
            w.marketplace.order_limit_change(
                w.owner.id, _live_basic(w).id, {"storage": 20}
            ).resource_id,
        ),
    ),
    ErrorCode.RESOURCE_NOT_READY: (
        ValidationError,
        lambda w: w.marketplace.order_limit_change(
            w.owner.id,
            w.marketplace.reject_order(w.provider_owner.id, w.order().id).resource_id,
            {},
        ),
    ),
    ErrorCode.ORDER_NOT_CANCELABLE: (
        ValidationError,
        lambda w: (
            w.cloud.then(Outcome.LATER),
            w.marketplace.cancel_order(w.owner.id, _vm_order(w).id),
        ),
    ),
    ErrorCode.ORDER_NOT_EXECUTING: (
        ValidationError,
        lambda w: w.marketplace.process_order(w.order().id),
    ),
    ErrorCode.ORDER_OUTDATED: (ValidationError, _retry_outdated),
    ErrorCode.NO_EXECUTING_ORDER: (
        ValidationError,
        lambda w: w.marketplace.resource_update_succeeded(w.provider_owner.id, _live_vm(w).id),
    ),
    ErrorCode.END_DATE_TOO_SOON: (
        ValidationError,
        lambda w: w.marketplace.schedule_termination(
            w.provider_owner.id, _live_vm(w).id, date(2026, 1, 20)
        ),
    ),
    ErrorCode.END_DATE_SET_BY_PROVIDER: (
        ValidationError,
        lambda w: w.marketplace.set_resource_end_date(
            w.owner.id,
            w.marketplace.schedule_termination(
                w.provider_owner.id, _live_vm(w).id, date(2026, 2, 1)
            ).id,
            None,
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
    ErrorCode.IDEMPOTENCY_KEY_REUSED: (
        ConflictError,
        lambda w: [_report_cpu(w, _live_basic_id(w), amount, "same-key") for amount in (5, 6)],
    ),
    ErrorCode.COMPONENT_NOT_REPORTABLE: (
        ValidationError,
        lambda w: w.marketplace.report_usage(
            w.provider_owner.id, _live_basic_id(w), "base", 1, idempotency_key="k"
        ),
    ),
    ErrorCode.RESOURCE_NOT_REPORTABLE: (
        ValidationError,
        lambda w: _report_cpu(w, w.order().resource_id, 1, "k"),
    ),
    ErrorCode.PERIOD_OUTSIDE_LIVE_TIME: (
        ValidationError,
        lambda w: _report_cpu(w, _live_basic_id(w), 1, "k", month=date(2025, 12, 1)),
    ),
    ErrorCode.PERIOD_CLOSED: (ValidationError, _report_after_the_run),
    ErrorCode.USAGE_CAP_EXCEEDED: (
        ValidationError,
        lambda w: check_usage_cap(CAPPED_GPU, Decimal(8), used_elsewhere=Decimal(5)),
    ),
    ErrorCode.USAGE_BELOW_BILLED: (ValidationError, _report_less_after_a_switch),
    ErrorCode.POLICY_ACTION_NOT_AVAILABLE: (
        ValidationError,
        lambda w: w.marketplace.create_policy(
            w.provider_owner.id,
            ScopeKind.OFFERING,
            w.offering.id,
            PolicyMetric.ESTIMATED_COST,
            PolicyPeriod.MONTH,
            [PolicyAction(ActionKind.TERMINATE_RESOURCES)],
            limit=10,
        ),
    ),
    ErrorCode.POLICY_BLOCKS_CREATION: (
        PolicyViolationError,
        lambda w: _over_a_blocking_policy(w, ActionKind.BLOCK_CREATION) and w.order(),
    ),
    ErrorCode.POLICY_BLOCKS_MODIFICATION: (
        PolicyViolationError,
        lambda w: w.marketplace.order_limit_change(
            w.owner.id, _over_a_blocking_policy(w, ActionKind.BLOCK_MODIFICATION), {"storage": 20}
        ),
    ),
    ErrorCode.OFFERING_DENIED: (
        PolicyViolationError,
        lambda w: (
            w.marketplace.add_deny_rule(
                w.staff.id,
                ScopeKind.ORGANIZATION,
                w.consumer.id,
                DenyTarget.OFFERING,
                w.offering.id,
            )
            and w.order()
        ),
    ),
    ErrorCode.QUOTA_EXCEEDED: (
        QuotaExceededError,
        lambda w: (
            w.marketplace.set_quota(
                w.staff.id, ScopeKind.PROJECT, w.project.id, QuotaKind.LIVE_RESOURCES, 0
            )
            and w.order()
        ),
    ),
    ErrorCode.BACKEND_FAILED: (
        BackendError,
        lambda w: _run_script(w, {"EMIT_EXIT": "3", "EMIT_STDERR": "no capacity"}),
    ),
    ErrorCode.BACKEND_TIMED_OUT: (BackendError, _run_sleeper),
    ErrorCode.BACKEND_BAD_RESPONSE: (
        BackendError,
        lambda w: _run_script(w, {"EMIT_STDOUT": "created it!"}),
    ),
    ErrorCode.USAGE_NOT_PULLABLE: (
        ValidationError,
        lambda w: w.marketplace.pull_usage(w.provider_owner.id, w.offering.id),
    ),
    ErrorCode.ORDER_NOT_DISPATCHED: (ValidationError, _claim_undispatched),
    ErrorCode.ORDER_CLAIMED: (ConflictError, _claim_twice),
    ErrorCode.CLAIM_NOT_HELD: (
        ConflictError,
        lambda w: w.marketplace.report_claimed_order_done(
            w.provider_owner.id, w.waiting_order().id, "agent-1"
        ),
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
