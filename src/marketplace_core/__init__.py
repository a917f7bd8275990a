"""marketplace_core: the domain of a resource marketplace, as an embeddable library.

Providers publish offerings with plans and metered components; projects order resources;
orders pass approval rules and state machines; plugins provision on backends. Hosts inject
their storage and backends through the ports in :mod:`marketplace_core.ports`; the
:class:`Marketplace` facade enforces the rules.
"""

from marketplace_core.adapters.memory import EventLog, InMemoryStorage, RecordingNotifier
from marketplace_core.clocks import FixedClock, SystemClock
from marketplace_core.errors import (
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
from marketplace_core.marketplace import Marketplace
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
from marketplace_core.organizations import Organization, OrganizationGroup, Project, ServiceProvider
from marketplace_core.plugins import PluginCapabilities, PluginRegistry
from marketplace_core.roles import DEFAULT_ROLE_PERMISSIONS, Permission, Role, RoleGrant, Scope
from marketplace_core.users import User

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ROLE_PERMISSIONS",
    "BillingType",
    "Category",
    "ConflictError",
    "ErrorCode",
    "EventLog",
    "FixedClock",
    "InMemoryStorage",
    "InvalidTransitionError",
    "LimitPeriod",
    "LimitedTo",
    "Marketplace",
    "MarketplaceError",
    "NotFoundError",
    "Offering",
    "OfferingComponent",
    "OfferingOptions",
    "OfferingState",
    "Organization",
    "OrganizationGroup",
    "Permission",
    "PermissionDeniedError",
    "Plan",
    "PlanUnit",
    "PluginCapabilities",
    "PluginRegistry",
    "PolicyViolationError",
    "PrivateToOrganization",
    "PrivateToProject",
    "Project",
    "QuotaExceededError",
    "RecordingNotifier",
    "Role",
    "RoleGrant",
    "Scope",
    "SequentialIdGenerator",
    "ServiceProvider",
    "Shared",
    "SystemClock",
    "User",
    "UuidGenerator",
    "ValidationError",
    "Visibility",
    "__version__",
]
