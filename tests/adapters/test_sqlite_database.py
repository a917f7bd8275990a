"""The SQLite connection's settings: WAL, the synchronous mode asked for, and the longer WAL
between checkpoints."""

from __future__ import annotations

from marketplace_core.adapters.sqlite import SqliteStorage
from marketplace_core.adapters.sqlite.database import WAL_CHECKPOINT_PAGES


def test_a_storage_runs_in_wal_mode_with_fewer_longer_checkpoints(tmp_path):
    with SqliteStorage.open(tmp_path / "market.db", synchronous="FULL") as storage:
        connection = storage._database._connection
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA synchronous").fetchone() == (2,)
        assert connection.execute("PRAGMA wal_autocheckpoint").fetchone() == (WAL_CHECKPOINT_PAGES,)
        assert WAL_CHECKPOINT_PAGES > 1000, "more than SQLite's default"
