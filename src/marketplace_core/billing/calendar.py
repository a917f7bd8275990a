"""Billing months, limit periods and billing slots, all in UTC.

A billing month is named by its first day (``date(2026, 11, 1)``); its instants are the
half-open interval ``[first day 00:00, first day of the next month 00:00)``. A *slot* is the
smallest piece of time a plan unit bills: an hour for hourly plans, a day for every other
unit.
"""

from __future__ import annotations

import calendar
import enum
from datetime import UTC, date, datetime, time, timedelta

from marketplace_core.offerings import LimitPeriod, PlanUnit

ONE_DAY = timedelta(days=1)
ONE_HOUR = timedelta(hours=1)


def month_of(moment: datetime | date) -> date:
    """The billing month (its first day) that ``moment`` falls in."""
    return date(moment.year, moment.month, 1)


def add_months(month: date, count: int) -> date:
    """The month ``count`` months after ``month`` (negative: before)."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def days_in_month(month: date) -> int:
    """How many days ``month`` has."""
    return calendar.monthrange(month.year, month.month)[1]


def midnight(day: date) -> datetime:
    """``day`` at 00:00 UTC."""
    return datetime.combine(day, time(), UTC)


def month_start(month: date) -> datetime:
    """The first instant of ``month``."""
    return midnight(month)


def month_end(month: date) -> datetime:
    """The first instant after ``month`` (the end of its half-open interval)."""
    return midnight(add_months(month, 1))


def limit_period_bounds(period: LimitPeriod, month: date) -> tuple[date, date]:
    """The months ``[first, end)`` of the limit period containing ``month``.

    Quarters are calendar quarters and years calendar years (UTC), like the policy periods.
    ``total`` has no bounds; asking for them is a programming error.
    """
    if period is LimitPeriod.MONTH:
        return month, add_months(month, 1)
    if period is LimitPeriod.QUARTER:
        first = date(month.year, (month.month - 1) // 3 * 3 + 1, 1)
        return first, add_months(first, 3)
    if period is LimitPeriod.ANNUAL:
        return date(month.year, 1, 1), date(month.year + 1, 1, 1)
    raise ValueError("a total limit period has no calendar bounds")


class Slot(enum.Enum):
    """The smallest piece of time a plan unit bills; a started slot is billed whole."""

    HOUR = "hour"
    DAY = "day"


SLOT_OF_UNIT = {
    PlanUnit.HOUR: Slot.HOUR,
    PlanUnit.DAY: Slot.DAY,
    PlanUnit.HALF_MONTH: Slot.DAY,
    PlanUnit.MONTH: Slot.DAY,
    PlanUnit.QUANTITY: Slot.DAY,
}
"""Which slot each plan unit counts in."""


def coarsest_slot(*units: PlanUnit) -> Slot:
    """The largest slot among the units' slots: where a change between items of these units
    is aligned, so each slot is billed by one of them."""
    return Slot.DAY if any(SLOT_OF_UNIT[unit] is Slot.DAY for unit in units) else Slot.HOUR


def floor_slot(moment: datetime, slot: Slot) -> datetime:
    """The start of the slot ``moment`` falls in."""
    if slot is Slot.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    return midnight(moment.date())


def ceil_slot(moment: datetime, slot: Slot) -> datetime:
    """The end of the slot ``moment`` falls in (``moment`` itself when it starts a slot)."""
    start = floor_slot(moment, slot)
    if start == moment:
        return moment
    return start + (ONE_HOUR if slot is Slot.HOUR else ONE_DAY)


class Boundary(enum.Enum):
    """Who bills the slot in which one item ends and the next begins.

    ``LATER``: the item that starts there (activation, a plan switch, a limit increase).
    ``EARLIER``: the item that ends there (termination, a limit decrease).
    """

    LATER = "later"
    EARLIER = "earlier"


def align(moment: datetime, slot: Slot, boundary: Boundary) -> datetime:
    """Where the billed slots of two items meet when the change happens at ``moment``."""
    if boundary is Boundary.LATER:
        return floor_slot(moment, slot)
    return ceil_slot(moment, slot)
