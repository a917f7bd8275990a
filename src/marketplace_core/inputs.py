"""Checks on raw command arguments, each raising an ``invalid_value`` error that names the field.

Commands are called by hosts with data from forms, APIs and files; these checks turn a wrong
type or an out-of-range value into a clear :class:`ValidationError` instead of a crash deep
inside a rule. They never coerce: ``" x "`` is not trimmed, ``1.0`` is not an int.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, TypeVar

from marketplace_core.errors import ErrorCode, ValidationError

EnumT = TypeVar("EnumT", bound=enum.Enum)


def _refuse(field: str, value: object, expected: str) -> ValidationError:
    return ValidationError(
        ErrorCode.INVALID_VALUE,
        f"{field} must be {expected}, got {value!r}",
        field=field,
        value=repr(value),
        expected=expected,
    )


def check_encodable(text: str, field: str) -> None:
    """Refuse text that UTF-8 cannot carry (a lone surrogate), or that holds the NUL
    character: no program, file or database downstream could take the one, and C strings and
    PostgreSQL's ``TEXT`` cannot take the other."""
    nul = text.find("\x00")
    if nul >= 0:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"{field} must not hold the NUL character; it does at position {nul}",
            field=field,
            value=repr(text[:100]),
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"{field} must be text that UTF-8 can carry; it holds "
            f"{text[error.start]!r} (a lone surrogate) at position {error.start}",
            field=field,
            value=repr(text[:100]),
        ) from None


def require_text(value: object, field: str, *, max_length: int = 255) -> str:
    """A non-blank string of at most ``max_length`` characters that UTF-8 can carry."""
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise _refuse(field, value, f"a non-blank string of at most {max_length} characters")
    check_encodable(value, field)
    return value


MESSAGE_MAX_LENGTH = 4000
"""The longest free text a command takes: a description, an error message, a reason."""


def shorten_message(message: str, max_length: int = MESSAGE_MAX_LENGTH) -> str:
    """``message`` cut to at most ``max_length`` characters around an ellipsis, keeping its
    beginning and its end (where a backend's error usually says what went wrong)."""
    if len(message) <= max_length:
        return message
    head = (max_length - 1) // 2
    tail = max_length - 1 - head
    return message[:head] + "\u2026" + (message[-tail:] if tail else "")


def require_string(value: object, field: str, *, max_length: int = MESSAGE_MAX_LENGTH) -> str:
    """A string, possibly empty (a description, an e-mail), of at most ``max_length``, that
    UTF-8 can carry."""
    if not isinstance(value, str) or len(value) > max_length:
        raise _refuse(field, value, f"a string of at most {max_length} characters")
    check_encodable(value, field)
    return value


def require_int(
    value: object, field: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """An ``int`` (not a ``bool``) within the inclusive bounds given."""
    expected = "an integer" + (f" >= {minimum}" if minimum is not None else "")
    expected += f" <= {maximum}" if maximum is not None else ""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(field, value, expected)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise _refuse(field, value, expected)
    return value


def require_optional_int(
    value: object, field: str, *, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    """``None``, or an ``int`` within the inclusive bounds given."""
    return None if value is None else require_int(value, field, minimum=minimum, maximum=maximum)


def require_bool(value: object, field: str) -> bool:
    """A ``bool``; ``0``, ``1`` and ``"yes"`` are refused."""
    if not isinstance(value, bool):
        raise _refuse(field, value, "True or False")
    return value


def require_date(value: object, field: str) -> date:
    """A calendar ``date`` (a ``datetime`` is refused: it would carry a hidden time zone)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise _refuse(field, value, "a datetime.date")
    return value


def require_optional_date(value: object, field: str) -> date | None:
    """``None`` or a calendar ``date``."""
    return None if value is None else require_date(value, field)


def require_aware_datetime(value: object, field: str) -> datetime:
    """A timezone-aware ``datetime``; naive ones are ambiguous and refused."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise _refuse(field, value, "a timezone-aware datetime")
    return value


def require_enum(value: object, enum_type: type[EnumT], field: str) -> EnumT:
    """A member of ``enum_type``, given as the member or as its value."""
    if isinstance(value, enum_type):
        return value
    if isinstance(value, bool | enum.Enum):  # True == 1, and PlanUnit.MONTH == "month"
        choices = ", ".join(repr(member.value) for member in enum_type)
        raise _refuse(field, value, f"one of {choices}")
    try:
        return enum_type(value)
    except (ValueError, TypeError):
        choices = ", ".join(repr(member.value) for member in enum_type)
        raise _refuse(field, value, f"one of {choices}") from None


def require_mapping(value: object, field: str) -> Mapping[Any, Any]:
    """A mapping (a ``dict`` or any ``Mapping``)."""
    if not isinstance(value, Mapping):
        raise _refuse(field, value, "a mapping")
    return value


class Unset(enum.Enum):
    """The type of :data:`UNSET`."""

    UNSET = "UNSET"


UNSET = Unset.UNSET
"""Marks an optional command argument the caller did not pass ("leave as it is")."""


def require_month(value: object, field: str) -> date:
    """A billing month: a ``datetime.date`` on the first day of its month."""
    if isinstance(value, datetime) or not isinstance(value, date) or value.day != 1:
        raise _refuse(field, value, "a datetime.date on the first day of a month")
    return value
