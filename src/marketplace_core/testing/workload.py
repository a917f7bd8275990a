"""A workload for proving a durable storage under several processes, and the checks after.

Each worker process opens its own storage on one database (a location string, see
:func:`~marketplace_core.adapters.locations.open_storage`) and drives a
:class:`~marketplace_core.Marketplace` through it: it places orders and processes them as a
claiming worker (:meth:`~marketplace_core.Marketplace.process_executing_orders` with a
``worker_id``), or reports usage. The processor writes one line per call to a journal file
shared by every process, so a test can tell whether any order was handed to a backend twice.
:func:`storage_problems` then reads the database back and lists every broken rule: what a
test (or a host proving its own adapter) asserts is empty, after a clean run and after a
process was killed in the middle.

The workload's clock stands still at :data:`WORKLOAD_START`, so every report falls in one
month and leases run out only when a test moves a clock itself.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import attrs

from marketplace_core.adapters.locations import open_storage
from marketplace_core.billing.items import ItemKind
from marketplace_core.clocks import FixedClock
from marketplace_core.errors import ConflictError, MarketplaceError
from marketplace_core.events import OrderStateChanged, ResourceStateChanged
from marketplace_core.marketplace import Marketplace
from marketplace_core.offerings import BillingType, OfferingComponent, PlanUnit
from marketplace_core.orders import OrderState
from marketplace_core.plugins import PluginCapabilities, PluginRegistry
from marketplace_core.plugins.processor import Completed, ProcessingRequest
from marketplace_core.ports import Clock, Storage
from marketplace_core.resources import ResourceState
from marketplace_core.roles import Role
from marketplace_core.services.usage import UsageLine

WORKLOAD_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""The workload's (standing) clock."""

WORKLOAD_MONTH = date(2026, 3, 1)
"""The month every workload report falls in."""

PLUGIN = "journaled"
"""The plugin type of the workload's offering."""

COMPONENT = "cpu_hours"
"""The usage component reports are made for."""


@attrs.frozen
class Catalogue:
    """The ids a worker needs: who orders (an organization owner), in which project, from
    which offering and plan, and who reports usage (the provider's owner)."""

    owner_id: str
    project_id: str
    offering_id: str
    plan_id: str
    provider_owner_id: str

    def to_arguments(self) -> list[str]:
        """The catalogue as command-line arguments (see :meth:`from_arguments`)."""
        return [
            self.owner_id,
            self.project_id,
            self.offering_id,
            self.plan_id,
            self.provider_owner_id,
        ]

    @classmethod
    def from_arguments(cls, arguments: Sequence[str]) -> Catalogue:
        """The catalogue :meth:`to_arguments` wrote."""
        return cls(*arguments)


class JournaledProcessor:
    """Completes every order at once and appends ``worker order-id`` to a journal file (one
    ``O_APPEND`` write per line, so lines from several processes never interleave)."""

    def __init__(self, journal: Path | None, worker_id: str = "-") -> None:
        self.worker_id = worker_id
        self._fd = (
            None if journal is None else os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        )

    def _record(self, method: str, request: ProcessingRequest) -> Completed:
        if self._fd is not None:
            os.write(self._fd, f"{self.worker_id} {method} {request.order.id}\n".encode())
        return Completed(backend_id=f"backend-{request.resource.id}")

    def validate(self, request: ProcessingRequest) -> None:
        """Accept every order."""

    def create(self, request: ProcessingRequest) -> Completed:
        """Record the call; done."""
        return self._record("create", request)

    def update(self, request: ProcessingRequest) -> Completed:
        """Record the call; done."""
        return self._record("update", request)

    def terminate(self, request: ProcessingRequest) -> Completed:
        """Record the call; done."""
        return self._record("terminate", request)


def workload_marketplace(
    storage: Storage, journal: Path | None = None, worker_id: str = "-", clock: Clock | None = None
) -> Marketplace:
    """A marketplace on ``storage`` that leaves executing orders to workers, with the
    workload's plugin journaling to ``journal``."""
    plugins = PluginRegistry()
    plugins.register(
        PLUGIN,
        JournaledProcessor(journal, worker_id),
        PluginCapabilities(needs_provider_review=False),
    )
    return Marketplace(
        storage,
        clock=clock or FixedClock(WORKLOAD_START),
        plugins=plugins,
        process_immediately=False,
    )


def seed_catalogue(storage: Storage) -> Catalogue:
    """Create the workload's organizations, people, offering (a fixed price and a usage
    component) and plan in an empty storage."""
    market = workload_marketplace(storage)
    root = market.bootstrap_staff_user("root")
    provider = market.create_organization(root.id, "Provider")
    market.register_provider(root.id, provider.id)
    provider_owner = market.create_user(root.id, "provider-owner")
    market.grant_role(root.id, provider_owner.id, Role.ORGANIZATION_OWNER, provider.id)
    category = market.create_category(root.id, "Compute")
    offering = market.create_offering(
        root.id,
        provider.id,
        "Cluster",
        PLUGIN,
        category_id=category.id,
        components=[
            OfferingComponent("node", "Node", BillingType.FIXED),
            OfferingComponent(COMPONENT, "CPU hours", BillingType.USAGE),
        ],
    )
    plan = market.create_plan(
        root.id, offering.id, "Standard", PlanUnit.MONTH, prices={"node": 10, COMPONENT: "0.5"}
    )
    market.activate_offering(root.id, offering.id)
    consumer = market.create_organization(root.id, "Consumer")
    owner = market.create_user(root.id, "owner")
    market.grant_role(root.id, owner.id, Role.ORGANIZATION_OWNER, consumer.id)
    project = market.create_project(owner.id, consumer.id, "Project")
    return Catalogue(owner.id, project.id, offering.id, plan.id, provider_owner.id)


def place_and_process(
    location: str, catalogue: Catalogue, worker_id: str, orders: int, journal: Path
) -> None:
    """As one worker process: place ``orders`` orders, then process executing orders (any
    worker's) as ``worker_id`` until none is left."""
    storage = open_storage(location)
    try:
        market = workload_marketplace(storage, journal, worker_id)
        for number in range(orders):
            market.order_resource(
                catalogue.owner_id,
                catalogue.project_id,
                catalogue.offering_id,
                catalogue.plan_id,
                f"{worker_id}-{number}",
            )
            if number % 10 == 9:
                market.process_executing_orders(10, worker_id=worker_id)
        while market.process_executing_orders(50, worker_id=worker_id):
            pass
    finally:
        storage.close()


def usage_lines(resource_ids: Sequence[str], count: int) -> list[UsageLine]:
    """``count`` reports spread over ``resource_ids``, each with its own key; a resource's
    month-to-date amounts grow with the key's number."""
    return [
        UsageLine(
            resource_ids[number % len(resource_ids)],
            COMPONENT,
            Decimal(number + 1) / 4,
            f"usage-{number}",
            WORKLOAD_MONTH,
        )
        for number in range(count)
    ]


def report_usage_lines(location: str, catalogue: Catalogue, lines: Iterable[UsageLine]) -> None:
    """As one worker process: report each line on its own as the provider's owner, again
    when it lost a race with another process (a repeated key returns the stored report)."""
    storage = open_storage(location)
    try:
        market = workload_marketplace(storage)
        for line in lines:
            for _attempt in range(50):
                try:
                    market.report_usages(catalogue.provider_owner_id, [line])
                    break
                except ConflictError:
                    continue
            else:
                raise RuntimeError(f"usage line {line.idempotency_key} lost 50 races in a row")
    finally:
        storage.close()


def command_stream(location: str, catalogue: Catalogue, worker_id: str, journal: Path) -> None:
    """As one worker process, until it is killed: place an order, process what waits, report
    usage on the new resource, and order the termination of every third one (processed
    next round). After each command returns (its unit committed) the process appends
    ``worker done <kind> <id>`` to ``journal``, so a test that kills it knows which commands
    must be stored."""
    storage = open_storage(location)
    market = workload_marketplace(storage, journal, worker_id)
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT)

    def done(kind: str, entity_id: str) -> None:
        os.write(fd, f"{worker_id} done {kind} {entity_id}\n".encode())

    number = 0
    while True:
        number += 1
        try:
            order = market.order_resource(
                catalogue.owner_id,
                catalogue.project_id,
                catalogue.offering_id,
                catalogue.plan_id,
                f"{worker_id}-{number}",
            )
            done("order", order.id)
            for processed in market.process_executing_orders(worker_id=worker_id):
                done("processed", processed.id)
            line = UsageLine(
                order.resource_id, COMPONENT, Decimal(number), f"{worker_id}-u{number}"
            )
            (report,) = market.report_usages(catalogue.provider_owner_id, [line])
            done("usage", report.idempotency_key)
            if number % 3 == 0:
                ended = market.order_termination(catalogue.owner_id, order.resource_id)
                done("order", ended.id)
        except MarketplaceError as error:
            # Another stream got there first (a conflict, or an order it has not processed
            # yet): nothing was written; go on with the next round.
            os.write(fd, f"{worker_id} refused {error.code} -\n".encode())


def journaled_commands(journal: Path) -> dict[str, set[str]]:
    """What :func:`command_stream` journaled as done, by kind (``order``, ``processed``,
    ``usage``)."""
    found: dict[str, set[str]] = {}
    if journal.exists():
        for line in journal.read_text().splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[1] == "done":
                found.setdefault(parts[2], set()).add(parts[3])
    return found


def journal_calls(journal: Path) -> Counter[str]:
    """How many times the processor was called for each order id."""
    if not journal.exists():
        return Counter()
    return Counter(
        parts[2] for line in journal.read_text().splitlines() if len(parts := line.split()) == 3
    )


def storage_problems(storage: Storage) -> list[str]:
    """Every rule a stored marketplace breaks (empty: none), read in one unit of work:

    - a resource has at most one open order, and its state agrees with its orders;
    - each order's and resource's state is where its committed events lead (a command is
      stored whole or not at all: its changes and its events commit together);
    - outbox positions are gapless from 1;
    - every usage report is stored once per key, and each resource's usage item bills the
      month-to-date total of the report accepted last.
    """
    problems: list[str] = []
    with storage.unit_of_work() as uow:
        orders = uow.orders.all()
        resources = {resource.id: resource for resource in uow.resources.all()}
        events = uow.outbox.read()
        reports = uow.usage_reports.all()
        items = uow.invoice_items.all()
        months = {(report.resource_id, report.component_type, report.month) for report in reports}
        latest = {key: uow.usage_reports.latest(*key) for key in months}
    positions = [recorded.position for recorded in events]
    if positions != list(range(1, len(positions) + 1)):
        problems.append(f"outbox positions are not gapless from 1: {positions[:10]}...")
    order_walk: dict[str, str] = {}
    resource_walk: dict[str, str] = {}
    for recorded in events:
        event = recorded.event
        if isinstance(event, OrderStateChanged):
            order_walk[event.order_id] = event.target
        elif isinstance(event, ResourceStateChanged):
            resource_walk[event.resource_id] = event.target
    open_orders: Counter[str] = Counter()
    for order in orders:
        if order.resource_id not in resources:
            problems.append(f"order {order.id} names resource {order.resource_id}, not stored")
        walked = order_walk.get(order.id, OrderState.PENDING_CONSUMER.value)
        if order.state.value != walked:
            problems.append(f"order {order.id} is {order.state.value}; its events say {walked}")
        if order.is_open:
            open_orders[order.resource_id] += 1
    for resource_id, count in open_orders.items():
        if count > 1:
            problems.append(f"resource {resource_id} has {count} open orders")
    for resource in resources.values():
        walked = resource_walk.get(resource.id, ResourceState.CREATING.value)
        if resource.state.value != walked:
            problems.append(
                f"resource {resource.id} is {resource.state.value}; events say {walked}"
            )
        if resource.state is ResourceState.CREATING and not open_orders[resource.id]:
            problems.append(f"resource {resource.id} is creating without an open order")
    keys = Counter(report.idempotency_key for report in reports)
    problems += [f"usage key {key} is stored {n} times" for key, n in keys.items() if n > 1]
    billed: dict[tuple[str, str, date], Decimal] = {}
    for item in items:
        if item.kind is ItemKind.USAGE:
            key = (item.resource_id, item.component_type, item.month)
            billed[key] = billed.get(key, Decimal(0)) + item.quantity
    for key, report in latest.items():
        assert report is not None  # a stored report is its own latest at worst
        if billed.get(key) != report.amount:
            problems.append(
                f"usage of {key[1]} on {key[0]} in {key[2]:%Y-%m} bills {billed.get(key)}, "
                f"but the report accepted last says {report.amount}"
            )
    return problems
