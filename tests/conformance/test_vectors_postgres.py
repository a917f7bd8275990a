"""Every shipped vector passes on the PostgreSQL adapter, each on an emptied schema."""

from __future__ import annotations

from marketplace_core.adapters.postgres import PostgresStorage
from marketplace_core.conformance import run_vector_file, vector_files
from tests.conformance.record import VECTORS
from tests.postgres import requires_postgres, scratch_schema


@requires_postgres
def test_every_vector_passes_on_postgres() -> None:
    with scratch_schema() as schema:

        def storage() -> PostgresStorage:
            schema.empty()
            return PostgresStorage.open(schema.conninfo)

        outcomes = [run_vector_file(path, storage) for path in vector_files(VECTORS)]
    assert [o.failure for o in outcomes if not o.passed] == []
