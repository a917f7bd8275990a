"""The repositories of the SQL adapters: reads from the database merged with the unit's
staged writes (see :mod:`.staging`), writes staged until commit.

When the storage keeps a :class:`~.cache.ReadCache`, reads by id and keyed queries are
answered from it when they can (see :mod:`.cache` for why that stays exact); the unit's
:class:`UnitReads` checks it for other connections' commits before the unit's first read.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from typing import Any, TypeVar

from marketplace_core.adapters import repositories as queries
from marketplace_core.adapters.sql import codec
from marketplace_core.adapters.sql.cache import MISSING, Found, ReadCache, TableCache
from marketplace_core.adapters.sql.cache import Row as DecodedRow
from marketplace_core.adapters.sql.database import SqlDatabase
from marketplace_core.adapters.sql.staging import SqlStaged
from marketplace_core.adapters.sql.tables import Key, sql_value
from marketplace_core.billing.credits import Credit
from marketplace_core.billing.invoices import Invoice
from marketplace_core.billing.items import InvoiceItem
from marketplace_core.billing.usage import UsageReport
from marketplace_core.errors import ConflictError, ErrorCode, NotFoundError
from marketplace_core.frozen import replace
from marketplace_core.offerings import Offering, Plan
from marketplace_core.orders import Order
from marketplace_core.organizations import Project
from marketplace_core.policies import MonthlyTotal, Policy
from marketplace_core.ports import Versioned
from marketplace_core.quotas import DenyRule, Quota
from marketplace_core.resources import Resource
from marketplace_core.roles import RoleGrant
from marketplace_core.users import User

EntityT = TypeVar("EntityT", bound=Versioned)

KEPT_ROWS = 20_000
"""A table's rows kept by id in the cache before they are dropped to start again."""
KEPT_ANSWER = 1_000
"""The longest answer of a keyed query the cache keeps."""


def _always(entity: object) -> bool:
    return True


@functools.cache
def _where(columns: tuple[str, ...]) -> str:
    return " AND ".join(f"{column} = ?" for column in columns)


@functools.cache
def _select(table: str, columns: tuple[str, ...] | None, limit: int | None) -> str:
    """The statement reading ``seq, id, doc`` of the rows whose key ``columns`` equal the
    parameters (every row when ``columns`` is ``None``), oldest first, at most ``limit``."""
    where = "" if columns is None else f" WHERE {_where(columns)}"
    tail = "" if limit is None else f" LIMIT {max(limit, 0):d}"
    return f"SELECT seq, id, doc FROM {table}{where} ORDER BY seq{tail}"


class UnitReads:
    """A unit of work's access to its storage's :class:`ReadCache`: checked for other
    connections' commits before the unit's first read, and again after each commit."""

    __slots__ = ("cache", "fresh")

    def __init__(self, cache: ReadCache) -> None:
        self.cache = cache
        self.fresh = False

    def check(self) -> None:
        """Check the cache before the next read."""
        self.cache.refresh()
        self.fresh = True


class SqlRepository(queries.KeyedRepository[EntityT]):
    """A repository over one table, through one unit of work (and its storage's cache of
    committed rows, when ``reads`` is given)."""

    def __init__(
        self, database: SqlDatabase, staged: SqlStaged[EntityT], reads: UnitReads | None = None
    ) -> None:
        self._database = database
        self._staged = staged
        self._table = staged.table
        self._name = staged.table.name
        self._reads = reads
        self._cache = None if reads is None else reads.cache.table(self._name)

    # ------------------------------------------------------------------ reads

    def _cached(self) -> TableCache | None:
        """The table's cache, checked once per unit; ``None`` without one."""
        reads = self._reads
        if reads is not None and not reads.fresh:
            reads.check()
        return self._cache

    def _committed(self, entity_id: str) -> Found:
        """The committed ``(seq, entity)`` of ``entity_id``, or ``None``."""
        cache = self._cached()
        generation = 0
        if cache is not None:
            found: Found = cache.rows.get(entity_id, MISSING)
            if found is not MISSING:
                return found
            generation = cache.generation
        rows = self._database.fetch(f"SELECT seq, doc FROM {self._name} WHERE id = ?", (entity_id,))
        found = (rows[0][0], self._staged.decode(rows[0][1])) if rows else None
        if cache is not None:
            if len(cache.rows) >= KEPT_ROWS:
                cache.rows.clear()
            cache.keep_row(entity_id, found, generation)
        return found

    def _current(self, entity_id: str) -> tuple[EntityT | None, int | None]:
        """What the unit sees under ``entity_id``, and its committed ``seq`` if read from
        the database."""
        writes = self._staged.writes
        if entity_id in writes:
            return writes[entity_id], None
        committed = self._committed(entity_id)
        if committed is None:
            return None, None
        return committed[1], committed[0]

    def get(self, entity_id: str) -> EntityT:
        """The entity with this id; raises ``NotFoundError``."""
        entity = self.find(entity_id)
        if entity is None:
            raise NotFoundError(self._table.entity, entity_id)
        return entity

    def find(self, entity_id: str) -> EntityT | None:
        """The entity with this id, or ``None``."""
        writes = self._staged.writes
        if entity_id in writes:
            return writes[entity_id]
        committed = self._committed(entity_id)
        return None if committed is None else committed[1]

    def all(self) -> Sequence[EntityT]:
        """Every entity, oldest first."""
        staged = self._staged
        with codec.collector_paused():
            if not staged.writes:
                rows = self._database.fetch(f"SELECT doc FROM {self._name} ORDER BY seq")
                return staged.decode_all([document for (document,) in rows])
            return staged.listing(self._decoded(_select(self._name, None, None), ()), _always)

    def _decoded(self, sql: str, parameters: Sequence[Any]) -> list[DecodedRow]:
        rows = self._database.fetch(sql, parameters)
        entities = self._staged.decode_all([document for _, _, document in rows])
        return [(row[0], row[1], entity) for row, entity in zip(rows, entities, strict=True)]

    def _answer(self, index: str, key: Key, limit: int | None = None) -> list[DecodedRow]:
        """The committed rows under ``key`` of ``index``, decoded, oldest first, at most
        ``limit``."""
        cache = self._cached()
        query = (index, key, limit)
        generation = 0
        if cache is not None:
            answer = cache.answers.get(query)
            if answer is not None:
                return answer
            generation = cache.generation
        answer = self._decoded(
            _select(self._name, self._table.indexes[index], limit),
            [sql_value(value) for value in key],
        )
        if cache is not None and len(answer) <= KEPT_ANSWER:
            cache.keep_answer(query, answer, generation)
        return answer

    def _by(self, index: str, key: Key, limit: int | None = None) -> list[EntityT]:
        """The entities under ``key`` of ``index`` in the unit's view, oldest first."""
        staged = self._staged
        if not staged.writes:
            return [entity for _, _, entity in self._answer(index, key, limit)]
        key_of = staged.key_functions[index]
        found = staged.listing(
            self._answer(index, key),
            lambda entity: key_of(entity) == key,
            staged.written_under(index, key),
        )
        return found if limit is None else found[: max(limit, 0)]

    def _count(self, index: str, key: Key) -> int:
        parameters = [sql_value(value) for value in key]
        clause, name = _where(self._table.indexes[index]), self._name
        if not self._staged.writes:
            rows = self._database.fetch(f"SELECT COUNT(*) FROM {name} WHERE {clause}", parameters)
            count: int = rows[0][0]
            return count
        rows = self._database.fetch(f"SELECT id FROM {name} WHERE {clause}", parameters)
        key_of = self._staged.key_functions[index]
        return self._staged.count(
            {entity_id for (entity_id,) in rows},
            lambda entity: key_of(entity) == key,
        )

    # ------------------------------------------------------------------ writes

    def add(self, entity: EntityT) -> EntityT:
        """Stage a new entity and return it at version 1."""
        staged = self._staged
        taken = entity.id in staged.writes or self._committed(entity.id) is not None
        if taken:
            raise ConflictError(
                ErrorCode.ALREADY_EXISTS,
                f"{self._table.entity} {entity.id!r} already exists",
                entity=self._table.entity,
                id=entity.id,
            )
        stored = replace(entity, version=1)
        staged.write(entity.id, stored, 0, None)
        return stored

    def update(self, entity: EntityT) -> EntityT:
        """Stage a new snapshot of a stored entity and return it at version + 1."""
        position = self._check_current(entity)
        stored = replace(entity, version=entity.version + 1)
        self._staged.write(entity.id, stored, entity.version, position)
        return stored

    def _remove(self, entity: EntityT) -> None:
        position = self._check_current(entity)
        self._staged.write(entity.id, None, entity.version, position)

    def _check_current(self, entity: EntityT) -> int | None:
        current, position = self._current(entity.id)
        if current is None:
            raise NotFoundError(self._table.entity, entity.id)
        if current.version != entity.version:
            raise ConflictError(
                ErrorCode.STALE_VERSION,
                f"{self._table.entity} {entity.id!r} was changed by someone else: "
                f"you have version {entity.version}, storage has {current.version}; "
                "reload and retry",
                entity=self._table.entity,
                id=entity.id,
                expected_version=entity.version,
                actual_version=current.version,
            )
        return position


class SqlProjectRepository(SqlRepository[Project], queries.ProjectQueries):
    """Projects, indexed by organization."""


class SqlUserRepository(SqlRepository[User], queries.UserQueries):
    """Users, indexed by username (unique, compared exactly)."""


class SqlRoleGrantRepository(SqlRepository[RoleGrant], queries.RoleGrantQueries):
    """Role grants, indexed by user and by scope."""


class SqlOfferingRepository(SqlRepository[Offering], queries.OfferingQueries):
    """Offerings, indexed by provider."""


class SqlPlanRepository(SqlRepository[Plan], queries.PlanQueries):
    """Plans, indexed by offering."""


class SqlResourceRepository(SqlRepository[Resource], queries.ResourceQueries):
    """Resources, indexed by project, offering and live plan."""


class SqlOrderRepository(SqlRepository[Order], queries.OrderQueries):
    """Orders, indexed by resource, project and state."""


class SqlInvoiceRepository(SqlRepository[Invoice], queries.InvoiceQueries):
    """Invoices, indexed by organization, month and state."""


class SqlInvoiceItemRepository(SqlRepository[InvoiceItem], queries.InvoiceItemQueries):
    """Invoice items, indexed by invoice, by resource and by resource and month."""


class SqlUsageReportRepository(SqlRepository[UsageReport], queries.UsageReportQueries):
    """Usage reports, indexed by idempotency key and by resource component."""

    def latest(self, resource_id: str, component_type: str, month: date) -> UsageReport | None:
        """The report accepted last for the month (reports are only ever added)."""
        key = (resource_id, component_type, month)
        staged = self._staged
        written = [
            entity
            for entity_id in staged.written_under("component_month", key)
            if (entity := staged.writes.get(entity_id)) is not None
            and staged.key_functions["component_month"](entity) == key
        ]
        if written:
            return max(written, key=lambda report: staged.sequence[report.id])
        clause = _where(self._table.indexes["component_month"])
        rows = self._database.fetch(
            f"SELECT doc FROM usage_reports WHERE {clause} ORDER BY seq DESC LIMIT 1",
            [sql_value(value) for value in key],
        )
        return staged.decode(rows[0][0]) if rows else None


class SqlCreditRepository(SqlRepository[Credit], queries.CreditQueries):
    """Credits, indexed by organization."""


class SqlPolicyRepository(SqlRepository[Policy], queries.PolicyQueries):
    """Policies, indexed by scope."""


class SqlMonthlyTotalRepository(SqlRepository[MonthlyTotal], queries.MonthlyTotalQueries):
    """Monthly totals, indexed by scope."""


class SqlQuotaRepository(SqlRepository[Quota], queries.QuotaQueries):
    """Quotas, indexed by scope."""


class SqlDenyRuleRepository(SqlRepository[DenyRule], queries.DenyRuleQueries):
    """Deny rules, indexed by subject."""
