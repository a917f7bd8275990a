"""Benchmark: the monthly billing run and usage ingestion on the in-memory storage.

The world: 1,000 organizations with one project each, 100 resources per project (100,000 in
all) on one offering with three components (a fixed fee, metered CPU hours, a storage
limit) and a month-unit plan. The resources are stored live since December (set up directly
in storage, not through orders, so set-up stays quick), and January's run has opened their
January items.

1. The billing run for the new month: make scheduled prices current, open 200,000 items
   (fixed and limit) for 100,000 resources, and issue the 1,000 invoices of the previous
   month. Target (issue #4): under 2 s.
2. Usage ingestion: reports in batches (``report_usages``, one unit of work per batch),
   each a month-to-date total that updates its usage item. Target: at least 50,000 reports/s.

Run: ``python benchmarks/billing.py [RESOURCES]`` (default 100,000).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal

from marketplace_core import (
    BillingType,
    FixedClock,
    InMemoryStorage,
    LimitPeriod,
    Marketplace,
    OfferingComponent,
    PlanUnit,
    PluginRegistry,
    Resource,
    ResourceState,
    Role,
    SequentialIdGenerator,
    UsageLine,
)
from marketplace_core.organizations import Organization, Project
from marketplace_core.testing import InstantProcessor

SET_UP_AT = datetime(2025, 12, 10, tzinfo=UTC)
BILLED_MONTH = date(2026, 2, 1)
PER_PROJECT = 100


def build(resources: int) -> tuple[Marketplace, FixedClock, str, list[str]]:
    """The world described above; returns the marketplace, its clock, the provider's owner
    and the resource ids."""
    clock = FixedClock(SET_UP_AT)
    plugins = PluginRegistry()
    plugins.register("instant", InstantProcessor())
    market = Marketplace(
        InMemoryStorage(), clock=clock, ids=SequentialIdGenerator(), plugins=plugins
    )
    root = market.bootstrap_staff_user("root")
    provider = market.create_organization(root.id, "Provider")
    market.register_provider(root.id, provider.id)
    reporter = market.create_user(root.id, "agent")
    market.grant_role(root.id, reporter.id, Role.ORGANIZATION_MANAGER, provider.id)
    category = market.create_category(root.id, "HPC")
    offering = market.create_offering(
        root.id,
        provider.id,
        "Cluster",
        "instant",
        category_id=category.id,
        components=[
            OfferingComponent("node", "Node", BillingType.FIXED),
            OfferingComponent("cpu", "CPU hours", BillingType.USAGE),
            OfferingComponent(
                "storage", "Storage", BillingType.LIMIT, limit_period=LimitPeriod.MONTH
            ),
        ],
    )
    plan = market.create_plan(
        root.id,
        offering.id,
        "Standard",
        PlanUnit.MONTH,
        prices={"node": 100, "cpu": "0.05", "storage": "0.10"},
    )
    market.activate_offering(root.id, offering.id)
    ids: list[str] = []
    with market.storage.unit_of_work() as uow:
        for number in range(resources // PER_PROJECT):
            organization = uow.organizations.add(
                Organization(id=f"org-{number}", name=f"Org {number}", created_at=SET_UP_AT)
            )
            project = uow.projects.add(
                Project(
                    id=f"project-{number}",
                    organization_id=organization.id,
                    name="P",
                    created_at=SET_UP_AT,
                )
            )
            for index in range(PER_PROJECT):
                resource = uow.resources.add(
                    Resource(
                        id=f"r-{number}-{index}",
                        name="allocation",
                        project_id=project.id,
                        offering_id=offering.id,
                        created_at=SET_UP_AT,
                        plan_id=plan.id,
                        state=ResourceState.OK,
                        limits={"storage": 10},
                        activated_at=SET_UP_AT,
                    )
                )
                ids.append(resource.id)
        uow.commit()
    clock.set(datetime(2026, 1, 1, 0, 10, tzinfo=UTC))
    market.run_billing()  # opens January, the month before the one measured
    return market, clock, reporter.id, ids


def billing_run(market: Marketplace, clock: FixedClock) -> float:
    """Seconds for the run of the new month."""
    clock.set(datetime(2026, 2, 1, 0, 10, tzinfo=UTC))
    started = time.perf_counter()
    report = market.run_billing()
    elapsed = time.perf_counter() - started
    assert report.month == BILLED_MONTH and len(report.issued) == len(report.organizations)
    return elapsed


def usage_ingestion(market: Marketplace, reporter: str, ids: list[str], batch: int = 1000) -> float:
    """Reports per second: one CPU report per resource, in batches of ``batch``."""
    lines = [UsageLine(r, "cpu", Decimal(number % 97), f"cpu-{r}") for number, r in enumerate(ids)]
    started = time.perf_counter()
    for first in range(0, len(lines), batch):
        market.report_usages(reporter, lines[first : first + batch])
    elapsed = time.perf_counter() - started
    totals = market.current_usage(ids[-1], BILLED_MONTH)
    assert totals == {"cpu": Decimal((len(ids) - 1) % 97)}
    return len(lines) / elapsed


def main() -> None:
    resources = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    started = time.perf_counter()
    market, clock, reporter, ids = build(resources)
    print(
        f"set-up ({resources:,} resources, last month billed): {time.perf_counter() - started:.1f} s"
    )
    seconds = billing_run(market, clock)
    print(f"billing run for {resources:,} resources (fixed + limit + usage): {seconds:.2f} s")
    print("  target: under 2 s for 100,000 resources")
    rate = usage_ingestion(market, reporter, ids)
    print(f"usage ingestion: {rate:,.0f} reports/s")
    print("  target: at least 50,000 reports/s")


if __name__ == "__main__":
    main()
