"""Resources: every transition of the resource lifecycle, driven by orders and by the
backend's callbacks, and the rules on end dates and callbacks."""

from __future__ import annotations

from datetime import date

from marketplace_core.conformance import Recorder
from tests.conformance.world import T0, manual_resource, order, standard

PROVIDER = "$provider-owner"


def _manual(rec: Recorder) -> None:
    standard(rec, plugin="manual")


def _creating(rec: Recorder) -> None:
    """A ``manual`` resource ``$resource`` whose create order ``$order`` the provider
    approved: the backend works on it."""
    _manual(rec)
    order(rec, "resource", as_="order")
    rec.setup("approve_order_as_provider", actor=PROVIDER, order_id="$order")


def _change_limits(rec: Recorder, *, cores: int = 4, as_: str = "change") -> None:
    """``$owner`` changes the limits of ``$resource`` and the provider approves: the
    backend works on the update ``$<as_>``."""
    rec.setup(
        "order_limit_change",
        actor="$owner",
        resource_id="$resource",
        limits={"cores": cores},
        as_=as_,
    )
    rec.setup("approve_order_as_provider", actor=PROVIDER, order_id=f"${as_}")


def _terminate(rec: Recorder, *, checked: bool = False) -> None:
    """``$owner`` orders ``$resource`` terminated (``$stop``) and the provider approves
    (a checked step when ``checked``): the backend works on the termination."""
    rec.setup("order_termination", actor="$owner", resource_id="$resource", as_="stop")
    record = rec.step if checked else rec.setup
    record("approve_order_as_provider", actor=PROVIDER, order_id="$stop")


def _backend_breaks(rec: Recorder) -> None:
    rec.setup(
        "resource_erred_on_backend", actor=PROVIDER, resource_id="$resource", message="disk lost"
    )


# --------------------------------------------------------------------------- creating


def vector_creation_succeeds(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The provider reports the resource created, with its backend id and metadata: the "
        "create order is done and the resource ok (creating --succeed--> ok).",
        start=T0,
    )
    _creating(rec)
    rec.step(
        "resource_creation_succeeded",
        actor=PROVIDER,
        resource_id="$resource",
        backend_id="vm-17",
        metadata={"ip": "10.0.0.17"},
    )
    return rec


def vector_creation_fails(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The provider reports that the resource could not be created: order and resource "
        "err with the message (creating --fail--> erred).",
        start=T0,
    )
    _creating(rec)
    rec.step(
        "resource_creation_failed",
        actor=PROVIDER,
        resource_id="$resource",
        message="no space left",
    )
    return rec


def vector_creation_canceled_by_backend(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The backend cancels the creation: the create order is canceled and the resource "
        "terminated (creating --terminate--> terminated). Delivering the same report again "
        "changes nothing.",
        start=T0,
    )
    _creating(rec)
    rec.step("resource_creation_canceled", actor=PROVIDER, resource_id="$resource")
    rec.step("resource_creation_canceled", actor=PROVIDER, resource_id="$resource")
    return rec


# --------------------------------------------------------------------------- ok


def vector_update_begins_on_backend(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Once the provider approves a limit change of an ok resource, the manual backend "
        "takes it over and the resource is updating (ok --begin_update--> updating).",
        start=T0,
    )
    _manual(rec)
    manual_resource(rec)
    rec.setup(
        "order_limit_change",
        actor="$owner",
        resource_id="$resource",
        limits={"cores": 4},
        as_="change",
    )
    rec.step("approve_order_as_provider", actor=PROVIDER, order_id="$change")
    return rec


def vector_termination_begins_on_backend(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Once the provider approves the termination of an ok resource, the manual backend "
        "takes it over and the resource is terminating (ok --begin_termination--> "
        "terminating).",
        start=T0,
    )
    _manual(rec)
    manual_resource(rec)
    _terminate(rec, checked=True)
    return rec


def vector_ok_resource_erred_on_backend(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The provider reports a healthy resource broken (ok --fail--> erred); reporting the "
        "same error again changes nothing.",
        start=T0,
    )
    _manual(rec)
    manual_resource(rec)
    report = {"actor": PROVIDER, "resource_id": "$resource", "message": "disk lost"}
    rec.step("resource_erred_on_backend", **report)
    rec.step("resource_erred_on_backend", **report)
    return rec


def vector_instant_termination(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An instant offering terminates an ok resource in the command that orders it "
        "(ok --terminate--> terminated), and the termination order is done.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    rec.step("order_termination", actor="$owner", resource_id="$resource")
    return rec


# --------------------------------------------------------------------------- erred


def vector_erred_resource_termination_begins(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An erred resource can be terminated: once the provider approves, the backend takes "
        "the termination over (erred --begin_termination--> terminating).",
        start=T0,
    )
    _manual(rec)
    manual_resource(rec)
    _backend_breaks(rec)
    _terminate(rec, checked=True)
    return rec


def vector_retried_update_begins_on_erred_resource(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A failed limit change leaves the resource erred; retrying the update hands it to the "
        "backend again (erred --begin_update--> updating).",
        start=T0,
    )
    _manual(rec)
    manual_resource(rec)
    _change_limits(rec)
    rec.setup("resource_update_failed", actor=PROVIDER, resource_id="$resource", message="timeout")
    rec.step("retry_order", actor="$owner", order_id="$change")
    return rec


def vector_retried_creation_succeeds(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A failed creation is retried; the erred resource stays erred while the backend works "
        "on it, and becomes ok when the backend reports success (erred --succeed--> ok).",
        start=T0,
    )
    _creating(rec)
    rec.setup(
        "resource_creation_failed", actor=PROVIDER, resource_id="$resource", message="no space"
    )
    rec.step("retry_order", actor="$owner", order_id="$order")
    rec.step("resource_creation_succeeded", actor=PROVIDER, resource_id="$resource")
    return rec


def vector_canceled_retry_terminates_erred_resource(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A retried create order of an erred resource is canceled while it executes: the "
        "resource that was never created is terminated (erred --terminate--> terminated).",
        start=T0,
    )
    _creating(rec)
    rec.setup(
        "resource_creation_failed", actor=PROVIDER, resource_id="$resource", message="no space"
    )
    rec.setup("retry_order", actor="$owner", order_id="$order")
    rec.step("cancel_order", actor="$owner", order_id="$order")
    return rec


# --------------------------------------------------------------------------- updating


def vector_update_succeeds(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The backend applied the limit change: the resource takes the new limits and is ok "
        "again (updating --succeed--> ok).",
        start=T0,
    )
    _manual(rec)
    manual_resource(rec)
    _change_limits(rec)
    rec.step("resource_update_succeeded", actor=PROVIDER, resource_id="$resource")
    return rec


def vector_update_fails(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The backend failed the limit change: order and resource err, and the resource keeps "
        "its old limits (updating --fail--> erred).",
        start=T0,
    )
    _manual(rec)
    manual_resource(rec)
    _change_limits(rec)
    rec.step("resource_update_failed", actor=PROVIDER, resource_id="$resource", message="timeout")
    return rec


def vector_update_canceled_by_backend(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The backend cancels the limit change: the order is canceled and the resource back to "
        "ok with its old limits (updating --restore--> ok).",
        start=T0,
    )
    _manual(rec)
    manual_resource(rec)
    _change_limits(rec)
    rec.step("resource_update_canceled", actor=PROVIDER, resource_id="$resource")
    return rec


# --------------------------------------------------------------------------- terminating


def vector_deletion_succeeds(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The backend removed the resource: the termination is done and the resource "
        "terminated (terminating --terminate--> terminated).",
        start=T0,
    )
    _manual(rec)
    manual_resource(rec)
    _terminate(rec)
    rec.step("resource_deletion_succeeded", actor=PROVIDER, resource_id="$resource")
    return rec


def vector_deletion_fails(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The backend could not remove the resource: the termination errs, and the resource, "
        "which the backend still has, goes back to ok with the error recorded "
        "(terminating --restore--> ok).",
        start=T0,
    )
    _manual(rec)
    manual_resource(rec)
    _terminate(rec)
    rec.step("resource_deletion_failed", actor=PROVIDER, resource_id="$resource", message="busy")
    return rec


def vector_deletion_canceled_by_backend(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The backend cancels the termination: the order is canceled and the resource back to "
        "ok (terminating --restore--> ok).",
        start=T0,
    )
    _manual(rec)
    manual_resource(rec)
    _terminate(rec)
    rec.step("resource_deletion_canceled", actor=PROVIDER, resource_id="$resource")
    return rec


# --------------------------------------------------------------------------- refusals


def vector_report_refused_without_executing_order(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A backend report needs an executing order of its kind: an update reported on a "
        "resource with no update order is refused (no_executing_order).",
        start=T0,
    )
    _manual(rec)
    manual_resource(rec)
    rec.step("resource_update_succeeded", actor=PROVIDER, resource_id="$resource")
    return rec


def vector_backend_error_refused_while_creating(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Only an ok resource can be reported broken on the backend; one still being created "
        "is refused (resource_not_ready): the creation callbacks report that.",
        start=T0,
    )
    _creating(rec)
    rec.step("resource_erred_on_backend", actor=PROVIDER, resource_id="$resource", message="broken")
    return rec


def vector_callback_refused_for_consumer(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Backend callbacks need order.fulfil on the offering: the consumer's owner cannot "
        "report its own resource created (permission_denied).",
        start=T0,
    )
    _creating(rec)
    rec.step("resource_creation_succeeded", actor="$owner", resource_id="$resource")
    return rec


def vector_provider_notice_too_soon(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A provider schedules a termination at least seven days ahead: six days is refused "
        "(end_date_too_soon), seven is taken.",
        start=T0,
    )
    _manual(rec)
    manual_resource(rec)
    rec.step("schedule_termination", actor=PROVIDER, resource_id="$resource", on=date(2026, 1, 21))
    rec.step("schedule_termination", actor=PROVIDER, resource_id="$resource", on=date(2026, 1, 22))
    return rec


def vector_consumer_cannot_postpone_provider_notice(name: str) -> Recorder:
    rec = Recorder(
        name,
        "After the provider's notice the consumer may bring the end date forward but not "
        "postpone or clear it (end_date_set_by_provider).",
        start=T0,
    )
    _manual(rec)
    manual_resource(rec)
    rec.setup("schedule_termination", actor=PROVIDER, resource_id="$resource", on=date(2026, 2, 1))
    owner = {"actor": "$owner", "resource_id": "$resource"}
    rec.step("set_resource_end_date", **owner, end_date=date(2026, 2, 10))
    rec.step("set_resource_end_date", **owner, end_date=None)
    rec.step("set_resource_end_date", **owner, end_date=date(2026, 1, 25))
    return rec
