"""The command line keeps its story in a SQLite file, and reads any storage's events back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from marketplace_core import ValidationError
from marketplace_core.__main__ import main
from marketplace_core.adapters.locations import open_storage, sqlite_path
from marketplace_core.adapters.memory import InMemoryStorage
from marketplace_core.adapters.sqlite import SqliteStorage


def test_the_demo_keeps_its_story_in_the_sqlite_file_it_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    database = tmp_path / "story.db"
    assert main(["demo", "--db", str(database)]) == 0
    told = capsys.readouterr().out
    assert f"Everything is stored in the SQLite database {database}." in told
    committed = int(re.search(r"(\d+) events were committed", told).group(1))
    with SqliteStorage.open(database) as storage, storage.unit_of_work() as uow:
        assert len(uow.outbox.read()) == committed
        assert {user.username for user in uow.users.all()} >= {"alice", "olga", "pat"}
        assert uow.invoices.all(), "January's invoice is stored"


def test_the_demo_without_a_path_writes_a_new_temporary_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    assert main(["demo"]) == 0
    (database,) = tmp_path.glob("marketplace-demo-*/demo.db")
    assert f"SQLite database {database}." in capsys.readouterr().out


def test_the_demo_refuses_a_database_that_exists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    database = tmp_path / "taken.db"
    database.write_bytes(b"someone's data")
    assert main(["demo", "--db", str(database)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert database.read_bytes() == b"someone's data"


def test_events_lists_a_databases_outbox_from_a_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    database = tmp_path / "story.db"
    main(["demo", "--db", str(database)])
    capsys.readouterr()
    assert main(["events", str(database), "--after", "3", "--limit", "2"]) == 0
    listed = capsys.readouterr().out
    with SqliteStorage.open(database) as storage, storage.unit_of_work() as uow:
        expected = uow.outbox.read(3, 2)
    rows = [line.split()[0] for line in listed.splitlines()[2:4]]
    assert rows == [str(r.position) for r in expected] == ["4", "5"]
    assert expected[0].event.event_type in listed
    assert "2 events after position 3" in listed


def test_events_refuses_a_missing_file_without_creating_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    missing = tmp_path / "missing.db"
    with pytest.raises(SystemExit) as exited:
        main(["events", str(missing)])
    assert exited.value.code == 2
    assert "no database file" in capsys.readouterr().err
    assert not missing.exists()


def test_events_refuses_a_negative_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        main(["events", str(tmp_path / "x.db"), "--limit", "-1"])
    assert "must be 0 or more" in capsys.readouterr().err


def test_locations_name_memory_sqlite_and_postgresql(tmp_path: Path):
    memory = open_storage("memory")
    assert isinstance(memory, InMemoryStorage)
    file = tmp_path / "a.db"
    for location in (str(file), f"sqlite:{file}"):
        storage = open_storage(location)
        assert isinstance(storage, SqliteStorage)
        storage.close()
    assert file.is_file()
    named = ("memory", "postgresql://h/db", "postgres://h/db", "a.db", "sqlite:a.db")
    assert [sqlite_path(x) for x in named] == [None, None, None, "a.db", "a.db"]


@pytest.mark.parametrize("location", ["", "   ", None])
def test_an_empty_location_is_refused_naming_it(location):
    with pytest.raises(ValidationError) as refused:
        open_storage(location)
    assert "storage location" in str(refused.value)
