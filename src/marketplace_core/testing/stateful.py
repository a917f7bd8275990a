"""A Hypothesis state machine that proves a host's storage (and processors) against the
in-memory reference, command by command.

:class:`MarketplaceComparison` drives two marketplaces with the same random commands, each
acted by a user drawn from a cast with different roles: the *subject*, on the storage (and
plugins) the host supplies, and the *reference*, on
:class:`~marketplace_core.adapters.memory.InMemoryStorage`. Both start from the same world,
with the same clock and sequential ids, so every observable result must be the same: what a
command returns, or the error class and code it raises, and afterwards the orders, resources,
usage, invoices, policies (with their firing state), quotas, deny rules and role grants each
side reports.

The commands: orders on three plans with a limit, consumer and provider approvals,
rejections, cancellations, terminations, plan switches, limit changes, the backend's late
answers and retries, usage reports (new and repeated keys), role grants and revocations,
policies, quotas and deny rules, the due jobs, billing runs and clock moves. The cast
(:data:`ACTORS`) holds staff, the consumer's owner, a project manager, a project admin, a
project member, a user without any role and the provider's owner, so permission refusals,
orders that wait for the consumer and orders refused by a policy, a quota or a deny rule are
all compared. Every step calls :func:`hypothesis.note`, so a failure reads as a script of
facade calls, and :meth:`MarketplaceComparison.reach` (by default :func:`hypothesis.event`)
names what each command reached.

A host subclasses it and says how to open a new, empty storage::

    class MyStorageComparison(MarketplaceComparison):
        def make_storage(self) -> Storage:
            return MyStorage.open_empty()

    TestMyStorage = MyStorageComparison.TestCase

``make_plugins`` (a new registry per side) defaults to one instant processor registered as
:attr:`MarketplaceComparison.plugin_type`; a host overrides both to run its own processors.
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
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from marketplace_core.adapters.memory import InMemoryStorage
from marketplace_core.billing.calendar import month_of
from marketplace_core.clocks import FixedClock
from marketplace_core.errors import MarketplaceError
from marketplace_core.ids import SequentialIdGenerator
from marketplace_core.marketplace import Marketplace
from marketplace_core.offerings import PlanUnit
from marketplace_core.orders import Order, OrderState, OrderType
from marketplace_core.plugins import PluginCapabilities, PluginRegistry
from marketplace_core.policies import (
    ActionKind,
    ActionType,
    PolicyAction,
    PolicyMetric,
    PolicyPeriod,
)
from marketplace_core.ports import Storage
from marketplace_core.quotas import DenyTarget, QuotaKind
from marketplace_core.roles import Role, ScopeKind
from marketplace_core.testing.processors import InstantProcessor
from marketplace_core.testing.strategies.marketplaces import (
    SPEC_POLICY_ACTION,
    OrderingWorld,
    RecordingPolicyAction,
    build_ordering_world,
)
from marketplace_core.testing.strategies.policy import PolicySpec, policy_actions

COMPARISON_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""When both clocks start."""

ACTORS = ("staff", "owner", "manager", "admin", "member", "stranger", "provider")
"""Who acts: staff; the consumer organization's owner; a manager, an admin and a member of
its project; a user without any role; and the provider organization's owner."""

PLANS = ("plan-0", "plan-1", "daily")
"""The plans orders name: the ordering world's two monthly plans and one billed by day."""

Outcome = tuple[str, Any]
"""What one side did: ``("ok", result)`` or ``("error", (class name, code))``."""


def _outcome(call: Callable[[], Any]) -> Outcome:
    try:
        return "ok", call()
    except MarketplaceError as error:
        return "error", (type(error).__name__, error.code)


def _actor(preferred: str) -> st.SearchStrategy[str]:
    """An actor from :data:`ACTORS`, ``preferred`` (who may do it) half of the time."""
    return st.one_of(st.just(preferred), st.sampled_from(ACTORS))


_SCOPES = st.sampled_from([ScopeKind.PROJECT, ScopeKind.ORGANIZATION, ScopeKind.OFFERING])
_POLICY_AUTHORS = {
    ScopeKind.PROJECT: "owner",
    ScopeKind.ORGANIZATION: "staff",
    ScopeKind.OFFERING: "provider",
}


@st.composite
def _policies(draw: st.DrawFn) -> PolicySpec:
    """A policy with limits this machine's costs and usage cross: one action blocks new
    resources or changes, and another may be any action its scope allows."""
    scope_kind = draw(_SCOPES)
    metric = draw(st.sampled_from(PolicyMetric))
    blocks = st.builds(
        PolicyAction,
        st.sampled_from([ActionKind.BLOCK_CREATION, ActionKind.BLOCK_MODIFICATION]),
        st.sampled_from(ActionType),
    )
    actions = [draw(blocks), *draw(st.lists(policy_actions(scope_kind), max_size=1))]
    limit: Decimal | None = None
    component_limits: tuple[tuple[str, Decimal], ...] = ()
    if metric is PolicyMetric.ESTIMATED_COST:
        limit = Decimal(draw(st.integers(1, 60)))
    else:
        component_limits = (("cpu", Decimal(draw(st.integers(1, 5000)))),)
    return PolicySpec(
        scope_kind,
        metric,
        draw(st.sampled_from(PolicyPeriod)),
        tuple(actions),
        limit,
        component_limits,
    )


_QUOTAS = st.one_of(
    st.tuples(st.just(QuotaKind.LIVE_RESOURCES), st.integers(-1, 4), st.just("")),
    st.tuples(st.just(QuotaKind.MONTHLY_COST), st.integers(-1, 150), st.just("")),
    st.tuples(st.just(QuotaKind.COMPONENT_LIMIT), st.integers(-1, 2000), st.just("storage")),
)
"""``(kind, limit, component)`` of a quota that orders reach; ``-1`` is unlimited."""

_GRANTABLE = st.sampled_from(
    [Role.PROJECT_MANAGER, Role.PROJECT_ADMIN, Role.PROJECT_MEMBER, Role.ORGANIZATION_MANAGER]
)

_BACKEND_CALLBACKS = {
    OrderType.CREATE: "resource_creation",
    OrderType.UPDATE: "resource_update",
    OrderType.TERMINATE: "resource_deletion",
}


@attrs.frozen
class ComparisonWorld:
    """What both sides start from: the ordering world, its plans by name (:data:`PLANS`),
    the user id of each of :data:`ACTORS`, the offering's category and a category without
    offerings."""

    ordering: OrderingWorld
    plans: dict[str, str]
    actors: dict[str, str]
    category_id: str
    spare_category_id: str


@attrs.define
class _Side:
    market: Marketplace
    clock: FixedClock


class MarketplaceComparison(RuleBasedStateMachine):
    """Random facade commands by random actors on a host's storage and on the in-memory
    reference, compared result by result (see the module's documentation). Subclasses
    implement :meth:`make_storage`, and may override :meth:`make_plugins` (with
    :attr:`plugin_type`) to run their own processors; the project's tests run it on every
    shipped adapter."""

    plugin_type = "instant"
    """The plugin type the world's offering names; :meth:`make_plugins` must register it."""

    def make_storage(self) -> Storage:
        """A new, empty storage of the kind under test."""
        raise NotImplementedError

    def make_plugins(self) -> PluginRegistry:
        """A new plugin registry for one side; both sides' registries must behave alike.

        It must register :attr:`plugin_type` (with ``can_update_limits``) and, for the
        policies' custom actions, :data:`~marketplace_core.testing.strategies.SPEC_POLICY_ACTION`
        (without it, such policies are refused on both sides alike). The default registers
        an instant processor that needs provider review and finishes every order at once.
        """
        plugins = PluginRegistry()
        plugins.register(
            self.plugin_type,
            InstantProcessor(),
            PluginCapabilities(needs_provider_review=True, can_update_limits=True),
        )
        plugins.register_policy_action(SPEC_POLICY_ACTION, RecordingPolicyAction())
        return plugins

    def reach(self, label: str) -> None:
        """Record what a command reached (``"order_resource as admin: pending-consumer"``,
        ``"set_quota as owner: permission_denied"``); by default a Hypothesis
        :func:`~hypothesis.event`. Tests override it to count what a run covers."""
        event(label)

    def __init__(self) -> None:
        super().__init__()
        self.storage = self.make_storage()
        self.subject = self._side(self.storage)
        self.reference = self._side(InMemoryStorage())
        self.orders: list[str] = []
        self.resources: list[str] = []
        self.keys: list[str] = []
        self.policies: list[str] = []
        self.deny_rules: list[str] = []
        self.grants: list[str] = []
        self.known_orders: list[Order] = []
        self.world = self._both_setup()

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

    def _both_setup(self) -> ComparisonWorld:
        worlds = [self._set_up(side.market) for side in (self.subject, self.reference)]
        assert worlds[0] == worlds[1], f"the two worlds differ: {worlds}"
        return worlds[0]

    def _set_up(self, market: Marketplace) -> ComparisonWorld:
        """The strategies' ordering world on :attr:`plugin_type`, a third plan billed by the
        day, the rest of the cast (a project manager, a project member and a user without
        any role) and a spare category."""
        staff_id = market.bootstrap_staff_user("root").id
        world = build_ordering_world(market, staff_id, self.plugin_type)
        daily = market.create_plan(
            staff_id,
            world.offering_id,
            "Daily",
            PlanUnit.DAY,
            prices={"storage": "0.001", "cpu": "0.25", "base": "0.4"},
        )
        cast = {}
        for name, role in (("manager", Role.PROJECT_MANAGER), ("member", Role.PROJECT_MEMBER)):
            cast[name] = market.create_user(staff_id, f"comparison-{name}").id
            market.grant_role(staff_id, cast[name], role, world.project_id)
        cast["stranger"] = market.create_user(staff_id, "comparison-stranger").id
        actors = {
            "staff": staff_id,
            "owner": world.owner_id,
            "admin": world.admin_id,
            "provider": world.provider_owner_id,
            **cast,
        }
        plans = {"plan-0": world.plan_ids[0], "plan-1": world.plan_ids[1], "daily": daily.id}
        category_id = market.get_offering(world.offering_id).category_id or ""
        spare = market.create_category(staff_id, "Comparison spare")
        return ComparisonWorld(world, plans, actors, category_id, spare.id)

    # ------------------------------------------------------------------ comparing

    def _compare(self, name: str, arguments: tuple[Any, ...], keywords: dict[str, Any]) -> Outcome:
        outcomes = [
            _outcome(functools.partial(getattr(side.market, name), *arguments, **keywords))
            for side in (self.subject, self.reference)
        ]
        assert outcomes[0] == outcomes[1], (
            f"{name}: the storage under test gave {outcomes[0]!r}, the reference {outcomes[1]!r}"
        )
        return outcomes[1]

    def both(self, name: str, *arguments: Any, **keywords: Any) -> Outcome:
        """Call facade method ``name`` on both sides; fail unless they agree."""
        note(f"market.{name}(*{arguments!r}, **{keywords!r})")
        kind, result = outcome = self._compare(name, arguments, keywords)
        self.reach(f"{name}: {result[1] if kind == 'error' else 'ok'}")
        return outcome

    def act(self, actor: str, name: str, *arguments: Any, **keywords: Any) -> Outcome:
        """Call facade command ``name`` on both sides as ``actor`` (one of :data:`ACTORS`);
        fail unless they agree."""
        actor_id = self.world.actors[actor]
        note(f"market.{name}({actor_id!r}, *{arguments!r}, **{keywords!r})  # as {actor}")
        kind, result = outcome = self._compare(name, (actor_id, *arguments), keywords)
        if kind == "error":
            reached = str(result[1])
        else:
            reached = f"ok, {result.state}" if isinstance(result, Order) else "ok"
        self.reach(f"{name} as {actor}: {reached}")
        return outcome

    def _pick_order(self, data: st.DataObject, state: OrderState) -> str:
        """An order the reference has in ``state`` when there is one, else any order."""
        waiting = sorted(order.id for order in self._reference_orders(state))
        return data.draw(st.sampled_from(waiting or self.orders), label="order")

    def _reference_orders(self, state: OrderState) -> list[Order]:
        """The reference's orders in ``state`` when the invariant last looked (to pick an
        order a command can act on)."""
        return [order for order in self.known_orders if order.state is state]

    def _scope_id(self, scope_kind: ScopeKind) -> str:
        ordering = self.world.ordering
        return {
            ScopeKind.PROJECT: ordering.project_id,
            ScopeKind.ORGANIZATION: ordering.consumer_id,
            ScopeKind.OFFERING: ordering.offering_id,
        }[scope_kind]

    def _placed(self, outcome: Outcome) -> None:
        kind, order = outcome
        if kind == "ok":
            self.orders.append(order.id)

    # ------------------------------------------------------------------ orders

    @initialize(plan=st.sampled_from(PLANS), storage=st.integers(1, 1000))
    def start_with_a_resource(self, plan: str, storage: int) -> None:
        """Every run starts with one resource ordered by the owner and approved by the
        provider, so policies, quotas and usage have something to act on from the start."""
        self.order("owner", plan, storage)
        if self.orders:
            self.act("provider", "approve_order_as_provider", self.orders[-1])

    @rule(actor=_actor("owner"), plan=st.sampled_from(PLANS), storage=st.integers(1, 1000))
    def order(self, actor: str, plan: str, storage: int) -> None:
        """Order a resource on a plan with a ``storage`` limit."""
        ordering = self.world.ordering
        kind, order = self.act(
            actor,
            "order_resource",
            ordering.project_id,
            ordering.offering_id,
            self.world.plans[plan],
            f"resource {len(self.orders)}",
            limits={"storage": storage},
        )
        if kind == "ok":
            self.orders.append(order.id)
            self.resources.append(order.resource_id)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), actor=_actor("owner"))
    def approve_as_consumer(self, data: st.DataObject, actor: str) -> None:
        """Approve an order for the consumer (one waiting for it, when there is one)."""
        order_id = self._pick_order(data, OrderState.PENDING_CONSUMER)
        self.act(actor, "approve_order_as_consumer", order_id)

    @precondition(lambda self: self.orders)
    @rule(
        data=st.data(),
        actor=_actor("provider"),
        verdict=st.sampled_from(["approve", "reject", "cancel"]),
    )
    def review(self, data: st.DataObject, actor: str, verdict: str) -> None:
        """Approve, reject or cancel an order (one waiting for the provider, when there is one)."""
        order_id = self._pick_order(data, OrderState.PENDING_PROVIDER)
        command = {
            "approve": "approve_order_as_provider",
            "reject": "reject_order",
            "cancel": "cancel_order",
        }[verdict]
        self.act(actor, command, order_id)

    @precondition(lambda self: self.resources)
    @rule(data=st.data(), actor=_actor("owner"))
    def terminate(self, data: st.DataObject, actor: str) -> None:
        """Order the termination of a resource."""
        resource_id = data.draw(st.sampled_from(self.resources), label="resource")
        self._placed(self.act(actor, "order_termination", resource_id))

    @precondition(lambda self: self.resources)
    @rule(data=st.data(), actor=_actor("owner"), plan=st.sampled_from(PLANS))
    def switch_plan(self, data: st.DataObject, actor: str, plan: str) -> None:
        """Order a resource onto another plan."""
        resource_id = data.draw(st.sampled_from(self.resources), label="resource")
        self._placed(self.act(actor, "order_plan_switch", resource_id, self.world.plans[plan]))

    @precondition(lambda self: self.resources)
    @rule(data=st.data(), actor=_actor("owner"), storage=st.integers(1, 1000))
    def change_limits(self, data: st.DataObject, actor: str, storage: int) -> None:
        """Order a new ``storage`` limit for a resource."""
        resource_id = data.draw(st.sampled_from(self.resources), label="resource")
        self._placed(self.act(actor, "order_limit_change", resource_id, {"storage": storage}))

    @precondition(lambda self: self._reference_orders(OrderState.EXECUTING))
    @rule(
        data=st.data(),
        actor=_actor("provider"),
        answer=st.sampled_from(["succeeded", "failed", "canceled"]),
    )
    def backend_answers(self, data: st.DataObject, actor: str, answer: str) -> None:
        """The backend reports on an order its processor left executing."""
        executing = {o.id: o for o in self._reference_orders(OrderState.EXECUTING)}
        order = executing[data.draw(st.sampled_from(sorted(executing)), label="order")]
        message = ("the backend failed",) if answer == "failed" else ()
        command = f"{_BACKEND_CALLBACKS[order.type]}_{answer}"
        self.act(actor, command, order.resource_id, *message, order_id=order.id)

    @precondition(lambda self: self._reference_orders(OrderState.ERRED))
    @rule(data=st.data(), actor=_actor("provider"))
    def retry(self, data: st.DataObject, actor: str) -> None:
        """Send an erred order back to its processor."""
        erred = sorted(order.id for order in self._reference_orders(OrderState.ERRED))
        self.act(actor, "retry_order", data.draw(st.sampled_from(erred), label="order"))

    # ------------------------------------------------------------------ usage and roles

    @precondition(lambda self: self.resources)
    @rule(
        data=st.data(),
        actor=_actor("provider"),
        amount=st.decimals(min_value=0, max_value=10_000, places=2),
        repeat=st.booleans(),
    )
    def report_usage(self, data: st.DataObject, actor: str, amount: Decimal, repeat: bool) -> None:
        """Report ``cpu`` usage of a resource, under a new or an earlier idempotency key."""
        resource_id = data.draw(st.sampled_from(self.resources), label="resource")
        if repeat and self.keys:
            key = data.draw(st.sampled_from(self.keys), label="repeated key")
        else:
            key = f"key-{len(self.keys)}"
            self.keys.append(key)
        self.act(actor, "report_usage", resource_id, "cpu", amount, idempotency_key=key)

    @rule(
        actor=_actor("owner"),
        user=st.sampled_from(ACTORS[1:]),
        role=_GRANTABLE,
    )
    def grant_role(self, actor: str, user: str, role: Role) -> None:
        """Grant a project role, or organization manager, to a member of the cast."""
        ordering = self.world.ordering
        scope_id = (
            ordering.project_id if role.scope_kind is ScopeKind.PROJECT else ordering.consumer_id
        )
        kind, grant = self.act(actor, "grant_role", self.world.actors[user], role, scope_id)
        if kind == "ok":
            self.grants.append(grant.id)

    @precondition(lambda self: self.grants)
    @rule(data=st.data(), actor=_actor("owner"))
    def revoke_role(self, data: st.DataObject, actor: str) -> None:
        """Take back a role granted during the run."""
        grant_id = data.draw(st.sampled_from(self.grants), label="grant")
        if self.act(actor, "revoke_role", grant_id)[0] == "ok":
            self.grants.remove(grant_id)

    # ------------------------------------------------------------------ policies and quotas

    @rule(data=st.data(), spec=_policies())
    def create_policy(self, data: st.DataObject, spec: PolicySpec) -> None:
        """Attach a policy to the project, the consumer organization or the offering."""
        actor = data.draw(_actor(_POLICY_AUTHORS[spec.scope_kind]), label="actor")
        kind, policy = self.act(
            actor,
            "create_policy",
            spec.scope_kind,
            self._scope_id(spec.scope_kind),
            spec.metric,
            spec.period,
            spec.actions,
            limit=spec.limit,
            component_limits=dict(spec.component_limits) or None,
        )
        if kind == "ok":
            self.policies.append(policy.id)

    @precondition(lambda self: self.policies)
    @rule(data=st.data(), actor=_actor("owner"))
    def delete_policy(self, data: st.DataObject, actor: str) -> None:
        """Remove a policy created during the run."""
        policy_id = data.draw(st.sampled_from(self.policies), label="policy")
        if self.act(actor, "delete_policy", policy_id)[0] == "ok":
            self.policies.remove(policy_id)

    @rule(actor=_actor("staff"), scope_kind=_SCOPES, quota=_QUOTAS)
    def set_quota(
        self, actor: str, scope_kind: ScopeKind, quota: tuple[QuotaKind, int, str]
    ) -> None:
        """Set a quota on the project, the consumer organization or the offering."""
        kind, limit, component = quota
        self.act(
            actor,
            "set_quota",
            scope_kind,
            self._scope_id(scope_kind),
            kind,
            Decimal(limit),
            component=component,
        )

    @precondition(lambda self: len(self.deny_rules) < 2)
    @rule(
        actor=_actor("staff"),
        subject=st.sampled_from([ScopeKind.PROJECT, ScopeKind.ORGANIZATION]),
        barred=st.sampled_from(["offering", "category", "spare category"]),
    )
    def add_deny_rule(self, actor: str, subject: ScopeKind, barred: str) -> None:
        """Bar the project or its organization from the offering, its category, or a
        category the offering is not in (a rule that bars nothing ordered here)."""
        target, target_id = {
            "offering": (DenyTarget.OFFERING, self.world.ordering.offering_id),
            "category": (DenyTarget.CATEGORY, self.world.category_id),
            "spare category": (DenyTarget.CATEGORY, self.world.spare_category_id),
        }[barred]
        kind, deny_rule = self.act(
            actor, "add_deny_rule", subject, self._scope_id(subject), target, target_id
        )
        if kind == "ok" and deny_rule.id not in self.deny_rules:
            self.deny_rules.append(deny_rule.id)

    @precondition(lambda self: self.deny_rules)
    @rule(data=st.data(), actor=_actor("staff"))
    def remove_deny_rule(self, data: st.DataObject, actor: str) -> None:
        """Lift a deny rule added during the run."""
        rule_id = data.draw(st.sampled_from(self.deny_rules), label="deny rule")
        if self.act(actor, "remove_deny_rule", rule_id)[0] == "ok":
            self.deny_rules.remove(rule_id)

    # ------------------------------------------------------------------ the system

    @rule(hours=st.integers(min_value=1, max_value=24 * 20))
    def wait(self, hours: int) -> None:
        """Move both clocks forward."""
        note(f"both clocks advance {hours} hours")
        for side in (self.subject, self.reference):
            side.clock.advance(timedelta(hours=hours))

    @rule()
    def run_due_jobs(self) -> None:
        """Run the daily jobs."""
        self.both("run_due_jobs")

    @rule()
    def run_billing(self) -> None:
        """Run the monthly billing."""
        self.both("run_billing")

    # ------------------------------------------------------------------ what both report

    @invariant()
    def both_sides_report_the_same(self) -> None:
        """Both sides report the same state, query by query."""
        ordering = self.world.ordering
        month = month_of(self.reference.clock.now())
        queries: list[tuple[str, tuple[Any, ...]]] = [
            ("list_resources", (ordering.project_id,)),
            ("list_invoices", (ordering.consumer_id,)),
        ]
        for resource_id in self.resources:
            queries += [("list_orders", (resource_id,)), ("current_usage", (resource_id, month))]
        for scope_kind in (ScopeKind.PROJECT, ScopeKind.ORGANIZATION, ScopeKind.OFFERING):
            scope = (scope_kind, self._scope_id(scope_kind))
            queries += [("list_policies", scope), ("list_quotas", scope)]
        for subject in (ScopeKind.PROJECT, ScopeKind.ORGANIZATION):
            queries.append(("list_deny_rules", (subject, self._scope_id(subject))))
        for actor in ACTORS[1:]:
            queries.append(("list_role_grants", (self.world.actors[actor],)))
        known: list[Order] = []
        for name, arguments in queries:
            kind, result = self._compare(name, arguments, {})
            if name == "list_orders" and kind == "ok":
                known += result
        self.known_orders = known
