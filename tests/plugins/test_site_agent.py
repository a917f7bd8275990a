"""The site-agent plugin: its processor passes the contract with a real agent finishing the
work, several agents in threads share one offering without doing an order twice, a crashed
agent's orders are taken over once its lease runs out, and usage flows from the site."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from marketplace_core import BillingType, OfferingComponent, Resource, Role
from marketplace_core.errors import (
    BackendError,
    ConflictError,
    ErrorCode,
    PermissionDeniedError,
    ValidationError,
)
from marketplace_core.events import OrderClaimChanged, OrderStateChanged
from marketplace_core.inputs import MESSAGE_MAX_LENGTH
from marketplace_core.marketplace import UsagePullReport
from marketplace_core.orders import Order, OrderState
from marketplace_core.plugins.processor import Completed
from marketplace_core.plugins.registry import PluginCapabilities, PluginRegistry
from marketplace_core.plugins.site_agent import (
    REPORT_ATTEMPTS,
    SITE_AGENT_CAPABILITIES,
    SiteAgent,
    SiteAgentProcessor,
    register_site_agent,
)
from marketplace_core.resources import ResourceState
from marketplace_core.testing.processor_contract import (
    ContractWorld,
    ProcessorContract,
    build_contract_world,
)

ROOT = Path(__file__).resolve().parents[2]
LEASE = 300
STORAGE = OfferingComponent("storage", "Storage", BillingType.LIMIT, measured_unit="GB")
CPU = OfferingComponent("cpu", "CPU hours", BillingType.USAGE, measured_unit="hour")


class Crash(BaseException):
    """The agent's process dies (not an error the agent could catch and report)."""


class DictSite:
    """A site keeping its resources in a dictionary, safe to share between threads.

    It is idempotent per order id, counts how often it was asked about each order, and can
    be told to fail, or to crash the agent, on its next call.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.resources: dict[str, dict[str, int]] = {}
        self.created_for: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.failure = ""
        self.crash_after_next = False
        self.usage_of: dict[str, dict[str, Decimal]] = {}

    def _called(self, order: Order) -> None:
        self.calls[order.id] += 1
        if self.failure:
            failure, self.failure = self.failure, ""
            raise BackendError(ErrorCode.BACKEND_FAILED, failure)

    def _maybe_crash(self) -> None:
        if self.crash_after_next:
            self.crash_after_next = False
            raise Crash

    def create(self, order: Order, resource: Resource) -> Completed:
        with self.lock:
            self._called(order)
            if order.id not in self.created_for:
                backend_id = f"acct-{len(self.created_for) + 1}"
                self.created_for[order.id] = backend_id
                self.resources[backend_id] = dict(order.limits)
            outcome = Completed(self.created_for[order.id], {"cluster": "hpc-1"})
        self._maybe_crash()
        return outcome

    def update(self, order: Order, resource: Resource) -> None:
        with self.lock:
            self._called(order)
            self.resources[resource.backend_id or ""] = dict(order.limits)

    def terminate(self, order: Order, resource: Resource) -> None:
        with self.lock:
            self._called(order)
            self.resources.pop(resource.backend_id or "", None)

    def usage(self, resource: Resource, month: date) -> Mapping[str, Decimal]:
        answer = self.usage_of[resource.backend_id or ""]
        if "broken" in answer:
            raise BackendError(ErrorCode.BACKEND_TIMED_OUT, "accounting did not answer")
        return answer


def agent_for(world: ContractWorld, site: object, agent_id: str = "agent-1") -> SiteAgent:
    return SiteAgent(
        world.market,
        world.provider.id,
        world.offering.id,
        agent_id,
        site,  # type: ignore[arg-type]  # a test double of the protocol
        lease_seconds=LEASE,
    )


class TestSiteAgentContract(ProcessorContract):
    """The plugin's processor, with a site agent doing the backend work."""

    plugin_type = "site-agent"

    def make_plugin(self) -> tuple[SiteAgentProcessor, PluginCapabilities]:
        self.site = DictSite()
        return SiteAgentProcessor(), SITE_AGENT_CAPABILITIES

    def backend_ids(self) -> set[str]:
        return set(self.site.resources)

    def fail_next_backend_call(self) -> str:
        self.site.failure = "the scheduler is down"
        return "BackendError: the scheduler is down"

    def offering_components(self) -> tuple[OfferingComponent, ...]:
        return (STORAGE,)

    def order_limits(self) -> dict[str, int]:
        return {"storage": 10}

    def new_limits(self) -> dict[str, int]:
        return {"storage": 20}

    def backend_limits(self, resource: Resource) -> dict[str, int]:
        return self.site.resources[resource.backend_id or ""]

    def finish_backend_work(self, order: Order) -> None:
        agent_for(self.world, self.site).run_once()


# --------------------------------------------------------------------------- small worlds


def site_world(*components: OfferingComponent) -> ContractWorld:
    """A marketplace with a site-agent offering whose orders skip the provider's review."""
    capabilities = attrs.evolve(SITE_AGENT_CAPABILITIES, needs_provider_review=False)
    return build_contract_world(
        "site-agent", SiteAgentProcessor(), capabilities, components=components or (STORAGE,)
    )


def place(world: ContractWorld, count: int) -> list[Order]:
    return [
        world.market.order_resource(
            world.consumer.id,
            world.project.id,
            world.offering.id,
            world.plan.id,
            f"allocation {n}",
            limits={"storage": 10} if STORAGE in world.offering.components else {},
        )
        for n in range(count)
    ]


def done_events(world: ContractWorld) -> Counter[str]:
    return Counter(
        recorded.event.order_id
        for recorded in world.market.events()
        if isinstance(recorded.event, OrderStateChanged) and recorded.event.target == "done"
    )


# --------------------------------------------------------------------------- registration


def test_register_site_agent_registers_the_processor_with_its_capabilities() -> None:
    registry = PluginRegistry()
    register_site_agent(registry)
    register_site_agent(registry, plugin_type="slurm-agent")
    plugin = registry.get("site-agent")
    assert isinstance(plugin.processor, SiteAgentProcessor)
    assert plugin.capabilities == SITE_AGENT_CAPABILITIES
    assert registry.capabilities("slurm-agent").needs_provider_review is True
    assert SITE_AGENT_CAPABILITIES.can_update_limits is True
    assert SITE_AGENT_CAPABILITIES.can_cancel_orders is False


def test_an_order_waits_for_the_provider_and_then_for_an_agent() -> None:
    world = build_contract_world(
        "site-agent", SiteAgentProcessor(), SITE_AGENT_CAPABILITIES, components=(STORAGE,)
    )
    market = world.market
    (order,) = place(world, 1)
    assert order.state is OrderState.PENDING_PROVIDER
    assert market.list_claimable_orders(world.offering.id) == []
    order = market.approve_order_as_provider(world.provider.id, order.id)
    assert order.state is OrderState.EXECUTING
    assert order.dispatched_at is not None
    assert [o.id for o in market.list_claimable_orders(world.offering.id)] == [order.id]


def test_the_agent_refuses_bad_settings() -> None:
    world = site_world()
    with pytest.raises(ValidationError) as refused:
        SiteAgent(world.market, world.provider.id, world.offering.id, " ", DictSite())
    assert refused.value.fields["field"] == "agent_id"
    for lease in (0, 7 * 24 * 3600 + 1, True):
        with pytest.raises(ValidationError) as refused:
            SiteAgent(
                world.market,
                world.provider.id,
                world.offering.id,
                "agent-1",
                DictSite(),
                lease_seconds=lease,
            )
        assert refused.value.fields["field"] == "lease_seconds"


# --------------------------------------------------------------------------- one agent


def test_run_once_finishes_every_waiting_order_and_counts_them() -> None:
    world, site = site_world(), DictSite()
    orders = place(world, 3)
    agent = agent_for(world, site)
    assert agent.run_once(limit=1) == 1
    assert agent.run_once() == 2
    assert agent.run_once() == 0
    for order in orders:
        resource = world.market.get_resource(order.resource_id)
        assert resource.state is ResourceState.OK
        assert resource.backend_id == site.created_for[order.id]
        assert resource.backend_metadata["cluster"] == "hpc-1"
        assert world.market.get_order(order.id).claimed_by == "agent-1"


def test_a_failing_site_errs_the_order_with_a_clear_message() -> None:
    world, site = site_world(), DictSite()
    (order,) = place(world, 1)
    site.failure = "no such partition 'gpu'"
    assert agent_for(world, site).run_once() == 1
    order = world.market.get_order(order.id)
    assert order.state is OrderState.ERRED
    assert order.error_message == "BackendError: no such partition 'gpu'"
    assert "Traceback" not in order.error_message


def test_an_erred_order_the_agent_cannot_let_go_of_waits_for_its_lease() -> None:
    world, site = site_world(), DictSite()
    (order,) = place(world, 1)
    market = world.market

    def conflicting(*args: Any) -> Order:
        raise ConflictError(ErrorCode.STALE_VERSION, "the order changed meanwhile")

    market.release_order_claim = conflicting  # type: ignore[method-assign]
    site.failure = "quota service down"
    assert agent_for(world, site).run_once() == 1
    order = market.get_order(order.id)
    assert (order.state, order.claimed_by) == (OrderState.ERRED, "agent-1")


def test_a_site_answering_without_a_backend_id_errs_the_order() -> None:
    class Forgetful(DictSite):
        def create(self, order: Order, resource: Resource) -> Completed:
            super().create(order, resource)
            return Completed()

    world = site_world()
    (order,) = place(world, 1)
    agent_for(world, Forgetful()).run_once()
    order = world.market.get_order(order.id)
    assert order.state is OrderState.ERRED
    assert order.error_message.startswith("BackendError: the site backend created order")
    assert "expected Completed with a backend id" in order.error_message


def test_a_retried_order_is_offered_to_every_agent_at_once() -> None:
    world, site = site_world(), DictSite()
    (order,) = place(world, 1)
    site.failure = "quota service down"
    agent_for(world, site, "agent-1").run_once()
    assert world.market.get_order(order.id).claimed_by == "agent-1"  # erred, still held
    world.market.retry_order(world.consumer.id, order.id)
    assert agent_for(world, site, "agent-2").run_once() == 1
    order = world.market.get_order(order.id)
    assert order.state is OrderState.DONE
    assert order.claimed_by == "agent-2"


def test_an_order_another_agent_claims_first_is_skipped() -> None:
    world = site_world()
    first, second = place(world, 2)

    class Contended(DictSite):
        def create(self, order: Order, resource: Resource) -> Completed:
            if order.id == first.id:  # meanwhile another agent takes the next order
                world.market.claim_order(world.provider.id, second.id, "agent-2")
            return super().create(order, resource)

    site = Contended()
    assert agent_for(world, site, "agent-1").run_once() == 1
    assert world.market.get_order(second.id).state is OrderState.EXECUTING
    assert world.market.get_order(second.id).claimed_by == "agent-2"
    assert site.calls == Counter({first.id: 1})


def test_an_agent_without_the_right_to_fulfil_fails_loudly() -> None:
    world = site_world()
    place(world, 1)
    agent = SiteAgent(world.market, world.consumer.id, world.offering.id, "agent-1", DictSite())
    with pytest.raises(PermissionDeniedError):
        agent.run_once()


def test_a_report_after_the_lease_ran_out_is_skipped_and_the_order_offered_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = site_world()
    (order,) = place(world, 1)

    class Slow(DictSite):
        def create(self, order: Order, resource: Resource) -> Completed:
            world.clock.advance(timedelta(seconds=LEASE))
            return super().create(order, resource)

    slow = Slow()
    with caplog.at_level(logging.WARNING, logger="marketplace_core.plugins.site_agent"):
        assert agent_for(world, slow, "agent-1").run_once() == 0
    assert "its lease ran out" in caplog.text
    assert world.market.get_order(order.id).state is OrderState.EXECUTING
    slow.__class__ = DictSite  # the site is fast again
    assert agent_for(world, slow, "agent-1").run_once() == 1
    assert world.market.get_order(order.id).state is OrderState.DONE
    assert len(slow.created_for) == 1


def test_a_slow_agent_that_lost_its_order_to_another_does_not_raise() -> None:
    world = site_world()
    (order,) = place(world, 1)
    site = DictSite()

    class Slow(DictSite):
        def create(self, order: Order, resource: Resource) -> Completed:
            world.clock.advance(timedelta(seconds=LEASE + 1))
            assert agent_for(world, site, "agent-2").run_once() == 1
            return site.create(order, resource)

    assert agent_for(world, Slow(), "agent-1").run_once() == 0
    order = world.market.get_order(order.id)
    assert order.state is OrderState.DONE
    assert order.claimed_by == "agent-2"
    assert done_events(world) == Counter({order.id: 1})
    assert len(site.created_for) == 1


@pytest.mark.parametrize("code", [ErrorCode.STALE_VERSION, ErrorCode.ALREADY_EXISTS])
@pytest.mark.parametrize(
    ("conflicts", "finished"), [(REPORT_ATTEMPTS - 1, 1), (REPORT_ATTEMPTS, 0)]
)
def test_a_report_that_conflicts_with_a_concurrent_write_is_sent_again(
    code: ErrorCode, conflicts: int, finished: int
) -> None:
    world = site_world()
    (order,) = place(world, 1)
    market = world.market
    report = market.report_claimed_order_done
    sent: list[str] = []

    def conflicting(*args: Any, **kwargs: Any) -> Order:
        sent.append(args[1])
        if len(sent) <= conflicts:
            raise ConflictError(code, "the month's invoice was written meanwhile")
        return report(*args, **kwargs)

    market.report_claimed_order_done = conflicting  # type: ignore[method-assign]
    assert agent_for(world, DictSite()).run_once() == finished
    assert sent == [order.id] * min(conflicts + 1, REPORT_ATTEMPTS)
    order = market.get_order(order.id)
    assert order.state is (OrderState.DONE if finished else OrderState.EXECUTING)
    assert order.claimed_by == "agent-1"


def test_a_crashed_agents_order_is_taken_over_once_its_lease_runs_out() -> None:
    world, site = site_world(), DictSite()
    (order,) = place(world, 1)
    site.crash_after_next = True  # the agent dies after the site did the work
    with pytest.raises(Crash):
        agent_for(world, site, "agent-1").run_once()
    assert world.market.get_order(order.id).claimed_by == "agent-1"
    rescuer = agent_for(world, site, "agent-2")
    assert rescuer.run_once() == 0  # the lease still runs
    world.clock.advance(timedelta(seconds=LEASE))
    assert rescuer.run_once() == 1
    order = world.market.get_order(order.id)
    assert order.state is OrderState.DONE
    assert order.claimed_by == "agent-2"
    assert site.calls[order.id] == 2
    assert len(site.created_for) == 1  # asked twice, created once
    resource = world.market.get_resource(order.resource_id)
    assert resource.backend_id == site.created_for[order.id]


def test_update_and_termination_reach_the_site() -> None:
    world, site = site_world(), DictSite()
    (order,) = place(world, 1)
    agent = agent_for(world, site)
    agent.run_once()
    market, consumer = world.market, world.consumer.id
    market.order_limit_change(consumer, order.resource_id, {"storage": 30})
    assert agent.run_once() == 1
    backend_id = site.created_for[order.id]
    assert site.resources[backend_id] == {"storage": 30}
    assert market.get_resource(order.resource_id).limits == {"storage": 30}
    market.order_termination(consumer, order.resource_id)
    assert agent.run_once() == 1
    assert site.resources == {}
    assert market.get_resource(order.resource_id).state is ResourceState.TERMINATED


# --------------------------------------------------------------------------- many agents


def race_agents(world: ContractWorld, site: DictSite, agents: int) -> list[int]:
    """Run ``agents`` agents in threads, started together, until no order waits; returns
    how many orders each finished."""
    start = threading.Barrier(agents)
    market, offering_id = world.market, world.offering.id

    def drain(agent: SiteAgent) -> int:
        start.wait()
        finished = 0
        while market.list_claimable_orders(offering_id):
            finished += agent.run_once(limit=10)
        return finished

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # let the threads interleave often
    try:
        with ThreadPoolExecutor(agents) as pool:
            futures = [
                pool.submit(drain, agent_for(world, site, f"agent-{n}")) for n in range(agents)
            ]
            return [future.result() for future in futures]
    finally:
        sys.setswitchinterval(switch)


def test_concurrent_agents_finish_every_order_exactly_once() -> None:
    world, site = site_world(), DictSite()
    orders = place(world, 200)
    finished = race_agents(world, site, 4)
    market = world.market
    assert sum(finished) == len(orders)
    assert all(market.get_order(o.id).state is OrderState.DONE for o in orders)
    assert done_events(world) == Counter({o.id: 1 for o in orders})
    assert site.calls == Counter({o.id: 1 for o in orders})
    assert len(site.resources) == len(orders)
    claims = [e.event for e in market.events() if isinstance(e.event, OrderClaimChanged)]
    assert len(claims) == len(orders)  # a claim that lost the race left nothing behind


def test_agents_racing_in_threads_never_see_a_commit_half_applied() -> None:
    """Reads of the in-memory storage once iterated dictionaries a concurrent commit was
    changing ('dictionary changed size during iteration', about one round in four)."""
    for _ in range(3):
        world = site_world()
        orders = place(world, 200)
        assert sum(race_agents(world, DictSite(), 4)) == len(orders)


def test_run_forever_polls_until_stopped_and_survives_a_failing_pass() -> None:
    world = site_world()
    market, stop, failed = world.market, threading.Event(), threading.Event()
    operator = market.create_user(world.staff.id, "agent-operator")  # no rights yet

    class Stopping(DictSite):
        def create(self, order: Order, resource: Resource) -> Completed:
            outcome = super().create(order, resource)
            if len(self.created_for) == 2:
                stop.set()
            return outcome

    class Signal(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            failed.set()

    site, signal = Stopping(), Signal(logging.ERROR)
    logger = logging.getLogger("marketplace_core.plugins.site_agent")
    logger.addHandler(signal)
    agent = SiteAgent(market, operator.id, world.offering.id, "agent-1", site)
    thread = threading.Thread(target=agent.run_forever, args=(stop, 0.005))
    thread.start()
    try:
        orders = place(world, 2)  # a pass claims them, and fails: no right to fulfil
        assert failed.wait(timeout=30)
        market.grant_role(world.staff.id, operator.id, Role.OFFERING_MANAGER, world.offering.id)
    finally:
        thread.join(timeout=30)
        stop.set()
        logger.removeHandler(signal)
    assert not thread.is_alive()
    assert all(market.get_order(o.id).state is OrderState.DONE for o in orders)


# --------------------------------------------------------------------------- usage


def test_usage_is_reported_from_the_site_once_per_answer() -> None:
    world, site = site_world(CPU), DictSite()
    first, second, gone = place(world, 3)
    agent = agent_for(world, site)
    agent.run_once()
    market = world.market
    market.order_termination(world.consumer.id, gone.resource_id)
    agent.run_once()
    site.usage_of[site.created_for[first.id]] = {"cpu": Decimal("12.5")}
    site.usage_of[site.created_for[second.id]] = {"cpu": Decimal("3")}
    report = agent.report_usage()
    assert report.month == date(2026, 3, 1)
    assert report.failed == ()
    assert {(r.resource_id, r.amount) for r in report.reports} == {
        (first.resource_id, Decimal("12.5")),
        (second.resource_id, Decimal("3")),
    }
    again = agent.report_usage()
    assert again.reports == report.reports
    assert len(market.list_usage_reports(first.resource_id, "cpu")) == 1
    site.usage_of[site.created_for[first.id]] = {"cpu": Decimal("20")}
    agent.report_usage(date(2026, 3, 1))
    assert market.current_usage(first.resource_id, date(2026, 3, 1)) == {"cpu": Decimal("20")}
    assert len(market.list_usage_reports(first.resource_id, "cpu")) == 2


def test_the_site_is_not_asked_about_a_month_before_the_resource_was_live() -> None:
    world, site = site_world(CPU), DictSite()
    (order,) = place(world, 1)
    agent = agent_for(world, site)
    agent.run_once()
    site.usage_of[site.created_for[order.id]] = {"cpu": Decimal(1)}
    assert agent.report_usage(date(2026, 2, 1)) == UsagePullReport(date(2026, 2, 1), (), ())


def test_a_failing_or_refused_usage_answer_does_not_stop_the_others() -> None:
    world, site = site_world(CPU), DictSite()
    broken, refused, fine = place(world, 3)
    agent = agent_for(world, site)
    agent.run_once()
    site.usage_of[site.created_for[broken.id]] = {"broken": Decimal(0)}
    site.usage_of[site.created_for[refused.id]] = {"gpu": Decimal(1)}
    site.usage_of[site.created_for[fine.id]] = {"cpu": Decimal(1)}
    report = agent.report_usage()
    assert [r.resource_id for r in report.reports] == [fine.resource_id]
    failures = dict(report.failed)
    assert failures[broken.resource_id] == "BackendError: accounting did not answer"
    assert failures[refused.resource_id].startswith("unknown_component: ")
    assert "'gpu'" in failures[refused.resource_id]


def test_a_float_from_the_site_is_refused_by_name() -> None:
    world, site = site_world(CPU), DictSite()
    (order,) = place(world, 1)
    agent = agent_for(world, site)
    agent.run_once()
    site.usage_of[site.created_for[order.id]] = {"cpu": 1.5}  # type: ignore[dict-item]
    (failure,) = agent.report_usage().failed
    assert failure[1].startswith("ValidationError: usage['cpu'] must be a Decimal")


def test_usage_needs_a_metered_site_and_a_month() -> None:
    class Unmetered:
        def create(self, order: Order, resource: Resource) -> Completed:
            return Completed("x")

        def update(self, order: Order, resource: Resource) -> None: ...

        def terminate(self, order: Order, resource: Resource) -> None: ...

    world = site_world(CPU)
    with pytest.raises(ValidationError) as refused:
        agent_for(world, Unmetered()).report_usage()
    assert refused.value.code is ErrorCode.USAGE_NOT_PULLABLE
    assert "Unmetered has no usage method" in refused.value.message
    with pytest.raises(ValidationError) as refused:
        agent_for(world, DictSite()).report_usage(date(2026, 3, 2))
    assert refused.value.fields["field"] == "month"


# --------------------------------------------------------------------------- the example


def test_the_example_agent_loop_runs() -> None:
    finished = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "site_agent_loop.py")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert "done" in finished.stdout
    assert "erred" in finished.stdout


def test_a_site_failure_with_a_long_message_still_errs_the_order() -> None:
    world, site = site_world(), DictSite()
    (order,) = place(world, 1)
    site.failure = "sbatch: error: " + "x" * 5000  # a long stderr quoted in the error
    agent_for(world, site).run_once()
    order = world.market.get_order(order.id)
    assert order.state is OrderState.ERRED
    assert order.error_message.startswith("BackendError: sbatch: error: ")
    assert len(order.error_message) <= MESSAGE_MAX_LENGTH
