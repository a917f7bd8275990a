"""A Hypothesis state machine that proves a host's storage (and processors) against the
in-memory reference, command by command.

:class:`MarketplaceComparison` drives two marketplaces with the same random commands: the
*subject*, on the storage (and plugins) the host supplies, and the *reference*, on
:class:`~marketplace_core.adapters.memory.InMemoryStorage`. Both start from the same
catalogue, with the same clock and sequential ids, so every observable result must be the
same: what a command returns, or the error class and code it raises, and afterwards the
orders, resources, usage and invoices each side reports. The commands: orders on three plans
with a limit, plan switches, limit changes, provider reviews, cancellations, terminations,
usage reports (new and repeated keys), the due jobs, billing runs and clock moves. Every step calls
:func:`hypothesis.note`, so a failure reads as a script of facade calls.

A host subclasses it and says how to open a new, empty storage::

    class MyStorageComparison(MarketplaceComparison):
        def make_storage(self) -> Storage:
            return MyStorage.open_empty()

    TestMyStorage = MyStorageComparison.TestCase

``make_plugins`` (a new registry per side) defaults to one instant processor.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from marketplace_core.adapters.memory import InMemoryStorage
from marketplace_core.billing.calendar import month_of
from marketplace_core.clocks import FixedClock
from marketplace_core.errors import MarketplaceError
from marketplace_core.ids import SequentialIdGenerator
from marketplace_core.marketplace import Marketplace
from marketplace_core.offerings import PlanUnit
from marketplace_core.plugins import PluginCapabilities, PluginRegistry
from marketplace_core.ports import Storage
from marketplace_core.testing.processors import InstantProcessor
from marketplace_core.testing.strategies.marketplaces import OrderingWorld, build_ordering_world

COMPARISON_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""When both clocks start."""

Outcome = tuple[str, Any]
"""What one side did: ``("ok", result)`` or ``("error", (class name, code))``."""


def _outcome(call: Callable[[], Any]) -> Outcome:
    try:
        return "ok", call()
    except MarketplaceError as error:
        return "error", (type(error).__name__, error.code)


@attrs.define
class _Side:
    market: Marketplace
    clock: FixedClock
    ids: dict[str, str] = attrs.field(factory=dict)


class MarketplaceComparison(RuleBasedStateMachine):
    """Random facade commands on a host's storage and on the in-memory reference, compared
    result by result (see the module's documentation). Subclasses implement
    :meth:`make_storage`; the project's tests run it on every shipped adapter."""

    def make_storage(self) -> Storage:
        """A new, empty storage of the kind under test."""
        raise NotImplementedError

    def make_plugins(self) -> PluginRegistry:
        """A new plugin registry for one side; both sides must behave alike (default: the
        ``instant`` plugin, which finishes every order at once)."""
        plugins = PluginRegistry()
        plugins.register(
            "instant",
            InstantProcessor(),
            PluginCapabilities(needs_provider_review=True, can_update_limits=True),
        )
        return plugins

    def __init__(self) -> None:
        super().__init__()
        self.storage = self.make_storage()
        self.subject = self._side(self.storage)
        self.reference = self._side(InMemoryStorage())
        self.orders: list[str] = []
        self.resources: list[str] = []
        self.keys: list[str] = []
        self.world, self.plans = self._both_setup()

    def teardown(self) -> None:
        """Close the storage under test, when it has a ``close``."""
        close = getattr(self.storage, "close", None)
        if close is not None:
            close()

    def _side(self, storage: Storage) -> _Side:
        clock = FixedClock(COMPARISON_START)
        market = Marketplace(
            storage, clock=clock, ids=SequentialIdGenerator(), plugins=self.make_plugins()
        )
        return _Side(market, clock)

    def _both_setup(self) -> tuple[OrderingWorld, dict[str, str]]:
        worlds = [self._set_up(side.market) for side in (self.subject, self.reference)]
        assert worlds[0] == worlds[1], f"the two catalogues differ: {worlds}"
        return worlds[0]

    @staticmethod
    def _set_up(market: Marketplace) -> tuple[OrderingWorld, dict[str, str]]:
        """The strategies' ordering world on the ``instant`` plugin, and a third plan billed
        by the day; returns the world and its plans by rule name."""
        staff_id = market.bootstrap_staff_user("root").id
        world = build_ordering_world(market, staff_id, "instant")
        daily = market.create_plan(
            staff_id,
            world.offering_id,
            "Daily",
            PlanUnit.DAY,
            prices={"storage": "0.001", "cpu": "0.25", "base": "0.4"},
        )
        return world, {"plan-0": world.plan_ids[0], "plan-1": world.plan_ids[1], "daily": daily.id}

    def both(self, name: str, *arguments: Any, **keywords: Any) -> Outcome:
        """Call facade method ``name`` on both sides; fail unless they agree."""
        note(f"market.{name}(*{arguments!r}, **{keywords!r})")
        outcomes = [
            _outcome(functools.partial(getattr(side.market, name), *arguments, **keywords))
            for side in (self.subject, self.reference)
        ]
        assert outcomes[0] == outcomes[1], (
            f"{name}: the storage under test gave {outcomes[0]!r}, the reference {outcomes[1]!r}"
        )
        kind, result = outcomes[1]
        event(f"{name}: {result[1] if kind == 'error' else 'ok'}")
        return outcomes[1]

    # ------------------------------------------------------------------ rules

    @rule(plan=st.sampled_from(["plan-0", "plan-1", "daily"]), storage=st.integers(1, 1000))
    def order(self, plan: str, storage: int) -> None:
        world = self.world
        kind, order = self.both(
            "order_resource",
            world.owner_id,
            world.project_id,
            world.offering_id,
            self.plans[plan],
            f"resource {len(self.orders)}",
            limits={"storage": storage},
        )
        if kind == "ok":
            self.orders.append(order.id)
            self.resources.append(order.resource_id)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), verdict=st.sampled_from(["approve", "reject", "cancel"]))
    def review(self, data: st.DataObject, verdict: str) -> None:
        order_id = data.draw(st.sampled_from(self.orders), label="order")
        world = self.world
        if verdict == "approve":
            self.both("approve_order_as_provider", world.provider_owner_id, order_id)
        elif verdict == "reject":
            self.both("reject_order", world.provider_owner_id, order_id)
        else:
            self.both("cancel_order", world.owner_id, order_id)

    @precondition(lambda self: self.resources)
    @rule(data=st.data())
    def terminate(self, data: st.DataObject) -> None:
        resource_id = data.draw(st.sampled_from(self.resources), label="resource")
        kind, order = self.both("order_termination", self.world.owner_id, resource_id)
        if kind == "ok":
            self.orders.append(order.id)

    @precondition(lambda self: self.resources)
    @rule(data=st.data(), plan=st.sampled_from(["plan-0", "plan-1", "daily"]))
    def switch_plan(self, data: st.DataObject, plan: str) -> None:
        resource_id = data.draw(st.sampled_from(self.resources), label="resource")
        kind, order = self.both(
            "order_plan_switch", self.world.owner_id, resource_id, self.plans[plan]
        )
        if kind == "ok":
            self.orders.append(order.id)

    @precondition(lambda self: self.resources)
    @rule(data=st.data(), storage=st.integers(1, 1000))
    def change_limits(self, data: st.DataObject, storage: int) -> None:
        resource_id = data.draw(st.sampled_from(self.resources), label="resource")
        kind, order = self.both(
            "order_limit_change", self.world.owner_id, resource_id, {"storage": storage}
        )
        if kind == "ok":
            self.orders.append(order.id)

    @precondition(lambda self: self.resources)
    @rule(
        data=st.data(),
        amount=st.decimals(min_value=0, max_value=10_000, places=2),
        repeat=st.booleans(),
    )
    def report_usage(self, data: st.DataObject, amount: Decimal, repeat: bool) -> None:
        resource_id = data.draw(st.sampled_from(self.resources), label="resource")
        if repeat and self.keys:
            key = data.draw(st.sampled_from(self.keys), label="repeated key")
        else:
            key = f"key-{len(self.keys)}"
            self.keys.append(key)
        self.both(
            "report_usage",
            self.world.provider_owner_id,
            resource_id,
            "cpu",
            amount,
            idempotency_key=key,
        )

    @rule(hours=st.integers(min_value=1, max_value=24 * 20))
    def wait(self, hours: int) -> None:
        note(f"both clocks advance {hours} hours")
        for side in (self.subject, self.reference):
            side.clock.advance(timedelta(hours=hours))

    @rule()
    def run_due_jobs(self) -> None:
        self.both("run_due_jobs")

    @rule()
    def run_billing(self) -> None:
        self.both("run_billing")

    # ------------------------------------------------------------------ what both report

    @invariant()
    def both_sides_report_the_same(self) -> None:
        world = self.world
        month = month_of(self.reference.clock.now())
        self.both("list_resources", world.project_id)
        for resource_id in self.resources:
            self.both("list_orders", resource_id)
            self.both("current_usage", resource_id, month)
        self.both("list_invoices", world.consumer_id)
