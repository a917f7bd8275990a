"""The SQLite storage's cache of committed rows: repeated reads skip the database, and no
read ever returns a row that a commit, of this storage or of another connection, replaced."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import attrs
import pytest

from marketplace_core.adapters.sql import repositories
from marketplace_core.adapters.sql.cache import MISSING, ReadCache
from marketplace_core.adapters.sqlite import SqliteStorage
from marketplace_core.errors import ConflictError
from marketplace_core.testing.storage_contract.samples import sample_entities

SAMPLES = sample_entities()
USER = SAMPLES["users"][0]
PROJECT = SAMPLES["projects"][0]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "market.db"


@pytest.fixture
def storage(path: Path):
    with SqliteStorage.open(path) as opened:
        yield opened


def store(storage: SqliteStorage, repository: str, *entities):
    with storage.unit_of_work() as uow:
        stored = [getattr(uow, repository).add(entity) for entity in entities]
        uow.commit()
    return stored


def statements(storage: SqliteStorage) -> list[str]:
    """Record the statements the storage's connection runs from now on."""
    seen: list[str] = []
    storage._database._connection.set_trace_callback(seen.append)
    return seen


def test_a_row_read_again_comes_from_the_cache(storage):
    (user,) = store(storage, "users", USER)
    with storage.unit_of_work() as uow:
        assert uow.users.get(user.id) == user
    seen = statements(storage)
    with storage.unit_of_work() as uow:
        assert uow.users.get(user.id) == user
        assert uow.users.find(user.id) == user
        assert uow.users.find("nobody") is None
        assert uow.users.find("nobody") is None
    assert [sql for sql in seen if "FROM users" in sql] == [
        "SELECT seq, doc FROM users WHERE id = 'nobody'"
    ]
    assert seen.count("PRAGMA data_version") == 1, "checked once per unit of work"


def test_a_keyed_answer_read_again_comes_from_the_cache(storage):
    store(storage, "projects", PROJECT)
    with storage.unit_of_work() as uow:
        first = uow.projects.for_organization(PROJECT.organization_id)
    seen = statements(storage)
    with storage.unit_of_work() as uow:
        assert uow.projects.for_organization(PROJECT.organization_id) == first
    assert not [sql for sql in seen if "FROM projects" in sql]


def test_this_storages_commit_drops_the_rows_and_answers_it_replaced(storage):
    (user,) = store(storage, "users", USER)
    (project,) = store(storage, "projects", PROJECT)
    with storage.unit_of_work() as uow:
        uow.users.get(user.id)
        uow.projects.for_organization(project.organization_id)
    with storage.unit_of_work() as uow:
        renamed = uow.users.update(attrs.evolve(user, username="renamed"))
        other = uow.projects.add(attrs.evolve(PROJECT, id="project-other", name="Other"))
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.users.get(user.id) == renamed
        assert uow.projects.for_organization(project.organization_id) == [project, other]


def test_another_connections_commit_drops_the_cache_before_the_next_unit(storage, path):
    (user,) = store(storage, "users", USER)
    with storage.unit_of_work() as uow:
        assert uow.users.get(user.id) == user
    with SqliteStorage.open(path) as elsewhere, elsewhere.unit_of_work() as uow:
        renamed = uow.users.update(attrs.evolve(user, username="renamed"))
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.users.get(user.id) == renamed


def test_a_unit_checks_again_after_its_own_commit(storage, path):
    (user,) = store(storage, "users", USER)
    with storage.unit_of_work() as uow:
        assert uow.users.get(user.id) == user
        uow.projects.add(PROJECT)
        uow.commit()
        with SqliteStorage.open(path) as elsewhere, elsewhere.unit_of_work() as other:
            renamed = other.users.update(attrs.evolve(user, username="renamed"))
            other.commit()
        assert uow.users.get(user.id) == renamed


def test_a_commit_by_a_plain_connection_is_seen_too(storage, path):
    (user,) = store(storage, "users", USER)
    with storage.unit_of_work() as uow:
        uow.users.get(user.id)
    with sqlite3.connect(path, isolation_level=None) as connection:
        connection.execute("DELETE FROM users WHERE id = ?", (user.id,))
    with storage.unit_of_work() as uow:
        assert uow.users.find(user.id) is None


def test_a_read_that_straddles_a_drop_keeps_nothing():
    cache = ReadCache(lambda: 0)
    table = cache.table("users")
    started = table.generation
    cache.written("users", ["someone-else"])
    table.keep_row("user-1", (1, USER), started)
    table.keep_answer(("username", ("x",), None), [(1, "user-1", USER)], started)
    assert table.rows.get("user-1", MISSING) is MISSING
    assert table.answers == {}
    table.keep_row("user-1", (1, USER), table.generation)
    assert table.rows["user-1"] == (1, USER)


def test_the_cache_keeps_a_bounded_number_of_rows_and_short_answers(storage, monkeypatch):
    monkeypatch.setattr(repositories, "KEPT_ROWS", 3)
    monkeypatch.setattr(repositories, "KEPT_ANSWER", 1)
    projects = store(
        storage, "projects", *(attrs.evolve(PROJECT, id=f"project-{n}") for n in range(5))
    )
    with storage.unit_of_work() as uow:
        for project in projects:
            uow.projects.get(project.id)
        assert uow.projects.for_organization(PROJECT.organization_id) == projects
        cached = uow.projects._cache
        assert cached is not None
        assert len(cached.rows) <= 3
        assert cached.answers == {}


def test_a_unit_that_retries_after_a_conflict_reads_what_caused_it(storage, path):
    (user,) = store(storage, "users", USER)
    (project,) = store(storage, "projects", PROJECT)
    with storage.unit_of_work() as uow:
        assert uow.users.get(user.id) == user
        assert uow.projects.get(project.id) == project
        with SqliteStorage.open(path) as elsewhere, elsewhere.unit_of_work() as other:
            renamed = other.users.update(attrs.evolve(user, username="renamed"))
            moved = other.projects.update(attrs.evolve(project, name="Moved"))
            other.commit()
        uow.users.update(attrs.evolve(user, username="mine"))
        with pytest.raises(ConflictError):
            uow.commit()
        assert uow.projects.get(project.id) == moved
        assert uow.users.get(user.id) == renamed
