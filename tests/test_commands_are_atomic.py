"""Laws for every platform and catalogue command, driven by Hypothesis with random actors and
half-wrong arguments (the order commands have their own machine in ``test_order_machine``):

* a command that raises leaves storage exactly as it was, and publishes nothing;
* whatever the input, a command either succeeds or raises a ``MarketplaceError`` (no crash);
* storage changes exactly when the command emits events (every change is announced).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from marketplace_core import (
    BillingType,
    LimitedTo,
    LimitPeriod,
    MarketplaceError,
    OfferingComponent,
    OfferingOptions,
    PlanUnit,
    PrivateToOrganization,
    PrivateToProject,
    Role,
    Shared,
)
from tests.command_table import (
    BILLING_COMMANDS,
    BILLING_QUERIES,
    COMMANDS,
    ORDER_COMMANDS,
    ORDER_QUERIES,
    POLICY_COMMANDS,
    POLICY_QUERIES,
    QUERIES,
)
from tests.support import World, build_world, snapshot

MISSING = "missing-404"

names = st.sampled_from(["Name", "Other name", "", "   ", "x" * 300, 7, None])
dates = st.sampled_from(
    [None, date(2026, 1, 1), date(2026, 12, 31), datetime(2026, 1, 1, tzinfo=UTC)]
)
flags = st.sampled_from([True, False, 1, None])
amounts = st.sampled_from([Decimal("1.5"), 2, "3", "0", 0.5, "-1", "NaN", "abc", None])
prices = st.dictionaries(
    st.sampled_from(["cpu", "storage", "setup", "gpu", 7]), amounts, max_size=3
)
components = st.builds(
    OfferingComponent,
    type=st.sampled_from(["cpu", "gpu", "ram", "bad type!", ""]),
    name=st.sampled_from(["GPU", ""]),
    billing_type=st.sampled_from([*BillingType, "usage"]),
    limit_period=st.sampled_from([None, LimitPeriod.MONTH, "month"]),
    limit_amount=st.sampled_from([None, 10, -1]),
    min_value=st.sampled_from([None, 0, 5]),
    max_value=st.sampled_from([None, 1, 10]),
    is_boolean=st.booleans(),
    factor=st.sampled_from([1, 1024, 0]),
)


def call(
    *positional: st.SearchStrategy[Any], **keywords: st.SearchStrategy[Any]
) -> st.SearchStrategy[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Positional arguments, and keyword arguments that may each be left out."""
    return st.tuples(st.tuples(*positional), st.fixed_dictionaries({}, optional=keywords))


CATALOGUE_COMMANDS = frozenset(COMMANDS) - ORDER_COMMANDS - BILLING_COMMANDS - POLICY_COMMANDS
CATALOGUE_QUERIES = QUERIES - ORDER_QUERIES - BILLING_QUERIES - POLICY_QUERIES


class CommandsAreAtomic(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world: World = build_world()

    def ids(self, kind: str) -> st.SearchStrategy[str]:
        w = self.world
        pools = {
            "user": [
                u.id for u in (w.staff, w.owner, w.project_manager, w.provider_owner, w.outsider)
            ],
            "organization": [w.consumer.id, w.provider.id],
            "project": [w.project.id],
            "offering": [o.id for o in w.marketplace.list_offerings()],
            "plan": [
                p.id for o in w.marketplace.list_offerings() for p in w.marketplace.list_plans(o.id)
            ],
        }
        return st.sampled_from([*pools[kind], MISSING])

    def visibilities(self) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.just(Shared()),
            self.ids("organization").map(lambda o: LimitedTo(organization_ids=frozenset({o}))),
            self.ids("organization").map(PrivateToOrganization),
            self.ids("project").map(PrivateToProject),
            st.just("public"),
        )

    def arguments(self, name: str) -> st.SearchStrategy[tuple[tuple[Any, ...], dict[str, Any]]]:
        ids = self.ids
        table = {
            "create_user": call(names, is_staff=flags),
            "set_user_staff": call(ids("user"), flags),
            "grant_role": call(
                ids("user"),
                st.sampled_from([*Role, "bogus"]),
                st.one_of(ids("organization"), ids("project"), ids("offering")),
            ),
            "revoke_role": call(st.sampled_from(["grant-1", "grant-3", MISSING])),
            "create_organization_group": call(names),
            "create_organization": call(names, group_id=st.sampled_from([None, MISSING])),
            "rename_organization": call(ids("organization"), names),
            "set_organization_group": call(ids("organization"), st.sampled_from([None, MISSING])),
            "block_organization": call(ids("organization")),
            "unblock_organization": call(ids("organization")),
            "archive_organization": call(ids("organization")),
            "create_project": call(
                ids("organization"), names, start_date=dates, end_date=dates, auto_approve=flags
            ),
            "update_project": call(
                ids("project"), name=names, start_date=dates, end_date=dates, auto_approve=flags
            ),
            "register_provider": call(ids("organization")),
            "create_category": call(names),
            "create_offering": call(
                ids("organization"),
                names,
                st.sampled_from(["basic", "cloud", "unknown", ""]),
                components=st.lists(components, max_size=2),
                visibility=self.visibilities(),
                options=st.sampled_from([None, OfferingOptions(), "fast"]),
            ),
            "update_offering": call(
                ids("offering"),
                name=names,
                description=names,
                visibility=self.visibilities(),
                category_id=st.sampled_from([None, "category-1", MISSING]),
            ),
            "activate_offering": call(ids("offering")),
            "pause_offering": call(ids("offering")),
            "resume_offering": call(ids("offering")),
            "archive_offering": call(ids("offering")),
            "add_offering_component": call(ids("offering"), components),
            "update_offering_component": call(ids("offering"), components),
            "remove_offering_component": call(
                ids("offering"), st.sampled_from(["cpu", "storage", "ram", "gpu"])
            ),
            "create_plan": call(
                ids("offering"),
                names,
                st.sampled_from([*PlanUnit, "weekly"]),
                prices=prices,
                amounts=st.dictionaries(
                    st.sampled_from(["base", "cpu"]), st.sampled_from([0, 3, -1, "2"]), max_size=1
                ),
                max_amount=st.sampled_from([None, 1, 0]),
            ),
            "update_plan": call(ids("plan"), name=names, max_amount=st.sampled_from([None, 2, 0])),
            "archive_plan": call(ids("plan")),
            "set_plan_prices": call(ids("plan"), prices),
            "schedule_plan_prices": call(ids("plan"), prices),
        }
        return table[name]

    @rule(data=st.data(), name=st.sampled_from(sorted(CATALOGUE_COMMANDS)))
    def run_a_command(self, data: st.DataObject, name: str) -> None:
        actor = data.draw(self.ids("user"), label="actor")
        args, kwargs = data.draw(self.arguments(name), label="arguments")
        before = snapshot(self.world.storage)
        published = len(self.world.events.events)
        note(f"{name}({actor!r}, *{args!r}, **{kwargs!r})")
        try:
            getattr(self.world.marketplace, name)(actor, *args, **kwargs)
        except MarketplaceError as error:
            note(f"  -> {error!r}")
            event(f"{name} refused ({error.code})")
            assert snapshot(self.world.storage) == before
            assert len(self.world.events.events) == published
            return
        event(f"{name} ran")
        after = snapshot(self.world.storage)
        changed = {key for key in before if key != "outbox" and before[key] != after[key]}
        emitted = len(self.world.events.events) - published
        note(f"  -> ok, changed {sorted(changed)}, {emitted} event(s)")
        assert bool(changed) == bool(emitted)

    def query_arguments(self, name: str) -> st.SearchStrategy[tuple[Any, ...]]:
        ids = self.ids
        table: dict[str, st.SearchStrategy[tuple[Any, ...]]] = {
            "get_user": st.tuples(ids("user")),
            "list_role_grants": st.tuples(ids("user")),
            "get_organization_group": st.tuples(st.sampled_from(["group-1", MISSING])),
            "get_organization": st.tuples(ids("organization")),
            "list_organizations": st.just(()),
            "get_project": st.tuples(ids("project")),
            "list_projects": st.tuples(ids("organization")),
            "get_category": st.tuples(st.sampled_from(["category-1", MISSING])),
            "list_categories": st.just(()),
            "get_offering": st.tuples(ids("offering")),
            "list_offerings": st.tuples(st.one_of(st.none(), ids("organization"))),
            "get_plan": st.tuples(ids("plan")),
            "list_plans": st.tuples(ids("offering")),
            "list_orderable_offerings": st.tuples(ids("project")),
        }
        return table[name]

    @rule(data=st.data(), name=st.sampled_from(sorted(CATALOGUE_QUERIES)))
    def run_a_query(self, data: st.DataObject, name: str) -> None:
        args = data.draw(self.query_arguments(name), label="arguments")
        before = snapshot(self.world.storage)
        note(f"{name}(*{args!r})")
        try:
            getattr(self.world.marketplace, name)(*args)
        except MarketplaceError as error:
            note(f"  -> {error!r}")
        assert snapshot(self.world.storage) == before

    @invariant()
    def outbox_positions_are_consecutive(self) -> None:
        positions = [r.position for r in self.world.marketplace.events()]
        assert positions == list(range(1, len(positions) + 1))


CommandsAreAtomic.TestCase.settings = settings(
    CommandsAreAtomic.TestCase.settings, max_examples=60, stateful_step_count=25
)
test_commands_are_atomic = CommandsAreAtomic.TestCase
