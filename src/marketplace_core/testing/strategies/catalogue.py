"""Catalogue specs: a provider's offerings, their components, plans and visibility."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from decimal import Decimal

import attrs
from hypothesis import strategies as st

from marketplace_core.marketplace import Marketplace
from marketplace_core.offerings import (
    BillingType,
    LimitedTo,
    OfferingComponent,
    PlanUnit,
    PrivateToOrganization,
    PrivateToProject,
    Shared,
    Visibility,
)
from marketplace_core.testing.strategies.marketplaces import SPEC_PLUGIN
from marketplace_core.testing.strategies.values import names, offering_components, prices


class VisibilityKind(enum.StrEnum):
    """Who a drawn offering is for; :func:`build_catalogue` turns it into a
    :data:`~marketplace_core.offerings.Visibility` over the organizations it creates."""

    SHARED = "shared"
    LIMITED_TO_ORGANIZATION = "limited-to-organization"
    LIMITED_TO_GROUP = "limited-to-group"
    PRIVATE_TO_ORGANIZATION = "private-to-organization"
    PRIVATE_TO_PROJECT = "private-to-project"


@attrs.frozen
class PlanSpec:
    """A plan: its name, unit, prices (component type, price) and fixed amounts."""

    name: str
    unit: PlanUnit
    prices: tuple[tuple[str, Decimal], ...] = ()
    amounts: tuple[tuple[str, int], ...] = ()
    max_amount: int | None = None


@attrs.frozen
class OfferingSpec:
    """An offering of the ``basic`` plugin: its components, plans (at least one), who sees
    it, and whether it is activated."""

    name: str
    components: tuple[OfferingComponent, ...]
    plans: tuple[PlanSpec, ...]
    visibility: VisibilityKind = VisibilityKind.SHARED
    activate: bool = True


@attrs.frozen
class CatalogueSpec:
    """A provider with its offerings, and the consumer its visibilities may name."""

    provider_name: str
    category_title: str
    offerings: tuple[OfferingSpec, ...]


@attrs.frozen
class BuiltOffering:
    """The ids :func:`build_catalogue` gave one offering and its plans (in spec order)."""

    offering_id: str
    plan_ids: tuple[str, ...]
    visibility: Visibility


@attrs.frozen
class BuiltCatalogue:
    """What :func:`build_catalogue` created."""

    provider_id: str
    category_id: str
    consumer_id: str
    consumer_project_id: str
    group_id: str
    offerings: tuple[BuiltOffering, ...]


@st.composite
def plans(draw: st.DrawFn, components: Sequence[OfferingComponent]) -> PlanSpec:
    """A plan over ``components``: prices for some of them, amounts for some fixed ones."""
    priced = draw(st.lists(st.sampled_from(components), unique_by=lambda c: c.type))
    fixed = [c for c in components if c.billing_type is BillingType.FIXED]
    counted = draw(st.lists(st.sampled_from(fixed), unique_by=lambda c: c.type)) if fixed else []
    return PlanSpec(
        name=draw(names()),
        unit=draw(st.sampled_from(PlanUnit)),
        prices=tuple((c.type, draw(prices())) for c in priced),
        amounts=tuple((c.type, draw(st.integers(0, 1000))) for c in counted),
        max_amount=draw(st.none() | st.integers(1, 1000)),
    )


@st.composite
def offerings(draw: st.DrawFn, max_components: int = 5, max_plans: int = 3) -> OfferingSpec:
    """An offering with 1..``max_components`` components of any billing type (unique types)
    and 1..``max_plans`` plans."""
    components = draw(
        st.lists(
            offering_components(), min_size=1, max_size=max_components, unique_by=lambda c: c.type
        )
    )
    return OfferingSpec(
        name=draw(names()),
        components=tuple(components),
        plans=tuple(draw(st.lists(plans(components), min_size=1, max_size=max_plans))),
        visibility=draw(st.sampled_from(VisibilityKind)),
        activate=draw(st.booleans()),
    )


def catalogues(max_offerings: int = 3) -> st.SearchStrategy[CatalogueSpec]:
    """A provider's catalogue of 1..``max_offerings`` offerings."""
    return st.builds(
        CatalogueSpec,
        provider_name=names(),
        category_title=names(),
        offerings=st.lists(offerings(), min_size=1, max_size=max_offerings).map(tuple),
    )


def build_catalogue(market: Marketplace, actor_id: str, spec: CatalogueSpec) -> BuiltCatalogue:
    """Create the catalogue as ``actor_id`` (staff): the provider organization, a category, a
    consumer organization (in a group) with a project for the visibilities to name, then
    each offering with its plans, activated when the spec says so."""
    group = market.create_organization_group(actor_id, "Spec consumers")
    consumer = market.create_organization(actor_id, "Spec consumer", group_id=group.id)
    project = market.create_project(actor_id, consumer.id, "Spec project")
    provider = market.create_organization(actor_id, spec.provider_name)
    market.register_provider(actor_id, provider.id)
    category = market.create_category(actor_id, spec.category_title)
    visibilities: dict[VisibilityKind, Visibility] = {
        VisibilityKind.SHARED: Shared(),
        VisibilityKind.LIMITED_TO_ORGANIZATION: LimitedTo(
            organization_ids=frozenset({consumer.id})
        ),
        VisibilityKind.LIMITED_TO_GROUP: LimitedTo(organization_group_ids=frozenset({group.id})),
        VisibilityKind.PRIVATE_TO_ORGANIZATION: PrivateToOrganization(consumer.id),
        VisibilityKind.PRIVATE_TO_PROJECT: PrivateToProject(project.id),
    }
    built = []
    for offering_spec in spec.offerings:
        visibility = visibilities[offering_spec.visibility]
        offering = market.create_offering(
            actor_id,
            provider.id,
            offering_spec.name,
            SPEC_PLUGIN,
            category_id=category.id,
            visibility=visibility,
            components=offering_spec.components,
        )
        plan_ids = tuple(
            market.create_plan(
                actor_id,
                offering.id,
                plan.name,
                plan.unit,
                prices=dict(plan.prices),
                amounts=dict(plan.amounts),
                max_amount=plan.max_amount,
            ).id
            for plan in offering_spec.plans
        )
        if offering_spec.activate:
            market.activate_offering(actor_id, offering.id)
        built.append(BuiltOffering(offering.id, plan_ids, visibility))
    return BuiltCatalogue(provider.id, category.id, consumer.id, project.id, group.id, tuple(built))
