"""The PostgreSQL storage: :class:`PostgresStorage` opens units of work on one database.

The units of work, repositories and outbox are the shared SQL ones
(:mod:`marketplace_core.adapters.sql`); this module connects (:mod:`.database`: autocommit
reads, ``READ COMMITTED`` commits, migrations at open under an advisory lock).
"""

from __future__ import annotations

from marketplace_core.adapters.postgres.database import PostgresDatabase
from marketplace_core.adapters.postgres.schema import migrate
from marketplace_core.adapters.sql.cache import ReadCache
from marketplace_core.adapters.sql.storage import SqlStorage


class PostgresStorage(SqlStorage):
    """Every aggregate in one PostgreSQL database, migrated to the current schema when
    opened. Threads may share a storage (its one connection is used under a lock); worker
    processes each open their own on the same database.

    Committed rows that units read are kept in a cache shared by the storage's units
    (:mod:`marketplace_core.adapters.sql.cache`); each unit first reads how many commits
    wrote each table, and the cache keeps only the tables no other connection wrote since.

    ``conninfo``: a libpq connection string or URL, as
    ``postgresql://user:password@127.0.0.1:5432/market``; add
    ``?options=-csearch_path%3Dschema`` to keep the tables in a schema other than ``public``.
    """

    def __init__(self, conninfo: str) -> None:
        database = PostgresDatabase(conninfo)
        try:
            migrate(database)
        except BaseException:
            database.close()
            raise
        super().__init__(database, ReadCache(database.table_changes))

    @classmethod
    def open(cls, conninfo: str) -> PostgresStorage:
        """The storage in the database ``conninfo`` names, its tables created or migrated
        as needed (the database itself must exist)."""
        return cls(conninfo)
