"""The samples the storage contract suite stores: fixed values, entities of every aggregate
and events, chosen so that a lossy adapter shows.

Between them the entities of each repository give every optional field a value other than
its default (and ``None`` where a field may hold it); the first of each repository is the
fullest.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from marketplace_core.billing.credits import Credit
from marketplace_core.billing.invoices import Invoice, InvoiceState, InvoiceTotals
from marketplace_core.billing.items import InvoiceItem, ItemKind
from marketplace_core.billing.usage import UsageReport
from marketplace_core.events import (
    CreditApplied,
    DomainEvent,
    InvoiceStateChanged,
    OrderPlaced,
    OrganizationUpdated,
    PlanPricesChanged,
    PolicyActionRun,
    ResourceEndDateSet,
    UsageReported,
)
from marketplace_core.frozen import FrozenMap, freeze_json
from marketplace_core.offerings import (
    BillingType,
    Category,
    LimitedTo,
    LimitPeriod,
    Offering,
    OfferingComponent,
    OfferingOptions,
    OfferingState,
    Plan,
    PlanUnit,
    PrivateToOrganization,
    PrivateToProject,
)
from marketplace_core.orders import Order, OrderState, OrderType, Review
from marketplace_core.organizations import (
    Organization,
    OrganizationGroup,
    Project,
    ServiceProvider,
)
from marketplace_core.policies import (
    ActionKind,
    ActionType,
    MonthlyTotal,
    Policy,
    PolicyAction,
    PolicyMetric,
    PolicyPeriod,
    monthly_total_id,
)
from marketplace_core.quotas import DenyRule, DenyTarget, Quota, QuotaKind
from marketplace_core.resources import Resource, ResourceState
from marketplace_core.roles import Role, RoleGrant, ScopeKind
from marketplace_core.users import User

T0 = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)
"""An instant with microseconds, in UTC (what the clock gives)."""

T_EAST = datetime(2026, 3, 14, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=2)))
"""An instant given with a positive UTC offset (the previous day in some zones)."""

T_WEST = datetime(2025, 12, 31, 20, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))
"""An instant given with a negative, non-whole-hour offset, on the eve of a year."""

MARCH = date(2026, 3, 1)
FEBRUARY = date(2026, 2, 1)

NESTED_JSON: Mapping[str, Any] = freeze_json(
    {
        "flavor": "m1.xlarge",
        "ssh_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 zoë@laptop",
        "ports": [22, 443, 8443],
        "ratio": 0.75,
        "gpu": True,
        "quota": None,
        "network": {"name": "private ☁", "subnets": [{"cidr": "10.0.0.0/24", "dhcp": False}]},
        "empty": {},
        "none_list": [],
    },
    "sample",
)
"""JSON with every kind of value, nested, with non-ASCII text."""


def _components() -> tuple[OfferingComponent, ...]:
    return (
        OfferingComponent(
            "cpu",
            "CPU cores",
            BillingType.LIMIT,
            measured_unit="cores",
            description="Virtual CPU cores",
            limit_period=LimitPeriod.MONTH,
            limit_amount=512,
            min_value=1,
            max_value=128,
            max_available_limit=4096,
        ),
        OfferingComponent(
            "storage",
            "Storage",
            BillingType.LIMIT,
            measured_unit="GB",
            min_value=0,
            max_value=1_000_000,
            factor=1024,
        ),
        OfferingComponent("gpu", "GPU access", BillingType.LIMIT, is_boolean=True),
        OfferingComponent(
            "cpu_hours",
            "CPU hours",
            BillingType.USAGE,
            measured_unit="h",
            limit_period=LimitPeriod.QUARTER,
            limit_amount=100_000,
        ),
        OfferingComponent("base", "Base fee", BillingType.FIXED),
        OfferingComponent("setup", "Setup", BillingType.ONE_TIME),
        OfferingComponent("switch", "Plan switch fee", BillingType.ON_PLAN_SWITCH),
    )


def sample_entities() -> dict[str, tuple[Any, ...]]:
    """Realistic entities of every aggregate: the first of each is the fullest; between
    them every optional field takes a value other than its default, and ``None`` too where
    a field may hold it."""
    return {
        "organization_groups": (
            OrganizationGroup("group-nordic", "Nordic universities ✓", T0),
            OrganizationGroup("group-empty", "", T_WEST),
        ),
        "organizations": (
            Organization(
                "org-uni",
                "University of Tartu — HPC",
                T0,
                group_id="group-nordic",
                tax_percent=Decimal("24.50"),
                blocked=True,
                archived=True,
            ),
            Organization("org-tax", "Tax", T0, tax_percent=Decimal("0.0001")),
            Organization("org-min", "Minimal", T_EAST),
        ),
        "projects": (
            Project(
                "project-thesis",
                "org-uni",
                "Thesis: protein folding",
                T0,
                start_date=date(2026, 3, 1),
                end_date=date(2026, 12, 31),
                auto_approve=True,
            ),
            Project("project-min", "org-min", "Minimal", T_WEST),
        ),
        "users": (
            User(
                "user-alice",
                "alice",
                T0,
                full_name="Alice Ångström",
                email="alice@example.org",
                is_staff=True,
            ),
            User("user-bob", "Bob", T_EAST),
        ),
        "role_grants": (
            RoleGrant(
                "grant-1",
                "user-alice",
                Role.PROJECT_ADMIN,
                ScopeKind.PROJECT,
                "project-thesis",
                T0,
                granted_by="user-staff",
            ),
            RoleGrant(
                "grant-2",
                "user-bob",
                Role.ORGANIZATION_OWNER,
                ScopeKind.ORGANIZATION,
                "org-uni",
                T0,
            ),
            RoleGrant(
                "grant-3", "user-bob", Role.OFFERING_MANAGER, ScopeKind.OFFERING, "offering-vm", T0
            ),
        ),
        "providers": (
            ServiceProvider("org-uni", T0, description="Sells HPC and cloud"),
            ServiceProvider("org-min", T_WEST),
        ),
        "categories": (
            Category("category-hpc", "HPC", T0, description="High-performance computing"),
            Category("category-min", "Virtual machines", T_EAST),
        ),
        "offerings": (
            Offering(
                "offering-vm",
                "Cloud VMs",
                "org-uni",
                "remote",
                T0,
                category_id="category-hpc",
                description="Virtual machines in Tartu",
                state=OfferingState.ACTIVE,
                visibility=LimitedTo(
                    frozenset({"org-uni", "org-min"}), frozenset({"group-nordic"})
                ),
                components=_components(),
                options=OfferingOptions(
                    auto_approve_in_service_provider_projects=True, needs_provider_review=False
                ),
                plugin_options=NESTED_JSON,
            ),
            Offering(
                "offering-private-org",
                "Private",
                "org-uni",
                "basic",
                T_EAST,
                state=OfferingState.PAUSED,
                visibility=PrivateToOrganization("org-min"),
                options=OfferingOptions(needs_provider_review=True),
            ),
            Offering(
                "offering-private-project",
                "Private to a project",
                "org-uni",
                "basic",
                T_WEST,
                state=OfferingState.ARCHIVED,
                visibility=PrivateToProject("project-thesis"),
            ),
            Offering("offering-min", "Minimal", "org-min", "basic", T0),
        ),
        "plans": (
            Plan(
                "plan-large",
                "offering-vm",
                "Large",
                PlanUnit.DAY,
                T0,
                prices={
                    "cpu": Decimal("0.0125"),
                    "storage": Decimal("3.50"),
                    "base": Decimal("100"),
                    "setup": Decimal("-0.01"),
                    "huge": Decimal("12345678901234567890.123456789"),
                },
                amounts={"base": 2},
                future_prices={"cpu": Decimal("0.0150"), "storage": Decimal("0")},
                future_prices_from=date(2026, 4, 1),
                max_amount=10,
                archived=True,
                description="Eight cores, 32 GB",
            ),
            Plan(
                "plan-hourly",
                "offering-vm",
                "Hourly",
                PlanUnit.HOUR,
                T0,
                future_prices={},
                max_amount=0,
            ),
            Plan("plan-min", "offering-min", "Minimal", PlanUnit.MONTH, T_EAST),
        ),
        "resources": (
            Resource(
                "resource-vm",
                "My VM ✓",
                "project-thesis",
                "offering-vm",
                T0,
                plan_id="plan-large",
                state=ResourceState.OK,
                limits={"cpu": 16, "storage": 2048, "gpu": 1},
                attributes=NESTED_JSON,
                cost=Decimal("149.9900"),
                backend_id="vm-0042",
                backend_metadata={"host": "node-7", "ips": ["10.0.0.5"], "ready": True},
                end_date=date(2026, 12, 31),
                end_date_requested_by="user-alice",
                end_date_by_provider=True,
                error_message="resize failed: quota exceeded",
                activated_at=T_EAST,
                policy_flags=frozenset(
                    {("jobs_blocked", "policy-cost"), ("pausing_requested", "p2")}
                ),
            ),
            Resource(
                "resource-gone",
                "Terminated",
                "project-min",
                "offering-min",
                T_WEST,
                plan_id="plan-min",
                state=ResourceState.TERMINATED,
                cost=Decimal("0.00"),
                activated_at=T_WEST,
                terminated_at=T0,
            ),
            Resource("resource-min", "Minimal", "project-min", "offering-min", T0),
        ),
        "orders": (
            Order(
                "order-create",
                OrderType.CREATE,
                "resource-vm",
                "project-thesis",
                "offering-vm",
                T0,
                "user-alice",
                state=OrderState.EXECUTING,
                plan_id="plan-large",
                limits={"cpu": 16, "storage": 2048},
                attributes=NESTED_JSON,
                cost=Decimal("1234.5600"),
                consumer_review=Review("user-alice", T0, automatic=False),
                provider_review=Review(None, T_EAST, automatic=True),
                dispatched_at=T_EAST,
                claimed_by="site-agent-7",
                claim_expires_at=T_WEST,
            ),
            Order(
                "order-limits",
                OrderType.UPDATE,
                "resource-vm",
                "project-thesis",
                "offering-vm",
                T_EAST,
                "user-bob",
                state=OrderState.ERRED,
                plan_id="plan-large",
                old_plan_id="plan-large",
                limits={"cpu": 32},
                old_limits={"cpu": 16},
                cost=Decimal("-0.50"),
                consumer_review=Review("user-bob", T0, automatic=False, approved=False),
                error_message="backend said: no capacity\nTraceback-free",
                completed_at=T_WEST,
            ),
            Order(
                "order-switch",
                OrderType.UPDATE,
                "resource-vm",
                "project-thesis",
                "offering-vm",
                T0,
                "user-alice",
                state=OrderState.DONE,
                plan_id="plan-hourly",
                old_plan_id="plan-large",
                old_limits=None,
            ),
            Order(
                "order-terminate",
                OrderType.TERMINATE,
                "resource-min",
                "project-min",
                "offering-min",
                T_WEST,
                None,
            ),
        ),
        "invoices": (
            Invoice(
                "invoice-feb",
                "org-uni",
                FEBRUARY,
                T0,
                tax_percent=Decimal("24.50"),
                state=InvoiceState.PAID,
                issued_at=T0,
                paid_at=T_EAST,
                totals=InvoiceTotals(Decimal("100.00"), Decimal("24.50"), Decimal("124.50")),
            ),
            Invoice(
                "invoice-canceled",
                "org-uni",
                date(2025, 12, 1),
                T_WEST,
                state=InvoiceState.CANCELED,
                issued_at=T_WEST,
                canceled_at=T_EAST,
                totals=InvoiceTotals(Decimal("-3.10"), Decimal("0"), Decimal("-3.10")),
            ),
            Invoice("invoice-min", "org-min", MARCH, T_WEST),
        ),
        "invoice_items": (
            InvoiceItem(
                "item-cpu",
                "invoice-feb",
                "org-uni",
                "project-thesis",
                "resource-vm",
                "offering-vm",
                "plan-large",
                "cpu",
                ItemKind.LIMIT,
                "CPU cores (16)",
                FEBRUARY,
                PlanUnit.QUANTITY,
                Decimal("0.0125"),
                Decimal("16.5714285714285714285714286"),
                Decimal("0.21"),
                T_WEST,
                T_EAST,
                T0,
                T_EAST,
                open=True,
                details=FrozenMap(
                    {"limit": 16, "factor": 1, "limit_period": "month", "note": "prorated ½"}
                ),
            ),
            InvoiceItem(
                "item-credit",
                "invoice-feb",
                "org-uni",
                "project-thesis",
                "resource-min",
                "offering-min",
                None,
                "base",
                ItemKind.CREDIT,
                "Credit",
                MARCH,
                PlanUnit.MONTH,
                Decimal("-10.00"),
                Decimal("1"),
                Decimal("-10.00"),
                T0,
                T0,
                T0,
                T0,
            ),
        ),
        "usage_reports": (
            UsageReport(
                "report-1",
                "key-2026-03-cpu-1",
                "resource-vm",
                "cpu_hours",
                MARCH,
                Decimal("1234.567890"),
                T_EAST,
                "user-agent",
                description="Slurm sacct, 14 jobs",
            ),
            UsageReport(
                "report-2",
                "key-2026-02-cpu",
                "resource-vm",
                "cpu_hours",
                FEBRUARY,
                Decimal("0"),
                T_WEST,
                None,
            ),
        ),
        "credits": (
            Credit(
                "credit-project",
                "org-uni",
                Decimal("99.995"),
                T0,
                project_id="project-thesis",
                offering_ids=frozenset({"offering-vm", "offering-min"}),
                end_date=date(2026, 12, 31),
                use_organization_credit=False,
            ),
            Credit("credit-org", "org-uni", Decimal("1000000.00"), T_WEST),
        ),
        "policies": (
            Policy(
                "policy-cost",
                ScopeKind.PROJECT,
                "project-thesis",
                PolicyMetric.ESTIMATED_COST,
                PolicyPeriod.QUARTER,
                (
                    PolicyAction(ActionKind.NOTIFY_PROJECT_MEMBERS, percent=Decimal("80.5")),
                    PolicyAction(ActionKind.BLOCK_CREATION, ActionType.IMMEDIATE),
                    PolicyAction(ActionKind.CUSTOM, percent=Decimal(150), name="page-on-call"),
                ),
                T0,
                limit=Decimal("2500.00"),
                created_by="user-alice",
                period_start=T_WEST,
                fired=frozenset({0, 2}),
                over=True,
            ),
            Policy(
                "policy-usage",
                ScopeKind.OFFERING,
                "offering-vm",
                PolicyMetric.USAGE,
                PolicyPeriod.TOTAL,
                (PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS),),
                T_EAST,
                component_limits={"cpu_hours": Decimal("100000.5"), "gpu": Decimal("0")},
            ),
        ),
        "monthly_totals": (
            MonthlyTotal(
                monthly_total_id(ScopeKind.ORGANIZATION, "org-uni", MARCH),
                ScopeKind.ORGANIZATION,
                "org-uni",
                MARCH,
                cost=Decimal("1234.5678"),
                usage={"cpu_hours": Decimal("17.25"), "gpu": Decimal("-1")},
            ),
            MonthlyTotal(
                monthly_total_id(ScopeKind.PROJECT, "project-min", FEBRUARY),
                ScopeKind.PROJECT,
                "project-min",
                FEBRUARY,
            ),
        ),
        "quotas": (
            Quota(
                "quota-cpu",
                ScopeKind.PROJECT,
                "project-thesis",
                QuotaKind.COMPONENT_LIMIT,
                Decimal("64"),
                component="cpu",
            ),
            Quota(
                "quota-unlimited",
                ScopeKind.ORGANIZATION,
                "org-uni",
                QuotaKind.LIVE_RESOURCES,
                Decimal(-1),
            ),
            Quota(
                "quota-cost",
                ScopeKind.OFFERING,
                "offering-vm",
                QuotaKind.MONTHLY_COST,
                Decimal("999.99"),
            ),
        ),
        "deny_rules": (
            DenyRule("deny-1", ScopeKind.PROJECT, "project-thesis", DenyTarget.OFFERING, "o-vm"),
            DenyRule(
                "deny-2", ScopeKind.ORGANIZATION, "org-min", DenyTarget.CATEGORY, "category-hpc"
            ),
        ),
    }


def sample_events() -> list[DomainEvent]:
    """Events with every kind of field value, to store in the outbox and read back."""
    return [
        OrderPlaced(
            occurred_at=T0,
            actor_id="user-alice",
            order_id="order-create",
            order_type="create",
            resource_id="resource-vm",
            project_id="project-thesis",
            offering_id="offering-vm",
            plan_id=None,
            cost=Decimal("1234.5600"),
        ),
        PlanPricesChanged(
            occurred_at=T_EAST,
            actor_id=None,
            plan_id="plan-large",
            prices={"cpu": Decimal("0.0125"), "storage": Decimal("3.50")},
        ),
        UsageReported(
            occurred_at=T_WEST,
            actor_id="user-agent",
            report_id="report-1",
            resource_id="resource-vm",
            component_type="cpu_hours",
            month=MARCH,
            amount=Decimal("1234.567890"),
        ),
        OrganizationUpdated(
            occurred_at=T0, actor_id="user-staff", organization_id="org-uni", changes=("name",)
        ),
        InvoiceStateChanged(
            occurred_at=T0,
            actor_id=None,
            invoice_id="invoice-feb",
            event="issue",
            source="pending",
            target="created",
            total=None,
        ),
        CreditApplied(
            occurred_at=T0,
            actor_id=None,
            credit_id="credit-org",
            invoice_id="invoice-feb",
            amount=Decimal("-15.00"),
            balance=Decimal("85.00"),
        ),
        ResourceEndDateSet(
            occurred_at=T0, actor_id="user-alice", resource_id="resource-vm", end_date=None
        ),
        PolicyActionRun(
            occurred_at=T_EAST,
            actor_id=None,
            policy_id="policy-cost",
            action="block_creation",
            share=Decimal("Infinity"),
            error="notifier down ⚠",
        ),
    ]
