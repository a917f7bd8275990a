"""What is PostgreSQL's own in the PostgreSQL adapter: concurrent writers on separate
connections, the outbox under concurrent commits, migrations from several processes at
once, a newer schema, text with NUL, deadlocks, and psycopg as an optional import.

Races are made deterministic with a third connection that holds a row lock, and by
waiting until the racing commits are seen waiting for locks in ``pg_stat_activity``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import attrs
import psycopg
import pytest

from marketplace_core.adapters.postgres import PostgresStorage
from marketplace_core.adapters.postgres.database import translate
from marketplace_core.adapters.postgres.schema import SCHEMA_VERSION
from marketplace_core.adapters.sql.tables import TABLES
from marketplace_core.errors import ConflictError, ErrorCode, MarketplaceError, ValidationError
from marketplace_core.events import RecordedEvent
from marketplace_core.organizations import Organization
from marketplace_core.testing.storage_contract import T0, sample_events
from marketplace_core.users import User
from tests.postgres import ScratchSchema, requires_postgres, scratch_schema

TIMEOUT = 30.0


def organization(entity_id: str, name: str = "Org") -> Organization:
    return Organization(id=entity_id, name=name, created_at=T0)


@contextmanager
def storages(schema: ScratchSchema, count: int, *settings: str) -> Iterator[list[PostgresStorage]]:
    """``count`` storages on ``schema``, each with a connection of its own, named after the
    schema in ``pg_stat_activity`` (``settings``: server settings, ``"name=value"``)."""
    conninfo = schema.conninfo_with(*settings, application_name=schema.name)
    opened = [PostgresStorage.open(conninfo) for _ in range(count)]
    try:
        yield opened
    finally:
        for storage in opened:
            storage.close()


@contextmanager
def row_locked(schema: ScratchSchema, table: str, entity_id: str) -> Iterator[None]:
    """Hold a lock on one row for the ``with`` block, from a connection of its own."""
    with psycopg.connect(schema.conninfo) as holder:
        holder.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", (entity_id,))
        yield
        holder.rollback()


def wait_for_lock_waits(schema: ScratchSchema, count: int) -> None:
    """Return once ``count`` connections of :func:`storages` wait for a lock."""
    deadline = time.monotonic() + TIMEOUT
    with psycopg.connect(schema.conninfo, autocommit=True) as monitor:
        while True:
            row = monitor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = %s AND wait_event_type = 'Lock'",
                (schema.name,),
            ).fetchone()
            if row is not None and row[0] >= count:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"{count} commits never waited for a lock together")
            time.sleep(0.005)


def seed(storage: PostgresStorage, *entities: Organization) -> None:
    with storage.unit_of_work() as uow:
        for entity in entities:
            uow.organizations.add(entity)
        uow.commit()


def read_organization(storage: PostgresStorage, entity_id: str) -> Organization:
    with storage.unit_of_work() as uow:
        return uow.organizations.get(entity_id)


def outcome(future: Future[Any]) -> Any:
    """What a commit in a thread ended with: its result, or the error it raised."""
    error = future.exception(timeout=TIMEOUT)
    return error if error is not None else future.result()


# --------------------------------------------------------------------------- placeholders


def test_placeholders_become_psycopg_ones_and_percent_signs_stay_literal() -> None:
    assert translate("SELECT doc FROM t WHERE a = ? AND b = ?") == (
        "SELECT doc FROM t WHERE a = %s AND b = %s"
    )
    assert translate("SELECT 5 % ? ") == "SELECT 5 %% %s "


# --------------------------------------------------------------------------- optional psycopg


def test_without_psycopg_the_library_imports_and_the_adapter_says_how_to_install_it() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["psycopg"] = None  # as if it were not installed
        import marketplace_core
        import marketplace_core.adapters.sqlite
        try:
            import marketplace_core.adapters.postgres
        except ImportError as error:
            print(error)
        else:
            sys.exit("the PostgreSQL adapter imported without psycopg")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'marketplace-core[postgres]'" in result.stdout


# --------------------------------------------------------------------------- schema


@requires_postgres
def test_each_table_has_seq_id_version_its_key_columns_and_a_text_document() -> None:
    with scratch_schema() as schema, psycopg.connect(schema.conninfo) as connection:
        rows = connection.execute(
            "SELECT table_name, column_name, data_type, is_identity "
            "FROM information_schema.columns WHERE table_schema = %s "
            "ORDER BY table_name, ordinal_position",
            (schema.name,),
        ).fetchall()
        version = connection.execute("SELECT version FROM schema_version").fetchall()
    columns: dict[str, list[tuple[str, str, str]]] = {}
    for table, column, data_type, identity in rows:
        columns.setdefault(table, []).append((column, data_type, identity))
    for name, table in TABLES.items():
        assert [column for column, _, _ in columns[name]] == [
            "seq",
            "id",
            "version",
            *table.columns,
            "doc",
        ], name
        assert columns[name][0] == ("seq", "bigint", "YES"), name
        assert columns[name][-1] == ("doc", "text", "NO"), name
    assert version == [(SCHEMA_VERSION,)]


@requires_postgres
def test_processes_opening_an_empty_database_at_once_migrate_it_once() -> None:
    opener = textwrap.dedent(
        """
        import os, sys
        from marketplace_core.adapters.postgres import PostgresStorage
        print("ready", flush=True)
        sys.stdin.readline()
        PostgresStorage.open(os.environ["CONNINFO"]).close()
        """
    )
    with scratch_schema(migrated=False) as schema:
        environment = {**os.environ, "CONNINFO": schema.conninfo}
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", opener],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=environment,
            )
            for _ in range(4)
        ]
        try:
            for process in processes:
                assert process.stdout is not None
                assert process.stdout.readline() == "ready\n"
            for process in processes:  # every process starts migrating within a few ms
                assert process.stdin is not None
                process.stdin.write("go\n")
                process.stdin.flush()
            errors = [process.communicate(timeout=TIMEOUT)[1] for process in processes]
        finally:
            for process in processes:
                process.kill()
                process.wait()
        assert [process.returncode for process in processes] == [0, 0, 0, 0], errors
        with psycopg.connect(schema.conninfo) as connection:
            assert connection.execute("SELECT version FROM schema_version").fetchall() == [
                (SCHEMA_VERSION,)
            ]
            assert connection.execute("SELECT last_position FROM outbox_counter").fetchall() == [
                (0,)
            ]


@requires_postgres
def test_a_database_of_a_newer_schema_is_refused_and_left_as_it_was() -> None:
    with scratch_schema(migrated=False) as schema:
        with psycopg.connect(schema.conninfo) as connection:
            connection.execute("CREATE TABLE schema_version (id INTEGER, version INTEGER)")
            connection.execute("INSERT INTO schema_version VALUES (1, %s)", (SCHEMA_VERSION + 1,))
        with pytest.raises(MarketplaceError) as refused:
            PostgresStorage.open(schema.conninfo)
        assert refused.value.code is ErrorCode.INVALID_VALUE
        assert refused.value.fields == {"found": SCHEMA_VERSION + 1, "supported": SCHEMA_VERSION}
        assert f"schema version {SCHEMA_VERSION + 1}" in str(refused.value)
        with psycopg.connect(schema.conninfo) as connection:
            tables = connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema.name,)
            ).fetchall()
        assert tables == [("schema_version",)]


# --------------------------------------------------------------------------- concurrent writers


@requires_postgres
@pytest.mark.parametrize(
    "settings", [(), ("default_transaction_isolation=serializable",)], ids=["default", "strict"]
)
def test_of_two_connections_racing_on_one_version_the_loser_conflicts_and_writes_nothing(
    settings: tuple[str, ...],
) -> None:
    # The winner's commit holds the contested row while it waits for a row a third
    # connection holds; the loser's compare-and-set waits for the contested row. Once the
    # winner commits, the loser's UPDATE finds the version changed and touches nothing. The
    # adapter asks for READ COMMITTED itself, so a stricter server default changes nothing.
    with (
        scratch_schema() as schema,
        storages(schema, 2, *settings) as (first, second),
        ThreadPoolExecutor(2) as pool,
    ):
        seed(first, organization("contested"), organization("blocker"))
        winner, loser = first.unit_of_work(), second.unit_of_work()
        for unit, name in ((winner, "winner"), (loser, "loser")):
            unit.organizations.update(attrs.evolve(unit.organizations.get("contested"), name=name))
        winner.organizations.update(attrs.evolve(winner.organizations.get("blocker"), name="w"))
        loser.users.add(User(id="user-loser", username="loser", created_at=T0))
        loser.emit(sample_events()[0])
        with row_locked(schema, "organizations", "blocker"):
            won = pool.submit(winner.commit)
            wait_for_lock_waits(schema, 1)
            lost = pool.submit(loser.commit)
            wait_for_lock_waits(schema, 2)
        assert outcome(won) == []
        conflict = outcome(lost)
        assert isinstance(conflict, ConflictError), conflict
        assert conflict.code is ErrorCode.STALE_VERSION
        assert conflict.fields["id"] == "contested"
        assert read_organization(second, "contested").name == "winner"
        with second.unit_of_work() as uow:
            assert uow.users.find("user-loser") is None
            assert uow.outbox.read() == []


@requires_postgres
def test_writers_on_separate_connections_lose_no_update() -> None:
    # Each writer reads, renames and commits, again and again, and counts a conflict as a
    # miss. Each commit that succeeds raises the version by one, so an update lost to a
    # concurrent one would leave the version below one plus the successes.
    attempts = 40

    def rename(storage: PostgresStorage) -> int:
        done = 0
        for attempt in range(attempts):
            with storage.unit_of_work() as uow:
                current = uow.organizations.get("counter")
                try:
                    uow.organizations.update(attrs.evolve(current, name=f"n{attempt}"))
                    uow.commit()
                except ConflictError:
                    continue
                done += 1
        return done

    with (
        scratch_schema() as schema,
        storages(schema, 3) as (reader, *writers),
        ThreadPoolExecutor(len(writers)) as pool,
    ):
        seed(reader, organization("counter"))
        done = sum(pool.map(rename, writers))
        assert read_organization(reader, "counter").version == 1 + done


@requires_postgres
def test_concurrent_commits_number_events_without_gaps_in_commit_order() -> None:
    # Two writers on their own connections commit two events at a time while a reader
    # follows the outbox: positions are gapless, and because they are drawn inside the
    # commit, a reader never sees a position before every smaller one is committed.
    commits, events = 30, sample_events()[:2]
    with (
        scratch_schema() as schema,
        storages(schema, 3) as (reader, *writers),
        ThreadPoolExecutor(3) as pool,
    ):

        def write(storage: PostgresStorage) -> list[list[RecordedEvent]]:
            recorded = []
            for _ in range(commits):
                with storage.unit_of_work() as uow:
                    for event in events:
                        uow.emit(event)
                    recorded.append(list(uow.commit()))
            return recorded

        total = len(writers) * commits * len(events)

        def follow() -> list[RecordedEvent]:
            seen: list[RecordedEvent] = []
            deadline = time.monotonic() + TIMEOUT
            while len(seen) < total and time.monotonic() < deadline:
                batch = reader.unit_of_work().outbox.read(after=len(seen))
                assert [e.position for e in batch] == list(
                    range(len(seen) + 1, len(seen) + 1 + len(batch))
                ), "the reader saw a position before a smaller one"
                seen.extend(batch)
            return seen

        followed = pool.submit(follow)
        written = [pool.submit(write, writer) for writer in writers]
        recorded = [commit for future in written for commit in future.result(TIMEOUT)]
        seen = followed.result(TIMEOUT)
    assert len(seen) == total
    for commit in recorded:
        positions = [event.position for event in commit]
        assert positions == list(range(positions[0], positions[0] + len(events)))
    for future in written:
        starts = [commit[0].position for commit in future.result()]
        assert starts == sorted(starts)
    assert sorted(e.position for commit in recorded for e in commit) == list(range(1, total + 1))
    assert {e.position: e.event for e in seen} == {
        e.position: e.event for commit in recorded for e in commit
    }


@requires_postgres
def test_a_deadlock_between_two_commits_fails_one_with_a_conflict_and_writes_none_of_it() -> None:
    # First's commit takes "x", then waits for "w" (held by a third connection); second's
    # takes "y", then waits for "x". Released, first takes "w" and waits for "y": a cycle,
    # which PostgreSQL breaks (after deadlock_timeout, 1 s by default) by aborting one.
    with (
        scratch_schema() as schema,
        storages(schema, 2) as (one, two),
        ThreadPoolExecutor(2) as pool,
    ):
        seed(one, *(organization(entity_id) for entity_id in ("x", "y", "w")))
        first, second = one.unit_of_work(), two.unit_of_work()
        for unit, order in ((first, ("x", "w", "y")), (second, ("y", "x"))):
            for entity_id in order:
                current = unit.organizations.get(entity_id)
                unit.organizations.update(attrs.evolve(current, name=f"by {order}"))
        with row_locked(schema, "organizations", "w"):
            commits = [pool.submit(first.commit)]
            wait_for_lock_waits(schema, 1)
            commits.append(pool.submit(second.commit))
            wait_for_lock_waits(schema, 2)
        outcomes = [outcome(commit) for commit in commits]
        conflicts = [result for result in outcomes if isinstance(result, ConflictError)]
        assert len(conflicts) == 1, outcomes
        assert conflicts[0].code is ErrorCode.STALE_VERSION
        winner = ("x", "w", "y") if outcomes[0] == [] else ("y", "x")
        with one.unit_of_work() as uow:
            names = {entity_id: uow.organizations.get(entity_id).name for entity_id in "xyw"}
        assert names == {
            entity_id: f"by {winner}" if entity_id in winner else "Org" for entity_id in "xyw"
        }


@requires_postgres
def test_threads_sharing_a_storage_never_read_inside_another_threads_commit() -> None:
    # One connection serves every thread of a storage, so a read must not run while
    # another thread's commit is open on it: it would see rows that commit then drops.
    # Here every commit inserts twenty organizations and then fails on a stale version.
    with (
        scratch_schema() as schema,
        storages(schema, 1) as (storage,),
        ThreadPoolExecutor(2) as pool,
    ):
        seed(storage, organization("stale"))
        done = threading.Event()

        def fail_commits() -> int:
            conflicts = 0
            try:
                for round_ in range(15):
                    uow = storage.unit_of_work()
                    for n in range(20):
                        uow.organizations.add(organization(f"doomed-{round_}-{n}"))
                    read = uow.organizations.get("stale")
                    uow.organizations.update(attrs.evolve(read, name="doomed"))
                    with storage.unit_of_work() as other:
                        other.organizations.update(attrs.evolve(read, name=f"moved {round_}"))
                        other.commit()
                    try:
                        uow.commit()
                    except ConflictError:
                        conflicts += 1
            finally:
                done.set()
            return conflicts

        def read_meanwhile() -> set[str]:
            seen: set[str] = set()
            while not done.wait(0.001):  # the pause lets the committing thread take the lock
                with storage.unit_of_work() as uow:
                    seen.update(entity.id for entity in uow.organizations.all())
            return seen

        reads = pool.submit(read_meanwhile)
        assert pool.submit(fail_commits).result(TIMEOUT) == 15
        assert reads.result(TIMEOUT) == {"stale"}


# --------------------------------------------------------------------------- text with NUL


@requires_postgres
def test_a_key_with_nul_fails_the_commit_with_a_validation_error_and_writes_nothing() -> None:
    with scratch_schema() as schema, storages(schema, 1) as (storage,):
        with storage.unit_of_work() as uow:
            uow.organizations.add(organization("org-ok"))
            uow.users.add(User(id="user-nul", username="a\x00b", created_at=T0))
            uow.emit(sample_events()[0])
            with pytest.raises(ValidationError) as refused:
                uow.commit()
        assert refused.value.code is ErrorCode.INVALID_VALUE
        assert refused.value.fields == {"value": "a\x00b"}
        assert "'a\\x00b'" in str(refused.value)
        with storage.unit_of_work() as uow:
            assert uow.organizations.all() == []
            assert uow.users.all() == []
            assert uow.outbox.read() == []


@requires_postgres
def test_a_lookup_by_a_key_with_nul_is_a_validation_error() -> None:
    with scratch_schema() as schema, storages(schema, 1) as (storage,):
        with storage.unit_of_work() as uow, pytest.raises(ValidationError) as refused:
            uow.users.find_by_username("a\x00b")
        assert refused.value.fields == {"value": "a\x00b"}


@requires_postgres
def test_text_with_nul_inside_a_document_round_trips() -> None:
    with scratch_schema() as schema:
        with storages(schema, 1) as (storage,):
            seed(storage, organization("org-nul", "a\x00b\x00"))
        with storages(schema, 1) as (reopened,):
            assert read_organization(reopened, "org-nul").name == "a\x00b\x00"
