"""The SQLite schema's versioned migrations: applied at open, whole or not at all, in order;
a database of a newer schema is refused and left as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from marketplace_core.adapters.sqlite import SqliteStorage, schema
from marketplace_core.errors import MarketplaceError
from marketplace_core.testing.storage_contract.samples import sample_entities

USER = sample_entities()["users"][0]


def version_of(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("PRAGMA user_version").fetchone()[0])


def tables_of(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_a_new_file_is_migrated_to_the_current_version(tmp_path: Path):
    path = tmp_path / "new.db"
    SqliteStorage.open(path).close()
    assert version_of(path) == schema.SCHEMA_VERSION
    assert {"orders", "resources", "outbox", "outbox_counter"} <= tables_of(path)


def test_a_later_migration_upgrades_a_database_and_keeps_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "old.db"
    with SqliteStorage.open(path) as storage, storage.unit_of_work() as uow:
        uow.users.add(USER)
        uow.commit()
    upgrade = ("CREATE TABLE notes (id TEXT PRIMARY KEY)",)
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, upgrade))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    with SqliteStorage.open(path) as storage, storage.unit_of_work() as uow:
        assert uow.users.get(USER.id).username == USER.username
    assert version_of(path) == schema.SCHEMA_VERSION
    assert "notes" in tables_of(path)


def test_a_migration_that_fails_leaves_the_database_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "old.db"
    SqliteStorage.open(path).close()
    broken = ("CREATE TABLE notes (id TEXT PRIMARY KEY)", "CREATE TABLE broken (")
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, broken))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    with pytest.raises(sqlite3.OperationalError):
        SqliteStorage.open(path)
    assert version_of(path) == len(schema.MIGRATIONS) - 1
    assert "notes" not in tables_of(path)


def test_a_database_of_a_newer_schema_is_refused_naming_both_versions(tmp_path: Path):
    path = tmp_path / "newer.db"
    SqliteStorage.open(path).close()
    newer = schema.SCHEMA_VERSION + 1
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {newer}")
    with pytest.raises(MarketplaceError) as refused:
        SqliteStorage.open(path)
    assert f"schema version {newer}" in str(refused.value)
    assert str(schema.SCHEMA_VERSION) in str(refused.value)
    assert version_of(path) == newer
