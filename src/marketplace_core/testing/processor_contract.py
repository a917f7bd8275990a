"""The processor contract suite: the tests every plugin's processor must pass.

A plugin author subclasses :class:`ProcessorContract`, says how to build the processor and
how to drive its backend, and inherits the tests: validation refuses before anything is
stored (for an invalid order, and for an offering with invalid plugin options); create,
limit change, plan switch and termination reach the backend and finish the
order; a processor handed the same order twice does the work once; callbacks delivered twice
count once; a backend failure leaves the order erred with the backend's message, never a
traceback; an erred order can be retried. ::

    class TestMyPlugin(ProcessorContract):
        def make_plugin(self):
            return MyProcessor(self.backend), MY_CAPABILITIES

        def backend_ids(self):
            return set(self.backend.resources)

        def fail_next_backend_call(self):
            self.backend.fail_next("disk full")
            return "disk full"

The base class is a :class:`unittest.TestCase`, so it runs under unittest and pytest alike;
it is not collected itself, only its subclasses are. An asynchronous backend also
overrides :meth:`ProcessorContract.finish_backend_work` to let the backend report back.
"""

from __future__ import annotations

import abc
import unittest
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

import attrs

from marketplace_core.clocks import FixedClock
from marketplace_core.errors import ValidationError
from marketplace_core.ids import SequentialIdGenerator
from marketplace_core.marketplace import Marketplace
from marketplace_core.offerings import BillingType, Offering, OfferingComponent, Plan, PlanUnit
from marketplace_core.orders import Order, OrderState
from marketplace_core.organizations import Project
from marketplace_core.plugins.processor import ProcessingRequest, Processor
from marketplace_core.plugins.registry import PluginCapabilities, PluginRegistry
from marketplace_core.resources import Resource, ResourceState
from marketplace_core.roles import Role
from marketplace_core.users import User

CONTRACT_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""When the contract world starts (its clock is a :class:`FixedClock`)."""

BASE_FEE = OfferingComponent("base", "Base fee", BillingType.FIXED)
"""The component a contract offering has when the plugin declares none."""


@attrs.define
class ContractWorld:
    """A marketplace with one offering of the plugin under test, ready to order from.

    ``provider`` owns the offering's provider (it may fulfil and report usage); ``consumer``
    owns the organization of ``project``. ``plan`` and ``other_plan`` are plans of
    ``offering``; ``clock`` can be moved forward.
    """

    market: Marketplace
    clock: FixedClock
    staff: User
    provider: User
    consumer: User
    project: Project
    offering: Offering
    plan: Plan
    other_plan: Plan


def build_contract_world(
    plugin_type: str,
    processor: Processor,
    capabilities: PluginCapabilities,
    *,
    components: tuple[OfferingComponent, ...] = (),
    plugin_options: Mapping[str, Any] | None = None,
    prices: Mapping[str, Decimal] | None = None,
) -> ContractWorld:
    """A marketplace on in-memory storage with ``processor`` registered as
    ``plugin_type``, and an active offering of it with two plans."""
    plugins = PluginRegistry()
    plugins.register(plugin_type, processor, capabilities)
    clock = FixedClock(CONTRACT_START)
    market = Marketplace(clock=clock, ids=SequentialIdGenerator(), plugins=plugins)
    staff = market.bootstrap_staff_user("staff")
    consumer_organization = market.create_organization(staff.id, "Consumer")
    project = market.create_project(staff.id, consumer_organization.id, "Project")
    provider_organization = market.create_organization(staff.id, "Provider")
    market.register_provider(staff.id, provider_organization.id)
    category = market.create_category(staff.id, "Contract")
    provider = market.create_user(staff.id, "provider")
    market.grant_role(staff.id, provider.id, Role.ORGANIZATION_OWNER, provider_organization.id)
    consumer = market.create_user(staff.id, "consumer")
    market.grant_role(staff.id, consumer.id, Role.ORGANIZATION_OWNER, consumer_organization.id)
    offering, plan, other_plan = add_offering(
        market,
        staff,
        provider,
        provider_organization.id,
        category.id,
        "Offering under test",
        plugin_type,
        components=components or (() if capabilities.components else (BASE_FEE,)),
        plugin_options=plugin_options or {},
        prices=prices,
    )
    return ContractWorld(
        market, clock, staff, provider, consumer, project, offering, plan, other_plan
    )


def add_offering(
    market: Marketplace,
    staff: User,
    provider: User,
    provider_organization_id: str,
    category_id: str,
    name: str,
    plugin_type: str,
    *,
    components: tuple[OfferingComponent, ...],
    plugin_options: Mapping[str, Any],
    prices: Mapping[str, Decimal] | None = None,
) -> tuple[Offering, Plan, Plan]:
    """An active offering of ``provider``'s organization with two month plans, "Small" and
    "Large" (every component at 1 unless ``prices`` says otherwise)."""
    offering = market.create_offering(
        provider.id,
        provider_organization_id,
        name,
        plugin_type,
        category_id=category_id,
        components=components,
        plugin_options=plugin_options,
    )
    every_price = prices or {c.type: Decimal("1") for c in offering.components}
    plan = market.create_plan(provider.id, offering.id, "Small", PlanUnit.MONTH, prices=every_price)
    other_plan = market.create_plan(
        provider.id, offering.id, "Large", PlanUnit.MONTH, prices=every_price
    )
    return market.activate_offering(staff.id, offering.id), plan, other_plan


class ProcessorContract(unittest.TestCase, abc.ABC):
    """The tests a processor must pass; subclass it and implement the hooks."""

    __test__: ClassVar[bool] = False
    plugin_type: ClassVar[str] = "under-test"
    """The plugin type the processor is registered under in the contract world."""

    world: ContractWorld

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__test__" not in cls.__dict__:
            cls.__test__ = True

    # ----------------------------------------------------------------- hooks to implement

    @abc.abstractmethod
    def make_plugin(self) -> tuple[Processor, PluginCapabilities]:
        """The processor under test, with a fresh backend, and its capabilities."""

    @abc.abstractmethod
    def backend_ids(self) -> set[str]:
        """The backend ids of the resources the backend holds now."""

    @abc.abstractmethod
    def fail_next_backend_call(self) -> str:
        """Make the backend fail the next create, update or terminate; return text the
        erred order's message must contain."""

    # ----------------------------------------------------------------- hooks to override

    def offering_components(self) -> tuple[OfferingComponent, ...]:
        """Components of the offering beyond the plugin's built-in ones (default: a fixed
        base fee when the plugin declares none)."""
        return ()

    def plugin_options(self) -> Mapping[str, Any]:
        """The offering's ``plugin_options`` (default: none)."""
        return {}

    def order_limits(self) -> Mapping[str, int]:
        """The limits of a create order (default: none)."""
        return {}

    def order_attributes(self) -> Mapping[str, Any]:
        """The attributes of a create order (default: none)."""
        return {}

    def new_limits(self) -> Mapping[str, int] | None:
        """Limits to change a resource to, or ``None`` to skip the limit-change test."""
        return None

    def backend_limits(self, resource: Resource) -> Mapping[str, int] | None:
        """The limits the backend holds for ``resource``, or ``None`` if it cannot tell."""
        return None

    def invalid_order(self) -> Mapping[str, Any] | None:
        """Keyword arguments of ``order_resource`` (``limits``, ``attributes``) that the
        processor's ``validate`` refuses, or ``None`` to skip that test."""
        return None

    def invalid_plugin_options(self) -> Mapping[str, Any] | None:
        """``plugin_options`` of an offering whose orders the processor's ``validate``
        refuses, or ``None`` to skip that test."""
        return None

    def finish_backend_work(self, order: Order) -> None:
        """Let an asynchronous backend finish ``order`` and report through the marketplace
        (default: nothing; the processor answers at once)."""

    # ----------------------------------------------------------------- the world

    def setUp(self) -> None:
        processor, capabilities = self.make_plugin()
        self.processor = processor
        self.capabilities = capabilities
        self.world = build_contract_world(
            self.plugin_type,
            processor,
            capabilities,
            components=self.offering_components(),
            plugin_options=self.plugin_options(),
        )

    def settle(self, order: Order) -> Order:
        """Approve ``order`` as the provider if it waits for that, let the backend finish,
        and return the order as it ends up."""
        market, provider = self.world.market, self.world.provider.id
        if market.get_order(order.id).state is OrderState.PENDING_PROVIDER:
            market.approve_order_as_provider(provider, order.id)
        if market.get_order(order.id).state is OrderState.EXECUTING:
            self.finish_backend_work(market.get_order(order.id))
        return market.get_order(order.id)

    def order_resource(self, **overrides: Any) -> Order:
        """Place a create order as the consumer and settle it."""
        world = self.world
        arguments: dict[str, Any] = {
            "limits": dict(self.order_limits()),
            "attributes": dict(self.order_attributes()),
        } | overrides
        order = world.market.order_resource(
            world.consumer.id,
            world.project.id,
            world.offering.id,
            world.plan.id,
            "contract resource",
            **arguments,
        )
        return self.settle(order)

    def live_resource(self) -> Resource:
        """A resource created through the processor and ok."""
        order = self.order_resource()
        self.assertIs(order.state, OrderState.DONE, order.error_message)
        return self.world.market.get_resource(order.resource_id)

    def event_count(self) -> int:
        """How many events the marketplace has committed."""
        return len(self.world.market.events())

    # ----------------------------------------------------------------- the contract

    def test_validate_refuses_an_invalid_order_and_stores_nothing(self) -> None:
        invalid = self.invalid_order()
        if invalid is None:
            self.skipTest("the plugin names no invalid order")
        world, before = self.world, self.event_count()
        with self.assertRaises(ValidationError):
            self.order_resource(**invalid)
        self.assertEqual(self.event_count(), before)
        self.assertEqual(world.market.list_resources(world.project.id), [])
        self.assertEqual(self.backend_ids(), set())

    def test_validate_refuses_orders_of_a_misconfigured_offering_and_stores_nothing(
        self,
    ) -> None:
        options = self.invalid_plugin_options()
        if options is None:
            self.skipTest("the plugin names no invalid plugin options")
        world = self.world
        offering, plan, _ = add_offering(
            world.market,
            world.staff,
            world.provider,
            world.offering.provider_id,
            world.offering.category_id or "",
            "Misconfigured offering",
            self.plugin_type,
            components=world.offering.components[len(self.capabilities.components) :],
            plugin_options=options,
        )
        before = self.event_count()
        with self.assertRaises(ValidationError):
            world.market.order_resource(
                world.consumer.id,
                world.project.id,
                offering.id,
                plan.id,
                "misconfigured resource",
                limits=dict(self.order_limits()),
                attributes=dict(self.order_attributes()),
            )
        self.assertEqual(self.event_count(), before)
        self.assertEqual(world.market.list_resources(world.project.id), [])
        self.assertEqual(self.backend_ids(), set())

    def test_create_puts_the_resource_on_the_backend(self) -> None:
        resource = self.live_resource()
        self.assertIs(resource.state, ResourceState.OK)
        self.assertTrue(resource.backend_id, "the resource has no backend id")
        self.assertEqual(self.backend_ids(), {resource.backend_id})

    def test_an_order_handed_over_twice_is_created_once(self) -> None:
        resource = self.live_resource()
        market = self.world.market
        (order,) = market.list_orders(resource.id)
        # A worker crashed after the backend call and before the commit: the order and its
        # resource are handed over again as they were before the first call.
        request = ProcessingRequest(
            attrs.evolve(order, state=OrderState.EXECUTING, completed_at=None),
            attrs.evolve(
                resource,
                state=ResourceState.CREATING,
                backend_id="",
                backend_metadata={},
                activated_at=None,
            ),
            market.get_offering(resource.offering_id),
            market.get_plan(self.world.plan.id),
        )
        self.processor.create(request)
        self.finish_backend_work(order)
        self.assertEqual(self.backend_ids(), {resource.backend_id})

    def test_a_termination_handed_over_twice_is_done_once(self) -> None:
        resource = self.live_resource()
        market = self.world.market
        order = self.settle(market.order_termination(self.world.consumer.id, resource.id))
        self.assertIs(order.state, OrderState.DONE, order.error_message)
        # A worker crashed after the backend call and before the commit: the termination is
        # handed over again, and removing what is already gone must succeed.
        request = ProcessingRequest(
            attrs.evolve(order, state=OrderState.EXECUTING, completed_at=None),
            attrs.evolve(resource, state=ResourceState.TERMINATING),
            market.get_offering(resource.offering_id),
            market.get_plan(order.plan_id) if order.plan_id else None,
        )
        self.processor.terminate(request)
        self.finish_backend_work(order)
        self.assertEqual(self.backend_ids(), set())

    def test_a_limit_change_reaches_the_backend(self) -> None:
        limits = self.new_limits()
        if limits is None or not self.capabilities.can_update_limits:
            self.skipTest("the plugin does not change limits")
        resource = self.live_resource()
        market = self.world.market
        order = market.order_limit_change(self.world.consumer.id, resource.id, limits)
        order = self.settle(order)
        self.assertIs(order.state, OrderState.DONE, order.error_message)
        resource = market.get_resource(resource.id)
        self.assertEqual(dict(resource.limits), dict(limits))
        self.assertIs(resource.state, ResourceState.OK)
        on_backend = self.backend_limits(resource)
        if on_backend is not None:
            self.assertEqual(dict(on_backend), dict(limits))

    def test_a_plan_switch_completes(self) -> None:
        resource = self.live_resource()
        market = self.world.market
        order = market.order_plan_switch(
            self.world.consumer.id, resource.id, self.world.other_plan.id
        )
        order = self.settle(order)
        self.assertIs(order.state, OrderState.DONE, order.error_message)
        resource = market.get_resource(resource.id)
        self.assertEqual(resource.plan_id, self.world.other_plan.id)
        self.assertIs(resource.state, ResourceState.OK)

    def test_termination_removes_the_resource_from_the_backend(self) -> None:
        resource = self.live_resource()
        market = self.world.market
        order = self.settle(market.order_termination(self.world.consumer.id, resource.id))
        self.assertIs(order.state, OrderState.DONE, order.error_message)
        self.assertIs(market.get_resource(resource.id).state, ResourceState.TERMINATED)
        self.assertEqual(self.backend_ids(), set())

    def test_callbacks_delivered_twice_count_once(self) -> None:
        resource = self.live_resource()
        market, provider = self.world.market, self.world.provider.id
        before = self.event_count()
        (order,) = market.list_orders(resource.id)
        again = market.resource_creation_succeeded(provider, resource.id)
        self.finish_backend_work(order)
        self.assertEqual(again, market.get_order(order.id))
        self.assertIs(again.state, OrderState.DONE)
        self.assertEqual(self.event_count(), before)

    def test_a_failed_create_errs_the_order_with_the_backend_message(self) -> None:
        expected = self.fail_next_backend_call()
        order = self.order_resource()
        self.assertIs(order.state, OrderState.ERRED)
        self.assertIn(expected, order.error_message)
        self.assertNotIn("Traceback", order.error_message)
        resource = self.world.market.get_resource(order.resource_id)
        self.assertIs(resource.state, ResourceState.ERRED)
        self.assertIn(expected, resource.error_message)

    def test_a_failed_termination_keeps_the_resource(self) -> None:
        resource = self.live_resource()
        market = self.world.market
        expected = self.fail_next_backend_call()
        order = self.settle(market.order_termination(self.world.consumer.id, resource.id))
        self.assertIs(order.state, OrderState.ERRED)
        self.assertIn(expected, order.error_message)
        self.assertIs(market.get_resource(resource.id).state, ResourceState.OK)
        self.assertEqual(self.backend_ids(), {resource.backend_id})

    def test_an_erred_order_can_be_retried(self) -> None:
        self.fail_next_backend_call()
        order = self.order_resource()
        self.assertIs(order.state, OrderState.ERRED)
        market = self.world.market
        order = self.settle(market.retry_order(self.world.consumer.id, order.id))
        self.assertIs(order.state, OrderState.DONE, order.error_message)
        resource = market.get_resource(order.resource_id)
        self.assertIs(resource.state, ResourceState.OK)
        self.assertEqual(self.backend_ids(), {resource.backend_id})
