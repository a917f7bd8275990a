"""Benchmark: what each reference plugin costs per order, and pulling usage.

- ``script``: orders created end to end through the demo's program (one subprocess each).
- ``site-agent``: orders drained by one agent, and by four agents racing in threads.
- ``slurm``: orders created through the fake runner (the command lines are built, run and
  parsed; no real ``sacctmgr``), then usage pulled from its ``sacct`` records.
- ``pull_usage``: usage reports ingested from an in-memory usage source.

Run: ``python benchmarks/plugins.py``. Issue #6 sets no targets; the figures go into the
closing note and docs/performance.md.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from marketplace_core import BillingType, OfferingComponent, Order, PluginCapabilities, Resource
from marketplace_core.demo import DEMO_CLOUD
from marketplace_core.plugins import (
    Completed,
    ProcessingRequest,
    PulledUsage,
    ScriptProcessor,
    SiteAgent,
    SiteAgentProcessor,
    SlurmProcessor,
    UsageRequest,
)
from marketplace_core.plugins.slurm import SLURM_CAPABILITIES, SlurmClient, account_name
from marketplace_core.testing import ContractWorld, FakeSlurmRunner, build_contract_world

VCPU = OfferingComponent("vcpu", "vCPU", BillingType.LIMIT)
CPU = OfferingComponent("cpu", "CPU hours", BillingType.USAGE)
NO_REVIEW = PluginCapabilities(can_update_limits=True)


def place(world: ContractWorld, count: int, limits: dict[str, int]) -> list[Order]:
    market = world.market
    return [
        market.order_resource(
            world.consumer.id,
            world.project.id,
            world.offering.id,
            world.plan.id,
            f"resource {n}",
            limits=limits,
        )
        for n in range(count)
    ]


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s ({count:,} in {seconds:.2f} s)"


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def script_orders(count: int) -> str:
    with tempfile.TemporaryDirectory() as cloud:
        processor = ScriptProcessor(DEMO_CLOUD, environment={"DEMO_CLOUD_DIR": cloud})
        world = build_contract_world(
            "script",
            processor,
            NO_REVIEW,
            components=(VCPU,),
            plugin_options={"create": "vms.py", "terminate": "vms.py"},
        )
        return rate(count, timed(lambda: place(world, count, {"vcpu": 2})))


class Site:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.created: dict[str, str] = {}

    def create(self, order: Order, resource: Resource) -> Completed:
        with self.lock:
            backend_id = self.created.setdefault(order.id, f"site-{resource.id}")
        return Completed(backend_id=backend_id)

    def update(self, order: Order, resource: Resource) -> None:
        """Nothing to change at this site."""

    def terminate(self, order: Order, resource: Resource) -> None:
        """Nothing to remove at this site."""


def site_agent_orders(count: int, agents: int) -> str:
    world = build_contract_world("site-agent", SiteAgentProcessor(), NO_REVIEW)
    place(world, count, {})
    site, market, offering_id = Site(), world.market, world.offering.id

    def drain(agent_id: str) -> None:
        agent = SiteAgent(market, world.provider.id, offering_id, agent_id, site)
        while market.list_claimable_orders(offering_id, 1):
            agent.run_once(limit=20)

    def run() -> None:
        with ThreadPoolExecutor(agents) as pool:
            for future in [pool.submit(drain, f"agent-{n}") for n in range(agents)]:
                future.result()

    seconds = timed(run)
    assert len(site.created) == count, len(site.created)
    return rate(count, seconds)


def slurm_orders_and_usage(count: int) -> tuple[str, str]:
    runner = FakeSlurmRunner()
    world = build_contract_world("slurm", SlurmProcessor(SlurmClient(runner)), SLURM_CAPABILITIES)
    market = world.market
    orders: Sequence[Order] = []

    def create() -> None:
        nonlocal orders
        orders = place(world, count, {"cpu_hours": 1000, "gpu_hours": 10, "storage": 100})
        for order in orders:
            market.approve_order_as_provider(world.provider.id, order.id)

    created = timed(create)
    start = world.clock.now() + timedelta(hours=1)
    for n, order in enumerate(orders):
        account = account_name(order.resource_id, "mp_")
        for job in range(3):
            runner.add_job(
                f"{n}.{job}", account, start, start + timedelta(hours=2), "cpu=4,gres/gpu=1"
            )
    world.clock.set(start + timedelta(days=1))
    pulled = market.pull_usage(world.provider.id, world.offering.id)
    seconds = timed(lambda: market.pull_usage(world.provider.id, world.offering.id))
    assert not pulled.failed, pulled.failed[:3]
    return rate(count, created), f"{rate(count, seconds)} resources (a second, unchanged pull)"


class Meter:
    def pull_usage(self, request: UsageRequest) -> list[PulledUsage]:
        return [PulledUsage("cpu", Decimal(len(request.resource.id)))]


def pulled_reports(count: int) -> str:
    world = build_contract_world("metered", _Instant(), NO_REVIEW, components=(CPU,))
    place(world, count, {})
    world.clock.set(world.clock.now() + timedelta(hours=1))
    market = world.market
    seconds = timed(lambda: market.pull_usage(world.provider.id, world.offering.id))
    return rate(count, seconds)


class _Instant(Meter):
    def validate(self, request: ProcessingRequest) -> None:
        """Accept every order."""

    def create(self, request: ProcessingRequest) -> Completed:
        return Completed(backend_id=f"m-{request.resource.id}")

    def update(self, request: ProcessingRequest) -> Completed:
        return Completed()

    def terminate(self, request: ProcessingRequest) -> Completed:
        return Completed()


def main() -> None:
    print(f"script plugin, orders created end to end: {script_orders(50)}")
    print(f"site agent, 1 agent:                      {site_agent_orders(2000, 1)}")
    print(f"site agent, 4 agents in threads:          {site_agent_orders(2000, 4)}")
    slurm_created, slurm_pulled = slurm_orders_and_usage(1000)
    print(f"slurm (fake runner), orders created:      {slurm_created}")
    print(f"slurm (fake runner), usage pulled:        {slurm_pulled}")
    print(f"pull_usage, reports from a usage source:  {pulled_reports(10_000)}")


if __name__ == "__main__":
    _ = datetime.now(UTC)  # warm the datetime C module before timing
    main()
