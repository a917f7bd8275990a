"""Two units of work that race to create the same billing record: the later commit fails
with a conflict and writes nothing, so no month is billed twice and no invoice doubled."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from marketplace_core import ConflictError, ErrorCode, Rounding
from marketplace_core.authorization import RoleAuthorizer
from marketplace_core.ports import UnitOfWork
from marketplace_core.roles import DEFAULT_ROLE_PERMISSIONS
from marketplace_core.services.charging import bill_through
from marketplace_core.services.context import Context
from marketplace_core.services.usage import report_usage
from tests.support import World

FEB = date(2026, 2, 1)


def context(world: World, uow: UnitOfWork) -> Context:
    """What the facade would build for a command on ``uow``."""
    return Context(
        uow=uow,
        now=world.clock.now(),
        ids=world.marketplace.ids,
        authorizer=RoleAuthorizer(uow.role_grants, DEFAULT_ROLE_PERMISSIONS),
        plugins=world.marketplace.plugins,
        rounding=Rounding(),
    )


def test_two_writers_opening_the_same_month_conflict(world: World):
    resource = world.live_basic()  # January is billed from the activation
    world.clock.set(datetime(2026, 2, 2, 8, tzinfo=UTC))
    with world.storage.unit_of_work() as first, world.storage.unit_of_work() as second:
        bill_through(context(world, first), first.resources.get(resource.id), FEB)
        bill_through(context(world, second), second.resources.get(resource.id), FEB)
        first.commit()
        with pytest.raises(ConflictError) as refused:
            second.commit()
    assert refused.value.code is ErrorCode.STALE_VERSION
    february = [i for i in world.marketplace.list_resource_items(resource.id) if i.month == FEB]
    # One base and one storage item, not two of each.
    assert sorted(i.component_type for i in february) == ["base", "storage"]
    invoice = world.marketplace.find_invoice(world.consumer.id, FEB)
    assert invoice is not None
    assert [i.id for i in world.marketplace.list_invoices(world.consumer.id)].count(invoice.id) == 1


def test_two_reports_racing_to_open_the_usage_item_conflict(world: World):
    resource = world.live_basic()
    with world.storage.unit_of_work() as first, world.storage.unit_of_work() as second:
        reporter = world.provider_owner.id
        report_usage(context(world, first), reporter, resource.id, "cpu", 5, idempotency_key="a")
        report_usage(context(world, second), reporter, resource.id, "cpu", 7, idempotency_key="b")
        first.commit()
        with pytest.raises(ConflictError):
            second.commit()
    cpu = [
        i for i in world.marketplace.list_resource_items(resource.id) if i.component_type == "cpu"
    ]
    assert [(i.quantity, i.price) for i in cpu] == [(Decimal(5), Decimal("0.25"))]


def test_one_idempotency_key_sent_twice_at_once_is_accepted_once(world: World):
    resource = world.live_basic()
    with world.storage.unit_of_work() as first, world.storage.unit_of_work() as second:
        for uow in (first, second):
            report_usage(
                context(world, uow),
                world.provider_owner.id,
                resource.id,
                "cpu",
                5,
                idempotency_key="same",
            )
        first.commit()
        with pytest.raises(ConflictError):
            second.commit()
    assert len(world.marketplace.list_usage_reports(resource.id, "cpu")) == 1
