"""Benchmark: the cost of one policy trigger with few and with many items in the period.

A project holds ``N`` invoice items in the current month (one fixed-fee item on each of ``N``
resources, written straight into storage with the matching monthly total) and a monthly
estimated-cost policy with a warning threshold. Each trigger is a usage report on one more
resource of the project: it updates that resource's usage item, the monthly totals of the
project, its organization and the offering, and evaluates the policy, all in one command.

Run: ``python benchmarks/policies.py``. Target (issue #5): the time per trigger with 100,000
items in the period within 1.5x of the time with 100.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal

from marketplace_core import (
    ActionKind,
    BillingType,
    FixedClock,
    InMemoryStorage,
    InvoiceItem,
    ItemKind,
    Marketplace,
    OfferingComponent,
    PlanUnit,
    PluginRegistry,
    PolicyAction,
    PolicyMetric,
    PolicyPeriod,
    Resource,
    ResourceState,
    Role,
    ScopeKind,
    SequentialIdGenerator,
)
from marketplace_core.policies import MonthlyTotal, monthly_total_id
from marketplace_core.testing import InstantProcessor

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
MONTH = date(2026, 3, 1)
TRIGGERS = 2000


def build(items: int) -> tuple[Marketplace, str, str]:
    """A marketplace whose project has ``items`` items this month, a policy, and a live
    resource to report on; returns the marketplace, the reporter and that resource."""
    plugins = PluginRegistry()
    plugins.register("instant", InstantProcessor())
    market = Marketplace(
        InMemoryStorage(), clock=FixedClock(NOW), ids=SequentialIdGenerator(), plugins=plugins
    )
    root = market.bootstrap_staff_user("root")
    provider = market.create_organization(root.id, "Provider")
    market.register_provider(root.id, provider.id)
    category = market.create_category(root.id, "HPC")
    components = [
        OfferingComponent("node", "Node", BillingType.FIXED),
        OfferingComponent("cpu", "CPU hours", BillingType.USAGE),
    ]
    offering = market.create_offering(
        root.id, provider.id, "Cluster", "instant", category_id=category.id, components=components
    )
    plan = market.create_plan(
        root.id, offering.id, "P", PlanUnit.MONTH, prices={"node": 1, "cpu": "0.01"}
    )
    market.activate_offering(root.id, offering.id)
    consumer = market.create_organization(root.id, "Consumer")
    project = market.create_project(root.id, consumer.id, "P")
    reporter = market.create_user(root.id, "agent")
    market.grant_role(root.id, reporter.id, Role.ORGANIZATION_MANAGER, provider.id)
    order = market.order_resource(root.id, project.id, offering.id, plan.id, "measured")
    with market.storage.unit_of_work() as uow:
        for number in range(items):
            resource = uow.resources.add(
                Resource(
                    id=f"r-{number}",
                    name="r",
                    project_id=project.id,
                    offering_id=offering.id,
                    created_at=NOW,
                    plan_id=plan.id,
                    state=ResourceState.OK,
                    activated_at=NOW,
                )
            )
            uow.invoice_items.add(
                InvoiceItem(
                    id=f"item-{number}",
                    invoice_id="invoice",
                    organization_id=consumer.id,
                    project_id=project.id,
                    resource_id=resource.id,
                    offering_id=offering.id,
                    plan_id=plan.id,
                    component_type="node",
                    kind=ItemKind.FIXED,
                    name="node",
                    month=MONTH,
                    unit=PlanUnit.MONTH,
                    unit_price=Decimal(1),
                    quantity=Decimal(1),
                    price=Decimal(1),
                    start=NOW,
                    end=NOW,
                    billed_from=NOW,
                    billed_to=NOW,
                )
            )
        for kind, scope_id in (
            (ScopeKind.PROJECT, project.id),
            (ScopeKind.ORGANIZATION, consumer.id),
            (ScopeKind.OFFERING, offering.id),
        ):
            total_id = monthly_total_id(kind, scope_id, MONTH)
            stored = uow.monthly_totals.find(total_id)
            extra = Decimal(items)
            if stored is None:
                uow.monthly_totals.add(MonthlyTotal(total_id, kind, scope_id, MONTH, extra))
            else:
                uow.monthly_totals.update(
                    MonthlyTotal(
                        total_id,
                        kind,
                        scope_id,
                        MONTH,
                        stored.cost + extra,
                        stored.usage,
                        version=stored.version,
                    )
                )
        uow.commit()
    market.create_policy(
        root.id,
        ScopeKind.PROJECT,
        project.id,
        PolicyMetric.ESTIMATED_COST,
        PolicyPeriod.MONTH,
        [PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS, percent=Decimal(80))],
        limit=Decimal(10) ** 9,
    )
    return market, reporter.id, order.resource_id


def seconds_per_trigger(items: int) -> float:
    """The mean time of one trigger with ``items`` items in the period."""
    market, reporter, resource_id = build(items)
    started = time.perf_counter()
    for number in range(TRIGGERS):
        market.report_usage(reporter, resource_id, "cpu", number + 1, idempotency_key=str(number))
    return (time.perf_counter() - started) / TRIGGERS


def main() -> None:
    few = seconds_per_trigger(100)
    many = seconds_per_trigger(100_000)
    print(f"one trigger with 100 items in the period: {few * 1e6:.0f} µs")
    print(f"one trigger with 100,000 items in the period: {many * 1e6:.0f} µs")
    print(f"ratio: {many / few:.2f} (target: at most 1.5)")


if __name__ == "__main__":
    main()
