"""Orders: placing, reviewing, canceling, and every transition of the order lifecycle.

The common starting points (an order, a resource created by hand on a ``manual`` offering,
a project that has not started) are built by :mod:`tests.conformance.world`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from marketplace_core.conformance import Recorder
from marketplace_core.offerings import PlanUnit
from tests.conformance.world import (
    PRICES,
    T0,
    later_project,
    manual_resource,
    offering,
    order,
    people,
    standard,
)


def vector_create_by_owner_runs_at_once(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The organization owner orders from an instant offering: no review is needed, the "
        "order executes and is done in the same command, and the resource is ok.",
        start=T0,
    )
    standard(rec)
    order(rec, as_=None, checked=True)
    return rec


# --------------------------------------------------------------------------- pending-consumer


def vector_cancel_pending_consumer_order(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The creator cancels its own order while it waits for the consumer's approval "
        "(pending-consumer --cancel--> canceled); the resource it would have created is "
        "terminated.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource", actor="$manager", as_="order")
    rec.step("cancel_order", actor="$manager", order_id="$order")
    return rec


def vector_reject_pending_consumer_order(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The organization owner rejects a project manager's order waiting for the consumer's "
        "approval (pending-consumer --reject--> rejected), giving a reason; the resource is "
        "terminated.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource", actor="$manager", as_="order")
    rec.step("reject_order", actor="$owner", order_id="$order", reason="not this term")
    return rec


# --------------------------------------------------------------------------- pending-project


def vector_cancel_pending_project_order(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An order held until its project starts is canceled by its creator "
        "(pending-project --cancel--> canceled).",
        start=T0,
    )
    standard(rec)
    later_project(rec)
    order(rec, "resource", project="$later", as_="order")
    rec.step("cancel_order", actor="$owner", order_id="$order")
    return rec


def vector_reject_pending_project_order(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An order held until its project starts can still be rejected by the consumer side "
        "(pending-project --reject--> rejected).",
        start=T0,
    )
    standard(rec)
    later_project(rec)
    order(rec, "resource", actor="$staff", project="$later", as_="order")
    rec.step("reject_order", actor="$owner", order_id="$order", reason="plans changed")
    return rec


# --------------------------------------------------------------------------- pending-provider


def vector_approve_pending_provider_order(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The provider's owner approves an order waiting for the provider "
        "(pending-provider --execute--> executing); the manual backend takes it over, so it "
        "stays executing with dispatched_at set.",
        start=T0,
    )
    standard(rec, plugin="manual")
    order(rec, "resource", as_="order")
    rec.step("approve_order_as_provider", actor="$provider-owner", order_id="$order")
    return rec


def vector_cancel_pending_provider_order(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The creator cancels an order waiting for the provider "
        "(pending-provider --cancel--> canceled).",
        start=T0,
    )
    standard(rec, plugin="manual")
    order(rec, "resource", as_="order")
    rec.step("cancel_order", actor="$owner", order_id="$order")
    return rec


def vector_reject_pending_provider_order(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The provider rejects an order waiting for it (pending-provider --reject--> "
        "rejected); the consumer cannot reject it at that point.",
        start=T0,
    )
    standard(rec, plugin="manual")
    order(rec, "resource", as_="order")
    rec.step("reject_order", actor="$owner", order_id="$order", reason="mine to reject")
    rec.step("reject_order", actor="$provider-owner", order_id="$order", reason="no capacity")
    return rec


# --------------------------------------------------------------------------- executing, erred


def vector_cancel_executing_order(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A manual offering's plugin can cancel orders once they execute: the creator cancels "
        "an executing create order (executing --cancel--> canceled) and the resource is "
        "terminated.",
        start=T0,
    )
    standard(rec, plugin="manual")
    order(rec, "resource", as_="order")
    rec.setup("approve_order_as_provider", actor="$provider-owner", order_id="$order")
    rec.step("cancel_order", actor="$owner", order_id="$order")
    return rec


def vector_backend_failure_errs_order(name: str) -> Recorder:
    rec = Recorder(
        name,
        "When the backend call raises, the executing order errs with the message "
        "(executing --fail--> erred), and the resource being created errs with it "
        "(creating --fail--> erred).",
        start=T0,
    )
    standard(rec, plugin="failing")
    order(rec, "resource", as_="order", checked=True)
    return rec


def vector_retry_erred_order(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An erred create order is retried by its creator (erred --retry--> executing); the "
        "manual backend takes it over again and the error message is cleared.",
        start=T0,
    )
    standard(rec, plugin="manual")
    order(rec, "resource", as_="order")
    rec.setup("approve_order_as_provider", actor="$provider-owner", order_id="$order")
    rec.setup(
        "resource_creation_failed",
        actor="$provider-owner",
        resource_id="$resource",
        message="no space left",
    )
    rec.step("retry_order", actor="$owner", order_id="$order")
    return rec


# --------------------------------------------------------------------------- refusals


def vector_order_refused_for_outsider(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A user with no role in the project cannot order for it (permission_denied); "
        "nothing is written.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource", actor="$outsider", as_="order", checked=True)
    return rec


def vector_order_refused_for_member(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A plain project member may not order (order.create is not among a member's permissions).",
        start=T0,
    )
    standard(rec)
    order(rec, "resource", actor="$member", as_="order", checked=True)
    return rec


def vector_cancel_refused_for_outsider(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Someone who neither created the order nor holds order.cancel on the project cannot "
        "cancel it; a plain member cannot either.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource", actor="$manager", as_="order")
    rec.step("cancel_order", actor="$outsider", order_id="$order")
    rec.step("cancel_order", actor="$member", order_id="$order")
    return rec


def vector_cancel_refused_for_finished_order(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A done order cannot be canceled: done is final (invalid_transition).",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    rec.step("cancel_order", actor="$owner", order_id="$resource-order")
    return rec


def vector_second_order_refused_while_one_is_open(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A resource takes one open order at a time: a limit change waiting for the "
        "provider blocks a termination (order_in_progress).",
        start=T0,
    )
    standard(rec, plugin="manual")
    manual_resource(rec)
    rec.setup(
        "order_limit_change",
        actor="$owner",
        resource_id="$resource",
        limits={"cores": 4},
        as_="change",
    )
    rec.step("order_termination", actor="$owner", resource_id="$resource")
    return rec


def vector_update_refused_for_resource_not_ok(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Updates need an ok resource: a limit change of a resource still being created is "
        "refused (resource_not_ready), and so is one of a resource the backend reports "
        "broken.",
        start=T0,
    )
    standard(rec, plugin="manual")
    manual_resource(rec)
    order(rec, "fresh")
    rec.setup("approve_order_as_provider", actor="$provider-owner", order_id="$fresh-order")
    rec.setup(
        "resource_erred_on_backend",
        actor="$provider-owner",
        resource_id="$resource",
        message="disk lost",
    )
    rec.step("order_limit_change", actor="$owner", resource_id="$fresh", limits={"cores": 4})
    rec.step("order_limit_change", actor="$owner", resource_id="$resource", limits={"cores": 4})
    return rec


def vector_plan_switch_refused_for_same_plan(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Switching a resource to the plan it is on is refused (plan_unchanged).",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    rec.step("order_plan_switch", actor="$owner", resource_id="$resource", plan_id="$plan")
    return rec


def vector_limit_change_refused_for_same_limits(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Asking for the limits a resource already has is refused (limits_unchanged).",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    rec.step("order_limit_change", actor="$owner", resource_id="$resource", limits={"cores": 2})
    return rec


def vector_order_refused_for_plan_of_another_offering(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A plan must belong to the offering ordered: ordering $offering on a plan of "
        "another offering is refused (plan_of_another_offering), and so is a plan switch to "
        "it.",
        start=T0,
    )
    standard(rec)
    offering(rec, as_="other", plans={"other-plan": (PlanUnit.MONTH, PRICES)})
    order(rec, "resource")
    order(rec, plan="$other-plan", as_=None, checked=True)
    rec.step("order_plan_switch", actor="$owner", resource_id="$resource", plan_id="$other-plan")
    return rec


def vector_order_refused_when_plan_is_full(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A plan with max_amount 1 takes one live resource: the second order on it is refused "
        "(plan_capacity_reached); once the first resource is terminated the plan takes "
        "orders again.",
        start=T0,
    )
    people(rec)
    offering(rec, activate=False)
    rec.setup(
        "create_plan",
        actor="$staff",
        as_="single",
        offering_id="$offering",
        name="Single",
        unit=PlanUnit.MONTH,
        prices=PRICES,
        max_amount=1,
    )
    rec.setup("activate_offering", actor="$staff", offering_id="$offering")
    order(rec, "first", plan="$single")
    order(rec, "second", plan="$single", as_=None, checked=True)
    rec.step("order_termination", actor="$owner", resource_id="$first")
    order(rec, "second", plan="$single", as_=None, checked=True)
    return rec


def vector_order_refused_after_project_ended(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A project's end date is inclusive: on that day orders are still taken, the day "
        "after they are refused (project_ended).",
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
    order(rec, "a", project="$short", as_="last-day")
    order(
        rec,
        "b",
        project="$short",
        as_=None,
        checked=True,
        at=datetime(2026, 1, 21, 9, 0, tzinfo=UTC),
    )
    return rec


def vector_retry_refused_for_outdated_update(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An erred limit change cannot run again once the resource has moved on: after the "
        "resource recovered and took other limits, retrying the old order is refused "
        "(order_outdated), since it would undo the newer change.",
        start=T0,
    )
    standard(rec, plugin="manual")
    manual_resource(rec)
    provider = {"actor": "$provider-owner", "resource_id": "$resource"}
    rec.setup(
        "order_limit_change",
        actor="$owner",
        resource_id="$resource",
        limits={"cores": 4},
        as_="old",
    )
    rec.setup("approve_order_as_provider", actor="$provider-owner", order_id="$old")
    rec.setup("resource_update_failed", **provider, message="quota exceeded")
    rec.setup("order_termination", actor="$owner", resource_id="$resource", as_="stop")
    rec.setup("approve_order_as_provider", actor="$provider-owner", order_id="$stop")
    rec.setup("resource_deletion_canceled", **provider)
    rec.setup(
        "order_limit_change",
        actor="$owner",
        resource_id="$resource",
        limits={"cores": 8},
        as_="new",
    )
    rec.setup("approve_order_as_provider", actor="$provider-owner", order_id="$new")
    rec.setup("resource_update_succeeded", **provider)
    rec.step("retry_order", actor="$owner", order_id="$old")
    return rec
