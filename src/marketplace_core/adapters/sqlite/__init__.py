"""The SQLite storage adapter (standard library ``sqlite3``): embedded and durable.

Modules: :mod:`.schema` (versioned migrations, applied at open), :mod:`.database` (the
connection: WAL, transactions) and :mod:`.storage`. The tables, codec, repositories and unit
of work are shared with the PostgreSQL adapter (:mod:`marketplace_core.adapters.sql`).
"""

from marketplace_core.adapters.sqlite.storage import SqliteStorage

__all__ = ["SqliteStorage"]
