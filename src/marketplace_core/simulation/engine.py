"""The simulation engine: build a scenario's world on a storage, play it month by month, and
read the report back from storage.

Everything goes through the :class:`~marketplace_core.Marketplace` facade, with a
:class:`~marketplace_core.FixedClock` the engine moves (the only time the run sees) and
sequential ids, so the same scenario and seed give the same report on every storage. Random
choices come from the seed: the order process from one generator consumed in a fixed order,
usage and backend failures from draws keyed by what they are about, so they do not depend on
the order in which a storage lists things.

Each month is split into ``steps_per_month`` steps. At each step the providers decide the
orders waiting for their review, projects place the orders drawn for that step, and the
providers report every live resource's month-to-date usage. On the month's last evening some
resources are terminated; on the first of the next month the due jobs run and the billing
run issues the month's invoices.
"""

from __future__ import annotations

import calendar
import contextlib
import random
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta

import attrs
from dateutil.relativedelta import relativedelta

from marketplace_core.clocks import FixedClock
from marketplace_core.errors import BackendError, ErrorCode, MarketplaceError, ValidationError
from marketplace_core.events import PolicyActionRun
from marketplace_core.ids import SequentialIdGenerator
from marketplace_core.marketplace import Marketplace
from marketplace_core.offerings import LimitedTo, OfferingOptions, Shared, Visibility
from marketplace_core.orders import Order, OrderState, OrderType
from marketplace_core.plugins import PluginCapabilities, PluginRegistry
from marketplace_core.plugins.processor import Completed, ProcessingRequest
from marketplace_core.policies import PolicyMetric
from marketplace_core.ports import Storage
from marketplace_core.resources import ResourceState
from marketplace_core.roles import Role, ScopeKind
from marketplace_core.services.usage import UsageLine
from marketplace_core.simulation.progress import NoProgress, Progress
from marketplace_core.simulation.report import InvoiceLine, PolicyFiring, Report
from marketplace_core.simulation.scenario import (
    OfferingSpec,
    OrganizationSpec,
    Scenario,
    ScenarioError,
)

PLUGIN = "simulated"
"""The plugin type of every simulated offering."""

EVENT_PAGE = 1000


def keyed_random(seed: int, *key: object) -> random.Random:
    """A generator seeded by ``seed`` and ``key``: the same draws for the same key, whatever
    was drawn before."""
    return random.Random(f"{seed}:{':'.join(map(str, key))}")


class SimulatedBackend:
    """A backend that finishes every order at once, except that it fails a share of
    creations (the offering's ``failure_chance`` plugin option), chosen by the order's id and
    the seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def validate(self, request: ProcessingRequest) -> None:
        """Accept every order."""

    def create(self, request: ProcessingRequest) -> Completed:
        """Done at once, or a :class:`~marketplace_core.errors.BackendError`."""
        failure_chance = float(request.offering.plugin_options.get("failure_chance", "0"))
        if keyed_random(self.seed, "backend", request.order.id).random() < failure_chance:
            raise BackendError(
                ErrorCode.BACKEND_FAILED,
                f"the simulated backend failed to create resource {request.resource.id!r}",
                resource_id=request.resource.id,
            )
        return Completed(backend_id=f"simulated-{request.resource.id}")

    def update(self, request: ProcessingRequest) -> Completed:
        """Done at once."""
        return Completed()

    def terminate(self, request: ProcessingRequest) -> Completed:
        """Done at once."""
        return Completed()


@attrs.frozen
class ProjectSeat:
    """A project of the world, with its organization and the owner who orders for it."""

    organization: OrganizationSpec
    project_id: str
    owner_id: str


@attrs.frozen
class OfferingSeat:
    """An offering of the world, with its plans and the provider owner who serves it."""

    spec: OfferingSpec
    offering_id: str
    plan_ids: tuple[str, ...]
    provider_owner_id: str


@attrs.define
class World:
    """The ids the engine built, and what it counted that storage does not keep."""

    organization_ids: dict[str, str] = attrs.Factory(dict)
    owner_ids: dict[str, str] = attrs.Factory(dict)
    projects: list[ProjectSeat] = attrs.Factory(list)
    offerings: list[OfferingSeat] = attrs.Factory(list)
    offering_of: dict[str, OfferingSeat] = attrs.Factory(dict)
    policy_organizations: dict[str, str] = attrs.Factory(dict)
    providers: set[str] = attrs.Factory(set)
    refusals: Counter[tuple[str, str]] = attrs.Factory(Counter)
    usage_reports: int = 0
    pending: list[str] = attrs.Factory(list)


@contextlib.contextmanager
def _building(path: str) -> Iterator[None]:
    """Report a refusal while building the world as a fault of the scenario at ``path``."""
    try:
        yield
    except ScenarioError:
        raise
    except MarketplaceError as error:
        raise ScenarioError(path, error.message) from None


def check_empty(storage: Storage) -> None:
    """Refuse a storage that already holds users: the simulation numbers its ids from one."""
    with storage.unit_of_work() as uow:
        if uow.users.all():
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                "the storage already holds a marketplace; the simulator starts from an empty "
                "one: name a new SQLite file, 'memory', or an empty PostgreSQL database",
                field="storage",
                value="not empty",
            )


class Simulation:
    """One run of ``scenario`` on ``storage`` with ``seed``; call :meth:`run` once."""

    def __init__(self, scenario: Scenario, storage: Storage, seed: int, progress: Progress) -> None:
        self.scenario = scenario
        self.seed = seed
        self.progress = progress
        self.clock = FixedClock(datetime.combine(scenario.start, time(8), UTC))
        plugins = PluginRegistry()
        plugins.register(PLUGIN, SimulatedBackend(seed), PluginCapabilities())
        self.market = Marketplace(
            storage, clock=self.clock, ids=SequentialIdGenerator(), plugins=plugins
        )
        self.rng = random.Random(seed)
        self.world = World()

    def run(self) -> Report:
        """Build the world, play every month, and return the report read from storage."""
        check_empty(self.market.storage)
        scenario = self.scenario
        self.progress.start(scenario.months * scenario.process.steps_per_month)
        try:
            self.build()
            for number in range(scenario.months):
                self.play_month(scenario.start + relativedelta(months=number))
        finally:
            self.progress.finish()
        return self.report()

    # ------------------------------------------------------------------ building

    def build(self) -> None:
        """Create the organizations, people, projects, policies and offerings."""
        market, world = self.market, self.world
        root = market.bootstrap_staff_user("root", full_name="Simulation operator")
        self.root_id = root.id
        for index, spec in enumerate(self.scenario.organizations):
            with _building(f"organizations[{index}]"):
                organization = market.create_organization(root.id, spec.name)
                if spec.tax_percent:
                    market.set_tax_percent(root.id, organization.id, spec.tax_percent)
                owner = market.create_user(
                    root.id, f"owner-{index + 1}", full_name=f"Owner of {spec.name}"
                )
                market.grant_role(root.id, owner.id, Role.ORGANIZATION_OWNER, organization.id)
            world.organization_ids[spec.name] = organization.id
            world.owner_ids[spec.name] = owner.id
            for number, name in enumerate(spec.projects):
                with _building(f"organizations[{index}].projects[{number}]"):
                    project = market.create_project(owner.id, organization.id, name)
                world.projects.append(ProjectSeat(spec, project.id, owner.id))
            for number, policy in enumerate(spec.policies):
                with _building(f"organizations[{index}].policies[{number}]"):
                    created = market.create_policy(
                        root.id,
                        ScopeKind.ORGANIZATION,
                        organization.id,
                        PolicyMetric.ESTIMATED_COST,
                        policy.period,
                        policy.actions,
                        limit=policy.limit,
                    )
                world.policy_organizations[created.id] = spec.name
        categories: dict[str, str] = {}
        for index, offering in enumerate(self.scenario.offerings):
            with _building(f"offerings[{index}]"):
                self.build_offering(index, offering, categories)

    def build_offering(self, index: int, spec: OfferingSpec, categories: dict[str, str]) -> None:
        """Publish one offering with its plans, registering its provider on first use."""
        market, world, root_id = self.market, self.world, self.root_id
        provider_id = world.organization_ids[spec.provider]
        if provider_id not in world.providers:
            market.register_provider(root_id, provider_id)
            world.providers.add(provider_id)
        if spec.category not in categories:
            categories[spec.category] = market.create_category(root_id, spec.category).id
        visibility: Visibility = Shared()
        if spec.visible_to:
            visibility = LimitedTo(
                organization_ids=frozenset(world.organization_ids[n] for n in spec.visible_to)
            )
        owner_id = world.owner_ids[spec.provider]
        offering = market.create_offering(
            owner_id,
            provider_id,
            spec.name,
            PLUGIN,
            category_id=categories[spec.category],
            visibility=visibility,
            components=spec.components,
            options=OfferingOptions(needs_provider_review=spec.provider_review),
            plugin_options={"failure_chance": str(spec.failure_chance)},
        )
        plan_ids = []
        for number, plan in enumerate(spec.plans):
            with _building(f"offerings[{index}].plans[{number}]"):
                plan_ids.append(
                    market.create_plan(
                        owner_id,
                        offering.id,
                        plan.name,
                        plan.unit,
                        prices=plan.prices,
                        amounts=plan.amounts,
                        max_amount=plan.max_amount,
                    ).id
                )
        market.activate_offering(root_id, offering.id)
        seat = OfferingSeat(spec, offering.id, tuple(plan_ids), owner_id)
        world.offerings.append(seat)
        world.offering_of[offering.id] = seat

    # ------------------------------------------------------------------ playing

    def play_month(self, first: date) -> None:
        """Play the month that starts on ``first``, then bill it on the next month's first."""
        steps = self.scenario.process.steps_per_month
        low, high = (
            self.scenario.process.orders_per_month.low,
            self.scenario.process.orders_per_month.high,
        )
        schedule: list[list[ProjectSeat]] = [[] for _ in range(steps)]
        for seat in self.world.projects:
            for _ in range(self.rng.randint(low, high)):
                schedule[self.rng.randrange(steps)].append(seat)
        days = calendar.monthrange(first.year, first.month)[1]
        for step in range(steps):
            day = first + timedelta(days=step * days // steps)
            self.clock.set(datetime.combine(day, time(12), UTC))
            self.decide_pending()
            for seat in schedule[step]:
                self.place_order(seat)
            self.report_usage(first, step, steps)
            self.progress.advance(f"{first:%Y-%m}")
        last = first + timedelta(days=days - 1)
        self.clock.set(datetime.combine(last, time(23), UTC))
        self.terminate_some()
        self.clock.set(datetime.combine(last + timedelta(days=1), time(0, 30), UTC))
        self.market.run_due_jobs()
        self.market.run_billing()

    def refused(self, command: str, error: MarketplaceError) -> None:
        """Count a refusal of ``command``."""
        self.world.refusals[(command, str(error.code))] += 1

    def follow(self, order: Order) -> None:
        """Remember an order that waits for its provider."""
        if order.state is OrderState.PENDING_PROVIDER:
            self.world.pending.append(order.id)

    def decide_pending(self) -> None:
        """The providers decide the orders that wait for them: they reject a share of the
        create orders and approve the rest."""
        waiting, self.world.pending = self.world.pending, []
        for order_id in waiting:
            order = self.market.get_order(order_id)
            if order.state is not OrderState.PENDING_PROVIDER:
                continue
            seat = self.world.offering_of[order.offering_id]
            reject = order.type is OrderType.CREATE and self.rng.random() < float(
                seat.spec.rejection_chance
            )
            try:
                if reject:
                    self.market.reject_order(
                        seat.provider_owner_id, order_id, reason="declined by the provider"
                    )
                else:
                    self.market.approve_order_as_provider(seat.provider_owner_id, order_id)
            except MarketplaceError as error:
                self.refused("approve_order_as_provider", error)
                self.world.pending.append(order_id)

    def place_order(self, seat: ProjectSeat) -> None:
        """The project orders a resource of an offering it may see, on a drawn plan and
        limits; a refusal is counted."""
        name = seat.organization.name
        offerings = [
            o for o in self.world.offerings if not o.spec.visible_to or name in o.spec.visible_to
        ]
        if not offerings:
            return
        offering = self.rng.choices(offerings, weights=[o.spec.weight for o in offerings])[0]
        plan_id = self.rng.choice(offering.plan_ids)
        limits = {
            kind: self.rng.randint(span.low, span.high)
            for kind, span in offering.spec.limits.items()
        }
        try:
            order = self.market.order_resource(
                seat.owner_id,
                seat.project_id,
                offering.offering_id,
                plan_id,
                offering.spec.name,
                limits=limits,
            )
        except MarketplaceError as error:
            self.refused("order_resource", error)
            return
        self.follow(order)

    def live_resources(self, *states: ResourceState) -> Iterator[tuple[ProjectSeat, str, str]]:
        """``(project, resource id, offering id)`` of each resource in one of ``states``, in
        id order within each project."""
        for seat in self.world.projects:
            resources = self.market.list_resources(seat.project_id)
            for resource in sorted(resources, key=lambda r: r.id):
                if resource.state in states:
                    yield seat, resource.id, resource.offering_id

    def report_usage(self, first: date, step: int, steps: int) -> None:
        """The providers report each live resource's usage of the month so far: a share
        ``(step + 1) / steps`` of the month's usage drawn for it."""
        for _, resource_id, offering_id in list(self.live_resources(ResourceState.OK)):
            seat = self.world.offering_of[offering_id]
            lines = []
            for kind, span in seat.spec.usage.items():
                month_total = keyed_random(self.seed, "usage", resource_id, kind, first).randint(
                    span.low, span.high
                )
                lines.append(
                    UsageLine(
                        resource_id,
                        kind,
                        month_total * (step + 1) // steps,
                        f"{resource_id}:{kind}:{first:%Y-%m}:{step}",
                    )
                )
            if not lines:
                continue
            try:
                self.market.report_usages(seat.provider_owner_id, lines)
            except MarketplaceError as error:
                self.refused("report_usages", error)
                continue
            self.world.usage_reports += len(lines)

    def terminate_some(self) -> None:
        """Each project terminates a share of its live resources."""
        chance = float(self.scenario.process.termination_chance)
        if not chance:
            return
        states = (ResourceState.OK, ResourceState.ERRED)
        for seat, resource_id, _ in list(self.live_resources(*states)):
            if self.rng.random() >= chance:
                continue
            try:
                order = self.market.order_termination(seat.owner_id, resource_id)
            except MarketplaceError as error:
                self.refused("order_termination", error)
                continue
            self.follow(order)

    # ------------------------------------------------------------------ reading back

    def report(self) -> Report:
        """The report, read back from storage (what the engine counted aside)."""
        scenario, market, world = self.scenario, self.market, self.world
        orders: Counter[tuple[str, str]] = Counter()
        for seat in world.projects:
            for order in market.list_project_orders(seat.project_id):
                orders[(order.state.value, order.type.value)] += 1
        end = scenario.start + relativedelta(months=scenario.months)
        invoices = []
        for spec in scenario.organizations:
            for invoice in market.list_invoices(world.organization_ids[spec.name]):
                if not scenario.start <= invoice.month < end:
                    continue
                totals = invoice.totals or market.get_invoice_totals(invoice.id)
                invoices.append(
                    InvoiceLine(
                        spec.name,
                        invoice.month,
                        invoice.state.value,
                        totals.price,
                        totals.tax,
                        totals.total,
                    )
                )
        return Report(
            scenario=scenario.name,
            seed=self.seed,
            start=scenario.start,
            months=scenario.months,
            orders=_nested(orders),
            refusals=_nested(world.refusals),
            usage_reports=world.usage_reports,
            invoices=tuple(invoices),
            firings=tuple(self.firings()),
        )

    def firings(self) -> Iterator[PolicyFiring]:
        """Every policy action that ran, from the storage's outbox."""
        after = 0
        while page := self.market.events(after, EVENT_PAGE):
            for recorded in page:
                event = recorded.event
                if isinstance(event, PolicyActionRun):
                    yield PolicyFiring(
                        event.occurred_at,
                        self.world.policy_organizations.get(event.policy_id, "-"),
                        event.policy_id,
                        event.action,
                        event.share,
                    )
            after = page[-1].position


def _nested(counts: Mapping[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    nested: dict[str, dict[str, int]] = {}
    for (outer, inner), count in sorted(counts.items()):
        nested.setdefault(outer, {})[inner] = count
    return nested


def simulate(
    scenario: Scenario,
    storage: Storage,
    *,
    seed: int | None = None,
    progress: Progress | None = None,
) -> Report:
    """Play ``scenario`` on ``storage`` (which must be empty) and return its report.

    ``seed`` replaces the scenario's own; the same scenario and seed give the same report on
    any storage. ``progress`` hears of each step played.
    """
    chosen = scenario.seed if seed is None else seed
    return Simulation(scenario, storage, chosen, progress or NoProgress()).run()
