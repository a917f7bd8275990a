"""The PostgreSQL storage's cache of committed rows: a unit reads how many commits wrote each
table, and keeps cached only the tables no other connection wrote since (the others are
read again), so worker processes keep their catalogue cached while orders flow."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from marketplace_core.adapters.postgres import PostgresStorage
from marketplace_core.adapters.postgres.database import PostgresDatabase
from marketplace_core.testing.storage_contract.samples import sample_entities
from tests.postgres import ScratchSchema, requires_postgres

pytestmark = requires_postgres

SAMPLES = sample_entities()
USER = SAMPLES["users"][0]
PROJECT = SAMPLES["projects"][0]


@pytest.fixture(scope="module")
def schema() -> Iterator[ScratchSchema]:
    scratch = ScratchSchema()
    yield scratch
    scratch.drop()


@pytest.fixture
def two(schema: ScratchSchema) -> Iterator[tuple[PostgresStorage, PostgresStorage]]:
    """Two storages on one database: two connections, as two worker processes have."""
    schema.empty()
    with (
        PostgresStorage.open(schema.conninfo) as one,
        PostgresStorage.open(schema.conninfo) as other,
    ):
        yield one, other


def reads_of(storage: PostgresStorage, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the reads the storage sends from now on."""
    seen: list[str] = []
    database = storage._database
    fetch = PostgresDatabase.fetch

    def recording(sql: str, parameters=()):
        seen.append(sql)
        return fetch(database, sql, parameters)

    monkeypatch.setattr(database, "fetch", recording)
    return seen


def store(storage: PostgresStorage, repository: str, entity):
    with storage.unit_of_work() as uow:
        stored = getattr(uow, repository).add(entity)
        uow.commit()
    return stored


def test_a_table_another_connection_did_not_write_stays_cached(two, monkeypatch):
    one, other = two
    user = store(one, "users", USER)
    with one.unit_of_work() as uow:
        assert uow.users.get(user.id) == user
    store(other, "projects", PROJECT)  # another process writes another table
    seen = reads_of(one, monkeypatch)
    with one.unit_of_work() as uow:
        assert uow.users.get(user.id) == user
        assert uow.projects.get(PROJECT.id).id == PROJECT.id
    assert not [sql for sql in seen if "FROM users" in sql], "users came from the cache"
    assert [sql for sql in seen if "FROM table_changes" in sql], "the counts were checked"


def test_a_row_another_connection_replaced_is_read_again(two):
    one, other = two
    user = store(one, "users", USER)
    with one.unit_of_work() as uow:
        assert uow.users.get(user.id).email == user.email
    with other.unit_of_work() as uow:
        uow.users.update(attrs.evolve(uow.users.get(user.id), email="new@example.org"))
        uow.commit()
    with one.unit_of_work() as uow:
        assert uow.users.get(user.id).email == "new@example.org"
        assert uow.users.find_by_username(user.username).email == "new@example.org"


def test_every_commit_counts_the_tables_it_wrote(two):
    one, _ = two
    before = one._database.table_changes()
    store(one, "users", USER)
    after = one._database.table_changes()
    assert {name for name in after if after[name] != before[name]} == {"users"}
    assert after["users"] == before["users"] + 1
