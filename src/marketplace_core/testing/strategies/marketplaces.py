"""The marketplace the spec builders run on: the plugins they need, and the ordering world
that order, usage and policy specs are played into."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from marketplace_core.clocks import FixedClock
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.ids import SequentialIdGenerator
from marketplace_core.marketplace import Marketplace
from marketplace_core.offerings import BillingType, OfferingComponent, PlanUnit
from marketplace_core.plugins import PluginRegistry, register_basic
from marketplace_core.plugins.policy_actions import PolicyActionCall
from marketplace_core.ports import Storage
from marketplace_core.roles import Role

SPEC_PLUGIN = "basic"
"""The plugin type the builders give offerings (manual fulfilment, provider review)."""

SPEC_POLICY_ACTION = "specs.record"
"""The custom policy action that drawn policies may name."""

SPEC_START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
"""The clock of :func:`marketplace_for_specs`."""


class RecordingPolicyAction:
    """A custom policy action that remembers its calls (registered as
    :data:`SPEC_POLICY_ACTION`)."""

    def __init__(self) -> None:
        self.runs: list[PolicyActionCall] = []
        self.resets: list[PolicyActionCall] = []

    def run(self, call: PolicyActionCall) -> None:
        """Remember that the action fired."""
        self.runs.append(call)

    def reset(self, call: PolicyActionCall) -> None:
        """Remember that the action was lifted."""
        self.resets.append(call)


def register_spec_plugins(plugins: PluginRegistry) -> None:
    """Register what the builders need in a host's registry: the ``basic`` plugin and the
    custom policy action :data:`SPEC_POLICY_ACTION`."""
    register_basic(plugins, SPEC_PLUGIN)
    plugins.register_policy_action(SPEC_POLICY_ACTION, RecordingPolicyAction())


def marketplace_for_specs(storage: Storage | None = None) -> tuple[Marketplace, str]:
    """A marketplace on ``storage`` (default: in memory) with a fixed clock, sequential ids
    and :func:`register_spec_plugins`; returns it with the id of its staff user."""
    plugins = PluginRegistry()
    register_spec_plugins(plugins)
    market = Marketplace(
        storage, clock=FixedClock(SPEC_START), ids=SequentialIdGenerator(), plugins=plugins
    )
    return market, market.bootstrap_staff_user("spec-staff").id


def movable_clock(market: Marketplace) -> FixedClock:
    """The clock of ``market``, which the stream builders move on (days for the due jobs, a
    month for usage of an earlier month): it must be a :class:`FixedClock`, as in
    :func:`marketplace_for_specs`."""
    clock = market.clock
    if not isinstance(clock, FixedClock):
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"the marketplace's clock is a {type(clock).__name__}; the stream builders move "
            "time and need a FixedClock",
            field="clock",
            value=type(clock).__name__,
            expected="a FixedClock",
        )
    return clock


ORDERING_COMPONENTS = (
    OfferingComponent("storage", "Storage", BillingType.LIMIT, "GB", min_value=1, max_value=1000),
    OfferingComponent("cpu", "CPU hours", BillingType.USAGE, "hour"),
    OfferingComponent("base", "Base fee", BillingType.FIXED),
)
"""The components of the offering order and usage streams run on."""


@attrs.frozen
class OrderingWorld:
    """A consumer project and an active offering (``basic`` unless told) with two plans, for order,
    usage and policy specs. ``owner`` owns the consumer (orders need no consumer review);
    ``admin`` is a project admin (orders wait for the consumer); ``provider_owner``
    approves, rejects and fulfils orders and reports usage."""

    staff_id: str
    consumer_id: str
    project_id: str
    owner_id: str
    admin_id: str
    provider_id: str
    provider_owner_id: str
    offering_id: str
    plan_ids: tuple[str, str]


def build_ordering_world(
    market: Marketplace, staff_id: str, plugin_type: str = SPEC_PLUGIN
) -> OrderingWorld:
    """Create an :class:`OrderingWorld` as ``staff_id``, its offering served by the plugin
    ``plugin_type``."""
    consumer = market.create_organization(staff_id, "Ordering consumer")
    project = market.create_project(staff_id, consumer.id, "Ordering project")
    provider = market.create_organization(staff_id, "Ordering provider")
    market.register_provider(staff_id, provider.id)
    category = market.create_category(staff_id, "Ordering")

    def user(username: str, role: Role, scope_id: str) -> str:
        user_id = market.create_user(staff_id, username).id
        market.grant_role(staff_id, user_id, role, scope_id)
        return user_id

    owner = user("ordering-owner", Role.ORGANIZATION_OWNER, consumer.id)
    admin = user("ordering-admin", Role.PROJECT_ADMIN, project.id)
    provider_owner = user("ordering-provider", Role.ORGANIZATION_OWNER, provider.id)
    offering = market.create_offering(
        staff_id,
        provider.id,
        "Ordering offering",
        plugin_type,
        category_id=category.id,
        components=ORDERING_COMPONENTS,
    )
    plan_prices = ({"storage": "0.10", "cpu": "0.02", "base": "10"}, {"storage": "0.05"})
    small, large = (
        market.create_plan(staff_id, offering.id, name, PlanUnit.MONTH, prices=prices).id
        for name, prices in zip(("Small", "Large"), plan_prices, strict=True)
    )
    market.activate_offering(staff_id, offering.id)
    return OrderingWorld(
        staff_id,
        consumer.id,
        project.id,
        owner,
        admin,
        provider.id,
        provider_owner,
        offering.id,
        (small, large),
    )


def live_resource(market: Marketplace, world: OrderingWorld, name: str) -> str:
    """Order a resource on ``world`` as its owner, approve and fulfil it; returns its id."""
    order = market.order_resource(
        world.owner_id,
        world.project_id,
        world.offering_id,
        world.plan_ids[0],
        name,
        limits={"storage": 10},
    )
    market.approve_order_as_provider(world.provider_owner_id, order.id)
    market.resource_creation_succeeded(world.provider_owner_id, order.resource_id)
    return order.resource_id
