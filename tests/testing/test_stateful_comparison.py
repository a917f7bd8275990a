"""The shipped comparison machine, run on every shipped storage: memory, SQLite and (when a
server is given) PostgreSQL; and shown to catch a storage that loses a write."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from marketplace_core.adapters.memory import InMemoryStorage
from marketplace_core.adapters.postgres import PostgresStorage
from marketplace_core.adapters.sqlite import SqliteStorage
from marketplace_core.ports import Storage
from marketplace_core.testing.stateful import MarketplaceComparison
from tests.postgres import POSTGRES_URL, SKIP_REASON, ScratchSchema

SETTINGS = settings(max_examples=100, stateful_step_count=30, deadline=None)


class MemoryComparison(MarketplaceComparison):
    def make_storage(self) -> Storage:
        return InMemoryStorage()


class SqliteComparison(MarketplaceComparison):
    def make_storage(self) -> Storage:
        self.folder = tempfile.TemporaryDirectory(prefix="comparison-")
        return SqliteStorage.open(Path(self.folder.name) / "market.db")

    def teardown(self) -> None:
        super().teardown()
        self.folder.cleanup()


TestMemoryComparison = MemoryComparison.TestCase
TestMemoryComparison.settings = SETTINGS
TestSqliteComparison = SqliteComparison.TestCase
TestSqliteComparison.settings = SETTINGS


@pytest.fixture(scope="module")
def postgres_schema():
    if not POSTGRES_URL:
        pytest.skip(SKIP_REASON)
    schema = ScratchSchema()
    yield schema
    schema.drop()


def test_the_comparison_holds_on_postgresql(postgres_schema: ScratchSchema) -> None:
    class PostgresComparison(MarketplaceComparison):
        def make_storage(self) -> Storage:
            postgres_schema.empty()
            return PostgresStorage.open(postgres_schema.conninfo)

    PostgresComparison.TestCase.settings = settings(SETTINGS, max_examples=10)
    PostgresComparison.TestCase("runTest").runTest()


class ForgetfulStorage:
    """In-memory storage that silently drops every third commit's writes: the machine must
    notice."""

    def __init__(self) -> None:
        self.storage = InMemoryStorage()
        self.commits = 0

    def unit_of_work(self) -> Any:
        unit = self.storage.unit_of_work()
        commit = unit.commit

        def forgetful_commit() -> Any:
            self.commits += 1
            if self.commits > 12 and self.commits % 3 == 0:
                unit.rollback()
                return []
            return commit()

        unit.commit = forgetful_commit
        return unit


def test_the_comparison_catches_a_storage_that_loses_writes() -> None:
    class ForgetfulComparison(MarketplaceComparison):
        def make_storage(self) -> Storage:
            return ForgetfulStorage()

    ForgetfulComparison.TestCase.settings = settings(SETTINGS, max_examples=50, database=None)
    with pytest.raises(AssertionError, match="the storage under test gave"):
        ForgetfulComparison.TestCase("runTest").runTest()
