"""marketplace_core: the domain of a resource marketplace, as an embeddable library.

Providers publish offerings with plans and metered components; projects order resources;
orders pass approval rules and state machines; plugins provision on backends. Hosts inject
their storage and backends through the ports in :mod:`marketplace_core.ports`; the
:class:`Marketplace` facade enforces the rules.
"""

from marketplace_core.adapters.memory import EventLog, InMemoryStorage, RecordingNotifier
from marketplace_core.billing import (
    Credit,
    Invoice,
    InvoiceItem,
    InvoiceState,
    InvoiceTotals,
    ItemKind,
    Rounding,
    UsageReport,
)
from marketplace_core.clocks import FixedClock, SystemClock
from marketplace_core.errors import (
    BackendError,
    ConflictError,
    ErrorCode,
    InvalidTransitionError,
    MarketplaceError,
    NotFoundError,
    PermissionDeniedError,
    PolicyViolationError,
    QuotaExceededError,
    ValidationError,
)
from marketplace_core.ids import SequentialIdGenerator, UuidGenerator
from marketplace_core.marketplace import BillingReport, DueJobsReport, Marketplace, UsagePullReport
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
    Shared,
    Visibility,
)
from marketplace_core.orders import Order, OrderState, OrderType, Review
from marketplace_core.organizations import Organization, OrganizationGroup, Project, ServiceProvider
from marketplace_core.plugins import (
    Completed,
    InProgress,
    PluginCapabilities,
    PluginRegistry,
    ProcessingRequest,
    Processor,
)
from marketplace_core.policies import (
    ActionKind,
    ActionType,
    Policy,
    PolicyAction,
    PolicyMetric,
    PolicyPeriod,
)
from marketplace_core.quotas import DenyRule, DenyTarget, Quota, QuotaKind
from marketplace_core.resources import Resource, ResourceState
from marketplace_core.roles import (
    DEFAULT_ROLE_PERMISSIONS,
    Permission,
    Role,
    RoleGrant,
    Scope,
    ScopeKind,
)
from marketplace_core.services.usage import UsageLine
from marketplace_core.users import User

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ROLE_PERMISSIONS",
    "ActionKind",
    "ActionType",
    "BackendError",
    "BillingReport",
    "BillingType",
    "Category",
    "Completed",
    "ConflictError",
    "Credit",
    "DenyRule",
    "DenyTarget",
    "DueJobsReport",
    "ErrorCode",
    "EventLog",
    "FixedClock",
    "InMemoryStorage",
    "InProgress",
    "InvalidTransitionError",
    "Invoice",
    "InvoiceItem",
    "InvoiceState",
    "InvoiceTotals",
    "ItemKind",
    "LimitPeriod",
    "LimitedTo",
    "Marketplace",
    "MarketplaceError",
    "NotFoundError",
    "Offering",
    "OfferingComponent",
    "OfferingOptions",
    "OfferingState",
    "Order",
    "OrderState",
    "OrderType",
    "Organization",
    "OrganizationGroup",
    "Permission",
    "PermissionDeniedError",
    "Plan",
    "PlanUnit",
    "PluginCapabilities",
    "PluginRegistry",
    "Policy",
    "PolicyAction",
    "PolicyMetric",
    "PolicyPeriod",
    "PolicyViolationError",
    "PrivateToOrganization",
    "PrivateToProject",
    "ProcessingRequest",
    "Processor",
    "Project",
    "Quota",
    "QuotaExceededError",
    "QuotaKind",
    "RecordingNotifier",
    "Resource",
    "ResourceState",
    "Review",
    "Role",
    "RoleGrant",
    "Rounding",
    "Scope",
    "ScopeKind",
    "SequentialIdGenerator",
    "ServiceProvider",
    "Shared",
    "SystemClock",
    "UsageLine",
    "UsagePullReport",
    "UsageReport",
    "User",
    "UuidGenerator",
    "ValidationError",
    "Visibility",
    "__version__",
]
