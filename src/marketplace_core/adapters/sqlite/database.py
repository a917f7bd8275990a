"""The connection to one SQLite file: opened in WAL mode, migrated, shared under a lock.

Units of work hold no transaction while they stage writes: every read is one autocommit
statement, and a commit is one ``BEGIN IMMEDIATE`` ... ``COMMIT``
(:meth:`SqliteDatabase.transaction`). So one connection serves every unit of a storage, and
several units may be open at once in one thread. Other processes open their own storages on
the same file; ``BEGIN IMMEDIATE`` takes SQLite's write lock, waiting up to ``timeout``
seconds for another writer.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from marketplace_core.adapters.sql.database import Row
from marketplace_core.adapters.sqlite.schema import migrate


class SqliteDatabase:
    """One SQLite connection, serialized by a lock so threads may share it (a
    :class:`~marketplace_core.adapters.sql.database.SqlDatabase`)."""

    integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float = 30.0, synchronous: str = "NORMAL"
    ) -> None:
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"unknown synchronous mode {synchronous!r}")
        self.path = path
        self._lock = threading.RLock()
        self._connection = sqlite3.connect(
            path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            self._connection.execute("PRAGMA journal_mode = WAL")
            self._connection.execute(f"PRAGMA synchronous = {synchronous}")
            migrate(self._connection)
        except BaseException:
            self._connection.close()
            raise

    def fetch(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        """Every row of one read, in autocommit mode (it sees every committed transaction)."""
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` if the block raises."""
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._connection.close()
