"""The repositories of the SQLite adapter: reads from the database merged with the unit's
staged writes (see :mod:`.staging`), writes staged until commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TypeVar

from marketplace_core.adapters import repositories as queries
from marketplace_core.adapters.sql.database import Row, SqlDatabase
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


def _always(entity: object) -> bool:
    return True


class SqlRepository(queries.KeyedRepository[EntityT]):
    """A repository over one table, through one unit of work."""

    def __init__(self, database: SqlDatabase, staged: SqlStaged[EntityT]) -> None:
        self._database = database
        self._staged = staged
        self._table = staged.table

    # ------------------------------------------------------------------ reads

    def _committed(self, entity_id: str) -> tuple[int, EntityT] | None:
        rows = self._database.fetch(
            f"SELECT seq, doc FROM {self._table.name} WHERE id = ?", (entity_id,)
        )
        if not rows:
            return None
        seq, document = rows[0]
        return seq, self._staged.decode(document)

    def _current(self, entity_id: str) -> tuple[EntityT | None, int | None]:
        """What the unit sees under ``entity_id``, and its committed ``seq`` if read from
        the database."""
        if entity_id in self._staged.writes:
            return self._staged.writes[entity_id], None
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
        return self._current(entity_id)[0]

    def all(self) -> Sequence[EntityT]:
        """Every entity, oldest first."""
        rows = self._database.fetch(f"SELECT seq, id, doc FROM {self._table.name} ORDER BY seq")
        return self._staged.listing(rows, _always)

    def _where(self, index: str, key: Key) -> tuple[str, list[object]]:
        columns = self._table.indexes[index]
        clause = " AND ".join(f"{column} = ?" for column in columns)
        return clause, [sql_value(value) for value in key]

    def _rows(self, index: str, key: Key, limit: int | None = None) -> list[Row]:
        clause, parameters = self._where(index, key)
        sql = f"SELECT seq, id, doc FROM {self._table.name} WHERE {clause} ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {max(limit, 0):d}"
        return self._database.fetch(sql, parameters)

    def _by(self, index: str, key: Key, limit: int | None = None) -> list[EntityT]:
        """The entities under ``key`` of ``index`` in the unit's view, oldest first."""
        staged, table = self._staged, self._table
        if not staged.writes:
            return [staged.decode(document) for _, _, document in self._rows(index, key, limit)]
        found = staged.listing(
            self._rows(index, key),
            lambda entity: table.key_of(index, entity) == key,
            staged.written_under(index, key),
        )
        return found if limit is None else found[: max(limit, 0)]

    def _count(self, index: str, key: Key) -> int:
        clause, parameters = self._where(index, key)
        name = self._table.name
        if not self._staged.writes:
            rows = self._database.fetch(f"SELECT COUNT(*) FROM {name} WHERE {clause}", parameters)
            count: int = rows[0][0]
            return count
        rows = self._database.fetch(f"SELECT id FROM {name} WHERE {clause}", parameters)
        table = self._table
        return self._staged.count(
            {entity_id for (entity_id,) in rows},
            lambda entity: table.key_of(index, entity) == key,
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
            and self._table.key_of("component_month", entity) == key
        ]
        if written:
            return max(written, key=lambda report: staged.sequence[report.id])
        clause, parameters = self._where("component_month", key)
        rows = self._database.fetch(
            f"SELECT doc FROM usage_reports WHERE {clause} ORDER BY seq DESC LIMIT 1", parameters
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
