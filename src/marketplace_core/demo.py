"""The guided demo: a provider publishes a catalogue, a project orders, approvers approve, the
provider fulfils, usage is reported under a spending policy over two months, January and
February are invoiced, the due jobs end what has reached its end date, and a virtual machine
is provisioned, resized and removed by a script through the ``script`` plugin.

Everything goes through the :class:`~marketplace_core.Marketplace` facade, on a new SQLite
file (a temporary one unless the caller names it), with a clock that starts on 2 January 2026
and readable, sequential ids, so the story prints the same every time.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from marketplace_core.adapters.locations import new_sqlite_file
from marketplace_core.adapters.memory import EventLog, RecordingNotifier
from marketplace_core.adapters.sqlite import SqliteStorage
from marketplace_core.clocks import FixedClock
from marketplace_core.console import format_table, heading
from marketplace_core.errors import MarketplaceError
from marketplace_core.events import PolicyActionRun
from marketplace_core.ids import SequentialIdGenerator
from marketplace_core.marketplace import Marketplace
from marketplace_core.offerings import (
    BillingType,
    LimitedTo,
    LimitPeriod,
    Offering,
    OfferingComponent,
    Plan,
    PlanUnit,
    Shared,
    Visibility,
)
from marketplace_core.plugins import (
    PluginRegistry,
    ScriptProcessor,
    register_basic,
    register_script,
)
from marketplace_core.policies import (
    ActionKind,
    PolicyAction,
    PolicyMetric,
    PolicyPeriod,
)
from marketplace_core.roles import Role, ScopeKind

STORY_START = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)

DEMO_CLOUD = Path(__file__).parent / "demo_cloud"
"""Where the program the VM offering runs lives (``vms.py``)."""


class Story:
    """The demo's cast, its marketplace, and one method per chapter."""

    def __init__(self, out: TextIO, cloud: Path, storage: SqliteStorage) -> None:
        self.out = out
        self.cloud = cloud
        self.storage = storage
        self.clock = FixedClock(STORY_START)
        self.events = EventLog()
        self.notifier = RecordingNotifier()
        plugins = PluginRegistry()
        register_basic(plugins)
        register_script(
            plugins, ScriptProcessor(DEMO_CLOUD, environment={"DEMO_CLOUD_DIR": str(cloud)})
        )
        self.market = Marketplace(
            storage,
            clock=self.clock,
            ids=SequentialIdGenerator(),
            plugins=plugins,
            event_sink=self.events,
            notifier=self.notifier,
        )

    def write(self, text: str) -> None:
        self.out.write(text + "\n")

    def states(self, order_id: str) -> list[str]:
        """The state of an order and of its resource, for a table row."""
        order = self.market.get_order(order_id)
        return [order.state.value, self.market.get_resource(order.resource_id).state.value]

    def tell(self) -> None:
        """Every chapter, in order."""
        self.set_up_organizations()
        self.publish_offerings()
        self.show_what_projects_may_order()
        self.order_and_fulfil()
        self.bill_january()
        self.end_of_life()
        self.run_a_virtual_machine()
        self.show_events()

    def set_up_organizations(self) -> None:
        self.write(heading("1. The platform operator sets up organizations and people"))
        market = self.market
        self.root = root = market.bootstrap_staff_user("root", full_name="Platform operator")
        estonia = market.create_organization_group(root.id, "Estonian universities")
        self.estonia = estonia
        university = market.create_organization(root.id, "University of Tartu", group_id=estonia.id)
        self.university = market.set_tax_percent(root.id, university.id, 20)
        institute = market.create_organization(root.id, "Helsinki Institute")
        self.center = market.create_organization(root.id, "HPC Center")
        self.alice = market.create_user(root.id, "alice", full_name="Alice, PI at Tartu")
        hanna = market.create_user(root.id, "hanna", full_name="Hanna, PI in Helsinki")
        self.olga = market.create_user(root.id, "olga", full_name="Olga, HPC Center owner")
        market.grant_role(root.id, self.alice.id, Role.ORGANIZATION_OWNER, university.id)
        market.grant_role(root.id, hanna.id, Role.ORGANIZATION_OWNER, institute.id)
        market.grant_role(root.id, self.olga.id, Role.ORGANIZATION_OWNER, self.center.id)
        self.genomics = market.create_project(self.alice.id, university.id, "Genome assembly")
        self.climate = market.create_project(hanna.id, institute.id, "Climate downscaling")
        self.write(
            format_table(
                ["organization", "group", "project"],
                [
                    [university.name, estonia.name, self.genomics.name],
                    [institute.name, "-", self.climate.name],
                    [self.center.name, "-", "(provider)"],
                ],
            )
        )

    def publish_offerings(self) -> None:
        self.write(heading("2. HPC Center publishes two offerings"))
        market, root, olga = self.market, self.root, self.olga
        market.register_provider(root.id, self.center.id, description="National HPC services")
        hpc = market.create_category(root.id, "HPC")
        cloud = market.create_category(root.id, "Virtual machines")
        self.cluster = market.create_offering(
            olga.id,
            self.center.id,
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
        self.standard: Plan = market.create_plan(
            olga.id,
            self.cluster.id,
            "Standard",
            PlanUnit.MONTH,
            prices={"cpu": Decimal("0.015"), "gpu": Decimal("0.60"), "storage": Decimal("0.02")},
        )
        self.vms = vms = market.create_offering(
            olga.id,
            self.center.id,
            "Research VMs",
            "script",
            category_id=cloud.id,
            visibility=LimitedTo(organization_group_ids=frozenset({self.estonia.id})),
            components=[
                OfferingComponent(
                    "vcpu", "Virtual CPUs", BillingType.LIMIT, min_value=1, max_value=64
                ),
                OfferingComponent("ram", "RAM", BillingType.LIMIT, measured_unit="MB", factor=1024),
                OfferingComponent("setup", "Set-up fee", BillingType.ONE_TIME),
            ],
            plugin_options={"create": "vms.py", "update": "vms.py", "terminate": "vms.py"},
        )
        for name, vcpu, ram in (("Small", "0.40", "0.05"), ("Large", "0.35", "0.04")):
            market.create_plan(
                olga.id, vms.id, name, PlanUnit.DAY, prices={"vcpu": vcpu, "ram": ram, "setup": 25}
            )
        try:
            market.activate_offering(olga.id, self.cluster.id)
        except MarketplaceError as refusal:
            self.write(f"\nOlga tries to activate the cluster herself: refused ({refusal.code}).")
        for offering in (self.cluster, vms):
            market.activate_offering(root.id, offering.id)
        self.write(
            "The platform operator reviews and activates both offerings. The cluster is run by "
            "hand (the basic\nplugin); the VMs by a program of Olga's, vms.py, which the script "
            "plugin runs for each order."
        )
        for offering in market.list_offerings(self.center.id):
            self.show_offering(offering)

    def audience(self, visibility: Visibility) -> str:
        match visibility:
            case Shared():
                return "everyone"
            case LimitedTo(organization_ids=organizations, organization_group_ids=groups):
                names = [self.market.get_organization(o).name for o in sorted(organizations)]
                names += [self.market.get_organization_group(g).name for g in sorted(groups)]
                return ", ".join(names) + " only"
            case _:
                return type(visibility).__name__

    def show_offering(self, offering: Offering) -> None:
        market = self.market
        category = market.get_category(offering.category_id) if offering.category_id else None
        provider = market.get_organization(offering.provider_id)
        self.write(
            f"\n{offering.name} ({offering.id}) by {provider.name}: {offering.state.value}, "
            f"category {category.title if category else '-'}, visible to "
            f"{self.audience(offering.visibility)}\n"
        )
        self.write(
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
            + "\n"
        )
        self.write(
            format_table(
                ["plan", "per", *(c.type for c in offering.components)],
                [
                    [p.name, p.unit.value, *(p.price_of(c.type) for c in offering.components)]
                    for p in market.list_plans(offering.id)
                ],
            )
        )

    def show_what_projects_may_order(self) -> None:
        self.write(heading("3. What each project may order"))
        self.show_orderable()
        self.write("\nThe VMs are limited to Estonian universities, so Helsinki does not see them.")

    def show_orderable(self) -> None:
        self.write(
            format_table(
                ["project", "may order"],
                [
                    [
                        p.name,
                        ", ".join(o.name for o in self.market.list_orderable_offerings(p.id))
                        or "-",
                    ]
                    for p in (self.genomics, self.climate)
                ],
            )
        )

    def order_and_fulfil(self) -> None:
        self.write(heading("4. An order passes its reviews and is fulfilled"))
        market, alice, olga, root = self.market, self.alice, self.olga, self.root
        self.pat = pat = market.create_user(root.id, "pat", full_name="Pat, project manager")
        market.grant_role(alice.id, pat.id, Role.PROJECT_MANAGER, self.genomics.id)
        journey: list[list[object]] = []

        def record(step: str, who: str, order_id: str) -> None:
            journey.append([step, who, *self.states(order_id)])

        order = market.order_resource(
            pat.id,
            self.genomics.id,
            self.cluster.id,
            self.standard.id,
            "Assembly scratch",
            limits={"storage": 500},
        )
        record("Pat orders 500 GB of storage", "pat", order.id)
        market.approve_order_as_consumer(alice.id, order.id)
        record("Alice approves for the project", "alice", order.id)
        market.approve_order_as_provider(olga.id, order.id)
        record("Olga approves for the provider", "olga", order.id)
        self.storage_id = storage_id = order.resource_id
        market.resource_creation_succeeded(olga.id, storage_id, backend_id="lustre/genome-01")
        record("Olga reports the storage created", "olga", order.id)
        change = market.order_limit_change(pat.id, storage_id, {"storage": 800})
        record("Pat asks for 800 GB", "pat", change.id)
        market.approve_order_as_consumer(alice.id, change.id)
        market.approve_order_as_provider(olga.id, change.id)
        record("Alice and Olga approve", "alice, olga", change.id)
        market.resource_update_succeeded(olga.id, storage_id)
        record("Olga reports the quota raised", "olga", change.id)
        self.write(format_table(["step", "by", "order", "resource"], journey))
        created = market.get_order(order.id)
        resource = market.get_resource(storage_id)
        first = self.notifier.sent[0]
        recipients = ", ".join(market.get_user(user_id).username for user_id in first.recipient_ids)
        self.write(
            f"\nThe create order was estimated at {created.cost} per month (storage at 0.02 per "
            f"GB);\nthe resource now holds {resource.limits['storage']} GB, costs {resource.cost} "
            f"per month, and lives on the backend as {resource.backend_id!r}.\n"
            f"{len(self.notifier.sent)} notifications asked approvers to review, the first "
            f"{first.subject!r} to {recipients}."
        )

    def report_cluster_usage(self, day: date, cpu: str, gpu: str) -> None:
        """Olga's accounting agent reports the month-to-date CPU and GPU hours of the
        storage's project on the evening of ``day``."""
        self.clock.set(datetime(day.year, day.month, day.day, 23, 0, tzinfo=UTC))
        for component, amount in (("cpu", cpu), ("gpu", gpu)):
            self.market.report_usage(
                self.olga.id,
                self.storage_id,
                component,
                amount,
                idempotency_key=f"rocket-{component}-{day.isoformat()}",
            )

    def bill_january(self) -> None:
        self.write(heading("5. A month of usage, and January's invoice"))
        market, olga, root = self.market, self.olga, self.root
        policy = market.create_policy(
            self.alice.id,
            ScopeKind.PROJECT,
            self.genomics.id,
            PolicyMetric.ESTIMATED_COST,
            PolicyPeriod.MONTH,
            [
                PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS, percent=Decimal(80)),
                PolicyAction(ActionKind.BLOCK_CREATION, percent=Decimal(100)),
            ],
            limit=150,
        )
        self.write(
            "Alice caps the project's monthly spend at 150.00: warn the owners at 80%, block "
            "new orders at 100%.\n"
        )
        rows: list[list[object]] = []
        for day, cpu, gpu in ((10, "1200", "40"), (20, "2650.5", "95"), (31, "4100", "150")):
            self.report_cluster_usage(date(2026, 1, day), cpu, gpu)
            share = market.policy_share(policy.id).quantize(Decimal(1))
            actions = ", ".join(
                e.event.action
                for e in self.events.events
                if isinstance(e.event, PolicyActionRun) and e.event.occurred_at == self.clock.now()
            )
            rows.append([f"2026-01-{day}", cpu, gpu, f"{share}%", actions or "-"])
        self.write("Olga's accounting agent reports month-to-date usage; each report replaces")
        self.write("the last one for the month, and the policy follows the spend:\n")
        self.write(
            format_table(["reported on", "CPU hours", "GPU hours", "of the cap", "fired"], rows)
        )
        try:
            market.order_resource(
                self.pat.id,
                self.genomics.id,
                self.cluster.id,
                self.standard.id,
                "More scratch",
                limits={"storage": 100},
            )
        except MarketplaceError as refusal:
            self.write(f"\nPat orders more scratch space on 31 January: refused ({refusal.code}).")
        warned = [n for n in self.notifier.sent if n.topic == "policy.threshold_reached"]
        owners = ", ".join(market.get_user(u).username for u in warned[0].recipient_ids)
        self.write(f"The owners were warned: {warned[0].subject!r} (to {owners}).")
        again = market.report_usage(
            olga.id, self.storage_id, "cpu", "1200", idempotency_key="rocket-cpu-2026-01-10"
        )
        self.write(
            f"\nThe agent resends the report of 10 January by mistake: same key, same content, "
            f"so it is ignored\n(the first report, {again.id}, is returned and nothing changes)."
        )
        market.set_credit(root.id, self.university.id, "50")
        self.clock.set(datetime(2026, 2, 1, 0, 30, tzinfo=UTC))
        report = market.run_billing()
        invoice = market.get_invoice(report.issued[0])
        self.write(
            f"\nOn 1 February the billing run issues {len(report.issued)} invoice for January "
            f"(the University has\na 50.00 credit and a {invoice.tax_percent}% tax rate):\n"
        )
        items = market.list_invoice_items(invoice.id)
        self.write(
            format_table(
                ["item", "quantity", "unit", "unit price", "price"],
                [
                    [i.name, i.quantity, i.unit.value, i.unit_price, i.price]
                    for i in items
                    if i.price
                ],
            )
        )
        totals = invoice.totals
        assert totals is not None
        self.write(
            f"\nprice {totals.price}, tax {totals.tax}, total {totals.total} "
            f"({invoice.state.value} on {invoice.issued_at:%Y-%m-%d}).\nStorage is billed "
            "day by day: it went live on 2 January and was raised to 800 GB the same day,\n"
            "and an increase bills from the start of its day, so 30 of 31 days bill at 800 GB "
            "(0.97 of a month,\nrounded up). The credit paid the cheapest items first."
        )
        blocked = market.get_policy(policy.id).in_force(ActionKind.BLOCK_CREATION, self.clock.now())
        self.write(
            "February starts a new period for the spending policy: new orders are "
            + ("still blocked." if blocked else "allowed again.")
        )

    def end_of_life(self) -> None:
        self.write(heading("6. February: maintenance, usage, an end date, and the due jobs"))
        market, olga = self.market, self.olga
        self.clock.set(datetime(2026, 2, 1, 8, 0, tzinfo=UTC))
        market.pause_offering(olga.id, self.cluster.id)
        self.write("On 1 February Olga pauses the cluster for maintenance:\n")
        self.show_orderable()
        market.set_resource_end_date(self.pat.id, self.storage_id, date(2026, 2, 28))
        self.write("\nPat sets the storage's last day to 28 February. The storage stays in use:")
        rows: list[list[object]] = []
        for day, cpu, gpu in ((14, "900", "20"), (28, "1750", "42")):
            self.report_cluster_usage(date(2026, 2, day), cpu, gpu)
            rows.append([f"2026-02-{day}", cpu, gpu])
        self.write("\n" + format_table(["reported on", "CPU hours", "GPU hours"], rows))
        self.clock.set(datetime(2026, 3, 1, 6, 0, tzinfo=UTC))
        report = market.run_due_jobs()
        termination = market.get_order(report.terminations[0])
        self.write(
            f"\nOn 1 March the due jobs place termination order {termination.id} as the system "
            f"({termination.state.value});"
        )
        market.resource_deletion_succeeded(olga.id, self.storage_id)
        state = market.get_resource(self.storage_id).state.value
        self.write(f"Olga reports the storage removed: the resource is {state}.")
        billing = market.run_billing()
        self.write(
            f"The billing run of 1 March issues {len(billing.issued)} invoice for February. "
            "The University's invoices:\n"
        )
        invoices = [
            [f"{i.month:%B %Y}", i.state.value, totals.price, totals.tax, totals.total]
            for i in market.list_invoices(self.university.id)
            if (totals := i.totals) is not None
        ]
        self.write(format_table(["month", "invoice", "price", "tax", "total"], invoices))
        self.write(
            "\nFebruary bills the storage for its 28 days and the usage reported in February; "
            "the\ncredit was spent in January."
        )

    def run_a_virtual_machine(self) -> None:
        self.write(heading("7. A virtual machine, provisioned by a script"))
        market, alice, pat = self.market, self.alice, self.pat
        self.clock.set(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
        small = next(p for p in market.list_plans(self.vms.id) if p.name == "Small")
        rows: list[list[object]] = []

        def record(step: str, order_id: str) -> None:
            on_cloud = sorted(vm.stem for vm in self.cloud.glob("vm-*.json"))
            rows.append([step, *self.states(order_id), ", ".join(on_cloud) or "-"])

        order = market.order_resource(
            pat.id,
            self.genomics.id,
            self.vms.id,
            small.id,
            "Assembly viewer",
            limits={"vcpu": 2, "ram": 4096},
        )
        record("Pat orders a VM with 2 vCPUs", order.id)
        market.approve_order_as_consumer(alice.id, order.id)
        record("Alice approves; vms.py creates it", order.id)
        vm = market.get_resource(order.resource_id)
        change = market.order_limit_change(pat.id, vm.id, {"vcpu": 4, "ram": 4096})
        record("Pat asks for 4 vCPUs", change.id)
        market.approve_order_as_consumer(alice.id, change.id)
        record("Alice approves; vms.py resizes it", change.id)
        metadata = market.get_resource(vm.id).backend_metadata
        termination = market.order_termination(pat.id, vm.id)
        record("Pat asks to terminate it", termination.id)
        market.approve_order_as_consumer(alice.id, termination.id)
        record("Alice approves; vms.py deletes it", termination.id)
        self.write(format_table(["step", "order", "resource", "VMs on the cloud"], rows))
        self.write(
            f"\nvms.py answered the backend id {vm.backend_id!r}, the host name "
            f"{metadata['hostname']} and the address\n{metadata['ip']}; the resize added "
            f"vcpus={metadata['vcpus']} to the metadata. No provider review was needed (the "
            "script\nplugin's default), and each order finished when the program exited."
        )

    def show_events(self) -> None:
        self.write(heading("8. Everything that happened, as domain events"))
        market = self.market
        self.write(
            format_table(
                ["#", "when", "event", "by"],
                [
                    [
                        r.position,
                        r.event.occurred_at.strftime("%Y-%m-%d %H:%M"),
                        r.event.event_type,
                        market.get_user(r.event.actor_id).username
                        if r.event.actor_id
                        else "system",
                    ]
                    for r in self.events.events[-8:]
                ],
            )
        )
        self.write(
            f"\n{len(self.events.events)} events were committed to the outbox; the last eight "
            f"are shown.\nEverything is stored in the SQLite database {self.storage.path}."
        )


def run_demo(out: TextIO, database: Path | None = None) -> Path:
    """Tell the story on ``out``, stored in a new SQLite file at ``database`` (by default
    ``demo.db`` in a new temporary directory, which is kept); returns the file's path.

    Refuses a ``database`` that already exists: the story starts from an empty marketplace.
    The demo's cloud (the VM offering's state) lives in a temporary directory.
    """
    database = new_sqlite_file(database, default_name="demo.db", field="database")
    with (
        tempfile.TemporaryDirectory(prefix="marketplace-demo-cloud-") as cloud,
        SqliteStorage.open(database) as storage,
    ):
        Story(out, Path(cloud), storage).tell()
    return database
