"""Storage named by a location string, as the command line and worker processes name it.

- ``memory`` (or ``:memory:``): a new :class:`~marketplace_core.adapters.memory.InMemoryStorage`;
- ``postgresql://...`` or ``postgres://...``: a PostgreSQL connection string (needs the
  ``postgres`` extra);
- anything else: the path of a SQLite file (``sqlite:`` in front is allowed), created and
  migrated when opened.

A location is a plain string so that it crosses process boundaries: each worker process
opens its own storage on the same database.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from marketplace_core.adapters.memory import InMemoryStorage
from marketplace_core.adapters.sqlite import SqliteStorage
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.ports import ClosableStorage

MEMORY = ("memory", ":memory:")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def sqlite_path(location: str) -> str | None:
    """The SQLite file path ``location`` names (without a ``sqlite:`` prefix), or ``None``
    when it names another storage."""
    if location in MEMORY or location.startswith(POSTGRES_SCHEMES):
        return None
    return location.removeprefix("sqlite:")


def new_sqlite_file(path: Path | None, *, default_name: str, field: str) -> Path:
    """Where a command that starts from an empty marketplace writes its SQLite file: ``path``,
    refused (naming ``field``) when it exists; by default ``default_name`` in a new temporary
    directory named after it (``marketplace-demo-...`` for ``demo.db``)."""
    if path is None:
        prefix = f"marketplace-{Path(default_name).stem}-"
        return Path(tempfile.mkdtemp(prefix=prefix)) / default_name
    if path.exists():
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"{field} {str(path)!r} already exists; a new SQLite file is written here: name "
            "another file or remove it",
            field=field,
            value=str(path),
        )
    return path


def open_storage(location: str) -> ClosableStorage:
    """The storage at ``location`` (see the module's documentation); close it when done."""
    if not isinstance(location, str) or not location.strip():
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"storage location must be 'memory', a SQLite file path or a postgresql:// URL, "
            f"not {location!r}",
            field="location",
            value=repr(location),
        )
    if location in MEMORY:
        return InMemoryStorage()
    path = sqlite_path(location)
    if path is not None:
        return SqliteStorage.open(path)
    # Imported here: psycopg is an optional dependency (the ``postgres`` extra).
    from marketplace_core.adapters.postgres import PostgresStorage  # noqa: PLC0415

    return PostgresStorage.open(location)
