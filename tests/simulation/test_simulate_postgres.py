"""The simulator on the PostgreSQL adapter: the same scenario and seed tell the same story
as in memory, and the report agrees with what PostgreSQL stored."""

from __future__ import annotations

from marketplace_core.adapters.memory import InMemoryStorage
from marketplace_core.adapters.postgres import PostgresStorage
from marketplace_core.simulation import format_json, parse_scenario, simulate
from tests.postgres import requires_postgres, scratch_schema
from tests.simulation.support import small
from tests.simulation.test_engine import check_report_against_storage


@requires_postgres
def test_the_same_seed_gives_the_same_report_on_postgres() -> None:
    scenario = parse_scenario(small())
    in_memory = simulate(scenario, InMemoryStorage())
    with scratch_schema() as schema:
        storage = PostgresStorage.open(schema.conninfo)
        try:
            on_postgres = simulate(scenario, storage)
            check_report_against_storage(storage, on_postgres)
        finally:
            storage.close()
    assert format_json(on_postgres) == format_json(in_memory)
