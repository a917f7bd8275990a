"""Usage sources: plugins whose backend can be asked what each resource consumed.

A plugin's processor that also has ``pull_usage`` is a usage source. The marketplace's
``pull_usage`` job asks it about every resource of an offering that was live in a month and
ingests the answers as ordinary usage reports: month-to-date totals, with an idempotency key
made of the resource, component, month and amount, so pulling twice reports once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Protocol, runtime_checkable

import attrs

from marketplace_core.offerings import Offering, Plan
from marketplace_core.resources import Resource


@attrs.frozen
class UsageRequest:
    """Which resource to ask about, and for which month (its first day)."""

    resource: Resource
    offering: Offering
    plan: Plan | None
    month: date


@attrs.frozen
class PulledUsage:
    """What a backend says one component of a resource consumed in the month so far."""

    component_type: str
    amount: Decimal
    description: str = ""


@runtime_checkable
class UsageSource(Protocol):
    """A backend that can tell the usage of a resource."""

    def pull_usage(self, request: UsageRequest) -> Sequence[PulledUsage]:
        """The month-to-date usage of ``request.resource`` in ``request.month``, one entry
        per component the backend measures. Raise to report that the backend failed."""
        ...
