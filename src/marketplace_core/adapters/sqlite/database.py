"""The connection to one SQLite file: opened in WAL mode, migrated, shared under a lock.

Units of work hold no transaction while they stage writes: every read is one autocommit
statement, and a commit is one ``BEGIN IMMEDIATE`` ... ``COMMIT``
(:meth:`SqliteDatabase.transaction`). So one connection serves every unit of a storage, and
several units may be open at once in one thread. Other processes open their own storages on
the same file; ``BEGIN IMMEDIATE`` takes SQLite's write lock, waiting up to ``timeout``
seconds for another writer. :meth:`SqliteDatabase.data_version` tells the storage's read
cache (:mod:`marketplace_core.adapters.sql.cache`) whether they committed.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from marketplace_core.adapters.sql.database import Connection, Row
from marketplace_core.adapters.sqlite.schema import migrate

WAL_CHECKPOINT_PAGES = 4000
"""The WAL's length, in pages (16 MiB of 4 KiB pages), at which a commit copies it back into
the database file: four times SQLite's default. A checkpoint copies each page the commits
since then wrote once, however often they wrote it, and orders write the same pages over
and over (the last leaf of each index, the outbox counter), so fewer, longer checkpoints copy
less per commit (about a tenth more orders per second with ``synchronous=NORMAL``)."""


CACHED_STATEMENTS = 512
"""Prepared statements the connection keeps: every table's reads by id and by each index,
its insert, update and delete, and the outbox's, with room to spare (the driver's default,
128, is about what the tables need, and a statement prepared again costs more than running
it)."""


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
            path,
            timeout=timeout,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=CACHED_STATEMENTS,
        )
        try:
            self._connection.execute("PRAGMA journal_mode = WAL")
            self._connection.execute(f"PRAGMA synchronous = {synchronous}")
            self._connection.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
            migrate(self._connection)
        except BaseException:
            self._connection.close()
            raise

    def fetch(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        """Every row of one read, in autocommit mode (it sees every committed transaction)."""
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    def data_version(self) -> int:
        """SQLite's count of the commits other connections made to the file (this
        connection's own commits leave it unchanged): what the read cache checks."""
        with self._lock:
            version: int = self._connection.execute("PRAGMA data_version").fetchone()[0]
        return version

    batches_commits = False
    """SQLite runs in this process: each statement's answer is there at once."""

    def settle(self, connection: Connection) -> None:
        """Nothing to wait for (statements are never batched)."""

    def note_writes(self, connection: Connection, tables: Sequence[str]) -> None:
        """Nothing to record: other connections see any commit in ``PRAGMA data_version``."""

    @contextmanager
    def transaction(self, batched: bool = False) -> Iterator[sqlite3.Connection]:
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
