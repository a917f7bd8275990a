"""A real PostgreSQL server for the tests: where it is, and scratch schemas on it.

``MARKETPLACE_POSTGRES_URL`` names a database in which the tests may create schemas;
``.ci/postgres/start.sh`` starts a throwaway cluster and writes it to ``env.sh``. Without it
every test marked :data:`requires_postgres` skips, saying so (CI fails when that reason
shows up).

Each test (each test class, for the contract suite) works in a schema of its own, named in
the ``search_path`` of its conninfo and dropped afterwards. Measured on the CI cluster:
creating a schema and migrating it costs about 0.2 s (the DDL of twenty tables and their
indexes); a database cloned from a migrated template costs as much, a ``TRUNCATE`` of every
table nearly as much, while deleting every row of a migrated schema costs about 3 ms. So the
contract suite migrates one schema per class and empties it for each new storage
(:meth:`ScratchSchema.empty`).
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlencode

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from marketplace_core.adapters.postgres import PostgresStorage

POSTGRES_URL = os.environ.get("MARKETPLACE_POSTGRES_URL", "")
SKIP_REASON = "MARKETPLACE_POSTGRES_URL is not set: start a server with .ci/postgres/start.sh"
requires_postgres = pytest.mark.skipif(not POSTGRES_URL, reason=SKIP_REASON)

_names = itertools.count(1)
_KEPT_ROWS = ("schema_version", "outbox_counter", "table_changes")


class ScratchSchema:
    """A new, empty schema on the test server; :attr:`conninfo` connects with it first on
    the ``search_path``. ``migrated``: create the storage's tables in it now."""

    def __init__(self, *, migrated: bool = True) -> None:
        self.name = f"test_{os.getpid()}_{next(_names)}_{uuid.uuid4().hex[:8]}"
        self.conninfo = self.conninfo_with()
        self._admin = psycopg.connect(POSTGRES_URL, autocommit=True)
        self._admin.execute(f'CREATE SCHEMA "{self.name}"')
        self._emptying = ""
        if migrated:
            PostgresStorage.open(self.conninfo).close()

    def conninfo_with(self, *settings: str, **keywords: str) -> str:
        """:attr:`conninfo` with more server settings for the session (``"name=value"``)
        and more conninfo keywords (``application_name=...``)."""
        options = " ".join(f"-c{setting}" for setting in (f"search_path={self.name}", *settings))
        return psycopg.conninfo.make_conninfo(POSTGRES_URL, options=options, **keywords)

    @property
    def url(self) -> str:
        """:attr:`conninfo` as a ``postgresql://`` URL, the form ``open_storage`` takes."""
        parts = {key: str(value) for key, value in conninfo_to_dict(self.conninfo).items()}
        user, password = (
            quote(parts.pop("user", ""), safe=""),
            quote(parts.pop("password", ""), safe=""),
        )
        host, port = parts.pop("host", "127.0.0.1"), parts.pop("port", "5432")
        database = quote(parts.pop("dbname", "postgres"), safe="")
        return f"postgresql://{user}:{password}@{host}:{port}/{database}?{urlencode(parts)}"

    def empty(self) -> None:
        """Delete every stored row (entities, outbox) and restart the outbox numbering, in
        one transaction and one round trip."""
        if not self._emptying:
            tables = self._admin.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
                (self.name,),
            ).fetchall()
            self._emptying = (
                "".join(
                    f'DELETE FROM "{self.name}"."{table}";'
                    for (table,) in tables
                    if table not in _KEPT_ROWS
                )
                + f'UPDATE "{self.name}".outbox_counter SET last_position = 0'
            )
        self._admin.execute(self._emptying)

    def drop(self) -> None:
        """Drop the schema and everything in it."""
        self._admin.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
        self._admin.close()


@contextmanager
def scratch_schema(*, migrated: bool = True) -> Iterator[ScratchSchema]:
    """A :class:`ScratchSchema` for the ``with`` block, dropped after it."""
    schema = ScratchSchema(migrated=migrated)
    try:
        yield schema
    finally:
        schema.drop()
