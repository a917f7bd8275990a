"""What the shared SQL code needs of a database, so that SQLite and PostgreSQL share it.

Every statement the shared code writes uses ``?`` placeholders and plain SQL both databases
speak (``RETURNING`` included); an adapter whose driver spells placeholders differently
translates them in its :class:`SqlDatabase`. Reads run outside any transaction and see every
committed one; a commit is one :meth:`SqlDatabase.transaction`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

Row = tuple[Any, ...]


class Cursor(Protocol):
    """The part of a DB-API cursor the shared code uses."""

    @property
    def rowcount(self) -> int:
        """How many rows the last statement touched."""
        ...

    def fetchone(self) -> Any:
        """The next row, or ``None``."""
        ...


class Connection(Protocol):
    """A connection inside a transaction."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor:
        """Run one statement (``?`` placeholders)."""
        ...


class SqlDatabase(Protocol):
    """A database the SQL adapters run on."""

    integrity_errors: tuple[type[Exception], ...]
    """The driver's exceptions for a violated unique constraint."""

    def fetch(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        """Every row of one read, outside any transaction."""
        ...

    batches_commits: bool
    """Whether :meth:`transaction` can send statements without waiting for each answer
    (``batched=True``); rows touched are then known only after :meth:`settle`."""

    def transaction(self, batched: bool = False) -> AbstractContextManager[Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises.
        ``batched``: send statements without waiting (where :attr:`batches_commits`)."""
        ...

    def settle(self, connection: Connection) -> None:
        """Wait for the answers to every statement sent in a batched transaction; raises
        the first statement's error."""
        ...

    def close(self) -> None:
        """Close the connection (idempotent)."""
        ...

    def note_writes(self, connection: Connection, tables: Sequence[str]) -> None:
        """Record, inside the commit's transaction, which tables it writes (for other
        connections' read caches); a database that tells them apart otherwise does nothing."""
        ...
