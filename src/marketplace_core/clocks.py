"""Clocks: the system clock for production, a settable one for tests and simulations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.inputs import require_aware_datetime


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved: deterministic tests, replays and simulations.

    It only moves forwards; setting it back is refused, because the library's rules (and
    the :class:`~marketplace_core.ports.Clock` contract) assume time never goes backwards.
    """

    def __init__(self, start: datetime) -> None:
        self._now = require_aware_datetime(start, "start").astimezone(UTC)

    def now(self) -> datetime:
        """The clock's current instant."""
        return self._now

    def set(self, instant: datetime) -> None:
        """Move the clock to ``instant`` (not earlier than now)."""
        instant = require_aware_datetime(instant, "instant").astimezone(UTC)
        if instant < self._now:
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"instant {instant.isoformat()} is before the clock's current time "
                f"{self._now.isoformat()}; a clock never goes backwards",
                field="instant",
                value=instant.isoformat(),
                expected=f"a time at or after {self._now.isoformat()}",
            )
        self._now = instant

    def advance(self, delta: timedelta) -> None:
        """Move the clock forwards by ``delta`` (not negative)."""
        if not isinstance(delta, timedelta):
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"delta must be a timedelta, got {delta!r}",
                field="delta",
                value=repr(delta),
            )
        self.set(self._now + delta)
