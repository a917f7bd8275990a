"""The catalogue: categories, offerings, their components and plans, and the rules on them.

An :class:`Offering` is what a provider sells; its :class:`OfferingComponent` s say what is
metered and how it is billed; a :class:`Plan` prices the components. The rules here are pure
functions over these values (and the aggregates they need, passed in): the service layer
loads, calls a rule, stores.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.frozen import EMPTY_JSON, freeze_json, frozen_mapping
from marketplace_core.lifecycle import Lifecycle, Transition
from marketplace_core.money import ZERO
from marketplace_core.organizations import Organization, check_organization_active

# --------------------------------------------------------------------------- categories


@attrs.frozen
class Category:
    """Where offerings appear in the catalogue (``"HPC"``, ``"Virtual machines"``)."""

    id: str
    title: str
    created_at: datetime
    description: str = ""
    version: int = 0


# --------------------------------------------------------------------------- components


class BillingType(enum.StrEnum):
    """How a component turns into invoice items."""

    FIXED = "fixed"
    """Billed every plan unit at price × amount, prorated by live time."""
    USAGE = "usage"
    """Billed from usage reports."""
    LIMIT = "limit"
    """The consumer chooses a limit; billed at price × limit per limit period."""
    ONE_TIME = "one-time"
    """Billed once, when the resource is created."""
    ON_PLAN_SWITCH = "on-plan-switch"
    """Billed once on each switch to a plan that prices it."""


class LimitPeriod(enum.StrEnum):
    """The period a limit (or a usage cap) applies to."""

    MONTH = "month"
    QUARTER = "quarter"
    ANNUAL = "annual"
    TOTAL = "total"


COMPONENT_TYPE_PATTERN = re.compile(r"[a-zA-Z0-9_\-/:]{1,50}")


@attrs.frozen
class OfferingComponent:
    """A metered part of an offering, identified by ``type`` (unique per offering).

    Limit settings apply to ``limit`` components: ``min_value``/``max_value`` bound one
    resource's limit (``0`` is a real bound), ``max_available_limit`` caps the sum of limits
    over the whole offering, ``is_boolean`` makes the limit an on/off switch.
    ``limit_period`` with ``limit_amount`` caps the limits (``limit``) or the reported usage
    (``usage``) per period. ``factor`` converts the limit unit to the price unit
    (limits in MB priced per GB: 1024).
    """

    type: str
    name: str
    billing_type: BillingType
    measured_unit: str = ""
    description: str = ""
    limit_period: LimitPeriod | None = None
    limit_amount: int | None = None
    min_value: int | None = None
    max_value: int | None = None
    max_available_limit: int | None = None
    is_boolean: bool = False
    factor: int = 1

    @property
    def lowest_limit(self) -> int | None:
        """The smallest limit one resource may ask for (``0`` for a boolean)."""
        return 0 if self.is_boolean else self.min_value

    @property
    def highest_limit(self) -> int | None:
        """The largest limit one resource may ask for (``1`` for a boolean)."""
        return 1 if self.is_boolean else self.max_value


_LIMIT_ONLY_SETTINGS = ("min_value", "max_value", "max_available_limit")
_PERIOD_CAPPED_TYPES = frozenset({BillingType.LIMIT, BillingType.USAGE})


def _bad_setting(component: OfferingComponent, setting: str, problem: str) -> ValidationError:
    return ValidationError(
        ErrorCode.INVALID_COMPONENT_SETTINGS,
        f"component {component.type!r}: {setting} {problem}",
        component=component.type,
        setting=setting,
    )


def check_component_settings(component: OfferingComponent) -> None:
    """Refuse a component whose settings are malformed or contradict its billing type."""
    if not isinstance(component.type, str) or not COMPONENT_TYPE_PATTERN.fullmatch(component.type):
        raise ValidationError(
            ErrorCode.INVALID_COMPONENT_SETTINGS,
            f"component type {component.type!r} must be 1-50 characters of letters, digits "
            "and _ - / :",
            component=repr(component.type),
            setting="type",
        )
    if not isinstance(component.name, str) or not component.name.strip():
        raise _bad_setting(component, "name", "must be a non-blank string")
    for setting in ("measured_unit", "description"):
        if not isinstance(getattr(component, setting), str):
            raise _bad_setting(component, setting, "must be a string")
    if not isinstance(component.billing_type, BillingType):
        raise _bad_setting(component, "billing_type", "must be a BillingType")
    if not isinstance(component.factor, int) or isinstance(component.factor, bool):
        raise _bad_setting(component, "factor", "must be an integer >= 1")
    if component.factor < 1:
        raise _bad_setting(component, "factor", "must be an integer >= 1")
    for setting in ("limit_amount", *_LIMIT_ONLY_SETTINGS):
        value = getattr(component, setting)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise _bad_setting(
                component, setting, f"must be None or an integer >= 0, got {value!r}"
            )
    if component.limit_period is not None and not isinstance(component.limit_period, LimitPeriod):
        raise _bad_setting(component, "limit_period", "must be None or a LimitPeriod")
    if component.billing_type not in _PERIOD_CAPPED_TYPES:
        for setting in ("limit_period", "limit_amount"):
            if getattr(component, setting) is not None:
                raise _bad_setting(component, setting, "applies only to limit and usage components")
    if component.limit_amount is not None and component.limit_period is None:
        raise _bad_setting(component, "limit_amount", "needs a limit_period to apply to")
    if component.billing_type is not BillingType.LIMIT:
        for setting in _LIMIT_ONLY_SETTINGS:
            if getattr(component, setting) is not None:
                raise _bad_setting(component, setting, "applies only to limit components")
        if component.is_boolean:
            raise _bad_setting(component, "is_boolean", "applies only to limit components")
    if component.is_boolean:
        if component.min_value not in (None, 0) or component.max_value not in (None, 1):
            raise _bad_setting(
                component, "is_boolean", "fixes the bounds to 0..1; leave min/max unset"
            )
        if component.limit_amount is not None:
            raise _bad_setting(component, "limit_amount", "does not apply to a boolean limit")
    if (
        component.min_value is not None
        and component.max_value is not None
        and component.min_value > component.max_value
    ):
        raise _bad_setting(
            component,
            "min_value",
            f"{component.min_value} is above max_value {component.max_value}",
        )


def check_components(components: Iterable[OfferingComponent]) -> tuple[OfferingComponent, ...]:
    """Check each component and that no type appears twice; return them as a tuple."""
    seen: set[str] = set()
    checked = tuple(components)
    for component in checked:
        if not isinstance(component, OfferingComponent):
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"components must be OfferingComponent values, got {component!r}",
                field="components",
                value=repr(component),
            )
        check_component_settings(component)
        if component.type in seen:
            raise ValidationError(
                ErrorCode.DUPLICATE_COMPONENT,
                f"component type {component.type!r} appears twice; types are unique per offering",
                component=component.type,
            )
        seen.add(component.type)
    return checked


# --------------------------------------------------------------------------- visibility


@attrs.frozen
class Shared:
    """Every organization's projects see the offering."""


@attrs.frozen
class LimitedTo:
    """Only the listed organizations, and members of the listed organization groups, see it."""

    organization_ids: frozenset[str] = frozenset()
    organization_group_ids: frozenset[str] = frozenset()


@attrs.frozen
class PrivateToOrganization:
    """Only the projects of one organization see it."""

    organization_id: str


@attrs.frozen
class PrivateToProject:
    """Only one project sees it."""

    project_id: str


Visibility = Shared | LimitedTo | PrivateToOrganization | PrivateToProject
"""Who may see and order an offering."""


def is_visible_to(visibility: Visibility, organization: Organization, project_id: str) -> bool:
    """Whether the project ``project_id`` of ``organization`` may see an offering."""
    match visibility:
        case Shared():
            return True
        case LimitedTo(organization_ids=organizations, organization_group_ids=groups):
            return organization.id in organizations or (
                organization.group_id is not None and organization.group_id in groups
            )
        case PrivateToOrganization(organization_id=owner):
            return organization.id == owner
        case PrivateToProject(project_id=only):
            return project_id == only


def is_private(visibility: Visibility) -> bool:
    """Whether the offering is private to one organization or project (not sold to others)."""
    return isinstance(visibility, PrivateToOrganization | PrivateToProject)


# --------------------------------------------------------------------------- offerings


class OfferingState(enum.StrEnum):
    """Where an offering is in its life. Only active offerings take new resources."""

    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class OfferingEvent(enum.StrEnum):
    """What moves an offering between states."""

    ACTIVATE = "activate"
    PAUSE = "pause"
    RESUME = "resume"
    ARCHIVE = "archive"


OFFERING_LIFECYCLE: Lifecycle[OfferingState, OfferingEvent] = Lifecycle(
    "offering",
    OfferingState,
    OfferingEvent,
    OfferingState.DRAFT,
    [
        Transition(OfferingEvent.ACTIVATE, (OfferingState.DRAFT,), OfferingState.ACTIVE),
        Transition(OfferingEvent.PAUSE, (OfferingState.ACTIVE,), OfferingState.PAUSED),
        Transition(OfferingEvent.RESUME, (OfferingState.PAUSED,), OfferingState.ACTIVE),
        Transition(
            OfferingEvent.ARCHIVE,
            (OfferingState.DRAFT, OfferingState.ACTIVE, OfferingState.PAUSED),
            OfferingState.ARCHIVED,
        ),
    ],
)
"""``draft → active ⇄ paused → archived``; archived is final."""


@attrs.frozen
class OfferingOptions:
    """The offering settings the core itself reads (plugins read ``plugin_options``).

    ``auto_approve_in_service_provider_projects`` skips the consumer review of orders from
    the provider's own projects. ``needs_provider_review`` overrides the plugin's default
    when set (Waldur's ``auto_approve_remote_orders=True`` is ``needs_provider_review=False``).
    """

    auto_approve_in_service_provider_projects: bool = False
    needs_provider_review: bool | None = None


def _frozen_plugin_options(value: Mapping[str, Any]) -> Mapping[str, Any]:
    frozen: Mapping[str, Any] = freeze_json(value, "plugin_options")
    return frozen


@attrs.frozen
class Offering:
    """What a provider sells: a plugin type, metered components, plans, and who may see it.

    ``provider_id`` is the id of the provider's organization.
    """

    id: str
    name: str
    provider_id: str
    plugin_type: str
    created_at: datetime
    category_id: str | None = None
    description: str = ""
    state: OfferingState = OfferingState.DRAFT
    visibility: Visibility = Shared()
    components: tuple[OfferingComponent, ...] = ()
    options: OfferingOptions = OfferingOptions()
    plugin_options: Mapping[str, Any] = attrs.field(
        default=EMPTY_JSON, converter=_frozen_plugin_options
    )
    version: int = 0

    def component(self, component_type: str) -> OfferingComponent | None:
        """The component of this type, or ``None``."""
        for component in self.components:
            if component.type == component_type:
                return component
        return None

    def fire(self, event: OfferingEvent) -> Offering:
        """The offering after ``event``; raises when the current state forbids it."""
        return OFFERING_LIFECYCLE.fire(self, event)


def require_component(offering: Offering, component_type: str, field: str) -> OfferingComponent:
    """The offering's component of this type; refuses a type it lacks, naming ``field``."""
    component = offering.component(component_type)
    if component is None:
        known = ", ".join(repr(c.type) for c in offering.components) or "none"
        raise ValidationError(
            ErrorCode.UNKNOWN_COMPONENT,
            f"{field}: offering {offering.id!r} has no component {component_type!r} "
            f"(its components: {known})",
            offering_id=offering.id,
            component=component_type,
        )
    return component


def check_offering_editable(offering: Offering) -> None:
    """Refuse to change an archived offering."""
    if offering.state is OfferingState.ARCHIVED:
        raise ValidationError(
            ErrorCode.OFFERING_ARCHIVED,
            f"offering {offering.id!r} is archived and can no longer be changed",
            offering_id=offering.id,
        )


def check_can_activate(offering: Offering, plans: Iterable[Plan]) -> None:
    """Refuse to activate (or resume) an offering that has no plan open for orders.

    Plans of other offerings among ``plans`` do not count.
    """
    if not any(plan.offering_id == offering.id and not plan.archived for plan in plans):
        raise ValidationError(
            ErrorCode.OFFERING_WITHOUT_PLANS,
            f"offering {offering.id!r} needs at least one plan that is not archived "
            "before it can take orders",
            offering_id=offering.id,
        )


def check_orderable(
    offering: Offering,
    plans: Iterable[Plan],
    consumer: Organization,
    project_id: str,
    *,
    provider: Organization,
    plugin_registered: bool,
) -> None:
    """Refuse unless project ``project_id`` of ``consumer`` can order a new resource.

    Orderable means: both organizations active; the offering active, in a category, with
    components and a plan open for orders, served by a registered plugin, and visible to
    the project. The checks run in that order; the first that fails names the problem.
    """
    check_organization_active(consumer)
    if offering.state is not OfferingState.ACTIVE:
        raise ValidationError(
            ErrorCode.OFFERING_NOT_ACTIVE,
            f"offering {offering.id!r} is {offering.state.value}; only active offerings "
            "take new resources",
            offering_id=offering.id,
            state=offering.state.value,
        )
    if offering.category_id is None:
        raise ValidationError(
            ErrorCode.OFFERING_WITHOUT_CATEGORY,
            f"offering {offering.id!r} has no category",
            offering_id=offering.id,
        )
    if not offering.components:
        raise ValidationError(
            ErrorCode.OFFERING_WITHOUT_COMPONENTS,
            f"offering {offering.id!r} has no components",
            offering_id=offering.id,
        )
    check_can_activate(offering, plans)
    if not plugin_registered:
        raise ValidationError(
            ErrorCode.PLUGIN_NOT_REGISTERED,
            f"offering {offering.id!r} uses plugin type {offering.plugin_type!r}, "
            "which is not registered",
            offering_id=offering.id,
            plugin_type=offering.plugin_type,
        )
    check_organization_active(provider)
    if not is_visible_to(offering.visibility, consumer, project_id):
        raise ValidationError(
            ErrorCode.OFFERING_NOT_VISIBLE,
            f"offering {offering.id!r} is not available to project {project_id!r} "
            f"of organization {consumer.id!r}",
            offering_id=offering.id,
            project_id=project_id,
            organization_id=consumer.id,
        )


def is_orderable(
    offering: Offering,
    plans: Iterable[Plan],
    consumer: Organization,
    project_id: str,
    *,
    provider: Organization,
    plugin_registered: bool,
) -> bool:
    """Whether :func:`check_orderable` passes."""
    try:
        check_orderable(
            offering,
            plans,
            consumer,
            project_id,
            provider=provider,
            plugin_registered=plugin_registered,
        )
    except ValidationError:
        return False
    return True


# --------------------------------------------------------------------------- plans


class PlanUnit(enum.StrEnum):
    """The period a plan's fixed prices are quoted for."""

    MONTH = "month"
    HALF_MONTH = "half_month"
    DAY = "day"
    HOUR = "hour"
    QUANTITY = "quantity"


def _frozen_future_prices(value: Mapping[str, Decimal] | None) -> Mapping[str, Decimal] | None:
    return None if value is None else frozen_mapping(value)


@attrs.frozen
class Plan:
    """Prices for an offering's components, per ``unit``.

    ``prices`` maps component types to the price per unit (missing: free). ``amounts`` maps
    fixed components to the quantity included (missing: 1); the fixed charge is price ×
    amount. ``max_amount`` caps the live resources on the plan. An ``archived`` plan takes no
    new resources and no switches. ``future_prices``, when set, replace the current prices
    of the components they list from the billing month ``future_prices_from`` on.
    """

    id: str
    offering_id: str
    name: str
    unit: PlanUnit
    created_at: datetime
    prices: Mapping[str, Decimal] = attrs.field(factory=dict, converter=frozen_mapping)
    amounts: Mapping[str, int] = attrs.field(factory=dict, converter=frozen_mapping)
    future_prices: Mapping[str, Decimal] | None = attrs.field(
        default=None, converter=_frozen_future_prices
    )
    future_prices_from: date | None = None
    max_amount: int | None = None
    archived: bool = False
    description: str = ""
    version: int = 0

    def price_of(self, component_type: str) -> Decimal:
        """The price per unit of a component (zero when the plan does not price it)."""
        return self.prices.get(component_type, ZERO)

    def amount_of(self, component_type: str) -> int:
        """The quantity of a fixed component included in the plan (1 when not set)."""
        return self.amounts.get(component_type, 1)


def check_plan_components(
    offering: Offering, prices: Mapping[str, Decimal], amounts: Mapping[str, int]
) -> None:
    """Refuse prices for components the offering lacks, and amounts for non-fixed ones."""
    for component_type in prices:
        require_component(offering, component_type, "prices")
    for component_type in amounts:
        component = require_component(offering, component_type, "amounts")
        if component.billing_type is not BillingType.FIXED:
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"amounts[{component_type!r}]: amounts apply only to fixed components, "
                f"and {component_type!r} is billed by {component.billing_type.value}",
                field=f"amounts[{component_type}]",
                value=amounts[component_type],
            )


def check_plan_open(plan: Plan) -> None:
    """Refuse to change, or order on, an archived plan."""
    if plan.archived:
        raise ValidationError(
            ErrorCode.PLAN_ARCHIVED,
            f"plan {plan.id!r} is archived; it takes no new resources and no changes",
            plan_id=plan.id,
        )


def apply_future_prices(plan: Plan) -> Plan:
    """The plan with its scheduled future prices made current (unchanged if none).

    Components the schedule does not list keep their current price.
    """
    if plan.future_prices is None:
        return plan
    return attrs.evolve(
        plan,
        prices={**plan.prices, **plan.future_prices},
        future_prices=None,
        future_prices_from=None,
    )


# --------------------------------------------------------------------------- limits


def check_limits_allowed(offering: Offering, limits: Mapping[str, int]) -> None:
    """Refuse limits on components that are unknown or not limit-billed, and non-integers."""
    for component_type, value in limits.items():
        component = offering.component(component_type)
        if component is None or component.billing_type is not BillingType.LIMIT:
            limit_types = ", ".join(
                repr(c.type) for c in offering.components if c.billing_type is BillingType.LIMIT
            )
            raise ValidationError(
                ErrorCode.LIMIT_NOT_ALLOWED,
                f"limits[{component_type!r}]: offering {offering.id!r} takes limits only "
                f"for its limit components ({limit_types or 'it has none'})",
                offering_id=offering.id,
                component=component_type,
            )
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"limits[{component_type!r}] must be an integer, got {value!r}",
                field=f"limits[{component_type}]",
                value=repr(value),
            )


LIMIT_CEILING = 10**15
"""No limit may exceed this, whatever the component allows: costs of larger limits would
leave the exact range of ``Decimal`` arithmetic."""


def check_limit_bounds(component: OfferingComponent, value: int) -> None:
    """Refuse a limit outside the component's bounds (``0`` is a real bound, never "unset")
    or above :data:`LIMIT_CEILING`."""
    if component.is_boolean and value not in (0, 1):
        raise ValidationError(
            ErrorCode.LIMIT_NOT_BOOLEAN,
            f"limits[{component.type!r}] is an on/off switch and must be 0 or 1, got {value}",
            component=component.type,
            value=value,
        )
    lowest = component.lowest_limit
    highest = (
        LIMIT_CEILING
        if component.highest_limit is None
        else min(component.highest_limit, LIMIT_CEILING)
    )
    if (
        value < 0
        or (lowest is not None and value < lowest)
        or (highest is not None and value > highest)
    ):
        low_text = str(lowest if lowest is not None else 0)
        high_text = str(highest)
        raise ValidationError(
            ErrorCode.LIMIT_OUT_OF_RANGE,
            f"limits[{component.type!r}] = {value} is outside {low_text}..{high_text}",
            component=component.type,
            value=value,
            min_value=lowest,
            max_value=highest,
        )


_PERIOD_TEXT = {
    LimitPeriod.MONTH: "this month",
    LimitPeriod.QUARTER: "this quarter",
    LimitPeriod.ANNUAL: "this year",
    LimitPeriod.TOTAL: "in total",
}


def check_limit_period_amount(
    component: OfferingComponent, value: int, used_in_period: int
) -> None:
    """Refuse a limit that takes the period's total over the component's ``limit_amount``.

    ``used_in_period`` is the sum of the limits already allocated in the component's
    ``limit_period`` across the project's other resources.
    """
    if component.limit_amount is None:
        return
    if used_in_period + value > component.limit_amount:
        period = _PERIOD_TEXT[component.limit_period or LimitPeriod.TOTAL]
        raise ValidationError(
            ErrorCode.LIMIT_PERIOD_AMOUNT_EXCEEDED,
            f"limits[{component.type!r}] = {value} on top of {used_in_period} already "
            f"allocated {period} exceeds the component's limit_amount {component.limit_amount}",
            component=component.type,
            value=value,
            used=used_in_period,
            limit_amount=component.limit_amount,
        )


def check_offering_limit_cap(
    component: OfferingComponent, value: int, allocated_elsewhere: int
) -> None:
    """Refuse a limit that takes the offering-wide sum over ``max_available_limit``.

    ``allocated_elsewhere`` is the sum of this component's limits over every other live
    resource of the offering. Reaching the cap exactly is allowed (Waldur refuses it).
    """
    cap = component.max_available_limit
    if cap is None:
        return
    if allocated_elsewhere + value > cap:
        raise ValidationError(
            ErrorCode.OFFERING_LIMIT_CAP_EXCEEDED,
            f"limits[{component.type!r}] = {value} cannot be provisioned: {allocated_elsewhere} "
            f"of the offering's {cap} are allocated, so at most {max(cap - allocated_elsewhere, 0)}"
            " is left",
            component=component.type,
            value=value,
            allocated=allocated_elsewhere,
            max_available_limit=cap,
        )


def check_limits(
    offering: Offering,
    limits: Mapping[str, int],
    *,
    used_in_period: Mapping[str, int],
    allocated_elsewhere: Mapping[str, int],
) -> None:
    """Run every limit rule on requested ``limits`` (a component with a minimum above 0
    must be given).

    ``used_in_period`` and ``allocated_elsewhere`` map component types to the aggregates
    :func:`check_limit_period_amount` and :func:`check_offering_limit_cap` need (missing: 0).
    """
    check_limits_allowed(offering, limits)
    for component in offering.components:
        lowest = component.lowest_limit
        if component.billing_type is BillingType.LIMIT and lowest and component.type not in limits:
            raise ValidationError(
                ErrorCode.LIMIT_OUT_OF_RANGE,
                f"limits[{component.type!r}] is missing; the component needs at least {lowest}",
                component=component.type,
                value=None,
                min_value=lowest,
                max_value=component.highest_limit,
            )
    for component_type, value in limits.items():
        limited = require_component(offering, component_type, "limits")
        check_limit_bounds(limited, value)
        check_limit_period_amount(limited, value, used_in_period.get(component_type, 0))
        check_offering_limit_cap(limited, value, allocated_elsewhere.get(component_type, 0))
