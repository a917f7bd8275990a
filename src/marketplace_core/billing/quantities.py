"""How much of a plan unit an item bills, and how amounts are rounded.

An item bills the slots in ``[billed_from, billed_to)`` (both on slot boundaries, inside one
month). Its quantity in the plan's unit:

* ``hour``: the number of hours; ``day``: the number of days;
* ``month``: days ÷ days in the month, rounded by the fraction rule;
* ``half_month``: for each half of the month (days 1-15, and 16 to the end), days billed in it
  ÷ days in it, summed, then rounded by the fraction rule (a whole month is 2);
* ``quantity``: as ``month`` (Waldur prorates plans priced per quantity by the month too).
"""

from __future__ import annotations

import decimal
import functools
from datetime import date, datetime
from decimal import Decimal

import attrs

from marketplace_core.billing.calendar import ONE_DAY, ONE_HOUR, days_in_month, midnight
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.offerings import PlanUnit

ROUNDING_MODES = frozenset(
    {
        decimal.ROUND_UP,
        decimal.ROUND_DOWN,
        decimal.ROUND_CEILING,
        decimal.ROUND_FLOOR,
        decimal.ROUND_HALF_UP,
        decimal.ROUND_HALF_DOWN,
        decimal.ROUND_HALF_EVEN,
    }
)

QUANTITY_PLACES = 10
"""Quantities are kept to at most 10 decimal places (a limit divided by its factor)."""

_STEPS = tuple(Decimal(1).scaleb(-places) for places in range(QUANTITY_PLACES + 1))
"""``_STEPS[n]`` is ``10 ** -n``: what amounts are quantized to for ``n`` places."""


def _check_rounding(places: object, mode: object, name: str) -> None:
    if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= 10:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"rounding {name}_places must be an integer from 0 to 10, got {places!r}",
            field=f"{name}_places",
            value=repr(places),
        )
    if mode not in ROUNDING_MODES:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"rounding {name}_mode must be one of the decimal module's ROUND_* names, got {mode!r}",
            field=f"{name}_mode",
            value=repr(mode),
        )


@attrs.frozen
class Rounding:
    """How amounts are rounded; the default is Waldur's rule.

    Each item's price (unit price × quantity) is rounded to ``price_places`` decimal places
    with ``price_mode`` (default: up to the cent, away from zero). Month and half-month
    fractions (and the fractions of quarter and annual limit periods) are rounded to
    ``fraction_places`` with ``fraction_mode`` (default: up, to 2 places, so 16 of 30 days is
    0.54). For exact proration set ``fraction_places=10`` and ``price_mode=ROUND_HALF_EVEN``.
    """

    price_places: int = 2
    price_mode: str = decimal.ROUND_UP
    fraction_places: int = 2
    fraction_mode: str = decimal.ROUND_UP

    def __attrs_post_init__(self) -> None:
        _check_rounding(self.price_places, self.price_mode, "price")
        _check_rounding(self.fraction_places, self.fraction_mode, "fraction")

    def price(self, unit_price: Decimal, quantity: Decimal) -> Decimal:
        """``unit_price × quantity``, rounded by the price rule.

        Computed with 60 significant digits, so the product of the largest price and the
        largest quantity the inputs allow is exact before it is rounded.
        """
        with decimal.localcontext(prec=60):
            rounded = (unit_price * quantity).quantize(_STEPS[self.price_places], self.price_mode)
        return rounded.copy_abs() if rounded.is_zero() else rounded

    def fraction(self, part: int, whole: int) -> Decimal:
        """``part ÷ whole`` rounded by the fraction rule (exactly 1 when ``part == whole``)."""
        if part == whole:
            return Decimal(1)
        exact = Decimal(part) / Decimal(whole)
        return exact.quantize(_STEPS[self.fraction_places], self.fraction_mode)


DEFAULT_ROUNDING = Rounding()


def clean_quantity(quantity: Decimal) -> Decimal:
    """``quantity`` with at most :data:`QUANTITY_PLACES` decimal places (half-even)."""
    exponent = quantity.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -QUANTITY_PLACES:
        return quantity.quantize(_STEPS[QUANTITY_PLACES], decimal.ROUND_HALF_EVEN)
    return quantity


def whole_days(start: datetime, end: datetime) -> int:
    """Days in ``[start, end)``, both at midnight."""
    return max((end - start) // ONE_DAY, 0)


@functools.lru_cache(maxsize=4096)
def unit_quantity(
    unit: PlanUnit, month: date, billed_from: datetime, billed_to: datetime, rounding: Rounding
) -> Decimal:
    """How many ``unit`` s the slots ``[billed_from, billed_to)`` of ``month`` make."""
    if billed_to <= billed_from:
        return Decimal(0)
    if unit is PlanUnit.HOUR:
        return Decimal((billed_to - billed_from) // ONE_HOUR)
    days = whole_days(billed_from, billed_to)
    if unit is PlanUnit.DAY:
        return Decimal(days)
    length = days_in_month(month)
    if unit in (PlanUnit.MONTH, PlanUnit.QUANTITY):
        return rounding.fraction(days, length)
    middle = midnight(month.replace(day=16))
    first_half = whole_days(billed_from, min(billed_to, middle))
    second_half = whole_days(max(billed_from, middle), billed_to)
    if first_half == 15 and second_half == length - 15:
        return Decimal(2)
    exact = Decimal(first_half) / 15 + Decimal(second_half) / (length - 15)
    return exact.quantize(_STEPS[rounding.fraction_places], rounding.fraction_mode)
