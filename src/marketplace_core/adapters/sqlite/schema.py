"""The database schema, as versioned migrations applied when a storage is opened.

``PRAGMA user_version`` records how many migrations a database has had. :func:`migrate`
applies the missing ones in one transaction, so a database is never left half-migrated, and
refuses a database written by a newer version of the library. Migrations are append-only:
a released one is never edited, a change of schema is a new migration.

Each aggregate has a table (see :mod:`.tables`) with ``seq`` (insertion order), ``id``,
``version``, its key columns and ``doc``, the entity as JSON. There are no foreign keys
between aggregates: the commands check references, storage does not. Uniqueness the domain
promises is enforced (usernames, idempotency keys, one invoice per organization and month).
"""

from __future__ import annotations

import sqlite3

from marketplace_core.errors import ErrorCode, MarketplaceError


def _table(name: str, columns: str = "", *indexes: str, unique: str = "") -> list[str]:
    statements = [
        f"CREATE TABLE {name} ("
        "seq INTEGER PRIMARY KEY AUTOINCREMENT, "
        "id TEXT NOT NULL UNIQUE, "
        "version INTEGER NOT NULL, "
        f"{columns + ', ' if columns else ''}"
        "doc TEXT NOT NULL)"
    ]
    statements += [
        f"CREATE INDEX {name}_by_{index.replace(', ', '_')} ON {name} ({index}, seq)"
        for index in indexes
    ]
    if unique:
        statements.append(
            f"CREATE UNIQUE INDEX {name}_unique_{unique.replace(', ', '_')} ON {name} ({unique})"
        )
    return statements


_VERSION_1 = [
    *_table("organization_groups"),
    *_table("organizations"),
    *_table("projects", "organization_id TEXT", "organization_id"),
    *_table("users", "username TEXT NOT NULL", unique="username"),
    *_table(
        "role_grants",
        "user_id TEXT, scope_kind TEXT, scope_id TEXT",
        "user_id",
        "scope_kind, scope_id",
    ),
    *_table("providers"),
    *_table("categories"),
    *_table("offerings", "provider_id TEXT", "provider_id"),
    *_table("plans", "offering_id TEXT", "offering_id"),
    *_table(
        "resources",
        "project_id TEXT, offering_id TEXT, plan_id TEXT, live INTEGER",
        "project_id",
        "offering_id",
        "plan_id, live",
    ),
    *_table(
        "orders",
        "resource_id TEXT, project_id TEXT, state TEXT",
        "resource_id",
        "project_id",
        "state",
    ),
    *_table(
        "invoices",
        "organization_id TEXT, month TEXT, state TEXT",
        "organization_id",
        "state",
        unique="organization_id, month",
    ),
    *_table(
        "invoice_items",
        "invoice_id TEXT, resource_id TEXT, month TEXT",
        "invoice_id",
        "resource_id, month",
    ),
    *_table(
        "usage_reports",
        "idempotency_key TEXT NOT NULL, resource_id TEXT, component_type TEXT, month TEXT",
        "resource_id, component_type, month",
        unique="idempotency_key",
    ),
    *_table("credits", "organization_id TEXT", "organization_id"),
    *_table("policies", "scope_kind TEXT, scope_id TEXT", "scope_kind, scope_id"),
    *_table("monthly_totals", "scope_kind TEXT, scope_id TEXT", "scope_kind, scope_id"),
    *_table("quotas", "scope_kind TEXT, scope_id TEXT", "scope_kind, scope_id"),
    *_table("deny_rules", "subject_kind TEXT, subject_id TEXT", "subject_kind, subject_id"),
    "CREATE TABLE outbox ("
    "position INTEGER PRIMARY KEY, event_type TEXT NOT NULL, doc TEXT NOT NULL)",
    "CREATE TABLE outbox_counter ("
    "id INTEGER PRIMARY KEY CHECK (id = 1), last_position INTEGER NOT NULL)",
    "INSERT INTO outbox_counter (id, last_position) VALUES (1, 0)",
]

MIGRATIONS: tuple[tuple[str, ...], ...] = (tuple(_VERSION_1),)
"""The statements of each schema version, oldest first (version ``n`` is ``MIGRATIONS[n-1]``)."""

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(connection: sqlite3.Connection) -> int:
    """The schema version of the database ``connection`` is open on (0: empty)."""
    version: int = connection.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(connection: sqlite3.Connection) -> int:
    """Bring the database up to :data:`SCHEMA_VERSION` in one transaction; return the
    version it had. ``connection`` must be in autocommit mode (``isolation_level=None``)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        found = schema_version(connection)
        if found > SCHEMA_VERSION:
            raise MarketplaceError(
                ErrorCode.INVALID_VALUE,
                f"the database has schema version {found}, newer than this library's "
                f"{SCHEMA_VERSION}: upgrade marketplace_core to open it",
                found=found,
                supported=SCHEMA_VERSION,
            )
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version - 1]:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {version}")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return found
