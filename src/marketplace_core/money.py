"""Money is :class:`decimal.Decimal`, never ``float``.

Amounts enter the library through :func:`parse_money`, which refuses floats (a binary float
such as ``0.1`` is already wrong before any arithmetic), non-finite values and, unless asked,
negative ones. Arithmetic stays exact; rounding happens once, where an invoice item is priced.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from marketplace_core.errors import ErrorCode, ValidationError

ZERO = Decimal(0)

MoneyInput = Decimal | int | str
"""What callers may pass where an amount of money is expected."""

AMOUNT_LIMIT = Decimal(10) ** 18
"""Amounts (of money or of usage) must be smaller than this in size: exact arithmetic on
them then stays within ``Decimal``'s 28 significant digits."""

_DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
"""A plain decimal numeral: no spaces, no exponent, no underscores, ASCII digits only."""


def parse_money(value: object, field: str, *, allow_negative: bool = False) -> Decimal:
    """``value`` as an exact, finite ``Decimal``; refuses floats, NaN, infinities, junk,
    and amounts of 10^18 or more.

    ``field`` names the input in the error. Negative amounts are refused unless
    ``allow_negative`` (credits and deltas are negative; prices never are).
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        hint = ""
        if isinstance(value, float) and math.isfinite(value):
            hint = f"; write Decimal({str(value)!r})"
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"{field} must be a Decimal, int or numeric string, got "
            f"{type(value).__name__} {value!r}{hint}",
            field=field,
            value=repr(value),
        )
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"{field} must be a plain decimal numeral such as '12.50', got {value!r}",
            field=field,
            value=repr(value),
        )
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"{field} must be a finite number, got {value!r}",
            field=field,
            value=repr(value),
        )
    if abs(amount) >= AMOUNT_LIMIT:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"{field} must be smaller than 10^18 in size, got {value!r}",
            field=field,
            value=repr(value),
        )
    if amount < 0 and not allow_negative:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"{field} must not be negative, got {amount}",
            field=field,
            value=str(amount),
        )
    return amount.copy_abs() if amount.is_zero() else amount
