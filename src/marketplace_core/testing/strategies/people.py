"""Organization specs: projects, users and the roles they hold."""

from __future__ import annotations

import attrs
from hypothesis import strategies as st

from marketplace_core.marketplace import Marketplace
from marketplace_core.roles import Role, ScopeKind
from marketplace_core.testing.strategies.marketplaces import SPEC_PLUGIN
from marketplace_core.testing.strategies.values import names


@attrs.frozen
class GrantSpec:
    """``users[user]`` holds ``role``: on the organization, on ``projects[project]`` for a
    project role, or on the organization's offering for an offering role."""

    user: int
    role: Role
    project: int = 0


@attrs.frozen
class OrganizationSpec:
    """An organization with projects, users and the roles they hold."""

    name: str
    projects: tuple[str, ...]
    usernames: tuple[str, ...]
    grants: tuple[GrantSpec, ...]
    auto_approve: bool = False


@attrs.frozen
class BuiltOrganization:
    """What :func:`build_organization` created; ``offering_id`` is set when a grant needed
    an offering."""

    organization_id: str
    project_ids: tuple[str, ...]
    user_ids: tuple[str, ...]
    offering_id: str | None


@st.composite
def organizations(draw: st.DrawFn, max_projects: int = 3, max_users: int = 4) -> OrganizationSpec:
    """An organization with 1..``max_projects`` projects and 1..``max_users`` users, each
    grant a distinct (user, role, scope) of any :class:`~marketplace_core.roles.Role`."""
    projects = draw(st.lists(names(), min_size=1, max_size=max_projects))
    usernames = draw(st.lists(names(), min_size=1, max_size=max_users, unique=True))
    grants = draw(
        st.lists(
            st.builds(
                GrantSpec,
                user=st.integers(0, len(usernames) - 1),
                role=st.sampled_from(Role),
                project=st.integers(0, len(projects) - 1),
            ).map(
                lambda g: (
                    g if g.role.scope_kind is ScopeKind.PROJECT else attrs.evolve(g, project=0)
                )
            ),
            max_size=6,
            unique=True,
        )
    )
    return OrganizationSpec(
        draw(names()), tuple(projects), tuple(usernames), tuple(grants), draw(st.booleans())
    )


def build_organization(
    market: Marketplace, actor_id: str, spec: OrganizationSpec
) -> BuiltOrganization:
    """Create the organization, its projects and users, and grant the roles, as
    ``actor_id`` (staff). An offering role makes the organization a provider of a draft
    offering that the role is granted on."""
    organization = market.create_organization(actor_id, spec.name)
    project_ids = tuple(
        market.create_project(actor_id, organization.id, name, auto_approve=spec.auto_approve).id
        for name in spec.projects
    )
    user_ids = tuple(market.create_user(actor_id, name).id for name in spec.usernames)
    offering_id = None
    if any(grant.role is Role.OFFERING_MANAGER for grant in spec.grants):
        market.register_provider(actor_id, organization.id)
        offering_id = market.create_offering(
            actor_id, organization.id, f"{spec.name} offering", SPEC_PLUGIN
        ).id
    for grant in spec.grants:
        scope_id = {
            ScopeKind.ORGANIZATION: organization.id,
            ScopeKind.PROJECT: project_ids[grant.project],
            ScopeKind.OFFERING: offering_id or "",
        }[grant.role.scope_kind]
        market.grant_role(actor_id, user_ids[grant.user], grant.role, scope_id)
    return BuiltOrganization(organization.id, project_ids, user_ids, offering_id)
