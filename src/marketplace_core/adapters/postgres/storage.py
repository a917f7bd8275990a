"""The PostgreSQL storage: :class:`PostgresStorage` opens units of work on one database.

The units of work, repositories and outbox are the shared SQL ones
(:mod:`marketplace_core.adapters.sql`); this module connects (:mod:`.database`: autocommit
reads, ``READ COMMITTED`` commits, migrations at open under an advisory lock).
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from marketplace_core.adapters.postgres.database import PostgresDatabase
from marketplace_core.adapters.postgres.schema import migrate
from marketplace_core.adapters.sql.cache import ReadCache
from marketplace_core.adapters.sql.storage import SqlUnitOfWork


class PostgresStorage:
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
        self._database = PostgresDatabase(conninfo)
        try:
            migrate(self._database)
        except BaseException:
            self._database.close()
            raise
        self._cache = ReadCache(self._database.table_changes)

    @classmethod
    def open(cls, conninfo: str) -> PostgresStorage:
        """The storage in the database ``conninfo`` names, its tables created or migrated
        as needed (the database itself must exist)."""
        return cls(conninfo)

    def close(self) -> None:
        """Close the connection; units of work on it can no longer be used."""
        self._database.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def unit_of_work(self) -> SqlUnitOfWork:
        """A new unit of work on this storage."""
        return SqlUnitOfWork(self._database, self._cache)
