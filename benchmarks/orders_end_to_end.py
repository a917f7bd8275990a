"""Benchmark: create orders end to end on the in-memory storage.

Each order is placed by an organization owner (so the consumer review is automatic), needs no
provider review, is processed at once by a synchronous processor, and ends ``done`` with its
resource ``ok``: two units of work per order (placement, processing). The second figure is
the cost of loading 100,000 stored resources and firing one lifecycle event on each.

Run: ``python benchmarks/orders_end_to_end.py [ORDERS]`` (default 20,000).
Targets (issue #3): at least 30,000 orders/s; 100,000 resources loaded and fired in under 1 s.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

from marketplace_core import (
    BillingType,
    FixedClock,
    InMemoryStorage,
    Marketplace,
    OfferingComponent,
    OrderState,
    PlanUnit,
    PluginRegistry,
    ResourceState,
    Role,
    SequentialIdGenerator,
)
from marketplace_core.resources import Resource, ResourceEvent
from marketplace_core.testing import InstantProcessor

START = datetime(2026, 1, 1, tzinfo=UTC)


def build() -> tuple[Marketplace, str, str, str, str]:
    """A marketplace with one instant offering, one plan, and a consumer owner."""
    plugins = PluginRegistry()
    plugins.register("instant", InstantProcessor())
    market = Marketplace(
        InMemoryStorage(), clock=FixedClock(START), ids=SequentialIdGenerator(), plugins=plugins
    )
    return (market, *catalogue(market))


def catalogue(market: Marketplace) -> tuple[str, str, str, str]:
    """Publish one offering of the ``instant`` plugin with one plan, and make a consumer
    organization whose owner orders: returns the ids of the owner, project, offering, plan."""
    root = market.bootstrap_staff_user("root")
    provider = market.create_organization(root.id, "Provider")
    market.register_provider(root.id, provider.id)
    category = market.create_category(root.id, "Compute")
    offering = market.create_offering(
        root.id,
        provider.id,
        "VMs",
        "instant",
        category_id=category.id,
        components=[OfferingComponent("vm", "VM", BillingType.FIXED)],
    )
    plan = market.create_plan(root.id, offering.id, "Small", PlanUnit.MONTH, prices={"vm": 10})
    market.activate_offering(root.id, offering.id)
    consumer = market.create_organization(root.id, "Consumer")
    owner = market.create_user(root.id, "owner")
    market.grant_role(root.id, owner.id, Role.ORGANIZATION_OWNER, consumer.id)
    project = market.create_project(owner.id, consumer.id, "Project")
    return owner.id, project.id, offering.id, plan.id


def orders_per_second(count: int) -> tuple[float, float]:
    """Place and process ``count`` orders; returns (orders per second, µs per order)."""
    market, owner, project, offering, plan = build()
    started = time.perf_counter()
    for _ in range(count):
        order = market.order_resource(owner, project, offering, plan, "vm")
    elapsed = time.perf_counter() - started
    assert order.state is OrderState.DONE
    assert market.get_resource(order.resource_id).state is ResourceState.OK
    assert order.cost == Decimal(10)
    return count / elapsed, elapsed / count * 1e6


def bare_dict_orders_per_second(count: int) -> float:
    """The same steps on plain dicts, no rules engine: the yardstick the issue compares with.

    Check the actor's role, the offering and the plan; create the resource and the order;
    approve both sides; run a synchronous backend; mark the order done and the resource ok;
    append an event per step.
    """
    roles = {("owner", "organization"): "owner"}
    offerings = {"offering": {"state": "active", "plan_ids": {"plan"}}}
    plans = {"plan": {"price": Decimal(10), "archived": False}}
    resources: dict[str, dict[str, object]] = {}
    orders: dict[str, dict[str, object]] = {}
    events: list[tuple[str, str]] = []
    started = time.perf_counter()
    for number in range(count):
        if roles.get(("owner", "organization")) != "owner":
            raise PermissionError
        offering, plan = offerings["offering"], plans["plan"]
        if offering["state"] != "active" or plan["archived"]:
            raise ValueError
        resource_id, order_id = f"resource-{number}", f"order-{number}"
        resources[resource_id] = {"state": "creating", "plan": "plan", "cost": plan["price"]}
        orders[order_id] = {"state": "pending-consumer", "resource": resource_id}
        events.append(("OrderPlaced", order_id))
        orders[order_id] |= {"state": "executing", "consumer_review": "auto"}
        events.append(("OrderStateChanged", order_id))
        resources[resource_id] |= {"state": "ok", "backend_id": f"backend-{resource_id}"}
        orders[order_id] |= {"state": "done"}
        events.append(("OrderStateChanged", order_id))
    return count / (time.perf_counter() - started)


def load_and_fire(count: int = 100_000) -> float:
    """Seconds to load ``count`` stored resources and fire one event on each."""
    storage = InMemoryStorage()
    with storage.unit_of_work() as uow:
        for number in range(count):
            uow.resources.add(
                Resource(
                    id=f"resource-{number}",
                    name="r",
                    project_id="project",
                    offering_id="offering",
                    created_at=START,
                    plan_id="plan",
                )
            )
        uow.commit()
    started = time.perf_counter()
    with storage.unit_of_work() as uow:
        fired = [resource.fire(ResourceEvent.SUCCEED) for resource in uow.resources.all()]
    elapsed = time.perf_counter() - started
    assert len(fired) == count and fired[-1].state is ResourceState.OK
    return elapsed


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    rate, micros = orders_per_second(count)
    print(f"orders end to end: {count} orders, {rate:,.0f} orders/s, {micros:.1f} µs/order")
    print("  target: at least 30,000 orders/s")
    bare = bare_dict_orders_per_second(count)
    print(f"the same steps on bare dicts: {bare:,.0f} orders/s ({bare / rate:.0f}x faster)")
    seconds = load_and_fire()
    print(f"load 100,000 resources and fire one event each: {seconds:.3f} s")
    print("  target: under 1 s")


if __name__ == "__main__":
    main()
