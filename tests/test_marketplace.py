"""The facade: every command checks its actor first, commits whole or not at all, and
delivers its events in commit order."""

from __future__ import annotations

import inspect

import pytest

from marketplace_core import EventLog, Marketplace, MarketplaceError, PermissionDeniedError
from marketplace_core.marketplace import _Command
from marketplace_core.services import catalogue
from tests.command_table import COMMANDS, QUERIES, WITHOUT_ACTOR, CommandCase
from tests.support import World, build_world, snapshot


def facade_methods() -> set[str]:
    return {name for name, value in vars(Marketplace).items() if isinstance(value, _Command)}


def test_the_command_table_covers_every_facade_method():
    assert facade_methods() == set(COMMANDS) | QUERIES | WITHOUT_ACTOR


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_allowed_actor_can_run_the_command(name: str):
    world = build_world()
    case: CommandCase = COMMANDS[name]
    prepared = case.prepare(world)
    before = len(world.events.events)
    case.run(world, getattr(world, case.allowed).id, prepared)
    assert len(world.events.events) > before, f"{name} emitted no event"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_an_actor_without_the_permission_is_refused_and_nothing_changes(name: str):
    world = build_world()
    case: CommandCase = COMMANDS[name]
    prepared = case.prepare(world)
    before = snapshot(world.storage)
    published = len(world.events.events)
    with pytest.raises(PermissionDeniedError):
        case.run(world, world.outsider.id, prepared)
    assert snapshot(world.storage) == before
    assert len(world.events.events) == published


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_takes_the_actor_first(name: str):
    parameters = list(inspect.signature(getattr(Marketplace(), name)).parameters)
    assert parameters[0] == "actor_id"


def test_a_command_method_reads_like_its_handler():
    method = Marketplace().create_offering
    assert method.__doc__ == catalogue.create_offering.__doc__
    assert method.__name__ == "create_offering"
    assert "ctx" not in inspect.signature(method).parameters


def test_command_methods_are_bound_to_their_own_marketplace():
    first, second = Marketplace(), Marketplace()
    first.bootstrap_staff_user("first")
    assert second.bootstrap_staff_user("second").username == "second"
    assert [e.event.username for e in first.events()] == ["first"]


def test_events_reach_the_sink_in_commit_order_with_increasing_positions(world: World):
    positions = [recorded.position for recorded in world.events.events]
    assert positions == list(range(1, len(positions) + 1))
    assert list(world.marketplace.events()) == world.events.events
    assert list(world.marketplace.events(after=3, limit=2)) == world.events.events[3:5]


def test_a_command_that_raises_publishes_nothing(world: World):
    published = list(world.events.events)
    with pytest.raises(MarketplaceError):
        world.marketplace.create_plan(world.provider_owner.id, world.offering.id, "X", "weekly")
    assert world.events.events == published


class BrokenSink:
    def publish(self, events) -> None:
        raise ConnectionError("the message bus is down")


def test_a_failing_sink_leaves_the_command_committed_and_its_events_in_the_outbox():
    market = Marketplace(event_sink=BrokenSink())
    with pytest.raises(ConnectionError):
        market.bootstrap_staff_user("root")
    (recorded,) = market.events()
    assert recorded.event.username == "root"
    assert market.list_organizations() == []


def test_each_command_reads_the_clock_once(world: World):
    start = len(world.events.events)
    world.marketplace.create_offering(world.provider_owner.id, world.provider.id, "X", "basic")
    offering = world.marketplace.list_offerings()[-1]
    (event,) = [r.event for r in world.events.events[start:]]
    assert event.occurred_at == offering.created_at == world.clock.now()


def test_default_marketplace_runs_on_memory_and_real_time():
    market = Marketplace(event_sink=EventLog())
    root = market.bootstrap_staff_user("root")
    assert root.created_at.tzinfo is not None
    assert len(root.id) == 32
