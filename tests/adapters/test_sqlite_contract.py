"""The storage contract suite on the SQLite adapter, on a file in a temporary directory."""

from __future__ import annotations

import tempfile
from pathlib import Path

from marketplace_core.adapters.sqlite import SqliteStorage
from marketplace_core.ports import Storage
from marketplace_core.testing import StorageContract


class TestSqliteStorage(StorageContract):
    def make_storage(self) -> SqliteStorage:
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.path = Path(directory.name) / "market.db"
        storage = SqliteStorage.open(self.path)
        self.addCleanup(storage.close)
        return storage

    def reopen_storage(self, storage: Storage) -> SqliteStorage:
        assert isinstance(storage, SqliteStorage)
        storage.close()
        reopened = SqliteStorage.open(self.path)
        self.addCleanup(reopened.close)
        return reopened
