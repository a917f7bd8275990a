"""Approvals: one vector per row of the approval tables (``consumer_review``,
``provider_review``, ``next_step`` in :mod:`marketplace_core.approvals`), each named after its
row, and the refusals on approving.

Each description starts with the table and row id it shows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from marketplace_core.conformance import Recorder
from marketplace_core.offerings import OfferingOptions, PrivateToOrganization
from marketplace_core.roles import Role
from tests.conformance.world import (
    AT_LATER_START,
    T0,
    later_project,
    manual_resource,
    offering,
    order,
    people,
    standard,
)

# --------------------------------------------------------------------------- consumer_review


def vector_consumer_review_skipped_for_system(name: str) -> Recorder:
    rec = Recorder(
        name,
        "consumer_review/system-creator: the day after its project ends, the due jobs order "
        "the resource terminated as the system (no creator); nobody is asked to approve it "
        "and the consumer review is stamped automatic with no reviewer.",
        start=T0,
    )
    people(rec)
    offering(rec)
    rec.setup(
        "create_project",
        actor="$staff",
        as_="short",
        organization_id="$consumer",
        name="Workshop",
        end_date=date(2026, 1, 20),
    )
    order(rec, "resource", project="$short", as_="order")
    rec.step("run_due_jobs", at=datetime(2026, 1, 21, 1, 0, tzinfo=UTC))
    return rec


def vector_consumer_review_skipped_for_staff(name: str) -> Recorder:
    rec = Recorder(
        name,
        "consumer_review/staff-creator: a staff user's order needs no consumer approval, "
        "though staff hold no role in the project.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource", actor="$staff", as_="order", checked=True)
    return rec


def vector_consumer_review_skipped_by_project_auto_approve(name: str) -> Recorder:
    rec = Recorder(
        name,
        "consumer_review/project-auto-approves: in a project with auto_approve on, a project "
        "manager's order (which otherwise waits for the owner) is approved automatically.",
        start=T0,
    )
    standard(rec)
    rec.setup("update_project", actor="$staff", project_id="$project", auto_approve=True)
    order(rec, "resource", actor="$manager", as_="order", checked=True)
    return rec


def vector_consumer_review_skipped_for_private_offering_approver(name: str) -> Recorder:
    rec = Recorder(
        name,
        "consumer_review/private-offering-approver: a project manager holds "
        "order.approve_private, so their order for an offering private to the organization "
        "needs no consumer approval (the same order for a shared offering would).",
        start=T0,
    )
    standard(rec, visibility=PrivateToOrganization("$consumer"))
    order(rec, "resource", actor="$manager", as_="order", checked=True)
    return rec


def vector_consumer_review_skipped_for_own_organization_offering(name: str) -> Recorder:
    rec = Recorder(
        name,
        "consumer_review/own-organization-auto-approve: a project admin of the provider's own "
        "organization orders its shared offering, which has "
        "auto_approve_in_service_provider_projects on: approved automatically, though the "
        "admin does not hold order.approve.",
        start=T0,
    )
    people(rec)
    offering(rec, options=OfferingOptions(auto_approve_in_service_provider_projects=True))
    rec.setup("create_project", actor="$staff", as_="ops", organization_id="$provider", name="Ops")
    rec.setup("create_user", actor="$staff", as_="admin", username="admin")
    rec.setup(
        "grant_role",
        actor="$staff",
        user_id="$admin",
        role=Role.PROJECT_ADMIN,
        scope_id="$ops",
    )
    order(rec, "resource", actor="$admin", project="$ops", as_="order", checked=True)
    return rec


def vector_consumer_review_skipped_for_termination_by_provider_approver(
    name: str,
) -> Recorder:
    rec = Recorder(
        name,
        "consumer_review/termination-by-provider-approver: the provider's owner, who approves "
        "orders for the offering, orders a consumer's resource terminated; the consumer is "
        "not asked.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    rec.step("order_termination", actor="$provider-owner", resource_id="$resource")
    return rec


def vector_consumer_review_skipped_for_order_approver(name: str) -> Recorder:
    rec = Recorder(
        name,
        "consumer_review/creator-approves-orders: the organization owner holds order.approve "
        "on the project, so their own limit change is approved automatically, with the owner "
        "as reviewer.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    rec.step("order_limit_change", actor="$owner", resource_id="$resource", limits={"cores": 8})
    return rec


def vector_consumer_review_needed(name: str) -> Recorder:
    rec = Recorder(
        name,
        "consumer_review/review-needed: a project manager may order but not approve, so the "
        "order waits in pending-consumer for the organization owner.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource", actor="$manager", as_="order", checked=True)
    return rec


# --------------------------------------------------------------------------- provider_review


def vector_provider_review_waived_by_offering(name: str) -> Recorder:
    rec = Recorder(
        name,
        "provider_review/offering-waives-review: a manual offering (whose plugin asks for a "
        "provider review) with needs_provider_review false executes the order without one.",
        start=T0,
    )
    standard(rec, plugin="manual", options=OfferingOptions(needs_provider_review=False))
    order(rec, "resource", as_="order", checked=True)
    return rec


def vector_provider_review_waived_by_plugin(name: str) -> Recorder:
    rec = Recorder(
        name,
        "provider_review/plugin-waives-review: the owner approves a manager's order on an "
        "instant offering, which leaves needs_provider_review unset and whose plugin needs no "
        "provider review: it executes at once.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource", actor="$manager", as_="order")
    rec.step("approve_order_as_consumer", actor="$owner", order_id="$order")
    return rec


def vector_provider_review_skipped_after_system_review(name: str) -> Recorder:
    rec = Recorder(
        name,
        "provider_review/consumer-reviewed-by-system: the due jobs terminate a resource of a "
        "manual offering past its end date; the system's order is not held for the provider, "
        "the backend takes it over at once.",
        start=T0,
    )
    standard(rec, plugin="manual")
    manual_resource(rec)
    rec.setup(
        "set_resource_end_date", actor="$owner", resource_id="$resource", end_date=date(2026, 1, 20)
    )
    rec.step("run_due_jobs", at=datetime(2026, 1, 21, 1, 0, tzinfo=UTC))
    return rec


def vector_provider_review_skipped_for_provider_approver(name: str) -> Recorder:
    rec = Recorder(
        name,
        "provider_review/reviewer-approves-for-provider: the consumer's owner also owns the "
        "provider; approving a manager's order on the manual offering as consumer leaves "
        "nothing for the provider to review, so it executes.",
        start=T0,
    )
    standard(rec, plugin="manual")
    rec.setup(
        "grant_role",
        actor="$staff",
        user_id="$owner",
        role=Role.ORGANIZATION_OWNER,
        scope_id="$provider",
    )
    order(rec, "resource", actor="$manager", as_="order")
    rec.step("approve_order_as_consumer", actor="$owner", order_id="$order")
    return rec


def vector_provider_review_needed(name: str) -> Recorder:
    rec = Recorder(
        name,
        "provider_review/review-needed: the consumer's owner orders from a manual offering; "
        "the consumer review is automatic and the order waits in pending-provider.",
        start=T0,
    )
    standard(rec, plugin="manual")
    order(rec, "resource", as_="order", checked=True)
    return rec


# --------------------------------------------------------------------------- next_step


def vector_next_step_hold_for_unstarted_project(name: str) -> Recorder:
    rec = Recorder(
        name,
        "next_step/project-not-started: an order for a project whose start date is still "
        "ahead waits in pending-project (pending-consumer --hold_for_project--> "
        "pending-project); the due jobs the day before the start leave it there.",
        start=T0,
    )
    standard(rec)
    later_project(rec)
    order(rec, "resource", project="$later", as_="order", checked=True)
    rec.step("run_due_jobs", at=datetime(2026, 1, 31, 23, 0, tzinfo=UTC))
    return rec


def vector_next_step_provider_review_on_release(name: str) -> Recorder:
    rec = Recorder(
        name,
        "next_step/provider-review-needed: when its project starts, the due jobs release an "
        "order of a manual offering to the provider's review (pending-project "
        "--request_provider_review--> pending-provider).",
        start=T0,
    )
    standard(rec, plugin="manual")
    later_project(rec)
    order(rec, "resource", project="$later", as_="order")
    rec.step("run_due_jobs", at=AT_LATER_START)
    return rec


def vector_next_step_execute_on_release(name: str) -> Recorder:
    rec = Recorder(
        name,
        "next_step/execute: when its project starts, the due jobs release an order of an "
        "instant offering, which executes and is done (pending-project --execute--> "
        "executing).",
        start=T0,
    )
    standard(rec)
    later_project(rec)
    order(rec, "resource", project="$later", as_="order")
    rec.step("run_due_jobs", at=AT_LATER_START)
    return rec


# --------------------------------------------------------------------------- refusals


def vector_approve_refused_for_member_and_outsider(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Approving for the consumer needs order.approve on the project: a plain member and "
        "an outsider are refused, and a project manager, who may order, is refused too.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource", actor="$manager", as_="order")
    for actor in ("$member", "$outsider", "$manager"):
        rec.step("approve_order_as_consumer", actor=actor, order_id="$order")
    return rec


def vector_approve_as_provider_refused_for_consumer(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Approving for the provider needs order.approve on the offering: the consumer's "
        "owner cannot approve its own order waiting for the provider.",
        start=T0,
    )
    standard(rec, plugin="manual")
    order(rec, "resource", as_="order")
    rec.step("approve_order_as_provider", actor="$owner", order_id="$order")
    return rec


def vector_approve_refused_in_wrong_state(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Each approval belongs to one state: an order waiting for the provider cannot be "
        "approved as consumer, and one waiting for the consumer cannot be approved as "
        "provider (invalid_transition).",
        start=T0,
    )
    standard(rec, plugin="manual")
    order(rec, "resource", as_="order")
    order(rec, "other", actor="$manager", as_="waiting")
    rec.step("approve_order_as_consumer", actor="$owner", order_id="$order")
    rec.step("approve_order_as_provider", actor="$provider-owner", order_id="$waiting")
    return rec
