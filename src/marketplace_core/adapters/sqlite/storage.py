"""The SQLite storage: :class:`SqliteStorage` opens units of work on one database file.

The units of work, repositories and outbox are the shared SQL ones
(:mod:`marketplace_core.adapters.sql`); this module opens the file (:mod:`.database`: WAL,
``BEGIN IMMEDIATE`` commits, migrations at open).
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Self

from marketplace_core.adapters.sql.cache import ReadCache
from marketplace_core.adapters.sql.storage import SqlUnitOfWork
from marketplace_core.adapters.sqlite.database import SqliteDatabase


class SqliteStorage:
    """Every aggregate in one SQLite file (WAL mode), migrated to the current schema when
    opened. Threads may share a storage; processes each open their own on the same file.

    Committed rows that units read are kept in a cache shared by the storage's units
    (:mod:`marketplace_core.adapters.sql.cache`): repeated reads cost no statement, and the
    cache is dropped whenever another connection commits to the file.

    ``timeout``: how long a commit waits for another process's write lock, in seconds.
    ``synchronous``: SQLite's ``PRAGMA synchronous``; ``NORMAL`` (the default) survives a
    killed process, ``FULL`` also a power loss, at the cost of an fsync per commit.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float = 30.0, synchronous: str = "NORMAL"
    ) -> None:
        self.path = path
        self._database = SqliteDatabase(path, timeout=timeout, synchronous=synchronous)
        self._cache = ReadCache(self._database.data_version)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, timeout: float = 30.0, synchronous: str = "NORMAL"
    ) -> SqliteStorage:
        """The storage in the file at ``path``, created and migrated as needed."""
        return cls(path, timeout=timeout, synchronous=synchronous)

    def close(self) -> None:
        """Close the database connection; units of work on it can no longer be used."""
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
