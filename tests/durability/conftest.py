"""Where the durability tests keep their database: a SQLite file, or a scratch schema on the
PostgreSQL server ``MARKETPLACE_POSTGRES_URL`` names (skipped without one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import POSTGRES_URL, SKIP_REASON, scratch_schema


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A storage location for a new, empty database, as worker processes open it."""
    if request.param == "sqlite":
        yield str(tmp_path / "market.db")
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_REASON)
    with scratch_schema() as schema:
        yield schema.url
