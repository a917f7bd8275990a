"""The storage contract suite: the tests every :class:`~marketplace_core.ports.Storage` must pass.

A storage adapter (the in-memory reference, SQLite, PostgreSQL, or a host's own) subclasses
:class:`StorageContract`, says how to open a fresh, empty storage, and inherits the tests::

    class TestMyStorage(StorageContract):
        def make_storage(self):
            return MyStorage.open(self.database_url())

        def reopen_storage(self, storage):
            storage.close()
            return MyStorage.open(self.database_url())

The suite covers every repository of :class:`~marketplace_core.ports.UnitOfWork` and every
method its protocol declares: ``get``/``find``/``add``/``update``/``all``, ``remove`` where
declared, and every keyed query (``for_project``, ``in_state``, ``count_live_on_plan``,
``find_by_key``, ``latest``, ...). It checks that a unit sees its own writes and nobody else
does until it commits; that leaving a unit without committing writes nothing; optimistic
versions (``add`` stores version 1, ``update`` one higher, a stale write raises
:class:`~marketplace_core.errors.ConflictError` ``stale_version`` and the whole commit writes
nothing); duplicates (``already_exists``); the outbox's positions and order across commits;
and that every aggregate comes back from storage intact: ``Decimal`` digits, timezone-aware
instants, enums, booleans, ``None`` and frozen JSON mappings, field by field, for the fixed
samples and (when Hypothesis is installed) for entities with varied values built from them.

:meth:`StorageContract.reopen_storage` is how a durable adapter proves its data survives: the
suite calls it after committing and reads everything again through the storage it returns
(the default returns the same object, which is right for the in-memory adapter).

The suite writes each repository on its own (an order whose resource was never stored, a
grant of an unknown user): referential integrity is the commands' business, not the
storage's, so an adapter must not enforce foreign keys between aggregates. It may enforce
the uniqueness the domain promises (usernames, usage report idempotency keys, one invoice per
organization and month): the samples never break it.

The base class is a :class:`unittest.TestCase`, so it runs under unittest and pytest alike; it
is not collected itself, only its subclasses are. The samples it stores are in
:data:`AGGREGATES`; a test fails when :class:`~marketplace_core.ports.UnitOfWork` gains a
repository, or a repository protocol a method, that the suite does not cover, or when an
entity gains a field that no sample sets.
"""

from __future__ import annotations

import abc
import itertools
import unittest
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

import attrs

from marketplace_core import ports
from marketplace_core.errors import ConflictError, ErrorCode, NotFoundError
from marketplace_core.events import RecordedEvent
from marketplace_core.frozen import FrozenMap
from marketplace_core.orders import OrderState
from marketplace_core.resources import ResourceState
from marketplace_core.testing.storage_contract.samples import sample_events
from marketplace_core.testing.storage_contract.specs import (
    AGGREGATES,
    AggregateSpec,
    Answer,
    KeyedQuery,
    protocol_methods,
    unit_of_work_repositories,
)
from marketplace_core.testing.storage_contract.varied import varied


class CommandFailedError(Exception):
    """Raised inside a unit of work to leave it by an exception."""


class StorageContract(unittest.TestCase, abc.ABC):
    """The tests a storage adapter must pass; subclass it and implement :meth:`make_storage`."""

    __test__: ClassVar[bool] = False
    maxDiff = 8000
    aggregates: ClassVar[Mapping[str, AggregateSpec]] = AGGREGATES
    hypothesis_settings: ClassVar[Mapping[str, Any]] = {"max_examples": 100}
    """Keyword arguments of ``hypothesis.settings`` for
    :meth:`test_varied_values_round_trip_intact` (fewer examples for a slow adapter)."""

    storage: ports.Storage

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__test__" not in cls.__dict__:
            cls.__test__ = True

    # ----------------------------------------------------------------- hooks

    @abc.abstractmethod
    def make_storage(self) -> ports.Storage:
        """A new, empty storage for one test (register its clean-up with ``addCleanup``)."""

    def reopen_storage(self, storage: ports.Storage) -> ports.Storage:
        """A fresh storage over the same data as ``storage``, as a restarted process opens
        it (default: ``storage`` itself). A durable adapter closes ``storage`` and opens its
        database again; every unit of work on ``storage`` has been left by then."""
        return storage

    # ----------------------------------------------------------------- helpers

    def setUp(self) -> None:
        self.storage = self.make_storage()

    def reopen(self) -> None:
        """Replace :attr:`storage` by :meth:`reopen_storage` of it."""
        self.storage = self.reopen_storage(self.storage)

    def specs(self) -> list[AggregateSpec]:
        """Every repository's spec (the tests run each in a sub-test of its own)."""
        return list(self.aggregates.values())

    def removable_specs(self) -> list[AggregateSpec]:
        """The specs of the repositories that declare ``remove``."""
        return [spec for spec in self.aggregates.values() if spec.removable]

    def query_cases(self) -> Iterator[tuple[AggregateSpec, KeyedQuery]]:
        """Each keyed query of each repository, each on a new storage from
        :meth:`make_storage` (the tests run each in a sub-test of its own)."""
        for spec in self.aggregates.values():
            for query in spec.queries:
                self.storage = self.make_storage()
                yield spec, query

    def store(self, repository: str, *entities: Any) -> list[Any]:
        """Add ``entities`` in one unit of work and commit; return them as stored."""
        with self.storage.unit_of_work() as uow:
            stored = [getattr(uow, repository).add(entity) for entity in entities]
            uow.commit()
        return stored

    def read_all(self, repository: str) -> list[Any]:
        """Every committed entity of ``repository``, read in a new unit of work."""
        with self.storage.unit_of_work() as uow:
            return list(getattr(uow, repository).all())

    def read(self, repository: str, entity_id: str) -> Any:
        """The committed entity with ``entity_id`` (``None`` if there is none)."""
        with self.storage.unit_of_work() as uow:
            return getattr(uow, repository).find(entity_id)

    def events(self, after: int = 0, limit: int | None = None) -> list[RecordedEvent]:
        """The committed events, read in a new unit of work."""
        with self.storage.unit_of_work() as uow:
            return list(uow.outbox.read(after, limit))

    def snapshot(self) -> dict[str, list[Any]]:
        """Everything committed: every repository's entities and the outbox."""
        with self.storage.unit_of_work() as uow:
            everything = {name: list(getattr(uow, name).all()) for name in self.aggregates}
            everything["outbox"] = list(uow.outbox.read())
        return everything

    def assert_conflict(self, code: ErrorCode, action: Callable[..., object], *args: Any) -> None:
        """``action(*args)`` raises :class:`ConflictError` with ``code``."""
        with self.assertRaises(ConflictError) as raised:
            action(*args)
        self.assertIs(raised.exception.code, code, str(raised.exception))

    def assert_queries(
        self,
        uow: ports.UnitOfWork,
        spec: AggregateSpec,
        expected: Sequence[Any],
        *,
        updated: bool = False,
    ) -> None:
        """Every keyed query of ``spec`` answers, through ``uow``, as if exactly
        ``expected`` (oldest first) were stored; so do ``all``, ``get`` and ``find``.
        ``updated``: entities were changed, so queries promised only for entities that are
        never changed are not asked."""
        repository = getattr(uow, spec.repository)
        self.assertEqual(list(repository.all()), list(expected), "all()")
        for entity in expected:
            self.assertEqual(repository.get(entity.id), entity, f"get({entity.id!r})")
            self.assertEqual(repository.find(entity.id), entity, f"find({entity.id!r})")
        for query in spec.queries:
            if updated and not query.follows_updates:
                continue
            keys = set(query.keys) | {query.key_of(entity) for entity in expected}
            for key in sorted(keys, key=repr):
                answer = query.ask(repository, key)
                if query.answer is Answer.LIST:
                    answer = list(answer)
                self.assertEqual(answer, query.expect(expected, key), f"{query.label} {key!r}")

    def assert_committed_queries(
        self, spec: AggregateSpec, expected: Sequence[Any], *, updated: bool = False
    ) -> None:
        """:meth:`assert_queries` through a new unit of work: what is committed."""
        with self.storage.unit_of_work() as uow:
            self.assert_queries(uow, spec, expected, updated=updated)

    def assert_nothing_written(self, before: dict[str, list[Any]]) -> None:
        """The committed :meth:`snapshot` is still ``before``, and so it is after a reopen."""
        self.assertEqual(self.snapshot(), before)
        self.reopen()
        self.assertEqual(self.snapshot(), before)

    def assert_intact(self, expected: Any, actual: Any, where: str) -> None:
        """``actual`` is ``expected`` as stored and read back: equal field by field, with
        the same types (an enum, not its value; a ``bool``, not an ``int``; a ``Decimal``
        with the same digits and exponent, ``1.50`` staying ``1.50`` (the sign of a zero
        may be lost); a timezone-aware ``datetime`` at the same instant (its offset may
        change); a ``date``, not a ``datetime``; frozen mappings, tuples and frozensets)."""
        message = f"{where}: expected {expected!r}, got {actual!r}"
        if attrs.has(type(expected)):
            self.assertIs(type(actual), type(expected), message)
            for field in attrs.fields(type(expected)):
                self.assert_intact(
                    getattr(expected, field.name),
                    getattr(actual, field.name),
                    f"{where}.{field.name}",
                )
        elif isinstance(expected, Mapping):
            self.assertIsInstance(
                actual, FrozenMap if isinstance(expected, FrozenMap) else Mapping, message
            )
            self.assertEqual(set(actual), set(expected), message)
            for key, value in expected.items():
                self.assert_intact(value, actual[key], f"{where}[{key!r}]")
        elif isinstance(expected, tuple):
            self.assertIs(type(actual), tuple, message)
            self.assertEqual(len(actual), len(expected), message)
            for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
                self.assert_intact(left, right, f"{where}[{index}]")
        elif isinstance(expected, frozenset):
            self.assertIs(type(actual), frozenset, message)
            self.assertEqual(actual, expected, message)
            found = {element: element for element in actual}
            for element in expected:
                self.assert_intact(element, found[element], f"{where}{{{element!r}}}")
        elif isinstance(expected, datetime):
            self.assertIs(type(actual), datetime, message)
            self.assertIsNotNone(actual.utcoffset(), f"{message}: the time zone was lost")
            self.assertEqual(actual, expected, message)
        elif isinstance(expected, Decimal):
            self.assertIs(type(actual), Decimal, message)
            self.assertEqual(actual, expected, message)
            self.assertEqual(actual.as_tuple().exponent, expected.as_tuple().exponent, message)
        else:
            self.assertIs(type(actual), type(expected), message)
            self.assertEqual(actual, expected, message)

    # ----------------------------------------------------------------- the suite covers it all

    def test_the_suite_covers_every_repository_of_the_unit_of_work(self) -> None:
        declared = unit_of_work_repositories()
        self.assertEqual(
            set(self.aggregates),
            set(declared),
            "the storage contract suite has no samples for some repository of "
            "ports.UnitOfWork (or samples for one it no longer declares)",
        )
        with self.storage.unit_of_work() as uow:
            for name in declared:
                self.assertTrue(hasattr(uow, name), f"the unit of work has no {name!r}")

    def test_the_suite_covers_every_method_of_every_repository_protocol(self) -> None:
        for name, protocol in unit_of_work_repositories().items():
            spec = self.aggregates.get(name)
            if spec is None:
                continue  # reported by the test above
            with self.subTest(repository=name):
                self.assertEqual(
                    spec.methods,
                    protocol_methods(protocol),
                    f"the suite does not test exactly the methods {protocol.__name__} declares",
                )

    def test_the_samples_set_every_optional_field(self) -> None:
        instances: dict[type, list[Any]] = {}

        def collect(value: Any) -> None:
            if attrs.has(type(value)):
                instances.setdefault(type(value), []).append(value)
                for field in attrs.fields(type(value)):
                    collect(getattr(value, field.name))
            elif isinstance(value, tuple | frozenset):
                for item in value:
                    collect(item)

        for spec in self.aggregates.values():
            collect(spec.samples)
        for cls, values in instances.items():
            for field in attrs.fields(cls):
                if field.name == "version":
                    continue
                with self.subTest(entity=cls.__name__, field=field.name):
                    seen = [getattr(value, field.name) for value in values]
                    if field.default is attrs.NOTHING:
                        self.assertTrue(
                            any(not _is_empty(value) for value in seen),
                            f"no sample sets {cls.__name__}.{field.name}",
                        )
                    else:
                        default = (
                            field.default.factory()
                            if isinstance(field.default, attrs.Factory)  # type: ignore[arg-type]
                            else field.default
                        )
                        self.assertTrue(
                            any(value != default for value in seen),
                            f"no sample sets {cls.__name__}.{field.name} to a value other "
                            "than its default",
                        )

    # ----------------------------------------------------------------- get, find, add, update, all

    def test_add_returns_the_entity_at_version_1_and_the_unit_sees_it(self) -> None:
        for spec in self.specs():
            with self.subTest(repository=spec.repository), self.storage.unit_of_work() as uow:
                repository = getattr(uow, spec.repository)
                for sample in spec.samples:
                    stored = repository.add(sample)
                    self.assertEqual(stored, attrs.evolve(sample, version=1))
                    self.assertEqual(repository.get(sample.id), stored)
                    self.assertEqual(repository.find(sample.id), stored)
                self.assertEqual(
                    list(repository.all()), [attrs.evolve(s, version=1) for s in spec.samples]
                )

    def test_other_units_see_an_add_only_after_it_is_committed(self) -> None:
        for spec in self.specs():
            with self.subTest(repository=spec.repository):
                sample = spec.samples[0]
                with self.storage.unit_of_work() as writer:
                    stored = getattr(writer, spec.repository).add(sample)
                    with self.storage.unit_of_work() as reader:
                        repository = getattr(reader, spec.repository)
                        self.assertIsNone(repository.find(sample.id))
                        self.assertEqual(list(repository.all()), [])
                    writer.commit()
                self.assertEqual(self.read(spec.repository, sample.id), stored)
                self.reopen()
                self.assertEqual(self.read_all(spec.repository), [stored])

    def test_get_raises_not_found_and_find_returns_none_for_a_missing_id(self) -> None:
        for spec in self.specs():
            with self.subTest(repository=spec.repository):
                self.store(spec.repository, spec.samples[0])
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    with self.assertRaises(NotFoundError) as raised:
                        repository.get("no-such-id")
                    self.assertIn("no-such-id", str(raised.exception))
                    self.assertIsNone(repository.find("no-such-id"))

    def test_update_returns_the_entity_one_version_higher_and_commit_stores_it(self) -> None:
        for spec in self.specs():
            with self.subTest(repository=spec.repository):
                (stored,) = self.store(spec.repository, spec.samples[0])
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    updated = repository.update(spec.changed(stored))
                    self.assertEqual(updated, attrs.evolve(spec.changed(stored), version=2))
                    self.assertEqual(repository.get(stored.id), updated)
                    with self.storage.unit_of_work() as other:
                        self.assertEqual(getattr(other, spec.repository).get(stored.id), stored)
                    uow.commit()
                self.assertEqual(self.read(spec.repository, stored.id), updated)
                self.reopen()
                self.assertEqual(self.read_all(spec.repository), [updated])

    def test_each_update_in_one_unit_counts_one_version(self) -> None:
        for spec in self.specs():
            with self.subTest(repository=spec.repository):
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    added = repository.add(spec.samples[0])
                    twice = repository.update(spec.changed(repository.update(added)))
                    self.assertEqual(twice.version, 3)
                    uow.commit()
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    self.assertEqual(repository.get(added.id), twice)
                    thrice = repository.update(spec.changed(twice))
                    self.assertEqual(thrice.version, 4)
                    uow.commit()
                self.reopen()
                self.assertEqual(self.read(spec.repository, added.id), thrice)

    def test_update_of_a_missing_id_raises_not_found_and_stages_nothing(self) -> None:
        for spec in self.specs():
            with self.subTest(repository=spec.repository):
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    with self.assertRaises(NotFoundError):
                        repository.update(attrs.evolve(spec.samples[0], version=1))
                    self.assertIsNone(repository.find(spec.samples[0].id))
                    uow.commit()
                self.assertEqual(self.read_all(spec.repository), [])

    def test_update_with_a_stale_version_raises_stale_version_and_stages_nothing(self) -> None:
        for spec in self.specs():
            with self.subTest(repository=spec.repository):
                (stored,) = self.store(spec.repository, spec.samples[0])
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    current = repository.update(stored)
                    for stale in (stored, attrs.evolve(current, version=current.version + 1)):
                        self.assert_conflict(
                            ErrorCode.STALE_VERSION, repository.update, spec.changed(stale)
                        )
                    self.assertEqual(repository.get(stored.id), current)
                    uow.commit()
                self.assertEqual(self.read(spec.repository, stored.id), current)

    def test_adding_a_committed_id_raises_already_exists_and_stages_nothing(self) -> None:
        for spec in self.specs():
            with self.subTest(repository=spec.repository):
                (stored,) = self.store(spec.repository, spec.samples[0])
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    self.assert_conflict(
                        ErrorCode.ALREADY_EXISTS, repository.add, spec.changed(spec.samples[0])
                    )
                    self.assertEqual(repository.get(stored.id), stored)
                    uow.commit()
                self.assertEqual(self.read_all(spec.repository), [stored])

    def test_adding_an_id_staged_in_the_same_unit_raises_already_exists(self) -> None:
        for spec in self.specs():
            with self.subTest(repository=spec.repository):
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    stored = repository.add(spec.samples[0])
                    self.assert_conflict(
                        ErrorCode.ALREADY_EXISTS, repository.add, spec.changed(spec.samples[0])
                    )
                    self.assertEqual(list(repository.all()), [stored])
                    uow.commit()
                self.assertEqual(self.read_all(spec.repository), [stored])

    def test_of_two_units_adding_the_same_id_only_the_first_commit_writes(self) -> None:
        for spec in self.specs():
            with self.subTest(repository=spec.repository):
                sample = spec.samples[0]
                with self.storage.unit_of_work() as first, self.storage.unit_of_work() as second:
                    stored = getattr(first, spec.repository).add(sample)
                    getattr(second, spec.repository).add(spec.changed(sample))
                    second.emit(sample_events()[0])
                    first.commit()
                    before = self.snapshot()
                    with self.assertRaises(ConflictError) as raised:
                        second.commit()
                    self.assertIn(
                        raised.exception.code, {ErrorCode.STALE_VERSION, ErrorCode.ALREADY_EXISTS}
                    )
                self.assertEqual(self.snapshot(), before)
                self.assertEqual(self.read_all(spec.repository), [stored])

    def test_all_lists_committed_and_staged_entities_oldest_first(self) -> None:
        for spec in self.specs():
            with self.subTest(repository=spec.repository):
                first = self.store(spec.repository, spec.clone(1), spec.clone(2))
                second = self.store(spec.repository, spec.clone(3))
                committed = first + second
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    added = repository.add(spec.clone(4))
                    changed = repository.update(spec.changed(committed[0]))
                    later = repository.add(spec.clone(5))
                    expected = [changed, *committed[1:], added, later]
                    self.assertEqual(list(repository.all()), expected)
                    uow.commit()
                self.assertEqual(self.read_all(spec.repository), expected)
                self.reopen()
                self.assertEqual(self.read_all(spec.repository), expected)

    def test_a_unit_does_not_see_what_another_unit_staged(self) -> None:
        for spec in self.specs():
            with self.subTest(repository=spec.repository):
                (stored,) = self.store(spec.repository, spec.clone(1))
                with self.storage.unit_of_work() as writer, self.storage.unit_of_work() as reader:
                    getattr(writer, spec.repository).update(spec.changed(stored))
                    getattr(writer, spec.repository).add(spec.clone(2))
                    self.assert_queries(reader, spec, [stored], updated=True)

    # ----------------------------------------------------------------- remove

    def test_remove_hides_the_entity_from_the_unit_and_commit_deletes_it(self) -> None:
        for spec in self.removable_specs():
            with self.subTest(repository=spec.repository):
                stored = self.store(spec.repository, spec.clone(1), spec.clone(2), spec.clone(3))
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    self.assertIsNone(repository.remove(stored[1]))
                    self.assertIsNone(repository.find(stored[1].id))
                    with self.assertRaises(NotFoundError):
                        repository.get(stored[1].id)
                    remaining = [stored[0], stored[2]]
                    self.assert_queries(uow, spec, remaining)
                    with self.storage.unit_of_work() as other:
                        self.assert_queries(other, spec, stored)
                    uow.commit()
                self.assert_committed_queries(spec, remaining)
                self.reopen()
                self.assert_committed_queries(spec, remaining)

    def test_remove_with_a_stale_version_raises_stale_version_and_stages_nothing(self) -> None:
        for spec in self.removable_specs():
            with self.subTest(repository=spec.repository):
                (stored,) = self.store(spec.repository, spec.samples[0])
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    current = repository.update(spec.changed(stored))
                    self.assert_conflict(ErrorCode.STALE_VERSION, repository.remove, stored)
                    self.assertEqual(repository.get(stored.id), current)
                    uow.commit()
                self.assertEqual(self.read_all(spec.repository), [current])

    def test_remove_of_a_missing_id_raises_not_found(self) -> None:
        for spec in self.removable_specs():
            with (
                self.subTest(repository=spec.repository),
                self.storage.unit_of_work() as uow,
                self.assertRaises(NotFoundError),
            ):
                getattr(uow, spec.repository).remove(attrs.evolve(spec.samples[0], version=1))

    def test_removing_what_the_unit_added_leaves_nothing(self) -> None:
        for spec in self.removable_specs():
            with self.subTest(repository=spec.repository):
                (kept,) = self.store(spec.repository, spec.clone(1))
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    added = repository.add(spec.clone(2))
                    repository.remove(repository.update(spec.changed(added)))
                    self.assert_queries(uow, spec, [kept])
                    uow.commit()
                self.reopen()
                self.assert_committed_queries(spec, [kept])

    def test_a_removal_of_an_entity_changed_since_fails_at_commit_and_writes_nothing(
        self,
    ) -> None:
        for spec in self.removable_specs():
            with self.subTest(repository=spec.repository):
                (stored,) = self.store(spec.repository, spec.samples[0])
                with self.storage.unit_of_work() as remover:
                    getattr(remover, spec.repository).remove(stored)
                    getattr(remover, spec.repository).add(spec.clone(1))
                    with self.storage.unit_of_work() as changer:
                        current = getattr(changer, spec.repository).update(spec.changed(stored))
                        changer.commit()
                    before = self.snapshot()
                    self.assert_conflict(ErrorCode.STALE_VERSION, remover.commit)
                self.assertEqual(self.snapshot(), before)
                self.assertEqual(self.read_all(spec.repository), [current])

    # ----------------------------------------------------------------- keyed queries

    def keyed(self, spec: AggregateSpec, query: KeyedQuery, n: int, key_index: int) -> Any:
        """Clone ``n`` under ``query``'s key ``key_index`` (for a unique key, its own)."""
        if query.answer is not Answer.ONE:
            key_index %= 2
        return query.rekey(spec.clone(n), query.keys[key_index])

    def test_keyed_queries_list_committed_entities_oldest_first(self) -> None:
        for spec, query in self.query_cases():
            with self.subTest(repository=spec.repository, query=query.label):
                entities = [self.keyed(spec, query, n, n) for n in range(5)]
                stored = self.store(spec.repository, *entities[:3])
                stored += self.store(spec.repository, *entities[3:])
                self.assert_committed_queries(spec, stored)
                self.reopen()
                self.assert_committed_queries(spec, stored)

    def test_keyed_queries_list_staged_adds_after_committed_entities(self) -> None:
        for spec, query in self.query_cases():
            with self.subTest(repository=spec.repository, query=query.label):
                stored = self.store(
                    spec.repository, *(self.keyed(spec, query, n, n) for n in range(3))
                )
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    staged = [repository.add(self.keyed(spec, query, n, n)) for n in (3, 4)]
                    self.assert_queries(uow, spec, stored + staged)
                    with self.storage.unit_of_work() as other:
                        self.assert_queries(other, spec, stored)
                    uow.commit()
                self.reopen()
                self.assert_committed_queries(spec, stored + staged)

    def test_keyed_queries_see_staged_updates_in_place(self) -> None:
        for spec, query in self.query_cases():
            with self.subTest(repository=spec.repository, query=query.label):
                if not query.follows_updates:
                    continue
                stored = self.store(
                    spec.repository, *(self.keyed(spec, query, n, n) for n in range(3))
                )
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    third = repository.update(spec.changed(stored[2]))
                    added = repository.add(self.keyed(spec, query, 3, 3))
                    first = repository.update(spec.changed(stored[0]))
                    expected = [first, stored[1], third, added]
                    self.assert_queries(uow, spec, expected, updated=True)
                    uow.commit()
                self.reopen()
                self.assert_committed_queries(spec, expected, updated=True)

    def test_keyed_queries_follow_an_entity_that_moved_between_keys(self) -> None:
        for spec, query in self.query_cases():
            with self.subTest(repository=spec.repository, query=query.label):
                if not query.follows_updates:
                    continue
                if query.answer is Answer.ONE:
                    # One entity per key: a committed one and a staged one move to free keys.
                    stored = self.store(
                        spec.repository,
                        self.keyed(spec, query, 1, 0),
                        self.keyed(spec, query, 2, 1),
                    )
                    with self.storage.unit_of_work() as uow:
                        repository = getattr(uow, spec.repository)
                        moved = repository.update(query.rekey(stored[0], query.keys[2]))
                        staged = repository.add(self.keyed(spec, query, 3, 3))
                        staged = repository.update(query.rekey(staged, query.keys[4]))
                        expected = [moved, stored[1], staged]
                        self.assert_queries(uow, spec, expected, updated=True)
                        uow.commit()
                else:
                    a, b = query.keys[0], query.keys[1]
                    stored = self.store(
                        spec.repository, *(self.keyed(spec, query, n, n) for n in range(4))
                    )  # keys a, b, a, b
                    with self.storage.unit_of_work() as uow:
                        repository = getattr(uow, spec.repository)
                        to_b = repository.update(query.rekey(stored[0], b))
                        to_a = repository.update(query.rekey(stored[3], a))
                        added = repository.add(self.keyed(spec, query, 4, 0))
                        staged = repository.add(self.keyed(spec, query, 5, 1))
                        staged = repository.update(query.rekey(staged, a))
                        expected = [to_b, stored[1], stored[2], to_a, added, staged]
                        self.assert_queries(uow, spec, expected, updated=True)
                        uow.commit()
                self.assert_committed_queries(spec, expected, updated=True)
                self.reopen()
                self.assert_committed_queries(spec, expected, updated=True)

    def test_in_state_returns_at_most_limit_orders_oldest_first(self) -> None:
        spec = self.aggregates["orders"]
        pending, done = OrderState.PENDING_PROVIDER, OrderState.DONE
        states = [pending, done, pending, pending]
        stored = self.store(
            "orders", *(attrs.evolve(spec.clone(n), state=s) for n, s in enumerate(states))
        )
        with self.storage.unit_of_work() as uow:
            orders = uow.orders
            moved = orders.update(attrs.evolve(stored[1], state=pending))
            orders.update(attrs.evolve(stored[0], state=done))
            added = orders.add(attrs.evolve(spec.clone(9), state=pending))
            in_order = [moved, stored[2], stored[3], added]
            for limit in (None, 0, 1, 3, 4, 10):
                with self.subTest(limit=limit):
                    expected = in_order if limit is None else in_order[:limit]
                    self.assertEqual(list(orders.in_state(pending, limit)), expected)
                    self.assertEqual(list(orders.in_state(pending, limit=limit)), expected)
            uow.commit()
        self.reopen()
        with self.storage.unit_of_work() as uow:
            self.assertEqual(list(uow.orders.in_state(pending, 2)), in_order[:2])
            self.assertEqual(list(uow.orders.in_state(OrderState.CANCELED, 5)), [])

    def test_count_live_on_plan_leaves_out_terminated_resources(self) -> None:
        spec = self.aggregates["resources"]
        ok, gone = ResourceState.OK, ResourceState.TERMINATED
        plans = [("plan-p", ok), ("plan-p", ok), ("plan-p", gone), ("plan-q", ok)]
        stored = self.store(
            "resources",
            *(
                attrs.evolve(spec.clone(n), plan_id=plan, state=state)
                for n, (plan, state) in enumerate(plans)
            ),
        )
        with self.storage.unit_of_work() as uow:
            resources = uow.resources
            self.assertEqual(resources.count_live_on_plan("plan-p"), 2)
            resources.update(attrs.evolve(stored[0], state=gone))
            self.assertEqual(resources.count_live_on_plan("plan-p"), 1)
            resources.update(attrs.evolve(stored[2], state=ResourceState.ERRED))  # revived
            resources.update(attrs.evolve(stored[1], plan_id="plan-q"))
            resources.add(
                attrs.evolve(spec.clone(7), plan_id="plan-p", state=ResourceState.CREATING)
            )
            self.assertEqual(resources.count_live_on_plan("plan-p"), 2)
            self.assertEqual(resources.count_live_on_plan("plan-q"), 2)
            self.assertEqual(resources.count_live_on_plan("plan-none"), 0)
            uow.commit()
        self.reopen()
        with self.storage.unit_of_work() as uow:
            self.assertEqual(uow.resources.count_live_on_plan("plan-p"), 2)
            self.assertEqual(uow.resources.count_live_on_plan("plan-q"), 2)

    def test_find_by_username_matches_the_exact_username(self) -> None:
        spec = self.aggregates["users"]
        (alice,) = self.store("users", attrs.evolve(spec.clone(1), username="alice"))
        with self.storage.unit_of_work() as uow:
            self.assertEqual(uow.users.find_by_username("alice"), alice)
            for other in ("Alice", "alice ", "alic", "alice%", "al_ce", ""):
                self.assertIsNone(uow.users.find_by_username(other), repr(other))

    # ----------------------------------------------------------------- units of work

    def fill_a_unit(self, uow: ports.UnitOfWork, n: int) -> None:
        """Stage a write to every repository and emit events, as a big command would."""
        for spec in self.aggregates.values():
            getattr(uow, spec.repository).add(spec.clone(n))
        for event in sample_events()[:3]:
            uow.emit(event)

    def test_a_unit_left_without_commit_writes_nothing(self) -> None:
        with self.storage.unit_of_work() as uow:
            self.fill_a_unit(uow, 1)
            uow.commit()
        before = self.snapshot()
        with self.storage.unit_of_work() as uow:
            self.fill_a_unit(uow, 2)
            for spec in self.aggregates.values():
                repository = getattr(uow, spec.repository)
                repository.update(spec.changed(repository.get(spec.clone(1).id)))
        self.assert_nothing_written(before)

    def test_a_unit_left_by_an_exception_writes_nothing(self) -> None:
        before = self.snapshot()
        with self.assertRaises(CommandFailedError), self.storage.unit_of_work() as uow:
            self.fill_a_unit(uow, 1)
            raise CommandFailedError
        self.assert_nothing_written(before)

    def test_rollback_discards_staged_writes_and_events_and_the_unit_works_on(self) -> None:
        with self.storage.unit_of_work() as uow:
            self.fill_a_unit(uow, 1)
            uow.rollback()
            for spec in self.aggregates.values():
                self.assertEqual(list(getattr(uow, spec.repository).all()), [], spec.repository)
            self.assertEqual(list(uow.commit()), [])
            self.assertEqual(self.snapshot(), {name: [] for name in [*self.aggregates, "outbox"]})
            self.fill_a_unit(uow, 2)
            recorded = uow.commit()
        self.assertEqual([r.position for r in recorded], [1, 2, 3])
        snapshot = self.snapshot()
        for spec in self.aggregates.values():
            self.assertEqual(
                snapshot[spec.repository], [attrs.evolve(spec.clone(2), version=1)], spec.repository
            )

    def test_a_unit_can_commit_again_after_a_commit(self) -> None:
        with self.storage.unit_of_work() as uow:
            self.fill_a_unit(uow, 1)
            first = uow.commit()
            for spec in self.aggregates.values():
                repository = getattr(uow, spec.repository)
                repository.update(spec.changed(repository.get(spec.clone(1).id)))
                repository.add(spec.clone(2))
            uow.emit(sample_events()[3])
            second = uow.commit()
        self.assertEqual([r.position for r in [*first, *second]], [1, 2, 3, 4])
        self.reopen()
        snapshot = self.snapshot()
        for spec in self.aggregates.values():
            expected = [
                attrs.evolve(spec.changed(spec.clone(1)), version=2),
                attrs.evolve(spec.clone(2), version=1),
            ]
            self.assertEqual(snapshot[spec.repository], expected, spec.repository)

    def test_one_commit_writes_every_repository_and_its_events(self) -> None:
        with self.storage.unit_of_work() as uow:
            self.fill_a_unit(uow, 1)
            recorded = uow.commit()
        self.reopen()
        snapshot = self.snapshot()
        for spec in self.specs():
            with self.subTest(repository=spec.repository):
                self.assertEqual(
                    snapshot[spec.repository], [attrs.evolve(spec.clone(1), version=1)]
                )
        self.assertEqual(snapshot["outbox"], list(recorded))

    def test_a_stale_write_fails_the_commit_and_the_whole_commit_writes_nothing(self) -> None:
        for spec in self.specs():
            with self.subTest(repository=spec.repository):
                (stored,) = self.store(spec.repository, spec.samples[0])
                with self.storage.unit_of_work() as late:
                    getattr(late, spec.repository).update(spec.changed(stored))
                    self.fill_a_unit(late, 1)
                    with self.storage.unit_of_work() as early:
                        winner = getattr(early, spec.repository).update(stored)
                        early.emit(sample_events()[4])
                        early.commit()
                    before = self.snapshot()
                    self.assert_conflict(ErrorCode.STALE_VERSION, late.commit)
                self.assert_nothing_written(before)
                self.assertEqual(self.read(spec.repository, stored.id), winner)

    # ----------------------------------------------------------------- the outbox

    def test_the_outbox_is_empty_before_any_commit(self) -> None:
        with self.storage.unit_of_work() as uow:
            uow.emit(sample_events()[0])
            self.assertEqual(list(uow.outbox.read()), [])
        self.assertEqual(self.events(), [])

    def test_commit_records_events_at_positions_from_1_in_emit_order(self) -> None:
        events = sample_events()
        with self.storage.unit_of_work() as uow:
            for event in events:
                uow.emit(event)
            recorded = list(uow.commit())
        self.assertEqual(recorded, [RecordedEvent(i, e) for i, e in enumerate(events, start=1)])
        self.assertEqual(self.events(), recorded)

    def test_positions_continue_across_commits_in_commit_order(self) -> None:
        events = sample_events()
        with self.storage.unit_of_work() as slow, self.storage.unit_of_work() as fast:
            slow.emit(events[0])
            slow.emit(events[1])
            fast.emit(events[2])
            first = list(fast.commit())
            second = list(slow.commit())
            fast.emit(events[3])
            third = list(fast.commit())
        expected = [
            RecordedEvent(1, events[2]),
            RecordedEvent(2, events[0]),
            RecordedEvent(3, events[1]),
            RecordedEvent(4, events[3]),
        ]
        self.assertEqual(first + second + third, expected)
        self.assertEqual(self.events(), expected)
        self.reopen()
        with self.storage.unit_of_work() as uow:
            uow.emit(events[4])
            self.assertEqual(list(uow.commit()), [RecordedEvent(5, events[4])])
        self.assertEqual(self.events(), [*expected, RecordedEvent(5, events[4])])

    def test_outbox_read_honours_after_and_limit(self) -> None:
        events = sample_events()
        with self.storage.unit_of_work() as uow:
            for event in events[:3]:
                uow.emit(event)
            uow.commit()
            for event in events[3:6]:
                uow.emit(event)
            uow.commit()
            everything = [RecordedEvent(i, e) for i, e in enumerate(events[:6], start=1)]
            outbox = uow.outbox
            for after in (0, 1, 3, 5, 6, 9):
                for limit in (None, 0, 1, 2, 10):
                    with self.subTest(after=after, limit=limit):
                        tail = everything[after:]
                        expected = tail if limit is None else tail[:limit]
                        self.assertEqual(list(outbox.read(after, limit)), expected)
                        self.assertEqual(list(outbox.read(after=after, limit=limit)), expected)
            self.assertEqual(list(outbox.read()), everything)

    def test_events_of_a_unit_that_does_not_commit_never_reach_the_outbox(self) -> None:
        events = sample_events()
        with self.storage.unit_of_work() as uow:
            uow.emit(events[0])
        with self.storage.unit_of_work() as uow:
            uow.emit(events[1])
            uow.rollback()
            uow.emit(events[2])
            recorded = list(uow.commit())
        with self.assertRaises(CommandFailedError), self.storage.unit_of_work() as uow:
            uow.emit(events[3])
            raise CommandFailedError
        self.assertEqual(recorded, [RecordedEvent(1, events[2])])
        self.reopen()
        self.assertEqual(self.events(), recorded)

    def test_a_commit_without_events_records_none_and_takes_no_position(self) -> None:
        spec = self.aggregates["users"]
        with self.storage.unit_of_work() as uow:
            uow.users.add(spec.clone(1))
            self.assertEqual(list(uow.commit()), [])
            uow.emit(sample_events()[0])
            self.assertEqual([r.position for r in uow.commit()], [1])

    def test_events_come_back_from_the_outbox_intact(self) -> None:
        events = sample_events()
        with self.storage.unit_of_work() as uow:
            for event in events:
                uow.emit(event)
            uow.commit()
        self.reopen()
        read = self.events()
        self.assertEqual(len(read), len(events))
        for position, (event, recorded) in enumerate(zip(events, read, strict=True), start=1):
            self.assertEqual(recorded.position, position)
            self.assert_intact(event, recorded.event, f"event {position}")

    # ----------------------------------------------------------------- round trips

    def test_every_aggregate_round_trips_intact(self) -> None:
        for spec in self.specs():
            with self.subTest(repository=spec.repository):
                stored = self.store(spec.repository, *spec.samples)
                self.reopen()
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    listed = list(repository.all())
                    self.assertEqual(len(listed), len(stored))
                    for expected, from_all in zip(stored, listed, strict=True):
                        self.assert_intact(
                            expected, repository.get(expected.id), f"get {expected.id}"
                        )
                        self.assert_intact(
                            expected, repository.find(expected.id), f"find {expected.id}"
                        )
                        self.assert_intact(expected, from_all, f"all {expected.id}")
                        for query in spec.queries:
                            if query.answer is Answer.COUNT:
                                continue
                            answer = query.ask(repository, query.key_of(expected))
                            if query.answer is Answer.LIST:
                                answer = next(e for e in answer if e.id == expected.id)
                            elif query.answer is Answer.LATEST and answer.id != expected.id:
                                continue  # another sample was added later under the key
                            self.assert_intact(expected, answer, f"{query.label} {expected.id}")

    def test_an_update_round_trips_every_field(self) -> None:
        for spec in self.specs():
            with self.subTest(repository=spec.repository):
                fullest, emptiest = spec.samples[0], spec.samples[-1]
                grown_copy = attrs.evolve(
                    fullest, id=f"{fullest.id}~grown", **spec.unique_fields(fullest, 99)
                )
                (small, large) = self.store(spec.repository, emptiest, grown_copy)
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    grown = repository.update(attrs.evolve(fullest, id=small.id, version=1))
                    shrunk = repository.update(
                        attrs.evolve(
                            emptiest, id=large.id, version=1, **spec.unique_fields(emptiest, 98)
                        )
                    )
                    uow.commit()
                self.reopen()
                with self.storage.unit_of_work() as uow:
                    repository = getattr(uow, spec.repository)
                    self.assert_intact(grown, repository.get(small.id), f"grown {small.id}")
                    self.assert_intact(shrunk, repository.get(large.id), f"shrunk {large.id}")

    def test_varied_values_round_trip_intact(self) -> None:
        try:
            from hypothesis import HealthCheck, given, settings  # noqa: PLC0415
            from hypothesis import strategies as st  # noqa: PLC0415
        except ImportError:  # pragma: no cover - hypothesis is a test dependency
            self.skipTest("hypothesis is not installed")
        numbers = itertools.count(1000)
        specs = self.specs()

        @settings(
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            **self.hypothesis_settings,
        )
        @given(st.data())
        def round_trip(data: st.DataObject) -> None:
            spec = data.draw(st.sampled_from(specs), label="repository")
            sample = data.draw(st.sampled_from(spec.samples), label="sample")
            entity = data.draw(varied(sample, st), label="entity")
            n = next(numbers)
            entity = attrs.evolve(
                entity, id=f"varied-{n}", version=0, **spec.unique_fields(entity, n)
            )
            (stored,) = self.store(spec.repository, entity)
            self.reopen()
            found = self.read(spec.repository, stored.id)
            self.assert_intact(stored, found, f"{spec.repository} {stored.id}")

        round_trip()


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, str | tuple | frozenset | Mapping) and len(value) == 0
