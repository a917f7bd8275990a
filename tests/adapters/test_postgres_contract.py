"""The storage contract suite on the PostgreSQL adapter, against the server
``MARKETPLACE_POSTGRES_URL`` names (skipped without one)."""

from __future__ import annotations

from typing import ClassVar

from marketplace_core.adapters.postgres import PostgresStorage
from marketplace_core.ports import Storage
from marketplace_core.testing import StorageContract
from tests.postgres import ScratchSchema, requires_postgres


@requires_postgres
class TestPostgresStorage(StorageContract):
    schema: ClassVar[ScratchSchema]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.schema = ScratchSchema()
        cls.addClassCleanup(cls.schema.drop)

    def make_storage(self) -> PostgresStorage:
        self.schema.empty()
        storage = PostgresStorage.open(self.schema.conninfo)
        self.addCleanup(storage.close)
        return storage

    def reopen_storage(self, storage: Storage) -> PostgresStorage:
        assert isinstance(storage, PostgresStorage)
        storage.close()
        reopened = PostgresStorage.open(self.schema.conninfo)
        self.addCleanup(reopened.close)
        return reopened
