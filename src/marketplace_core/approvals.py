"""Approval routing: which reviews an order needs, and where it goes after each.

Each decision is a declared :class:`ApprovalTable`: named boolean facts, and rows read top to
bottom, the first row whose conditions all hold deciding. The same declarations drive the
library (:func:`needs_consumer_review`, :func:`needs_provider_review`, :func:`next_step`),
the tables in ``docs/orders.md``, and the JSON a port reads (:func:`approval_tables`).

The facts come from the order's data and a ``may(permission, scope)`` question about the user
whose rights matter, so the rules stay pure. Facts are computed on first read
(:class:`LazyFacts`), so a decision asks only the questions its deciding rows need, in row
order: deciding costs no more permission look-ups than hand-written short-circuit code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Final, Generic, NamedTuple, TypeVar

import attrs

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.frozen import FrozenMap
from marketplace_core.offerings import Offering, is_private
from marketplace_core.orders import OrderEvent, OrderType
from marketplace_core.organizations import Project
from marketplace_core.plugins.registry import PluginCapabilities
from marketplace_core.roles import Permission, Scope, offering_scope, project_scope
from marketplace_core.users import User

May = Callable[[Permission, Scope], bool]
"""Whether the user in question holds a permission on a scope."""

SubjectT = TypeVar("SubjectT")

NEEDED: Final = "needed"
"""The outcome of a review table when the review must happen."""
SKIPPED: Final = "skipped"
"""The outcome of a review table when the review is stamped automatic."""

_ROW_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_FACT_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")


_Checks = tuple[tuple[tuple[tuple[str, bool], ...], "ApprovalRow"], ...]


def _invalid(message: str, **fields: object) -> ValidationError:
    return ValidationError(ErrorCode.INVALID_VALUE, message, **fields)


def _frozen_conditions(when: Mapping[str, bool]) -> Mapping[str, bool]:
    return FrozenMap(when)


@attrs.frozen
class ApprovalFact:
    """A named yes/no fact the rows of a table test, and what it means."""

    name: str
    """snake_case, unique within its table."""
    description: str
    """One line: when the fact is true."""


@attrs.frozen
class ApprovalRow:
    """One rule of a table: when every condition holds, ``outcome`` is the decision.

    ``when`` maps fact names to the value each must have; a fact it does not name matches
    anything, so a row with no conditions matches every case.
    """

    id: str
    """Stable and kebab-case, unique within its table: ports and tests refer to it."""
    when: Mapping[str, bool] = attrs.field(converter=_frozen_conditions)
    outcome: str
    description: str
    """One sentence: the rule in words."""


@attrs.frozen
class ApprovalTable:
    """A decision declared as data: rows evaluated in order, the first match wins.

    Checked when declared: fact names are unique snake_case, row ids unique kebab-case, rows
    name only declared facts and outcomes, and the last row (and only the last) has no
    conditions, so every case is decided. Any breach raises
    :class:`~marketplace_core.errors.ValidationError` naming the table and the culprit.
    """

    name: str
    """The table's name in exports: ``consumer_review``, ``provider_review``, ``next_step``."""
    description: str
    """The question the table answers."""
    facts: tuple[ApprovalFact, ...]
    outcomes: tuple[str, ...]
    rows: tuple[ApprovalRow, ...]
    _checks: _Checks = attrs.field(init=False, eq=False, repr=False)
    """Each row's conditions as ``(fact, value)`` pairs beside the row, for :meth:`decide`."""

    @_checks.default
    def _plan(self) -> _Checks:
        return tuple((tuple(row.when.items()), row) for row in self.rows)

    def __attrs_post_init__(self) -> None:
        names = [fact.name for fact in self.facts]
        for name in names:
            if not _FACT_NAME.fullmatch(name) or names.count(name) > 1:
                raise _invalid(
                    f"approval table {self.name!r}: fact name {name!r} must be snake_case "
                    "and unique",
                    table=self.name,
                    fact=name,
                )
        ids = [row.id for row in self.rows]
        if not ids:
            raise _invalid(f"approval table {self.name!r} has no rows", table=self.name)
        for index, row in enumerate(self.rows):
            last = index == len(self.rows) - 1
            if not _ROW_ID.fullmatch(row.id) or ids.count(row.id) > 1:
                raise _invalid(
                    f"approval table {self.name!r}: row id {row.id!r} must be kebab-case "
                    "and unique",
                    table=self.name,
                    row=row.id,
                )
            unknown = sorted(set(row.when) - set(names))
            if unknown:
                raise _invalid(
                    f"approval table {self.name!r}: row {row.id!r} tests undeclared facts "
                    f"{unknown}; declared: {names}",
                    table=self.name,
                    row=row.id,
                    facts=unknown,
                )
            if row.outcome not in self.outcomes:
                raise _invalid(
                    f"approval table {self.name!r}: row {row.id!r} has outcome "
                    f"{row.outcome!r}, expected one of {list(self.outcomes)}",
                    table=self.name,
                    row=row.id,
                    outcome=row.outcome,
                )
            if bool(row.when) is last:
                raise _invalid(
                    f"approval table {self.name!r}: row {row.id!r} "
                    + (
                        "is last, so it must match every case (no conditions)"
                        if last
                        else "matches every case, so the rows after it could never decide"
                    ),
                    table=self.name,
                    row=row.id,
                )

    @property
    def fact_names(self) -> tuple[str, ...]:
        """The names of the facts, in declaration order."""
        return tuple(fact.name for fact in self.facts)

    def row(self, row_id: str) -> ApprovalRow:
        """The row called ``row_id``; a :class:`ValidationError` names it when there is none."""
        for row in self.rows:
            if row.id == row_id:
                return row
        raise _invalid(
            f"approval table {self.name!r} has no row {row_id!r}; rows: "
            f"{[row.id for row in self.rows]}",
            table=self.name,
            row=row_id,
        )

    def decide(self, facts: Mapping[str, bool]) -> ApprovalRow:
        """The first row whose conditions all hold for ``facts``.

        Facts are read in row order and each row stops at its first failing condition, so a
        :class:`LazyFacts` computes only what the decision needs. ``facts`` must give every
        fact a row reached tests: a missing one raises a :class:`ValidationError` naming it.
        """
        for conditions, row in self._checks:
            for name, value in conditions:
                try:
                    if facts[name] != value:
                        break
                except KeyError:
                    if name in facts:
                        raise
                    raise _invalid(
                        f"approval table {self.name!r} needs fact {name!r}, which the given "
                        f"facts lack; facts: {list(self.fact_names)}",
                        table=self.name,
                        fact=name,
                    ) from None
            else:
                return row
        raise AssertionError(f"the last row of {self.name!r} matches everything")  # unreachable

    def to_table(self) -> dict[str, object]:
        """The table as plain JSON-ready data, for ports in other languages."""
        return {
            "name": self.name,
            "description": self.description,
            "evaluation": "first-match",
            "facts": [{"name": f.name, "description": f.description} for f in self.facts],
            "outcomes": list(self.outcomes),
            "rows": [
                {
                    "id": row.id,
                    "when": {name: row.when[name] for name in self.fact_names if name in row.when},
                    "outcome": row.outcome,
                    "description": row.description,
                }
                for row in self.rows
            ],
        }

    def to_markdown(self) -> str:
        """The table as Markdown for the docs: its facts, then its rows in order."""
        lines = ["| Fact | True when |", "|---|---|"]
        lines += [f"| `{fact.name}` | {fact.description} |" for fact in self.facts]
        lines += ["", "| # | Row | When | Outcome | Rule |", "|---|---|---|---|---|"]
        for number, row in enumerate(self.rows, start=1):
            when = " and ".join(
                f"`{name}`" if row.when[name] else f"not `{name}`"
                for name in self.fact_names
                if name in row.when
            )
            lines.append(
                f"| {number} | `{row.id}` | {when or 'always'} | `{row.outcome}` | "
                f"{row.description} |"
            )
        return "\n".join(lines) + "\n"


class LazyFacts(Mapping[str, bool], Generic[SubjectT]):
    """Facts about ``subject``, each computed on first read and remembered.

    ``compute`` maps each fact name to a function of the subject; reading a name it lacks
    raises :class:`KeyError`, as any mapping does. The functions are declared once per table,
    so building the facts of one case costs one small object.
    """

    __slots__ = ("_compute", "_known", "_subject")

    def __init__(
        self, compute: Mapping[str, Callable[[SubjectT], bool]], subject: SubjectT
    ) -> None:
        self._compute = compute
        self._subject = subject
        self._known: dict[str, bool] = {}

    def __getitem__(self, name: str) -> bool:
        value = self._known.get(name)
        if value is None:
            value = self._known[name] = self._compute[name](self._subject)
        return value

    def __contains__(self, name: object) -> bool:
        return name in self._compute

    def __iter__(self) -> Iterator[str]:
        return iter(self._compute)

    def __len__(self) -> int:
        return len(self._compute)

    @property
    def computed(self) -> Mapping[str, bool]:
        """The facts read so far, in the order they were first read."""
        return dict(self._known)


# --------------------------------------------------------------------------- consumer review

CONSUMER_REVIEW: Final = ApprovalTable(
    name="consumer_review",
    description="Whether a new order must wait for the consumer side to approve it.",
    facts=(
        ApprovalFact("placed_by_system", "The system placed the order (it has no creator)."),
        ApprovalFact("creator_is_staff", "The creator is a staff user."),
        ApprovalFact("project_auto_approves", "The project has auto_approve on."),
        ApprovalFact(
            "offering_private", "The offering is private to an organization or a project."
        ),
        ApprovalFact(
            "creator_approves_private_orders",
            "The creator holds order.approve_private on the project (or its organization).",
        ),
        ApprovalFact(
            "offering_of_own_organization",
            "The offering's provider is the project's own organization.",
        ),
        ApprovalFact(
            "auto_approve_in_provider_projects",
            "The offering has its option auto_approve_in_service_provider_projects on.",
        ),
        ApprovalFact("termination", "The order is a terminate order."),
        ApprovalFact(
            "creator_approves_for_provider",
            "The creator holds order.approve on the offering (or its provider organization).",
        ),
        ApprovalFact(
            "creator_approves_orders",
            "The creator holds order.approve on the project (or its organization).",
        ),
    ),
    outcomes=(NEEDED, SKIPPED),
    rows=(
        ApprovalRow(
            "system-creator",
            {"placed_by_system": True},
            SKIPPED,
            "An order the system placed has nobody to approve it on the consumer side.",
        ),
        ApprovalRow(
            "staff-creator",
            {"creator_is_staff": True},
            SKIPPED,
            "Staff may approve anything, so their own orders need no approval.",
        ),
        ApprovalRow(
            "project-auto-approves",
            {"project_auto_approves": True},
            SKIPPED,
            "A project with auto-approval on approves every order placed in it.",
        ),
        ApprovalRow(
            "private-offering-approver",
            {"offering_private": True, "creator_approves_private_orders": True},
            SKIPPED,
            "A creator who approves private orders in the project approves their own order "
            "for a private offering.",
        ),
        ApprovalRow(
            "own-organization-auto-approve",
            {
                "offering_private": False,
                "offering_of_own_organization": True,
                "auto_approve_in_provider_projects": True,
            },
            SKIPPED,
            "A non-private offering of the ordering organization itself, with "
            "auto_approve_in_service_provider_projects on, is approved automatically.",
        ),
        ApprovalRow(
            "termination-by-provider-approver",
            {"termination": True, "creator_approves_for_provider": True},
            SKIPPED,
            "A termination placed by someone who approves orders for the provider needs no "
            "consumer approval.",
        ),
        ApprovalRow(
            "creator-approves-orders",
            {"creator_approves_orders": True},
            SKIPPED,
            "A creator who approves orders in the project approves their own order.",
        ),
        ApprovalRow(
            "review-needed",
            {},
            NEEDED,
            "Otherwise the order waits in pending-consumer for someone who approves orders "
            "in the project.",
        ),
    ),
)


class _ConsumerCase(NamedTuple):
    order_type: OrderType
    creator: User | None
    project: Project
    offering: Offering
    may: May


def _in_project(case: _ConsumerCase) -> Scope:
    return project_scope(case.project.id, case.project.organization_id)


_CONSUMER_FACTS: Final[Mapping[str, Callable[[_ConsumerCase], bool]]] = {
    "placed_by_system": lambda c: c.creator is None,
    "creator_is_staff": lambda c: c.creator is not None and c.creator.is_staff,
    "project_auto_approves": lambda c: c.project.auto_approve,
    "offering_private": lambda c: is_private(c.offering.visibility),
    "creator_approves_private_orders": lambda c: c.may(
        Permission.ORDER_APPROVE_PRIVATE, _in_project(c)
    ),
    "offering_of_own_organization": lambda c: c.offering.provider_id == c.project.organization_id,
    "auto_approve_in_provider_projects": lambda c: (
        c.offering.options.auto_approve_in_service_provider_projects
    ),
    "termination": lambda c: c.order_type is OrderType.TERMINATE,
    "creator_approves_for_provider": lambda c: c.may(
        Permission.ORDER_APPROVE, offering_scope(c.offering.id, c.offering.provider_id)
    ),
    "creator_approves_orders": lambda c: c.may(Permission.ORDER_APPROVE, _in_project(c)),
}


def consumer_review_facts(
    order_type: OrderType,
    creator: User | None,
    project: Project,
    offering: Offering,
    creator_may: May,
) -> Mapping[str, bool]:
    """The facts :data:`CONSUMER_REVIEW` tests, each computed when first read.

    ``creator_may`` answers for the creator; it is asked only for the three facts about
    the creator's permissions, and only if the decision reads them.
    """
    return LazyFacts(
        _CONSUMER_FACTS, _ConsumerCase(order_type, creator, project, offering, creator_may)
    )


def consumer_review_row(
    order_type: OrderType,
    creator: User | None,
    project: Project,
    offering: Offering,
    creator_may: May,
) -> ApprovalRow:
    """The row of :data:`CONSUMER_REVIEW` that decides this order."""
    return CONSUMER_REVIEW.decide(
        consumer_review_facts(order_type, creator, project, offering, creator_may)
    )


def needs_consumer_review(
    order_type: OrderType,
    creator: User | None,
    project: Project,
    offering: Offering,
    creator_may: May,
) -> bool:
    """Whether an order must wait for the consumer side to approve it.

    Decided by :data:`CONSUMER_REVIEW`: the review is skipped when the system placed the
    order (``creator`` is ``None``); the creator is staff; the project has auto-approval on;
    the offering is private and the creator may approve private orders in the project; the
    offering is not private, belongs to the ordering organization and has
    ``auto_approve_in_service_provider_projects`` on; it is a termination placed by someone
    who approves orders for the provider; or the creator may approve orders in the project.
    """
    row = consumer_review_row(order_type, creator, project, offering, creator_may)
    return row.outcome == NEEDED


# --------------------------------------------------------------------------- provider review

PROVIDER_REVIEW: Final = ApprovalTable(
    name="provider_review",
    description="Whether an order the consumer side is done with must wait for the provider "
    "side to approve it.",
    facts=(
        ApprovalFact(
            "offering_sets_review",
            "The offering's option needs_provider_review is set (true or false, not null).",
        ),
        ApprovalFact(
            "offering_requires_review", "The offering's option needs_provider_review is true."
        ),
        ApprovalFact(
            "plugin_requires_review",
            "The offering's plugin needs a provider review by default.",
        ),
        ApprovalFact(
            "consumer_reviewed_by_system",
            "The consumer side was reviewed by the system, not by a user.",
        ),
        ApprovalFact(
            "reviewer_approves_for_provider",
            "The consumer reviewer holds order.approve on the offering (or its provider "
            "organization).",
        ),
    ),
    outcomes=(NEEDED, SKIPPED),
    rows=(
        ApprovalRow(
            "offering-waives-review",
            {"offering_sets_review": True, "offering_requires_review": False},
            SKIPPED,
            "An offering whose needs_provider_review is false needs no provider review.",
        ),
        ApprovalRow(
            "plugin-waives-review",
            {"offering_sets_review": False, "plugin_requires_review": False},
            SKIPPED,
            "An offering that leaves needs_provider_review unset follows its plugin, which "
            "needs no provider review.",
        ),
        ApprovalRow(
            "consumer-reviewed-by-system",
            {"consumer_reviewed_by_system": True},
            SKIPPED,
            "An order the system reviewed for the consumer is not held for the provider.",
        ),
        ApprovalRow(
            "reviewer-approves-for-provider",
            {"reviewer_approves_for_provider": True},
            SKIPPED,
            "A consumer reviewer who also approves orders for the provider leaves nothing "
            "to review.",
        ),
        ApprovalRow(
            "review-needed",
            {},
            NEEDED,
            "Otherwise the order waits in pending-provider for someone who approves orders "
            "for the offering.",
        ),
    ),
)


class _ProviderCase(NamedTuple):
    offering: Offering
    plugin: PluginCapabilities
    reviewer: User | None
    may: May


_PROVIDER_FACTS: Final[Mapping[str, Callable[[_ProviderCase], bool]]] = {
    "offering_sets_review": lambda c: c.offering.options.needs_provider_review is not None,
    "offering_requires_review": lambda c: c.offering.options.needs_provider_review is True,
    "plugin_requires_review": lambda c: c.plugin.needs_provider_review,
    "consumer_reviewed_by_system": lambda c: c.reviewer is None,
    "reviewer_approves_for_provider": lambda c: c.may(
        Permission.ORDER_APPROVE, offering_scope(c.offering.id, c.offering.provider_id)
    ),
}


def provider_review_facts(
    offering: Offering,
    plugin: PluginCapabilities,
    consumer_reviewer: User | None,
    reviewer_may: May,
) -> Mapping[str, bool]:
    """The facts :data:`PROVIDER_REVIEW` tests, each computed when first read.

    ``reviewer_may`` answers for the consumer reviewer and is asked at most once.
    """
    return LazyFacts(
        _PROVIDER_FACTS, _ProviderCase(offering, plugin, consumer_reviewer, reviewer_may)
    )


def provider_review_row(
    offering: Offering,
    plugin: PluginCapabilities,
    consumer_reviewer: User | None,
    reviewer_may: May,
) -> ApprovalRow:
    """The row of :data:`PROVIDER_REVIEW` that decides this order."""
    return PROVIDER_REVIEW.decide(
        provider_review_facts(offering, plugin, consumer_reviewer, reviewer_may)
    )


def needs_provider_review(
    offering: Offering,
    plugin: PluginCapabilities,
    consumer_reviewer: User | None,
    reviewer_may: May,
) -> bool:
    """Whether an order must wait for the provider side to approve it.

    Decided by :data:`PROVIDER_REVIEW`: needed when the offering says so
    (``options.needs_provider_review``), or, when it says nothing, when the plugin needs it
    by default. Skipped when the consumer side was reviewed by the system, or by someone who
    approves orders for the provider: the provider's owner ordering from its own offering
    has nothing left to review.
    """
    row = provider_review_row(offering, plugin, consumer_reviewer, reviewer_may)
    return row.outcome == NEEDED


# --------------------------------------------------------------------------- next step

NEXT_STEP: Final = ApprovalTable(
    name="next_step",
    description="Which order event fires once the consumer side is done with an order (or "
    "its project releases it).",
    facts=(
        ApprovalFact(
            "project_started", "The project has no start date, or it is today or earlier."
        ),
        ApprovalFact("provider_review_needed", "The provider_review table decides needed."),
    ),
    outcomes=(
        OrderEvent.HOLD_FOR_PROJECT.value,
        OrderEvent.REQUEST_PROVIDER_REVIEW.value,
        OrderEvent.EXECUTE.value,
    ),
    rows=(
        ApprovalRow(
            "project-not-started",
            {"project_started": False},
            OrderEvent.HOLD_FOR_PROJECT.value,
            "An order of a project that has not started waits in pending-project.",
        ),
        ApprovalRow(
            "provider-review-needed",
            {"provider_review_needed": True},
            OrderEvent.REQUEST_PROVIDER_REVIEW.value,
            "An order the provider must review waits in pending-provider.",
        ),
        ApprovalRow(
            "execute",
            {},
            OrderEvent.EXECUTE.value,
            "Otherwise the order executes, its provider review stamped automatic.",
        ),
    ),
)

_EVENTS: Final = {event.value: event for event in OrderEvent}


def next_step(*, project_started: bool, provider_review_needed: bool) -> OrderEvent:
    """Where an order consumer-reviewed (or released by its project) goes next, as decided
    by :data:`NEXT_STEP`."""
    row = NEXT_STEP.decide(
        {"project_started": project_started, "provider_review_needed": provider_review_needed}
    )
    return _EVENTS[row.outcome]


APPROVAL_TABLES: Final = (CONSUMER_REVIEW, PROVIDER_REVIEW, NEXT_STEP)
"""Every approval table, in the order an order meets them."""


def approval_tables() -> dict[str, object]:
    """Every approval table as plain JSON-ready data keyed by table name, in the order of
    :data:`APPROVAL_TABLES`; the same input always gives the same output."""
    return {table.name: table.to_table() for table in APPROVAL_TABLES}
