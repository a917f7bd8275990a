"""The connection to one PostgreSQL database (psycopg 3), shared under a lock.

Units of work hold no transaction while they stage writes: every read is one autocommit
statement, and a commit is one ``BEGIN ISOLATION LEVEL READ COMMITTED`` ... ``COMMIT``
(:meth:`PostgresDatabase.transaction`). So one connection serves every unit of a storage,
and several units may be open at once in one thread. Other processes (or other storages in
this one) open their own connections.

``READ COMMITTED`` is enough because every write is a compare-and-set: when
``UPDATE ... WHERE id = ? AND version = ?`` finds its row locked by another transaction, it
waits, and once that one commits it checks the condition again against the new row, which
then fails, so the stale write touches no row and the commit raises ``ConflictError``. Two
inserts of one id or one unique value wait the same way and the second fails on the unique
index. Stricter levels add nothing to that and fail more often.

Where PostgreSQL differs from SQLite:

- ``?`` placeholders become psycopg's ``%s`` (translated once per statement text).
- Text cannot hold NUL (``"\\x00"``): PostgreSQL's ``TEXT`` has no way to store it. Documents
  are JSON, which spells it ``\\u0000``, so only key columns (ids, usernames, scope ids,
  idempotency keys) can meet it; a parameter with NUL raises :class:`ValidationError`
  (``invalid_value``) before anything is sent, and the commit or read writes and returns
  nothing. Nothing is stripped or replaced.
- Two commits that update the same rows in opposite orders can deadlock; PostgreSQL aborts
  one of them, which raises :class:`ConflictError` (``stale_version``): retry it, as after
  any conflict.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow

from marketplace_core.adapters.sql.database import Connection, Row
from marketplace_core.errors import ConflictError, ErrorCode, ValidationError


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """``sql`` with its ``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` doubled).
    The shared SQL uses ``?`` only as a placeholder, never inside a quoted literal."""
    return sql.replace("%", "%%").replace("?", "%s")


def _checked(parameters: Sequence[Any]) -> Sequence[Any]:
    for value in parameters:
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"PostgreSQL cannot store or look up text with a NUL character (\\x00): "
                f"{value!r}; nothing was sent to the database",
                value=value,
            )
    return parameters


class PostgresTransaction:
    """The connection inside one transaction (a
    :class:`~marketplace_core.adapters.sql.database.Connection`): ``?`` statements."""

    def __init__(
        self, connection: psycopg.Connection[TupleRow], pipeline: psycopg.Pipeline | None = None
    ) -> None:
        self._connection = connection
        self.pipeline = pipeline
        """The pipeline of a batched transaction, else ``None``."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[TupleRow]:
        """Run one statement. In a pipeline, statements are not prepared on the server: a
        failed statement skips the rest of the pipeline, prepared ones included, and psycopg
        would then believe them prepared."""
        prepare = False if self.pipeline is not None else None
        return self._connection.execute(translate(sql), _checked(parameters), prepare=prepare)


class PostgresDatabase:
    """One PostgreSQL connection in autocommit mode, serialized by a lock so threads may
    share it (a :class:`~marketplace_core.adapters.sql.database.SqlDatabase`).

    ``conninfo``: a libpq connection string or URL
    (``postgresql://user:password@host:port/dbname``); the tables go in the first schema of
    its ``search_path``.
    """

    integrity_errors: tuple[type[Exception], ...] = (psycopg.errors.UniqueViolation,)

    def __init__(self, conninfo: str) -> None:
        self._lock = threading.RLock()
        self._connection: psycopg.Connection[TupleRow] = psycopg.connect(conninfo, autocommit=True)

    def fetch(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        """Every row of one read, in autocommit mode (it sees every committed transaction)."""
        with self._lock:
            return self._connection.execute(translate(sql), _checked(parameters)).fetchall()

    def table_changes(self) -> dict[str, int]:
        """How many commits wrote each table (``table_changes``): the read cache's check."""
        return dict(self.fetch("SELECT name, changes FROM table_changes"))

    def note_writes(self, connection: Connection, tables: Sequence[str]) -> None:
        """Count one more commit to each of ``tables``, inside the commit's transaction (the
        rows stay locked until it ends, in name order, so commits never deadlock here)."""
        if tables:
            connection.execute(
                "INSERT INTO table_changes (name, changes) SELECT unnest(?::text[]), 1 "
                "ON CONFLICT (name) DO UPDATE SET changes = table_changes.changes + 1",
                (sorted(tables),),
            )

    batches_commits = True
    """A commit's statements go out in one pipeline: two round trips instead of one each."""

    @contextmanager
    def transaction(self, batched: bool = False) -> Iterator[PostgresTransaction]:
        """``BEGIN ISOLATION LEVEL READ COMMITTED`` ... ``COMMIT``, or ``ROLLBACK`` if the
        block raises. ``batched``: in psycopg's pipeline mode, statements are sent without
        waiting for their answers (see :meth:`settle`). A deadlock PostgreSQL broke by
        aborting this transaction raises :class:`ConflictError` (``stale_version``)."""
        with self._lock:
            connection = self._connection
            try:
                with connection.pipeline() if batched else nullcontext() as pipeline:
                    connection.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                    yield PostgresTransaction(connection, pipeline)
                    connection.execute("COMMIT")
            except BaseException as error:
                if connection.info.transaction_status in (
                    TransactionStatus.INTRANS,
                    TransactionStatus.INERROR,
                ):
                    connection.execute("ROLLBACK")
                if isinstance(error, psycopg.errors.DeadlockDetected):
                    raise ConflictError(
                        ErrorCode.STALE_VERSION,
                        "the commit waited on rows another unit of work was writing while "
                        "that one waited on rows of this one; PostgreSQL aborted it, so "
                        "nothing was written: reload and retry",
                    ) from error
                raise

    def settle(self, connection: Connection) -> None:
        """Wait for the answers to every statement sent so far in a batched transaction;
        raises the first statement's error."""
        if isinstance(connection, PostgresTransaction) and connection.pipeline is not None:
            connection.pipeline.sync()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._connection.close()
