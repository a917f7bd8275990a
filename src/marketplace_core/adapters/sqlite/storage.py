"""The SQLite storage: :class:`SqliteStorage` opens units of work on one database file.

The units of work, repositories and outbox are the shared SQL ones
(:mod:`marketplace_core.adapters.sql`); this module opens the file (:mod:`.database`: WAL,
``BEGIN IMMEDIATE`` commits, migrations at open).
"""

from __future__ import annotations

import os

from marketplace_core.adapters.sql.cache import ReadCache
from marketplace_core.adapters.sql.storage import SqlStorage
from marketplace_core.adapters.sqlite.database import SqliteDatabase


class SqliteStorage(SqlStorage):
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
        database = SqliteDatabase(path, timeout=timeout, synchronous=synchronous)
        super().__init__(database, ReadCache(database.data_version))

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, timeout: float = 30.0, synchronous: str = "NORMAL"
    ) -> SqliteStorage:
        """The storage in the file at ``path``, created and migrated as needed."""
        return cls(path, timeout=timeout, synchronous=synchronous)
