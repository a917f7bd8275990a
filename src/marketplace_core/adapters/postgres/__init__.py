"""The PostgreSQL storage adapter (psycopg 3, the ``postgres`` extra): for hosts that run
several worker processes on one database.

Modules: :mod:`.schema` (versioned migrations, applied at open under an advisory lock),
:mod:`.database` (the connection: autocommit reads, ``READ COMMITTED`` commits) and
:mod:`.storage`. The tables, codec, repositories and unit of work are shared with the
SQLite adapter (:mod:`marketplace_core.adapters.sql`).

psycopg is optional: ``import marketplace_core`` works without it, and importing this
package without it raises an ``ImportError`` that says how to install it.
"""

try:
    import psycopg  # noqa: F401
except ImportError as missing:
    raise ImportError(
        "marketplace_core.adapters.postgres needs psycopg 3, which is not installed: "
        "pip install 'marketplace-core[postgres]'",
        name="psycopg",
    ) from missing

from marketplace_core.adapters.postgres.storage import PostgresStorage

__all__ = ["PostgresStorage"]
