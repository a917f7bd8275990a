"""Approval routing (DESIGN §5): which reviews an order needs, where it goes after each, and
how every review is recorded.

The rules in :mod:`marketplace_core.approvals` are pure; they are checked first against
plain decision tables, then through the facade against a reference written in the words of
the design, for random worlds.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from marketplace_core import (
    LimitedTo,
    Offering,
    OfferingOptions,
    OrderState,
    OrderType,
    PermissionDeniedError,
    PlanUnit,
    PluginCapabilities,
    PrivateToOrganization,
    PrivateToProject,
    Project,
    Review,
    Role,
    Shared,
    User,
)
from marketplace_core.approvals import (
    APPROVAL_TABLES,
    CONSUMER_REVIEW,
    NEEDED,
    NEXT_STEP,
    PROVIDER_REVIEW,
    SKIPPED,
    ApprovalFact,
    ApprovalRow,
    ApprovalTable,
    LazyFacts,
    May,
    approval_tables,
    consumer_review_facts,
    consumer_review_row,
    needs_consumer_review,
    needs_provider_review,
    next_step,
    provider_review_row,
)
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.orders import OrderEvent
from marketplace_core.roles import Permission, Scope
from tests.support import CPU, START, World, build_world, snapshot

# --------------------------------------------------------------------------- pure values

NOW = datetime(2026, 1, 15, tzinfo=UTC)
CONSUMER = "org-consumer"
PROVIDER = "org-provider"
PROJECT = Project("project-1", CONSUMER, "Thesis", NOW)
AUTO_PROJECT = attrs.evolve(PROJECT, auto_approve=True)
ALICE = User("user-alice", "alice", NOW)
ROOT = User("user-root", "root", NOW, is_staff=True)

APPROVE = Permission.ORDER_APPROVE
APPROVE_PRIVATE = Permission.ORDER_APPROVE_PRIVATE
FULFIL = Permission.ORDER_FULFIL


def offering(
    visibility=None,
    *,
    provider: str = PROVIDER,
    auto_approve_in_sp: bool = False,
    needs_provider_review: bool | None = None,
) -> Offering:
    return Offering(
        id="offering-1",
        name="Cluster",
        provider_id=provider,
        plugin_type="basic",
        created_at=NOW,
        visibility=visibility or Shared(),
        options=OfferingOptions(
            auto_approve_in_service_provider_projects=auto_approve_in_sp,
            needs_provider_review=needs_provider_review,
        ),
    )


def may_from(*grants: tuple[Permission, str]) -> May:
    """A ``may`` that holds exactly ``grants`` (permission, scope id), and, like the real
    authorizer, lets a grant on an enclosing scope hold on the scopes inside it."""
    held = set(grants)

    def may(permission: Permission, scope: Scope) -> bool:
        return any((permission, enclosing.id) in held for enclosing in scope.chain())

    return may


SHARED = offering()
PRIVATE_TO_ORG = offering(PrivateToOrganization(CONSUMER))
PRIVATE_TO_PROJECT = offering(PrivateToProject(PROJECT.id))
OWN_SHARED_AUTO = offering(provider=CONSUMER, auto_approve_in_sp=True)
OWN_SHARED_MANUAL = offering(provider=CONSUMER, auto_approve_in_sp=False)
OTHER_SHARED_AUTO = offering(provider=PROVIDER, auto_approve_in_sp=True)
OWN_LIMITED_AUTO = offering(
    LimitedTo(organization_ids=frozenset({CONSUMER})), provider=CONSUMER, auto_approve_in_sp=True
)
OWN_PRIVATE_AUTO = offering(
    PrivateToOrganization(CONSUMER), provider=CONSUMER, auto_approve_in_sp=True
)

CREATE, TERMINATE = OrderType.CREATE, OrderType.TERMINATE


# --------------------------------------------------------------------------- consumer review


@pytest.mark.parametrize(
    ("order_type", "creator", "project", "offering_", "grants", "needed"),
    [
        pytest.param(CREATE, None, PROJECT, SHARED, (), False, id="the system placed it"),
        pytest.param(CREATE, ROOT, PROJECT, SHARED, (), False, id="staff"),
        pytest.param(CREATE, ALICE, AUTO_PROJECT, SHARED, (), False, id="project auto-approves"),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            PRIVATE_TO_ORG,
            [(APPROVE_PRIVATE, PROJECT.id)],
            False,
            id="private to the organization, creator approves private orders",
        ),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            PRIVATE_TO_PROJECT,
            [(APPROVE_PRIVATE, CONSUMER)],
            False,
            id="private to the project, creator approves private orders in the organization",
        ),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            PRIVATE_TO_ORG,
            [(APPROVE_PRIVATE, "project-2")],
            True,
            id="private, creator approves private orders only in another project",
        ),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            PRIVATE_TO_ORG,
            [(APPROVE, PROJECT.id)],
            False,
            id="private, creator may not approve private orders but approves orders",
        ),
        pytest.param(
            CREATE, ALICE, PROJECT, PRIVATE_TO_ORG, (), True, id="private, creator approves nothing"
        ),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            SHARED,
            [(APPROVE_PRIVATE, PROJECT.id)],
            True,
            id="shared, creator approves only private orders",
        ),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            OWN_SHARED_AUTO,
            (),
            False,
            id="shared, owned by the ordering organization, option on",
        ),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            OWN_SHARED_MANUAL,
            (),
            True,
            id="shared, owned by the ordering organization, option off",
        ),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            OTHER_SHARED_AUTO,
            (),
            True,
            id="shared, owned by another organization, option on",
        ),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            OWN_LIMITED_AUTO,
            (),
            False,
            id="limited, not private, owned by the ordering organization, option on",
        ),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            OWN_PRIVATE_AUTO,
            (),
            True,
            id="private, owned by the ordering organization, option on (option ignored)",
        ),
        pytest.param(
            TERMINATE,
            ALICE,
            PROJECT,
            SHARED,
            [(APPROVE, PROVIDER)],
            False,
            id="termination by someone who approves orders for the provider",
        ),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            SHARED,
            [(APPROVE, PROVIDER)],
            True,
            id="creation by someone who approves orders for the provider",
        ),
        pytest.param(
            TERMINATE,
            ALICE,
            PROJECT,
            SHARED,
            [(FULFIL, PROVIDER)],
            True,
            id="termination by someone who only fulfils orders for the provider",
        ),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            SHARED,
            [(APPROVE, PROJECT.id)],
            False,
            id="creator approves orders in the project",
        ),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            SHARED,
            [(APPROVE, CONSUMER)],
            False,
            id="creator approves orders in the organization",
        ),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            SHARED,
            [(APPROVE, "org-elsewhere")],
            True,
            id="creator approves orders only in another organization",
        ),
        pytest.param(CREATE, ALICE, PROJECT, SHARED, (), True, id="creator approves nothing"),
    ],
)
def test_the_consumer_review_is_skipped_exactly_by_the_listed_rules(
    order_type, creator, project, offering_, grants, needed
):
    assert (
        needs_consumer_review(order_type, creator, project, offering_, may_from(*grants)) is needed
    )


def test_staff_and_the_system_skip_the_consumer_review_without_being_asked():
    def no_questions(permission: Permission, scope: Scope) -> bool:
        raise AssertionError(f"asked about {permission} on {scope.id}")

    assert not needs_consumer_review(CREATE, None, PROJECT, SHARED, no_questions)
    assert not needs_consumer_review(CREATE, ROOT, PROJECT, SHARED, no_questions)
    assert not needs_consumer_review(CREATE, ALICE, AUTO_PROJECT, SHARED, no_questions)


# --------------------------------------------------------------------------- provider review

BY_NOBODY = None
PROVIDER_APPROVER = User("user-olga", "olga", NOW)
CONSUMER_APPROVER = User("user-alice", "alice", NOW)
REVIEWER_GRANTS = {
    "user-olga": [(APPROVE, PROVIDER)],
    "user-alice": [(APPROVE, CONSUMER), (APPROVE, PROJECT.id)],
}


@pytest.mark.parametrize(
    ("option", "plugin_default", "reviewer", "needed"),
    [
        (None, True, BY_NOBODY, False),
        (None, True, PROVIDER_APPROVER, False),
        (None, True, CONSUMER_APPROVER, True),
        (None, False, BY_NOBODY, False),
        (None, False, PROVIDER_APPROVER, False),
        (None, False, CONSUMER_APPROVER, False),
        (True, True, BY_NOBODY, False),
        (True, True, PROVIDER_APPROVER, False),
        (True, True, CONSUMER_APPROVER, True),
        (True, False, BY_NOBODY, False),
        (True, False, PROVIDER_APPROVER, False),
        (True, False, CONSUMER_APPROVER, True),
        (False, True, BY_NOBODY, False),
        (False, True, PROVIDER_APPROVER, False),
        (False, True, CONSUMER_APPROVER, False),
        (False, False, BY_NOBODY, False),
        (False, False, PROVIDER_APPROVER, False),
        (False, False, CONSUMER_APPROVER, False),
    ],
)
def test_the_provider_reviews_when_the_offering_or_its_plugin_asks_unless_it_reviewed_already(
    option, plugin_default, reviewer, needed
):
    may = may_from(*REVIEWER_GRANTS.get(reviewer.id if reviewer else "", ()))
    assert (
        needs_provider_review(
            offering(needs_provider_review=option),
            PluginCapabilities(needs_provider_review=plugin_default),
            reviewer,
            may,
        )
        is needed
    )


def test_approving_orders_on_the_offering_itself_also_waives_the_provider_review():
    offering_approver = User("user-omar", "omar", NOW)
    may = may_from((APPROVE, "offering-1"))
    assert not needs_provider_review(
        offering(needs_provider_review=True), PluginCapabilities(), offering_approver, may
    )


# --------------------------------------------------------------------------- next step


@pytest.mark.parametrize(
    ("project_started", "provider_review_needed", "step"),
    [
        (False, False, OrderEvent.HOLD_FOR_PROJECT),
        (False, True, OrderEvent.HOLD_FOR_PROJECT),
        (True, True, OrderEvent.REQUEST_PROVIDER_REVIEW),
        (True, False, OrderEvent.EXECUTE),
    ],
)
def test_a_consumer_reviewed_order_waits_for_its_project_then_the_provider_then_executes(
    project_started, provider_review_needed, step
):
    assert (
        next_step(project_started=project_started, provider_review_needed=provider_review_needed)
        is step
    )


# --------------------------------------------------------------------------- the tables

CONSUMER_ROW_EXAMPLES = [
    pytest.param(CREATE, None, PROJECT, SHARED, (), "system-creator", id="system"),
    pytest.param(CREATE, ROOT, PROJECT, SHARED, (), "staff-creator", id="staff"),
    pytest.param(CREATE, ALICE, AUTO_PROJECT, SHARED, (), "project-auto-approves", id="auto"),
    pytest.param(
        CREATE,
        ALICE,
        PROJECT,
        PRIVATE_TO_ORG,
        [(APPROVE_PRIVATE, PROJECT.id)],
        "private-offering-approver",
        id="private approver",
    ),
    pytest.param(
        CREATE, ALICE, PROJECT, OWN_LIMITED_AUTO, (), "own-organization-auto-approve", id="own"
    ),
    pytest.param(
        TERMINATE,
        ALICE,
        PROJECT,
        SHARED,
        [(APPROVE, PROVIDER)],
        "termination-by-provider-approver",
        id="termination",
    ),
    pytest.param(
        CREATE,
        ALICE,
        PROJECT,
        PRIVATE_TO_PROJECT,
        [(APPROVE, CONSUMER)],
        "creator-approves-orders",
        id="approver",
    ),
    pytest.param(CREATE, ALICE, PROJECT, OWN_PRIVATE_AUTO, (), "review-needed", id="needed"),
]


@pytest.mark.parametrize(
    ("order_type", "creator", "project", "offering_", "grants", "row_id"), CONSUMER_ROW_EXAMPLES
)
def test_each_consumer_row_decides_the_case_it_describes(
    order_type, creator, project, offering_, grants, row_id
):
    row = consumer_review_row(order_type, creator, project, offering_, may_from(*grants))
    assert row.id == row_id
    assert row is CONSUMER_REVIEW.row(row_id)


PROVIDER_ROW_EXAMPLES = [
    pytest.param(False, True, CONSUMER_APPROVER, "offering-waives-review", id="offering"),
    pytest.param(None, False, CONSUMER_APPROVER, "plugin-waives-review", id="plugin"),
    pytest.param(True, False, BY_NOBODY, "consumer-reviewed-by-system", id="system"),
    pytest.param(True, False, PROVIDER_APPROVER, "reviewer-approves-for-provider", id="owner"),
    pytest.param(None, True, CONSUMER_APPROVER, "review-needed", id="needed"),
]


@pytest.mark.parametrize(("option", "plugin_default", "reviewer", "row_id"), PROVIDER_ROW_EXAMPLES)
def test_each_provider_row_decides_the_case_it_describes(option, plugin_default, reviewer, row_id):
    row = provider_review_row(
        offering(needs_provider_review=option),
        PluginCapabilities(needs_provider_review=plugin_default),
        reviewer,
        may_from(*REVIEWER_GRANTS.get(reviewer.id if reviewer else "", ())),
    )
    assert row.id == row_id


@pytest.mark.parametrize(
    ("table", "examples"),
    [(CONSUMER_REVIEW, CONSUMER_ROW_EXAMPLES), (PROVIDER_REVIEW, PROVIDER_ROW_EXAMPLES)],
    ids=["consumer", "provider"],
)
def test_every_review_row_has_an_example_above(table: ApprovalTable, examples):
    assert [example.values[-1] for example in examples] == [row.id for row in table.rows]


def asking(*grants: tuple[Permission, str]) -> tuple[May, list[tuple[Permission, str]]]:
    """A ``may`` holding ``grants``, and the list of questions it was asked."""
    asked: list[tuple[Permission, str]] = []
    answer = may_from(*grants)

    def may(permission: Permission, scope: Scope) -> bool:
        asked.append((permission, scope.id))
        return answer(permission, scope)

    return may, asked


@pytest.mark.parametrize(
    ("order_type", "creator", "project", "offering_", "grants", "questions"),
    [
        pytest.param(CREATE, None, PROJECT, SHARED, (), [], id="system"),
        pytest.param(CREATE, ROOT, PROJECT, SHARED, (), [], id="staff"),
        pytest.param(CREATE, ALICE, AUTO_PROJECT, PRIVATE_TO_ORG, (), [], id="auto"),
        pytest.param(CREATE, ALICE, PROJECT, OWN_SHARED_AUTO, (), [], id="own, option on"),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            SHARED,
            [(APPROVE, CONSUMER)],
            [(APPROVE, PROJECT.id)],
            id="shared, approver",
        ),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            PRIVATE_TO_ORG,
            [(APPROVE_PRIVATE, PROJECT.id)],
            [(APPROVE_PRIVATE, PROJECT.id)],
            id="private, private approver",
        ),
        pytest.param(
            CREATE,
            ALICE,
            PROJECT,
            PRIVATE_TO_ORG,
            (),
            [(APPROVE_PRIVATE, PROJECT.id), (APPROVE, PROJECT.id)],
            id="private, nobody",
        ),
        pytest.param(
            TERMINATE,
            ALICE,
            PROJECT,
            SHARED,
            [(APPROVE, PROVIDER)],
            [(APPROVE, "offering-1")],
            id="termination, provider approver",
        ),
        pytest.param(
            TERMINATE,
            ALICE,
            PROJECT,
            SHARED,
            (),
            [(APPROVE, "offering-1"), (APPROVE, PROJECT.id)],
            id="termination, nobody",
        ),
    ],
)
def test_the_consumer_decision_asks_only_the_questions_its_rows_reach_once_each(
    order_type, creator, project, offering_, grants, questions
):
    may, asked = asking(*grants)
    consumer_review_row(order_type, creator, project, offering_, may)
    assert asked == questions


@pytest.mark.parametrize(
    ("option", "plugin_default", "reviewer", "questions"),
    [
        (False, True, CONSUMER_APPROVER, []),
        (None, False, CONSUMER_APPROVER, []),
        (True, True, BY_NOBODY, []),
        (None, True, CONSUMER_APPROVER, [(APPROVE, "offering-1")]),
        (True, False, PROVIDER_APPROVER, [(APPROVE, "offering-1")]),
    ],
)
def test_the_provider_decision_asks_at_most_once_and_only_when_the_review_is_required(
    option, plugin_default, reviewer, questions
):
    may, asked = asking(*REVIEWER_GRANTS.get(reviewer.id if reviewer else "", ()))
    provider_review_row(
        offering(needs_provider_review=option),
        PluginCapabilities(needs_provider_review=plugin_default),
        reviewer,
        may,
    )
    assert asked == questions


def test_lazy_facts_compute_each_fact_once_and_only_when_read():
    calls: list[str] = []

    def fact(name: str, value: bool) -> Callable[[str], bool]:
        def compute(subject: str) -> bool:
            calls.append(f"{name} of {subject}")
            return value

        return compute

    facts = LazyFacts({"a": fact("a", True), "b": fact("b", False)}, "case")
    assert (facts["b"], facts["b"], "a" in facts, "c" in facts) == (False, False, True, False)
    assert calls == ["b of case"]
    assert facts.computed == {"b": False}
    assert dict(facts) == {"a": True, "b": False}
    assert calls == ["b of case", "a of case"]
    with pytest.raises(KeyError):
        facts["c"]


def test_the_facts_of_an_order_name_exactly_the_facts_of_its_table():
    facts = consumer_review_facts(CREATE, ALICE, PROJECT, SHARED, may_from())
    assert tuple(facts) == CONSUMER_REVIEW.fact_names
    assert dict(facts) == {
        "placed_by_system": False,
        "creator_is_staff": False,
        "project_auto_approves": False,
        "offering_private": False,
        "creator_approves_private_orders": False,
        "offering_of_own_organization": False,
        "auto_approve_in_provider_projects": False,
        "termination": False,
        "creator_approves_for_provider": False,
        "creator_approves_orders": False,
    }


# The rules in the words of the design, written apart from the tables: each takes one value
# for every fact and says the outcome.


def consumer_review_reference(f: Mapping[str, bool]) -> str:
    skipped = (
        f["placed_by_system"]
        or f["creator_is_staff"]
        or f["project_auto_approves"]
        or (f["offering_private"] and f["creator_approves_private_orders"])
        or (
            not f["offering_private"]
            and f["offering_of_own_organization"]
            and f["auto_approve_in_provider_projects"]
        )
        or (f["termination"] and f["creator_approves_for_provider"])
        or f["creator_approves_orders"]
    )
    return SKIPPED if skipped else NEEDED


def provider_review_reference(f: Mapping[str, bool]) -> str:
    required = (
        f["offering_requires_review"] if f["offering_sets_review"] else f["plugin_requires_review"]
    )
    by_someone_else = (
        not f["consumer_reviewed_by_system"] and not f["reviewer_approves_for_provider"]
    )
    return NEEDED if required and by_someone_else else SKIPPED


def next_step_reference(f: Mapping[str, bool]) -> str:
    if not f["project_started"]:
        return "hold_for_project"
    return "request_provider_review" if f["provider_review_needed"] else "execute"


REFERENCES = {
    "consumer_review": consumer_review_reference,
    "provider_review": provider_review_reference,
    "next_step": next_step_reference,
}


def every_case(table: ApprovalTable) -> Iterator[dict[str, bool]]:
    """Every combination of values of the table's facts."""
    names = table.fact_names
    for values in itertools.product((False, True), repeat=len(names)):
        yield dict(zip(names, values, strict=True))


def first_match(rows: tuple[ApprovalRow, ...], facts: Mapping[str, bool]) -> ApprovalRow | None:
    """The first of ``rows`` whose every condition holds, read without the table's code."""
    return next(
        (row for row in rows if all(facts[name] == value for name, value in row.when.items())),
        None,
    )


by_table = pytest.mark.parametrize("table", APPROVAL_TABLES, ids=lambda table: table.name)


@by_table
def test_every_case_of_a_table_decides_as_the_rules_in_words(table: ApprovalTable):
    reference = REFERENCES[table.name]
    for facts in every_case(table):
        assert table.decide(facts).outcome == reference(facts), facts


@by_table
def test_the_table_decides_by_its_first_matching_row(table: ApprovalTable):
    for facts in every_case(table):
        assert table.decide(facts) is first_match(table.rows, facts)


@by_table
def test_every_row_decides_some_case_and_none_could_be_dropped(table: ApprovalTable):
    deciding = {table.decide(facts).id for facts in every_case(table)}
    assert deciding == {row.id for row in table.rows}, "a row is shadowed by the rows above it"
    for index in range(len(table.rows) - 1):
        without = table.rows[:index] + table.rows[index + 1 :]
        changed = [
            facts
            for facts in every_case(table)
            if getattr(first_match(without, facts), "outcome", None) != table.decide(facts).outcome
        ]
        assert changed, f"row {table.rows[index].id!r} changes no decision"


def test_next_step_fires_the_event_its_table_decides():
    for facts in every_case(NEXT_STEP):
        assert next_step(**facts).value == NEXT_STEP.decide(facts).outcome


# --------------------------------------------------------------------------- the export


def decide_from_json(table: Mapping[str, object], facts: Mapping[str, bool]) -> str:
    """How a port reads an exported table: the first row whose ``when`` holds decides."""
    rows = table["rows"]
    assert isinstance(rows, list)
    for row in rows:
        if all(facts[name] == value for name, value in row["when"].items()):
            return str(row["outcome"])
    raise AssertionError("no row matched")


def test_the_exported_tables_are_json_and_decide_as_the_library():
    exported = json.loads(json.dumps(approval_tables()))
    assert list(exported) == ["consumer_review", "provider_review", "next_step"]
    for table in APPROVAL_TABLES:
        data = exported[table.name]
        assert data["evaluation"] == "first-match"
        assert [fact["name"] for fact in data["facts"]] == list(table.fact_names)
        assert all(fact["description"] for fact in data["facts"])
        assert all(row["description"] for row in data["rows"])
        for facts in every_case(table):
            assert decide_from_json(data, facts) == table.decide(facts).outcome


def test_the_next_step_table_exports_as_documented():
    assert approval_tables()["next_step"] == {
        "name": "next_step",
        "description": NEXT_STEP.description,
        "evaluation": "first-match",
        "facts": [
            {"name": "project_started", "description": NEXT_STEP.facts[0].description},
            {"name": "provider_review_needed", "description": NEXT_STEP.facts[1].description},
        ],
        "outcomes": ["hold_for_project", "request_provider_review", "execute"],
        "rows": [
            {
                "id": "project-not-started",
                "when": {"project_started": False},
                "outcome": "hold_for_project",
                "description": NEXT_STEP.rows[0].description,
            },
            {
                "id": "provider-review-needed",
                "when": {"provider_review_needed": True},
                "outcome": "request_provider_review",
                "description": NEXT_STEP.rows[1].description,
            },
            {
                "id": "execute",
                "when": {},
                "outcome": "execute",
                "description": NEXT_STEP.rows[2].description,
            },
        ],
    }


def test_the_exported_conditions_follow_the_order_the_facts_are_declared_in():
    row = ApprovalRow("r", {"b": True, "a": False}, "x", "R.")
    table = ApprovalTable(
        "t",
        "T?",
        (ApprovalFact("a", "A."), ApprovalFact("b", "B.")),
        ("x",),
        (row, ApprovalRow("rest", {}, "x", "Rest.")),
    )
    rows = table.to_table()["rows"]
    assert isinstance(rows, list)
    assert list(rows[0]["when"]) == ["a", "b"]


@by_table
def test_the_approval_tables_in_the_docs_are_generated_from_the_code(table: ApprovalTable):
    text = (Path(__file__).resolve().parent.parent / "docs" / "orders.md").read_text("utf-8")
    name = f"{table.name} table"
    match = re.search(
        rf"<!-- BEGIN GENERATED: {name} -->\n(.*?)<!-- END GENERATED: {name} -->",
        text,
        flags=re.DOTALL,
    )
    assert match is not None, f"docs/orders.md lost its generated {name} block"
    assert match.group(1) == table.to_markdown()


# --------------------------------------------------------------------------- declaring a table

FACT_A = ApprovalFact("a", "A holds.")
REST = ApprovalRow("rest", {}, "no", "Otherwise no.")


def table_of(*rows: ApprovalRow, facts: tuple[ApprovalFact, ...] = (FACT_A,)) -> ApprovalTable:
    return ApprovalTable("demo", "Demo?", facts, ("yes", "no"), rows)


@pytest.mark.parametrize(
    ("build", "complaint", "fields"),
    [
        pytest.param(
            lambda: table_of(REST, facts=(FACT_A, FACT_A)),
            "fact name 'a' must be snake_case and unique",
            {"fact": "a"},
            id="duplicate fact",
        ),
        pytest.param(
            lambda: table_of(REST, facts=(ApprovalFact("Bad-Name", "B."),)),
            "fact name 'Bad-Name' must be snake_case",
            {"fact": "Bad-Name"},
            id="fact name",
        ),
        pytest.param(table_of, "approval table 'demo' has no rows", {}, id="no rows"),
        pytest.param(
            lambda: table_of(ApprovalRow("Yes_A", {"a": True}, "yes", "Y."), REST),
            "row id 'Yes_A' must be kebab-case",
            {"row": "Yes_A"},
            id="row id",
        ),
        pytest.param(
            lambda: table_of(ApprovalRow("rest", {"a": True}, "yes", "Y."), REST),
            "row id 'rest' must be kebab-case and unique",
            {"row": "rest"},
            id="duplicate row id",
        ),
        pytest.param(
            lambda: table_of(ApprovalRow("yes-b", {"b": True}, "yes", "Y."), REST),
            "row 'yes-b' tests undeclared facts ['b']; declared: ['a']",
            {"facts": ["b"]},
            id="undeclared fact",
        ),
        pytest.param(
            lambda: table_of(ApprovalRow("maybe", {"a": True}, "maybe", "M."), REST),
            "row 'maybe' has outcome 'maybe', expected one of ['yes', 'no']",
            {"outcome": "maybe"},
            id="unknown outcome",
        ),
        pytest.param(
            lambda: table_of(ApprovalRow("yes-a", {"a": True}, "yes", "Y.")),
            "row 'yes-a' is last, so it must match every case",
            {"row": "yes-a"},
            id="last row has conditions",
        ),
        pytest.param(
            lambda: table_of(ApprovalRow("early", {}, "yes", "Y."), REST),
            "row 'early' matches every case, so the rows after it could never decide",
            {"row": "early"},
            id="catch-all before the end",
        ),
    ],
)
def test_a_malformed_table_is_refused_when_declared(build, complaint, fields):
    with pytest.raises(ValidationError) as caught:
        build()
    assert caught.value.code is ErrorCode.INVALID_VALUE
    assert complaint in caught.value.message
    assert caught.value.fields["table"] == "demo"
    assert fields.items() <= caught.value.fields.items()


def test_deciding_without_a_fact_a_row_reads_names_the_missing_fact():
    with pytest.raises(ValidationError) as caught:
        NEXT_STEP.decide({"project_started": True})
    assert caught.value.fields == {"table": "next_step", "fact": "provider_review_needed"}
    assert "needs fact 'provider_review_needed'" in caught.value.message


def test_a_key_error_inside_a_fact_is_not_mistaken_for_a_missing_fact():
    def broken(subject: None) -> bool:
        raise KeyError("user-x")

    facts = LazyFacts({"project_started": broken, "provider_review_needed": bool}, None)
    with pytest.raises(KeyError, match="user-x"):
        NEXT_STEP.decide(facts)


def test_asking_for_a_row_a_table_lacks_names_it():
    with pytest.raises(ValidationError, match="has no row 'staff'"):
        CONSUMER_REVIEW.row("staff")


# --------------------------------------------------------------------------- through the facade

ROLE_NAMES = (
    "consumer owner",
    "project manager",
    "project admin",
    "project member",
    "provider owner",
    "offering manager",
)
INSTANT_PLUGINS = frozenset({"static", "cloud"})
"""Plugins of :func:`tests.support.plugin_registry` that finish at once and need no provider
review by default; ``basic`` needs one and leaves the order executing for the provider."""


@attrs.frozen
class Situation:
    """One random arrangement of the facts the routing depends on."""

    roles: frozenset[str]
    staff: bool
    auto_approve: bool
    start_in_days: int | None
    visibility: str
    own_organization: bool
    auto_approve_in_sp: bool
    needs_provider_review: bool | None
    plugin: str


rarely = st.booleans() | st.just(False)
"""Mostly false: staff and auto-approval skip the consumer review and would otherwise hide
the other rules in half the examples."""

situations = st.builds(
    Situation,
    roles=st.frozensets(st.sampled_from(ROLE_NAMES), max_size=3),
    staff=rarely,
    auto_approve=rarely,
    start_in_days=st.sampled_from([None, -5, 0, 1, 30]),
    visibility=st.sampled_from(["shared", "private to organization", "private to project"]),
    own_organization=st.booleans(),
    auto_approve_in_sp=st.booleans(),
    needs_provider_review=st.sampled_from([None, True, False]),
    plugin=st.sampled_from(["basic", "static", "cloud"]),
)


@attrs.frozen
class Routing:
    """Where the reference says a new create order ends up."""

    path: tuple[OrderState, ...]
    """The states the order moves through after ``pending-consumer``, in order."""
    consumer_reviewed: bool
    provider_reviewed: bool


def reference_routing(s: Situation) -> Routing | None:
    """DESIGN §5 in plain words, for a create order; ``None`` when the creator may not order.

    Who may what, by Waldur's default roles: staff may everything; owners of the consumer
    order and approve orders (private ones too); project managers and admins order and
    approve orders for private offerings only; owners of the provider approve orders for
    it; project members and offering managers do neither. When the offering belongs to the
    consumer's own organization, owning one organization is owning the other.
    """
    owns_consumer = "consumer owner" in s.roles or (
        s.own_organization and "provider owner" in s.roles
    )
    owns_provider = "provider owner" in s.roles or (
        s.own_organization and "consumer owner" in s.roles
    )
    works_in_project = bool(s.roles & {"project manager", "project admin"})
    if not (s.staff or owns_consumer or works_in_project):
        return None
    approves_orders = s.staff or owns_consumer
    approves_private_orders = approves_orders or works_in_project
    private = s.visibility != "shared"
    consumer_review_skipped = (
        s.staff
        or s.auto_approve
        or (private and approves_private_orders)
        or (not private and s.own_organization and s.auto_approve_in_sp)
        or approves_orders
    )
    if not consumer_review_skipped:
        return Routing((), consumer_reviewed=False, provider_reviewed=False)
    if s.start_in_days is not None and s.start_in_days > 0:
        return Routing(
            (OrderState.PENDING_PROJECT,), consumer_reviewed=True, provider_reviewed=False
        )
    provider_asks = (
        s.needs_provider_review if s.needs_provider_review is not None else s.plugin == "basic"
    )
    if provider_asks and not (s.staff or owns_provider):
        return Routing(
            (OrderState.PENDING_PROVIDER,), consumer_reviewed=True, provider_reviewed=False
        )
    finished = (OrderState.DONE,) if s.plugin in INSTANT_PLUGINS else ()
    return Routing(
        (OrderState.EXECUTING, *finished), consumer_reviewed=True, provider_reviewed=True
    )


def world_for(s: Situation):
    """A fresh world arranged as ``s`` says: its project, a new active offering of ``s.plugin``
    with one plan, and a new user ``creator`` holding the roles of ``s``."""
    world = build_world()
    market, staff = world.marketplace, world.staff.id
    provider = world.consumer if s.own_organization else world.provider
    if s.own_organization:
        market.register_provider(staff, world.consumer.id)
    visibility = {
        "shared": Shared(),
        "private to organization": PrivateToOrganization(world.consumer.id),
        "private to project": PrivateToProject(world.project.id),
    }[s.visibility]
    offering_ = market.create_offering(
        staff,
        provider.id,
        "Offering",
        s.plugin,
        category_id=world.offering.category_id,
        components=(CPU,),
        visibility=visibility,
        options=OfferingOptions(
            auto_approve_in_service_provider_projects=s.auto_approve_in_sp,
            needs_provider_review=s.needs_provider_review,
        ),
    )
    plan = market.create_plan(staff, offering_.id, "Plan", PlanUnit.MONTH)
    market.activate_offering(staff, offering_.id)
    start = None if s.start_in_days is None else START.date() + timedelta(days=s.start_in_days)
    market.update_project(
        world.owner.id, world.project.id, auto_approve=s.auto_approve, start_date=start
    )
    creator = market.create_user(staff, "creator")
    grants = {
        {
            "consumer owner": (Role.ORGANIZATION_OWNER, world.consumer.id),
            "project manager": (Role.PROJECT_MANAGER, world.project.id),
            "project admin": (Role.PROJECT_ADMIN, world.project.id),
            "project member": (Role.PROJECT_MEMBER, world.project.id),
            "provider owner": (Role.ORGANIZATION_OWNER, provider.id),
            "offering manager": (Role.OFFERING_MANAGER, offering_.id),
        }[name]
        for name in s.roles
    }
    for role, scope_id in sorted(grants):
        market.grant_role(staff, creator.id, role, scope_id)
    if s.staff:
        creator = market.set_user_staff(staff, creator.id, True)
    return world, creator, offering_, plan


def by_project_admin(**facts) -> Situation:
    """A situation where only the named facts help a project admin past the consumer review."""
    plain = {
        "roles": frozenset({"project admin"}),
        "staff": False,
        "auto_approve": False,
        "start_in_days": None,
        "visibility": "shared",
        "own_organization": False,
        "auto_approve_in_sp": False,
        "needs_provider_review": None,
        "plugin": "basic",
    }
    return Situation(**(plain | facts))


@settings(max_examples=150)
@given(situations)
@example(by_project_admin())
@example(by_project_admin(own_organization=True))
@example(by_project_admin(own_organization=True, auto_approve_in_sp=True))
@example(by_project_admin(own_organization=True, auto_approve_in_sp=True, plugin="static"))
@example(by_project_admin(visibility="private to project"))
@example(by_project_admin(auto_approve=True, start_in_days=1))
def test_a_new_order_is_routed_as_the_design_says(s: Situation):
    world, creator, offering_, plan = world_for(s)
    expected = reference_routing(s)

    def place():
        return world.marketplace.order_resource(
            creator.id, world.project.id, offering_.id, plan.id, "Routed"
        )

    if expected is None:
        event("refused")
        before = snapshot(world.storage)
        with pytest.raises(PermissionDeniedError) as caught:
            place()
        assert caught.value.fields["permission"] == "order.create"
        assert snapshot(world.storage) == before
        return
    order = place()
    event(" → ".join(["pending-consumer", *expected.path]))
    path = tuple(
        OrderState(e.event.target)
        for e in world.events.events
        if e.event.event_type == "OrderStateChanged" and e.event.order_id == order.id
    )
    assert path == expected.path
    assert order.state is (expected.path[-1] if expected.path else OrderState.PENDING_CONSUMER)
    assert world.marketplace.get_order(order.id) == order
    automatic_by_creator = Review(reviewer_id=creator.id, at=START, automatic=True)
    assert order.consumer_review == (automatic_by_creator if expected.consumer_reviewed else None)
    assert order.provider_review == (automatic_by_creator if expected.provider_reviewed else None)


def reviews_of(world: World, order_id: str) -> list[tuple[str, str | None, bool, bool]]:
    """``(side, reviewer, automatic, approved)`` of each ``OrderReviewed`` event of an order."""
    return [
        (e.event.side, e.event.actor_id, e.event.automatic, e.event.approved)
        for e in world.events.events
        if e.event.event_type == "OrderReviewed" and e.event.order_id == order_id
    ]


def test_reviews_by_hand_record_who_approved_each_side_and_when(world: World):
    market = world.marketplace
    order = world.order(actor=world.project_admin)
    assert (order.state, order.consumer_review, order.provider_review) == (
        OrderState.PENDING_CONSUMER,
        None,
        None,
    )
    world.clock.advance(timedelta(hours=1))
    order = market.approve_order_as_consumer(world.owner.id, order.id)
    assert order.state is OrderState.PENDING_PROVIDER
    assert order.consumer_review == Review(world.owner.id, START + timedelta(hours=1), False)
    assert order.provider_review is None
    world.clock.advance(timedelta(hours=1))
    order = market.approve_order_as_provider(world.provider_owner.id, order.id)
    assert order.state is OrderState.EXECUTING
    assert order.consumer_review == Review(world.owner.id, START + timedelta(hours=1), False)
    assert order.provider_review == Review(
        world.provider_owner.id, START + timedelta(hours=2), False
    )
    assert reviews_of(world, order.id) == [
        ("consumer", world.owner.id, False, True),
        ("provider", world.provider_owner.id, False, True),
    ]


def test_an_order_that_needs_no_review_records_both_as_automatic_by_its_creator(world: World):
    offering_, plan = world.cloud_offering()
    order = world.order(offering_id=offering_.id, plan_id=plan.id, limits={"ram": 1024})
    assert order.state is OrderState.DONE
    automatic = Review(world.owner.id, START, automatic=True)
    assert (order.consumer_review, order.provider_review) == (automatic, automatic)
    assert reviews_of(world, order.id) == [
        ("consumer", world.owner.id, True, True),
        ("provider", world.owner.id, True, True),
    ]


def test_a_consumer_approver_who_approves_for_the_provider_too_leaves_nothing_to_review(
    world: World,
):
    world.marketplace.grant_role(
        world.staff.id, world.owner.id, Role.ORGANIZATION_OWNER, world.provider.id
    )
    order = world.order(actor=world.project_admin)
    world.clock.advance(timedelta(minutes=5))
    order = world.marketplace.approve_order_as_consumer(world.owner.id, order.id)
    assert order.state is OrderState.EXECUTING
    assert order.provider_review == Review(world.owner.id, START + timedelta(minutes=5), True)
    assert reviews_of(world, order.id) == [
        ("consumer", world.owner.id, False, True),
        ("provider", world.owner.id, True, True),
    ]


def test_a_rejection_is_recorded_as_a_review_that_did_not_approve(world: World):
    order = world.order()
    assert order.state is OrderState.PENDING_PROVIDER
    world.clock.advance(timedelta(hours=3))
    order = world.marketplace.reject_order(world.provider_owner.id, order.id, reason="no room")
    assert order.state is OrderState.REJECTED
    assert order.provider_review == Review(
        world.provider_owner.id, START + timedelta(hours=3), automatic=False, approved=False
    )
    assert reviews_of(world, order.id)[-1] == ("provider", world.provider_owner.id, False, False)


def test_orders_the_system_places_are_reviewed_automatically_by_nobody(world: World):
    resource = world.live_basic()
    world.marketplace.set_resource_end_date(world.owner.id, resource.id, START.date())
    world.clock.advance(timedelta(days=1))
    (termination_id,) = world.marketplace.run_due_jobs().terminations
    order = world.marketplace.get_order(termination_id)
    assert order.created_by is None
    assert order.state is OrderState.EXECUTING  # the basic plugin waits for the provider
    by_nobody = Review(None, START + timedelta(days=1), automatic=True)
    assert (order.consumer_review, order.provider_review) == (by_nobody, by_nobody)
    assert reviews_of(world, order.id) == [
        ("consumer", None, True, True),
        ("provider", None, True, True),
    ]


def test_an_order_held_for_its_project_keeps_its_consumer_review_when_released(world: World):
    market = world.marketplace
    market.update_project(
        world.owner.id, world.project.id, start_date=START.date() + timedelta(days=2)
    )
    order = world.order()
    assert order.state is OrderState.PENDING_PROJECT
    assert order.consumer_review == Review(world.owner.id, START, automatic=True)
    assert order.provider_review is None
    world.clock.advance(timedelta(days=2))
    assert market.run_due_jobs().released == (order.id,)
    released = market.get_order(order.id)
    assert released.state is OrderState.PENDING_PROVIDER
    assert released.consumer_review == order.consumer_review
    assert released.provider_review is None
