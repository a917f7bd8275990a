"""Usage stream specs: usage lines with idempotency keys, some deliberately repeated, some
for the month before the current one."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
from hypothesis import strategies as st

from marketplace_core.billing.calendar import add_months, month_of
from marketplace_core.marketplace import Marketplace
from marketplace_core.services.usage import UsageLine
from marketplace_core.testing.strategies.marketplaces import (
    OrderingWorld,
    live_resource,
    movable_clock,
)
from marketplace_core.testing.strategies.values import NAME_CHARACTERS, names

USAGE_COMPONENTS = ("cpu", "storage")
"""The components of :data:`ORDERING_COMPONENTS` that take usage reports."""


@attrs.frozen
class UsageLineSpec:
    """One usage report on resource ``resource`` (an index): for the current month, or with
    ``earlier_month`` for the month before (the month the resources were created in, still
    open). A line that repeats an earlier one (same key, same content) must be answered
    with the earlier report."""

    resource: int
    component_type: str
    amount: Decimal
    idempotency_key: str
    description: str = ""
    earlier_month: bool = False


@attrs.frozen
class UsageStreamSpec:
    """How many live resources to create, and batches of usage lines on them. With
    ``next_month`` the clock moves on to the next month once the resources are created, so
    lines can report for the month before."""

    resource_count: int
    batches: tuple[tuple[UsageLineSpec, ...], ...]
    next_month: bool = False

    @property
    def lines(self) -> tuple[UsageLineSpec, ...]:
        """Every line, in the order reported."""
        return tuple(line for batch in self.batches for line in batch)


@attrs.frozen
class AppliedUsageStream:
    """The live resources :func:`apply_usage_stream` created, and the report id each line
    got and the month (its first day) it reported for (in :attr:`UsageStreamSpec.lines`
    order)."""

    resource_ids: tuple[str, ...]
    report_ids: tuple[str, ...]
    months: tuple[date, ...] = ()


@st.composite
def usage_streams(
    draw: st.DrawFn,
    max_lines: int = 10,
    max_resources: int = 2,
    max_amount: Decimal = Decimal(10) ** 12,
) -> UsageStreamSpec:
    """Usage lines on 1..``max_resources`` live resources of an :class:`OrderingWorld`:
    month-to-date amounts (``Decimal`` s up to ``max_amount``) of its usage and limit
    components, each with a fresh idempotency key or, deliberately, a repeat of an earlier
    line; cut into batches. In half of the streams the clock first moves into the next
    month, and about half of the lines then report for the month before."""
    count = draw(st.integers(1, max_resources))
    next_month = draw(st.booleans())
    lines: list[UsageLineSpec] = []
    for number in range(draw(st.integers(1, max_lines))):
        if lines and draw(st.integers(0, 3)) == 0:
            lines.append(draw(st.sampled_from(lines)))
            continue
        lines.append(
            UsageLineSpec(
                resource=draw(st.integers(0, count - 1)),
                component_type=draw(st.sampled_from(USAGE_COMPONENTS)),
                amount=draw(st.decimals(min_value=0, max_value=max_amount, places=3)),
                idempotency_key=f"{number}-{draw(names(max_size=30))}",
                description=draw(st.text(NAME_CHARACTERS, max_size=30)),
                earlier_month=next_month and draw(st.booleans()),
            )
        )
    cuts = (
        sorted(draw(st.sets(st.integers(1, len(lines) - 1), max_size=3))) if len(lines) > 1 else []
    )
    bounds = [0, *cuts, len(lines)]
    batches = tuple(tuple(lines[start:end]) for start, end in itertools.pairwise(bounds))
    return UsageStreamSpec(count, batches, next_month)


def apply_usage_stream(
    market: Marketplace, world: OrderingWorld, spec: UsageStreamSpec
) -> AppliedUsageStream:
    """Create the live resources, move the clock to the next month when the spec says so
    (it must then be a :class:`~marketplace_core.clocks.FixedClock`), then report each batch
    (one line alone through ``report_usage``, several through ``report_usages``) as the
    provider's owner. Lines of the current month leave ``month`` out; the others name the
    month before."""
    resources = tuple(
        live_resource(market, world, f"metered {index}") for index in range(spec.resource_count)
    )
    earlier = month_of(market.clock.now())
    if spec.next_month:
        clock = movable_clock(market)
        clock.set(datetime.combine(add_months(earlier, 1), clock.now().timetz()).astimezone(UTC))
    current = month_of(market.clock.now())
    report_ids: list[str] = []
    for batch in spec.batches:
        lines = [
            UsageLine(
                resources[line.resource],
                line.component_type,
                line.amount,
                line.idempotency_key,
                month=earlier if line.earlier_month else None,
                description=line.description,
            )
            for line in batch
        ]
        if len(lines) == 1:
            (line,) = lines
            reports = [
                market.report_usage(
                    world.provider_owner_id,
                    line.resource_id,
                    line.component_type,
                    line.amount,
                    idempotency_key=line.idempotency_key,
                    month=line.month,
                    description=line.description,
                )
            ]
        else:
            reports = market.report_usages(world.provider_owner_id, lines)
        report_ids += [report.id for report in reports]
    months = tuple(earlier if line.earlier_month else current for line in spec.lines)
    return AppliedUsageStream(resources, tuple(report_ids), months)
