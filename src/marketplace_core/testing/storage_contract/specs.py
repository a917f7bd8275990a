"""How the storage contract suite exercises each repository: :class:`AggregateSpec` and its
:class:`KeyedQuery` objects, one spec per repository in :data:`AGGREGATES`, and what
:mod:`marketplace_core.ports` declares (:func:`unit_of_work_repositories`,
:func:`protocol_methods`), which the suite's coverage guards compare them with.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import attrs

from marketplace_core import ports
from marketplace_core.billing.invoices import InvoiceState
from marketplace_core.orders import OrderState
from marketplace_core.roles import ScopeKind
from marketplace_core.testing.storage_contract.samples import FEBRUARY, MARCH, sample_entities


class Answer(enum.Enum):
    """What a keyed query answers with."""

    LIST = "list"
    """Every matching entity, oldest first."""
    ONE = "one"
    """The only matching entity, or ``None`` (the key is unique)."""
    LATEST = "latest"
    """The matching entity added last, or ``None``."""
    COUNT = "count"
    """How many matching entities ``counts`` accepts."""


def _always(entity: object) -> bool:
    return True


@attrs.frozen
class KeyedQuery:
    """A repository query selecting entities by the values of some fields.

    ``method`` is called with the key's values, then ``extra`` keyword arguments. ``keys``
    are distinct key values the tests move entities between (five for unique keys, at least
    two otherwise). A query that does not ``follow_updates`` is only promised to be right
    while entities are only ever added (``latest``).
    """

    method: str
    fields: tuple[str, ...]
    keys: tuple[tuple[Any, ...], ...]
    answer: Answer = Answer.LIST
    counts: Callable[[Any], bool] = _always
    follows_updates: bool = True

    @property
    def label(self) -> str:
        """How failures name the query: ``for_component(resource_id, component_type)``."""
        return f"{self.method}({', '.join(self.fields)})"

    def key_of(self, entity: Any) -> tuple[Any, ...]:
        """The key ``entity`` is found under."""
        return tuple(getattr(entity, name) for name in self.fields)

    def rekey(self, entity: Any, key: tuple[Any, ...]) -> Any:
        """``entity`` moved under ``key``."""
        return attrs.evolve(entity, **dict(zip(self.fields, key, strict=True)))

    def ask(self, repository: Any, key: tuple[Any, ...]) -> Any:
        """The repository's answer for ``key``."""
        return getattr(repository, self.method)(*key)

    def expect(self, entities: Sequence[Any], key: tuple[Any, ...]) -> Any:
        """The answer for ``key`` when ``entities`` (oldest first) are stored."""
        matching = [entity for entity in entities if self.key_of(entity) == key]
        if self.answer is Answer.COUNT:
            return sum(1 for entity in matching if self.counts(entity))
        if self.answer is Answer.LATEST:
            return matching[-1] if matching else None
        if self.answer is Answer.ONE:
            assert len(matching) <= 1, f"the suite broke the uniqueness of {self.label}"
            return matching[0] if matching else None
        return matching


_SCRAMBLE = "qcxamtfzbk"


def _scrambled_id(base: str, n: int) -> str:
    """An id for clone ``n`` whose sort order is not the order clones are made in, so that
    listing by id is not mistaken for listing oldest first."""
    return f"{base}~{_SCRAMBLE[n % 10]}{n}"


def _no_unique_fields(entity: Any, n: int) -> dict[str, Any]:
    return {}


@attrs.frozen
class AggregateSpec:
    """How the suite exercises one repository of the unit of work.

    ``samples`` are stored as they are; ``clone`` derives more entities from the first one
    (with a new id, and new values of the fields the domain keeps unique). ``change_field``
    is a field no query looks at, which update tests change. ``removable`` repositories
    declare ``remove``.
    """

    repository: str
    samples: tuple[Any, ...]
    change_field: str
    queries: tuple[KeyedQuery, ...] = ()
    removable: bool = False
    unique_fields: Callable[[Any, int], dict[str, Any]] = _no_unique_fields

    def clone(self, n: int) -> Any:
        """The ``n``-th entity derived from the first sample, at version 0."""
        first = self.samples[0]
        return attrs.evolve(
            first, id=_scrambled_id(first.id, n), version=0, **self.unique_fields(first, n)
        )

    def changed(self, entity: Any) -> Any:
        """``entity`` with ``change_field`` changed (same version, same keys)."""
        value = getattr(entity, self.change_field)
        if isinstance(value, Decimal):
            new: Any = value + Decimal("1.25")
        elif isinstance(value, str):
            new = f"{value} (changed ✎)"
        else:  # pragma: no cover - every change field is a string or a Decimal
            raise TypeError(f"cannot change {self.change_field!r} of {entity!r}")
        return attrs.evolve(entity, **{self.change_field: new})

    @property
    def methods(self) -> frozenset[str]:
        """The repository methods the suite calls."""
        base = {"get", "find", "add", "update", "all"}
        if self.removable:
            base.add("remove")
        return frozenset(base | {query.method for query in self.queries})


def _q(
    method: str, fields: str, *keys: Any, answer: Answer = Answer.LIST, **options: Any
) -> KeyedQuery:
    """A query on the comma-separated ``fields``; each key is a value or a tuple of them."""
    names = tuple(name.strip() for name in fields.split(","))
    key_tuples = tuple(key if isinstance(key, tuple) else (key,) for key in keys)
    return KeyedQuery(method, names, key_tuples, answer, **options)


def _months(n: int) -> date:
    return date(2024 + n // 12, n % 12 + 1, 1)


def _for_scope() -> KeyedQuery:
    """``for_scope`` of the repositories scoped to a project, an organization or an offering."""
    return _q(
        "for_scope",
        "scope_kind, scope_id",
        (ScopeKind.PROJECT, "project-a"),
        (ScopeKind.ORGANIZATION, "project-a"),
        (ScopeKind.OFFERING, "offering-b"),
    )


def _aggregates() -> dict[str, AggregateSpec]:
    samples = sample_entities()

    def aggregate(
        repository: str, change_field: str, queries: tuple[KeyedQuery, ...] = (), **options: Any
    ) -> AggregateSpec:
        return AggregateSpec(repository, samples[repository], change_field, queries, **options)

    org = ScopeKind.ORGANIZATION
    specs = [
        aggregate("organization_groups", "name"),
        aggregate("organizations", "name"),
        aggregate(
            "projects", "name", (_q("for_organization", "organization_id", "org-a", "org-b"),)
        ),
        aggregate(
            "users",
            "full_name",
            (
                _q(
                    "find_by_username",
                    "username",
                    "zoe",
                    "Zoe",
                    "zoë",
                    "zoe.k",
                    "zoe ",
                    answer=Answer.ONE,
                ),
            ),
            unique_fields=lambda user, n: {"username": f"{user.username}-{n}"},
        ),
        aggregate(
            "role_grants",
            "granted_by",
            (_q("for_user", "user_id", "user-a", "user-b"), _for_scope()),
            removable=True,
        ),
        aggregate("providers", "description"),
        aggregate("categories", "title"),
        aggregate("offerings", "name", (_q("for_provider", "provider_id", "org-a", "org-b"),)),
        aggregate(
            "plans", "name", (_q("for_offering", "offering_id", "offering-a", "offering-b"),)
        ),
        aggregate(
            "resources",
            "name",
            (
                _q("for_project", "project_id", "project-a", "project-b"),
                _q("for_offering", "offering_id", "offering-a", "offering-b"),
                _q(
                    "count_live_on_plan",
                    "plan_id",
                    "plan-a",
                    "plan-b",
                    answer=Answer.COUNT,
                    counts=lambda resource: resource.is_live,
                ),
            ),
        ),
        aggregate(
            "orders",
            "error_message",
            (
                _q("for_resource", "resource_id", "resource-a", "resource-b"),
                _q("for_project", "project_id", "project-a", "project-b"),
                _q("in_state", "state", OrderState.PENDING_PROVIDER, OrderState.EXECUTING),
            ),
        ),
        aggregate(
            "invoices",
            "tax_percent",
            (
                _q("for_organization", "organization_id", "org-a", "org-b"),
                _q(
                    "find_for_month",
                    "organization_id, month",
                    ("org-a", date(2030, 1, 1)),
                    ("org-a", date(2030, 2, 1)),
                    ("org-b", date(2030, 1, 1)),
                    ("org-b", date(2030, 3, 1)),
                    ("org-c", date(2031, 12, 1)),
                    answer=Answer.ONE,
                ),
                _q("in_state", "state", InvoiceState.PENDING, InvoiceState.CREATED),
            ),
            unique_fields=lambda invoice, n: {"month": _months(n)},
        ),
        aggregate(
            "invoice_items",
            "name",
            (
                _q("for_invoice", "invoice_id", "invoice-a", "invoice-b"),
                _q("for_resource", "resource_id", "resource-a", "resource-b"),
                _q(
                    "for_resource",
                    "resource_id, month",
                    ("resource-a", MARCH),
                    ("resource-a", FEBRUARY),
                    ("resource-b", MARCH),
                ),
            ),
        ),
        aggregate(
            "usage_reports",
            "description",
            (
                _q(
                    "find_by_key",
                    "idempotency_key",
                    "key-a",
                    "key-b",
                    "key-c",
                    "KEY-A",
                    "key-a ",
                    answer=Answer.ONE,
                ),
                _q(
                    "for_component",
                    "resource_id, component_type",
                    ("resource-a", "cpu_hours"),
                    ("resource-a", "gpu_hours"),
                    ("resource-b", "cpu_hours"),
                ),
                _q(
                    "for_component",
                    "resource_id, component_type, month",
                    ("resource-a", "cpu_hours", MARCH),
                    ("resource-a", "cpu_hours", FEBRUARY),
                    ("resource-b", "cpu_hours", MARCH),
                ),
                _q(
                    "latest",
                    "resource_id, component_type, month",
                    ("resource-a", "cpu_hours", MARCH),
                    ("resource-a", "cpu_hours", FEBRUARY),
                    ("resource-a", "gpu_hours", MARCH),
                    answer=Answer.LATEST,
                    follows_updates=False,
                ),
            ),
            unique_fields=lambda report, n: {"idempotency_key": f"{report.idempotency_key}-{n}"},
        ),
        aggregate(
            "credits", "balance", (_q("for_organization", "organization_id", "org-a", "org-b"),)
        ),
        aggregate("policies", "limit", (_for_scope(),), removable=True),
        aggregate(
            "monthly_totals",
            "cost",
            (_q("for_scope", "scope_kind, scope_id", (org, "org-a"), (org, "org-b")),),
        ),
        aggregate("quotas", "limit", (_for_scope(),)),
        aggregate(
            "deny_rules",
            "target_id",
            (
                _q(
                    "for_subject",
                    "subject_kind, subject_id",
                    (ScopeKind.PROJECT, "project-a"),
                    (ScopeKind.ORGANIZATION, "project-a"),
                ),
            ),
            removable=True,
        ),
    ]
    return {spec.repository: spec for spec in specs}


AGGREGATES: Mapping[str, AggregateSpec] = _aggregates()
"""How the suite exercises each repository, by its name on the unit of work."""


def unit_of_work_repositories() -> dict[str, type]:
    """The repositories :class:`~marketplace_core.ports.UnitOfWork` declares, with their
    protocols, by name."""
    return {
        name: typing.get_type_hints(member.fget)["return"]
        for name, member in vars(ports.UnitOfWork).items()
        if isinstance(member, property) and name != "outbox"
    }


def protocol_methods(protocol: type) -> frozenset[str]:
    """The public methods a repository protocol of :mod:`marketplace_core.ports` declares,
    its bases' included."""
    return frozenset(
        name
        for klass in protocol.__mro__
        if klass.__module__ == ports.__name__
        for name, member in vars(klass).items()
        if callable(member) and not name.startswith("_")
    )
