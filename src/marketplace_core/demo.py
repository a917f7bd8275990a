"""The guided demo: a provider publishes a catalogue, and projects see what they may order.

Everything goes through the :class:`~marketplace_core.Marketplace` facade, on in-memory
storage, with a clock that starts on 2 January 2026 and readable, sequential ids, so the story
prints the same every time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TextIO

from marketplace_core.adapters.memory import EventLog, InMemoryStorage
from marketplace_core.clocks import FixedClock
from marketplace_core.console import format_table, heading
from marketplace_core.errors import MarketplaceError
from marketplace_core.ids import SequentialIdGenerator
from marketplace_core.marketplace import Marketplace
from marketplace_core.offerings import (
    BillingType,
    LimitedTo,
    LimitPeriod,
    Offering,
    OfferingComponent,
    PlanUnit,
    Shared,
    Visibility,
)
from marketplace_core.plugins import PluginRegistry, register_basic
from marketplace_core.roles import Role

STORY_START = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)


def _audience(market: Marketplace, visibility: Visibility) -> str:
    match visibility:
        case Shared():
            return "everyone"
        case LimitedTo(organization_ids=organizations, organization_group_ids=groups):
            names = [market.get_organization(o).name for o in sorted(organizations)]
            names += [market.get_organization_group(g).name for g in sorted(groups)]
            return ", ".join(names) + " only"
        case _:
            return type(visibility).__name__


def _print_offering(market: Marketplace, offering: Offering, out: TextIO) -> None:
    category = market.get_category(offering.category_id) if offering.category_id else None
    provider = market.get_organization(offering.provider_id)
    out.write(
        f"\n{offering.name} ({offering.id}) by {provider.name}: {offering.state.value}, "
        f"category {category.title if category else '-'}, visible to "
        f"{_audience(market, offering.visibility)}\n\n"
    )
    out.write(
        format_table(
            ["component", "name", "unit", "billing", "limits"],
            [
                [
                    c.type,
                    c.name,
                    c.measured_unit,
                    c.billing_type.value,
                    f"{c.lowest_limit or 0}..{c.highest_limit}" if c.highest_limit else "",
                ]
                for c in offering.components
            ],
        )
        + "\n\n"
    )
    plans = market.list_plans(offering.id)
    out.write(
        format_table(
            ["plan", "per", *(c.type for c in offering.components)],
            [
                [p.name, p.unit.value, *(p.price_of(c.type) for c in offering.components)]
                for p in plans
            ],
        )
        + "\n"
    )


def run_demo(out: TextIO) -> None:
    """Tell the story on ``out``."""
    clock = FixedClock(STORY_START)
    plugins = PluginRegistry()
    register_basic(plugins)
    events = EventLog()
    market = Marketplace(
        InMemoryStorage(),
        clock=clock,
        ids=SequentialIdGenerator(),
        plugins=plugins,
        event_sink=events,
    )

    out.write(heading("1. The platform operator sets up organizations and people") + "\n")
    root = market.bootstrap_staff_user("root", full_name="Platform operator")
    estonia = market.create_organization_group(root.id, "Estonian universities")
    university = market.create_organization(root.id, "University of Tartu", group_id=estonia.id)
    institute = market.create_organization(root.id, "Helsinki Institute")
    center = market.create_organization(root.id, "HPC Center")
    alice = market.create_user(root.id, "alice", full_name="Alice, PI at Tartu")
    hanna = market.create_user(root.id, "hanna", full_name="Hanna, PI in Helsinki")
    olga = market.create_user(root.id, "olga", full_name="Olga, HPC Center owner")
    market.grant_role(root.id, alice.id, Role.ORGANIZATION_OWNER, university.id)
    market.grant_role(root.id, hanna.id, Role.ORGANIZATION_OWNER, institute.id)
    market.grant_role(root.id, olga.id, Role.ORGANIZATION_OWNER, center.id)
    genomics = market.create_project(alice.id, university.id, "Genome assembly")
    climate = market.create_project(hanna.id, institute.id, "Climate downscaling")
    out.write(
        format_table(
            ["organization", "group", "project"],
            [
                [university.name, estonia.name, genomics.name],
                [institute.name, "-", climate.name],
                [center.name, "-", "(provider)"],
            ],
        )
        + "\n"
    )

    out.write(heading("2. HPC Center publishes two offerings") + "\n")
    market.register_provider(root.id, center.id, description="National HPC services")
    hpc = market.create_category(root.id, "HPC")
    cloud = market.create_category(root.id, "Virtual machines")
    cluster = market.create_offering(
        olga.id,
        center.id,
        "Rocket cluster",
        "basic",
        category_id=hpc.id,
        components=[
            OfferingComponent("cpu", "CPU hours", BillingType.USAGE, measured_unit="core-hour"),
            OfferingComponent("gpu", "GPU hours", BillingType.USAGE, measured_unit="gpu-hour"),
            OfferingComponent(
                "storage",
                "Project storage",
                BillingType.LIMIT,
                measured_unit="GB",
                min_value=10,
                max_value=10_000,
                max_available_limit=200_000,
                limit_period=LimitPeriod.MONTH,
            ),
        ],
    )
    market.create_plan(
        olga.id,
        cluster.id,
        "Standard",
        PlanUnit.MONTH,
        prices={"cpu": Decimal("0.015"), "gpu": Decimal("0.60"), "storage": Decimal("0.02")},
    )
    vms = market.create_offering(
        olga.id,
        center.id,
        "Research VMs",
        "basic",
        category_id=cloud.id,
        visibility=LimitedTo(organization_group_ids=frozenset({estonia.id})),
        components=[
            OfferingComponent("vcpu", "Virtual CPUs", BillingType.LIMIT, min_value=1, max_value=64),
            OfferingComponent("ram", "RAM", BillingType.LIMIT, measured_unit="MB", factor=1024),
            OfferingComponent("setup", "Set-up fee", BillingType.ONE_TIME),
        ],
    )
    market.create_plan(
        olga.id, vms.id, "Small", PlanUnit.DAY, prices={"vcpu": "0.40", "ram": "0.05", "setup": 25}
    )
    market.create_plan(
        olga.id, vms.id, "Large", PlanUnit.DAY, prices={"vcpu": "0.35", "ram": "0.04", "setup": 25}
    )
    try:
        market.activate_offering(olga.id, cluster.id)
    except MarketplaceError as refusal:
        out.write(f"\nOlga tries to activate the cluster herself: refused ({refusal.code}).\n")
    for offering in (cluster, vms):
        market.activate_offering(root.id, offering.id)
    out.write("The platform operator reviews and activates both offerings.\n")
    for offering in market.list_offerings(center.id):
        _print_offering(market, offering, out)

    out.write(heading("3. What each project may order") + "\n")

    def show_orderable() -> None:
        out.write(
            format_table(
                ["project", "may order"],
                [
                    [
                        p.name,
                        ", ".join(o.name for o in market.list_orderable_offerings(p.id)) or "-",
                    ]
                    for p in (genomics, climate)
                ],
            )
            + "\n"
        )

    show_orderable()
    out.write("\nThe VMs are limited to Estonian universities, so Helsinki does not see them.\n")
    clock.set(datetime(2026, 2, 1, 8, 0, tzinfo=UTC))
    market.pause_offering(olga.id, cluster.id)
    out.write("On 1 February Olga pauses the cluster for maintenance:\n\n")
    show_orderable()

    out.write(heading("4. Everything that happened, as domain events") + "\n")
    out.write(
        format_table(
            ["#", "when", "event", "by"],
            [
                [
                    r.position,
                    r.event.occurred_at.strftime("%Y-%m-%d %H:%M"),
                    r.event.event_type,
                    market.get_user(r.event.actor_id).username if r.event.actor_id else "-",
                ]
                for r in events.events[-6:]
            ],
        )
        + "\n"
    )
    out.write(
        f"\n{len(events.events)} events were committed to the outbox; the last six are shown.\n"
        "The storage was in memory: orders, billing and policies come in later versions.\n"
    )
