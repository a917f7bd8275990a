"""Approval routing: which reviews an order needs, and where it goes after each.

The rules take the facts they need and a ``may(permission, scope)`` question about the user
whose rights matter, so they are pure and can be checked against a plain reference table.
"""

from __future__ import annotations

from collections.abc import Callable

from marketplace_core.offerings import Offering, is_private
from marketplace_core.orders import OrderEvent, OrderType
from marketplace_core.organizations import Project
from marketplace_core.plugins.registry import PluginCapabilities
from marketplace_core.roles import Permission, Scope, offering_scope, project_scope
from marketplace_core.users import User

May = Callable[[Permission, Scope], bool]
"""Whether the user in question holds a permission on a scope."""


def needs_consumer_review(
    order_type: OrderType,
    creator: User | None,
    project: Project,
    offering: Offering,
    creator_may: May,
) -> bool:
    """Whether an order must wait for the consumer side to approve it.

    The review is skipped when any of these holds: the system placed the order (``creator``
    is ``None``); the creator is staff; the project has auto-approval on; the offering is
    private and the creator may approve private orders in the project; the offering is not
    private, belongs to the ordering organization and has
    ``auto_approve_in_service_provider_projects`` on; it is a termination placed by someone
    who approves orders for the provider; or the creator may approve orders in the project.
    """
    if creator is None or creator.is_staff or project.auto_approve:
        return False
    in_project = project_scope(project.id, project.organization_id)
    if is_private(offering.visibility):
        if creator_may(Permission.ORDER_APPROVE_PRIVATE, in_project):
            return False
    elif (
        offering.provider_id == project.organization_id
        and offering.options.auto_approve_in_service_provider_projects
    ):
        return False
    if order_type is OrderType.TERMINATE and creator_may(
        Permission.ORDER_APPROVE, offering_scope(offering.id, offering.provider_id)
    ):
        return False
    return not creator_may(Permission.ORDER_APPROVE, in_project)


def needs_provider_review(
    offering: Offering,
    plugin: PluginCapabilities,
    consumer_reviewer: User | None,
    reviewer_may: May,
) -> bool:
    """Whether an order must wait for the provider side to approve it.

    Needed when the offering says so (``options.needs_provider_review``), or, when it says
    nothing, when the plugin needs it by default. Skipped when the consumer side was
    reviewed by the system, or by someone who approves orders for the provider: the
    provider's owner ordering from its own offering has nothing left to review.
    """
    required = offering.options.needs_provider_review
    if required is None:
        required = plugin.needs_provider_review
    if not required or consumer_reviewer is None:
        return False
    return not reviewer_may(
        Permission.ORDER_APPROVE, offering_scope(offering.id, offering.provider_id)
    )


def next_step(*, project_started: bool, provider_review_needed: bool) -> OrderEvent:
    """Where an order consumer-reviewed (or released by its project) goes next."""
    if not project_started:
        return OrderEvent.HOLD_FOR_PROJECT
    if provider_review_needed:
        return OrderEvent.REQUEST_PROVIDER_REVIEW
    return OrderEvent.EXECUTE
