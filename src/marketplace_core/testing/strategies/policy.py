"""Policy specs: every metric, period and action a scope allows."""

from __future__ import annotations

from decimal import Decimal

import attrs
from hypothesis import strategies as st

from marketplace_core.marketplace import Marketplace
from marketplace_core.policies import (
    ACTIONS_OF_SCOPE,
    ActionKind,
    ActionType,
    Policy,
    PolicyAction,
    PolicyMetric,
    PolicyPeriod,
)
from marketplace_core.roles import ScopeKind
from marketplace_core.testing.strategies.marketplaces import (
    ORDERING_COMPONENTS,
    SPEC_POLICY_ACTION,
    OrderingWorld,
)
from marketplace_core.testing.strategies.values import prices


@attrs.frozen
class PolicySpec:
    """A policy on the world's project, consumer organization or offering: ``limit`` for
    an estimated-cost policy, ``component_limits`` for a usage policy."""

    scope_kind: ScopeKind
    metric: PolicyMetric
    period: PolicyPeriod
    actions: tuple[PolicyAction, ...]
    limit: Decimal | None = None
    component_limits: tuple[tuple[str, Decimal], ...] = ()


@st.composite
def policy_actions(draw: st.DrawFn, scope_kind: ScopeKind = ScopeKind.PROJECT) -> PolicyAction:
    """An action a policy on ``scope_kind`` may use: threshold actions at a percentage in
    (0, 1000], immediate ones at 100; custom ones name :data:`SPEC_POLICY_ACTION`."""
    kind = draw(st.sampled_from(sorted(ACTIONS_OF_SCOPE[scope_kind])))
    action_type = draw(st.sampled_from(ActionType))
    percent = Decimal(100)
    if action_type is ActionType.THRESHOLD:
        percent = draw(
            st.decimals(min_value=Decimal("0.01"), max_value=1000, places=2).filter(bool)
        )
    name = SPEC_POLICY_ACTION if kind is ActionKind.CUSTOM else ""
    return PolicyAction(kind, action_type, percent, name)


@st.composite
def policies(draw: st.DrawFn, max_actions: int = 3) -> PolicySpec:
    """A policy of any scope, :class:`~marketplace_core.policies.PolicyMetric` and
    :class:`~marketplace_core.policies.PolicyPeriod`, with 1..``max_actions`` actions its
    scope allows and positive limits."""
    scope_kind = draw(
        st.sampled_from([ScopeKind.PROJECT, ScopeKind.ORGANIZATION, ScopeKind.OFFERING])
    )
    metric = draw(st.sampled_from(PolicyMetric))
    positive = prices().filter(lambda amount: amount > 0)
    limit = draw(positive) if metric is PolicyMetric.ESTIMATED_COST else None
    component_limits: tuple[tuple[str, Decimal], ...] = ()
    if metric is PolicyMetric.USAGE:
        chosen = draw(
            st.lists(
                st.sampled_from([c.type for c in ORDERING_COMPONENTS]), min_size=1, unique=True
            )
        )
        component_limits = tuple((component, draw(positive)) for component in chosen)
    return PolicySpec(
        scope_kind,
        metric,
        draw(st.sampled_from(PolicyPeriod)),
        tuple(draw(st.lists(policy_actions(scope_kind), min_size=1, max_size=max_actions))),
        limit,
        component_limits,
    )


def create_spec_policy(market: Marketplace, world: OrderingWorld, spec: PolicySpec) -> Policy:
    """Create the policy on ``world`` as its staff user and return it as stored."""
    scope_ids = {
        ScopeKind.PROJECT: world.project_id,
        ScopeKind.ORGANIZATION: world.consumer_id,
        ScopeKind.OFFERING: world.offering_id,
    }
    return market.create_policy(
        world.staff_id,
        spec.scope_kind,
        scope_ids[spec.scope_kind],
        spec.metric,
        spec.period,
        spec.actions,
        limit=spec.limit,
        component_limits=dict(spec.component_limits) if spec.component_limits else None,
    )
