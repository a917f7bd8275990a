"""The error every check of the script plugin raises for a bad argument or option."""

from __future__ import annotations

from marketplace_core.errors import ErrorCode, ValidationError


def refuse(field: str, value: object, message: str) -> ValidationError:
    """An ``invalid_value`` error naming ``field``, with ``value`` in its fields (as a repr)
    and ``message`` saying what was expected."""
    return ValidationError(ErrorCode.INVALID_VALUE, message, field=field, value=repr(value))
