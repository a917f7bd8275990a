"""The PostgreSQL schema, as versioned migrations applied when a storage is opened.

The ``schema_version`` table records how many migrations a database has had. :func:`migrate`
applies the missing ones in one transaction, so a database is never left half-migrated, and
refuses a database written by a newer version of the library. It first takes a
transaction-level advisory lock, so processes that open the same database at once migrate
it one after the other: the first applies the migrations, the others wait, then find the
schema current. Migrations are append-only: a released one is never edited, a change of
schema is a new migration.

The tables are SQLite's (:mod:`marketplace_core.adapters.sqlite.schema`), statement for
statement: version 1 is SQLite's version 1 with its integer types spelled for PostgreSQL
(``seq`` an identity column, every other integer a ``BIGINT``), plus ``table_changes``, the
per-table commit counts the read cache checks. ``doc`` stays ``TEXT``, not
``JSONB``: the codec's documents keep their exact text (``"1.50"``, offsets, key order), and
``JSONB`` would refuse the ``\\u0000`` escape a text with NUL becomes. The tables go in the
first schema of the connection's ``search_path`` (``public`` unless the conninfo says
otherwise, as in ``options=-csearch_path=market``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from marketplace_core.adapters.sql.tables import TABLES
from marketplace_core.adapters.sqlite import schema as sqlite_schema
from marketplace_core.errors import ErrorCode, MarketplaceError

if TYPE_CHECKING:
    from marketplace_core.adapters.postgres.database import PostgresDatabase

MIGRATION_LOCK = 0x6D61726B65745F63
"""The advisory lock key :func:`migrate` holds while it reads and changes the schema (the
bytes of ``"market_c"``); any session of the database that takes it waits for a migration."""

_SQLITE_TYPES = [
    (
        re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b"),
        "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    ),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
]


def _from_sqlite(statement: str) -> str:
    """A statement of SQLite's schema with its integer types spelled for PostgreSQL (the
    rest of that schema, ``TEXT``, indexes, ``CHECK``, ``INSERT``, is plain SQL)."""
    for pattern, replacement in _SQLITE_TYPES:
        statement = pattern.sub(replacement, statement)
    return statement


_TABLE_CHANGES = (
    "CREATE TABLE table_changes (name TEXT PRIMARY KEY, changes BIGINT NOT NULL)",
    "INSERT INTO table_changes (name, changes) VALUES "
    + ", ".join(f"('{name}', 0)" for name in sorted(TABLES)),
)
"""How many commits wrote each aggregate's table: what a storage's read cache checks (one
statement per unit of work) to keep only what no other connection changed."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        *(_from_sqlite(statement) for statement in sqlite_schema.MIGRATIONS[0]),
        *_TABLE_CHANGES,
    ),
)
"""The statements of each schema version, oldest first (version ``n`` is ``MIGRATIONS[n-1]``)."""

SCHEMA_VERSION = len(MIGRATIONS)

_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)"
)


def schema_version(database: PostgresDatabase) -> int:
    """The schema version of ``database`` (0: empty)."""
    (exists,) = database.fetch("SELECT to_regclass('schema_version') IS NOT NULL")[0]
    if not exists:
        return 0
    rows = database.fetch("SELECT version FROM schema_version WHERE id = 1")
    return int(rows[0][0]) if rows else 0


def _newer_schema(found: int) -> MarketplaceError:
    return MarketplaceError(
        ErrorCode.INVALID_VALUE,
        f"the database has schema version {found}, newer than this library's "
        f"{SCHEMA_VERSION}: upgrade marketplace_core to open it",
        found=found,
        supported=SCHEMA_VERSION,
    )


def migrate(database: PostgresDatabase) -> int:
    """Bring ``database`` up to :data:`SCHEMA_VERSION` in one transaction, under the
    :data:`MIGRATION_LOCK` advisory lock; return the version it had. Raises
    :class:`MarketplaceError` (``invalid_value``) for a database of a newer schema, and
    changes nothing then. A database already current (every open but the first) is only
    read: no transaction, no lock."""
    found = schema_version(database)
    if found == SCHEMA_VERSION:
        return found
    with database.transaction() as connection:
        # READ COMMITTED: each statement takes a new snapshot, so a session that waited for
        # the lock reads what the session before it committed.
        connection.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        connection.execute(_VERSION_TABLE)
        row = connection.execute("SELECT version FROM schema_version WHERE id = 1").fetchone()
        found = int(row[0]) if row else 0
        if found > SCHEMA_VERSION:
            raise _newer_schema(found)
        if found < SCHEMA_VERSION:  # else another session migrated it while this one waited
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version - 1]:
                    connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_version (id, version) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version",
                (SCHEMA_VERSION,),
            )
    return found
