"""Organizations (customers and providers alike), their groups, and their projects.

Entities in this library are immutable snapshots (``attrs`` frozen classes): a command builds
the next snapshot with :func:`attrs.evolve` and stores it through a repository, which checks
and bumps ``version``. Identity is ``id``; equality compares the whole snapshot.

Dates are calendar dates in UTC. A project's ``end_date`` is inclusive: the project is live
through that day and has ended from the next day on.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import attrs

from marketplace_core.errors import ErrorCode, ValidationError


@attrs.frozen
class OrganizationGroup:
    """A named set of organizations that an offering's visibility can be limited to."""

    id: str
    name: str
    created_at: datetime
    version: int = 0


@attrs.frozen
class Organization:
    """A customer organization; one registered as a service provider also sells offerings.

    A ``blocked`` organization may not order or publish; an ``archived`` one is read-only.
    ``tax_percent`` (0-100) is copied onto each invoice when it is opened.
    """

    id: str
    name: str
    created_at: datetime
    group_id: str | None = None
    tax_percent: Decimal = Decimal(0)
    blocked: bool = False
    archived: bool = False
    version: int = 0


@attrs.frozen
class Project:
    """A project of one organization: where resources live and orders are placed.

    ``start_date`` in the future parks orders until the project starts; after ``end_date``
    the project has ended. ``auto_approve`` skips the consumer review of its orders.
    """

    id: str
    organization_id: str
    name: str
    created_at: datetime
    start_date: date | None = None
    end_date: date | None = None
    auto_approve: bool = False
    version: int = 0


@attrs.frozen
class ServiceProvider:
    """The registration of an organization as a seller of offerings (keyed by its id)."""

    id: str
    registered_at: datetime
    description: str = ""
    version: int = 0


def check_organization_not_archived(organization: Organization) -> None:
    """Refuse to change an archived organization: it is read-only for good."""
    if organization.archived:
        raise ValidationError(
            ErrorCode.ORGANIZATION_ARCHIVED,
            f"organization {organization.id!r} is archived and read-only",
            organization_id=organization.id,
        )


def check_organization_active(organization: Organization) -> None:
    """Refuse to act for a blocked or archived organization."""
    check_organization_not_archived(organization)
    if organization.blocked:
        raise ValidationError(
            ErrorCode.ORGANIZATION_BLOCKED,
            f"organization {organization.id!r} is blocked; unblock it first",
            organization_id=organization.id,
        )


def check_project_dates(start_date: date | None, end_date: date | None) -> None:
    """Refuse a project whose end date comes before its start date."""
    if start_date is not None and end_date is not None and end_date < start_date:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"end_date {end_date.isoformat()} must not be before "
            f"start_date {start_date.isoformat()}",
            field="end_date",
            value=end_date.isoformat(),
            expected=f"a date on or after {start_date.isoformat()}",
        )


def project_has_started(project: Project, today: date) -> bool:
    """Whether ``today`` is on or after the project's start date (no start date: started)."""
    return project.start_date is None or today >= project.start_date


def project_has_ended(project: Project, today: date) -> bool:
    """Whether ``today`` is after the project's (inclusive) end date."""
    return project.end_date is not None and today > project.end_date
