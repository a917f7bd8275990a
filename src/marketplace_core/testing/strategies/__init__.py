"""Hypothesis strategies for marketplaces: catalogues, people, order and usage streams, policies.

Each strategy draws a small frozen *spec*: plain data (names, ``Decimal`` s, enums, component
values) that the facade accepts. A ``build_*`` or ``apply_*`` function then plays a spec into a
:class:`~marketplace_core.Marketplace` and returns what it created, so a test can compare the
stored state with the spec::

    @given(spec=catalogues())
    def test_catalogue(spec: CatalogueSpec) -> None:
        market, staff_id = marketplace_for_specs()
        built = build_catalogue(market, staff_id, spec)
        ...

The specs are valid by construction: every name is non-blank text UTF-8 can carry, every price
is a ``Decimal`` below :data:`~marketplace_core.money.AMOUNT_LIMIT`, every limit stays within its
component's bounds and :data:`~marketplace_core.offerings.LIMIT_CEILING`. Order streams follow
the order and resource lifecycles step by step and carry the state each step must leave, so a
run that ends elsewhere is a bug in the library (or in the host's storage), not in the input.

The builders act as a staff user and need the ``basic`` plugin registered (and, for custom
policy actions, :data:`SPEC_POLICY_ACTION`); :func:`marketplace_for_specs` makes such a
marketplace, and :func:`register_spec_plugins` prepares a host's own registry. Order and usage
streams move time on (for the due jobs, and to report for an earlier month), so their
marketplace's clock must be a :class:`~marketplace_core.clocks.FixedClock`
(:func:`movable_clock`).

One module per concept: :mod:`.values` (names, prices, components), :mod:`.catalogue`,
:mod:`.people`, :mod:`.orders`, :mod:`.usage`, :mod:`.policy`, and
:mod:`.marketplaces` (the marketplace and the ordering world the specs are played into).
Everything public is re-exported here.
"""

from __future__ import annotations

from marketplace_core.testing.strategies.catalogue import (
    BuiltCatalogue,
    BuiltOffering,
    CatalogueSpec,
    OfferingSpec,
    PlanSpec,
    VisibilityKind,
    build_catalogue,
    catalogues,
    offerings,
    plans,
)
from marketplace_core.testing.strategies.marketplaces import (
    ORDERING_COMPONENTS,
    SPEC_PLUGIN,
    SPEC_POLICY_ACTION,
    SPEC_START,
    OrderingWorld,
    RecordingPolicyAction,
    build_ordering_world,
    live_resource,
    marketplace_for_specs,
    movable_clock,
    register_spec_plugins,
)
from marketplace_core.testing.strategies.orders import (
    LATER_PROJECT_DAYS,
    AppliedOrderStream,
    OrderCommand,
    Orderer,
    OrderStep,
    OrderStreamSpec,
    apply_order_stream,
    order_streams,
)
from marketplace_core.testing.strategies.people import (
    BuiltOrganization,
    GrantSpec,
    OrganizationSpec,
    build_organization,
    organizations,
)
from marketplace_core.testing.strategies.policy import (
    PolicySpec,
    create_spec_policy,
    policies,
    policy_actions,
)
from marketplace_core.testing.strategies.usage import (
    USAGE_COMPONENTS,
    AppliedUsageStream,
    UsageLineSpec,
    UsageStreamSpec,
    apply_usage_stream,
    usage_streams,
)
from marketplace_core.testing.strategies.values import (
    NAME_CHARACTERS,
    names,
    offering_components,
    prices,
)

__all__ = [
    "LATER_PROJECT_DAYS",
    "NAME_CHARACTERS",
    "ORDERING_COMPONENTS",
    "SPEC_PLUGIN",
    "SPEC_POLICY_ACTION",
    "SPEC_START",
    "USAGE_COMPONENTS",
    "AppliedOrderStream",
    "AppliedUsageStream",
    "BuiltCatalogue",
    "BuiltOffering",
    "BuiltOrganization",
    "CatalogueSpec",
    "GrantSpec",
    "OfferingSpec",
    "OrderCommand",
    "OrderStep",
    "OrderStreamSpec",
    "Orderer",
    "OrderingWorld",
    "OrganizationSpec",
    "PlanSpec",
    "PolicySpec",
    "RecordingPolicyAction",
    "UsageLineSpec",
    "UsageStreamSpec",
    "VisibilityKind",
    "apply_order_stream",
    "apply_usage_stream",
    "build_catalogue",
    "build_ordering_world",
    "build_organization",
    "catalogues",
    "create_spec_policy",
    "live_resource",
    "marketplace_for_specs",
    "movable_clock",
    "names",
    "offering_components",
    "offerings",
    "order_streams",
    "organizations",
    "plans",
    "policies",
    "policy_actions",
    "prices",
    "register_spec_plugins",
    "usage_streams",
]
