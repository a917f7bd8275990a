"""Answers that come again, late or from a duplicate: repeated usage pulls, a stale sync
run, the last usage of a terminated remote resource, a duplicate support ticket, and an
order handed to a processor again after a crash. Each was a bug found in review."""

from __future__ import annotations

import unittest
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from marketplace_core.billing.calendar import month_of
from marketplace_core.offerings import BillingType, OfferingComponent
from marketplace_core.orders import OrderState
from marketplace_core.plugins import Completed, InProgress, ProcessingRequest, PulledUsage
from marketplace_core.plugins.registry import PluginCapabilities
from marketplace_core.plugins.remote import RemoteProcessor, RemoteSync
from marketplace_core.plugins.remote.port import RemoteOrder
from marketplace_core.plugins.support import (
    SUPPORT_CAPABILITIES,
    InMemoryTicketDesk,
    SupportProcessor,
    Ticket,
    apply_ticket,
)
from marketplace_core.plugins.usage_source import UsageRequest
from marketplace_core.testing import InstantProcessor, build_contract_world
from tests.plugins.test_processor_contract import DictBackend, DictContract, DictProcessor
from tests.plugins.test_remote import MARCH, build_pair

CPU = OfferingComponent("cpu", "CPU hours", BillingType.USAGE)
GPU = OfferingComponent("gpu", "GPU hours", BillingType.USAGE)


# --------------------------------------------------------------------------- usage pulling


class MeteredBackend(InstantProcessor):
    """Finishes orders at once and answers usage pulls with ``answer``."""

    def __init__(self) -> None:
        self.answer: list[PulledUsage] = []

    def pull_usage(self, request: UsageRequest) -> Sequence[PulledUsage]:
        return list(self.answer)


def metered_world() -> tuple[Any, MeteredBackend, str]:
    backend = MeteredBackend()
    world = build_contract_world("metered", backend, PluginCapabilities(), components=(CPU, GPU))
    order = world.market.order_resource(
        world.consumer.id, world.project.id, world.offering.id, world.plan.id, "vm"
    )
    assert order.state is OrderState.DONE
    return world, backend, order.resource_id


def test_an_unchanged_total_with_a_new_description_does_not_block_the_batch() -> None:
    world, backend, resource_id = metered_world()
    market = world.market
    backend.answer = [
        PulledUsage("cpu", Decimal("5"), "month to date as of 10:00"),
        PulledUsage("gpu", Decimal("1"), "month to date as of 10:00"),
    ]
    assert market.pull_usage(world.provider.id, world.offering.id).failed == ()
    backend.answer = [
        PulledUsage("cpu", Decimal("5"), "month to date as of 11:00"),
        PulledUsage("gpu", Decimal("3"), "month to date as of 11:00"),
    ]
    report = market.pull_usage(world.provider.id, world.offering.id)
    assert report.failed == ()
    month = month_of(world.clock.now())
    assert market.current_usage(resource_id, month)["gpu"] == Decimal("3")


def test_totals_that_differ_beyond_28_digits_get_different_keys() -> None:
    world, backend, resource_id = metered_world()
    market = world.market
    backend.answer = [PulledUsage("cpu", Decimal("100000000000000000"))]
    assert market.pull_usage(world.provider.id, world.offering.id).failed == ()
    grown = Decimal("100000000000000000.00000000001")  # accepted by report_usage itself
    backend.answer = [PulledUsage("cpu", grown)]
    report = market.pull_usage(world.provider.id, world.offering.id)
    assert report.failed == ()
    assert market.current_usage(resource_id, month_of(world.clock.now())) == {"cpu": grown}


# --------------------------------------------------------------------------- remote plugin


def test_the_last_usage_of_a_terminated_remote_resource_is_pulled() -> None:
    pair = build_pair()
    resource = pair.live()
    remote = pair.remote
    remote.market.report_usage(
        remote.provider_id, resource.backend_id, "cpu", Decimal("5"), idempotency_key="u1"
    )
    pair.sync.run()
    pair.market.order_termination(pair.local.consumer.id, resource.id)
    remote.market.report_usage(
        remote.provider_id, resource.backend_id, "cpu", Decimal("8"), idempotency_key="u2"
    )
    pair.settle()  # the remote provider approves the termination; the sync mirrors it
    assert remote.market.current_usage(resource.backend_id, MARCH) == {"cpu": Decimal("8")}
    assert pair.market.current_usage(resource.id, MARCH) == {"cpu": Decimal("8")}


class RacingClient:
    """A client through which something happens locally while the sync reads one remote
    order (another sync run, a consumer placing an order)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.armed: str | None = None
        self.meanwhile: Callable[[], None] = lambda: None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get_order(self, local_order_id: str) -> RemoteOrder | None:
        answer: RemoteOrder | None = self.inner.get_order(local_order_id)
        if self.armed == local_order_id:
            self.armed = None
            self.meanwhile()
        return answer


def test_a_stale_sync_run_does_not_complete_a_newer_order_of_the_resource() -> None:
    pair = build_pair()
    resource = pair.live()
    world, market = pair.local, pair.market
    processor = market.plugins.get("remote").processor
    assert isinstance(processor, RemoteProcessor)
    racing = RacingClient(processor.client)
    processor.client = racing
    slow = RemoteSync(market, world.provider.id)
    first = market.order_limit_change(world.consumer.id, resource.id, {"storage": 20})
    pair.remote.approve_all()
    newer: list[str] = []

    def meanwhile() -> None:
        RemoteSync(market, world.provider.id).run(pull_usage=False)  # an overlapping run
        order = market.order_limit_change(world.consumer.id, resource.id, {"storage": 30})
        newer.append(order.id)

    racing.armed, racing.meanwhile = first.id, meanwhile
    slow.run(pull_usage=False)
    (second,) = newer
    remote_orders = {o.state for o in pair.remote.orders()}
    assert OrderState.PENDING_PROVIDER in remote_orders  # the remote has not done U2
    assert market.get_order(second).state is OrderState.EXECUTING
    assert pair.remote_of(resource).limits == {"disk": 20}
    assert market.get_resource(resource.id).limits == {"storage": 20}


# --------------------------------------------------------------------------- support plugin


class RacyDesk:
    """A desk whose search-then-create raced once per order, as docs/plugins/support.md
    says a Jira adapter can: every order has its ticket (``SUP-n``) and a duplicate
    (``DUP-n``) that ``find_ticket`` does not return."""

    def __init__(self) -> None:
        self.main = InMemoryTicketDesk("SUP")
        self.duplicates = InMemoryTicketDesk("DUP")

    def _desk(self, key: str) -> InMemoryTicketDesk:
        return self.duplicates if key.startswith("DUP-") else self.main

    def open_ticket(self, order_id: str, summary: str, description: str) -> Ticket:
        self.duplicates.open_ticket(order_id, summary, description)
        return self.main.open_ticket(order_id, summary, description)

    def get_ticket(self, key: str) -> Ticket:
        return self._desk(key).get_ticket(key)

    def find_ticket(self, order_id: str) -> Ticket | None:
        return self.main.find_ticket(order_id)

    def list_open_tickets(self) -> Sequence[Ticket]:
        return [*self.main.list_open_tickets(), *self.duplicates.list_open_tickets()]

    def cancel_ticket(self, key: str, comment: str) -> Ticket:
        return self._desk(key).cancel_ticket(key, comment)

    def reopen_ticket(self, key: str, comment: str) -> Ticket:
        return self._desk(key).reopen_ticket(key, comment)


def test_closing_a_duplicate_ticket_does_not_end_the_order() -> None:
    desk = RacyDesk()
    world = build_contract_world("support", SupportProcessor(desk), SUPPORT_CAPABILITIES)
    market = world.market
    order = market.order_resource(
        world.consumer.id, world.project.id, world.offering.id, world.plan.id, "db-1"
    )
    (duplicate,) = desk.duplicates.list_open_tickets()
    desk.duplicates.cancel_ticket(duplicate.key, "Duplicate of SUP-1")  # the team's side
    apply_ticket(market, world.provider.id, desk.get_ticket(duplicate.key))  # the webhook
    assert market.get_order(order.id).state is OrderState.EXECUTING


# --------------------------------------------------------------------------- the contract


class TrustsTheResourceBackendId(DictProcessor):
    """Not idempotent per order id: it takes a backend id on the resource as proof that the
    work was done, and otherwise creates a new backend resource. After a crash between the
    backend call and the commit, the resource has no backend id, so this creates twice."""

    def create(self, request: ProcessingRequest) -> Completed | InProgress:
        if request.resource.backend_id:
            return Completed(backend_id=request.resource.backend_id)
        backend = self.backend
        backend.check()
        backend.created += 1
        backend_id = f"vm-{backend.created}"
        backend.resources[backend_id] = dict(request.order.limits)
        return Completed(backend_id=backend_id)


def test_the_contract_catches_a_create_that_trusts_the_resource_backend_id() -> None:
    class Broken(DictContract):
        __test__ = False

        def make_processor(self, backend: DictBackend) -> DictProcessor:
            return TrustsTheResourceBackendId(backend)

    result = unittest.TestResult()
    Broken("test_an_order_handed_over_twice_is_created_once").run(result)
    assert len(result.failures) == 1, result.errors
