"""Commands and queries on the catalogue: providers, categories, offerings, components, plans."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from marketplace_core.billing.calendar import add_months, month_of
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.events import (
    CategoryCreated,
    OfferingComponentAdded,
    OfferingComponentRemoved,
    OfferingComponentUpdated,
    OfferingCreated,
    OfferingStateChanged,
    OfferingUpdated,
    PlanArchived,
    PlanCreated,
    PlanFuturePricesApplied,
    PlanFuturePricesScheduled,
    PlanPricesChanged,
    PlanUpdated,
    ProviderRegistered,
)
from marketplace_core.frozen import freeze_json
from marketplace_core.inputs import (
    UNSET,
    Unset,
    require_enum,
    require_int,
    require_mapping,
    require_optional_int,
    require_string,
    require_text,
)
from marketplace_core.money import parse_money
from marketplace_core.offerings import (
    Category,
    LimitedTo,
    Offering,
    OfferingComponent,
    OfferingEvent,
    OfferingOptions,
    Plan,
    PlanUnit,
    PrivateToOrganization,
    PrivateToProject,
    Shared,
    Visibility,
    apply_future_prices,
    check_can_activate,
    check_component_settings,
    check_components,
    check_offering_editable,
    check_plan_components,
    check_plan_open,
    is_orderable,
    require_component,
)
from marketplace_core.organizations import ServiceProvider, check_organization_active
from marketplace_core.roles import PLATFORM, Permission, offering_scope, organization_scope
from marketplace_core.services.context import Context

# --------------------------------------------------------------------------- providers


def register_provider(
    ctx: Context, actor_id: str, organization_id: str, *, description: str = ""
) -> ServiceProvider:
    """Register an active organization as a service provider. Needs ``provider.register``."""
    actor = ctx.authorize(actor_id, Permission.PROVIDER_REGISTER, PLATFORM)
    organization = ctx.uow.organizations.get(organization_id)
    check_organization_active(organization)
    provider = ctx.uow.providers.add(
        ServiceProvider(
            id=organization.id,
            registered_at=ctx.now,
            description=require_string(description, "description"),
        )
    )
    ctx.uow.emit(
        ProviderRegistered(occurred_at=ctx.now, actor_id=actor.id, organization_id=organization.id)
    )
    return provider


# --------------------------------------------------------------------------- categories


def create_category(ctx: Context, actor_id: str, title: str, *, description: str = "") -> Category:
    """Create a catalogue category. Needs ``category.manage``."""
    actor = ctx.authorize(actor_id, Permission.CATEGORY_MANAGE, PLATFORM)
    category = ctx.uow.categories.add(
        Category(
            id=ctx.ids.new_id("category"),
            title=require_text(title, "title"),
            created_at=ctx.now,
            description=require_string(description, "description"),
        )
    )
    ctx.uow.emit(
        CategoryCreated(
            occurred_at=ctx.now, actor_id=actor.id, category_id=category.id, title=title
        )
    )
    return category


# --------------------------------------------------------------------------- offerings


def _check_visibility(ctx: Context, visibility: object) -> Visibility:
    """Refuse a visibility that is malformed or names organizations, groups or projects
    that do not exist."""
    if isinstance(visibility, Shared):
        return visibility
    if isinstance(visibility, LimitedTo):
        organizations = visibility.organization_ids
        groups = visibility.organization_group_ids
        if not isinstance(organizations, frozenset) or not isinstance(groups, frozenset):
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                "LimitedTo takes frozensets of organization and organization group ids",
                field="visibility",
                value=repr(visibility),
            )
        if not organizations and not groups:
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                "LimitedTo needs at least one organization or organization group; "
                "use Shared() for everyone",
                field="visibility",
                value=repr(visibility),
            )
        for organization_id in sorted(organizations):
            ctx.uow.organizations.get(organization_id)
        for group_id in sorted(groups):
            ctx.uow.organization_groups.get(group_id)
        return visibility
    if isinstance(visibility, PrivateToOrganization):
        ctx.uow.organizations.get(visibility.organization_id)
        return visibility
    if isinstance(visibility, PrivateToProject):
        ctx.uow.projects.get(visibility.project_id)
        return visibility
    raise ValidationError(
        ErrorCode.INVALID_VALUE,
        "visibility must be Shared(), LimitedTo(...), PrivateToOrganization(...) or "
        f"PrivateToProject(...), got {visibility!r}",
        field="visibility",
        value=repr(visibility),
    )


def _check_options(options: object) -> OfferingOptions:
    if not isinstance(options, OfferingOptions):
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"options must be an OfferingOptions, got {options!r}",
            field="options",
            value=repr(options),
        )
    for field in attrs.fields(OfferingOptions):
        value = getattr(options, field.name)
        allowed_none = field.name == "needs_provider_review"
        if not isinstance(value, bool) and not (allowed_none and value is None):
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"options.{field.name} must be True or False"
                + (" or None" if allowed_none else "")
                + f", got {value!r}",
                field=f"options.{field.name}",
                value=repr(value),
            )
    return options


def _check_plugin_options(plugin_options: object) -> Mapping[str, Any]:
    frozen: Mapping[str, Any] = freeze_json(
        require_mapping(plugin_options, "plugin_options"), "plugin_options"
    )
    return frozen


def _check_category(ctx: Context, category_id: str | None) -> str | None:
    if category_id is not None:
        ctx.uow.categories.get(category_id)
    return category_id


def _load_offering_for(
    ctx: Context, actor_id: str, offering_id: str, permission: Permission
) -> Offering:
    offering = ctx.uow.offerings.get(offering_id)
    ctx.authorize(actor_id, permission, offering_scope(offering.id, offering.provider_id))
    return offering


def _offering_to_change(
    ctx: Context, actor_id: str, offering_id: str, permission: Permission, *, selling: bool
) -> Offering:
    """The offering, once the actor may change it and it is not archived.

    A change that widens what is sold (``selling``) also needs an active provider; winding
    down (archiving plans, removing components) does not.
    """
    offering = _load_offering_for(ctx, actor_id, offering_id, permission)
    check_offering_editable(offering)
    if selling:
        check_organization_active(ctx.uow.organizations.get(offering.provider_id))
    return offering


def create_offering(
    ctx: Context,
    actor_id: str,
    provider_id: str,
    name: str,
    plugin_type: str,
    *,
    category_id: str | None = None,
    description: str = "",
    visibility: Visibility | None = None,
    components: Iterable[OfferingComponent] = (),
    options: OfferingOptions | None = None,
    plugin_options: Mapping[str, Any] | None = None,
) -> Offering:
    """Create an offering, in draft, for a registered provider. Needs ``offering.create``.

    The plugin type must be registered; its built-in components come first, followed by
    ``components``. Visibility defaults to shared.
    """
    actor = ctx.authorize(actor_id, Permission.OFFERING_CREATE, organization_scope(provider_id))
    provider = ctx.uow.providers.find(provider_id)
    if provider is None:
        raise ValidationError(
            ErrorCode.PROVIDER_NOT_REGISTERED,
            f"organization {provider_id!r} is not registered as a service provider",
            organization_id=provider_id,
        )
    check_organization_active(ctx.uow.organizations.get(provider_id))
    capabilities = ctx.plugins.capabilities(require_text(plugin_type, "plugin_type"))
    offering = ctx.uow.offerings.add(
        Offering(
            id=ctx.ids.new_id("offering"),
            name=require_text(name, "name"),
            provider_id=provider_id,
            plugin_type=plugin_type,
            created_at=ctx.now,
            category_id=_check_category(ctx, category_id),
            description=require_string(description, "description"),
            visibility=_check_visibility(ctx, visibility or Shared()),
            components=check_components((*capabilities.components, *components)),
            options=_check_options(options or OfferingOptions()),
            plugin_options=_check_plugin_options({} if plugin_options is None else plugin_options),
        )
    )
    ctx.uow.emit(
        OfferingCreated(
            occurred_at=ctx.now,
            actor_id=actor.id,
            offering_id=offering.id,
            provider_id=provider_id,
            plugin_type=plugin_type,
        )
    )
    return offering


def update_offering(
    ctx: Context,
    actor_id: str,
    offering_id: str,
    *,
    name: str | Unset = UNSET,
    description: str | Unset = UNSET,
    category_id: str | Unset | None = UNSET,
    visibility: Visibility | Unset = UNSET,
    options: OfferingOptions | Unset = UNSET,
    plugin_options: Mapping[str, Any] | Unset = UNSET,
) -> Offering:
    """Change an offering's name, description, category, visibility or options.

    Needs ``offering.update``; arguments left out stay as they are. Archived offerings are
    frozen, and the provider must be active.
    """
    offering = _offering_to_change(
        ctx, actor_id, offering_id, Permission.OFFERING_UPDATE, selling=True
    )
    changes: dict[str, Any] = {}
    if not isinstance(name, Unset):
        changes["name"] = require_text(name, "name")
    if not isinstance(description, Unset):
        changes["description"] = require_string(description, "description")
    if not isinstance(category_id, Unset):
        changes["category_id"] = _check_category(ctx, category_id)
    if not isinstance(visibility, Unset):
        changes["visibility"] = _check_visibility(ctx, visibility)
    if not isinstance(options, Unset):
        changes["options"] = _check_options(options)
    if not isinstance(plugin_options, Unset):
        changes["plugin_options"] = _check_plugin_options(plugin_options)
    changes = {key: value for key, value in changes.items() if getattr(offering, key) != value}
    if not changes:
        return offering
    offering = ctx.uow.offerings.update(attrs.evolve(offering, **changes))
    ctx.uow.emit(
        OfferingUpdated(
            occurred_at=ctx.now,
            actor_id=actor_id,
            offering_id=offering.id,
            changes=tuple(sorted(changes)),
        )
    )
    return offering


_EVENT_PERMISSIONS = {
    OfferingEvent.ACTIVATE: Permission.OFFERING_ACTIVATE,
    OfferingEvent.PAUSE: Permission.OFFERING_PAUSE,
    OfferingEvent.RESUME: Permission.OFFERING_PAUSE,
    OfferingEvent.ARCHIVE: Permission.OFFERING_ARCHIVE,
}


def _fire(ctx: Context, actor_id: str, offering_id: str, event: OfferingEvent) -> Offering:
    offering = _load_offering_for(ctx, actor_id, offering_id, _EVENT_PERMISSIONS[event])
    moved = offering.fire(event)
    if event in (OfferingEvent.ACTIVATE, OfferingEvent.RESUME):
        check_organization_active(ctx.uow.organizations.get(offering.provider_id))
        check_can_activate(offering, ctx.uow.plans.for_offering(offering.id))
    stored = ctx.uow.offerings.update(moved)
    ctx.uow.emit(
        OfferingStateChanged(
            occurred_at=ctx.now,
            actor_id=actor_id,
            offering_id=offering.id,
            event=event.value,
            source=offering.state.value,
            target=stored.state.value,
        )
    )
    return stored


def activate_offering(ctx: Context, actor_id: str, offering_id: str) -> Offering:
    """Open a draft offering for orders. Needs ``offering.activate`` (staff by default).

    The offering needs a plan that is not archived; its provider must be active.
    """
    return _fire(ctx, actor_id, offering_id, OfferingEvent.ACTIVATE)


def pause_offering(ctx: Context, actor_id: str, offering_id: str) -> Offering:
    """Stop an active offering taking new resources. Needs ``offering.pause``."""
    return _fire(ctx, actor_id, offering_id, OfferingEvent.PAUSE)


def resume_offering(ctx: Context, actor_id: str, offering_id: str) -> Offering:
    """Reopen a paused offering. Needs ``offering.pause``; like activation, needs a plan."""
    return _fire(ctx, actor_id, offering_id, OfferingEvent.RESUME)


def archive_offering(ctx: Context, actor_id: str, offering_id: str) -> Offering:
    """Retire an offering for good. Needs ``offering.archive``."""
    return _fire(ctx, actor_id, offering_id, OfferingEvent.ARCHIVE)


# --------------------------------------------------------------------------- components


def _component_event(
    ctx: Context,
    actor_id: str,
    offering: Offering,
    component_type: str,
    event: type[OfferingComponentAdded | OfferingComponentUpdated | OfferingComponentRemoved],
) -> None:
    ctx.uow.emit(
        event(
            occurred_at=ctx.now,
            actor_id=actor_id,
            offering_id=offering.id,
            component_type=component_type,
        )
    )


def _check_not_builtin(ctx: Context, offering: Offering, component_type: str, action: str) -> None:
    builtin = {c.type for c in ctx.plugins.capabilities(offering.plugin_type).components}
    if component_type in builtin:
        raise ValidationError(
            ErrorCode.BUILTIN_COMPONENT,
            f"component {component_type!r} is built into plugin type "
            f"{offering.plugin_type!r}; it cannot be {action}",
            offering_id=offering.id,
            component=component_type,
        )


def _check_unpriced(ctx: Context, offering: Offering, component_type: str, action: str) -> None:
    for plan in ctx.uow.plans.for_offering(offering.id):
        if (
            component_type in plan.prices
            or component_type in plan.amounts
            or (plan.future_prices is not None and component_type in plan.future_prices)
        ):
            raise ValidationError(
                ErrorCode.COMPONENT_IN_USE,
                f"component {component_type!r} is priced by plan {plan.id!r}, so it cannot "
                f"be {action}; take it out of the plan's prices first",
                offering_id=offering.id,
                component=component_type,
                plan_id=plan.id,
            )


def add_offering_component(
    ctx: Context, actor_id: str, offering_id: str, component: OfferingComponent
) -> Offering:
    """Add a component to an offering that is not archived. Needs ``offering.update``."""
    offering = _offering_to_change(
        ctx, actor_id, offering_id, Permission.OFFERING_UPDATE, selling=True
    )
    components = check_components((*offering.components, component))
    offering = ctx.uow.offerings.update(attrs.evolve(offering, components=components))
    _component_event(ctx, actor_id, offering, component.type, OfferingComponentAdded)
    return offering


def update_offering_component(
    ctx: Context, actor_id: str, offering_id: str, component: OfferingComponent
) -> Offering:
    """Replace the settings of the component with ``component.type``. Needs ``offering.update``.

    The billing type changes only while no plan prices the component, and never for a
    built-in one.
    """
    offering = _offering_to_change(
        ctx, actor_id, offering_id, Permission.OFFERING_UPDATE, selling=True
    )
    check_component_settings(component)
    current = require_component(offering, component.type, "component")
    if component.billing_type is not current.billing_type:
        _check_not_builtin(ctx, offering, component.type, "billed differently")
        _check_unpriced(ctx, offering, component.type, "billed differently")
    if component == current:
        return offering
    components = tuple(component if c.type == component.type else c for c in offering.components)
    offering = ctx.uow.offerings.update(attrs.evolve(offering, components=components))
    _component_event(ctx, actor_id, offering, component.type, OfferingComponentUpdated)
    return offering


def remove_offering_component(
    ctx: Context, actor_id: str, offering_id: str, component_type: str
) -> Offering:
    """Remove a component no plan prices. Needs ``offering.update``; built-ins stay."""
    offering = _offering_to_change(
        ctx, actor_id, offering_id, Permission.OFFERING_UPDATE, selling=False
    )
    require_component(offering, component_type, "component_type")
    _check_not_builtin(ctx, offering, component_type, "removed")
    _check_unpriced(ctx, offering, component_type, "removed")
    components = tuple(c for c in offering.components if c.type != component_type)
    offering = ctx.uow.offerings.update(attrs.evolve(offering, components=components))
    _component_event(ctx, actor_id, offering, component_type, OfferingComponentRemoved)
    return offering


# --------------------------------------------------------------------------- plans


def _parse_prices(offering: Offering, prices: object, field: str) -> dict[str, Decimal]:
    parsed = {
        require_text(key, f"{field} key", max_length=50): parse_money(value, f"{field}[{key!r}]")
        for key, value in require_mapping(prices, field).items()
    }
    check_plan_components(offering, parsed, {})
    return parsed


def _parse_amounts(offering: Offering, amounts: object) -> dict[str, int]:
    parsed = {
        require_text(key, "amounts key", max_length=50): require_int(
            value, f"amounts[{key!r}]", minimum=0
        )
        for key, value in require_mapping(amounts, "amounts").items()
    }
    check_plan_components(offering, {}, parsed)
    return parsed


def _plan_to_change(
    ctx: Context, actor_id: str, plan_id: str, *, selling: bool
) -> tuple[Plan, Offering]:
    plan = ctx.uow.plans.get(plan_id)
    offering = _offering_to_change(
        ctx, actor_id, plan.offering_id, Permission.PLAN_MANAGE, selling=selling
    )
    check_plan_open(plan)
    return plan, offering


def create_plan(
    ctx: Context,
    actor_id: str,
    offering_id: str,
    name: str,
    unit: PlanUnit,
    *,
    prices: Mapping[str, Decimal | int | str] | None = None,
    amounts: Mapping[str, int] | None = None,
    max_amount: int | None = None,
    description: str = "",
) -> Plan:
    """Create a plan for an offering that is not archived. Needs ``plan.manage``.

    ``prices`` are per ``unit`` for each priced component (exact decimals; floats are
    refused); ``amounts`` are the quantities of fixed components included (default 1).
    """
    offering = _offering_to_change(ctx, actor_id, offering_id, Permission.PLAN_MANAGE, selling=True)
    plan = ctx.uow.plans.add(
        Plan(
            id=ctx.ids.new_id("plan"),
            offering_id=offering.id,
            name=require_text(name, "name"),
            unit=require_enum(unit, PlanUnit, "unit"),
            created_at=ctx.now,
            prices=_parse_prices(offering, prices or {}, "prices"),
            amounts=_parse_amounts(offering, amounts or {}),
            max_amount=require_optional_int(max_amount, "max_amount", minimum=1),
            description=require_string(description, "description"),
        )
    )
    ctx.uow.emit(
        PlanCreated(
            occurred_at=ctx.now,
            actor_id=actor_id,
            plan_id=plan.id,
            offering_id=offering.id,
            name=plan.name,
        )
    )
    return plan


def update_plan(
    ctx: Context,
    actor_id: str,
    plan_id: str,
    *,
    name: str | Unset = UNSET,
    description: str | Unset = UNSET,
    max_amount: int | Unset | None = UNSET,
) -> Plan:
    """Rename a plan, or change its description or capacity. Needs ``plan.manage``."""
    plan, _ = _plan_to_change(ctx, actor_id, plan_id, selling=True)
    changes: dict[str, Any] = {}
    if not isinstance(name, Unset):
        changes["name"] = require_text(name, "name")
    if not isinstance(description, Unset):
        changes["description"] = require_string(description, "description")
    if not isinstance(max_amount, Unset):
        changes["max_amount"] = require_optional_int(max_amount, "max_amount", minimum=1)
    changes = {key: value for key, value in changes.items() if getattr(plan, key) != value}
    if not changes:
        return plan
    plan = ctx.uow.plans.update(attrs.evolve(plan, **changes))
    ctx.uow.emit(
        PlanUpdated(
            occurred_at=ctx.now, actor_id=actor_id, plan_id=plan.id, changes=tuple(sorted(changes))
        )
    )
    return plan


def archive_plan(ctx: Context, actor_id: str, plan_id: str) -> Plan:
    """Archive a plan: no new resources or switches to it. Needs ``plan.manage``."""
    plan, offering = _plan_to_change(ctx, actor_id, plan_id, selling=False)
    plan = ctx.uow.plans.update(attrs.evolve(plan, archived=True))
    ctx.uow.emit(
        PlanArchived(
            occurred_at=ctx.now, actor_id=actor_id, plan_id=plan.id, offering_id=offering.id
        )
    )
    return plan


def _with_due_prices_applied(ctx: Context, plan: Plan) -> Plan:
    """The plan with a schedule whose month has started made current (as the billing run
    would), so a change made now does not lose it; unchanged otherwise."""
    due = plan.future_prices_from
    if due is None or due > month_of(ctx.today):
        return plan
    ctx.uow.emit(
        PlanFuturePricesApplied(occurred_at=ctx.now, actor_id=None, plan_id=plan.id, month=due)
    )
    return apply_future_prices(plan)


def set_plan_prices(
    ctx: Context, actor_id: str, plan_id: str, prices: Mapping[str, Decimal | int | str]
) -> Plan:
    """Replace a plan's current prices. Needs ``plan.manage``.

    Components left out become free; prices scheduled for next month stay scheduled. To
    change prices from the next billing month instead, use :func:`schedule_plan_prices`.
    """
    plan, offering = _plan_to_change(ctx, actor_id, plan_id, selling=True)
    parsed = _parse_prices(offering, prices, "prices")
    current = _with_due_prices_applied(ctx, plan)
    if parsed == current.prices and current is plan:
        return plan
    plan = ctx.uow.plans.update(attrs.evolve(current, prices=parsed))
    ctx.uow.emit(
        PlanPricesChanged(occurred_at=ctx.now, actor_id=actor_id, plan_id=plan.id, prices=parsed)
    )
    return plan


def schedule_plan_prices(
    ctx: Context, actor_id: str, plan_id: str, prices: Mapping[str, Decimal | int | str]
) -> Plan:
    """Set prices that replace the listed current ones at the start of the next billing month.

    Needs ``plan.manage``. Scheduling again replaces the earlier schedule, unless that one is
    already in effect (its month has started): then it becomes the current prices first.
    """
    plan, offering = _plan_to_change(ctx, actor_id, plan_id, selling=True)
    parsed = _parse_prices(offering, prices, "prices")
    plan = _with_due_prices_applied(ctx, plan)
    plan = ctx.uow.plans.update(
        attrs.evolve(
            plan, future_prices=parsed, future_prices_from=add_months(month_of(ctx.today), 1)
        )
    )
    ctx.uow.emit(
        PlanFuturePricesScheduled(
            occurred_at=ctx.now, actor_id=actor_id, plan_id=plan.id, prices=parsed
        )
    )
    return plan


# --------------------------------------------------------------------------- queries


def get_category(ctx: Context, category_id: str) -> Category:
    """The category with this id."""
    return ctx.uow.categories.get(category_id)


def list_categories(ctx: Context) -> Sequence[Category]:
    """Every category, oldest first."""
    return ctx.uow.categories.all()


def get_offering(ctx: Context, offering_id: str) -> Offering:
    """The offering with this id."""
    return ctx.uow.offerings.get(offering_id)


def list_offerings(ctx: Context, provider_id: str | None = None) -> Sequence[Offering]:
    """Every offering, or those of one provider, oldest first."""
    if provider_id is None:
        return ctx.uow.offerings.all()
    return ctx.uow.offerings.for_provider(provider_id)


def get_plan(ctx: Context, plan_id: str) -> Plan:
    """The plan with this id."""
    return ctx.uow.plans.get(plan_id)


def list_plans(ctx: Context, offering_id: str) -> Sequence[Plan]:
    """The plans of an offering, oldest first."""
    return ctx.uow.plans.for_offering(ctx.uow.offerings.get(offering_id).id)


def list_orderable_offerings(ctx: Context, project_id: str) -> Sequence[Offering]:
    """The offerings a project can order new resources of, oldest first."""
    project = ctx.uow.projects.get(project_id)
    consumer = ctx.uow.organizations.get(project.organization_id)
    return [
        offering
        for offering in ctx.uow.offerings.all()
        if is_orderable(
            offering,
            ctx.uow.plans.for_offering(offering.id),
            consumer,
            project.id,
            provider=ctx.uow.organizations.get(offering.provider_id),
            plugin_registered=ctx.plugins.is_registered(offering.plugin_type),
        )
    ]
