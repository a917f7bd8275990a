"""The SQLite storage adapter (standard library ``sqlite3``): embedded and durable.

Modules: :mod:`.schema` (versioned migrations, applied at open), :mod:`.tables` (each
aggregate's key columns), :mod:`.codec` (entities and events to JSON and back, exactly),
:mod:`.database` (the connection: WAL, transactions), :mod:`.staging` (a unit's staged writes,
merged into reads and applied at commit), :mod:`.repositories` and :mod:`.storage`.
"""

from marketplace_core.adapters.sqlite.storage import (
    SqliteOutbox,
    SqliteStorage,
    SqliteUnitOfWork,
)

__all__ = ["SqliteOutbox", "SqliteStorage", "SqliteUnitOfWork"]
