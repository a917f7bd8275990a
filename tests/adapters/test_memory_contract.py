"""The storage contract suite on the in-memory adapter, and the suite failing adapters that
break the contract (each a small wrapper around the in-memory adapter)."""

from __future__ import annotations

import unittest
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import Phase

from marketplace_core import InMemoryStorage
from marketplace_core.adapters.memory import (
    InMemoryOrderRepository,
    InMemoryOutbox,
    InMemoryResourceRepository,
    InMemoryUnitOfWork,
    InMemoryUserRepository,
)
from marketplace_core.events import RecordedEvent
from marketplace_core.orders import Order, OrderState
from marketplace_core.ports import Storage
from marketplace_core.testing import AGGREGATES, AggregateSpec, StorageContract
from marketplace_core.users import User


class TestInMemoryStorage(StorageContract):
    def make_storage(self) -> InMemoryStorage:
        return InMemoryStorage()


def copied(
    storage: InMemoryStorage,
    transform: Callable[[str, Any], Any],
    fresh: InMemoryStorage | None = None,
) -> InMemoryStorage:
    """``fresh`` (default: a new in-memory storage) holding ``storage``'s committed data,
    each entity passed through ``transform(repository name, entity)``: a stand-in for
    closing a database and opening it again."""
    fresh = InMemoryStorage() if fresh is None else fresh
    for name, table in storage._tables.items():
        for entity in table.rows.values():
            fresh._tables[name].put(transform(name, entity))
    fresh._events.extend(storage._events)
    return fresh


class CountingUnit(InMemoryUnitOfWork):
    def __enter__(self) -> CountingUnit:
        assert isinstance(self._storage, CountingStorage)
        self._storage.open_units += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert isinstance(self._storage, CountingStorage)
        self._storage.open_units -= 1
        super().__exit__(None, None, None)


class CountingStorage(InMemoryStorage):
    """Counts the units of work entered and not yet left."""

    def __init__(self) -> None:
        super().__init__()
        self.open_units = 0

    def unit_of_work(self) -> InMemoryUnitOfWork:
        return CountingUnit(self)


class TestInMemoryStorageReopenedAsACopy(StorageContract):
    """Every reopen hands over a copy, so the suite reads back through the new storage only;
    and no unit of work is open on the old one when it is reopened, as the suite promises."""

    def make_storage(self) -> CountingStorage:
        return CountingStorage()

    def reopen_storage(self, storage: Storage) -> Storage:
        assert isinstance(storage, CountingStorage)
        assert storage.open_units == 0, "the suite reopened a storage with a unit still open"
        return copied(storage, lambda name, entity: entity, CountingStorage())


def test_the_base_is_not_collected_but_its_subclasses_are() -> None:
    assert StorageContract.__test__ is False
    assert TestInMemoryStorage.__test__ is True


# --------------------------------------------------------------------------- broken adapters


class BrokenUnit(InMemoryUnitOfWork):
    """A unit of work whose repositories can be swapped for broken ones."""


class BrokenStorage(InMemoryStorage):
    unit_class: ClassVar[type[InMemoryUnitOfWork]] = BrokenUnit

    def unit_of_work(self) -> InMemoryUnitOfWork:
        return self.unit_class(self)


class DropsQuotaWrites(BrokenStorage):
    class unit_class(InMemoryUnitOfWork):  # noqa: N801  # a class attribute
        def commit(self) -> Sequence[RecordedEvent]:
            if "quotas" in self._staged:
                self._staged["quotas"].clear()
            return super().commit()


class InStateIgnoresStagedWrites(BrokenStorage):
    class unit_class(InMemoryUnitOfWork):  # noqa: N801
        class Orders(InMemoryOrderRepository):
            def in_state(self, state: OrderState, limit: int | None = None) -> Sequence[Order]:
                table = self._staged.table
                orders = [table.rows[i] for i in table.bucket("state", state)]
                return orders if limit is None else orders[:limit]

        @cached_property
        def orders(self) -> InMemoryOrderRepository:
            return self._repository("orders", self.Orders)


class CountsTerminatedResources(BrokenStorage):
    class unit_class(InMemoryUnitOfWork):  # noqa: N801
        class Resources(InMemoryResourceRepository):
            def count_live_on_plan(self, plan_id: str) -> int:
                return sum(1 for r in self.all() if r.plan_id == plan_id)

        @cached_property
        def resources(self) -> InMemoryResourceRepository:
            return self._repository("resources", self.Resources)


class IgnoresUsernameCase(BrokenStorage):
    class unit_class(InMemoryUnitOfWork):  # noqa: N801
        class Users(InMemoryUserRepository):
            def find_by_username(self, username: str) -> User | None:
                found = [u for u in self.all() if u.username.lower() == username.lower()]
                return found[0] if found else None

        @cached_property
        def users(self) -> InMemoryUserRepository:
            return self._repository("users", self.Users)


class ListsById(BrokenStorage):
    class unit_class(InMemoryUnitOfWork):  # noqa: N801
        class Orders(InMemoryOrderRepository):
            def all(self) -> Sequence[Order]:
                return sorted(super().all(), key=lambda order: order.id)

        @cached_property
        def orders(self) -> InMemoryOrderRepository:
            return self._repository("orders", self.Orders)


class LastWriterWins(BrokenStorage):
    """Checks versions when a write is staged, never again at commit."""

    def _commit(self, staged: Any, events: Any) -> list[RecordedEvent]:
        staged = list(staged)
        for table in staged:
            for entity_id in table.base_versions:
                row = table.table.rows.get(entity_id)
                table.base_versions[entity_id] = 0 if row is None else row.version
        return super()._commit(staged, events)


class KeepsEventsOnRollback(BrokenStorage):
    class unit_class(InMemoryUnitOfWork):  # noqa: N801
        def rollback(self) -> None:
            events = self._events
            super().rollback()
            self._events = events


class OutboxIgnoresLimit(BrokenStorage):
    class unit_class(InMemoryUnitOfWork):  # noqa: N801
        class Outbox(InMemoryOutbox):
            def read(self, after: int = 0, limit: int | None = None) -> Sequence[RecordedEvent]:
                return super().read(after)

        @property
        def outbox(self) -> InMemoryOutbox:
            return self.Outbox(self._storage._events)


def broken(storage_class: type[InMemoryStorage]) -> type[StorageContract]:
    class Broken(StorageContract):
        __test__ = False

        def make_storage(self) -> InMemoryStorage:
            return storage_class()

    return Broken


def lossy(transform: Callable[[str, Any], Any]) -> type[StorageContract]:
    """A contract on an adapter that loses something when the storage is reopened."""

    class Lossy(StorageContract):
        __test__ = False

        def make_storage(self) -> InMemoryStorage:
            return InMemoryStorage()

        def reopen_storage(self, storage: Storage) -> Storage:
            assert isinstance(storage, InMemoryStorage)
            return copied(storage, transform)

    return Lossy


def forgetting(repository: str, **changes: Any) -> Callable[[str, Any], Any]:
    def transform(name: str, entity: Any) -> Any:
        if name != repository:
            return entity
        values = {field: change(getattr(entity, field)) for field, change in changes.items()}
        return attrs.evolve(entity, **values)

    return transform


class ForgetsEvents(StorageContract):
    __test__ = False

    def make_storage(self) -> InMemoryStorage:
        return InMemoryStorage()

    def reopen_storage(self, storage: Storage) -> Storage:
        assert isinstance(storage, InMemoryStorage)
        fresh = copied(storage, lambda name, entity: entity)
        fresh._events.clear()
        return fresh


BROKEN: list[tuple[str, type[StorageContract], str]] = [
    (
        "commit drops one repository's writes",
        broken(DropsQuotaWrites),
        "test_one_commit_writes_every_repository_and_its_events",
    ),
    (
        "in_state ignores staged writes",
        broken(InStateIgnoresStagedWrites),
        "test_keyed_queries_list_staged_adds_after_committed_entities",
    ),
    (
        "in_state ignores staged writes (moves)",
        broken(InStateIgnoresStagedWrites),
        "test_keyed_queries_follow_an_entity_that_moved_between_keys",
    ),
    (
        "in_state ignores staged writes (limit)",
        broken(InStateIgnoresStagedWrites),
        "test_in_state_returns_at_most_limit_orders_oldest_first",
    ),
    (
        "count_live_on_plan counts terminated resources",
        broken(CountsTerminatedResources),
        "test_count_live_on_plan_leaves_out_terminated_resources",
    ),
    (
        "find_by_username ignores case",
        broken(IgnoresUsernameCase),
        "test_find_by_username_matches_the_exact_username",
    ),
    (
        "all() lists by id",
        broken(ListsById),
        "test_all_lists_committed_and_staged_entities_oldest_first",
    ),
    (
        "no version check at commit",
        broken(LastWriterWins),
        "test_a_stale_write_fails_the_commit_and_the_whole_commit_writes_nothing",
    ),
    (
        "no version check at commit (removal)",
        broken(LastWriterWins),
        "test_a_removal_of_an_entity_changed_since_fails_at_commit_and_writes_nothing",
    ),
    (
        "rollback keeps events",
        broken(KeepsEventsOnRollback),
        "test_events_of_a_unit_that_does_not_commit_never_reach_the_outbox",
    ),
    (
        "outbox ignores limit",
        broken(OutboxIgnoresLimit),
        "test_outbox_read_honours_after_and_limit",
    ),
    (
        "reopen drops Order.claimed_by",
        lossy(forgetting("orders", claimed_by=lambda value: None)),
        "test_every_aggregate_round_trips_intact",
    ),
    (
        "reopen drops Order.claim_expires_at on update",
        lossy(forgetting("orders", claim_expires_at=lambda value: None)),
        "test_an_update_round_trips_every_field",
    ),
    (
        "reopen turns booleans into integers",
        lossy(forgetting("organizations", blocked=int)),
        "test_every_aggregate_round_trips_intact",
    ),
    (
        "reopen normalizes Decimals",
        lossy(forgetting("credits", balance=Decimal.normalize)),
        "test_every_aggregate_round_trips_intact",
    ),
    (
        "reopen loses time zones",
        lossy(forgetting("users", created_at=lambda value: value.replace(tzinfo=None))),
        "test_every_aggregate_round_trips_intact",
    ),
    (
        "reopen stores enums as their values",
        lossy(forgetting("invoices", state=str)),
        "test_every_aggregate_round_trips_intact",
    ),
    (
        "reopen thaws JSON into dicts",
        lossy(forgetting("invoice_items", details=dict)),
        "test_every_aggregate_round_trips_intact",
    ),
    (
        "reopen loses the outbox",
        ForgetsEvents,
        "test_events_come_back_from_the_outbox_intact",
    ),
]


def failures_of(contract: type[StorageContract], test_name: str) -> list[str]:
    result = unittest.TestResult()
    contract(test_name).run(result)
    return [trace for _, trace in result.failures + result.errors]


@pytest.mark.parametrize(
    ("contract", "test_name"),
    [(contract, test_name) for _, contract, test_name in BROKEN],
    ids=[label for label, _, _ in BROKEN],
)
def test_the_contract_fails_adapters_that_break_it(
    contract: type[StorageContract], test_name: str
) -> None:
    assert failures_of(contract, test_name), "the broken adapter passed"
    assert failures_of(TestInMemoryStorage, test_name) == []


# --------------------------------------------------------------------------- the suite's own guards


def contract_with(aggregates: dict[str, AggregateSpec]) -> type[StorageContract]:
    class Partial(StorageContract):
        __test__ = False

        def make_storage(self) -> InMemoryStorage:
            return InMemoryStorage()

    Partial.aggregates = aggregates
    return Partial


def test_the_suite_fails_when_a_repository_has_no_samples() -> None:
    aggregates = dict(AGGREGATES)
    del aggregates["deny_rules"]
    failures = failures_of(
        contract_with(aggregates), "test_the_suite_covers_every_repository_of_the_unit_of_work"
    )
    assert failures
    assert "deny_rules" in failures[0]


def test_the_suite_fails_when_a_query_method_is_not_exercised() -> None:
    aggregates = dict(AGGREGATES)
    usage = aggregates["usage_reports"]
    aggregates["usage_reports"] = attrs.evolve(
        usage, queries=tuple(q for q in usage.queries if q.method != "latest")
    )
    failures = failures_of(
        contract_with(aggregates), "test_the_suite_covers_every_method_of_every_repository_protocol"
    )
    assert failures
    assert "latest" in failures[0]


def test_the_suite_fails_when_no_sample_sets_a_field() -> None:
    aggregates = dict(AGGREGATES)
    orders = aggregates["orders"]
    aggregates["orders"] = attrs.evolve(
        orders, samples=tuple(attrs.evolve(order, claimed_by=None) for order in orders.samples)
    )
    failures = failures_of(contract_with(aggregates), "test_the_samples_set_every_optional_field")
    assert failures
    assert "Order.claimed_by" in failures[0]


def six_places(value: Decimal) -> Decimal:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        return value.quantize(Decimal("0.000001"))
    return value


def test_the_varied_round_trip_finds_what_the_fixed_samples_miss() -> None:
    # The credit samples have at most three decimal places, so only varied values catch an
    # adapter that keeps six.
    contract = lossy(forgetting("credits", balance=six_places))
    assert failures_of(contract, "test_every_aggregate_round_trips_intact") == []

    class OnlyCredits(contract):  # type: ignore[valid-type,misc]
        __test__ = False
        aggregates: ClassVar[dict[str, AggregateSpec]] = {"credits": AGGREGATES["credits"]}
        hypothesis_settings: ClassVar[dict[str, Any]] = {
            "max_examples": 100,
            "phases": [Phase.generate],  # a failure is enough, no need to shrink it
        }

    failures = failures_of(OnlyCredits, "test_varied_values_round_trip_intact")
    assert failures
    assert "balance" in failures[0]
