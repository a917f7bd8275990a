"""The rules as data, for ports: lifecycles, approval tables, roles, commands, vocabularies.

:func:`tables` builds each table from the code itself (the lifecycles from their declared
machines, the approval tables the routing evaluates, the role table the default authorizer
reads), so the files :func:`write_tables` writes beside the vectors cannot say anything the
library does not do; the project's tests fail when the written files drift from the code.
``python -m marketplace_core tables DIR`` writes them.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from marketplace_core.approvals import approval_tables
from marketplace_core.billing.invoices import INVOICE_LIFECYCLE, InvoiceState
from marketplace_core.billing.items import ItemKind
from marketplace_core.conformance.commands import command_table
from marketplace_core.errors import ErrorCode
from marketplace_core.lifecycle import Lifecycle
from marketplace_core.offerings import (
    OFFERING_LIFECYCLE,
    BillingType,
    LimitPeriod,
    OfferingState,
    PlanUnit,
)
from marketplace_core.orders import ORDER_LIFECYCLE, OrderState, OrderType
from marketplace_core.policies import ActionKind, ActionType, PolicyMetric, PolicyPeriod
from marketplace_core.quotas import DenyTarget, QuotaKind
from marketplace_core.resources import RESOURCE_LIFECYCLE, ResourceState
from marketplace_core.roles import DEFAULT_ROLE_PERMISSIONS, Permission, Role, ScopeKind

SCHEMA_FILE = "vector.schema.json"
"""The vector format's JSON Schema, shipped beside this module and copied beside the tables."""

VOCABULARIES: tuple[type[enum.Enum], ...] = (
    BillingType,
    LimitPeriod,
    PlanUnit,
    OfferingState,
    OrderType,
    OrderState,
    ResourceState,
    InvoiceState,
    ItemKind,
    ScopeKind,
    Role,
    Permission,
    PolicyMetric,
    PolicyPeriod,
    ActionType,
    ActionKind,
    QuotaKind,
    DenyTarget,
    ErrorCode,
)
"""The enumerations whose values appear in vectors' arguments and results."""


LIFECYCLES: tuple[Lifecycle[Any, Any], ...] = (
    ORDER_LIFECYCLE,
    RESOURCE_LIFECYCLE,
    OFFERING_LIFECYCLE,
    INVOICE_LIFECYCLE,
)
"""Every entity type's lifecycle, as the tables export them and the docs draw them."""


def lifecycle_tables() -> list[dict[str, object]]:
    """Every lifecycle: its states, initial state and ``(source, event, target)`` edges."""
    return [lifecycle.to_table() for lifecycle in LIFECYCLES]


def role_table() -> dict[str, list[str]]:
    """The default role table: each role's permissions, sorted."""
    return {
        str(role): sorted(str(permission) for permission in permissions)
        for role, permissions in DEFAULT_ROLE_PERMISSIONS.items()
    }


def vocabularies() -> dict[str, list[str]]:
    """Each enumeration's values, by the enumeration's name."""
    return {kind.__name__: [str(member.value) for member in kind] for kind in VOCABULARIES}


def vector_schema() -> object:
    """The vector format's JSON Schema."""
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    schema: object = json.loads(text)
    return schema


def tables() -> Mapping[str, object]:
    """Every exported table, by its file name."""
    return {
        "lifecycles.json": lifecycle_tables(),
        "approvals.json": approval_tables(),
        "roles.json": role_table(),
        "commands.json": command_table(),
        "vocabularies.json": vocabularies(),
        SCHEMA_FILE: vector_schema(),
    }


def table_text(table: object) -> str:
    """A table as the text of its file."""
    return json.dumps(table, indent=2, ensure_ascii=False) + "\n"


def write_tables(directory: Path) -> list[Path]:
    """Write every table into ``directory`` (created if needed); returns the files."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, table in tables().items():
        path = directory / file_name
        path.write_text(table_text(table), encoding="utf-8")
        written.append(path)
    return written
