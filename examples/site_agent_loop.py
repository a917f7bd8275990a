"""A site agent serving a small HPC cluster, against an in-memory marketplace.

Run it with ``python examples/site_agent_loop.py``. It places a few orders, lets an agent
take them from the marketplace and do the work on a toy cluster (one order fails there),
changes a limit, ends a resource, reports CPU hours, and finally runs the agent's polling
loop in a thread while a new order arrives. Every line it prints says what happened.
"""

from __future__ import annotations

import logging
import sys
import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import attrs

from marketplace_core import (
    BillingType,
    FixedClock,
    Marketplace,
    OfferingComponent,
    PlanUnit,
    PluginRegistry,
    Role,
    SequentialIdGenerator,
)
from marketplace_core.errors import BackendError, ErrorCode
from marketplace_core.orders import Order, OrderState
from marketplace_core.plugins.processor import Completed
from marketplace_core.plugins.site_agent import SiteAgent, register_site_agent
from marketplace_core.resources import Resource


class ToyCluster:
    """The site: accounts with a storage quota, and CPU hours used. Idempotent per order
    id, as every site backend must be."""

    def __init__(self) -> None:
        self.accounts: dict[str, int] = {}
        self.cpu_hours: dict[str, Decimal] = {}
        self.created = threading.Event()

    def create(self, order: Order, resource: Resource) -> Completed:
        storage = order.limits.get("storage", 0)
        if storage > 500:
            raise BackendError(
                ErrorCode.BACKEND_FAILED, f"the cluster has no room for {storage} GB"
            )
        account = f"acct-{order.resource_id}"  # derived from the order: a retry finds it
        if account not in self.accounts:
            print(f"  site: sacctmgr add account {account} storage={storage}GB")
            self.accounts[account] = storage
        self.created.set()
        return Completed(backend_id=account, metadata={"cluster": "toy-hpc"})

    def update(self, order: Order, resource: Resource) -> None:
        print(f"  site: sacctmgr modify account {resource.backend_id} limits={dict(order.limits)}")
        self.accounts[resource.backend_id or ""] = order.limits.get("storage", 0)

    def terminate(self, order: Order, resource: Resource) -> None:
        print(f"  site: sacctmgr remove account {resource.backend_id}")
        self.accounts.pop(resource.backend_id or "", None)

    def usage(self, resource: Resource, month: date) -> dict[str, Decimal]:
        return {"cpu": self.cpu_hours.get(resource.backend_id or "", Decimal(0))}


@attrs.frozen
class Scene:
    """The marketplace and who acts in it."""

    market: Marketplace
    researcher: str
    operator: str
    project: str
    offering: str
    plan: str

    def order(self, name: str, storage: int) -> Order:
        """The researcher orders an allocation; the provider approves it."""
        order = self.market.order_resource(
            self.researcher,
            self.project,
            self.offering,
            self.plan,
            name,
            limits={"storage": storage},
        )
        return self.approved(order)

    def approved(self, order: Order) -> Order:
        """The provider approves an order waiting for its review."""
        if order.state is OrderState.PENDING_PROVIDER:
            order = self.market.approve_order_as_provider(self.operator, order.id)
        return order


def build_scene() -> Scene:
    """An in-memory marketplace with a provider selling a site-agent offering."""
    plugins = PluginRegistry()
    register_site_agent(plugins)
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    market = Marketplace(clock=clock, ids=SequentialIdGenerator(), plugins=plugins)
    staff = market.bootstrap_staff_user("staff").id
    university = market.create_organization(staff, "University").id
    project = market.create_project(staff, university, "Climate model").id
    centre = market.create_organization(staff, "HPC centre").id
    market.register_provider(staff, centre)
    researcher = market.create_user(staff, "researcher").id
    market.grant_role(staff, researcher, Role.ORGANIZATION_OWNER, university)
    operator = market.create_user(staff, "operator").id
    market.grant_role(staff, operator, Role.ORGANIZATION_OWNER, centre)
    offering = market.create_offering(
        operator,
        centre,
        "Toy HPC",
        "site-agent",
        category_id=market.create_category(staff, "HPC").id,
        components=(
            OfferingComponent("storage", "Storage", BillingType.LIMIT, measured_unit="GB"),
            OfferingComponent("cpu", "CPU hours", BillingType.USAGE, measured_unit="hour"),
        ),
    ).id
    prices = {"storage": "0.1", "cpu": "0.02"}
    plan = market.create_plan(operator, offering, "Standard", PlanUnit.MONTH, prices=prices).id
    market.activate_offering(staff, offering)
    return Scene(market, researcher, operator, project, offering, plan)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="  agent: %(message)s", stream=sys.stdout)
    scene = build_scene()
    market = scene.market

    print("1. The researcher orders three allocations; the provider approves them.")
    orders = [
        scene.order(name, size) for name, size in (("small", 50), ("big", 200), ("huge", 900))
    ]
    waiting = market.list_claimable_orders(scene.offering)
    print(f"   waiting for an agent: {[order.id for order in waiting]}")

    print("2. The agent takes every waiting order.")
    cluster = ToyCluster()
    agent = SiteAgent(market, scene.operator, scene.offering, "toy-hpc-agent", cluster)
    print(f"   finished {agent.run_once()} orders")
    for order in (market.get_order(order.id) for order in orders):
        print(f"   {order.id}: {order.state.value} {order.error_message}".rstrip())

    print("3. The researcher grows one allocation and ends another.")
    small, big = (order.resource_id for order in orders[:2])
    scene.approved(market.order_limit_change(scene.researcher, small, {"storage": 100}))
    scene.approved(market.order_termination(scene.researcher, big))
    agent.run_once()
    for resource in (market.get_resource(small), market.get_resource(big)):
        print(f"   {resource.id}: {resource.state.value}, limits {dict(resource.limits)}")

    print("4. The cluster's accounting says how many CPU hours were used.")
    cluster.cpu_hours[market.get_resource(small).backend_id or ""] = Decimal("12.5")
    for usage in agent.report_usage().reports:
        print(f"   {usage.resource_id}: {usage.component_type} = {usage.amount}")
    again = agent.report_usage()
    print(f"   reported again: the same {len(again.reports)} report(s), nothing new")

    print("5. The agent runs its polling loop in a thread and takes a new order.")
    order = scene.order("late", 10)
    stop = threading.Event()
    loop = threading.Thread(target=agent.run_forever, args=(stop, 0.05))
    loop.start()
    # The in-memory marketplace is not for concurrent commands, so this thread only waits.
    cluster.created.wait(timeout=10)
    stop.set()  # the loop finishes its pass (the report), then ends
    loop.join()
    print(f"   {order.id}: {market.get_order(order.id).state.value}")


if __name__ == "__main__":
    main()
