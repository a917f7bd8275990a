"""A small, readable marketplace for tests, and a snapshot of everything stored."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs

from marketplace_core import (
    BillingType,
    EventLog,
    FixedClock,
    InMemoryStorage,
    LimitPeriod,
    Marketplace,
    Offering,
    OfferingComponent,
    Order,
    Organization,
    Plan,
    PlanUnit,
    PluginCapabilities,
    PluginRegistry,
    Project,
    RecordingNotifier,
    Resource,
    Role,
    SequentialIdGenerator,
    User,
)
from marketplace_core.billing import DEFAULT_ROUNDING, Rounding
from marketplace_core.plugins import register_basic
from marketplace_core.ports import Storage
from marketplace_core.testing import InstantProcessor, ScriptedProcessor

START = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)

CPU = OfferingComponent("cpu", "CPU hours", BillingType.USAGE, measured_unit="hour")
STORAGE = OfferingComponent(
    "storage",
    "Storage",
    BillingType.LIMIT,
    measured_unit="GB",
    min_value=1,
    max_value=1000,
    max_available_limit=5000,
    limit_period=LimitPeriod.MONTH,
    limit_amount=2000,
)
SETUP = OfferingComponent("setup", "Set-up fee", BillingType.ONE_TIME)
BASE = OfferingComponent("base", "Base fee", BillingType.FIXED)


def plugin_registry(cloud: ScriptedProcessor | None = None) -> PluginRegistry:
    """``basic`` (manual fulfilment, provider review), ``static`` (done at once, no limit
    changes) and ``cloud`` (a scripted backend that finishes at once unless told otherwise;
    limit changes; one built-in ``ram`` component)."""
    plugins = PluginRegistry()
    register_basic(plugins)
    plugins.register("static", InstantProcessor())
    plugins.register(
        "cloud",
        cloud or ScriptedProcessor(),
        PluginCapabilities(
            can_update_limits=True,
            components=(OfferingComponent("ram", "RAM", BillingType.LIMIT, factor=1024),),
        ),
    )
    return plugins


@attrs.define
class World:
    """Everything :func:`build_world` made, by role."""

    marketplace: Marketplace
    clock: FixedClock
    events: EventLog
    staff: User
    consumer: Organization
    project: Project
    owner: User
    project_manager: User
    project_admin: User
    project_member: User
    provider: Organization
    provider_owner: User
    offering_manager: User
    outsider: User
    offering: Offering
    plan: Plan
    cloud: ScriptedProcessor
    notifications: RecordingNotifier

    @property
    def storage(self) -> Storage:
        return self.marketplace.storage

    def order(self, actor: User | None = None, **overrides: Any) -> Order:
        """A create order on the world's (basic) offering, by the consumer's owner unless
        ``actor`` says otherwise."""
        arguments: dict[str, Any] = {"limits": {"storage": 10}} | overrides
        return self.marketplace.order_resource(
            (actor or self.owner).id,
            arguments.pop("project_id", self.project.id),
            arguments.pop("offering_id", self.offering.id),
            arguments.pop("plan_id", self.plan.id),
            arguments.pop("name", "My resource"),
            **arguments,
        )

    def cloud_offering(self, **overrides: Any) -> tuple[Offering, Plan]:
        """An active offering of the ``cloud`` plugin (fulfilled by ``self.cloud``, at once
        unless scripted otherwise), with a plan."""
        market = self.marketplace
        offering = self.new_offering(
            name="VMs", plugin_type="cloud", components=(CPU, SETUP), **overrides
        )
        plan = market.create_plan(
            self.provider_owner.id,
            offering.id,
            "Small",
            PlanUnit.DAY,
            prices={"ram": "0.01", "cpu": "0.02", "setup": "5"},
        )
        return market.activate_offering(self.staff.id, offering.id), plan

    def live_vm(self) -> Resource:
        """An ok resource of a fresh ``cloud`` offering (fulfilled at once)."""
        offering, plan = self.cloud_offering()
        order = self.order(offering_id=offering.id, plan_id=plan.id, limits={"ram": 1024})
        return self.marketplace.get_resource(order.resource_id)

    def live_basic(self) -> Resource:
        """An ok resource of the world's basic offering, approved and fulfilled by hand."""
        order = self.order()
        self.marketplace.approve_order_as_provider(self.provider_owner.id, order.id)
        self.marketplace.resource_creation_succeeded(self.provider_owner.id, order.resource_id)
        return self.marketplace.get_resource(order.resource_id)

    def waiting_for_backend(self, kind: str) -> Resource:
        """A basic resource whose ``create``, ``update`` or ``terminate`` order executes
        and waits for the provider to report."""
        market, provider = self.marketplace, self.provider_owner.id
        if kind == "create":
            order = self.order()
        else:
            resource = self.live_basic()
            if kind == "update":
                order = market.order_limit_change(self.owner.id, resource.id, {"storage": 20})
            else:
                order = market.order_termination(self.owner.id, resource.id)
        market.approve_order_as_provider(provider, order.id)
        return market.get_resource(order.resource_id)

    def waiting_order(self, kind: str = "create") -> Order:
        """The executing order of :meth:`waiting_for_backend` (handed to the backend)."""
        resource = self.waiting_for_backend(kind)
        (order,) = [o for o in self.marketplace.list_orders(resource.id) if o.is_open]
        return order

    def new_offering(self, **overrides: Any) -> Offering:
        """A fresh draft offering of the world's provider, created by its owner."""
        arguments: dict[str, Any] = {
            "category_id": self.offering.category_id,
            "components": (CPU, STORAGE),
        } | overrides
        return self.marketplace.create_offering(
            self.provider_owner.id,
            self.provider.id,
            arguments.pop("name", "Another offering"),
            arguments.pop("plugin_type", "basic"),
            **arguments,
        )


def build_world(rounding: Rounding = DEFAULT_ROUNDING) -> World:
    """Build the standard small world on fresh in-memory storage (billing with
    ``rounding``)."""
    clock = FixedClock(START)
    events = EventLog()
    cloud = ScriptedProcessor()
    notifications = RecordingNotifier()
    market = Marketplace(
        InMemoryStorage(),
        clock=clock,
        ids=SequentialIdGenerator(),
        plugins=plugin_registry(cloud),
        event_sink=events,
        notifier=notifications,
        rounding=rounding,
    )
    staff = market.bootstrap_staff_user("root")
    consumer = market.create_organization(staff.id, "University")
    project = market.create_project(staff.id, consumer.id, "Thesis")
    provider = market.create_organization(staff.id, "HPC Center")
    market.register_provider(staff.id, provider.id)
    category = market.create_category(staff.id, "HPC")

    def user_with(username: str, role: Role | None, scope_id: str = "") -> User:
        user = market.create_user(staff.id, username)
        if role is not None:
            market.grant_role(staff.id, user.id, role, scope_id)
        return user

    owner = user_with("alice", Role.ORGANIZATION_OWNER, consumer.id)
    project_manager = user_with("pat", Role.PROJECT_MANAGER, project.id)
    project_admin = user_with("adam", Role.PROJECT_ADMIN, project.id)
    project_member = user_with("mia", Role.PROJECT_MEMBER, project.id)
    provider_owner = user_with("olga", Role.ORGANIZATION_OWNER, provider.id)
    outsider = user_with("eve", None)
    offering = market.create_offering(
        provider_owner.id,
        provider.id,
        "Cluster",
        "basic",
        category_id=category.id,
        components=(CPU, STORAGE, SETUP, BASE),
    )
    offering_manager = user_with("omar", Role.OFFERING_MANAGER, offering.id)
    plan = market.create_plan(
        provider_owner.id,
        offering.id,
        "Standard",
        PlanUnit.MONTH,
        prices={"cpu": Decimal("0.05"), "storage": Decimal("0.10"), "setup": 50, "base": "100"},
    )
    offering = market.activate_offering(staff.id, offering.id)
    return World(
        marketplace=market,
        clock=clock,
        events=events,
        staff=staff,
        consumer=consumer,
        project=project,
        owner=owner,
        project_manager=project_manager,
        project_admin=project_admin,
        project_member=project_member,
        provider=provider,
        provider_owner=provider_owner,
        offering_manager=offering_manager,
        outsider=outsider,
        offering=offering,
        plan=plan,
        cloud=cloud,
        notifications=notifications,
    )


REPOSITORIES = (
    "organization_groups",
    "organizations",
    "projects",
    "users",
    "role_grants",
    "providers",
    "categories",
    "offerings",
    "plans",
    "resources",
    "orders",
    "invoices",
    "invoice_items",
    "usage_reports",
    "credits",
    "policies",
    "monthly_totals",
    "quotas",
    "deny_rules",
)


def snapshot(storage: Storage) -> dict[str, Any]:
    """Everything committed to ``storage``, through the ports only (works for any adapter)."""
    with storage.unit_of_work() as uow:
        state: dict[str, Any] = {name: tuple(getattr(uow, name).all()) for name in REPOSITORIES}
        state["outbox"] = tuple(uow.outbox.read())
    return state
